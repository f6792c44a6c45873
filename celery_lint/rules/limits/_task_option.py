"""The shape shared by rules that flag a task option left at Celery's unset default."""

from __future__ import annotations

from typing import ClassVar

from ..base import Rule
from ..support import task_label, unset_by_default, where_looked


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
                )
