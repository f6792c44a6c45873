"""Waits on results that nothing can ever store end at once instead of hanging.

While the fixtures run tasks, they run only when the test says so (``celery_queue``) or
before the call that sent them returns (``celery_eager``): nothing runs while the test
thread waits in ``result.get()``. So a wait on a result that is not ready yet can never
end, whatever the timeout: a task still waiting in the test broker, the last step of a
chain or a chord's body (published only when what comes before them runs), a group's
results (through ``backend.get_many()``), or a task whose result is never stored
(``ignore_result``). Every blocking wait of the result backend goes through
``wait_for()`` (one result: ``AsyncResult.get()``, ``ResultSet.join()``) or
``get_many()`` (``GroupResult.get()``, ``join_native()``, ``iter_native()``); both are
replaced for the test's app by a check that raises ``TaskNotRunError`` naming what is
pending, or Celery's ``TimeoutError`` at once for a result that nothing will ever store
when the call gave a timeout (what a worker gives after waiting it out).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._errors import TaskNotRunError

if TYPE_CHECKING:
    from ._runner import QueuedTask, Runner

_LISTED = 5


def install_result_guard(patch: pytest.MonkeyPatch, runner: Runner) -> None:
    """Replace the backend's two blocking waits for the runner's app (see the module)."""
    from celery.backends.base import BaseKeyValueStoreBackend, SyncBackendMixin

    wait_for = SyncBackendMixin.wait_for
    get_many = BaseKeyValueStoreBackend.get_many

    def guarded_wait_for(backend: Any, task_id: Any, timeout: Any = None, *args: Any, **kwargs: Any) -> Any:
        if getattr(backend, "app", None) is runner.app:
            _check_ready(runner, backend, [task_id], timeout, "result.get()")
        return wait_for(backend, task_id, timeout, *args, **kwargs)

    def guarded_get_many(backend: Any, task_ids: Any, timeout: Any = None, *args: Any, **kwargs: Any) -> Any:
        if getattr(backend, "app", None) is not runner.app:
            return get_many(backend, task_ids, timeout, *args, **kwargs)
        ids = list(task_ids)
        return _checked_many(
            runner, backend, ids, timeout, get_many(backend, set(ids), timeout, *args, **kwargs)
        )

    guarded_wait_for.__doc__ = wait_for.__doc__
    guarded_get_many.__doc__ = get_many.__doc__
    patch.setattr(SyncBackendMixin, "wait_for", guarded_wait_for)
    patch.setattr(BaseKeyValueStoreBackend, "get_many", guarded_get_many)


def _checked_many(
    runner: Runner, backend: Any, ids: list[Any], timeout: Any, inner: Iterator[Any]
) -> Iterator[Any]:
    # get_many() is a generator: check when the caller starts reading it, as it would wait.
    _check_ready(runner, backend, ids, timeout, "GroupResult.get()")
    yield from inner


def _ready(backend: Any, task_id: Any) -> bool:
    from celery import states

    return backend.get_task_meta(task_id).get("status") in states.READY_STATES


def _check_ready(runner: Runner, backend: Any, task_ids: Iterable[Any], timeout: Any, what: str) -> None:
    __tracebackhide__ = True
    missing = [str(task_id) for task_id in task_ids if not _ready(backend, task_id)]
    if not missing:
        return
    from celery.exceptions import TimeoutError as CeleryTimeoutError

    waiting: dict[str, QueuedTask] = {}
    for entry in runner.waiting():
        message = runner.describe(entry)
        waiting.setdefault(message.id, message)
    ran = {e.id: e for e in runner.executed}
    in_queue = runner.switch.mode == "queue"
    broker = "celery_queue" if in_queue else "the test broker"
    lines = []
    for task_id in missing[:_LISTED]:
        queued = waiting.get(task_id)
        if queued is not None:
            when = ""
            if queued.eta is not None and queued.eta > runner.clock.now:
                ahead = (queued.eta - runner.clock.now).total_seconds()
                when = f" Its eta is {ahead:g}s ahead: clock.advance() or run_until_empty()."
            lines.append(
                f"{queued.signature_repr()} [{task_id}]: the task is still waiting in {broker}.{when}"
            )
        elif task_id in ran:
            done = ran[task_id]
            lines.append(
                f"{done.message.signature_repr()} [{task_id}] ran ({done.state}) but stored no result "
                "(ignore_result)"
            )
        elif waiting:
            lines.append(
                f"task [{task_id}] is not sent yet (a later step of a chain or a chord's body "
                "is published when what comes before it runs)"
            )
        else:
            lines.append(f"task [{task_id}] was never sent (a blocked call?) or its message was taken")
    if len(missing) > _LISTED:
        lines.append(f"... and {len(missing) - _LISTED} more")
    others = [q for q in waiting.values() if q.id not in missing]
    if others:
        listed = ", ".join(f"{q.signature_repr()} [{q.id}]" for q in others[:_LISTED])
        more = f" and {len(others) - _LISTED} more" if len(others) > _LISTED else ""
        lines.append(f"waiting in {broker}: {listed}{more}")
    pending = bool(waiting)
    if runner.executing:
        advice = "the queue runs them only after the current task returns; nothing runs while it waits"
    elif pending and in_queue:
        advice = "call celery_queue.run_all() (or run_until_empty()) first"
    elif pending:
        advice = "nothing runs while the test waits"
    else:
        advice = "nothing will ever store it: on a worker this wait " + (
            "runs into its timeout" if timeout is not None else "never ends (no timeout was given)"
        )
    lines = [line.rstrip(".") for line in lines]
    if len(missing) == 1:
        text = f"{what} of " + "; ".join(lines)
    else:
        text = f"{what}: {len(missing)} results are not ready: " + "; ".join(lines)
    text += f"; {advice}."
    if not pending and timeout is not None:
        raise CeleryTimeoutError(f"celery-lint: {text}")
    raise TaskNotRunError(text)
