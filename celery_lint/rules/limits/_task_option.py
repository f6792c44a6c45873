"""The shape shared by rules that flag a task option left at Celery's unset default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ...fixes import literal
from ..base import Rule
from ..support import task_options_fix, unset_by_default, where_looked

if TYPE_CHECKING:
    from ...api import TaskView
    from ...fixes import Fix


class UnsetTaskOptionRule(Rule):
    """A task whose effective ``OPTION`` is unset everywhere in the project."""

    OPTION: ClassVar[str]
    SKIP_TEST_CODE = True

    def check(self) -> None:
        project = self.project
        for task in project.tasks():
            value = task.option(self.OPTION)
            if unset_by_default(value) and self.concerns(task):
                self.report(
                    task.node,
                    self.message(
                        task=task.label, where=where_looked(task, self.OPTION), **self.details(task)
                    ),
                    fix=self.fix_for(task),
                )

    def concerns(self, task: TaskView) -> bool:
        """Whether the unset option is this rule's finding (another rule may own the cause)."""
        return True

    def details(self, task: TaskView) -> dict[str, str]:
        """More message fields for this task."""
        return {}

    def fix_options(self, task: TaskView) -> list[tuple[str, Any]]:
        """The options the fix sets; by default ``OPTION`` to :meth:`fix_value`."""
        value = self.fix_value(task)
        return [] if value is None else [(self.OPTION, value)]

    def fix_value(self, task: TaskView) -> Any:
        """The value the fix gives ``OPTION`` on this task; None: no fix."""
        return None

    def fix_for(self, task: TaskView) -> Fix | None:
        options = self.fix_options(task)
        if not options:
            return None
        edits = [(name, literal(value)) for name, value in options]
        return task_options_fix(self.project, task, edits, self.AUTOFIX_TITLE or "")
