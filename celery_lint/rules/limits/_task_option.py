"""The shape shared by rules that flag a task option left at Celery's unset default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ...fixes import literal
from ..base import Rule
from ..support import task_label, task_options_fix, unset_by_default, where_looked

if TYPE_CHECKING:
    from ...fixes import Fix
    from ...project.model import Task


class UnsetTaskOptionRule(Rule):
    """A task whose effective ``OPTION`` is unset everywhere in the project."""

    OPTION: ClassVar[str]
    SKIP_TEST_CODE = True

    def check(self) -> None:
        model = self.context.model
        for task in model.tasks_in(self.context.file):
            value = model.task_option(task, self.OPTION)
            if unset_by_default(value):
                self.report(
                    task.node,
                    self.MESSAGE.format(
                        task=task_label(model, task), where=where_looked(model, task, self.OPTION)
                    ),
                    fix=self.fix_for(task),
                )

    def fix_value(self, task: Task) -> Any:
        """The value the fix gives ``OPTION`` on this task; None: no fix."""
        return None

    def fix_for(self, task: Task) -> Fix | None:
        value = self.fix_value(task)
        if value is None:
            return None
        return task_options_fix(
            self.context.model, task, [(self.OPTION, literal(value))], self.FIX_TITLE or ""
        )
