"""The engine's single walk: every node goes to the rules that asked for its type."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..context import FileContext
from ..project.walk import Walker
from ..rules.base import Rule

if TYPE_CHECKING:
    import libcst as cst

    from ..project.hooks import Hook
    from ..project.model import Task
else:
    from .._lazy_libcst import cst


class BatchedVisitor:
    """Dispatches every node of a module to the rules that want it, in one walk."""

    def __init__(
        self,
        rules: list[Rule],
        context: FileContext,
        task_bodies: dict[int, Task],
        hook_bodies: dict[int, Hook] | None = None,
    ) -> None:
        self.visit: dict[str, list[Callable[[Any], Any]]] = {}
        self.leave: dict[str, list[Callable[[Any], Any]]] = {}
        for rule in rules:
            for attr in type(rule).visitor_methods():
                kind, _, node_name = attr.partition("_")
                table = self.visit if kind == "visit" else self.leave
                table.setdefault(node_name, []).append(getattr(rule, attr))
        self.context = context
        self.task_bodies = task_bodies
        self.hook_bodies = hook_bodies or {}
        self.visit_by_type: dict[type, list[Callable[[Any], Any]]] = {}
        self.leave_by_type: dict[type, list[Callable[[Any], Any]]] = {}
        self.function_type = cst.FunctionDef

    def walk(self, tree: cst.Module) -> None:
        DispatchWalker(self).walk(tree)

    @property
    def needed(self) -> bool:
        return bool(self.visit or self.leave)


class DispatchWalker(Walker):
    """Walks one module for a :class:`BatchedVisitor`, keeping its function stack and
    current task up to date for the rules."""

    def __init__(self, batch: BatchedVisitor) -> None:
        self.batch = batch

    def on_visit(self, node: cst.CSTNode) -> bool:
        batch = self.batch
        node_type = type(node)
        if node_type is batch.function_type:
            batch.context.function_stack.append(node)  # type: ignore[arg-type]
            batch.context.current_task = batch.task_bodies.get(id(node))
            batch.context.current_hook = batch.hook_bodies.get(id(node))
        callbacks = batch.visit_by_type.get(node_type)
        if callbacks is None:
            callbacks = batch.visit_by_type[node_type] = batch.visit.get(node_type.__name__, [])
        for callback in callbacks:
            callback(node)
        return True

    def on_leave(self, node: cst.CSTNode) -> None:
        batch = self.batch
        node_type = type(node)
        callbacks = batch.leave_by_type.get(node_type)
        if callbacks is None:
            callbacks = batch.leave_by_type[node_type] = batch.leave.get(node_type.__name__, [])
        for callback in callbacks:
            callback(node)
        if node_type is batch.function_type:
            stack = batch.context.function_stack
            stack.pop()
            batch.context.current_task = batch.task_bodies.get(id(stack[-1])) if stack else None
            batch.context.current_hook = batch.hook_bodies.get(id(stack[-1])) if stack else None
