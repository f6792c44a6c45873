from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.limits import is_number
from ...project.values import Known
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...project.values import Resolved

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


def prefetch_problem(setting_of: Callable[[str], Resolved]) -> str | None:
    """How the workers prefetch more than one message per process, or None (``setting_of``
    gives the effective settings of the apps concerned)."""
    disabled = setting_of("worker_disable_prefetch")
    if not isinstance(disabled, Known) or disabled.value:
        return None
    setting = setting_of("worker_prefetch_multiplier")
    if not isinstance(setting, Known) or not is_number(setting.value):
        return None
    value = setting.value
    if setting.origin.default:
        return f"`worker_prefetch_multiplier` is unset (Celery's default {value})"
    if value == 0:
        return f"`worker_prefetch_multiplier` is 0, unlimited ({setting.origin})"
    if value > 1:
        return f"`worker_prefetch_multiplier` is {value} ({setting.origin})"
    return None


class AcksLateWithPrefetch(Rule):
    """
    ## What it does
    Checks for late-acknowledged tasks while `worker_prefetch_multiplier` is unset or
    above 1. Celery's default multiplier is 4; 0 means unlimited and is flagged too.
    When late acknowledgement comes from the app configuration, the finding is reported
    once, at `task_acks_late`.

    ## Why is this bad?
    Late acknowledgement is the setting for long or crash-sensitive tasks. With the
    multiplier at 4 each worker process reserves four messages: a long task keeps the
    other three waiting on that worker while other workers sit idle, and they go back to
    the queue only when the worker dies. Celery's guide pairs `task_acks_late` with
    `worker_prefetch_multiplier = 1` so that a worker reserves one task per process.

    A multiplier given on the worker command line (`--prefetch-multiplier`) is not
    visible to the linter, which is why this rule is opt-in.

    ## Example
    ```python
    app.conf.task_acks_late = True
    ```

    ## Use instead
    ```python
    app.conf.task_acks_late = True
    app.conf.worker_prefetch_multiplier = 1
    ```

    ## References
    - Celery, *Optimizing*: prefetch limits, "Reserve one task at a time"
    - Celery, *Configuration*: `worker_prefetch_multiplier`
    """

    CODE = "CEL207"
    NAME = "acks-late-with-prefetch"
    MESSAGE = "{subject} acknowledges late ({origin}) while {prefetch}: each worker process reserves several messages and long tasks hold them back from idle workers"
    FIX_TITLE = "set `worker_prefetch_multiplier = 1`"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(task_acks_late=True, worker_prefetch_multiplier=1)\n\n@app.task\ndef f():\n    pass\n"
        ),
        Valid("from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n", note="early acks"),
        Valid(
            "from celery import Celery\napp = Celery('proj', worker_prefetch_multiplier=1)\n\n@app.task(acks_late=True)\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(acks_late=True)\ndef f():\n    pass\n",
            path="orders/tasks.py",
            files={
                "proj/settings.py": "CELERY_WORKER_PREFETCH_MULTIPLIER = 1\n",
                "proj/celery.py": DJANGO_CELERY_PY,
            },
            note="Django settings",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\napp.conf.worker_prefetch_multiplier = int(os.environ['PREFETCH'])\n\n@app.task(acks_late=True)\ndef f():\n    pass\n",
            note="unknown multiplier",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(worker_disable_prefetch=True)\n\n@app.task(acks_late=True)\ndef f():\n    pass\n",
            note="prefetch disabled",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(acks_late=True)\ndef f():\n    pass\n",
            line=3,
            column=14,
            message_contains="unset",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    task_acks_late=True,\n    worker_prefetch_multiplier=8,\n)\n\n@app.task\ndef f():\n    pass\n",
            line=4,
            column=5,
            message_contains="is 8",
            note="from the configuration: once, at task_acks_late",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', worker_prefetch_multiplier=0)\n\n@app.task(acks_late=True)\ndef f():\n    pass\n",
            line=4,
            column=11,
            message_contains="unlimited",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import LateTask\n\n@shared_task(base=LateTask)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass LateTask(Task):\n    acks_late = True\n"
            },
            line=5,
            column=1,
            note="base class in another module",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\nCELERY_WORKER_PREFETCH_MULTIPLIER = 4\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=1,
            column=1,
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            "CELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 2\n",
            path="proj/celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"
            },
            line=1,
            column=1,
            note="old names in a config module",
        ),
    ]

    def check(self) -> None:
        project = self.project
        reported: set[int] = set()
        for app in project.apps():
            if app.is_test:
                continue
            acks = app.setting("task_acks_late")
            node = project.node_in_file(acks)
            if node is None or id(node) in reported or not (isinstance(acks, Known) and acks.value):
                continue
            problem = prefetch_problem(app.setting)
            if problem is not None:
                reported.add(id(node))
                self.report(node, self.message(subject="every task", origin=acks.origin, prefetch=problem))
        for task in project.tasks():
            acks = task.option("acks_late")
            if not (isinstance(acks, Known) and acks.value) or task.option_from_configuration("acks_late"):
                continue
            problem = prefetch_problem(task.setting)
            if problem is not None:
                self.report(
                    task.option_site(acks),
                    self.message(subject=f"task '{task.label}'", origin=acks.origin, prefetch=problem),
                )
