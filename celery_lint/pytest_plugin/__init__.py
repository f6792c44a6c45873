"""The pytest plugin (``pytest -p celery_lint``): fixtures for task tests and a lint gate.

What a test may import from here: the errors the fixtures raise, and the types of the
fixtures' objects and of what they return, for type hints::

    from celery_lint.pytest_plugin import TaskNotRunError, TaskQueue

    def test_report(celery_queue: TaskQueue) -> None:
        with pytest.raises(TaskNotRunError):
            ...

The names are loaded on first use: importing this package (which pytest does for every
run, through the plugin's entry point) imports neither Celery nor LibCST.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._audit import AuditFinding, AuditReport
    from ._beat import BeatFiring, CeleryBeat
    from ._clock import FakeClock
    from ._eager import EagerRunner, RetryRecord
    from ._errors import (
        CeleryLintDeprecationWarning,
        CeleryLintTestError,
        ConfigurationError,
        FixtureUsageError,
        PublishedInTransaction,
        PublishedOutsideTestBroker,
        RefusedMessageError,
        TaskLoopError,
        TaskNotRunError,
    )
    from ._intercept import TaskCall
    from ._oncommit import OnCommitCallback, OnCommitCapture
    from ._queue import TaskQueue
    from ._recorder import TaskRecorder
    from ._retries import IdempotencyChecker, IdempotencyReport, RetryDriver, RetryReport
    from ._runner import Execution, QueuedTask, UnknownTaskError

_WHERE = {
    # errors and warnings
    "CeleryLintTestError": "_errors",
    "ConfigurationError": "_errors",
    "FixtureUsageError": "_errors",
    "PublishedOutsideTestBroker": "_errors",
    "PublishedInTransaction": "_errors",
    "RefusedMessageError": "_errors",
    "TaskLoopError": "_errors",
    "TaskNotRunError": "_errors",
    "CeleryLintDeprecationWarning": "_errors",
    "UnknownTaskError": "_runner",
    # the fixtures' objects
    "TaskQueue": "_queue",
    "EagerRunner": "_eager",
    "TaskRecorder": "_recorder",
    "RetryDriver": "_retries",
    "IdempotencyChecker": "_retries",
    "OnCommitCapture": "_oncommit",
    "CeleryBeat": "_beat",
    # what they hold and return
    "FakeClock": "_clock",
    "BeatFiring": "_beat",
    "QueuedTask": "_runner",
    "Execution": "_runner",
    "RetryRecord": "_eager",
    "TaskCall": "_intercept",
    "RetryReport": "_retries",
    "IdempotencyReport": "_retries",
    "OnCommitCallback": "_oncommit",
    "AuditReport": "_audit",
    "AuditFinding": "_audit",
}

__all__ = [
    "AuditFinding",
    "AuditReport",
    "BeatFiring",
    "CeleryBeat",
    "CeleryLintDeprecationWarning",
    "CeleryLintTestError",
    "ConfigurationError",
    "EagerRunner",
    "Execution",
    "FakeClock",
    "FixtureUsageError",
    "IdempotencyChecker",
    "IdempotencyReport",
    "OnCommitCallback",
    "OnCommitCapture",
    "PublishedInTransaction",
    "PublishedOutsideTestBroker",
    "QueuedTask",
    "RefusedMessageError",
    "RetryDriver",
    "RetryRecord",
    "RetryReport",
    "TaskCall",
    "TaskLoopError",
    "TaskNotRunError",
    "TaskQueue",
    "TaskRecorder",
    "UnknownTaskError",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
