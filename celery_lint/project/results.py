"""Where the project may read a task's result, so keeping it is not waste (CEL501).

A result is read when the task runs in a chord's header (the callback waits on it) or in
a group whose result is kept (a group applied by a bare ``job.apply_async()`` statement
drops it), when the caller picks the task id (``apply_async(task_id=...)``: the id is
kept to look the result up later), or when the ``AsyncResult`` of ``delay()`` /
``apply_async()`` is kept (assigned, returned, passed on) rather than dropped (a bare
statement, or the body of a ``lambda`` handed to ``transaction.on_commit``). Test code
does not count. The scan reads only modules that mention a task next to a signature or
enqueue method.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .callsites import CHORD, ENQUEUE_METHODS, GROUP, SIGNATURE_METHODS
from .literals import literal_alternation
from .options import task_for_expression
from .walk import children

if TYPE_CHECKING:
    import libcst as cst

    from .options import TaskOptions
    from .scan import ModuleSummary
else:
    from .._lazy_libcst import cst


def tasks_with_read_results(model: TaskOptions) -> frozenset[int]:
    """ids of the task nodes whose result the project may read."""
    return model.memo("tasks_with_read_results", lambda: _scan(model))


def _scan(model: TaskOptions) -> frozenset[int]:
    names = sorted({task.function_name for task in model.tasks})
    if not names:
        return frozenset()
    methods = sorted(SIGNATURE_METHODS | ENQUEUE_METHODS)
    # Files that gain such a call must invalidate a cached model.
    model.patterns.update(f"{name}.{method}(".encode() for name in names for method in methods)
    mention = re.compile(
        rb"\b(?:"
        + literal_alternation(name.encode() for name in names)
        + rb")\s*\.\s*(?:"
        + b"|".join(method.encode() for method in methods)
        + rb")\s*\("
    )
    found: set[int] = set()
    for file in list(model.files.values()):
        if file.is_test:
            continue
        data = file.read()
        if not data or mention.search(data) is None:
            continue
        summary = model.summary_for(file)
        if summary is not None:
            _Reads(model, summary, found).visit(summary.tree, in_canvas=False, dropped=False)
    return frozenset(found)


class _Reads:
    def __init__(self, model: TaskOptions, summary: ModuleSummary, found: set[int]) -> None:
        self.model = model
        self.summary = summary
        self.found = found
        self.dropped_groups: set[int] = set()

    def visit(self, node: cst.CSTNode, in_canvas: bool, dropped: bool) -> None:
        if isinstance(node, (cst.Module, cst.FunctionDef)):
            self.dropped_groups |= self._dropped_groups(node)
        if isinstance(node, cst.Expr):
            # A bare ``t.delay(...)`` statement drops its AsyncResult.
            self.visit(node.value, in_canvas, dropped=True)
            return
        if isinstance(node, cst.Lambda):
            # ``on_commit(lambda: t.delay(x))``: the callback's return value is dropped.
            self.visit(node.body, in_canvas, dropped=True)
            return
        if isinstance(node, cst.Call):
            self._call(node, in_canvas, dropped)
            qualname = self.model.qualname_of(self.summary, node.func)
            canvas = (
                in_canvas or qualname in CHORD or (qualname in GROUP and id(node) not in self.dropped_groups)
            )
            self.visit(node.func, in_canvas, dropped=False)
            for arg in node.args:
                self.visit(arg, canvas, dropped=False)
            return
        for child in children(node):  # LibCST's ``children`` re-visits the node: far slower
            self.visit(child, in_canvas, dropped=False)

    def _call(self, call: cst.Call, in_canvas: bool, dropped: bool) -> None:
        func = call.func
        if not isinstance(func, cst.Attribute):
            return
        method = func.attr.value
        receiver = func.value
        if method in SIGNATURE_METHODS and in_canvas:
            self._mark(receiver)
        elif method in ENQUEUE_METHODS:
            if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute):
                # ``t.s(x).apply_async()``: the signature's task.
                if receiver.func.attr.value not in SIGNATURE_METHODS:
                    return
                receiver = receiver.func.value
            keeps_id = any(arg.keyword is not None and arg.keyword.value == "task_id" for arg in call.args)
            if keeps_id or not dropped:
                self._mark(receiver)

    def _mark(self, expr: cst.BaseExpression) -> None:
        task = task_for_expression(self.model, self.summary, expr)
        if task is not None:
            self.found.add(id(task.node))

    def _dropped_groups(self, scope: cst.Module | cst.FunctionDef) -> set[int]:
        """``group(...)`` calls of ``scope`` whose result is dropped: applied by a bare
        statement (``group(...).delay()``), or bound to a name that is used only so
        (``job = group(...)`` ... ``job.apply_async()``)."""
        applied: list[cst.BaseExpression] = []
        bound: dict[str, list[cst.Call]] = {}
        loads: dict[str, int] = {}

        def walk(node: cst.CSTNode) -> None:
            for child in children(node):
                if isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
                    continue
                if isinstance(child, cst.Expr) and isinstance(child.value, cst.Call):
                    func = child.value.func
                    if isinstance(func, cst.Attribute) and func.attr.value in ENQUEUE_METHODS:
                        applied.append(func.value)
                    elif not isinstance(func, cst.Attribute):
                        applied.append(func)
                if (
                    isinstance(child, cst.Assign)
                    and len(child.targets) == 1
                    and isinstance(child.targets[0].target, cst.Name)
                    and isinstance(child.value, cst.Call)
                    and self.model.qualname_of(self.summary, child.value.func) in GROUP
                ):
                    bound.setdefault(child.targets[0].target.value, []).append(child.value)
                    walk(child.value)
                    continue
                if isinstance(child, cst.Name):
                    loads[child.value] = loads.get(child.value, 0) + 1
                walk(child)

        walk(scope.body if isinstance(scope, cst.FunctionDef) else scope)
        dropped = {id(expr) for expr in applied if isinstance(expr, cst.Call)}
        applied_names: dict[str, int] = {}
        for expr in applied:
            if isinstance(expr, cst.Name):
                applied_names[expr.value] = applied_names.get(expr.value, 0) + 1
        for name, calls in bound.items():
            if applied_names.get(name, 0) and applied_names[name] == loads.get(name, 0):
                dropped.update(id(call) for call in calls)
        return dropped
