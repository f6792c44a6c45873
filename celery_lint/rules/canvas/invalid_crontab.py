from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...project.beat import (
    CRONTAB_FIELDS,
    build_crontab,
    call_fields,
    celery_error,
)
from ...project.values import Known
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

IMPORT = "from celery.schedules import crontab\n"
WORD = re.compile(r"[A-Za-z]+")


class InvalidCrontab(Rule):
    """
    ## What it does
    Checks `crontab(...)` calls (Celery's, under any alias, anywhere in the project)
    and `crontab.from_string(...)` whose literal fields the installed Celery rejects:
    out of range (`day_of_week=7`, `minute=60`, `hour="25"`), unparsable (`"*/0"`,
    `"1,,2"`, `"-5"`), a float, or a day of month that never occurs in the chosen
    months (`day_of_month=31, month_of_year=2`). The verdict comes from constructing
    Celery's own `crontab` with the literal fields; computed fields are left out.

    It also flags names in the wrong field, which Celery accepts silently: Celery
    looks every name up as a month first, so `day_of_week="jan"` means Monday (month 1)
    and `hour="dec"` means 12; a weekday name outside `day_of_week` is read as its
    weekday number.

    ## Why is this bad?
    Celery validates a crontab when it is constructed, so an invalid field raises
    when the module holding the schedule is imported: beat (and often the worker and
    the web app importing the settings) fails to start. A misplaced name does not
    fail at all: the task runs on the wrong day.

    ## Example
    ```python
    CELERY_BEAT_SCHEDULE = {
        "weekly": {"task": "reports.weekly", "schedule": crontab(minute=0, hour=6, day_of_week=7)},
    }
    ```

    ## Use instead
    ```python
    CELERY_BEAT_SCHEDULE = {
        "weekly": {"task": "reports.weekly", "schedule": crontab(minute=0, hour=6, day_of_week=0)},
    }
    ```
    Sunday is `0` (or `"sun"`); `day_of_week` runs from 0 to 6.

    ## References
    - Celery, *Periodic Tasks*: crontab schedules
    - `celery.schedules.crontab`
    """

    CODE = "CEL702"
    NAME = "invalid-crontab"
    MESSAGE = "`{call}` {problem}"
    FIX_TITLE = "{fix}"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(IMPORT + "schedule = crontab(minute=0, hour=3, day_of_week='mon-fri')\n"),
        Valid(
            IMPORT
            + "schedule = crontab(minute='*/15', hour='8-18', day_of_month='1,15', month_of_year='*/3')\n"
        ),
        Valid(IMPORT + "schedule = crontab(minute=0, hour=0, day_of_week='sun')\n", note="weekday name"),
        Valid(IMPORT + "schedule = crontab(minute=0, hour=0, month_of_year='jan,jul')\n", note="month names"),
        Valid(
            IMPORT + "schedule = crontab(minute=0, hour=0, day_of_month=29, month_of_year=2)\n",
            note="leap day",
        ),
        Valid(IMPORT + "schedule = crontab(0, 0, day_of_month=31)\n", note="31 occurs in some months"),
        Valid(
            "import os\n" + IMPORT + "schedule = crontab(minute=int(os.environ['MINUTE']), hour=3)\n",
            note="computed field",
        ),
        Valid(
            "import os\n"
            + IMPORT
            + "schedule = crontab(day_of_month=31, month_of_year=os.environ['MONTHS'])\n",
            note="the day/month interplay needs both fields",
        ),
        Valid(
            "def crontab(**kw):\n    return kw\n\nschedule = crontab(minute=99)\n",
            note="not Celery's crontab",
        ),
        Valid(IMPORT + "schedule = crontab.from_string('0 3 * * 1-5')\n"),
        Valid(IMPORT + "BAD = crontab(minute=60)\n", path="tests/test_schedules.py", note="test code"),
    ]
    INVALID = [
        Invalid(
            IMPORT + "schedule = crontab(minute=0, hour=3, day_of_week=7)\n",
            line=2,
            column=12,
            message_contains="0-6",
        ),
        Invalid(IMPORT + "schedule = crontab(minute='*/0')\n", line=2, column=12, message_contains="step"),
        Invalid(IMPORT + "schedule = crontab(minute=60)\n", line=2, column=12),
        Invalid(
            IMPORT + "schedule = crontab(minute=0, hour='25')\n", line=2, column=12, message_contains="hour"
        ),
        Invalid(IMPORT + "schedule = crontab(0, 0, day_of_month=31, month_of_year=2)\n", line=2, column=12),
        Invalid(
            IMPORT + "schedule = crontab(minute=0, hour=0, day_of_week='jan')\n",
            line=2,
            column=12,
            message_contains="Monday",
        ),
        Invalid(
            IMPORT + "schedule = crontab(minute=0, hour='dec')\n",
            line=2,
            column=12,
            note="a month name in hour",
        ),
        Invalid(IMPORT + "schedule = crontab(minute=1.5)\n", line=2, column=12, note="float"),
        Invalid(IMPORT + "schedule = crontab(minute='-5')\n", line=2, column=12),
        Invalid(
            "from celery import schedules\n\nschedule = schedules.crontab(minute=0, hour=[8, 24])\n",
            line=3,
            column=12,
            note="module attribute, list field",
        ),
        Invalid(
            "from celery.schedules import crontab as cron\nEVERY = cron(minute=0, hour=0, day_of_week='L')\n",
            line=2,
            column=9,
            note="alias",
        ),
        Invalid(
            "from celery.schedules import crontab\n\nCELERY_BEAT_SCHEDULE = {\n    'weekly': {'task': 'proj.tasks.weekly', 'schedule': crontab(minute=0, hour=6, day_of_week=7)},\n}\n",
            path="proj/settings.py",
            line=4,
            column=57,
            note="Django settings",
        ),
        Invalid(
            IMPORT + "HOURS = 24\nschedule = crontab(minute=0, hour=HOURS)\n",
            line=3,
            column=12,
            note="through a constant",
        ),
        Invalid(
            IMPORT + "schedule = crontab.from_string('0 3 * *')\n", line=2, column=12, note="four fields"
        ),
        Invalid(IMPORT + "schedule = crontab.from_string('61 3 * * *')\n", line=2, column=12),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        project = self.project
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "from_string"
            and project.names_crontab(func.value)
        ):
            self._from_string(node)
            return
        if not project.names_crontab(func):
            return
        given = call_fields(node)
        if given is None:
            return
        known: dict[str, Any] = {}
        for name, arg in given.items():
            value = project.fully_known(arg.value)
            if isinstance(value, Known):
                known[name] = value.value
        if not known:
            return
        call = _call_text(known)
        result = build_crontab(known)
        if isinstance(result, str):
            field = _culprit(known)
            where = f"`{field}`: " if field else ""
            self.report(
                node,
                self.message(
                    call=call,
                    problem=f"is rejected by Celery ({where}{result}): importing the schedule raises and beat does not start",
                    fix="fix the field",
                ),
            )
            return
        for field, value in known.items():
            misread = _misplaced_name(field, value)
            if misread is not None:
                self.report(
                    node,
                    self.message(call=call, problem=misread, fix="use the right field or a number"),
                )
                return

    def _from_string(self, node: cst.Call) -> None:
        if len(node.args) != 1 or node.args[0].keyword is not None or node.args[0].star:
            return
        value = self.project.fully_known(node.args[0].value)
        if not isinstance(value, Known) or not isinstance(value.value, str):
            return
        from celery.schedules import crontab

        try:
            crontab.from_string(value.value)
        except Exception as exc:  # Celery's own verdict, whatever it raises
            problem = celery_error(exc)
            if "unpack" in problem:
                problem = (
                    "needs exactly five space-separated fields (minute hour day-of-month month day-of-week)"
                )
            self.report(
                node,
                self.message(
                    call=f"crontab.from_string({value.value!r})",
                    problem=f"is rejected by Celery ({problem}): importing the schedule raises and beat does not start",
                    fix="fix the expression",
                ),
            )


def _call_text(fields: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={_show(v)}" for k, v in fields.items())
    return f"crontab({shown})"


def _show(value: Any) -> str:
    if isinstance(value, frozenset):
        return "{" + ", ".join(repr(v) for v in sorted(value, key=repr)) + "}"
    return repr(value)


def _culprit(fields: dict[str, Any]) -> str | None:
    """The field Celery rejects on its own; None when only the combination fails."""
    for name in CRONTAB_FIELDS:
        if name in fields and isinstance(build_crontab({name: fields[name]}), str):
            return name
    return None


def _misplaced_name(field: str, value: Any) -> str | None:
    """A month name outside month_of_year or a weekday name outside day_of_week."""
    if not isinstance(value, str):
        return None
    from celery.utils.time import DAYNAMES, MONTHNAMES

    weekdays = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
    for word in WORD.findall(value):
        key = word[:3].lower()
        if key in MONTHNAMES and field != "month_of_year":
            number = MONTHNAMES.index(key) + 1
            meaning = f"{weekdays[number]}" if field == "day_of_week" and number < 7 else str(number)
            if field == "day_of_week":
                return f"reads the month name '{word}' as {number}, which day_of_week takes as {meaning}"
            return f"reads the month name '{word}' as {field} {number}"
        if key in DAYNAMES and key not in MONTHNAMES and field != "day_of_week":
            return f"reads the weekday name '{word}' as {field} {DAYNAMES.index(key)}"
    return None
