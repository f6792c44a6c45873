from __future__ import annotations

from ...project.beat import entry_label, is_crontab, schedule_expr
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ._cases import CELERYCONFIG_APP, DJANGO_CELERY, PLAIN_CELERY, project

SCHEDULE = (
    "app.conf.beat_schedule = {{\n    'nightly': {{'task': 'proj.tasks.add', 'schedule': {schedule}}},\n}}\n"
)
CRONTAB = "crontab(minute=0, hour=3)"


def _celery(extra: str = "", schedule: str = CRONTAB) -> str:
    return (
        "from celery import Celery\nfrom celery.schedules import crontab\n"
        "app = Celery('proj')\n" + extra + SCHEDULE.format(schedule=schedule)
    )


class ScheduleWithoutTimezone(Rule):
    """
    ## What it does
    Checks for crontab beat entries while no Celery app of the project sets
    `timezone`. Celery also reads `TIME_ZONE` (`Settings.timezone` in
    `celery/app/utils.py`), so Django projects reading their settings through
    `config_from_object("django.conf:settings", ...)` always have one (Django defaults
    to `America/Chicago`) and are not flagged. Interval schedules do not depend on
    the zone (nor do solar ones, computed from coordinates) and are not flagged either.

    ## Why is this bad?
    Without `timezone`, Celery reads crontab fields in UTC (or in the host's local
    time with `enable_utc=False`). `crontab(hour=3)` meant as "3 a.m. here" runs at
    another hour, and the offset shifts with daylight saving time, so the job moves
    twice a year.

    ## Example
    ```python
    app = Celery("proj")
    app.conf.beat_schedule = {"nightly": {"task": "proj.tasks.report", "schedule": crontab(minute=0, hour=3)}}
    ```

    ## Use instead
    ```python
    app = Celery("proj")
    app.conf.timezone = "Europe/Paris"
    app.conf.beat_schedule = {"nightly": {"task": "proj.tasks.report", "schedule": crontab(minute=0, hour=3)}}
    ```

    ## References
    - Celery, *Periodic Tasks*: time zones
    - Celery, *Configuration*: `timezone`, `enable_utc`
    """

    CODE = "CEL712"
    NAME = "schedule-without-timezone"
    MESSAGE = "beat entry '{entry}' uses a crontab but no app sets `timezone`: Celery reads its hours in {zone}, not necessarily the zone they were written for"
    FIX_TITLE = "set `timezone`"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(_celery("app.conf.timezone = 'Europe/Paris'\n"), path="proj/celery.py", files=project()),
        Valid(
            _celery("app.conf.update(timezone='UTC')\n"),
            path="proj/celery.py",
            files=project(),
            note="UTC on purpose",
        ),
        Valid(_celery(schedule="300.0"), path="proj/celery.py", files=project(), note="interval schedule"),
        Valid(
            _celery(schedule="solar('sunset', 48.85, 2.35)").replace(
                "import crontab", "import crontab, solar"
            ),
            path="proj/celery.py",
            files=project(),
            note="solar schedules do not depend on the zone",
        ),
        Valid(
            "from celery.schedules import crontab\n\nCELERY_BEAT_SCHEDULE = {\n    'nightly': {'task': 'proj.tasks.add', 'schedule': crontab(minute=0, hour=3)},\n}\n",
            path="proj/settings.py",
            files=project(**{"proj/celery.py": DJANGO_CELERY}),
            note="Django settings: Celery reads TIME_ZONE, which Django always has",
        ),
        Valid(
            "from celery.schedules import crontab\n\nTIME_ZONE = 'Europe/Berlin'\nbeat_schedule = {\n    'nightly': {'task': 'proj.tasks.add', 'schedule': crontab(minute=0, hour=3)},\n}\n",
            path="celeryconfig.py",
            files=project(**{"proj/celery.py": CELERYCONFIG_APP}),
            note="TIME_ZONE counts too",
        ),
        Valid(
            _celery("app.conf.update(CONFIG)\n"),
            path="proj/celery.py",
            files=project(),
            note="unreadable configuration",
        ),
        Valid(_celery(), path="tests/test_beat.py", files=project(), note="test code"),
    ]
    INVALID = [
        Invalid(_celery(), path="proj/celery.py", files=project(), line=5, column=43, message_contains="UTC"),
        Invalid(
            "from celery import Celery\nfrom celery.schedules import crontab\napp = Celery('proj')\n"
            "app.conf.update(beat_schedule={'nightly': {'task': 'proj.tasks.add', 'schedule': crontab(minute=0, hour=3)}})\n",
            path="proj/celery.py",
            files=project(),
            line=4,
            column=70,
            note="conf.update",
        ),
        Invalid(
            _celery("app.conf.enable_utc = False\n"),
            path="proj/celery.py",
            files=project(),
            line=6,
            column=43,
            message_contains="local time",
        ),
        Invalid(
            "from celery.schedules import crontab\n\nbeat_schedule = {\n    'nightly': {'task': 'proj.tasks.add', 'schedule': crontab(minute=0, hour=3)},\n}\n",
            path="celeryconfig.py",
            files=project(**{"proj/celery.py": CELERYCONFIG_APP}),
            line=4,
            column=43,
            note="celeryconfig module",
        ),
        Invalid(
            PLAIN_CELERY.replace(
                "from celery import Celery\n",
                "from celery import Celery\nfrom celery.schedules import crontab\nfrom proj.tasks import add\n",
            )
            + "\n\n@app.on_after_configure.connect\ndef setup(sender, **kwargs):\n"
            "    sender.add_periodic_task(crontab(minute=0, hour=3), add.s(1, 2))\n",
            path="proj/celery.py",
            files=project(),
            line=9,
            column=30,
            note="add_periodic_task",
        ),
    ]

    def check(self) -> None:
        view = self.project
        entries = view.beat_entries()
        if not entries:
            return
        zone = view.beat_timezone_fallback
        if zone is None:
            return
        for entry in entries:
            found = schedule_expr(entry)
            if found is None:
                continue
            value = view.fully_known(found[0])
            if isinstance(value, Known) and is_crontab(value.value):
                self.report(found[1], self.message(entry=entry_label(entry), zone=zone))
                return
