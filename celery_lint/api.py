"""The typed view of the project model that rule packs use.

A rule reads the project through ``self.project`` (a :class:`ProjectView`): the tasks of
the file being checked and of the whole project, each task's effective options, and the
effective configuration. Values are :class:`Known` (with the place they came from) or
:class:`Unknown`; a rule should stay silent on Unknown, as the built-in rules do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .project.values import Known, Origin, Resolved, Unknown

if TYPE_CHECKING:
    import libcst as cst

    from .context import FileContext
    from .project.model import Task

__all__ = ["Known", "Origin", "ProjectView", "Resolved", "TaskView", "Unknown"]


@dataclass(frozen=True, eq=False)
class TaskView:
    """One Celery task as the analyzer sees it."""

    _task: Task
    _context: FileContext

    @property
    def name(self) -> Resolved:
        """Celery's name for the task (explicit ``name=`` or ``module.function``)."""
        return self._context.model.task_name(self._task)

    @property
    def function_name(self) -> str:
        return self._task.function_name

    @property
    def module(self) -> str:
        """The dotted name the task's module is imported under."""
        file = self._task.summary.file
        return file.import_name or file.module

    @property
    def path(self) -> str:
        """The file, relative to the project root."""
        return self._task.summary.file.relpath

    @property
    def node(self) -> cst.FunctionDef | cst.ClassDef:
        """The ``def`` or ``class`` node; report task-level findings here."""
        return self._task.node

    @property
    def body(self) -> cst.FunctionDef | None:
        """The function that runs (the task function, or ``run`` of a class-based task)."""
        return self._task.body

    @property
    def is_class_based(self) -> bool:
        return self._task.is_class

    def option(self, name: str) -> Resolved:
        """The effective value of a task option (``acks_late``, ``queue``, ``time_limit``...),
        resolved in Celery's order: annotations, decorator, base classes, the app's task
        class, the app configuration, Celery's default."""
        return self._context.model.task_option(self._task, name)


class ProjectView:
    """What a rule may ask about the project while it checks one file."""

    def __init__(self, context: FileContext) -> None:
        self._context = context

    @property
    def path(self) -> str:
        """The file being checked, relative to the project root."""
        return self._context.file.relpath

    @property
    def module(self) -> str:
        file = self._context.file
        return file.import_name or file.module

    @property
    def is_test_code(self) -> bool:
        return self._context.file.is_test

    def tasks(self) -> list[TaskView]:
        """The tasks defined in the file being checked."""
        return [TaskView(t, self._context) for t in self._context.model.tasks_in(self._context.file)]

    def all_tasks(self) -> list[TaskView]:
        """Every task of the project."""
        return [TaskView(t, self._context) for t in self._context.model.tasks]

    def current_task(self) -> TaskView | None:
        """During the visit: the task whose body encloses the node being visited."""
        task = self._context.current_task
        return TaskView(task, self._context) if task is not None else None

    def setting(self, name: str) -> Resolved:
        """The effective value of a Celery setting (new lowercase name) for the project's
        apps: Known only when every production app agrees."""
        return self._context.model.project_setting(name)

    def qualified_name(self, expression: cst.BaseExpression) -> str | None:
        """``celery.shared_task`` for ``st`` after ``from celery import shared_task as st``."""
        return self._context.model.qualname_of(self._context.summary, expression)
