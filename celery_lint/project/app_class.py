"""Configuration an app's own Celery subclass writes through ``self.conf`` (and loads with
``self.config_from_object``).

``class ProjCelery(Celery): def __init__(self, *a, **k): super().__init__(*a, **k);
self.conf.task_acks_late = True`` configures every instance: what ``__init__`` (and the
methods it calls, up the project's base classes) writes applies unconditionally. A method
only the project calls (``app.init_app(settings)``) writes when it is called: always for a
module-level call, maybe for a call in a branch or a function (the setting is then unknown,
never guessed), never when nothing calls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .apps import AppRegistry, computed_config_from_object, function_locals, mentions
from .entities import App, ClassSym
from .scan import ConfOp, ModuleSummary, dotted_name
from .symbols import CELERY_CLASS

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

_WRITES = ("update", "setdefault", "attr", "item", "config_from_object")


@dataclass(frozen=True)
class _Method:
    owner: int
    """Index of the defining class in the app's class chain (0: the app's own class)."""
    klass: ClassSym
    node: cst.FunctionDef


def app_class_chain(model: AppRegistry, app: App) -> list[ClassSym]:
    """The app's project classes, most derived first, when the app is a Celery subclass."""
    if app.call is None:
        return []
    symbol = model.symbol_of(app.summary, app.call.func)
    if not isinstance(symbol, ClassSym) or not model._class_derives(symbol, CELERY_CLASS):
        return []
    chain: list[ClassSym] = []
    while isinstance(symbol, ClassSym) and len(chain) < 20:
        chain.append(symbol)
        bases = [model.symbol_of(symbol.summary, b.value) for b in symbol.node.bases if b.keyword is None]
        symbol = next((b for b in bases if isinstance(b, ClassSym)), None)
    return chain


def _find(chain: list[ClassSym], name: str, start: int) -> _Method | None:
    for index in range(start, len(chain)):
        for stmt in chain[index].node.body.body:
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
                return _Method(index, chain[index], stmt)
    return None


def _self_name(method: cst.FunctionDef) -> str | None:
    params = method.params.params
    return params[0].name.value if params else None


def _calls(node: cst.CSTNode, conditional: bool) -> Iterator[tuple[cst.Call, bool]]:
    """Calls under ``node`` with 'may not run' (in a branch, a loop, a nested function)."""
    for child in node.children:
        nested = conditional or isinstance(
            child,
            (
                cst.If,
                cst.For,
                cst.While,
                cst.Try,
                cst.IfExp,
                cst.BooleanOperation,
                cst.FunctionDef,
                cst.Lambda,
            ),
        )
        if isinstance(child, cst.Call):
            yield child, conditional
        yield from _calls(child, nested)


def _callees(chain: list[ClassSym], method: _Method) -> Iterator[tuple[_Method, bool]]:
    """Methods of the chain ``method`` calls on its instance: ``self.x()``, ``super().x()``."""
    receiver = _self_name(method.node)
    for call, conditional in _calls(method.node.body, False):
        func = call.func
        if not isinstance(func, cst.Attribute):
            continue
        target: _Method | None = None
        if receiver is not None and dotted_name(func.value) == receiver:
            target = _find(chain, func.attr.value, 0)
        elif isinstance(func.value, cst.Call) and dotted_name(func.value.func) == "super":
            target = _find(chain, func.attr.value, method.owner + 1)
        elif (
            isinstance(func.value, cst.Name)
            and call.args
            and receiver is not None
            and dotted_name(call.args[0].value) == receiver
        ):
            # ``Base.__init__(self, ...)``: the named base's method.
            for index in range(method.owner + 1, len(chain)):
                if chain[index].node.name.value == func.value.value:
                    target = _find(chain, func.attr.value, index)
                    break
        if target is not None:
            yield target, conditional


def _project_calls(
    model: AppRegistry, app: App, summaries: list[ModuleSummary], chain: list[ClassSym]
) -> Iterator[tuple[_Method, bool]]:
    """Methods of the app's class the project calls on the app (``app.init_app(...)``)."""
    names = {
        stmt.name.value
        for klass in chain
        for stmt in klass.node.body.body
        if isinstance(stmt, cst.FunctionDef) and not stmt.name.value.startswith("__")
    }
    for summary in summaries:
        data = summary.file.read() or b""
        if not any(b"." + name.encode() + b"(" in data for name in names):
            continue
        yield from _module_calls(model, app, summary, chain, names, summary.tree, False, False)


def _module_calls(
    model: AppRegistry,
    app: App,
    summary: ModuleSummary,
    chain: list[ClassSym],
    names: set[str],
    node: cst.CSTNode,
    conditional: bool,
    in_class: bool,
) -> Iterator[tuple[_Method, bool]]:
    for child in node.children:
        if isinstance(child, cst.ClassDef) and any(child is klass.node for klass in chain):
            continue  # calls inside the app's own class are followed from __init__
        nested = conditional or isinstance(
            child,
            (
                cst.If,
                cst.For,
                cst.While,
                cst.Try,
                cst.IfExp,
                cst.BooleanOperation,
                cst.FunctionDef,
                cst.Lambda,
            ),
        )
        if (
            isinstance(child, cst.Call)
            and isinstance(child.func, cst.Attribute)
            and child.func.attr.value in names
            and model.app_of_expr(summary, child.func.value) is app
        ):
            target = _find(chain, child.func.attr.value, 0)
            if target is not None:
                yield target, conditional
        yield from _module_calls(model, app, summary, chain, names, child, nested, in_class)


def _running_methods(
    model: AppRegistry, app: App, summaries: list[ModuleSummary], chain: list[ClassSym]
) -> tuple[dict[int, tuple[_Method, bool]], dict[int, tuple[_Method, bool]]]:
    """Methods that run when the app is made (from ``__init__``) and those the project
    calls later, each with 'may not run'."""

    def follow(start: list[tuple[_Method, bool]], into: dict[int, tuple[_Method, bool]]) -> None:
        pending = list(start)
        while pending:
            method, conditional = pending.pop()
            known = into.get(id(method.node))
            if known is not None and (known[1] is False or conditional):
                continue
            into[id(method.node)] = (method, conditional)
            pending.extend((callee, conditional or maybe) for callee, maybe in _callees(chain, method))

    at_init: dict[int, tuple[_Method, bool]] = {}
    init = _find(chain, "__init__", 0)
    if init is not None:
        follow([(init, False)], at_init)
    later: dict[int, tuple[_Method, bool]] = {}
    follow(list(_project_calls(model, app, summaries, chain)), later)
    for key in at_init:
        later.pop(key, None)
    return at_init, later


def _method_ops(method: _Method) -> list[ConfOp]:
    receiver = _self_name(method.node)
    if receiver is None:
        return []
    inside = {id(node) for node in _all_nodes(method.node.body)}
    return [
        op
        for op in method.klass.summary.conf_ops
        if op.kind in _WRITES and id(op.node) in inside and dotted_name(op.receiver) == receiver
    ]


def _all_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    for child in node.children:
        yield child
        yield from _all_nodes(child)


def apply_class_writes(model: AppRegistry, app: App, summaries: list[ModuleSummary], at_init: bool) -> None:
    """Add to ``app`` the ``self.conf`` writes of its class: those ``__init__`` reaches
    (``at_init``: before the module's own writes), else those of methods the project calls."""
    chain = app_class_chain(model, app)
    if not chain:
        return
    init_methods, called_methods = _running_methods(model, app, summaries, chain)
    methods = init_methods if at_init else called_methods
    written = {w.setting or w.key for w in app.preconf}
    for method, conditional in methods.values():
        local_names = function_locals(method.node)
        for op in _method_ops(method):
            if op.kind == "config_from_object" and op.call is not None:
                if (
                    conditional
                    or op.conditional
                    or not at_init
                    or any(mentions(arg.value, local_names) for arg in op.call.args)
                ):
                    # ``self.config_from_object(settings)`` of a parameter, in a branch, or in
                    # a method called later: which object, and whether it replaces what the
                    # module set, cannot be known.
                    op = computed_config_from_object(op)
                model._apply_conf_op(app, method.klass.summary, op)
                continue
            before = len(app.preconf)
            model._apply_conf_op(app, method.klass.summary, op)
            for write in app.preconf[before:]:
                if write.value is not None and mentions(write.value, local_names):
                    write.value = None  # computed from the method's parameters or locals
                # A later call's write races the module's own writes of the setting: unknown.
                clash = not at_init and (write.setting or write.key) in written
                if conditional or op.conditional or clash:
                    write.conditional = True
