from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.beat import (
    BeatEntry,
    entry_label,
    periodic_args,
)
from ...project.values import UNKNOWN_ELEMENT, Known
from ..base import Invalid, Rule, Valid
from ._cases import CELERYCONFIG_APP, DJANGO_CELERY, PLAIN_CELERY, project

if TYPE_CHECKING:
    import libcst as cst

    from ...api import TaskView
else:
    from ..._lazy_libcst import cst


def _entry(options: str = "") -> str:
    return PLAIN_CELERY + (
        "app.conf.beat_schedule = {\n"
        f"    'add': {{'task': 'proj.tasks.add', 'schedule': 60.0{options}}},\n"
        "}\n"
    )


# django-celery-beat's scheduler reads ``expire_seconds`` from the options and drops ``expires``.
EXPIRY_KEYS = ("expires", "expire_seconds")
PERIODIC = (
    "from celery import Celery\nfrom proj.tasks import add\n\napp = Celery('proj')\n\n\n"
    "@app.on_after_configure.connect\ndef setup(sender, **kwargs):\n"
    "    sender.add_periodic_task(60.0, {sig}{extra})\n"
)


class ScheduleWithoutExpires(Rule):
    """
    ## What it does
    Checks for beat entries that give their messages no expiry: a `beat_schedule`
    entry without `options={"expires": ...}` (or `"expire_seconds"`, which
    django-celery-beat's scheduler reads instead), or an `add_periodic_task(...)` call
    without `expires=` (on the call or on the signature), when the scheduled task
    itself has no `expires` either (decorator, base class or `task_annotations`).

    ## Why is this bad?
    Beat sends on time whether or not anyone consumes. When the workers are down,
    saturated or stuck, the periodic messages accumulate, and when they come back
    every stale copy runs: a burst of identical cleanups, reports or syncs, all
    pointless but the last. An expiry shorter than the period makes the worker drop
    copies that are already outdated (they are marked revoked).

    ## Example
    ```python
    app.conf.beat_schedule = {
        "refresh-rates": {"task": "fx.tasks.refresh_rates", "schedule": 300.0},
    }
    ```

    ## Use instead
    ```python
    app.conf.beat_schedule = {
        "refresh-rates": {"task": "fx.tasks.refresh_rates", "schedule": 300.0, "options": {"expires": 240}},
    }
    ```

    ## References
    - Celery, *Calling Tasks*: expiration
    - Celery, *Periodic Tasks*: entry `options`
    """

    CODE = "CEL711"
    NAME = "schedule-without-expires"
    MESSAGE = "beat entry '{entry}' gives task '{task}' no `expires`: while workers are down or busy its messages pile up and every stale copy runs later"
    FIX_TITLE = "{fix}"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(_entry(", 'options': {'expires': 50}"), path="proj/celery.py", files=project()),
        Valid(
            _entry(", 'options': OPTIONS"),
            path="proj/celery.py",
            files=project(),
            note="options the analyzer cannot read",
        ),
        Valid(
            _entry(),
            path="proj/celery.py",
            files=project(
                **{
                    "proj/tasks.py": "from celery import shared_task\n\n\n@shared_task(expires=50)\ndef add(x, y):\n    return x + y\n"
                }
            ),
            note="the task has an expiry of its own",
        ),
        Valid(
            PLAIN_CELERY
            + "app.conf.beat_schedule = {'clean': {'task': 'celery.backend_cleanup', 'schedule': 3600}}\n",
            path="proj/celery.py",
            files=project(),
            note="a task outside the project: its own expires is unknown",
        ),
        Valid(
            PERIODIC.format(sig="add.s(1, 2)", extra=", expires=50"), path="proj/celery.py", files=project()
        ),
        Valid(
            PERIODIC.format(sig="add.s(1, 2).set(expires=50)", extra=""),
            path="proj/celery.py",
            files=project(),
            note="expires on the signature",
        ),
        Valid(_entry(), path="tests/test_beat.py", files=project(), note="test code"),
        Valid(
            _entry(", 'options': {'expire_seconds': 50}")
            + "app.conf.beat_scheduler = 'django_celery_beat.schedulers:DatabaseScheduler'\n",
            path="proj/celery.py",
            files=project(),
            note="django-celery-beat's key",
        ),
    ]
    INVALID = [
        Invalid(_entry(), path="proj/celery.py", files=project(), line=4, column=5),
        Invalid(
            _entry(", 'options': {'queue': 'periodic'}"),
            path="proj/celery.py",
            files=project(),
            line=4,
            column=5,
        ),
        Invalid(
            PLAIN_CELERY
            + "app.conf.update(beat_schedule={'add': {'task': 'proj.tasks.add', 'schedule': 60}})\n",
            path="proj/celery.py",
            files=project(),
            line=3,
            column=32,
            note="conf.update",
        ),
        Invalid(
            "from celery import Celery\n\n\nclass Config:\n    beat_schedule = {\n        'add': {'task': 'proj.tasks.add', 'schedule': 60},\n    }\n\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            path="proj/celery.py",
            files=project(),
            line=6,
            column=9,
            note="configuration class",
        ),
        Invalid(
            _entry() + "app.conf.beat_scheduler = 'django_celery_beat.schedulers:DatabaseScheduler'\n",
            path="proj/celery.py",
            files=project(),
            line=4,
            column=5,
            message_contains="expire_seconds",
            note="django-celery-beat",
        ),
        Invalid(
            PERIODIC.format(sig="add.s(1, 2)", extra=""),
            path="proj/celery.py",
            files=project(),
            line=9,
            column=5,
            message_contains="add `expires=`",
        ),
        Invalid(
            "CELERY_BEAT_SCHEDULE = {\n    'add': {'task': 'proj.tasks.add', 'schedule': 60},\n}\n",
            path="proj/settings.py",
            files=project(**{"proj/celery.py": DJANGO_CELERY}),
            line=2,
            column=5,
            note="Django settings",
        ),
        Invalid(
            "beat_schedule = {\n    'add': {'task': 'proj.tasks.add', 'schedule': 60},\n}\n",
            path="celeryconfig.py",
            files=project(**{"proj/celery.py": CELERYCONFIG_APP}),
            line=2,
            column=5,
            note="celeryconfig module",
        ),
    ]

    def check(self) -> None:
        view = self.project
        for entry in view.beat_entries():
            if entry.opaque or not self._lacks_expires(entry):
                continue
            tasks = view.scheduled_tasks(entry)
            if len(tasks) != 1 or not self._task_lacks_expires(tasks[0]):
                continue
            if entry.form == "add_periodic_task":
                fix = "add `expires=` (seconds, below the period)"
            elif view.other_beat_scheduler_possible:
                fix = "add `'options': {'expires': <seconds, below the period>}` (`'expire_seconds'` for django-celery-beat's scheduler)"
            else:
                fix = "add `'options': {'expires': <seconds, below the period>}`"
            self.report(
                entry.node,
                self.message(entry=entry_label(entry), task=tasks[0].label, fix=fix),
            )

    def _lacks_expires(self, entry: BeatEntry) -> bool:
        if entry.form == "beat_schedule":
            options = entry.fields.get("options")
            if options is None:
                return True
            evaluated = self.project.value_of(options[0])
            if not isinstance(evaluated, Known):
                return False
            value = evaluated.value
            return isinstance(value, dict) and not ({UNKNOWN_ELEMENT, *EXPIRY_KEYS} & set(value))
        call = entry.call
        if call is None:
            return False
        for arg in call.args:
            if arg.star or (arg.keyword is not None and arg.keyword.value in ("expires", "options")):
                return False
        _, sig = periodic_args(call)
        return sig is not None and not _signature_options(sig)

    def _task_lacks_expires(self, task: TaskView) -> bool:
        value = task.option("expires")
        return isinstance(value, Known) and value.value is None


def _signature_options(sig: cst.BaseExpression) -> bool:
    """The signature expression sets options (``.set(...)``, ``options=``, a splat)."""
    node: cst.BaseExpression = sig
    while isinstance(node, cst.Call):
        for arg in node.args:
            if arg.star == "**" or (arg.keyword is not None and arg.keyword.value in ("expires", "options")):
                return True
        if isinstance(node.func, cst.Attribute) and node.func.attr.value == "set":
            return True
        node = node.func.value if isinstance(node.func, cst.Attribute) else node.func
    return False
