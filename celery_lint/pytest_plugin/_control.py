"""Revokes reach the test's worker, and the worker's global state stays per test.

``AsyncResult.revoke()``, ``GroupResult.revoke()`` and ``app.control.revoke()`` /
``revoke_by_stamped_headers()`` / ``terminate()`` broadcast a control command that every
worker handles with ``celery.worker.control``. No worker consumes the test broker's
broadcasts, so the command is handed to that same handler in the test thread: the ids go
into ``celery.worker.state.revoked`` (what Celery's version does to the result backend
too), and the runner's ``Request`` skips a revoked message with state ``REVOKED`` as a
worker does. ``terminate=True`` cannot stop a task already running in the test thread:
it runs to its end; a message not yet run is skipped as for any revoke.

``celery.worker.state`` is process-global: the revoked ids and stamps and the task
counters (``total_count``, ``all_total_count``) of a test are put back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._runner import Runner

_REVOKE_COMMANDS = ("revoke", "revoke_by_stamped_headers", "terminate")


def install_revoke(patch: pytest.MonkeyPatch, runner: Runner) -> None:
    """Handle revoke broadcasts of the runner's app as the worker's control panel does."""
    from celery.app.control import Control

    original = Control.broadcast

    def broadcast(control: Any, command: str, arguments: Any = None, *args: Any, **kwargs: Any) -> Any:
        if command not in _REVOKE_COMMANDS or control.app is not runner.app:
            return original(control, command, arguments, *args, **kwargs)
        reply = _handle(runner, command, dict(arguments or {}))
        wants_reply = kwargs.get("reply", args[2] if len(args) > 2 else False)
        return [{runner.hostname: reply}] if wants_reply else None

    broadcast.__doc__ = original.__doc__
    patch.setattr(Control, "broadcast", broadcast)


def _handle(runner: Runner, command: str, arguments: dict[str, Any]) -> Any:
    from celery.worker import control as panel

    # The panel terminates a running task through the pool's process; the test thread's
    # task cannot be stopped, so every revoke is a plain one.
    arguments.pop("terminate", None)
    arguments.pop("signal", None)
    state = SimpleNamespace(app=runner.app, consumer=None, hostname=runner.hostname)
    if command == "revoke_by_stamped_headers":
        result = panel.revoke_by_stamped_headers(state, arguments.pop("headers", {}), **arguments)
    else:
        result = panel.revoke(state, arguments.pop("task_id", None), **arguments)
    return result


def preserve_worker_state() -> Callable[[], None]:
    """Snapshot ``celery.worker.state``'s revoked ids, stamps and counters; returns the
    function that puts them back."""
    from celery.worker import state as worker_state

    revoked = list(worker_state.revoked)
    stamps = dict(worker_state.revoked_stamps)
    counts = dict(worker_state.total_count)
    total = list(worker_state.all_total_count)

    def restore() -> None:
        # In place: Celery binds these objects as default arguments and imported names.
        worker_state.revoked.clear()
        worker_state.revoked.update(revoked)
        worker_state.revoked_stamps.clear()
        worker_state.revoked_stamps.update(stamps)
        worker_state.total_count.clear()
        worker_state.total_count.update(counts)
        worker_state.all_total_count[:] = total

    return restore
