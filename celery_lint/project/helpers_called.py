"""The project functions task code calls: helpers whose bodies run as part of the task.

Rules about task code (non-idempotent updates, waiting on results, sleeping, large return
values) look into them too. A call is followed only when its callee is known for certain
and is plain project code that runs when called:

* a module-level function, by name or through a module (``bump()``, ``stats.bump()``,
  imported, aliased or re-exported);
* a method when the receiver's class is known: ``self.m()``/``cls.m()`` in a method of a
  project class, ``Counter().m()``, a local name bound only to ``Counter(...)``, or
  ``Counter.m()``; looked up in the class, then its project bases (an installed base
  class before the method's class may define it: not followed).

A name a function binds only by ``from module import name`` in its own body counts as
that module's name. Not followed: other local names (a parameter, a nested function), test code, tasks and task hook
methods (they are checked as task code already), ``async`` functions, functions with
another decorator than ``staticmethod``/``classmethod``/``transaction.atomic`` (a
decorator may replace the function), and anything the task only passes along
(``pool.map(helper, items)``): only direct calls.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .entities import AttrOf, ClassSym, External, FunctionSym, Symbol
from .files import resolve_positions
from .helper_texts import Reach, absolute_module, def_line_of, may_define, may_reach
from .hooks import task_hooks
from .scan import dotted_name
from .scopes import Binding, Scope, scope_of

if TYPE_CHECKING:
    import libcst as cst

    from .files import SourceFile
    from .model import ProjectModel
    from .scan import ModuleSummary
else:
    from .._lazy_libcst import cst

MAX_DEPTH = 3
"""How many calls deep task code is followed (task -> a() -> b() -> c())."""

# Decorators that leave the function as it is: calling it runs its body.
_TRANSPARENT = frozenset({"staticmethod", "classmethod"})
_TRANSPARENT_QUALIFIED = frozenset({"django.db.transaction.atomic"})
# Bases that define no method a project class could mean.
_PLAIN_BASES = frozenset({"builtins.object", "abc.ABC", "typing.Generic", "typing.Protocol"})
_MAX_BASES = 20
_BUILTINS = frozenset(dir(builtins))


@dataclass(eq=False)
class Helper:
    """A project function (or method) that a call in task code runs."""

    summary: ModuleSummary
    node: cst.FunctionDef
    klass: cst.ClassDef | None = None

    @property
    def label(self) -> str:
        """``bump()``, or ``Counter.bump()`` for a method."""
        name = self.node.name.value
        return f"{self.klass.name.value}.{name}()" if self.klass is not None else f"{name}()"


def called_helper(
    model: ProjectModel,
    summary: ModuleSummary,
    stack: Sequence[cst.FunctionDef],
    call: cst.Call,
    reach: Reach | None = None,
) -> Helper | None:
    """The project function ``call`` runs, ``call`` being in the innermost function of
    ``stack`` (the enclosing functions, outermost first) in the module ``summary``; None
    when it is not known for certain or is not followed (see the module's docstring)."""
    memo: dict[tuple[int, Reach | None], tuple[cst.Call, Helper | None]] = model.memo("helpers-called", dict)
    key = (id(call), reach)
    found = memo.get(key)
    if found is None:
        # The call is kept with its entry, so its id is not reused while the entry lives.
        found = memo[key] = (call, _callee(model, summary, stack, call, reach))
    return found[1]


def _callee(
    model: ProjectModel,
    summary: ModuleSummary,
    stack: Sequence[cst.FunctionDef],
    call: cst.Call,
    reach: Reach | None,
) -> Helper | None:
    func = call.func
    if isinstance(func, cst.Attribute):
        klass = _receiver_class(model, summary, stack, func.value, func.attr.value, reach)
        if klass is not None:
            return _method(model, klass, func.attr.value, reach)
    return _helper_of(model, _symbol(model, summary, stack, func, reach=reach), reach)


def _symbol(
    model: ProjectModel,
    summary: ModuleSummary,
    stack: Sequence[cst.FunctionDef],
    expr: cst.BaseExpression,
    kind: bytes = b"def",
    method: str | None = None,
    reach: Reach | None = None,
) -> Symbol | None:
    """What a dotted name means where ``stack`` ends: a module-level name, or a name the
    enclosing functions bind only by ``from module import name`` (Django code imports
    inside functions to avoid import cycles). ``kind``: what it should be, ``def`` (a
    function or method) or ``class``; a module whose text cannot hold one, or cannot reach
    ``reach`` (:func:`may_reach`), is not parsed."""
    dotted = dotted_name(expr)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    qualname = model.qualname_of(summary, expr)
    if qualname is None and head in _BUILTINS:
        return None
    owner = _owner(model, stack, head)
    if owner is not None:
        # Bound in the function: followed only when bound by ``from module import`` alone.
        bindings = _scope(model, owner).assigned(head)
        if not bindings or any(binding.kind != "other" for binding in bindings):
            return None
        target = _imported_in(bindings, summary.file)
        qualname = (f"{target}.{rest}" if rest else target) if target is not None else None
    if qualname is None or not may_define(model, qualname, kind, method, reach):
        return None
    return model.resolve(qualname)


def _owner(model: ProjectModel, stack: Sequence[cst.FunctionDef], name: str) -> cst.FunctionDef | None:
    """The innermost enclosing function that binds ``name``; None for a module-level name."""
    for func in reversed(stack):
        scope = _scope(model, func)
        if name in scope.globals:
            return None
        if scope.binds(name) and name not in scope.nonlocals:
            return func
    return None


def _imported_in(bindings: list[Binding], file: SourceFile) -> str | None:
    """The qualified name a function-local name stands for when every one of its
    ``bindings`` is one and the same ``from module import ...``."""
    sources = {binding.imported for binding in bindings}
    if len(sources) != 1:
        return None
    source = sources.pop()
    if source is None:
        return None
    level, module, name = source
    absolute = absolute_module(file, level, module)
    return f"{absolute}.{name}" if absolute is not None else None


def _scope(model: ProjectModel, func: cst.FunctionDef) -> Scope:
    scopes: dict[int, tuple[cst.FunctionDef, Scope]] = model.memo("helpers-called-scopes", dict)
    found = scopes.get(id(func))
    if found is None:
        found = scopes[id(func)] = (func, scope_of(func))
    return found[1]


def _helper_of(model: ProjectModel, symbol: Symbol | None, reach: Reach | None) -> Helper | None:
    if isinstance(symbol, FunctionSym):
        return _eligible(model, Helper(symbol.summary, symbol.node), reach)
    if isinstance(symbol, AttrOf) and isinstance(symbol.base, ClassSym) and len(symbol.attrs) == 1:
        # ``Counter.bump(...)``: a static or class method, or an instance method called unbound.
        return _method(model, symbol.base, symbol.attrs[0], reach)
    return None


def _receiver_class(
    model: ProjectModel,
    summary: ModuleSummary,
    stack: Sequence[cst.FunctionDef],
    receiver: cst.BaseExpression,
    method: str,
    reach: Reach | None,
) -> ClassSym | None:
    """The project class of ``receiver`` when it is certain: ``self``/``cls`` of a method,
    ``Counter(...)``, or a local name bound only to ``Counter(...)``."""
    if isinstance(receiver, cst.Call):
        return _instantiated(model, summary, stack, receiver, method, reach)
    if not isinstance(receiver, cst.Name) or not stack:
        return None
    innermost = stack[-1]
    scope = _scope(model, innermost)
    name = receiver.value
    if name == scope.first_param and name in ("self", "cls") and name not in scope.bindings:
        klass = _enclosing_class(model, summary, innermost)
        if klass is not None and not any(
            _decorator_name(model, summary, d.decorator) == "staticmethod" for d in innermost.decorators
        ):
            return ClassSym(summary, klass)
        return None
    bindings = scope.assigned(name)
    if not bindings:
        return None
    classes = [
        _instantiated(model, summary, stack, b.value, method, reach)
        if b.kind == "assign" and isinstance(b.value, cst.Call)
        else None
        for b in bindings
    ]
    first = classes[0]
    if first is None or any(c is None or c.node is not first.node for c in classes):
        return None
    return first


def _instantiated(
    model: ProjectModel,
    summary: ModuleSummary,
    stack: Sequence[cst.FunctionDef],
    call: cst.Call,
    method: str,
    reach: Reach | None,
) -> ClassSym | None:
    """The project class ``call`` instantiates, when its module may define ``method``."""
    symbol = _symbol(model, summary, stack, call.func, b"class", method, reach)
    return symbol if isinstance(symbol, ClassSym) else None


def _enclosing_class(
    model: ProjectModel, summary: ModuleSummary, func: cst.FunctionDef
) -> cst.ClassDef | None:
    """The class whose body defines ``func`` directly."""

    def compute() -> tuple[ModuleSummary, dict[int, cst.ClassDef]]:
        owners: dict[int, cst.ClassDef] = {}
        for klass in summary.all_classes:
            body = klass.body
            if isinstance(body, cst.IndentedBlock):
                for item in body.body:
                    if isinstance(item, cst.FunctionDef):
                        owners[id(item)] = klass
        return summary, owners

    # The summary is kept with its entry, so its id is not reused while the entry lives.
    return model.memo(("helpers-called-methods", id(summary)), compute)[1].get(id(func))


def _method(model: ProjectModel, klass: ClassSym, name: str, reach: Reach | None) -> Helper | None:
    """``name`` looked up on a project class: its own body, then its bases in order."""
    pending = [klass]
    seen: set[int] = set()
    while pending and len(seen) < _MAX_BASES:
        current = pending.pop(0)
        if id(current.node) in seen:
            continue
        seen.add(id(current.node))
        body = current.node.body
        if not isinstance(body, cst.IndentedBlock):
            return None
        for item in body.body:
            if isinstance(item, cst.FunctionDef) and item.name.value == name:
                return _eligible(model, Helper(current.summary, item, current.node), reach)
        if name in _class_level_names(current.node):
            return None
        for arg in current.node.bases:
            if arg.keyword is not None:
                continue
            base = model.symbol_of(current.summary, arg.value)
            if isinstance(base, ClassSym):
                pending.append(base)
            elif not (isinstance(base, External) and base.qualname in _PLAIN_BASES) and not (
                isinstance(arg.value, cst.Name) and arg.value.value == "object"
            ):
                # An installed or unknown class may define the method first.
                return None
    return None


def _class_level_names(klass: cst.ClassDef) -> set[str]:
    names: set[str] = set()
    body = klass.body
    if not isinstance(body, cst.IndentedBlock):
        return names
    for statement in body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign):
                    names.update(t.target.value for t in small.targets if isinstance(t.target, cst.Name))
                elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    names.add(small.target.value)
    return names


def _decorator_name(model: ProjectModel, summary: ModuleSummary, decorator: cst.BaseExpression) -> str | None:
    target = decorator.func if isinstance(decorator, cst.Call) else decorator
    if isinstance(target, cst.Name) and target.value in _TRANSPARENT and not summary.defines(target.value):
        return target.value
    return model.qualname_of(summary, target)


def _eligible(model: ProjectModel, helper: Helper, reach: Reach | None) -> Helper | None:
    node = helper.node
    if helper.summary.is_test or node.asynchronous is not None:
        return None
    if reach is not None and not may_reach(model, helper.summary.file, node.name.value, reach):
        return None
    for decorator in node.decorators:
        name = _decorator_name(model, helper.summary, decorator.decorator)
        if name not in _TRANSPARENT and name not in _TRANSPARENT_QUALIFIED:
            return None
    if id(node) in _task_code(model):
        return None
    return helper


def _task_code(model: ProjectModel) -> dict[int, Any]:
    """Functions the rules already check as task code: task bodies and hook methods."""

    def compute() -> dict[int, Any]:
        code: dict[int, Any] = {id(task.body): task for task in model.tasks if task.body is not None}
        code.update({id(task.node): task for task in model.tasks})
        code.update(task_hooks(model))
        return code

    return model.memo("helpers-called-task-code", compute)


def line_of(
    model: ProjectModel, summary: ModuleSummary, node: cst.CSTNode, function: cst.FunctionDef | None = None
) -> int:
    """The 1-based line ``node`` of ``summary``'s tree starts on. With ``function`` (the
    function holding it, defined once in the module's text), positions are computed for that
    function alone, not for the whole module."""
    if function is not None:
        line = _line_in_function(model, summary, node, function)
        if line is not None:
            return line
    positions = model.memo(
        ("helpers-called-positions", id(summary.tree)), lambda: (summary, resolve_positions(summary.tree))
    )
    code_range = positions[1].get(node)
    return code_range.start.line if code_range is not None else 1


def _line_in_function(
    model: ProjectModel, summary: ModuleSummary, node: cst.CSTNode, function: cst.FunctionDef
) -> int | None:
    def_line = def_line_of(model, summary.file, function.name.value)
    if def_line is None:
        return None
    positions = model.memo(
        ("helpers-called-function-positions", id(function)),
        lambda: (function, resolve_positions(cst.Module(body=[function]))),
    )[1]
    name, found = positions.get(function.name), positions.get(node)
    if name is None or found is None:
        return None
    return def_line + int(found.start.line) - int(name.start.line)
