from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...project.beat import (
    BeatEntry,
    entry_label,
    humanize,
    period_seconds,
    schedule_expr,
)
from ...project.values import Known, Origin, Resolved, Unknown
from ..base import Invalid, Rule, Valid
from ._cases import CELERYCONFIG_APP, DJANGO_CELERY

if TYPE_CHECKING:
    from ...api import TaskView

TASKS = "from celery import shared_task\n\n\n@shared_task(time_limit={limit})\ndef sync():\n    pass\n"


def _celery(schedule: str, extra: str = "") -> str:
    return (
        "from datetime import timedelta\n"
        "from celery import Celery\nfrom celery.schedules import crontab, schedule\n"
        "app = Celery('proj')\n"
        f"app.conf.beat_schedule = {{\n    'sync': {{'task': 'proj.tasks.sync', 'schedule': {schedule}{extra}}},\n}}\n"
    )


def _files(limit: str = "300") -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/tasks.py": TASKS.format(limit=limit)}


class ScheduleOverlapsTimeLimit(Rule):
    """
    ## What it does
    Checks for beat entries whose period is shorter than the hard time limit given to
    the task they run (per-call `options={"time_limit": ...}` of the entry, the task
    decorator, its base class chain or `task_annotations`). Periods are read from
    numbers, `timedelta`, `schedule(run_every=...)` and `crontab(...)` (the shortest
    gap between two runs, as Celery expands the fields).

    The app-wide `task_time_limit` is not used: it is a safety net for every task and
    says nothing about how long this one runs, whereas a limit written for the task
    is its author's estimate of its worst case.

    ## Why is this bad?
    Beat does not wait for the previous run: it sends a message every period. A task
    allowed to run for 10 minutes, scheduled every minute, can have ten copies running
    at once on a slow day, competing for the same rows and worker slots; the backlog
    then grows faster than it drains.

    ## Example
    ```python
    @shared_task(time_limit=900)
    def sync_inventory(): ...

    app.conf.beat_schedule = {"sync": {"task": "shop.tasks.sync_inventory", "schedule": 60.0}}
    ```

    ## Use instead
    ```python
    @shared_task(time_limit=50)
    def sync_inventory(): ...
    ```
    or schedule it less often, or take a lock (`cache.add(key, ..., timeout)`) at the
    start of the task so overlapping runs exit at once.

    ## References
    - Celery, *Periodic Tasks*: "ensure a task is only executed one at a time"
    """

    CODE = "CEL709"
    NAME = "schedule-overlaps-time-limit"
    MESSAGE = "beat entry '{entry}' runs task '{task}' every {period}, but its time limit is {limit} ({origin}): runs can overlap and pile up"
    FIX_TITLE = "schedule it less often, lower the limit or lock the task"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(_celery("600.0"), path="proj/celery.py", files=_files("300")),
        Valid(_celery("crontab(minute=0, hour=3)"), path="proj/celery.py", files=_files("3600")),
        Valid(
            _celery("timedelta(minutes=10)"), path="proj/celery.py", files=_files("600"), note="equal is fine"
        ),
        Valid(
            _celery("60.0"),
            path="proj/celery.py",
            files=_files("None"),
            note="no time limit (CEL201's business)",
        ),
        Valid(_celery("60.0"), path="proj/celery.py", files=_files("LIMIT"), note="unknown limit"),
        Valid(
            _celery("60.0", ", 'options': {'time_limit': 50}"),
            path="proj/celery.py",
            files=_files("300"),
            note="a per-call limit in the entry options",
        ),
        Valid(
            _celery("crontab(minute='*/5', hour=MAINTENANCE_HOURS)"),
            path="proj/celery.py",
            files=_files("900"),
            note="computed crontab field",
        ),
        Valid(_celery("60.0"), path="tests/test_beat.py", files=_files("300"), note="test code"),
        Valid(
            "from celery.schedules import crontab\n\nCELERY_TASK_TIME_LIMIT = 600\n"
            "CELERY_BEAT_SCHEDULE = {\n    'sync': {'task': 'proj.tasks.sync', 'schedule': 120},\n}\n",
            path="proj/settings.py",
            files={
                "proj/__init__.py": "",
                "proj/celery.py": DJANGO_CELERY,
                "proj/tasks.py": "from celery import shared_task\n\n\n@shared_task\ndef sync():\n    pass\n",
            },
            note="only the app-wide task_time_limit: a safety net, not this task's expected duration",
        ),
    ]
    INVALID = [
        Invalid(
            _celery("60.0"),
            path="proj/celery.py",
            files=_files("300"),
            line=6,
            column=41,
            message_contains="every 1 min",
        ),
        Invalid(
            _celery("timedelta(minutes=1)"), path="proj/celery.py", files=_files("600"), line=6, column=41
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n"
            "app.conf.update(beat_schedule={'sync': {'task': 'proj.tasks.sync', 'schedule': 60}})\n",
            path="proj/celery.py",
            files=_files("300"),
            line=3,
            column=68,
            note="conf.update",
        ),
        Invalid(
            "beat_schedule = {\n    'sync': {'task': 'proj.tasks.sync', 'schedule': 60},\n}\n",
            path="celeryconfig.py",
            files={**_files("300"), "proj/celery.py": CELERYCONFIG_APP},
            line=2,
            column=41,
            note="celeryconfig module",
        ),
        Invalid(
            _celery("crontab(minute='*/5')"),
            path="proj/celery.py",
            files=_files("900"),
            line=6,
            column=41,
            message_contains="every 5 min",
        ),
        Invalid(
            _celery("schedule(run_every=30)"), path="proj/celery.py", files=_files("120"), line=6, column=41
        ),
        Invalid(
            _celery("crontab(minute='0,10', hour='*')"),
            path="proj/celery.py",
            files=_files("1200"),
            line=6,
            column=41,
            message_contains="every 10 min",
            note="shortest gap of an uneven crontab",
        ),
        Invalid(
            _celery("60.0", ", 'options': {'time_limit': 120}"),
            path="proj/celery.py",
            files=_files("30"),
            line=6,
            column=41,
            note="the per-call limit wins",
        ),
        Invalid(
            "from celery.schedules import crontab\n\n"
            "CELERY_BEAT_SCHEDULE = {\n    'sync': {'task': 'proj.tasks.sync', 'schedule': 120},\n}\n",
            path="proj/settings.py",
            files={**_files("600"), "proj/celery.py": DJANGO_CELERY},
            line=4,
            column=41,
            note="Django settings",
        ),
        Invalid(
            _celery("crontab(minute='*/30')"),
            path="proj/celery.py",
            files={
                "proj/__init__.py": "",
                "proj/base.py": "from celery import Task\n\n\nclass Slow(Task):\n    time_limit = 3600\n",
                "proj/tasks.py": "from celery import shared_task\nfrom proj.base import Slow\n\n\n@shared_task(base=Slow)\ndef sync():\n    pass\n",
            },
            line=6,
            column=41,
            message_contains="class Slow",
            note="limit from the base class",
        ),
        Invalid(
            "from celery import Celery\nfrom proj.tasks import sync\n\napp = Celery('proj')\n\n\n"
            "@app.on_after_configure.connect\ndef setup(sender, **kwargs):\n"
            "    sender.add_periodic_task(10.0, sync.s(), name='sync')\n",
            path="proj/celery.py",
            files=_files("60"),
            line=9,
            column=30,
            note="add_periodic_task",
        ),
    ]

    def check(self) -> None:
        view = self.project
        for entry in view.beat_entries():
            found = schedule_expr(entry)
            if found is None:
                continue
            expr, node = found
            value = view.fully_known(expr)
            if not isinstance(value, Known):
                continue
            period = period_seconds(value.value)
            if period is None or period <= 0:
                continue
            tasks = view.scheduled_tasks(entry)
            if len(tasks) != 1:
                continue
            task = tasks[0]
            limit = self._limit(entry, task)
            if not isinstance(limit, Known) or not _positive(limit.value) or period >= limit.value:
                continue
            self.report(
                node,
                self.message(
                    entry=entry_label(entry),
                    task=task.label,
                    period=humanize(period),
                    limit=humanize(limit.value),
                    origin=limit.origin,
                ),
            )

    def _limit(self, entry: BeatEntry, task: TaskView) -> Resolved:
        """The per-call limit in the entry's options, else the task's effective limit."""
        options: Any = None
        if entry.form == "beat_schedule" and "options" in entry.fields:
            options_expr = entry.fields["options"][0]
            resolved = self.project.fully_known(options_expr)
            if not isinstance(resolved, Known) or not isinstance(resolved.value, dict):
                return Unknown("entry options are computed")
            options = resolved.value
            if "time_limit" in options:
                return Known(
                    options["time_limit"],
                    Origin("time_limit in the entry options", entry.summary.file.relpath),
                )
        elif entry.call is not None:
            for arg in entry.call.args:
                if arg.star:
                    return Unknown("options splat")
                if arg.keyword is not None and arg.keyword.value in ("time_limit", "options"):
                    return Unknown("per-call options")
        limit = task.option("time_limit")
        app_wide = task.setting("task_time_limit")
        if isinstance(limit, Known) and isinstance(app_wide, Known) and limit == app_wide:
            return Unknown("only the app-wide task_time_limit")
        return limit


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
