from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..base import Invalid, Valid
from ._task_option import UnsetTaskOptionRule

if TYPE_CHECKING:
    from ...api import TaskView

CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


class MissingAcksLate(UnsetTaskOptionRule):
    """
    ## What it does
    Checks for tasks whose effective `acks_late` is left at Celery's default (early
    acknowledgement): set neither on the task, its base classes, the app's task class,
    nor by `task_acks_late`. An explicit `acks_late=False` is a decision and is not
    flagged.

    ## Why is this bad?
    With early acknowledgement the message is removed from the queue before the task
    runs. A worker killed mid-task (deploy, OOM, node loss) loses the work for good.
    Late acknowledgement redelivers it; the task must then be idempotent.

    ## Example
    ```python
    @shared_task
    def charge(order_id): ...
    ```

    ## Use instead
    ```python
    @shared_task(acks_late=True)
    def charge(order_id): ...
    ```
    or `task_acks_late = True` in the configuration.

    ## Fix safety
    Unsafe: redelivery runs a task twice unless it is idempotent, and a late
    acknowledgement brings its own settings to review (`reject_on_worker_lost`, the
    prefetch multiplier, the broker's visibility timeout: CEL206, CEL207, CEL209). The fix adds
    `acks_late=True` where the task declares its options, in the same places as
    CEL201's fix (decorator keyword, wrapper that passes `**kwargs` on, call form, class
    attribute).

    ## References
    - Celery, *Tasks*: `acks_late`; *Configuration*: `task_acks_late`
    """

    CODE = "CEL205"
    NAME = "missing-acks-late"
    MESSAGE = "task '{task}' acknowledges before it runs ({where}): a lost worker loses the message"
    FIX_TITLE = "set `acks_late=True`"
    OPTION = "acks_late"
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Add `acks_late=True` to the task decorator"

    VALID = [
        Valid("from celery import shared_task\n\n@shared_task(acks_late=True)\ndef f():\n    pass\n"),
        Valid(
            "from celery import shared_task\n\n@shared_task(acks_late=False)\ndef f():\n    pass\n",
            note="an explicit choice",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
            path="orders/tasks.py",
            files={"proj/settings.py": "CELERY_TASK_ACKS_LATE = True\n", "proj/celery.py": CELERY_PY},
            note="a global setting in Django settings",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(task_acks_late=True)\n\n@app.task\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_annotations = {'*': {'acks_late': True}}\n\n@app.task\ndef f():\n    pass\n",
            note="task_annotations",
        ),
        Valid(
            "from proj.base import make_task\n\n@make_task()\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import shared_task\n\ndef make_task(**kwargs):\n    return shared_task(acks_late=True, **kwargs)\n"
            },
            note="a project wrapper that sets it",
        ),
        Valid(
            "from celery import shared_task\nfrom vendor.tasks import VendorTask\n\n@shared_task(base=VendorTask)\ndef f():\n    pass\n",
            note="a base class from an unanalysed package",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
            line=4,
            column=1,
            fixed="from celery import shared_task\n\n@shared_task(acks_late=True)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
            path="orders/tasks.py",
            files={
                "proj/settings.py": "CELERY_TASK_ACKS_LATE = True\n",
                "proj/celery.py": CELERY_PY.replace(", namespace='CELERY'", ""),
            },
            line=4,
            column=1,
            note="a CELERY_-prefixed setting that the app reads without the namespace is ignored",
            fixed="from celery import shared_task\n\n@shared_task(acks_late=True)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from proj.base import make_task\n\n@make_task(queue='q')\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import shared_task\n\ndef make_task(**kwargs):\n    return shared_task(time_limit=5, **kwargs)\n"
            },
            line=4,
            column=1,
            note="a wrapper that passes **kwargs on to shared_task",
            fixed="from proj.base import make_task\n\n@make_task(queue='q', acks_late=True)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from proj.base import make_task\n\n@make_task(queue='q')\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import shared_task\n\ndef make_task(queue=None, acks_late=None, **kwargs):\n    return shared_task(queue=queue, acks_late=acks_late, **kwargs)\n"
            },
            line=4,
            column=1,
            note="a wrapper parameter passed on under its own name",
            fixed="from proj.base import make_task\n\n@make_task(queue='q', acks_late=True)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from proj.base import make_task\n\n@make_task\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import shared_task\n\ndef make_task(*args, **kwargs):\n    return shared_task(*args, **kwargs)\n"
            },
            line=4,
            column=1,
            note="a wrapper used bare is called with the function: no fix",
        ),
        Invalid(
            "from celery import shared_task\n\ndef _f():\n    pass\n\nf = shared_task(bind=True)(_f)\n",
            line=3,
            column=1,
            note="the call form with options",
            fixed="from celery import shared_task\n\ndef _f():\n    pass\n\nf = shared_task(bind=True, acks_late=True)(_f)\n",
        ),
    ]

    def fix_value(self, task: TaskView) -> Any:
        return True
