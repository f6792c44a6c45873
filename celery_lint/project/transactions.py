"""Django transactions as the project uses them: which context managers open
``transaction.atomic()``, and which task classes defer their sending to the commit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .entities import ClassSym, FunctionSym, OptionExpr
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst

    from .model import ProjectModel, Task
    from .scan import ModuleSummary
else:
    from .._lazy_libcst import cst

ATOMIC = frozenset({"django.db.transaction.atomic"})
CONTEXT_MANAGER = frozenset({"contextlib.contextmanager"})


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
    pending: list[ClassSym] = []

    def add(summary: ModuleSummary, expr: cst.BaseExpression) -> None:
        symbol = model.symbol_of(summary, expr)
        if isinstance(symbol, ClassSym):
            pending.append(symbol)

    if isinstance(task.node, cst.ClassDef):
        pending.append(ClassSym(task.summary, task.node))
    elif task.decorator is not None:
        base = task.decorator.options.get("base")
        if isinstance(base, OptionExpr):
            add(base.summary, base.expr)
    for app in model.task_apps(task):
        if app.task_cls is not None and not isinstance(app.task_cls[1], cst.SimpleString):
            add(*app.task_cls)
    seen: set[int] = set()
    while pending and len(seen) < 30:
        klass = pending.pop()
        if id(klass.node) in seen:
            continue
        seen.add(id(klass.node))
        for item in klass.node.body.body:
            if (
                isinstance(item, cst.FunctionDef)
                and item.name.value in ("delay", "apply_async")
                and "on_commit" in cst.Module([]).code_for_node(item)
            ):
                return True
        for arg in klass.node.bases:
            add(klass.summary, arg.value)
    return False
