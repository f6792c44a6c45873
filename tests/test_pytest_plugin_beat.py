"""``celery_beat``, the clock (``clock.set()``, freezegun, time-machine), priority order,
rate limits and the run-time CEL403 check of the pytest plugin, through real pytest
(``pytester``) on real Celery. The projects point at brokers that do not exist: anything
that leaks past the fixtures fails loudly."""

from __future__ import annotations

import importlib.util
import textwrap

import pytest
from celery_pytester import forget_shared_tasks  # noqa: F401 (an autouse fixture)

pytest_plugins = ["pytester"]

QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

PROJECT = """
from datetime import datetime, timedelta, timezone
import time

from celery import Celery
from celery.schedules import crontab

app = Celery("proj", broker="redis://127.0.0.1:1/0", backend="redis://127.0.0.1:1/1")
app.conf.update(timezone="Europe/Paris", broker_connection_retry_on_startup=True)
app.conf.beat_schedule = {
    "nightly-report": {
        "task": "proj.report",
        "schedule": crontab(minute=0, hour=3),
        "args": ("daily",),
        "options": {"queue": "reports", "expires": 600, "priority": 7, "headers": {"origin": "beat"}},
    },
    "poll": {"task": "proj.poll", "schedule": timedelta(hours=6), "kwargs": {"source": "feed"}},
    "quarter-hour": {"task": "proj.poll", "schedule": crontab(minute="*/15", hour="9-10")},
}


@app.on_after_configure.connect
def setup_periodic_tasks(sender, **kwargs):
    sender.add_periodic_task(3600.0, ping.s("hi"), name="hourly ping")


@app.on_after_finalize.connect
def setup_more(sender, **kwargs):
    sender.add_periodic_task(crontab(minute=30, hour=12, day_of_week="mon"), ping.s("monday"), name="monday")


@app.task
def report(kind):
    return kind


@app.task
def poll(source="cron"):
    return source


@app.task
def ping(x):
    return x


@app.task
def stamp():
    return [datetime.now(timezone.utc).isoformat(), time.time(), app.now().isoformat()]


@app.task
def job(tag):
    return tag


@app.task(rate_limit="2/m")
def limited(i):
    return i
"""

RABBIT = """
from celery import Celery
from kombu import Queue

app = Celery("rabbit", broker="amqp://guest@127.0.0.1:1//")
app.conf.task_queues = [Queue("celery", max_priority=5), Queue("plain")]


@app.task
def job(tag):
    return tag
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(proj=PROJECT, rabbit=RABBIT)
    pytester.makeini("[pytest]\ncelery_lint_app = proj:app\npythonpath = .\n")
    return pytester


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_it=textwrap.dedent(source))
    return pytester.runpytest(*QUIET, *args)


# ---------------------------------------------------------------------- celery_beat
def test_beat_fires_what_celery_beat_fires_at_the_same_times(project: pytest.Pytester) -> None:
    """Differential: Celery's own ``Scheduler.tick()`` loop, driven on the same fake clock,
    decides the expected sends; ``celery_beat.advance()`` must send the same entries at
    the same times (within beat's wake-up slack), across a daylight saving change."""
    result = run(
        project,
        """
        from datetime import timedelta
        from celery.beat import Scheduler

        START = "2026-03-27T22:10:00+00:00"   # Europe/Paris moves to summer time on 03-29
        DAYS = 3

        def test_same_as_beat(celery_lint_app, celery_queue, celery_beat):
            clock = celery_queue.clock
            clock.set(START)
            seen = []

            class Recording(Scheduler):
                def apply_entry(self, entry, producer=None):
                    seen.append((entry.name, celery_lint_app.now()))

            real = Recording(celery_lint_app, lazy=True, max_interval=300)
            real.setup_schedule()
            end = clock.now + timedelta(days=DAYS)
            while clock.now < end:
                wait = real.tick()
                # beat loops without sleeping while an entry is due within its slack
                clock.advance(min(max(wait, 0.01), (end - clock.now).total_seconds()))
            assert len(seen) > 100

            clock.set(START)                   # beat starts again here
            celery_queue.run_all()
            fired = celery_beat.advance(days=DAYS)
            # Beat wakes up ~10 ms after a due time and measures an interval from the
            # actual run, so its times drift a little; leave out sends near the end.
            edge = end - timedelta(seconds=5)
            ours = sorted((f.entry, f.at) for f in fired if f.at < edge)
            theirs = sorted((name, at) for name, at in seen if at < edge)
            assert [name for name, _ in ours] == [name for name, _ in theirs]
            for (name, at), (_, expected) in zip(ours, theirs):
                assert abs((at - expected).total_seconds()) < 2, (name, at, expected)
            assert [f.at for f in fired] == sorted(f.at for f in fired)
            crontab_times = [f.at.astimezone(celery_lint_app.timezone).isoformat() for f in fired if f.entry == "nightly-report"]
            assert crontab_times == [
                "2026-03-28T03:00:00+01:00",
                "2026-03-29T03:00:00+02:00",
                "2026-03-30T03:00:00+02:00",
            ]
            assert celery_beat.fired == fired
        """,
    )
    result.assert_outcomes(passed=1)


def test_beat_publishes_entries_with_their_options_in_time_order(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        from datetime import timedelta
        import proj

        def test_a_day(celery_queue, celery_beat):
            celery_queue.clock.set("2026-03-01T01:59:00+00:00")   # 02:59 in Paris
            assert celery_beat.next_fire("nightly-report").isoformat() == "2026-03-01T02:00:00+00:00"
            fired = celery_beat.advance(days=1)
            assert [f.at for f in fired] == sorted(f.at for f in fired)
            celery_beat.assert_scheduled(proj.report, ("daily",), times=1, at=["2026-03-01T03:00:00+01:00"])
            celery_beat.assert_scheduled("hourly ping", times=24)      # add_periodic_task, on_after_configure
            celery_beat.assert_scheduled(proj.poll, kwargs={"source": "feed"}, times=4)  # every 6 hours
            celery_beat.assert_scheduled("quarter-hour", times=8)     # 9:00 .. 10:45 in Paris
            celery_beat.assert_not_scheduled("monday")                  # 2026-03-01 is a Sunday
            [report] = celery_queue.pending(proj.report)
            assert report.queue == "reports"
            assert report.priority == 7
            assert report.headers["origin"] == "beat"
            assert report.headers["celery_beat_task"] is True
            assert report.expires - report.published_at == timedelta(seconds=600)
            [firing] = celery_beat.fired_for("nightly-report")
            assert firing.message.id == report.id == firing.result.id
            assert celery_queue.run_all(queue="reports")[0].state == "REVOKED"   # expired long ago

            fired = celery_beat.advance(hours=12)        # into Monday 12:30 Paris
            celery_beat.assert_scheduled("monday", ("monday",), at=["2026-03-02T12:30:00+01:00"])

        def test_nothing_before_the_first_interval(celery_queue, celery_beat):
            assert celery_beat.advance(minutes=59) == [] or all(f.entry != "hourly ping" for f in celery_beat.fired)
            assert len(celery_beat.fired_for("hourly ping")) == 0
            celery_beat.advance(minutes=1)
            [run] = [r for r in celery_queue.run_all() if r.name == "proj.ping"]
            assert run.result == "hi"

        def test_assert_scheduled_fails_with_a_listing(celery_queue, celery_beat):
            # Noon in Paris, whenever the suite runs: the nightly report is hours away.
            celery_queue.clock.set("2026-03-01T11:00:00+00:00")
            celery_beat.advance(hours=1)
            celery_beat.assert_scheduled(proj.report)
        """,
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*beat did not send 'proj.report'.*", "*Beat sent:*", "*<BeatFiring 'hourly ping'*"]
    )


def test_beat_schedule_from_a_marker_and_solar(project: pytest.Pytester) -> None:
    """A test may give its own schedule (a ``celery_lint`` marker sets ``beat_schedule``);
    a solar schedule fires when Celery computes it (checked with ``ephem`` installed)."""
    source = """
        import pytest
        from celery.schedules import crontab
        import proj

        @pytest.mark.celery_lint(beat_schedule={
            "every-minute": {"task": "proj.job", "schedule": 60.0, "args": ("m",)},
            "noon": {"task": "proj.job", "schedule": crontab(minute=0, hour=12), "args": ("n",)},
        })
        def test_own_schedule(celery_queue, celery_beat):
            assert sorted(celery_beat.entries) == ["every-minute", "noon"]
            celery_queue.clock.set("2026-05-01T11:55:00")
            celery_beat.advance(minutes=10)
            assert [f.args for f in celery_beat.fired] == [("m",)] * 5 + [("n",)] + [("m",)] * 5
            assert [r.result for r in celery_queue.run_all()][:6] == ["m"] * 5 + ["n"]
        """
    solar = importlib.util.find_spec("ephem") is not None
    if solar:
        source += """
        from celery.schedules import solar

        @pytest.mark.celery_lint(beat_schedule={
            "sunrise": {"task": "proj.job", "schedule": solar("sunrise", 48.85, 2.35), "args": ("sun",)},
        })
        def test_solar(celery_queue, celery_beat):
            celery_queue.clock.set("2026-05-01T00:00:00")
            celery_beat.advance(days=2)
            celery_beat.assert_scheduled(proj.job, ("sun",), times=2)
        """
    result = run(project, source)
    result.assert_outcomes(passed=2 if solar else 1)


# ---------------------------------------------------------------------- the clock
def test_clock_set_takes_iso_strings_and_datetimes_in_the_app_timezone(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        from datetime import datetime, timezone
        import pytest
        import proj

        def test_set(celery_queue, celery_lint_app, celery_beat):
            clock = celery_queue.clock
            assert clock.set("2026-03-01T02:59:00+00:00") == datetime(2026, 3, 1, 2, 59, tzinfo=timezone.utc)
            assert clock.now.isoformat() == "2026-03-01T02:59:00+00:00"
            assert celery_lint_app.now().isoformat() == "2026-03-01T03:59:00+01:00"
            clock.set("2026-07-01T12:00:00Z")
            assert clock.now.isoformat() == "2026-07-01T12:00:00+00:00"
            clock.set("2026-07-01T12:00:00")            # no timezone: the app's (Paris, summer)
            assert clock.now.isoformat() == "2026-07-01T10:00:00+00:00"
            clock.set(datetime(2026, 1, 1, 9, 0))       # naive datetime: the app's too
            assert clock.now.isoformat() == "2026-01-01T08:00:00+00:00"
            clock.advance(days=1, hours=2)
            assert clock.now.isoformat() == "2026-01-02T10:00:00+00:00"
            proj.job.apply_async(("x",), countdown=30)
            [queued] = celery_queue.pending(proj.job)
            assert queued.eta == datetime(2026, 1, 2, 10, 0, 30, tzinfo=timezone.utc)
            with pytest.raises(ValueError, match="ISO 8601"):
                clock.set("tomorrow")

        def test_set_restarts_beat(celery_queue, celery_beat):
            celery_queue.clock.set("2026-03-01T00:00:00+00:00")
            celery_beat.advance(minutes=30)
            celery_queue.clock.set("2026-03-05T00:00:00+00:00")
            assert celery_beat.advance(minutes=59) == []          # the hour starts again at set()
            assert [f.entry for f in celery_beat.advance(minutes=1)] == ["hourly ping"]
        """,
    )
    result.assert_outcomes(passed=2)


FROZEN_TASK_TEST = """
from datetime import datetime, timezone
import time
import proj

def check(celery_queue, celery_lint_app):
    clock = celery_queue.clock
    assert clock.now == datetime(2026, 3, 1, 2, 59, tzinfo=timezone.utc)
    assert datetime.now(timezone.utc) == clock.now
    proj.stamp.apply_async(countdown=60)
    assert celery_queue.run_all() == []
    clock.advance(60)
    assert datetime.now(timezone.utc).isoformat() == "2026-03-01T03:00:00+00:00"
    assert time.time() == clock.now.timestamp()
    [run] = celery_queue.run_all()
    now, stamp, app_now = run.result
    assert now == "2026-03-01T03:00:00+00:00"
    assert stamp == clock.now.timestamp()
    assert app_now == "2026-03-01T04:00:00+01:00"
    clock.set("2026-06-01T00:00:00+00:00")
    assert datetime.now(timezone.utc).isoformat() == "2026-06-01T00:00:00+00:00"
"""


def test_clock_follows_freezegun(project: pytest.Pytester) -> None:
    pytest.importorskip("freezegun")
    result = run(
        project,
        FROZEN_TASK_TEST
        + """
from freezegun import freeze_time

@freeze_time("2026-03-01T02:59:00+00:00")
def test_decorated(celery_queue, celery_lint_app):
    assert celery_queue.clock.frozen_by == "freezegun"
    check(celery_queue, celery_lint_app)

def test_context_manager(celery_queue, celery_lint_app):
    with freeze_time("2026-03-01 02:59:00"):
        check(celery_queue, celery_lint_app)
    assert celery_queue.clock.frozen_by is None
    assert celery_queue.clock.now.isoformat() == "2026-06-01T00:00:00+00:00"   # stays where it was
""",
    )
    result.assert_outcomes(passed=2)


def test_clock_follows_time_machine(project: pytest.Pytester) -> None:
    pytest.importorskip("time_machine")
    result = run(
        project,
        FROZEN_TASK_TEST
        + """
import time_machine

@time_machine.travel("2026-03-01T02:59:00+00:00", tick=False)
def test_decorated(celery_queue, celery_lint_app):
    assert celery_queue.clock.frozen_by == "time-machine"
    check(celery_queue, celery_lint_app)

def test_fixture(celery_queue, celery_lint_app, time_machine):
    time_machine.move_to("2026-03-01T02:59:00+00:00", tick=False)
    check(celery_queue, celery_lint_app)
""",
    )
    result.assert_outcomes(passed=2)


# ---------------------------------------------------------------------- priority, rate limits
def test_priority_order_follows_the_project_broker(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        from celery import current_app

        def send(name, priorities, queue=None):
            job = current_app.tasks[name]
            for tag, priority in priorities:
                job.apply_async((tag,), priority=priority, queue=queue)

        def test_order(celery_queue, celery_lint_app):
            if celery_lint_app.main == "proj":           # Redis: lowest step first, FIFO in a step
                send("proj.job", [("a", 9), ("b", 0), ("c", 2), ("d", 5), ("e", None), ("f", 1)])
                assert [r.result for r in celery_queue.run_all()] == ["b", "c", "e", "f", "d", "a"]
            else:                                          # RabbitMQ: highest first, capped at max
                send("rabbit.job", [("a", 1), ("b", 9), ("c", 5), ("d", None), ("e", 3)])
                assert [r.message.args[0] for r in celery_queue.run_all()] == ["b", "c", "e", "a", "d"]
                send("rabbit.job", [("x", 1), ("y", 9)], queue="plain")   # no max priority: FIFO
                assert [r.message.args[0] for r in celery_queue.run_all()] == ["x", "y"]
        """,
    )
    result.assert_outcomes(passed=1)
    rabbit = project.runpytest(*QUIET, "--celery-lint-app=rabbit:app")
    rabbit.assert_outcomes(passed=1)


def test_rate_limit_is_a_token_bucket_on_the_fake_clock(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import pytest
        import proj

        def test_limited(celery_queue):
            for i in range(3):
                proj.limited.delay(i)
            proj.job.delay("free")
            first = celery_queue.run_all()
            assert [r.name for r in first] == ["proj.limited", "proj.job"]   # others overtake
            assert celery_queue.run_next() is None
            assert len(celery_queue.pending(proj.limited)) == 2
            celery_queue.clock.advance(29)
            assert celery_queue.run_all() == []
            celery_queue.clock.advance(1)
            assert [r.result for r in celery_queue.run_all()] == [1]
            rest = celery_queue.run_until_empty()
            assert [r.result for r in rest] == [2]
            assert (rest[0].started_at - first[0].started_at).total_seconds() == 60

        @pytest.mark.celery_lint(worker_disable_rate_limits=True)
        def test_disabled(celery_queue):
            for i in range(3):
                proj.limited.delay(i)
            assert len(celery_queue.run_all()) == 3
        """,
    )
    result.assert_outcomes(passed=2)


# ---------------------------------------------------------------------- transactions (CEL403)
DJANGO_PROJECT = """
import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[],
        USE_TZ=True,
    )
    django.setup()

from celery import Celery

app = Celery("djproj", broker="redis://127.0.0.1:1/0", task_cls="celery.contrib.django.task:DjangoTask")


@app.task
def notify(x):
    return x


@app.task
def in_a_task(x):
    from django.db import transaction

    with transaction.atomic():
        notify.delay(x)


def place_order(x):
    from django.db import transaction

    with transaction.atomic():
        try:
            notify.delay(x)
        except Exception:  # the code under test swallows the error
            pass
"""


def test_publish_inside_a_transaction_fails_with_cel403(pytester: pytest.Pytester) -> None:
    pytest.importorskip("django")
    pytester.makepyfile(djproj=DJANGO_PROJECT)
    pytester.makeini("[pytest]\ncelery_lint_app = djproj:app\npythonpath = .\n")
    result = run(
        pytester,
        """
        import pytest
        from django.db import transaction
        from django.test import TestCase
        from celery_lint.pytest_plugin import PublishedInTransaction
        import djproj

        @pytest.fixture
        def db():
            # What pytest-django's ``db`` fixture and Django's TestCase do around a test.
            atomics = TestCase._enter_atomics()
            yield
            TestCase._rollback_atomics(atomics)

        def test_inside_atomic(celery_queue):
            with transaction.atomic():
                djproj.notify.delay(1)

        def test_test_transaction_does_not_count(db, celery_queue, celery_tasks):
            djproj.notify.delay(2)                         # inside the test's own atomic only
            with pytest.raises(PublishedInTransaction):
                with transaction.atomic():                 # the code's: counts
                    djproj.notify.apply_async((3,))
            with pytest.raises(PublishedInTransaction):
                with transaction.atomic():
                    djproj.app.send_task("djproj.notify", (4,))
            celery_queue.assert_enqueued(djproj.notify, (2,), times=1)

        def test_on_commit_passes(celery_queue):
            with transaction.atomic():
                djproj.notify.delay_on_commit(5)
                transaction.on_commit(lambda: djproj.notify.delay(6))
            assert [q.args for q in celery_queue.pending()] == [(5,), (6,)]

        def test_captured_on_commit_in_the_test_transaction(db, celery_queue, django_capture):
            with django_capture():
                with transaction.atomic():
                    djproj.notify.delay_on_commit(7)
            celery_queue.assert_enqueued(djproj.notify, (7,))

        @pytest.fixture
        def django_capture():
            return lambda: TestCase.captureOnCommitCallbacks(execute=True)

        def test_inside_a_task(celery_queue):
            djproj.in_a_task.delay(8)
            [run] = celery_queue.run_all()
            assert run.state == "FAILURE"                  # and the test fails at teardown
            assert isinstance(run.exception, PublishedInTransaction)

        def test_swallowed_fails_at_teardown(celery_queue):
            djproj.place_order(9)

        def test_turned_off(celery_queue):
            celery_queue.transactions.enabled = False
            with transaction.atomic():
                djproj.notify.delay(10)
            celery_queue.assert_enqueued(djproj.notify, (10,))
        """,
    )
    result.assert_outcomes(passed=6, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*PublishedInTransaction: task 'djproj.notify' was published inside an open database "
            "transaction (connection 'default'): *CEL403 enqueue-inside-transaction*",
        ]
    )
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_inside_a_task*"])
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_swallowed_fails_at_teardown*"])


def test_no_django_no_check(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import proj

        def test_plain(celery_queue):
            proj.job.delay(1)
            assert celery_queue.transactions.enabled
            celery_queue.assert_enqueued(proj.job, (1,))
        """,
    )
    result.assert_outcomes(passed=1)
