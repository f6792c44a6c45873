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
            if unset_by_default(value):
                self.report(
                    task.node,
                    self.message(task=task.label, where=where_looked(task, self.OPTION)),
                    fix=self.fix_for(task),
                )

    def fix_value(self, task: TaskView) -> Any:
        """The value the fix gives ``OPTION`` on this task; None: no fix."""
        return None

    def fix_for(self, task: TaskView) -> Fix | None:
        value = self.fix_value(task)
        if value is None:
            return None
        return task_options_fix(self.project, task, [(self.OPTION, literal(value))], self.AUTOFIX_TITLE or "")
