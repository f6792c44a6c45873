"""The run-time twin of CEL403 enqueue-inside-transaction, for ``celery_queue``.

A task published while the code has a Django transaction open reaches the broker before
the transaction commits: a worker may run it first and read missing or rolled-back rows.
Under ``celery_queue`` such a publish raises ``PublishedInTransaction`` at the call.

The test's own transaction is not the code's: Django's ``TestCase`` (and pytest-django's
``db`` fixture, which uses it) wraps each test in atomic blocks it marks
``_from_testcase``, the mark Django itself uses to let ``atomic(durable=True)`` run inside
a test. Only the other open blocks, ``connection.atomic_blocks``, count. A publish from
an ``on_commit`` callback (Django's, ``captureOnCommitCallbacks(execute=True)``,
``celery_on_commit.commit()``) runs after the commit and passes.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from ._errors import PublishedInTransaction

if TYPE_CHECKING:
    from ._intercept import Interceptor


def open_transactions() -> list[str]:
    """The aliases of Django connections with an atomic block of the code open (not
    one of a ``TestCase``); empty without Django or its settings."""
    if "django.db" not in sys.modules:
        return []
    try:
        settings = importlib.import_module("django.conf").settings
        if not settings.configured:
            return []
        connections = importlib.import_module("django.db").connections

        try:
            handlers = connections.all(initialized_only=True)
        except TypeError:  # Django < 4.1
            handlers = connections.all()
    except Exception:  # a broken Django setup is not this check's to report
        return []
    found = []
    for connection in handlers:
        if not getattr(connection, "in_atomic_block", False):
            continue
        blocks = getattr(connection, "atomic_blocks", None)
        if blocks is None:  # Django < 3.2: the test's blocks cannot be told apart
            continue
        if any(not getattr(block, "_from_testcase", False) for block in blocks):
            found.append(str(connection.alias))
    return found


class TransactionGuard:
    """An interceptor guard: refuses a publish inside an open transaction of the code."""

    def __init__(self, interceptor: Interceptor) -> None:
        self.interceptor = interceptor
        self.enabled = True
        self.violations: list[PublishedInTransaction] = []

    def __call__(self, app: Any, name: str, options: dict[str, Any]) -> None:
        __tracebackhide__ = True
        if not self.enabled or self.interceptor.on_commit_depth > 0:
            return
        aliases = open_transactions()
        if not aliases:
            return
        where = ", ".join(repr(alias) for alias in aliases)
        message = (
            f"task '{name}' was published inside an open database transaction (connection {where}): "
            "the broker has the message before the transaction commits, so a worker may run it "
            "first and read missing or rolled-back rows (CEL403 enqueue-inside-transaction). "
            "Use delay_on_commit()/apply_async_on_commit() or "
            "transaction.on_commit(lambda: task.delay(...))."
        )
        error = PublishedInTransaction(message)
        self.violations.append(error)
        raise error

    def swallowed(self, test_code: Any) -> list[str]:
        """The refused publishes whose error never reached the test function (code under
        test, or a worker running a task, caught it)."""
        found = []
        for error in self.violations:
            tb = error.__traceback__
            reached = False
            while tb is not None:
                if tb.tb_frame.f_code is test_code:
                    reached = True
                    break
                tb = tb.tb_next
            if not reached:
                found.append(str(error))
        return found
