from __future__ import annotations

from ..base import Invalid, Rule, Valid


class ImplicitTaskName(Rule):
    """
    ## What it does
    Checks for tasks without an explicit name: no `name=` in the task decorator, or
    no `name` attribute on a class-based task. Celery then registers the task as
    `<module>.<function>`, after the import path of its module.

    ## Why is this bad?
    The name is what travels in every message and what beat entries and routes
    refer to. With an implicit name, moving the function to another module, renaming
    it, or changing how the module is imported (`src/` layout, a different working
    directory) changes the name: messages already queued under the old name are
    rejected as unregistered, and schedules and routes silently stop matching.

    ## Example
    ```python
    @shared_task
    def send_invoice(invoice_id): ...
    ```

    ## Use instead
    ```python
    @shared_task(name="billing.send_invoice")
    def send_invoice(invoice_id): ...
    ```

    ## References
    - Celery, *Tasks*: names ("explicit names")
    """

    CODE = "CEL710"
    NAME = "implicit-task-name"
    MESSAGE = "task '{task}' has no explicit `name=`: moving or renaming it changes its name and strands queued messages, beat entries and routes"
    FIX_TITLE = "set `name=`"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import shared_task\n\n\n@shared_task(name='billing.send_invoice')\ndef send(invoice_id):\n    pass\n"
        ),
        Valid(
            "import os\nfrom celery import shared_task\n\n\n@shared_task(name=os.environ['NAME'])\ndef send(invoice_id):\n    pass\n",
            note="computed name is still explicit",
        ),
        Valid(
            "from celery import shared_task\n\n\n@shared_task(**OPTIONS)\ndef send(invoice_id):\n    pass\n",
            note="a splat may carry the name",
        ),
        Valid(
            "from celery import Task\n\n\nclass Export(Task):\n    name = 'reports.export'\n\n    def run(self):\n        pass\n"
        ),
        Valid(
            "from celery import shared_task\n\n\n@shared_task\ndef send(invoice_id):\n    pass\n",
            path="tests/test_tasks.py",
        ),
        Valid(
            "from celery import Task\nfrom lib.tasks import NamedBase\n\n\nclass Export(NamedBase):\n    def run(self):\n        pass\n",
            note="a base class outside the project may set the name",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n\n@shared_task\ndef send(invoice_id):\n    pass\n",
            line=5,
            column=1,
            message_contains="'tasks.send'",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\n\n@app.task(bind=True, max_retries=3)\ndef send(self, invoice_id):\n    pass\n",
            line=6,
            column=1,
        ),
        Invalid(
            "from celery import Task\n\n\nclass Export(Task):\n    def run(self):\n        pass\n",
            line=4,
            column=1,
            note="class-based task",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import Named\n\n\n@shared_task(base=Named)\ndef send(invoice_id):\n    pass\n",
            files={"proj/base.py": "from celery import Task\n\n\nclass Named(Task):\n    name = 'ignored'\n"},
            line=6,
            column=1,
            note="a base class name is overridden by the decorator",
        ),
    ]

    def check(self) -> None:
        for task in self.project.tasks():
            if task.name_is_implicit:
                self.report(task.node, self.message(task=task.label))
