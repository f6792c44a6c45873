"""``celery_eager``: run each task when it is sent, through the worker's code.

Celery's ``task_always_eager`` calls the task function in place. This mode publishes the
message to the test broker instead and, before ``delay()`` returns, runs it and
everything it sends with the queue runner (see ``_runner``): arguments and results go
through the serializers, retries are real retry messages (run at once, whatever
``task_eager_propagates`` says), ``send_task`` reaches registered tasks by name, and
children run after their parent, as on a worker. ``task_always_eager`` itself stays off,
so canvas primitives publish as they do in production.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from celery import signals

from ._errors import add_hint, argument_hint, result_hint
from ._intercept import TaskCall
from ._runner import DEFAULT_MAX_TASKS, Execution, FakeClock, Runner, UnknownTaskError, _unknown_task_message

if TYPE_CHECKING:
    from ._app import AppSwitch


@dataclass(frozen=True)
class RetryRecord:
    """One retry a task asked for: which attempt failed, the delay it asked for, why."""

    task: str
    id: str
    attempt: int
    """The attempt that asked for the retry (0 for the first run)."""
    countdown: float | None
    eta: datetime | None
    exception: BaseException | None


class EagerRunner:
    """The value of the ``celery_eager`` fixture. See ``docs/pytest.md``."""

    def __init__(self, runner: Runner, switch: AppSwitch) -> None:
        self._runner = runner
        self._switch = switch
        self.app = switch.app
        self.max_tasks = DEFAULT_MAX_TASKS
        """Loop guard: how many tasks one call may run before ``TaskLoopError``."""
        self.retries: list[RetryRecord] = []
        """Every retry requested while this fixture was active, in order."""
        self._draining = False
        signals.task_retry.connect(self._on_retry, weak=False)

    def close(self) -> None:
        signals.task_retry.disconnect(self._on_retry)

    @property
    def clock(self) -> FakeClock:
        return self._runner.clock

    @property
    def executed(self) -> list[Execution]:
        """Every message run so far in this test, in order."""
        return list(self._runner.executed)

    @property
    def failures(self) -> list[Execution]:
        """The runs that ended in FAILURE."""
        return [e for e in self._runner.executed if e.state == "FAILURE"]

    def _on_retry(self, sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
        when = getattr(reason, "when", None)
        countdown: float | None = None
        eta: datetime | None = None
        if isinstance(when, (int, float)):
            countdown = float(when)
        elif isinstance(when, datetime):
            eta = when
        self.retries.append(
            RetryRecord(
                task=getattr(sender, "name", str(sender)),
                id=str(getattr(request, "id", "")),
                attempt=int(getattr(request, "retries", 0) or 0),
                countdown=countdown,
                eta=eta,
                exception=getattr(reason, "exc", None),
            )
        )

    # ------------------------------------------------------------------ EagerHook
    def takes(self, call: TaskCall) -> bool:
        return call.app is self.app and self._runner.executing == 0 and not self._draining

    def around(self, call: TaskCall, publish: Callable[[], Any]) -> Any:
        __tracebackhide__ = True
        from celery import states
        from celery.backends.base import DisabledBackend
        from celery.result import EagerResult

        if call.via == "send_task" and call.name not in self.app.tasks:
            raise UnknownTaskError(
                _unknown_task_message(self.app, call.name).replace(
                    "a message for task", "send_task() of task"
                )
            )
        result = publish()
        self._draining = True
        try:
            executions = self._runner.run_until_empty(max_tasks=self.max_tasks)
        finally:
            self._draining = False
        task_id = result.id
        if self.app.conf.task_eager_propagates:
            for execution in executions:
                if execution.state == "FAILURE" and execution.exception is not None:
                    raise _with_origin(execution)
        mine = [e for e in executions if e.id == task_id]
        if not mine:
            return result
        final = mine[-1]
        backend = self.app.tasks[final.name].backend if final.name in self.app.tasks else self.app.backend
        if isinstance(backend, DisabledBackend):
            return result  # as in production: .get() and .state raise Celery's NotImplementedError
        state, traceback = final.state, final.traceback
        value = final.result if state == "SUCCESS" else final.exception  # with its hints
        if state not in ("SUCCESS", "FAILURE"):
            # What the worker stored for the message: FAILURE for a Reject without
            # requeue (Celery 5.7), REVOKED, ...; nothing for an ignored task.
            meta = backend.get_task_meta(task_id)
            if meta.get("status") in states.READY_STATES:
                state, value = meta["status"], meta.get("result")
                traceback = meta.get("traceback") or traceback
        return EagerResult(task_id, value, state, traceback=traceback, name=final.name)

    def takes_apply(self, task: Any) -> bool:
        return bool(task._get_app() is self.app)

    def apply(
        self, original: Callable[..., Any], task: Any, args: Any, kwargs: Any, options: dict[str, Any]
    ) -> Any:
        """``task.apply()``: arguments and result round-trip; retries run whatever
        ``throw`` says; what the task sends runs after it."""
        from celery import states
        from celery.result import EagerResult
        from kombu.exceptions import EncodeError

        options = dict(options)
        throw = options.pop("throw", None)
        if self._runner.executing:  # a retry of an applied task: Celery calls apply() again
            with self._runner.executing_scope():
                return original(task, args, kwargs, throw=False, **options)
        if throw is None:
            throw = bool(self.app.conf.task_eager_propagates)
        serializer = str(options.get("serializer") or task.serializer or self.app.conf.task_serializer)
        args, kwargs = _roundtrip_arguments(task.name, serializer, args, kwargs)
        with self._runner.executing_scope():
            result = original(task, args, kwargs, throw=False, **options)
        self._draining = True
        try:
            self._runner.run_until_empty(max_tasks=self.max_tasks)
        finally:
            self._draining = False
        state, value = result.state, result.result
        if state == states.SUCCESS:
            backend = task.backend
            try:
                value = backend.decode(backend.encode(backend.prepare_value(value)))
            except EncodeError as exc:
                serializer = str(getattr(backend, "serializer", None) or self.app.conf.result_serializer)
                add_hint(exc, result_hint(task.name, serializer))
                state, value = states.FAILURE, exc
        if throw and state in states.PROPAGATE_STATES and isinstance(value, BaseException):
            raise value
        return EagerResult(result.id, value, state, traceback=result.traceback, name=task.name)


def _roundtrip_arguments(name: str, serializer: str, args: Any, kwargs: Any) -> tuple[Any, Any]:
    from kombu import serialization
    from kombu.exceptions import EncodeError

    try:
        content_type, encoding, data = serialization.dumps(  # type: ignore[no-untyped-call]
            (list(args or ()), dict(kwargs or {})), serializer
        )
    except EncodeError as exc:
        raise add_hint(exc, argument_hint(name, serializer)) from None
    loaded_args, loaded_kwargs = serialization.loads(  # type: ignore[no-untyped-call]
        data, content_type, encoding, accept=[content_type]
    )
    return loaded_args, loaded_kwargs


def _with_origin(execution: Execution) -> BaseException:
    exc = execution.exception
    assert exc is not None
    origin = (
        f"celery-lint: raised by task {execution.message.signature_repr()} [{execution.id}] "
        "run by celery_eager (task_eager_propagates=True raises it where the task was sent)"
    )
    if execution.traceback:
        origin += ":\n" + execution.traceback.rstrip()
    return add_hint(exc, origin)
