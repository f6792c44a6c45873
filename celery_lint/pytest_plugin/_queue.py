"""``celery_queue``: tasks are published for real and run only when the test says so."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pytest

from ._intercept import call_text, task_name_of
from ._runner import DEFAULT_MAX_TASKS, Execution, FakeClock, QueuedTask, Runner, _aware


def _queues(queue: str | Iterable[str] | None) -> list[str] | None:
    if queue is None:
        return None
    return [queue] if isinstance(queue, str) else list(queue)


class TaskQueue:
    """The value of the ``celery_queue`` fixture. See ``docs/pytest.md``."""

    transactions: Any = None
    """The CEL403 check (``_transactions.TransactionGuard``); ``.enabled = False`` turns it off."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    @property
    def clock(self) -> FakeClock:
        """The fake clock: ``clock.now``, ``clock.advance(seconds or timedelta)``."""
        return self._runner.clock

    @property
    def executed(self) -> list[Execution]:
        """Every message run so far in this test, in order."""
        return list(self._runner.executed)

    # ------------------------------------------------------------------ inspecting
    def pending(self, task: Any = None, queue: str | Iterable[str] | None = None) -> list[QueuedTask]:
        """Messages waiting in the broker (due or not), oldest first, optionally only of
        one task (a task, its name or a signature) or queue(s)."""
        name = task_name_of(task) if task is not None else None
        found = [self._runner.describe(entry) for entry in self._runner.waiting(_queues(queue))]
        return [q for q in found if name is None or q.name == name]

    def __len__(self) -> int:
        return len(self._runner.waiting())

    # ------------------------------------------------------------------ running
    def run_next(self, queue: str | Iterable[str] | None = None) -> Execution | None:
        """Run the oldest message that is due on the clock; None when none is."""
        return self._runner.run_next(_queues(queue))

    def run_all(
        self, queue: str | Iterable[str] | None = None, *, max_tasks: int = DEFAULT_MAX_TASKS
    ) -> list[Execution]:
        """Run due messages, and the due messages they send, until none is due now.
        The clock does not move: a countdown or retry in the future stays queued."""
        return self._runner.run_all(_queues(queue), max_tasks)

    def run_until_empty(
        self, queue: str | Iterable[str] | None = None, *, max_tasks: int = DEFAULT_MAX_TASKS
    ) -> list[Execution]:
        """Run everything, moving the clock to each next ``eta`` when nothing is due,
        until the queue(s) are empty."""
        return self._runner.run_until_empty(_queues(queue), max_tasks)

    # ------------------------------------------------------------------ assertions
    def assert_enqueued(
        self,
        task: Any,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        queue: str | None = None,
        countdown: float | None = None,
        eta: datetime | None = None,
        times: int | None = None,
    ) -> list[QueuedTask]:
        """Assert that messages of ``task`` are waiting; ``args``/``kwargs`` (as sent),
        ``queue``, ``countdown`` (seconds), ``eta`` and ``times`` narrow the match.
        Returns the matching messages."""
        name = task_name_of(task)
        candidates = self.pending(name)
        matching = [
            q
            for q in candidates
            if q.matches(tuple(args) if args is not None else None, kwargs)
            and (queue is None or q.queue == queue)
            and (countdown is None or (q.countdown is not None and abs(q.countdown - countdown) < 1e-3))
            and (eta is None or (q.eta is not None and q.eta == _aware(eta)))
        ]
        wanted = _describe_wanted(name, args, kwargs, queue, countdown, eta)
        if times is None and not matching:
            pytest.fail(f"{wanted} is not enqueued.\n{self._listing()}", pytrace=False)
        if times is not None and len(matching) != times:
            pytest.fail(
                f"{wanted} is enqueued {len(matching)} time(s), expected {times}.\n{self._listing()}",
                pytrace=False,
            )
        return matching

    def assert_not_enqueued(
        self,
        task: Any,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> None:
        """Assert that no message of ``task`` (with these ``args``/``kwargs``) is waiting."""
        name = task_name_of(task)
        matching = [
            q for q in self.pending(name) if q.matches(tuple(args) if args is not None else None, kwargs)
        ]
        if matching:
            wanted = _describe_wanted(name, args, kwargs, None, None, None)
            pytest.fail(f"{wanted} is enqueued, expected it not to be.\n{self._listing()}", pytrace=False)

    def assert_empty(self) -> None:
        """Assert that no message is waiting in any queue."""
        if len(self):
            pytest.fail(f"the queue is not empty.\n{self._listing()}", pytrace=False)

    def _listing(self) -> str:
        pending = self.pending()
        if not pending:
            return "Nothing is enqueued."
        return "Enqueued:\n" + "\n".join(f"  {q!r}" for q in pending)

    def __repr__(self) -> str:
        return f"<celery_queue {len(self)} pending, clock={self.clock.now.isoformat()}>"


def _describe_wanted(
    name: str,
    args: Any,
    kwargs: Any,
    queue: str | None,
    countdown: float | None,
    eta: datetime | None,
) -> str:
    text = (
        call_text(name, args or (), kwargs or {}) if args is not None or kwargs is not None else f"'{name}'"
    )
    extra = []
    if queue is not None:
        extra.append(f"queue={queue!r}")
    if countdown is not None:
        extra.append(f"countdown={countdown:g}s")
    if eta is not None:
        extra.append(f"eta={eta.isoformat()}")
    return text + (f" [{', '.join(extra)}]" if extra else "")
