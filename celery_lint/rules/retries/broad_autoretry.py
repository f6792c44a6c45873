from __future__ import annotations

from ...project.retries import BROAD
from ...project.values import Known
from ..base import Invalid, Rule, Valid


class BroadAutoretry(Rule):
    """
    ## What it does
    Checks for `autoretry_for` containing the builtin `Exception` or `BaseException`.
    The effective value is read on the decorator, a base class or the app's task class,
    with constants followed across modules. A task whose `max_retries` is 0 never
    retries and is not flagged.

    ## Why is this bad?
    `autoretry_for` is for transient failures: a timeout, a dropped connection, a
    throttled API. Retrying on `Exception` also retries bugs (`TypeError`, `KeyError`,
    a failed validation) that fail the same way every time: the task burns its retries,
    delays the real error by minutes and, with side effects before the failure, repeats
    them on each attempt.

    ## Example
    ```python
    @app.task(autoretry_for=(Exception,), retry_backoff=True)
    def sync_contact(contact_id): ...
    ```

    ## Use instead
    ```python
    @app.task(autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True)
    def sync_contact(contact_id): ...
    ```

    ## References
    - Celery, *Tasks*: automatic retry for known exceptions
    """

    CODE = "CEL303"
    NAME = "broad-autoretry"
    MESSAGE = "task '{task}' retries on `{name}` ({origin}): bugs are retried like transient failures"
    FIX_TITLE = "list the transient exceptions instead"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True)\ndef f():\n    pass\n",
            note="specific exception types",
        ),
        Valid(
            "from celery import shared_task\nfrom requests.exceptions import RequestException\n\n@shared_task(autoretry_for=(RequestException,), retry_backoff=True)\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import shared_task\nfrom proj.errors import Exception\n\n@shared_task(autoretry_for=(Exception,), retry_backoff=True)\ndef f():\n    pass\n",
            files={"proj/errors.py": "class Exception(RuntimeError):\n    pass\n"},
            note="a project class named Exception",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=RETRYABLE)\ndef f():\n    pass\n",
            note="unknown",
        ),
        Valid("from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_annotations = {'*': {'autoretry_for': (Exception,)}}\n\n@app.task(autoretry_for=(IOError,))\ndef f():\n    pass\n",
            note="the decorator's autoretry_for beats task_annotations (Celery reads the decorator options first)",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(Exception,), max_retries=0)\ndef f():\n    pass\n",
            note="max_retries=0: retry() re-raises before sending anything, nothing is retried",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.config_from_object('deploy.settings')\n\n@app.task(autoretry_for=(Exception,), retry_backoff=True)\ndef f():\n    pass\n",
            line=5,
            column=11,
            note="configuration (and so task_annotations) unknown: the decorator option still wins",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(Exception,), retry_backoff=True)\ndef f():\n    pass\n",
            line=3,
            column=14,
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(\n    retry_backoff=True,\n    autoretry_for=[IOError, BaseException],\n)\ndef f():\n    pass\n",
            line=5,
            column=5,
            message_contains="BaseException",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import CatchAll\n\n@shared_task(base=CatchAll)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass CatchAll(Task):\n    autoretry_for = (Exception,)\n    retry_backoff = True\n"
            },
            line=5,
            column=1,
            message_contains="class CatchAll",
            note="base class in another module",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.retrying import RETRYABLE\n\n@shared_task(autoretry_for=RETRYABLE + (IOError,), retry_backoff=True)\ndef f():\n    pass\n",
            files={"proj/retrying.py": "import builtins\nRETRYABLE = (builtins.Exception,)\n"},
            line=4,
            column=14,
            note="a constant from another module",
        ),
        Invalid(
            "from proj.decorators import retry_task\n\n@retry_task\ndef f():\n    pass\n",
            files={
                "proj/decorators.py": "from proj.celery import app\nretry_task = app.task(autoretry_for=(Exception,), retry_backoff=True)\n",
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\n",
            },
            line=4,
            column=1,
            message_contains="the decorator retry_task (proj/decorators.py)",
            note="a module-level alias of app.task(...) in another module",
        ),
    ]

    def check(self) -> None:
        view = self.project
        for task in view.tasks():
            value = task.autoretry_option("autoretry_for")
            if not isinstance(value, Known) or value.origin.node is None:
                continue
            if task.retry_limit() == 0:
                continue  # the autoretry wrapper never retries
            for name in view.exception_names(value):
                if name in BROAD:
                    self.report(
                        task.option_site(value),
                        self.message(
                            task=task.label,
                            name=name.rpartition(".")[2],
                            origin=value.origin,
                        ),
                    )
                    break
