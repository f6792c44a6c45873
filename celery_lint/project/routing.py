"""``task_routes`` entries and ``task_queues`` names, as Celery's router reads them.

Celery (``celery/app/routes.py``) turns ``task_routes`` into a list of routers: a dict,
a list of dicts, or a list/tuple of ``(pattern, route)`` pairs becomes a ``MapRoute``;
a string names a router class or function; anything else is called. In a map, a
compiled regex key is matched with ``re.match``, a key containing ``*`` with
``fnmatch.translate``, and any other key only by equality. A route value is a dict
(``{'queue': 'q', ...}``) or a bare queue name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .evaluate import NotEvaluable, evaluate
from .model import ConfigWrite, ProjectModel, ValueSym, config_writes_in
from .scan import ModuleSummary, dotted_name
from .tasknames import per_model
from .values import UNKNOWN_ELEMENT, CallValue, Known, Resolved, Unknown

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst


@dataclass
class Route:
    pattern: str | None
    """The key as a string; None for a computed key or a compiled regex."""
    key_node: cst.CSTNode
    value: cst.BaseExpression
    summary: ModuleSummary


def setting_writes(model: ProjectModel, setting: str) -> list[ConfigWrite]:
    """Every write of ``setting`` outside test code, once each."""

    def compute() -> list[ConfigWrite]:
        writes: list[ConfigWrite] = []
        for app in model.apps:
            writes.extend(w for w in app.preconf if w.setting == setting)
            if app.source is not None:
                for write_list in app.source.writes.values():
                    writes.extend(w for w in write_list if w.setting == setting)
        for summary in list(model.parsed_summaries()):
            if not summary.is_test:
                writes.extend(w for w in config_writes_in(model, summary.file) if w.setting == setting)
        seen: set[int] = set()
        unique = []
        for write in writes:
            if write.value is None or write.summary.is_test or id(write.node) in seen:
                continue
            seen.add(id(write.node))
            unique.append(write)
        return unique

    return per_model(model, f"writes:{setting}", compute)


def all_routes(model: ProjectModel) -> list[Route]:
    def compute() -> list[Route]:
        routes: list[Route] = []
        seen: set[int] = set()
        for write in setting_writes(model, "task_routes"):
            assert write.value is not None
            for route in _routers(model, write.summary, write.value, 0):
                if id(route.key_node) not in seen:
                    seen.add(id(route.key_node))
                    routes.append(route)
        return routes

    return per_model(model, "routes", compute)


def routes_in(model: ProjectModel, summary: ModuleSummary) -> list[Route]:
    path = str(summary.file.path)
    return [r for r in all_routes(model) if str(r.summary.file.path) == path]


def _resolve(
    model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression
) -> tuple[ModuleSummary, cst.BaseExpression]:
    if isinstance(expr, (cst.Name, cst.Attribute)):
        symbol = model.symbol_of(summary, expr)
        if isinstance(symbol, ValueSym) and symbol.expr is not None:
            return symbol.summary, symbol.expr
    return summary, expr


def _routers(
    model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression, depth: int
) -> list[Route]:
    """The setting's value: one router, or a list/tuple of routers."""
    if depth > 3:
        return []
    summary, expr = _resolve(model, summary, expr)
    if isinstance(expr, (cst.Dict, cst.Call)):
        return _map(model, summary, expr)
    if isinstance(expr, (cst.List, cst.Tuple)):
        routes: list[Route] = []
        for element in expr.elements:
            if isinstance(element, cst.StarredElement):
                continue
            inner_summary, inner = _resolve(model, summary, element.value)
            if isinstance(inner, (cst.Dict, cst.Call)):
                routes.extend(_map(model, inner_summary, inner))
            elif isinstance(inner, (cst.List, cst.Tuple)):
                routes.extend(_pairs(model, inner_summary, inner))
        return routes
    return []


def _map(model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression) -> list[Route]:
    routes: list[Route] = []
    if isinstance(expr, cst.Dict):
        for element in expr.elements:
            if isinstance(element, cst.DictElement):
                routes.append(
                    Route(_pattern(model, summary, element.key), element.key, element.value, summary)
                )
    elif isinstance(expr, cst.Call) and dotted_name(expr.func) == "dict":
        for arg in expr.args:
            if arg.keyword is not None:
                routes.append(Route(arg.keyword.value, arg.keyword, arg.value, summary))
    return routes


def _pairs(model: ProjectModel, summary: ModuleSummary, expr: cst.List | cst.Tuple) -> list[Route]:
    """``[('proj.tasks.*', {'queue': 'q'}), ...]``: a MapRoute built from pairs."""
    routes: list[Route] = []
    for element in expr.elements:
        pair = element.value
        if isinstance(pair, (cst.Tuple, cst.List)) and len(pair.elements) == 2:
            key, value = pair.elements[0].value, pair.elements[1].value
            routes.append(Route(_pattern(model, summary, key), key, value, summary))
    return routes


def _pattern(model: ProjectModel, summary: ModuleSummary, key: cst.BaseExpression) -> str | None:
    try:
        value = evaluate(model, summary, key)
    except NotEvaluable:
        return None
    return value if isinstance(value, str) else None


def route_queue(
    model: ProjectModel, summary: ModuleSummary, value: cst.BaseExpression
) -> tuple[str, cst.CSTNode] | None:
    """The queue name a route value sends to: ``'q'`` or ``{'queue': 'q'}``."""
    summary, value = _resolve(model, summary, value)
    if isinstance(value, (cst.SimpleString, cst.ConcatenatedString)):
        name = value.evaluated_value
        return (name, value) if isinstance(name, str) else None
    if isinstance(value, cst.Dict):
        for element in value.elements:
            if (
                isinstance(element, cst.DictElement)
                and isinstance(element.key, cst.SimpleString)
                and element.key.evaluated_value == "queue"
            ):
                try:
                    name = evaluate(model, summary, element.value)
                except NotEvaluable:
                    return None
                return (name, element) if isinstance(name, str) else None
    if isinstance(value, cst.Call) and dotted_name(value.func) == "dict":
        for arg in value.args:
            if arg.keyword is not None and arg.keyword.value == "queue":
                try:
                    name = evaluate(model, summary, arg.value)
                except NotEvaluable:
                    return None
                return (name, arg) if isinstance(name, str) else None
    return None


# --------------------------------------------------------------------------- queues
def declared_queues(model: ProjectModel) -> Resolved:
    """Names in ``task_queues`` (Known set), Known(None) when unset, Unknown when unreadable."""

    def compute() -> Resolved:
        value = model.project_setting("task_queues")
        if not isinstance(value, Known) or value.value is None:
            return value
        names = queue_names(value.value)
        if names is None:
            return Unknown("task_queues cannot be read")
        return Known(names, value.origin)

    return per_model(model, "declared_queues", compute)


def queue_names(value: Any) -> set[str] | None:
    """Queue names of a ``task_queues`` value; None when one element cannot be read."""
    if value is None:
        return set()
    if isinstance(value, dict):
        if UNKNOWN_ELEMENT in value:
            return None
        return {k for k in value if isinstance(k, str)} if all(isinstance(k, str) for k in value) else None
    if not isinstance(value, (list, tuple, set, frozenset)):
        return None
    names: set[str] = set()
    for item in value:
        if not isinstance(item, CallValue) or item.qualname.rsplit(".", 1)[-1] != "Queue":
            return None
        name = item.args[0] if item.args else item.kwargs.get("name")
        if not isinstance(name, str):
            return None
        names.add(name)
        alias = item.kwargs.get("alias")
        if alias is UNKNOWN_ELEMENT:
            return None
        if isinstance(alias, str):
            names.add(alias)
    return names


# --------------------------------------------------------------------------- where tasks name a queue
def task_queue_sites(model: ProjectModel) -> list[tuple[tuple[str, cst.CSTNode], str, str]]:
    """Where each task's effective ``queue`` option is written: ((file path, node), queue, where)."""

    def compute() -> list[tuple[tuple[str, cst.CSTNode], str, str]]:
        sites: list[tuple[tuple[str, cst.CSTNode], str, str]] = []
        seen: set[int] = set()
        by_relpath = {f.relpath: str(f.path) for f in model.files.values()}
        for task in model.tasks:
            if task.is_test:
                continue
            value = model.task_option(task, "queue")
            if not isinstance(value, Known) or not isinstance(value.value, str):
                continue
            origin = value.origin
            if origin.node is None or origin.path is None or id(origin.node) in seen:
                continue
            path = by_relpath.get(origin.path)
            if path is None:
                continue
            seen.add(id(origin.node))
            text = origin.description
            where = "on the task" if "decorator" in text or "wrapper" in text else f"({text})"
            sites.append(((path, origin.node), value.value, where))
        return sites

    return per_model(model, "task_queue_sites", compute)
