from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.retries import (
    BROAD,
    RETRY_CATCHERS,
    handler_label,
    handler_raises,
    is_self_retry,
    retry_throws,
)
from ...project.walk import Walker
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst

    from ...project.retries import Handler
else:
    from ..._lazy_libcst import cst

CATCHES_RETRY = BROAD | RETRY_CATCHERS
HEAD = "from celery import shared_task\n\n@shared_task(bind=True)\ndef f(self):\n"


class _RetriesInTry(Walker):
    """``self.retry(...)`` calls with the ``try`` statements whose body encloses them."""

    def __init__(self, self_name: str) -> None:
        super().__init__()
        self.self_name = self_name
        self.active: list[cst.Try | cst.TryStar] = []
        self.found: list[tuple[cst.Call, list[cst.Try | cst.TryStar]]] = []

    def _try(self, node: cst.Try | cst.TryStar) -> bool:
        self.active.append(node)
        self.walk(node.body)
        self.active.pop()
        for handler in node.handlers:
            self.walk(handler)
        if node.orelse is not None:
            self.walk(node.orelse)
        if node.finalbody is not None:
            self.walk(node.finalbody)
        return False

    def visit_Try(self, node: cst.Try) -> bool:
        return self._try(node)

    def visit_TryStar(self, node: cst.TryStar) -> bool:
        return self._try(node)

    def visit_Call(self, node: cst.Call) -> None:
        if self.active and is_self_retry(node, self.self_name) and retry_throws(node):
            self.found.append((node, list(self.active)))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


class RetrySwallowed(Rule):
    """
    ## What it does
    Checks for `self.retry(...)` inside a `try` whose handler catches `Retry` without
    raising again. The call (or `raise self.retry(...)`) is in a bound task, in the body
    of a `try` whose first handler able to catch `Retry` (a bare `except:`,
    `except Exception`, `except BaseException`, or `celery.exceptions.Retry` and its
    bases) does not raise. Outer `try` statements are followed when an inner handler
    re-raises. A retry called in the handler itself is not inside the body, so it is
    not flagged.

    ## Why is this bad?
    `self.retry()` first publishes the retry message and then raises `Retry` to end the
    current run. `Retry` is an `Exception`; a broad handler catches it, the task
    returns normally and is recorded as `SUCCESS`, while the retry message already
    sent runs the task again. When the retries run out, the `MaxRetriesExceededError`
    is swallowed the same way, so the failure never shows.

    ## Example
    ```python
    @app.task(bind=True)
    def charge(self, payment_id):
        try:
            gateway.charge(payment_id)
            if gateway.busy():
                raise self.retry(countdown=2**self.request.retries)
        except Exception:
            log.exception("charge failed")
    ```

    ## Use instead
    ```python
    from celery.exceptions import Retry

    @app.task(bind=True)
    def charge(self, payment_id):
        try:
            gateway.charge(payment_id)
            if gateway.busy():
                raise self.retry(countdown=2**self.request.retries)
        except Retry:
            raise
        except Exception:
            log.exception("charge failed")
    ```

    ## References
    - Celery, *Tasks*: retrying; `celery.exceptions.Retry`
    - Celery source: `Task.retry` (`celery/app/task.py`)
    """

    CODE = "CEL305"
    NAME = "retry-swallowed"
    MESSAGE = "`{self_name}.retry()` in task '{task}' is caught by `{handler}`, which does not re-raise: the task ends as SUCCESS while the retry message already sent runs it again"
    FIX_TITLE = "re-raise `Retry` (`except Retry: raise`) before the broad handler"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            HEAD
            + "    try:\n        work()\n        raise self.retry()\n    except Exception:\n        log()\n        raise\n",
            note="re-raising handlers",
        ),
        Valid(
            HEAD
            + "    try:\n        work()\n    except Exception as exc:\n        raise self.retry(exc=exc)\n",
            note="retry called in the handler",
        ),
        Valid(
            "from celery import shared_task\nfrom celery.exceptions import Retry\n\n@shared_task(bind=True)\ndef f(self):\n"
            "    try:\n        raise self.retry()\n    except Retry:\n        raise\n    except Exception:\n        log()\n",
            note="Retry re-raised first",
        ),
        Valid(
            HEAD + "    try:\n        raise self.retry()\n    except ValueError:\n        log()\n",
            note="a handler that cannot catch Retry",
        ),
        Valid(
            HEAD
            + "    try:\n        work()\n    except Exception:\n        log()\n    else:\n        raise self.retry()\n",
            note="the else block is not guarded by the handlers",
        ),
        Valid(
            HEAD + "    try:\n        self.retry(throw=False)\n    except Exception:\n        pass\n",
            note="throw=False raises nothing",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(job):\n    try:\n        job.retry()\n    except Exception:\n        pass\n",
            note="not bound: an unrelated .retry()",
        ),
        Valid(
            HEAD
            + "    def later():\n        try:\n            self.retry()\n        except Exception:\n            pass\n    return later\n",
            note="a nested function",
        ),
    ]
    INVALID = [
        Invalid(
            HEAD + "    try:\n        raise self.retry(countdown=5)\n    except Exception:\n        log()\n",
            line=6,
            column=15,
        ),
        Invalid(
            HEAD + "    try:\n        self.retry()\n    except:\n        pass\n",
            line=6,
            column=9,
            note="bare",
        ),
        Invalid(
            "from celery import shared_task\nfrom celery.exceptions import Retry\n\n@shared_task(bind=True)\ndef f(self):\n"
            "    try:\n        raise self.retry()\n    except Retry:\n        pass\n",
            line=7,
            column=15,
            message_contains="except Retry:",
        ),
        Invalid(
            HEAD
            + "    try:\n        try:\n            work()\n        except IOError as exc:\n            raise self.retry(exc=exc)\n    except BaseException:\n        report()\n",
            line=9,
            column=19,
            note="retry in an inner handler, inside an outer try",
        ),
        Invalid(
            HEAD
            + "    try:\n        try:\n            raise self.retry()\n        except Exception:\n            raise\n    except Exception:\n        pass\n",
            line=7,
            column=19,
            note="re-raised by the inner handler, swallowed by the outer one",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\nclass Sync(app.Task):\n    def run(self):\n        for item in items():\n            try:\n                self.retry()\n            except (KeyError, Exception):\n                continue\n",
            line=8,
            column=17,
            note="class-based task",
        ),
    ]

    def check(self) -> None:
        for task in self.project.tasks():
            if task.body is None:
                continue
            self_name = task.bound_parameter
            if self_name is None:
                continue
            finder = _RetriesInTry(self_name)
            finder.walk(task.body.body)
            for call, tries in finder.found:
                handler = self._swallower(tries, self_name)
                if handler is not None:
                    self.report(
                        call,
                        self.message(
                            self_name=self_name,
                            task=task.label,
                            handler=handler_label(handler),
                        ),
                    )

    def _swallower(self, tries: list[cst.Try | cst.TryStar], self_name: str) -> Handler | None:
        """The handler that catches the ``Retry`` and keeps it, innermost ``try`` first."""
        project = self.project
        for statement in reversed(tries):
            for handler in statement.handlers:
                if project.handler_catches(handler, CATCHES_RETRY):
                    if not handler_raises(handler, self_name):
                        return handler
                    break  # re-raised: the outer try statements see it next
        return None
