from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixes import prepend_keywords, replace
from ...project.beat import call_fields
from ...project.values import Known
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

IMPORT = "from celery.schedules import crontab\n"
LARGER_UNITS = ("hour", "day_of_week", "day_of_month", "month_of_year")


class CrontabEveryMinute(Rule):
    """
    ## What it does
    Checks for `crontab(...)` calls that fix a larger unit (`hour`, `day_of_week`,
    `day_of_month` or `month_of_year`, given and not `"*"`) but do not give `minute`,
    which then keeps its default `"*"`: every minute.

    ## Why is this bad?
    `crontab(hour=3)` reads like "at three o'clock" but runs at 03:00, 03:01, ... 03:59:
    sixty runs instead of one. `crontab(day_of_week="mon")` runs 1440 times on Mondays.
    Unlike cron's five-field lines, Celery's keyword form makes omitting the minute
    look natural.

    ## Example
    ```python
    "nightly-cleanup": {"task": "maintenance.cleanup", "schedule": crontab(hour=3)},
    ```

    ## Use instead
    ```python
    "nightly-cleanup": {"task": "maintenance.cleanup", "schedule": crontab(minute=0, hour=3)},
    ```
    When every minute of that hour is really wanted, say so: `crontab(minute="*", hour=3)`.

    ## Fix safety
    Unsafe: the schedule runs once where it ran every minute, which is what the code
    almost always means but changes what it does. The fix puts `minute=0` first in the
    `crontab(...)` call, laid out like its other arguments.

    ## References
    - Celery, *Periodic Tasks*: crontab schedules (`crontab(hour=7)` is not in the examples for a reason)
    """

    CODE = "CEL703"
    NAME = "crontab-every-minute"
    MESSAGE = "`{call}` leaves `minute` at its default `*`: it runs every minute while {when} holds, not once"
    FIX_TITLE = "add `minute=0` (or `minute='*'` if every minute is meant)"
    SKIP_TEST_CODE = True
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Add `minute=0`"

    VALID = [
        Valid(IMPORT + "schedule = crontab(minute=0, hour=3)\n"),
        Valid(IMPORT + "schedule = crontab(minute='*', hour=3)\n", note="explicit minute='*'"),
        Valid(IMPORT + "schedule = crontab('30', '3')\n", note="positional minute"),
        Valid(IMPORT + "schedule = crontab()\n", note="every minute, on purpose"),
        Valid(IMPORT + "schedule = crontab(hour='*')\n", note="nothing fixed"),
        Valid(IMPORT + "schedule = crontab(minute='*/5', day_of_week='mon-fri')\n"),
        Valid(
            "import os\n" + IMPORT + "schedule = crontab(hour=os.environ['HOUR'])\n",
            note="computed hour could be '*'",
        ),
        Valid(IMPORT + "schedule = crontab(hour=3, **extra)\n", note="a splat may give minute"),
        Valid(IMPORT + "schedule = crontab.from_string('* 3 * * *')\n", note="explicit '*'"),
    ]
    INVALID = [
        Invalid(
            IMPORT + "schedule = crontab(hour=3)\n",
            line=2,
            column=12,
            message_contains="while hour=3 holds",
            fixed=IMPORT + "schedule = crontab(minute=0, hour=3)\n",
        ),
        Invalid(
            IMPORT + "schedule = crontab(day_of_week='mon')\n",
            line=2,
            column=12,
            fixed=IMPORT + "schedule = crontab(minute=0, day_of_week='mon')\n",
        ),
        Invalid(
            IMPORT + "schedule = crontab(hour='*', day_of_month=1)\n",
            line=2,
            column=12,
            note="hour '*', day fixed",
            fixed=IMPORT + "schedule = crontab(minute=0, hour='*', day_of_month=1)\n",
        ),
        Invalid(
            IMPORT + "schedule = crontab(hour='*/6')\n",
            line=2,
            column=12,
            fixed=IMPORT + "schedule = crontab(minute=0, hour='*/6')\n",
        ),
        Invalid(
            "from celery.schedules import crontab\n\nCELERY_BEAT_SCHEDULE = {\n    'nightly': {'task': 'proj.tasks.nightly', 'schedule': crontab(hour=2)},\n}\n",
            path="proj/settings.py",
            line=4,
            column=59,
            note="Django settings",
            fixed="from celery.schedules import crontab\n\nCELERY_BEAT_SCHEDULE = {\n    'nightly': {'task': 'proj.tasks.nightly', 'schedule': crontab(minute=0, hour=2)},\n}\n",
        ),
        Invalid(
            "from celery import Celery\nfrom celery.schedules import crontab\n\napp = Celery('proj')\n\n\n"
            "@app.on_after_configure.connect\ndef setup(sender, **kwargs):\n"
            "    sender.add_periodic_task(crontab(hour=7, day_of_week=1), report.s())\n",
            line=9,
            column=30,
            note="add_periodic_task",
            fixed="from celery import Celery\nfrom celery.schedules import crontab\n\napp = Celery('proj')\n\n\n"
            "@app.on_after_configure.connect\ndef setup(sender, **kwargs):\n"
            "    sender.add_periodic_task(crontab(minute=0, hour=7, day_of_week=1), report.s())\n",
        ),
        Invalid(
            IMPORT + "schedule = crontab(\n    hour=3,\n    day_of_week='sun',\n)\n",
            line=2,
            column=12,
            note="over several lines",
            fixed=IMPORT + "schedule = crontab(\n    minute=0,\n    hour=3,\n    day_of_week='sun',\n)\n",
        ),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        project = self.project
        if not project.names_crontab(node.func):
            return
        given = call_fields(node)
        if given is None or "minute" in given:
            return
        fixed: list[str] = []
        for unit in LARGER_UNITS:
            arg = given.get(unit)
            if arg is None:
                continue
            value = project.fully_known(arg.value)
            if isinstance(value, Known) and value.value != "*":
                fixed.append(f"{unit}={value.value!r}")
        if not fixed:
            return
        when = " and ".join(fixed)
        fix = None
        if all(arg.keyword is not None for arg in node.args):
            fix = replace(
                node, prepend_keywords(node, [("minute", cst.Integer("0"))]), self.AUTOFIX_TITLE or ""
            )
        self.report(node, self.message(call=f"crontab({', '.join(fixed)})", when=when), fix=fix)
