"""Periodic tasks: every beat entry the project defines, in every configuration form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .entities import ConfigWrite, ValueSym
from .evaluate import NotEvaluable, evaluate
from .scan import dotted_name
from .settings import SettingsModel, config_writes_in

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from .scan import ModuleSummary


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


def beat_entries(model: SettingsModel) -> list[BeatEntry]:
    """Every beat entry the project defines, in every configuration form, test code excluded."""
    return model.memo("beat_entries", lambda: _beat_entries(model))


def _beat_entries(model: SettingsModel) -> list[BeatEntry]:
    entries: list[BeatEntry] = []
    seen: set[int] = set()
    writes: list[ConfigWrite] = []
    for app in model.apps:
        writes.extend(w for w in app.preconf if w.setting == "beat_schedule")
        if app.source is not None:
            for write_list in app.source.writes.values():
                writes.extend(w for w in write_list if w.setting == "beat_schedule" and w.value is not None)
    for summary in model.parsed_summaries():
        if summary.is_test:
            continue
        for write in config_writes_in(model, summary.file):
            if write.setting == "beat_schedule":
                writes.append(write)
    for write in writes:
        if id(write.node) in seen or write.summary.is_test:
            continue
        seen.add(id(write.node))
        value = write.value
        if isinstance(value, cst.Name):
            symbol = model.symbol_of(write.summary, value)
            if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
                entries.extend(_schedule_dict_entries(model, symbol.summary, symbol.expr))
            continue
        if isinstance(value, cst.Dict):
            entries.extend(_schedule_dict_entries(model, write.summary, value))
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


def _schedule_dict_entries(
    model: SettingsModel, summary: ModuleSummary, schedule: cst.Dict
) -> list[BeatEntry]:
    entries: list[BeatEntry] = []
    for element in schedule.elements:
        if not isinstance(element, cst.DictElement):
            continue
        try:
            name = evaluate(model, summary, element.key)
        except NotEvaluable:
            name = None
        entry_value = element.value
        if isinstance(entry_value, cst.Name):
            symbol = model.symbol_of(summary, entry_value)
            if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
                entry_value = symbol.expr
        fields: dict[str, tuple[cst.BaseExpression, cst.CSTNode]] = {}
        opaque = not isinstance(entry_value, cst.Dict)
        if isinstance(entry_value, cst.Dict):
            for field_element in entry_value.elements:
                if isinstance(field_element, cst.DictElement) and isinstance(
                    field_element.key, cst.SimpleString
                ):
                    key = field_element.key.evaluated_value
                    if isinstance(key, str):
                        fields[key] = (field_element.value, field_element)
                        continue
                opaque = True
        elif isinstance(entry_value, cst.Call) and dotted_name(entry_value.func) == "dict":
            opaque = False
            for arg in entry_value.args:
                if arg.keyword is None:
                    opaque = True
                else:
                    fields[arg.keyword.value] = (arg.value, arg)
        entries.append(
            BeatEntry(
                name if isinstance(name, str) else None, summary, element, fields, opaque, "beat_schedule"
            )
        )
    return entries
