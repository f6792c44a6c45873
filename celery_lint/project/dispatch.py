"""The engine's single walk: every node goes to the rules that asked for its type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from ..engine import _BatchedVisitor


class DispatchWalker(Walker):
    """Walks one module for a :class:`~celery_lint.engine._BatchedVisitor`, keeping its
    function stack and current task up to date for the rules."""

    def __init__(self, batch: _BatchedVisitor) -> None:
        self.batch = batch

    def on_visit(self, node: cst.CSTNode) -> bool:
        batch = self.batch
        node_type = type(node)
        if node_type is batch.function_type:
            batch.context.function_stack.append(node)  # type: ignore[arg-type]
            batch.context.current_task = batch.task_bodies.get(id(node))
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
