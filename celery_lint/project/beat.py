"""Beat entries, the tasks they schedule and their periods (the CEL7xx beat rules ask).

:func:`all_beat_entries` covers ``beat_schedule`` in every configuration form and
``add_periodic_task``. Settings modules also grow their schedule after the literal
(``CELERY_BEAT_SCHEDULE["x"] = {...}`` under an ``if``, ``.update({...})``), and some
apps copy the schedule from Django settings
(``app.conf.beat_schedule = app.conf.CELERY_BEAT_SCHEDULE``); those count too. Results
are computed once per project model.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .entities import App, AttrOf, ConfigWrite, External, Task, ValueSym
from .evaluate import NotEvaluable, evaluate
from .options import task_for_expression
from .scan import ModuleSummary, dotted_name
from .settings import config_writes_in
from .tasknames import find_tasks, per_model
from .values import UNKNOWN_ELEMENT, CallValue, Known, Resolved, Unknown, number_text

if TYPE_CHECKING:
    import libcst as cst

    from .model import ProjectModel
else:
    from .._lazy_libcst import cst

DEFAULT_SCHEDULERS = frozenset(
    {
        "celery.beat:PersistentScheduler",
        "celery.beat.PersistentScheduler",
        "celery.beat:Scheduler",
        "celery.beat.Scheduler",
    }
)
# Packages whose schedulers build entries from other fields (django-celery-beat passes extra
# keys on to its PeriodicTask model; redbeat, sqlalchemy schedulers have entries of their own).
OTHER_SCHEDULERS = re.compile(
    rb"django_celery_beat|redbeat|celery_sqlalchemy_scheduler|sqlalchemy_celery_beat|rdbbeat|beatx"
)


CRONTAB_CALLS = frozenset({"celery.schedules.crontab", "celery.crontab", "celery.task.schedules.crontab"})
SCHEDULE_CALLS = frozenset({"celery.schedules.schedule", "celery.schedule", "celery.task.schedules.schedule"})
SIGNATURE_CALLS = frozenset(
    {
        "celery.signature",
        "celery.Signature",
        "celery.canvas.signature",
        "celery.canvas.Signature",
        "celery.subtask",
    }
)
SIGNATURE_METHODS = frozenset({"s", "si", "signature", "subtask"})
CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


@dataclass(eq=False)
class BeatEntry:
    """One periodic task: a ``beat_schedule`` entry or an ``add_periodic_task`` call."""

    name: str | None
    summary: ModuleSummary
    node: cst.CSTNode
    fields: dict[str, tuple[cst.BaseExpression, cst.CSTNode]]
    """For schedule dicts: the entry's keys to (value, dict element)."""
    opaque: bool
    """The entry dict has computed keys or is not a literal dict."""
    form: str  # "beat_schedule" or "add_periodic_task"
    call: cst.Call | None = None


# --------------------------------------------------------------------------- beat_schedule writes
def beat_schedule_writes(model: ProjectModel) -> list[ConfigWrite]:
    """Every ``beat_schedule`` write outside test code, once each."""

    def compute() -> list[ConfigWrite]:
        writes: list[ConfigWrite] = []
        for app in model.apps:
            writes.extend(w for w in app.preconf if w.setting == "beat_schedule")
            if app.source is not None:
                for write_list in app.source.writes.values():
                    writes.extend(
                        w for w in write_list if w.setting == "beat_schedule" and w.value is not None
                    )
        for summary in list(model.parsed_summaries()):
            if not summary.is_test:
                writes.extend(
                    w for w in config_writes_in(model, summary.file) if w.setting == "beat_schedule"
                )
        seen: set[int] = set()
        unique = []
        for write in writes:
            if id(write.node) not in seen and not write.summary.is_test and write.value is not None:
                seen.add(id(write.node))
                unique.append(write)
        return unique

    return per_model(model, "beat_schedule_writes", compute)


def all_beat_entries(model: ProjectModel) -> list[BeatEntry]:
    """The model's beat entries plus later additions to a schedule dict, without duplicates."""

    def compute() -> list[BeatEntry]:
        entries = _written_entries(model) + _periodic_task_entries(model)
        seen = {id(e.node) for e in entries}
        for summary, name in _schedule_names(model):
            for entry in _later_additions(model, summary, name):
                if id(entry.node) not in seen:
                    seen.add(id(entry.node))
                    entries.append(entry)
        unique: list[BeatEntry] = []
        ids: set[int] = set()
        for entry in entries:
            if id(entry.node) not in ids:
                ids.add(id(entry.node))
                unique.append(entry)
        return unique

    return per_model(model, "beat_entries", compute)


def _written_entries(model: ProjectModel) -> list[BeatEntry]:
    """The entries of every schedule dict given to ``beat_schedule``, directly or by name."""
    entries: list[BeatEntry] = []
    for write in beat_schedule_writes(model):
        value = write.value
        if isinstance(value, cst.Name):
            symbol = model.symbol_of(write.summary, value)
            if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
                entries.extend(schedule_dict_entries(model, symbol.summary, symbol.expr))
        elif isinstance(value, cst.Dict):
            entries.extend(schedule_dict_entries(model, write.summary, value))
    return entries


def _periodic_task_entries(model: ProjectModel) -> list[BeatEntry]:
    """``add_periodic_task`` calls outside test code."""
    entries: list[BeatEntry] = []
    for summary in model.parsed_summaries():
        if summary.is_test:
            continue
        for op in summary.conf_ops:
            if op.kind == "periodic" and op.call is not None:
                name = None
                for arg in op.call.args:
                    if arg.keyword is not None and arg.keyword.value == "name":
                        try:
                            evaluated = evaluate(model, summary, arg.value)
                            name = evaluated if isinstance(evaluated, str) else None
                        except NotEvaluable:
                            name = None
                entries.append(
                    BeatEntry(name, summary, op.call, {}, False, "add_periodic_task", call=op.call)
                )
    return entries


def entries_in(model: ProjectModel, summary: ModuleSummary) -> list[BeatEntry]:
    path = str(summary.file.path)
    return [e for e in all_beat_entries(model) if str(e.summary.file.path) == path]


def _schedule_names(model: ProjectModel) -> list[tuple[ModuleSummary, str]]:
    """Module-level names bound to a schedule dict: ``CELERY_BEAT_SCHEDULE``, ``SCHEDULE``."""
    found: list[tuple[ModuleSummary, str]] = []
    for write in beat_schedule_writes(model):
        value = write.value
        if isinstance(value, cst.Name):
            symbol = model.symbol_of(write.summary, value)
            if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
                found.append((symbol.summary, symbol.name))
        elif isinstance(value, cst.Dict) and write.form not in (
            "Celery()",
            "changes",
            "conf.update",
            "conf attribute",
            "conf item",
            "conf.setdefault",
        ):
            if write.key in write.summary.bindings:
                found.append((write.summary, write.key))
        elif isinstance(value, cst.Attribute):
            # ``app.conf.beat_schedule = app.conf.CELERY_BEAT_SCHEDULE`` or ``= settings.X``.
            found.extend(_django_schedule(model, write.summary, value))
    unique: dict[tuple[str, str], tuple[ModuleSummary, str]] = {}
    for summary, name in found:
        unique.setdefault((str(summary.file.path), name), (summary, name))
    return list(unique.values())


def _django_schedule(
    model: ProjectModel, summary: ModuleSummary, value: cst.Attribute
) -> list[tuple[ModuleSummary, str]]:
    name = value.attr.value
    owner = value.value
    from_conf = (
        isinstance(owner, cst.Attribute)
        and owner.attr.value == "conf"
        and model.app_of_expr(summary, owner.value) is not None
    )
    if not from_conf and model.qualname_of(summary, owner) != "django.conf.settings":
        return []
    modules = model.django_settings_modules(summary) or []
    found = []
    for module_name in modules:
        module = model.module_summary(module_name)
        if module is None:
            continue
        flat, _ = model.flatten_module(module)
        for write in flat.get(name, []):
            if isinstance(write.value, cst.Dict):
                found.append((write.summary, name))
    return found


def _later_additions(model: ProjectModel, summary: ModuleSummary, name: str) -> list[BeatEntry]:
    """Entries added to ``name`` after the literal, and the literal itself when it is new to us."""
    entries: list[BeatEntry] = []
    for statement in _module_statements(summary.tree.body):
        for small in statement.body if isinstance(statement, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target = small.targets[0].target
                if (
                    isinstance(target, cst.Name)
                    and target.value == name
                    and isinstance(small.value, cst.Dict)
                ):
                    entries.extend(schedule_dict_entries(model, summary, small.value))
                elif (
                    isinstance(target, cst.Subscript)
                    and isinstance(target.value, cst.Name)
                    and target.value.value == name
                    and len(target.slice) == 1
                    and isinstance(target.slice[0].slice, cst.Index)
                ):
                    entries.append(_entry(model, summary, target.slice[0].slice.value, small.value, small))
            elif (
                isinstance(small, cst.Expr)
                and isinstance(small.value, cst.Call)
                and isinstance(small.value.func, cst.Attribute)
                and small.value.func.attr.value == "update"
                and isinstance(small.value.func.value, cst.Name)
                and small.value.func.value.value == name
            ):
                for arg in small.value.args:
                    if arg.keyword is None and not arg.star and isinstance(arg.value, cst.Dict):
                        entries.extend(schedule_dict_entries(model, summary, arg.value))
                    elif arg.keyword is not None:
                        entries.append(_entry(model, summary, None, arg.value, arg, name=arg.keyword.value))
    return entries


def _module_statements(body: Any) -> Iterator[cst.CSTNode]:
    """Module-level statements, entering if/try/with/for blocks (not functions or classes)."""
    for statement in body:
        if isinstance(statement, cst.SimpleStatementLine):
            yield statement
        elif isinstance(statement, (cst.If, cst.Try, cst.With, cst.For, cst.While)):
            yield from _module_statements(statement.body.body)
            orelse = getattr(statement, "orelse", None)
            while orelse is not None:
                yield from _module_statements(orelse.body.body)
                orelse = getattr(orelse, "orelse", None)
            for handler in getattr(statement, "handlers", ()):
                yield from _module_statements(handler.body.body)
            final = getattr(statement, "finalbody", None)
            if final is not None:
                yield from _module_statements(final.body.body)


def schedule_dict_entries(model: ProjectModel, summary: ModuleSummary, schedule: cst.Dict) -> list[BeatEntry]:
    entries = []
    for element in schedule.elements:
        if isinstance(element, cst.DictElement):
            entries.append(_entry(model, summary, element.key, element.value, element))
    return entries


def _entry(
    model: ProjectModel,
    summary: ModuleSummary,
    key: cst.BaseExpression | None,
    value: cst.BaseExpression,
    node: cst.CSTNode,
    name: str | None = None,
) -> BeatEntry:
    if key is not None:
        try:
            evaluated = evaluate(model, summary, key)
            name = evaluated if isinstance(evaluated, str) else None
        except NotEvaluable:
            name = None
    if isinstance(value, cst.Name):
        symbol = model.symbol_of(summary, value)
        if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
            value = symbol.expr
    fields: dict[str, tuple[cst.BaseExpression, cst.CSTNode]] = {}
    opaque = True
    if isinstance(value, cst.Dict):
        opaque = False
        for element in value.elements:
            if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                field_key = element.key.evaluated_value
                if isinstance(field_key, str):
                    fields[field_key] = (element.value, element)
                    continue
            opaque = True
    elif isinstance(value, cst.Call) and dotted_name(value.func) == "dict":
        opaque = False
        for arg in value.args:
            if arg.keyword is None:
                opaque = True
            else:
                fields[arg.keyword.value] = (arg.value, arg)
    return BeatEntry(name, summary, node, fields, opaque, "beat_schedule")


# --------------------------------------------------------------------------- what an entry runs
@dataclass
class Scheduled:
    """The task a beat entry runs."""

    name: str | None
    """The task name as written (a literal), None when the entry names a task object."""
    node: cst.CSTNode
    tasks: list[Task] = field(default_factory=list)


def periodic_args(call: cst.Call) -> tuple[cst.BaseExpression | None, cst.BaseExpression | None]:
    """``add_periodic_task(schedule, sig, ...)``: the schedule and signature expressions."""
    schedule: cst.BaseExpression | None = None
    sig: cst.BaseExpression | None = None
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if positional:
        schedule = positional[0].value
    if len(positional) > 1:
        sig = positional[1].value
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "schedule":
            schedule = arg.value
        elif arg.keyword is not None and arg.keyword.value == "sig":
            sig = arg.value
    return schedule, sig


def scheduled_task(model: ProjectModel, entry: BeatEntry) -> Scheduled | None:
    """The task an entry runs; None when the analyzer cannot tell."""
    if entry.form == "beat_schedule":
        if "task" not in entry.fields:
            return None
        expr, node = entry.fields["task"]
        try:
            name = evaluate(model, entry.summary, expr)
        except NotEvaluable:
            return None
        if not isinstance(name, str):
            return None
        return Scheduled(name, node, find_tasks(model, name))
    call = entry.call
    if call is None:
        return None
    _, sig = periodic_args(call)
    if sig is None:
        return None
    return signature_task(model, entry.summary, sig)


def signature_task(model: ProjectModel, summary: ModuleSummary, sig: cst.BaseExpression) -> Scheduled | None:
    """``task.s(...)``, ``task``, ``signature('name')``, ``<app>.signature('name')``, ``'name'``."""
    target: cst.BaseExpression = sig
    while (
        isinstance(target, cst.Call)
        and isinstance(target.func, cst.Attribute)
        and target.func.attr.value == "set"
    ):
        target = target.func.value
    if isinstance(target, (cst.SimpleString, cst.ConcatenatedString)):
        name = target.evaluated_value
        return Scheduled(name, target, find_tasks(model, name)) if isinstance(name, str) else None
    if not isinstance(target, cst.Call):
        task = task_for_expression(model, summary, target)
        return Scheduled(None, target, [task]) if task is not None else None
    func = target.func
    named = _literal_first_argument(model, summary, target)
    method = func.attr.value if isinstance(func, cst.Attribute) else None
    if named is not None and (_is_signature_call(model, summary, func) or method in ("signature", "subtask")):
        # A task's own ``.signature(args)`` takes a tuple: a string names the task (``app.signature``).
        name, node = named
        return Scheduled(name, node, find_tasks(model, name))
    if isinstance(func, cst.Attribute) and method in SIGNATURE_METHODS:
        task = task_for_expression(model, summary, func.value)
        return Scheduled(None, func.value, [task]) if task is not None else None
    return None


def _literal_first_argument(
    model: ProjectModel, summary: ModuleSummary, call: cst.Call
) -> tuple[str, cst.CSTNode] | None:
    if not call.args or call.args[0].keyword is not None or call.args[0].star:
        return None
    try:
        value = evaluate(model, summary, call.args[0].value)
    except NotEvaluable:
        return None
    return (value, call.args[0].value) if isinstance(value, str) else None


def _is_signature_call(model: ProjectModel, summary: ModuleSummary, func: cst.BaseExpression) -> bool:
    symbol = model.symbol_of(summary, func)
    if isinstance(symbol, External):
        return symbol.qualname in SIGNATURE_CALLS
    return (
        isinstance(symbol, AttrOf)
        and isinstance(symbol.base, App)
        and symbol.attrs in (("signature",), ("Signature",))
    )


def entry_label(entry: BeatEntry) -> str:
    if entry.name:
        return entry.name
    return "add_periodic_task(...)" if entry.form == "add_periodic_task" else "<computed>"


# --------------------------------------------------------------------------- schedules
def schedule_expr(entry: BeatEntry) -> tuple[cst.BaseExpression, cst.CSTNode] | None:
    if entry.form == "beat_schedule":
        return entry.fields.get("schedule")
    if entry.call is None:
        return None
    schedule, _ = periodic_args(entry.call)
    return (schedule, schedule) if schedule is not None else None


def schedule_value(model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression) -> Resolved:
    try:
        return Known(evaluate(model, summary, expr))
    except NotEvaluable:
        return Unknown("the schedule is computed")


def is_crontab(value: Any) -> bool:
    return isinstance(value, CallValue) and (
        value.qualname in CRONTAB_CALLS or value.qualname.rsplit(".", 1)[-1] == "crontab"
    )


def crontab_fields(value: CallValue) -> dict[str, Any] | None:
    """The five crontab fields given as arguments; None for a splat or extra positionals."""
    if len(value.args) > len(CRONTAB_FIELDS):
        return None
    fields = dict(zip(CRONTAB_FIELDS, value.args, strict=False))
    for key, item in value.kwargs.items():
        if key in CRONTAB_FIELDS:
            fields[key] = item
    return fields


def contains_unknown(value: Any) -> bool:
    if value is UNKNOWN_ELEMENT:
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(contains_unknown(v) for v in value)
    if isinstance(value, dict):
        return any(contains_unknown(k) or contains_unknown(v) for k, v in value.items())
    if isinstance(value, CallValue):
        return contains_unknown(value.args) or contains_unknown(value.kwargs)
    return False


def period_seconds(value: Any) -> float | None:
    """The shortest time between two runs of a schedule value, when it is simple to tell."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if not isinstance(value, CallValue) or contains_unknown(value):
        return None
    last = value.qualname.rsplit(".", 1)[-1]
    if value.qualname in SCHEDULE_CALLS or (last == "schedule" and value.qualname.startswith("celery")):
        run_every = value.args[0] if value.args else value.kwargs.get("run_every")
        if isinstance(run_every, (int, float)) and not isinstance(run_every, bool):
            return run_every
        return None
    if is_crontab(value):
        return _crontab_period(value)
    return None


def _crontab_period(value: CallValue) -> float | None:
    fields = crontab_fields(value)
    if fields is None:
        return None
    schedule = build_crontab(fields)
    if not isinstance(schedule, dict):
        return None
    minutes, hours = sorted(schedule["minute"]), sorted(schedule["hour"])
    times = sorted(h * 60 + m for h in hours for m in minutes)
    if not times:
        return None
    if len(times) == 1:
        every_day = (
            len(schedule["day_of_week"]) == 7
            and len(schedule["day_of_month"]) == 31
            and len(schedule["month_of_year"]) == 12
        )
        return 86400.0 if every_day else None
    gaps = [b - a for a, b in itertools.pairwise(times)]
    gaps.append(times[0] + 1440 - times[-1])
    return float(min(gaps) * 60)


def build_crontab(fields: dict[str, Any]) -> dict[str, set[int]] | str:
    """Celery's own expansion of crontab fields, or the error Celery raises for them."""
    from celery.schedules import crontab

    try:
        schedule = crontab(**{k: _as_celery(v) for k, v in fields.items()})
    except Exception as exc:  # Celery raises ValueError, TypeError, ParseException...
        return celery_error(exc)
    return {name: set(getattr(schedule, name)) for name in CRONTAB_FIELDS}


def celery_error(exc: BaseException) -> str:
    """Celery's error message on one line, without the final period."""
    text = " ".join(str(exc).split()).rstrip(".")
    return text or type(exc).__name__


def _as_celery(value: Any) -> Any:
    """Evaluated literals as Celery receives them (a set literal evaluates to a frozenset)."""
    if isinstance(value, frozenset):
        return set(value)
    return value


def humanize(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{number_text(seconds)} s" if isinstance(seconds, int) else f"{seconds:g} s"


# --------------------------------------------------------------------------- crontab calls
def is_crontab_callee(model: ProjectModel, summary: ModuleSummary, func: cst.BaseExpression) -> bool:
    """``crontab`` resolved to Celery's (through aliases and project re-exports)."""
    qualname = model.qualname_of(summary, func)
    if qualname is None or not qualname.endswith("crontab"):
        return False
    if qualname in CRONTAB_CALLS:
        return True
    symbol = model.symbol_of(summary, func)
    return isinstance(symbol, External) and symbol.qualname in CRONTAB_CALLS


def call_fields(call: cst.Call) -> dict[str, cst.Arg] | None:
    """The crontab fields a call gives, by name; None when a splat hides some."""
    fields: dict[str, cst.Arg] = {}
    position = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is None:
            if position >= len(CRONTAB_FIELDS):
                return None
            fields[CRONTAB_FIELDS[position]] = arg
            position += 1
        elif arg.keyword.value in CRONTAB_FIELDS:
            fields[arg.keyword.value] = arg
    return fields


def literal(model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression) -> Resolved:
    """A fully known value (no unknown element inside)."""
    try:
        value = evaluate(model, summary, expr)
    except NotEvaluable:
        return Unknown("computed")
    if contains_unknown(value):
        return Unknown("partly computed")
    return Known(value)


def other_scheduler_possible(model: ProjectModel) -> bool:
    """Beat may use another scheduler than Celery's: ``beat_scheduler`` set to another class
    or unreadable, or a scheduler package mentioned in the code (``-S`` on the command line)."""

    def compute() -> bool:
        value = model.project_setting("beat_scheduler")
        if not isinstance(value, Known):
            return True
        if isinstance(value.value, str) and value.value not in DEFAULT_SCHEDULERS:
            return True
        for file in model.files.values():
            data = file.read()
            if data is not None and OTHER_SCHEDULERS.search(data):
                return True
        return False

    return per_model(model, "other_scheduler_possible", compute)


# --------------------------------------------------------------------------- time zone
def timezone_unset(model: ProjectModel) -> str | None:
    """The zone Celery falls back to ('UTC' or 'the host's local time') when no app sets
    ``timezone`` (nor ``TIME_ZONE``, which Celery also reads); None when it may be set."""

    def compute() -> str | None:
        apps = model.default_apps()
        if not apps:
            return None
        for app in apps:
            if not _unset(model, app):
                return None
        utc = model.project_setting("enable_utc")
        if not isinstance(utc, Known):
            return None
        return "UTC" if utc.value else "the host's local time"

    return per_model(model, "timezone_unset", compute)


def _unset(model: ProjectModel, app: App) -> bool:
    source = app.source
    if source is not None and source.django:
        # Django always has TIME_ZONE (default 'America/Chicago'), and Celery reads it.
        return False
    if any(w.key == "TIME_ZONE" for w in app.preconf):
        return False
    if source is not None and "TIME_ZONE" in source.writes:
        return False
    value = model.setting(app, "timezone")
    return isinstance(value, Known) and value.origin.default and value.value is None
