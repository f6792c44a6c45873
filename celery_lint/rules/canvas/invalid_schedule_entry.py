from __future__ import annotations

import difflib
from functools import cache
from typing import TYPE_CHECKING

from ...project.beat import BeatEntry, entry_label
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ._cases import CELERYCONFIG_APP, DJANGO_CELERY, PLAIN_CELERY, project

if TYPE_CHECKING:
    from ...api import ProjectView


@cache
def entry_keys() -> tuple[str, ...]:
    """The keyword arguments of the installed Celery's ``ScheduleEntry``."""
    import inspect

    from celery.beat import ScheduleEntry

    return tuple(p for p in inspect.signature(ScheduleEntry.__init__).parameters if p != "self")


def _schedule(fields: str) -> str:
    return PLAIN_CELERY + "app.conf.beat_schedule = {\n    'add': {" + fields + "},\n}\n"


class InvalidScheduleEntry(Rule):
    """
    ## What it does
    Checks `beat_schedule` entries (every configuration form) for what makes beat
    fail to load them: a key that is not an argument of the installed Celery's
    `celery.beat.ScheduleEntry` (`"arg"` for `"args"`), a string `schedule` (a cron
    expression Celery does not parse), and a missing `task` or `schedule`.

    When the project may use another scheduler (`beat_scheduler` set to something
    else or unreadable, or django-celery-beat, redbeat or an SQLAlchemy scheduler in
    the code), extra keys can be valid fields of that scheduler's model
    (django-celery-beat passes them to `PeriodicTask`), so only near-misses of
    Celery's keys are reported.

    ## Why is this bad?
    Beat builds every entry with `ScheduleEntry(**entry)` when it starts: an unknown
    key raises `TypeError`, a string schedule `AttributeError`, and beat exits, taking
    every other periodic task down with it. Without `schedule` the entry never runs
    (beat logs "Cannot calculate the next run" every five minutes); without `task`
    beat sends nameless messages that workers reject.

    ## Example
    ```python
    app.conf.beat_schedule = {
        "cleanup": {"task": "proj.tasks.cleanup", "schedule": "0 3 * * *", "arg": (7,)},
    }
    ```

    ## Use instead
    ```python
    app.conf.beat_schedule = {
        "cleanup": {"task": "proj.tasks.cleanup", "schedule": crontab(minute=0, hour=3), "args": (7,)},
    }
    ```

    ## References
    - Celery, *Periodic Tasks*: available fields
    - `celery.beat.ScheduleEntry`
    """

    CODE = "CEL714"
    NAME = "invalid-schedule-entry"
    MESSAGE = "beat entry '{entry}' {problem}: {consequence}"
    FIX_TITLE = "{fix}"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            _schedule(
                "'task': 'proj.tasks.add', 'schedule': 30.0, 'args': (1, 2), 'kwargs': {}, "
                "'options': {'queue': 'q'}, 'relative': True"
            ),
            path="proj/celery.py",
            files=project(),
        ),
        Valid(
            _schedule("'task': 'proj.tasks.add', 'schedule': 30.0, 'description': 'adds'")
            + "app.conf.beat_scheduler = 'django_celery_beat.schedulers:DatabaseScheduler'\n",
            path="proj/celery.py",
            files=project(),
            note="another scheduler: extra keys are its model's fields",
        ),
        Valid(
            _schedule("'task': 'proj.tasks.add', 'schedule': 30.0, 'enabled': False"),
            path="proj/celery.py",
            files={**project(), "proj/settings.py": "INSTALLED_APPS = ['django_celery_beat']\n"},
            note="django-celery-beat in the project: the scheduler may be chosen with -S",
        ),
        Valid(
            _schedule("**BASE, 'task': 'proj.tasks.add'"),
            path="proj/celery.py",
            files=project(),
            note="a splat may give the schedule",
        ),
        Valid(
            _schedule("'task': 'proj.tasks.add', 'schedule': SCHEDULE"),
            path="proj/celery.py",
            files=project(),
        ),
        Valid(_schedule("'task': 'proj.tasks.add', 'arg': (1,)"), path="tests/test_beat.py", files=project()),
    ]
    INVALID = [
        Invalid(
            _schedule("'task': 'proj.tasks.add', 'schedule': 30.0,\n        'arg': (1, 2)"),
            path="proj/celery.py",
            files=project(),
            line=5,
            column=9,
            message_contains="'args'",
        ),
        Invalid(
            _schedule("'task': 'proj.tasks.add', 'schedule': '*/5 * * * *'"),
            path="proj/celery.py",
            files=project(),
            line=4,
            column=39,
            message_contains="crontab",
        ),
        Invalid(
            _schedule("'task': 'proj.tasks.add'"), path="proj/celery.py", files=project(), line=4, column=5
        ),
        Invalid(_schedule("'schedule': 10"), path="proj/celery.py", files=project(), line=4, column=5),
        Invalid(
            "from celery import Celery\n\n\nclass Config:\n    beat_schedule = {\n        'add': {'task': 'proj.tasks.add', 'schedule': 10, 'arg': (1,)},\n    }\n\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            path="proj/celery.py",
            files=project(),
            line=6,
            column=59,
            note="configuration class",
        ),
        Invalid(
            _schedule("'task': 'proj.tasks.add', 'schedule': 30.0, 'shedule': 60")
            + "app.conf.beat_scheduler = 'django_celery_beat.schedulers:DatabaseScheduler'\n",
            path="proj/celery.py",
            files=project(),
            line=4,
            column=57,
            note="a near-miss is wrong for every scheduler",
        ),
        Invalid(
            "CELERY_BEAT_SCHEDULE = {\n    'add': {'task': 'proj.tasks.add', 'schedule': 60, 'queue': 'q'},\n}\n",
            path="proj/settings.py",
            files=project(**{"proj/celery.py": DJANGO_CELERY}),
            line=2,
            column=55,
            message_contains="'queue'",
            note="Django settings; queue belongs in options",
        ),
        Invalid(
            "beat_schedule = {\n    'add': dict(task='proj.tasks.add', schedule=60, kwarg={}),\n}\n",
            path="celeryconfig.py",
            files=project(**{"proj/celery.py": CELERYCONFIG_APP}),
            line=2,
            column=53,
            note="celeryconfig module, dict() entry",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(beat_schedule={'add': {'task': 'proj.tasks.add', 'schedule': 'daily'}})\n",
            path="proj/celery.py",
            files=project(),
            line=3,
            column=66,
            note="conf.update",
        ),
    ]

    def check(self) -> None:
        view = self.project
        entries = [e for e in view.beat_entries() if e.form == "beat_schedule"]
        if not entries:
            return
        for entry in entries:
            self._check_entry(view, entry)

    def _check_entry(self, view: ProjectView, entry: BeatEntry) -> None:
        label = entry_label(entry)
        keys = entry_keys()
        lenient = view.other_beat_scheduler_possible
        for key, (_, node) in entry.fields.items():
            if key in keys:
                continue
            close = difflib.get_close_matches(key, keys, n=1, cutoff=0.75)
            if lenient and not close:
                continue
            hint = (
                f"did you mean '{close[0]}'?"
                if close
                else f"use one of {', '.join(k for k in keys if k not in ('name', 'app'))}"
            )
            if key in ("queue", "expires", "priority", "routing_key", "exchange") and not close:
                hint = f"put it in `options`: {{'options': {{'{key}': ...}}}}"
            self.report(
                node,
                self.message(
                    entry=label,
                    problem=f"has the unknown key '{key}'",
                    consequence="beat raises TypeError when it loads the schedule and does not start",
                    fix=hint,
                ),
            )
        schedule = entry.fields.get("schedule")
        if schedule is not None:
            value = view.fully_known(schedule[0])
            if isinstance(value, Known) and isinstance(value.value, str):
                self.report(
                    schedule[1],
                    self.message(
                        entry=label,
                        problem=f"has a string schedule {value.value!r}",
                        consequence="Celery does not parse schedule strings and beat fails to load it",
                        fix="use a number of seconds, `timedelta` or `crontab(...)`",
                    ),
                )
        if entry.opaque:
            return
        consequences = {
            "task": "beat sends messages without a task name and workers reject them",
            "schedule": "beat logs 'Cannot calculate the next run' every five minutes and never runs it",
        }
        for required, consequence in consequences.items():
            if required not in entry.fields:
                self.report(
                    entry.node,
                    self.message(
                        entry=label,
                        problem=f"has no `{required}`",
                        consequence=consequence,
                        fix=f"add `{required}`",
                    ),
                )
