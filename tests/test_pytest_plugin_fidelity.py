"""The pytest plugin departs from a real worker nowhere a test could notice (issue #15).

Each test runs, through ``pytester``, what a Celery user writes: a wait on work the queue
has not run, a revoke, a project without a result backend, a rejected task, and the
details a task reads from its request.
"""

from __future__ import annotations

import textwrap

import pytest
from celery_pytester import forget_shared_tasks  # noqa: F401 (an autouse fixture)

pytest_plugins = ["pytester"]

PROJECT = """
from celery import Celery
from celery.exceptions import Reject

app = Celery("fproj", broker="redis://127.0.0.1:1/0", backend="redis://127.0.0.1:1/1")
app.conf.update(task_serializer="json", accept_content=["json"])
EVENTS = []


@app.task
def add(x, y):
    return x + y


@app.task
def tsum(values):
    return sum(values)


@app.task(ignore_result=True)
def quiet(x):
    return x


class Model:
    pass


@app.task
def ret_obj():
    return Model()


@app.task
def refuse():
    raise Reject("bad input", requeue=False)


@app.task(bind=True, acks_late=True)
def requeue_once(self):
    EVENTS.append(self.request.delivery_info.get("redelivered"))
    if not self.request.delivery_info.get("redelivered"):
        raise Reject("try again", requeue=True)
    return "again"


@app.task(bind=True)
def whoami(self):
    return self.request.hostname


@app.task(bind=True)
def revokes_itself(self):
    self.app.control.revoke(self.request.id, terminate=True)
    EVENTS.append("ran to its end")
    return "done"


@app.task(bind=True, max_retries=3)
def flaky(self, failures):
    if self.request.retries < failures:
        raise self.retry(countdown=60, exc=RuntimeError("transient"))
    return "ok"
"""

# A wait that hangs on a regression must fail the inner test, not the whole suite.
NO_HANG = """
import signal

import pytest


@pytest.fixture(autouse=True)
def no_hang():
    def hung(*_):
        raise RuntimeError("the test hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, 5)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(fproj=PROJECT)
    pytester.makeconftest(NO_HANG)
    pytester.makeini("[pytest]\ncelery_lint_app = fproj:app\npythonpath = .\n")
    return pytester


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_it=textwrap.dedent(source))
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", *args)


def test_waits_on_work_the_queue_has_not_run_raise_at_once(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import pytest
        from celery import chain, chord, group
        from celery.exceptions import TimeoutError
        from celery_lint.pytest_plugin._errors import TaskNotRunError
        import fproj

        def test_group(celery_queue):
            g = group(fproj.add.s(i, i) for i in range(2)).delay()
            with pytest.raises(TaskNotRunError, match=r"GroupResult.get\\(\\): 2 results are not ready"):
                g.get()
            with pytest.raises(TaskNotRunError, match=r"fproj.add\\(1, 1\\) .*still waiting in celery_queue"):
                g.get(timeout=30)

        def test_chain_names_what_is_pending(celery_queue):
            c = chain(fproj.add.s(1, 2), fproj.add.s(3)).delay()
            with pytest.raises(TaskNotRunError, match=r"not sent yet.*waiting in celery_queue: fproj.add\\(1, 2\\)"):
                c.get()

        def test_chord(celery_queue):
            ch = chord((fproj.add.s(i, i) for i in range(2)), fproj.tsum.s()).delay()
            with pytest.raises(TaskNotRunError, match="call celery_queue.run_all"):
                ch.get(timeout=30)

        def test_a_result_that_is_never_stored(celery_queue):
            sent = fproj.quiet.delay(1)
            celery_queue.run_all()
            result = fproj.app.AsyncResult(sent.id)
            with pytest.raises(TaskNotRunError, match=r"ran \\(SUCCESS\\) but stored no result \\(ignore_result\\)"):
                result.get()
            with pytest.raises(TimeoutError, match="runs into its timeout"):  # what a worker gives, at once
                result.get(timeout=30)

        def test_under_celery_eager(celery_eager):
            sent = fproj.quiet.delay(1)
            with pytest.raises(TaskNotRunError, match="never ends"):
                fproj.app.AsyncResult(sent.id).get()

        def test_once_run_the_results_are_there(celery_queue):
            c = chain(fproj.add.s(1, 2), fproj.add.s(3)).delay()
            g = group(fproj.add.s(i, i) for i in range(3)).delay()
            ch = chord((fproj.add.s(i, i) for i in range(3)), fproj.tsum.s()).delay()
            celery_queue.run_all()
            assert (c.get(), g.get(), ch.get()) == (6, [0, 2, 4], 6)
        """,
    )
    result.assert_outcomes(passed=6)


def test_a_revoked_message_is_skipped_as_on_a_worker(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import pytest
        from celery import group
        from celery.exceptions import TaskRevokedError
        from celery.worker import state as worker_state
        import fproj

        def test_revoke(celery_queue):
            first = fproj.add.delay(1, 2)
            first.revoke()
            second = fproj.add.delay(2, 2)
            fproj.app.control.revoke(second.id)
            kept = fproj.add.delay(3, 3)
            assert [e.state for e in celery_queue.run_all()] == ["REVOKED", "REVOKED", "SUCCESS"]
            assert (first.state, second.state, kept.get()) == ("REVOKED", "REVOKED", 6)
            with pytest.raises(TaskRevokedError):
                first.get()

        def test_group_revoke(celery_queue):
            g = group(fproj.add.s(i, i) for i in range(2)).delay()
            g.revoke()
            assert [e.state for e in celery_queue.run_all()] == ["REVOKED", "REVOKED"]

        def test_terminate_cannot_stop_the_running_task(celery_queue):
            fproj.EVENTS.clear()
            result = fproj.revokes_itself.delay()
            [run] = celery_queue.run_all()
            assert (run.state, fproj.EVENTS, result.get()) == ("SUCCESS", ["ran to its end"], "done")

        def test_revokes_of_earlier_tests_are_forgotten(celery_queue):
            assert list(worker_state.revoked) == []
        """,
    )
    result.assert_outcomes(passed=4)


NO_BACKEND = """
from celery import Celery

app = Celery("nobackend", broker="redis://127.0.0.1:1/0")


@app.task
def add(x, y):
    return x + y


@app.task
def tsum(values):
    return sum(values)
"""


def test_a_project_without_result_backend_keeps_none(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(nobackend=NO_BACKEND)
    pytester.makeconftest(NO_HANG)
    pytester.makeini("[pytest]\ncelery_lint_app = nobackend:app\npythonpath = .\n")
    result = run(
        pytester,
        """
        import pytest
        from celery import chord
        import nobackend

        def test_get_fails_as_in_production(celery_queue):
            result = nobackend.add.delay(1, 2)
            [run] = celery_queue.run_all()
            assert (run.state, run.result) == ("SUCCESS", 3)     # what the task returned
            with pytest.raises(NotImplementedError, match="No result backend is configured"):
                result.get()

        def test_chord_fails_as_in_production(celery_queue):
            with pytest.raises(NotImplementedError, match="Starting chords requires a result backend"):
                chord([nobackend.add.s(1, 1), nobackend.add.s(2, 2)], nobackend.tsum.s()).delay()

        def test_under_celery_eager(celery_eager):
            result = nobackend.add.delay(1, 2)
            assert celery_eager.executed[-1].result == 3
            with pytest.raises(NotImplementedError):
                result.get()

        @pytest.mark.celery_lint(result_backend="cache+memory://")
        def test_opt_in(celery_queue):
            result = chord([nobackend.add.s(1, 1), nobackend.add.s(2, 2)], nobackend.tsum.s()).delay()
            celery_queue.run_all()
            assert result.get() == 6
        """,
    )
    result.assert_outcomes(passed=4)


def test_eager_stores_what_the_worker_stores_for_a_rejected_task(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import pytest
        from celery.exceptions import Reject
        import fproj

        def test_reject_without_requeue(celery_eager):
            result = fproj.refuse.delay()
            assert celery_eager.executed[-1].state == "REJECTED"    # the message was rejected
            assert result.state == "FAILURE"                        # and the worker stored a failure
            with pytest.raises(Reject):
                result.get()
            assert fproj.app.AsyncResult(result.id).state == "FAILURE"

        def test_a_failure_keeps_its_hint(celery_eager):
            from kombu.exceptions import EncodeError

            with pytest.raises(EncodeError) as raised:
                fproj.ret_obj.delay().get()
            text = str(raised.value) + "".join(getattr(raised.value, "__notes__", []))
            assert "celery-lint: 'fproj.ret_obj' returned a value" in text
        """,
    )
    result.assert_outcomes(passed=2)


def test_request_details_and_worker_state_are_a_workers(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import socket
        from celery.worker import state as worker_state
        import fproj

        COUNTS = dict(worker_state.total_count)

        def test_requeued_message_is_redelivered(celery_queue):
            fproj.EVENTS.clear()
            result = fproj.requeue_once.delay()
            assert [e.state for e in celery_queue.run_all()] == ["REJECTED", "SUCCESS"]
            assert fproj.EVENTS == [False, True]
            assert result.get() == "again"

        def test_hostname_is_the_workers_node_name(celery_queue):
            result = fproj.whoami.delay()
            celery_queue.run_all()
            assert result.get() == "celery@" + socket.gethostname()

        def test_task_counts_start_again(celery_queue):
            assert dict(worker_state.total_count) == COUNTS

        def test_retries_of_a_task_that_retries_by_itself(celery_retries):
            report = celery_retries.run(fproj.flaky, 2)
            report.assert_succeeded()
            assert report.countdowns == [60, 60]
            assert "called" not in repr(report)
        """,
    )
    result.assert_outcomes(passed=4)
