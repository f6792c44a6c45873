"""The beat, route and queue rules against the installed Celery's own parsers and tables."""

from __future__ import annotations

import inspect
import itertools
from datetime import datetime, timedelta, timezone

import pytest
from celery.beat import ScheduleEntry
from celery.schedules import crontab
from celery.utils.time import rate

from celery_lint.project.beat import period_seconds
from celery_lint.project.values import CallValue
from celery_lint.rules.canvas.invalid_rate_limit import rate_problem
from celery_lint.rules.canvas.invalid_schedule_entry import entry_keys
from celery_lint.testing import lint_source

RATES = [
    "100/m",
    "10/s",
    "1/h",
    "0.5/s",
    "20",
    "1.5",
    "",
    "10/d",
    "1/min",
    "1/ m",
    "5/sec",
    "abc",
    "10/",
    "/m",
    "1e3/h",
    " 10/m",
    "10/m ",
    "-1/s",
    "0/s",
    "inf/s",
]
NUMBERS = [10, 2.5, 0, None]


def _celery_rejects_rate(value: object) -> bool:
    try:
        rate(value)  # type: ignore[arg-type]
    except Exception:
        return True
    return False


@pytest.mark.parametrize("value", RATES + NUMBERS, ids=repr)
def test_rate_problem_agrees_with_celery(value: object) -> None:
    assert (rate_problem(value) is not None) == _celery_rejects_rate(value)


@pytest.mark.parametrize("value", RATES, ids=repr)
def test_rate_limit_rule_agrees_with_celery(value: str) -> None:
    code = f"from celery import shared_task\n\n\n@shared_task(rate_limit={value!r})\ndef f():\n    pass\n"
    flagged = [v for v in lint_source(code, select=["CEL704"]) if v.code == "CEL704"]
    assert bool(flagged) == _celery_rejects_rate(value), flagged


CRONTAB_FIELDS = [
    ("minute", 0),
    ("minute", 59),
    ("minute", 60),
    ("minute", "*/15"),
    ("minute", "*/0"),
    ("minute", "*/"),
    ("minute", "-5"),
    ("minute", "1,,2"),
    ("minute", "0-59/5"),
    ("minute", "5-"),
    ("minute", 1.5),
    ("minute", [0, 30]),
    ("minute", [0, 60]),
    ("hour", 23),
    ("hour", "25"),
    ("hour", "*/30"),
    ("hour", "22-2"),
    ("day_of_week", 6),
    ("day_of_week", 7),
    ("day_of_week", "mon-fri"),
    ("day_of_week", "sun,sat"),
    ("day_of_week", "L"),
    ("day_of_week", "funday"),
    ("day_of_month", 0),
    ("day_of_month", 31),
    ("day_of_month", "1-7,15"),
    ("month_of_year", 13),
    ("month_of_year", "jan-mar"),
    ("month_of_year", "*/3"),
]


def _celery_rejects_crontab(**fields: object) -> bool:
    try:
        crontab(**fields)  # type: ignore[arg-type]
    except Exception:
        return True
    return False


def _crontab_flagged(args: str) -> bool:
    code = f"from celery.schedules import crontab\n\nschedule = crontab({args})\n"
    return any(v.code == "CEL702" for v in lint_source(code, select=["CEL702"]))


@pytest.mark.parametrize(("field", "value"), CRONTAB_FIELDS, ids=lambda x: repr(x))
def test_crontab_rule_agrees_with_celery(field: str, value: object) -> None:
    assert _crontab_flagged(f"{field}={value!r}") == _celery_rejects_crontab(**{field: value})


@pytest.mark.parametrize(
    ("day_of_month", "month_of_year"), [(31, 2), (30, 2), (29, 2), (31, 4), (31, "4,5"), ("30,31", "2,4")]
)
def test_crontab_day_of_month_interplay(day_of_month: object, month_of_year: object) -> None:
    args = f"day_of_month={day_of_month!r}, month_of_year={month_of_year!r}"
    expected = _celery_rejects_crontab(day_of_month=day_of_month, month_of_year=month_of_year)
    assert _crontab_flagged(args) == expected


@pytest.mark.parametrize("value", ["jan", "Jan,Feb", "mar-apr"])
def test_month_name_in_day_of_week_is_flagged_though_celery_accepts_it(value: str) -> None:
    crontab(day_of_week=value)  # Celery takes it silently...
    assert _crontab_flagged(f"minute=0, hour=0, day_of_week={value!r}")  # ...the rule does not


def test_schedule_entry_keys_are_celerys() -> None:
    parameters = list(inspect.signature(ScheduleEntry.__init__).parameters)
    assert list(entry_keys()) == [p for p in parameters if p != "self"]
    assert "arg" not in entry_keys()


def _first_gap(schedule: crontab) -> float:
    """The smallest gap between consecutive runs over two days, walking Celery's own schedule."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    minutes = [
        start + timedelta(minutes=i)
        for i in range(2 * 24 * 60)
        if (start + timedelta(minutes=i)).minute in schedule.minute
        and (start + timedelta(minutes=i)).hour in schedule.hour
    ]
    return min((b - a).total_seconds() for a, b in itertools.pairwise(minutes))


@pytest.mark.parametrize(
    "fields",
    [
        {"minute": "*/5"},
        {"minute": "0,10"},
        {"minute": 0, "hour": "*/6"},
        {"minute": "15,45", "hour": "8-18"},
        {},
    ],
    ids=repr,
)
def test_crontab_period_matches_celerys_expansion(fields: dict[str, object]) -> None:
    value = CallValue("celery.schedules.crontab", (), dict(fields))
    assert period_seconds(value) == _first_gap(crontab(**fields))  # type: ignore[arg-type]


def test_periods_of_simple_schedules() -> None:
    assert period_seconds(30) == 30.0
    assert period_seconds(CallValue("celery.schedules.schedule", (), {"run_every": 90.0})) == 90.0
    assert period_seconds(CallValue("celery.schedules.crontab", (), {"minute": 0, "hour": 3})) == 86400.0
    assert (
        period_seconds(CallValue("celery.schedules.crontab", (), {"minute": 0, "hour": 3, "day_of_week": 1}))
        is None
    )
    assert period_seconds(True) is None


@pytest.mark.parametrize(
    ("line", "flags", "expected"),
    [
        (
            "worker: celery -A proj worker -l info -Q reports,default",
            ("-Q", "--queues"),
            {"reports", "default"},
        ),
        (
            "celery --app=proj.celery:app worker -Iproj.jobs",
            ("-A", "--app", "-I", "--include"),
            {"proj.celery", "proj.jobs"},
        ),
        ('command: ["celery", "-A", "proj", "worker", "--queues", "high"]', ("-Q", "--queues"), {"high"}),
        ("celery -A proj beat", ("-Q", "--queues"), set()),
    ],
)
def test_launcher_arguments(tmp_path, line: str, flags: tuple[str, ...], expected: set[str]) -> None:
    from celery_lint.project.launchers import launcher_arguments
    from celery_lint.project.model import ProjectModel

    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "Procfile").write_text(line + "\n")
    assert launcher_arguments(ProjectModel(tmp_path), flags) == expected
