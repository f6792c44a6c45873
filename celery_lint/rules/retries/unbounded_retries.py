from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.retries import is_self_retry, keyword
from ...project.values import Known, Resolved
from ..base import Invalid, Rule, Valid
from .autoretry_without_backoff import non_empty

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


def _element(container: cst.CSTNode, key: str) -> cst.DictElement | None:
    if isinstance(container, cst.Dict):
        for element in container.elements:
            if (
                isinstance(element, cst.DictElement)
                and isinstance(element.key, cst.SimpleString)
                and element.key.evaluated_value == key
            ):
                return element
    return None


class UnboundedRetries(Rule):
    """
    ## What it does
    Checks for `max_retries=None` on a task, in `retry_kwargs` or in a `self.retry(...)`
    call. On the task it may come from the decorator, a base class or the app's task
    class; `retry_kwargs` counts when the task has `autoretry_for`.

    The last two do not do what they say: `Task.retry()` reads `max_retries=None` as
    "use the task's `max_retries`" (`max_retries = self.max_retries if max_retries is
    None else max_retries`), so the retries still stop after the task's limit (3 by
    default). They are reported when the task's own limit is a known integer, since
    the code asks for unbounded retries and does not get them.

    A `max_retries=None` on a task without `autoretry_for` that retries only through
    `retry(...)` calls (in its body and its hook methods), each passing an integer
    `max_retries`, is bounded by those calls and is not flagged.

    ## Why is this bad?
    With `max_retries=None` a task that can never succeed (a deleted row, a revoked
    token, a bug) retries forever: the failure never reaches the error tracker, the
    messages pile up in the queue and every retry repeats its side effects. A bound,
    with backoff, turns a permanent failure into a visible one.

    ## Example
    ```python
    @app.task(bind=True, max_retries=None)
    def deliver(self, webhook_id): ...
    ```

    ## Use instead
    ```python
    @app.task(bind=True, max_retries=10, retry_backoff=True)
    def deliver(self, webhook_id): ...
    ```

    ## References
    - Celery, *Tasks*: `Task.max_retries`, `Task.retry`
    - Celery source: `Task.retry` (`celery/app/task.py`)
    """

    CODE = "CEL304"
    NAME = "unbounded-retries"
    MESSAGE = "{what}: {effect}"
    FIX_TITLE = "{fix}"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import shared_task\n\n@shared_task(bind=True, max_retries=10)\ndef f(self):\n    raise self.retry(max_retries=20)\n",
            note="any integer",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(IOError,), retry_kwargs={'max_retries': 5})\ndef f():\n    pass\n",
            note="an integer in retry_kwargs",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n", note="Celery's default 3"
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(max_retries=LIMIT)\ndef f():\n    pass\n",
            note="unknown",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(job):\n    job.retry(max_retries=None)\n",
            note="not bound: an unrelated .retry()",
        ),
        Valid(
            "from celery import shared_task\nfrom vendor.tasks import VendorTask\n\n@shared_task(bind=True, base=VendorTask)\ndef f(self):\n    raise self.retry(max_retries=None)\n",
            note="the task's limit is unknown",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(bind=True, max_retries=None)\ndef f(self, pk):\n    try:\n        work(pk)\n    except IOError as exc:\n        raise self.retry(exc=exc, max_retries=5)\n    except KeyError as exc:\n        raise self.retry(exc=exc, countdown=60, max_retries=2)\n",
            note="every retry() call passes an integer: bounded by the calls",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(\n    bind=True,\n    max_retries=None,\n)\ndef f(self):\n    pass\n",
            line=5,
            column=5,
            message_contains="never stop",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(bind=True, max_retries=None)\ndef f(self, pk):\n    try:\n        work(pk)\n    except IOError as exc:\n        raise self.retry(exc=exc, max_retries=5)\n    except KeyError as exc:\n        raise self.retry(exc=exc)\n",
            line=3,
            column=25,
            message_contains="never stop",
            note="one retry() call without a limit",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(bind=True, max_retries=None, autoretry_for=(IOError,))\ndef f(self, pk):\n    raise self.retry(max_retries=5)\n",
            line=3,
            column=25,
            message_contains="never stop",
            note="autoretry_for retries with the task's unbounded max_retries",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import Persistent\n\n@shared_task(base=Persistent)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass Persistent(Task):\n    max_retries = None\n"
            },
            line=5,
            column=1,
            message_contains="class Persistent",
            note="base class in another module",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(\n    autoretry_for=(IOError,),\n    retry_kwargs={'countdown': 5, 'max_retries': None},\n)\ndef f():\n    pass\n",
            line=5,
            column=35,
            message_contains="3, Celery's default",
            note="retry_kwargs: Celery falls back to the task's max_retries",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(bind=True, max_retries=5)\ndef f(self):\n    try:\n        work()\n    except IOError as exc:\n        raise self.retry(exc=exc, max_retries=None)\n",
            line=8,
            column=35,
            message_contains="max_retries on the decorator",
            note="self.retry(): Celery falls back to the task's max_retries",
        ),
        Invalid(
            "from celery import Celery, Task\n\nclass Forever(Task):\n    max_retries = None\n\napp = Celery('proj', task_cls=Forever)\n\n@app.task\ndef f():\n    pass\n",
            line=9,
            column=1,
            note="the app's task_cls",
        ),
        Invalid(
            "from proj.celery import app\n\n@app.task(max_retries=None)\ndef f():\n    pass\n",
            path="proj/tasks.py",
            files={"proj/celery.py": "from celery import Celery\napp = Celery('proj')\n"},
            line=3,
            column=11,
        ),
    ]

    def check(self) -> None:
        project = self.project
        for task in project.tasks():
            limit = task.option("max_retries")
            if isinstance(limit, Known) and limit.value is None and not limit.origin.default:
                if task.retries_bounded_by_calls:
                    continue
                self.report(
                    task.option_site(limit),
                    self.message(
                        what=f"task '{task.label}' sets `max_retries=None` ({limit.origin})",
                        effect="its retries never stop and a permanent failure never surfaces",
                        fix="set an integer `max_retries`",
                    ),
                )
                continue
            kwargs = task.autoretry_option("retry_kwargs")
            if not (
                isinstance(kwargs, Known)
                and isinstance(kwargs.value, dict)
                and "max_retries" in kwargs.value
                and kwargs.value["max_retries"] is None
            ):
                continue
            autoretry = task.autoretry_option("autoretry_for")
            if not isinstance(autoretry, Known) or not non_empty(autoretry.value):
                continue
            effect = self._ignored(limit)
            if effect is None:
                continue
            origin_node = project.node_in_file(kwargs)
            node = (
                _element(origin_node, "max_retries") if origin_node is not None else None
            ) or task.option_site(kwargs)
            self.report(
                node,
                self.message(
                    what=f"`max_retries: None` in `retry_kwargs` of task '{task.label}' ({kwargs.origin})",
                    effect=effect,
                    fix="give an integer",
                ),
            )

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "retry"):
            return
        task = self.project.current_task()
        if task is None:
            return
        arg = keyword(node, "max_retries")
        if arg is None or not _is_none(arg.value):
            return
        if not is_self_retry(node, task.bound_parameter):
            return
        effect = self._ignored(task.option("max_retries"))
        if effect is None:
            return
        self.report(
            arg,
            self.message(
                what=f"`max_retries=None` in `retry()` of task '{task.label}'",
                effect=effect,
                fix="pass an integer",
            ),
        )

    @staticmethod
    def _ignored(limit: Resolved) -> str | None:
        """Why ``max_retries=None`` outside the task changes nothing (None when the task's
        own limit is unknown or already unbounded)."""
        if not isinstance(limit, Known) or not isinstance(limit.value, int) or isinstance(limit.value, bool):
            return None
        return (
            f"Celery reads None as the task's own `max_retries` ({limit.value}, {limit.origin}), "
            f"so the retries stop after {limit.value}, they are not unbounded"
        )
