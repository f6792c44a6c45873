from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...project.limits import is_number, seconds
from ...project.retries import (
    BROAD,
    SOFT_TIME_LIMIT,
    handler_label,
    handler_raises,
)
from ...project.values import Known
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst

    from ...project.retries import Handler
else:
    from ..._lazy_libcst import cst

if TYPE_CHECKING:
    from ...api import TaskView

TASK_HEAD = "from celery import shared_task\n\n@shared_task(soft_time_limit=60)\ndef f():\n"


def _ends_task(handler: Handler) -> bool:
    """The handler's last statement is ``return``: the task stops at its soft limit."""
    body = handler.body
    statements = body.body if isinstance(body, cst.IndentedBlock) else [body]
    last = statements[-1] if statements else None
    if isinstance(last, cst.SimpleStatementLine):
        return bool(last.body) and isinstance(last.body[-1], cst.Return)
    if isinstance(last, cst.SimpleStatementSuite):
        return bool(last.body) and isinstance(last.body[-1], cst.Return)
    return False


class SwallowedSoftTimeLimit(Rule):
    """
    ## What it does
    Checks for broad exception handlers that swallow `SoftTimeLimitExceeded` in tasks
    with a soft time limit. The task's effective `soft_time_limit` must be known and set
    (on the task, its base classes or `task_soft_time_limit`); the handler is a bare
    `except:`, `except BaseException:` or `except Exception:` that does not raise again
    and is not preceded, in the same `try`, by a handler of `SoftTimeLimitExceeded`
    (`celery.exceptions` or `billiard.exceptions`). A handler whose last statement is
    `return` is not flagged, nor a `try` that is the last statement of the task: the
    task then stops at its soft limit, which is the point.

    ## Why is this bad?
    `SoftTimeLimitExceeded` derives from `Exception`. A broad handler catches it like
    any error, logs it and carries on: the task keeps running past its soft limit
    until the hard limit kills the process without cleanup, which is what the soft
    limit was there to prevent.

    ## Example
    ```python
    @app.task(soft_time_limit=60, time_limit=90)
    def sync(account_id):
        for page in pages(account_id):
            try:
                store(page)
            except Exception:
                log.exception("page failed")
    ```

    ## Use instead
    ```python
    from celery.exceptions import SoftTimeLimitExceeded

    @app.task(soft_time_limit=60, time_limit=90)
    def sync(account_id):
        for page in pages(account_id):
            try:
                store(page)
            except SoftTimeLimitExceeded:
                raise
            except Exception:
                log.exception("page failed")
    ```

    ## References
    - Celery, *Tasks*: `soft_time_limit`; *Workers guide*: time limits
    """

    CODE = "CEL208"
    NAME = "swallowed-soft-time-limit"
    MESSAGE = "`{handler}` in task '{task}' (soft limit {limit}, {origin}) catches `SoftTimeLimitExceeded` and does not re-raise: the task runs on until the hard kill"
    FIX_TITLE = "handle `SoftTimeLimitExceeded` first or re-raise"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            TASK_HEAD + "    try:\n        work()\n    except Exception:\n        log()\n        raise\n",
            note="handlers that re-raise",
        ),
        Valid(
            "from celery import shared_task\nfrom celery.exceptions import SoftTimeLimitExceeded\n\n"
            "@shared_task(soft_time_limit=60)\ndef f():\n    try:\n        work()\n"
            "    except SoftTimeLimitExceeded:\n        cleanup()\n    except Exception:\n        log()\n",
            note="SoftTimeLimitExceeded handled first",
        ),
        Valid(
            "from celery import shared_task\nfrom billiard.exceptions import SoftTimeLimitExceeded as Soft\n\n"
            "@shared_task(soft_time_limit=60)\ndef f():\n    try:\n        work()\n"
            "    except (Soft, KeyError):\n        cleanup()\n    except BaseException:\n        log()\n",
            note="billiard's class under an alias, in a tuple",
        ),
        Valid(
            TASK_HEAD + "    try:\n        work()\n    except ValueError:\n        log()\n",
            note="a specific exception",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    try:\n        work()\n    except Exception:\n        log()\n",
            note="no soft limit",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(bind=True, soft_time_limit=60)\ndef f(self):\n    try:\n        work()\n    except Exception as exc:\n        self.retry(exc=exc)\n",
            note="retrying raises Retry",
        ),
        Valid(
            TASK_HEAD
            + "    def helper():\n        try:\n            work()\n        except Exception:\n            pass\n    helper()\n",
            note="a nested function is not the task body",
        ),
        Valid(
            "from celery import shared_task\n\nclass Exception(BaseException):\n    pass\n\n@shared_task(soft_time_limit=60)\ndef f():\n    try:\n        work()\n    except Exception:\n        pass\n",
            note="a project class that shadows the builtin",
        ),
        Valid(
            "def f():\n    try:\n        work()\n    except Exception:\n        pass\n",
            note="not a task",
        ),
        Valid(
            TASK_HEAD
            + "    try:\n        work()\n    except Exception as exc:\n        log(exc)\n        return None\n",
            note="a handler that ends the task",
        ),
        Valid(
            TASK_HEAD + "    prepare()\n    try:\n        work()\n    except Exception:\n        log()\n",
            note="the try is the task's last statement",
        ),
    ]
    INVALID = [
        Invalid(
            TASK_HEAD + "    try:\n        work()\n    except Exception:\n        log()\n    finish()\n",
            line=7,
            column=5,
        ),
        Invalid(
            TASK_HEAD + "    try:\n        work()\n    except:\n        pass\n    finish()\n",
            line=7,
            column=5,
            note="bare",
        ),
        Invalid(
            TASK_HEAD
            + "    for item in items():\n        try:\n            work(item)\n        except Exception:\n            if item.optional:\n                return\n            continue\n",
            line=8,
            column=9,
            note="a loop goes on to the next item",
        ),
        Invalid(
            TASK_HEAD
            + "    try:\n        work()\n    except (ValueError, BaseException) as exc:\n        log(exc)\n    finish()\n",
            line=7,
            column=5,
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_soft_time_limit=120)\n\n@app.task\ndef f():\n    try:\n        work()\n    except Exception:\n        pass\n    finish()\n",
            line=8,
            column=5,
            message_contains="task_soft_time_limit in tasks.py",
            note="soft limit from Celery() keyword arguments",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import Limited\n\n@shared_task(base=Limited)\ndef f():\n    try:\n        work()\n    except Exception:\n        pass\n    finish()\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass Limited(Task):\n    soft_time_limit = 50\n"
            },
            line=8,
            column=5,
            note="base class in another module",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    try:\n        work()\n    except Exception:\n        pass\n    finish()\n",
            path="orders/tasks.py",
            files={
                "proj/settings.py": "CELERY_TASK_SOFT_TIME_LIMIT = 300\n",
                "proj/celery.py": (
                    "import os\nfrom celery import Celery\n"
                    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
                    "app = Celery('proj')\n"
                    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
                ),
            },
            line=7,
            column=5,
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            "from celery import Celery\nfrom celery.exceptions import SoftTimeLimitExceeded\napp = Celery('proj')\n\nclass Sync(app.Task):\n    soft_time_limit = 30\n\n    def run(self):\n        try:\n            work()\n        except Exception:\n            pass\n        except SoftTimeLimitExceeded:\n            cleanup()\n        finish()\n",
            line=11,
            column=9,
            note="class-based task; the specific handler comes too late",
        ),
    ]

    def __init__(self, context: object) -> None:
        super().__init__(context)  # type: ignore[arg-type]
        self._limits: dict[int, tuple[Known | None, str | None]] = {}

    def _task_facts(self, task: TaskView) -> tuple[Known | None, str | None]:
        key = id(task.node)
        if key not in self._limits:
            limit = task.option("soft_time_limit")
            known = limit if isinstance(limit, Known) and is_number(limit.value) and limit.value > 0 else None
            self._limits[key] = (known, task.bound_parameter if known is not None else None)
        return self._limits[key]

    def visit_Try(self, node: cst.Try) -> None:
        self._check(node, node.handlers)

    def visit_TryStar(self, node: cst.TryStar) -> None:
        self._check(node, node.handlers)

    def _check(self, statement: cst.Try | cst.TryStar, handlers: Sequence[Handler]) -> None:
        project = self.project
        task = project.current_task()
        if task is None or task.body is None:
            return
        body = task.body.body
        if isinstance(body, cst.IndentedBlock) and body.body and body.body[-1] is statement:
            return  # the task's last statement: after the handler the task ends anyway
        limit, self_name = self._task_facts(task)
        if limit is None:
            return
        for handler in handlers:
            if project.handler_names(handler, SOFT_TIME_LIMIT):
                return
            if project.handler_catches(handler, BROAD):
                if not handler_raises(handler, self_name) and not _ends_task(handler):
                    self.report(
                        handler,
                        self.message(
                            handler=handler_label(handler),
                            task=task.label,
                            limit=seconds(limit.value),
                            origin=limit.origin,
                        ),
                    )
                return
