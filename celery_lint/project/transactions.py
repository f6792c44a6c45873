"""Django transactions as the project uses them: which context managers open
``transaction.atomic()``, and which task classes defer their sending to the commit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .entities import FunctionSym
from .hooks import task_classes
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst

    from .model import ProjectModel, Task
    from .scan import ModuleSummary
else:
    from .._lazy_libcst import cst

ATOMIC = frozenset({"django.db.transaction.atomic"})
CONTEXT_MANAGER = frozenset({"contextlib.contextmanager"})
METHOD_DECORATOR = frozenset({"django.utils.decorators.method_decorator"})
"""``method_decorator(atomic)`` turns a function decorator into a method decorator; on a
class with ``name="post"`` it decorates that method."""
HTTP_HANDLERS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "trace"})
"""``View.http_method_names``: the handlers ``View.dispatch`` calls, inside whatever
decorates ``dispatch``."""


def method_decorated(call: cst.Call) -> list[cst.BaseExpression]:
    """The decorators ``method_decorator(...)`` applies: its first argument (or
    ``decorator=``), a list or tuple of them counting one by one."""
    given = next(
        (a.value for a in call.args if a.keyword is not None and a.keyword.value == "decorator"), None
    )
    if given is None and call.args and call.args[0].keyword is None and not call.args[0].star:
        given = call.args[0].value
    if given is None:
        return []
    if isinstance(given, (cst.List, cst.Tuple)):
        return [e.value for e in given.elements if isinstance(e, cst.Element)]
    return [given]


def decorated_methods(call: cst.Call, klass: cst.ClassDef) -> list[cst.FunctionDef]:
    """The methods of ``klass`` a class decorator ``method_decorator(d, name="post")``
    wraps in ``d``: the named method, and for ``name="dispatch"`` also the HTTP handlers
    (``get``, ``post``, ...) ``View.dispatch`` calls inside it."""
    name = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "name"), None)
    if not isinstance(name, cst.SimpleString):
        return []
    target = name.evaluated_value
    names = {target} | (HTTP_HANDLERS if target == "dispatch" else set())
    return [
        item for item in klass.body.body if isinstance(item, cst.FunctionDef) and item.name.value in names
    ]


class _YieldInAtomic(Walker):
    """Whether a generator function yields inside ``with transaction.atomic()`` (its own body only)."""

    def __init__(self, model: ProjectModel, summary: ModuleSummary) -> None:
        super().__init__()
        self.model = model
        self.summary = summary
        self.atomic = 0
        self.found = False
        self.depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.depth += 1
        return self.depth == 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def _opens(self, node: cst.With) -> bool:
        for item in node.items:
            expr = item.item
            func = expr.func if isinstance(expr, cst.Call) else expr
            if self.model.qualname_of(self.summary, func) in ATOMIC:
                return True
        return False

    def visit_With(self, node: cst.With) -> None:
        if self._opens(node):
            self.atomic += 1

    def leave_With(self, original_node: cst.With) -> None:
        if self._opens(original_node):
            self.atomic -= 1

    def visit_Yield(self, node: cst.Yield) -> None:
        if self.atomic:
            self.found = True


def is_atomic_wrapper(model: ProjectModel, summary: ModuleSummary, func: cst.BaseExpression) -> bool:
    """``func`` (in ``summary``'s module) is a project ``@contextmanager`` that yields inside
    ``transaction.atomic()``: code in its ``with`` block runs in the transaction."""
    symbol = model.symbol_of(summary, func)
    if not isinstance(symbol, FunctionSym):
        return False

    def compute() -> bool:
        assert isinstance(symbol, FunctionSym)
        decorated = any(
            model.qualname_of(symbol.summary, d.decorator) in CONTEXT_MANAGER for d in symbol.node.decorators
        )
        finder = _YieldInAtomic(model, symbol.summary)
        if decorated:
            finder.walk(symbol.node)
        return finder.found

    return model.memo(("atomic-wrapper", id(symbol.node)), compute)


def defers_to_commit(model: ProjectModel, task: Task) -> bool:
    """A task class of the project whose ``delay``/``apply_async`` waits for the commit itself."""
    for klass in task_classes(model, task):
        for item in klass.node.body.body:
            if (
                isinstance(item, cst.FunctionDef)
                and item.name.value in ("delay", "apply_async")
                and "on_commit" in cst.Module([]).code_for_node(item)
            ):
                return True
    return False
