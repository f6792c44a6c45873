"""``celery_tasks``: every task send of the test, with assertions and a block mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ._intercept import Interceptor, TaskCall, call_text, task_name_of


class TaskRecorder:
    """The value of the ``celery_tasks`` fixture. See ``docs/pytest.md``.

    Assertions count the calls the code made (``apply_async``, ``delay``, ``send_task``,
    canvas sends); the retries a task publishes for itself are recorded with
    ``via='retry'`` and left out of the counts.
    """

    def __init__(self, interceptor: Interceptor) -> None:
        self._interceptor = interceptor

    @property
    def calls(self) -> list[TaskCall]:
        """Every recorded call, in order (retries included)."""
        return list(self._interceptor.calls)

    @property
    def names(self) -> list[str]:
        """Task names of the calls, in call order (retries left out)."""
        return [c.name for c in self._sends()]

    def _sends(self, task: Any = None) -> list[TaskCall]:
        name = task_name_of(task) if task is not None else None
        return [c for c in self._interceptor.calls if c.via != "retry" and (name is None or c.name == name)]

    def calls_for(self, task: Any) -> list[TaskCall]:
        """The calls of one task (a task, its name or a signature), retries left out."""
        return self._sends(task)

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        self._interceptor.calls.clear()

    # ------------------------------------------------------------------ assertions
    def assert_called(self, task: Any, *args: Any, **kwargs: Any) -> TaskCall:
        """At least one call of ``task``; with arguments, one call with exactly these."""
        calls = self._sends(task)
        if args or kwargs:
            matching = [c for c in calls if c.matches(args, kwargs)]
            if not matching:
                self._fail(f"{_wanted(task, args, kwargs)} was not called", task)
            return matching[0]
        if not calls:
            self._fail(f"'{task_name_of(task)}' was not called", task)
        return calls[0]

    def assert_called_once(self, task: Any) -> TaskCall:
        """Exactly one call of ``task``."""
        calls = self._sends(task)
        if len(calls) != 1:
            self._fail(f"'{task_name_of(task)}' was called {len(calls)} times, expected once", task)
        return calls[0]

    def assert_called_once_with(self, task: Any, *args: Any, **kwargs: Any) -> TaskCall:
        """Exactly one call of ``task``, with exactly these arguments."""
        call = self.assert_called_once(task)
        if not call.matches(args, kwargs):
            self._fail(
                f"'{task_name_of(task)}' was called as {call.signature_repr()}, expected "
                f"{_wanted(task, args, kwargs)}",
                task,
            )
        return call

    def assert_not_called(self, task: Any = None) -> None:
        """No call of ``task`` (of any task when none is given)."""
        calls = self._sends(task)
        if calls:
            what = f"'{task_name_of(task)}'" if task is not None else "a task"
            self._fail(f"{what} was called {len(calls)} times, expected no call", task)

    def assert_call_order(self, *tasks: Any) -> None:
        """These tasks were called in this order (other calls may come between)."""
        wanted = [task_name_of(t) for t in tasks]
        names = self.names
        position = 0
        for name in names:
            if position < len(wanted) and name == wanted[position]:
                position += 1
        if position < len(wanted):
            pytest.fail(f"calls were not in the order {wanted}; the calls were {names}", pytrace=False)

    def _fail(self, message: str, task: Any) -> None:
        calls = self.calls
        listing = "\n".join(f"  {c!r}  ({c.caller})" if c.caller else f"  {c!r}" for c in calls)
        pytest.fail(f"{message}.\nRecorded calls:\n{listing or '  (none)'}", pytrace=False)

    # ------------------------------------------------------------------ block mode
    @contextmanager
    def _unblocking(self, names: list[str]) -> Iterator[TaskRecorder]:
        try:
            yield self
        finally:
            self._interceptor.unblock(names)

    def block(self, *tasks: Any) -> Any:
        """Record calls of these tasks (of every task when none is given) without sending
        or running them. The call returns a PENDING ``AsyncResult``; arguments are still
        checked against the serializer. Usable as a context manager, which unblocks on exit."""
        names = [task_name_of(t) for t in tasks]
        self._interceptor.block(names)
        return self._unblocking(names)

    def unblock(self, *tasks: Any) -> None:
        """Undo ``block()`` for these tasks (for all when none is given)."""
        self._interceptor.unblock([task_name_of(t) for t in tasks])

    def __len__(self) -> int:
        return len(self._sends())

    def __repr__(self) -> str:
        return f"<celery_tasks {len(self)} calls: {self.names}>"


def _wanted(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    return call_text(task_name_of(task), args, kwargs)
