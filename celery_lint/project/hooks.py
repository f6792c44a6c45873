"""Task hook methods: code of a task's class that Celery runs around every execution.

A worker calls ``__call__`` (which runs ``run``), ``before_start`` before the body, and
``on_success``/``on_failure``/``on_retry`` then ``after_return`` after it, on every
delivery of the message, redeliveries and retries included. Rules about task bodies
check these methods as task code. The classes are the project classes of a task's
class chain: a class-based task's own class, the ``base=`` class of its decorator, the
app's ``task_cls``, and their project base classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .entities import ClassSym, OptionExpr

if TYPE_CHECKING:
    import libcst as cst

    from .files import SourceFile
    from .model import ProjectModel, Task
    from .scan import ModuleSummary
else:
    from .._lazy_libcst import cst

HOOKS = ("__call__", "before_start", "on_success", "on_failure", "on_retry", "after_return")
"""``celery.app.task.Task`` methods the worker calls on every execution (``trace.py``)."""

_MAX_CLASSES = 30


@dataclass(eq=False)
class Hook:
    """One hook method of a project task class, with the tasks it runs for."""

    summary: ModuleSummary
    node: cst.FunctionDef
    klass: cst.ClassDef
    tasks: list[Task] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.node.name.value

    @property
    def class_name(self) -> str:
        return self.klass.name.value


def task_classes(model: ProjectModel, task: Task) -> list[ClassSym]:
    """The project classes of ``task``'s class chain, nearest first: its own class (a
    class-based task), its ``base=`` class, the ``task_cls`` of its apps, and their
    project base classes."""
    pending: list[ClassSym] = []

    def add(summary: ModuleSummary, expr: cst.BaseExpression, by_type: bool = True) -> None:
        # ``by_type``: Celery derives from it with ``type()`` (``base=``, ``task_cls``),
        # not in a ``class`` statement.
        if isinstance(expr, cst.SimpleString):
            target = expr.evaluated_value
            symbol = model.resolve(target.replace(":", ".")) if isinstance(target, str) else None
        elif by_type:
            symbol = model.derived_class(summary, expr)
        else:
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
        if app.task_cls is not None:
            add(*app.task_cls)
    found: list[ClassSym] = []
    seen: set[int] = set()
    while pending and len(seen) < _MAX_CLASSES:
        klass = pending.pop(0)
        if id(klass.node) in seen:
            continue
        seen.add(id(klass.node))
        found.append(klass)
        for arg in klass.node.bases:
            if arg.keyword is None:
                add(klass.summary, arg.value, by_type=False)
    return found


def task_hooks(model: ProjectModel) -> dict[int, Hook]:
    """Every hook method of a project task class, by ``id`` of its ``def``."""
    return model.memo("task-hooks", lambda: _task_hooks(model))


def _task_hooks(model: ProjectModel) -> dict[int, Hook]:
    hooks: dict[int, Hook] = {}
    for task in model.tasks:
        for klass in task_classes(model, task):
            for item in klass.node.body.body:
                if not isinstance(item, cst.FunctionDef) or item.name.value not in HOOKS:
                    continue
                if item is task.body:
                    continue
                hook = hooks.get(id(item))
                if hook is None:
                    hook = hooks[id(item)] = Hook(klass.summary, item, klass.node)
                if task not in hook.tasks:
                    hook.tasks.append(task)
    return hooks


def hooks_in(model: ProjectModel, file: SourceFile) -> dict[int, Hook]:
    """The hook methods defined in ``file``, by ``id`` of their ``def``."""
    return {key: hook for key, hook in task_hooks(model).items() if hook.summary.file is file}
