from __future__ import annotations

from ...project.values import Known, Resolved
from ..base import Invalid, Rule, Valid

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


def _unhandled(reject: Resolved, retry: Resolved) -> bool:
    """``reject_on_worker_lost`` unset (None) and no 5.7 ``retry_on_worker_lost`` either."""
    return isinstance(reject, Known) and reject.value is None and isinstance(retry, Known) and not retry.value


class AcksLateWithoutRejectOnWorkerLost(Rule):
    """
    ## What it does
    Checks for late-acknowledged tasks whose `reject_on_worker_lost` is left unset. The
    effective `acks_late` is true while `reject_on_worker_lost` is unset on the task,
    its base classes and in `task_reject_on_worker_lost`, and `retry_on_worker_lost`
    (Celery 5.7) is off. When late acknowledgement comes from the app configuration,
    the finding is reported once, at `task_acks_late`.

    ## Why is this bad?
    Late acknowledgement is chosen so that work survives a worker that dies mid-task.
    But when the child process is killed (OOM killer, SIGKILL, a segfault), Celery
    acknowledges the message anyway unless `reject_on_worker_lost` is set: the task is
    marked failed with `WorkerLostError` and never runs again, the case late acks were
    meant to cover.

    ## Example
    ```python
    @app.task(acks_late=True)
    def import_feed(feed_id): ...
    ```

    ## Use instead
    ```python
    @app.task(acks_late=True, reject_on_worker_lost=True)
    def import_feed(feed_id): ...
    ```
    The message then goes back to the queue; a task that kills its worker every time
    loops, so bound it (or use `retry_on_worker_lost=True` with `max_retries`).

    ## References
    - Celery, *Configuration*: `task_reject_on_worker_lost`, `task_retry_on_worker_lost`
    - Celery, *Tasks*: `Task.acks_late`, `Task.reject_on_worker_lost`
    """

    CODE = "CEL206"
    NAME = "acks-late-without-reject-on-worker-lost"
    MESSAGE = "{subject} acknowledges late ({origin}) but `reject_on_worker_lost` is unset: a worker killed mid-task still acks the message and the work is lost"
    FIX_TITLE = "set `{fix}=True`"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import shared_task\n\n@shared_task(acks_late=True, reject_on_worker_lost=True)\ndef f():\n    pass\n"
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(acks_late=True, reject_on_worker_lost=False)\ndef f():\n    pass\n",
            note="an explicit choice",
        ),
        Valid("from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n", note="early acks"),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(task_acks_late=True, task_reject_on_worker_lost=True)\n\n@app.task\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(acks_late=True)\ndef f():\n    pass\n",
            path="orders/tasks.py",
            files={
                "proj/settings.py": "CELERY_TASK_REJECT_ON_WORKER_LOST = True\n",
                "proj/celery.py": DJANGO_CELERY_PY,
            },
            note="Django settings",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(acks_late=True, retry_on_worker_lost=True)\ndef f():\n    pass\n",
            note="Celery 5.7 retries the task instead",
        ),
        Valid(
            "from celery import shared_task\nfrom vendor.tasks import VendorTask\n\n@shared_task(base=VendorTask, acks_late=True)\ndef f():\n    pass\n",
            note="the base class may set it",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(acks_late=ACKS)\ndef f():\n    pass\n",
            note="unknown",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(acks_late=True)\ndef f():\n    pass\n",
            line=3,
            column=14,
            message_contains="acks_late on the decorator",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_acks_late = True\n\n@app.task\ndef f():\n    pass\n\n@app.task\ndef g():\n    pass\n",
            line=3,
            column=1,
            note="from the configuration: once, at the setting",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import LateTask\n\n@shared_task(base=LateTask)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass LateTask(Task):\n    acks_late = True\n"
            },
            line=5,
            column=1,
            message_contains="class LateTask",
            note="base class in another module",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=1,
            column=1,
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_acks_late=True, task_reject_on_worker_lost=None)\n",
            line=2,
            column=22,
            note="an explicit None is Celery's unset default",
        ),
        Invalid(
            "CELERY_ACKS_LATE = True\n",
            path="proj/celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"
            },
            line=1,
            column=1,
            note="old name in a config module",
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
            reject = app.setting("task_reject_on_worker_lost")
            retry = app.setting("task_retry_on_worker_lost")
            if _unhandled(reject, retry):
                reported.add(id(node))
                self.report(
                    node,
                    self.message(subject="every task", origin=acks.origin, fix="task_reject_on_worker_lost"),
                )
        for task in project.tasks():
            acks = task.option("acks_late")
            if not (isinstance(acks, Known) and acks.value) or task.option_from_configuration("acks_late"):
                continue
            reject = task.option("reject_on_worker_lost")
            retry = task.option("retry_on_worker_lost")
            if _unhandled(reject, retry):
                self.report(
                    task.option_site(acks),
                    self.message(
                        subject=f"task '{task.label}'",
                        origin=acks.origin,
                        fix="reject_on_worker_lost",
                    ),
                )
