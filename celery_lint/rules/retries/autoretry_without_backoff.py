from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...project.limits import is_number, seconds
from ...project.values import Known
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    from ...api import TaskView


def non_empty(value: Any) -> bool:
    """A known, non-empty ``autoretry_for`` (elements may be classes the analyzer cannot name)."""
    return isinstance(value, (list, tuple, frozenset, set)) and len(value) > 0


class AutoretryWithoutBackoff(Rule):
    """
    ## What it does
    Checks for `autoretry_for` without `retry_backoff`, or with `retry_jitter=False`.
    The task's effective `autoretry_for` must be a non-empty tuple; the options are
    resolved on the decorator, the base class chain and the app's task class, and a
    decorator option beats `task_annotations` here, as in Celery's autoretry wrapper.
    Tasks that retry at most once (`max_retries` 0 or 1, or the same in
    `retry_kwargs`) are not flagged.

    ## Why is this bad?
    Without `retry_backoff` every automatic retry waits the same delay
    (`default_retry_delay`, 180 s unless `retry_kwargs` gives a `countdown`): a failing
    service is hit at a fixed pace, however long it stays down. With
    `retry_jitter=False` the exponential delays are exact, so every task that failed at
    the same moment retries at the same moment again (a thundering herd).

    ## Example
    ```python
    @app.task(autoretry_for=(ConnectionError,), max_retries=5)
    def push(event_id): ...
    ```

    ## Use instead
    ```python
    @app.task(autoretry_for=(ConnectionError,), max_retries=5, retry_backoff=True)
    def push(event_id): ...
    ```

    ## References
    - Celery, *Tasks*: automatic retry for known exceptions, `retry_backoff`,
      `retry_backoff_max`, `retry_jitter`
    """

    CODE = "CEL302"
    NAME = "autoretry-without-backoff"
    MESSAGE = "task '{task}' retries automatically ({origin}) {problem}"
    FIX_TITLE = "{fix}"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(IOError,), retry_backoff=True)\ndef f():\n    pass\n"
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(IOError,), retry_backoff=2, retry_jitter=True)\ndef f():\n    pass\n"
        ),
        Valid("from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n", note="no autoretry"),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=())\ndef f():\n    pass\n",
            note="an empty autoretry_for",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(IOError,), retry_backoff=BACKOFF)\ndef f():\n    pass\n",
            note="unknown backoff",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=RETRYABLE)\ndef f():\n    pass\n",
            note="unknown autoretry_for",
        ),
        Valid(
            "from celery import shared_task\nfrom proj.base import Resilient\n\n@shared_task(base=Resilient, autoretry_for=(IOError,))\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass Resilient(Task):\n    retry_backoff = True\n    retry_backoff_max = 300\n"
            },
            note="backoff from a base class in another module",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_annotations = {'*': {'retry_backoff': True}}\n\n@app.task(autoretry_for=(IOError,))\ndef f():\n    pass\n",
            note="task_annotations give retry_backoff before the autoretry wrapper reads it",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(IOError,), retry_kwargs={'max_retries': 0})\ndef f():\n    pass\n",
            note="max_retries=0: nothing is retried",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(IOError,), max_retries=1)\ndef f():\n    pass\n",
            note="a single retry: no series of delays to grow",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(\n    autoretry_for=(IOError,),\n    max_retries=5,\n)\ndef f():\n    pass\n",
            line=4,
            column=5,
            message_contains="without `retry_backoff`",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(IOError,), retry_backoff=True, retry_jitter=False)\ndef f():\n    pass\n",
            line=3,
            column=14,
            message_contains="retry_jitter=False",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(IOError,), retry_kwargs={'countdown': 30})\ndef f():\n    pass\n",
            line=3,
            column=14,
            message_contains="30 s",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import Retrying\n\n@shared_task(base=Retrying)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass Retrying(Task):\n    autoretry_for = (ConnectionError,)\n"
            },
            line=5,
            column=1,
            message_contains="class Retrying",
            note="autoretry_for on a base class in another module",
        ),
        Invalid(
            "from proj.decorators import retry_task\n\n@retry_task\ndef f():\n    pass\n",
            files={
                "proj/decorators.py": "from celery import shared_task\nretry_task = shared_task(autoretry_for=(IOError,), max_retries=5)\n"
            },
            line=4,
            column=1,
            note="a module-level alias in another module",
        ),
    ]

    def check(self) -> None:
        for task in self.project.tasks():
            autoretry = task.autoretry_option("autoretry_for")
            if not isinstance(autoretry, Known) or not non_empty(autoretry.value):
                continue
            limit = task.retry_limit()
            if limit is not None and limit <= 1:
                continue  # no retry, or a single one: there is no series of delays to grow
            backoff = task.autoretry_option("retry_backoff")
            if not isinstance(backoff, Known):
                continue
            if not backoff.value:
                problem = f"without `retry_backoff`: every attempt waits {self._fixed_delay(task)}"
                fix = "set `retry_backoff=True`"
            else:
                jitter = task.autoretry_option("retry_jitter")
                if not (isinstance(jitter, Known) and jitter.value is False and not jitter.origin.default):
                    continue
                problem = (
                    f"with `retry_jitter=False` ({jitter.origin}): tasks that failed together retry together"
                )
                fix = "drop `retry_jitter=False`"
            self.report(
                task.option_site(autoretry),
                self.message(task=task.label, origin=autoretry.origin, problem=problem, fix=fix),
            )

    def _fixed_delay(self, task: TaskView) -> str:
        kwargs = task.autoretry_option("retry_kwargs")
        if isinstance(kwargs, Known) and isinstance(kwargs.value, dict):
            countdown = kwargs.value.get("countdown")
            if isinstance(countdown, (int, float)) and is_number(countdown):
                return f"`countdown` {seconds(countdown)} ({kwargs.origin})"
        delay = task.option("default_retry_delay")
        if isinstance(delay, Known) and is_number(delay.value):
            return f"`default_retry_delay` {seconds(delay.value)} ({delay.origin})"
        return "the same `default_retry_delay`"
