"""Run queued messages in the test thread with the worker's own code.

A message is taken from the test broker and handed to what a worker's consumer does with
it: the worker's message-protocol conversion, its ``Request`` class (built with
``create_request_cls``, as the worker builds it), ``task_received``, and a one-slot pool
that calls ``trace_task_ret`` inline, the function prefork children run. So a message is
decoded against ``accept_content``, the result goes through ``result_serializer`` into the
backend, ``link``/chain/chord steps and retries are published as real messages, acks and
rejects happen as on the worker, and ``result.get()`` inside a task raises the worker's
``RuntimeError``. Time is the runner's fake clock: ``app.now()`` reads it, so countdowns,
``eta`` and ``expires`` are computed and honoured against it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from celery import _state, signals
from celery.concurrency.base import BasePool
from celery.exceptions import Ignore, NotRegistered, Reject, Retry, TaskRevokedError

from ._broker import STORE, StoredMessage
from ._clock import FakeClock as FakeClock
from ._clock import _aware as _aware
from ._errors import RefusedMessageError, TaskLoopError, add_hint, result_hint
from ._intercept import call_text, same_call

if TYPE_CHECKING:
    from ._app import AppSwitch

logger = logging.getLogger("celery_lint.pytest_plugin")

DEFAULT_MAX_TASKS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class UnknownTaskError(NotRegistered):  # type: ignore[misc]
    """A message names a task the app does not have (a worker rejects it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown task"

    def __repr__(self) -> str:
        return f"UnknownTaskError({self.__str__()!r})"


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return _aware(value)
    from celery.utils.time import maybe_iso8601

    try:
        parsed = maybe_iso8601(value)
    except (TypeError, ValueError):
        return None
    return _aware(parsed) if isinstance(parsed, datetime) else None


@dataclass(eq=False)
class QueuedTask:
    """A message waiting in the test broker, decoded."""

    name: str
    id: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    queue: str
    exchange: str | None
    routing_key: str | None
    eta: datetime | None
    expires: datetime | None
    published_at: datetime | None
    priority: int | None
    retries: int
    parent_id: str | None
    root_id: str | None
    headers: dict[str, Any]
    content_type: str | None
    entry: StoredMessage = field(repr=False)

    @property
    def countdown(self) -> float | None:
        """Seconds between publishing and the message's ``eta`` (None without an eta)."""
        if self.eta is None or self.published_at is None:
            return None
        return (self.eta - self.published_at).total_seconds()

    def matches(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> bool:
        return same_call(self.args, self.kwargs, args, kwargs)

    def signature_repr(self) -> str:
        return call_text(self.name, self.args, self.kwargs)

    def __repr__(self) -> str:
        extra = [f"queue={self.queue!r}"]
        if self.countdown is not None:
            extra.append(f"countdown={self.countdown:g}s")
        if self.expires is not None:
            extra.append(f"expires={self.expires.isoformat()}")
        if self.retries:
            extra.append(f"retries={self.retries}")
        return f"<QueuedTask {self.signature_repr()} {' '.join(extra)}>"


@dataclass(eq=False)
class Execution:
    """One message the runner executed, and how it ended."""

    message: QueuedTask
    state: str
    """``SUCCESS``, ``FAILURE``, ``RETRY``, ``REVOKED``, ``REJECTED`` or ``IGNORED``."""
    result: Any = None
    """The value stored in the result backend (after ``result_serializer``); None if ignored.
    With no result backend configured, the value the task returned (nothing is stored)."""
    exception: BaseException | None = None
    traceback: str | None = None
    started_at: datetime | None = None
    sent: list[QueuedTask] = field(default_factory=list)
    """Messages published while the task ran (children, callbacks, its own retry)."""

    @property
    def name(self) -> str:
        return self.message.name

    @property
    def id(self) -> str:
        return self.message.id

    @property
    def retries(self) -> int:
        return self.message.retries

    @property
    def retry_message(self) -> QueuedTask | None:
        """The retry this attempt published (same task id), if any."""
        for sent in self.sent:
            if sent.id == self.id and sent.name == self.name:
                return sent
        return None

    def __repr__(self) -> str:
        outcome = self.state
        if self.exception is not None:
            outcome += f" {type(self.exception).__name__}: {self.exception}"
        return f"<Execution {self.message.signature_repr()} -> {outcome}>"


class _InlinePool(BasePool):  # type: ignore[misc]
    """A one-slot pool that runs the job in the calling thread (the solo pool, minus its
    ``worker_process_init`` signal, and letting ``BaseException`` such as pytest's
    outcomes through)."""

    task_join_will_block = True

    def __init__(self) -> None:
        super().__init__(limit=1)
        self._does_debug = False
        self.last: Any = None

    def on_apply(
        self,
        target: Any,
        args: Any = None,
        kwargs: Any = None,
        callback: Any = None,
        accept_callback: Any = None,
        **_: Any,
    ) -> None:
        if accept_callback is not None:
            accept_callback(os.getpid(), time.monotonic())
        ret = target(*(args or ()), **(kwargs or {}))
        self.last = ret
        if callback is not None:
            callback(ret)


class Runner:
    """Executes messages of the test broker for one app, on a fake clock."""

    def __init__(self, switch: AppSwitch) -> None:
        self.switch = switch
        self.app = switch.app
        self.clock = FakeClock(zone=lambda: self.app.timezone)
        self.delivery: Any = None
        """``celery_queue``'s delivery order and rate limits (``_delivery.Delivery``), if any."""
        self.executed: list[Execution] = []
        self.executing = 0
        self._connection: Any = None
        self._channel: Any = None
        self._sent_stack: list[list[StoredMessage]] = []
        self.pool = _InlinePool()
        self.started = False
        self.hostname = _worker_hostname()
        """``request.hostname``: a worker's default node name, ``celery@<host>``."""
        self.cleanups: list[Callable[[], None]] = []
        """Run by ``close()``, last added first."""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.started:
            return
        self.started = True
        STORE.clock = lambda: self.clock.now
        STORE.listeners.append(self._on_put)
        self.switch.install_clock(self.app_now)

    def close(self) -> None:
        while self.cleanups:
            self.cleanups.pop()()
        if self._connection is not None:
            with contextlib.suppress(Exception):  # an in-memory connection; nothing to report
                self._connection.release()
        self._connection = self._channel = None

    def app_now(self) -> datetime:
        return self.clock.now.astimezone(self.app.timezone)

    def _on_put(self, entry: StoredMessage) -> None:
        if self._sent_stack:
            self._sent_stack[-1].append(entry)

    @property
    def channel(self) -> Any:
        if self._channel is None:
            self._connection = self.app.connection_for_read()
            self._channel = self._connection.default_channel
        return self._channel

    @contextmanager
    def executing_scope(self) -> Iterator[list[StoredMessage]]:
        """Mark the thread as running a task: sends are collected, not run."""
        self.executing += 1
        sent: list[StoredMessage] = []
        self._sent_stack.append(sent)
        try:
            yield sent
        finally:
            self._sent_stack.pop()
            self.executing -= 1

    # ------------------------------------------------------------------ reading the broker
    def describe(self, entry: StoredMessage) -> QueuedTask:
        channel = self.channel
        message = channel.Message(entry.raw, channel=channel)
        headers = dict(message.headers or {})
        delivery_info = message.delivery_info or {}
        properties = message.properties or {}
        try:
            body = message.decode()
        except Exception:  # shown, not run: an undecodable body is reported when it runs
            body = None
        if headers.get("task"):
            name = str(headers["task"])
            args, kwargs = ((), {})
            if isinstance(body, (list, tuple)) and len(body) >= 2:
                args, kwargs = tuple(body[0] or ()), dict(body[1] or {})
            elif isinstance(body, dict) and "args" in body:
                args, kwargs = tuple(body.get("args") or ()), dict(body.get("kwargs") or {})
            fields: dict[str, Any] = headers
        else:  # protocol 1: everything is in the body
            fields = body if isinstance(body, dict) else {}
            name = str(fields.get("task", "?"))
            args, kwargs = tuple(fields.get("args") or ()), dict(fields.get("kwargs") or {})
        return QueuedTask(
            name=name,
            id=str(fields.get("id", "")),
            args=args,
            kwargs=kwargs,
            queue=entry.queue,
            exchange=delivery_info.get("exchange"),
            routing_key=delivery_info.get("routing_key"),
            eta=_parse_time(fields.get("eta")),
            expires=_parse_time(fields.get("expires")),
            published_at=entry.published_at,
            priority=properties.get("priority"),
            retries=int(fields.get("retries") or 0),
            parent_id=fields.get("parent_id"),
            root_id=fields.get("root_id"),
            headers=headers,
            content_type=message.content_type,
            entry=entry,
        )

    def waiting(self, queues: Iterable[str] | None = None) -> list[StoredMessage]:
        wanted = set(queues) if queues is not None else None
        return [e for e in STORE.snapshot() if wanted is None or e.queue in wanted]

    def eta_of(self, entry: StoredMessage) -> datetime | None:
        headers = entry.raw.get("headers") or {}
        if headers.get("task"):
            return _parse_time(headers.get("eta"))
        return self.describe(entry).eta

    def is_due(self, entry: StoredMessage) -> bool:
        eta = self.eta_of(entry)
        return eta is None or eta <= self.clock.now

    def next_due(self, queues: Iterable[str] | None = None) -> StoredMessage | None:
        if self.delivery is not None:
            chosen: StoredMessage | None = self.delivery.next_due(
                [e for e in self.waiting(queues) if self.is_due(e)]
            )
            return chosen
        for entry in self.waiting(queues):
            if self.is_due(entry):
                return entry
        return None

    def ready_at(self, entry: StoredMessage) -> datetime | None:
        """When a waiting message can run: its ``eta``, or later under a rate limit."""
        eta = self.eta_of(entry)
        free = self.delivery.free_at(entry) if self.delivery is not None else None
        return max((t for t in (eta, free) if t is not None), default=None)

    # ------------------------------------------------------------------ running
    def run_next(self, queues: Iterable[str] | None = None) -> Execution | None:
        entry = self.next_due(queues)
        return None if entry is None else self.run_entry(entry)

    def run_all(
        self, queues: Iterable[str] | None = None, max_tasks: int = DEFAULT_MAX_TASKS
    ) -> list[Execution]:
        queues = list(queues) if queues is not None else None
        done: list[Execution] = []
        while True:
            entry = self.next_due(queues)
            if entry is None:
                return done
            self._check_loop(done, max_tasks)
            done.append(self.run_entry(entry))

    def run_until_empty(
        self, queues: Iterable[str] | None = None, max_tasks: int = DEFAULT_MAX_TASKS
    ) -> list[Execution]:
        queues = list(queues) if queues is not None else None
        done: list[Execution] = []
        while True:
            entry = self.next_due(queues)
            if entry is None:
                etas = [eta for eta in (self.ready_at(e) for e in self.waiting(queues)) if eta is not None]
                if not etas:
                    return done
                self.clock.advance_to(min(etas))
                continue
            self._check_loop(done, max_tasks)
            done.append(self.run_entry(entry))

    def _check_loop(self, done: list[Execution], max_tasks: int) -> None:
        if len(done) < max_tasks:
            return
        counts = Counter(e.name for e in done)
        top = ", ".join(f"{name} x{count}" for name, count in counts.most_common(5))
        retrying = sum(1 for e in done if e.state == "RETRY")
        raise TaskLoopError(
            f"ran {len(done)} tasks without the queue running dry ({top}; {retrying} retries): "
            "a task keeps sending itself or retrying. Bound it (max_retries, a countdown that "
            "grows: CEL301/CEL304) or raise max_tasks if this many are expected"
        )

    def run_entry(self, entry: StoredMessage, redelivered: bool = False) -> Execution:
        from celery.utils.imports import symbol_by_name
        from celery.worker.request import create_request_cls
        from celery.worker.state import revoked
        from celery.worker.strategy import hybrid_to_proto2, proto1_to_proto2
        from kombu.exceptions import ContentDisallowed, DecodeError

        STORE.take(entry)
        app = self.app
        channel = self.channel
        if redelivered:
            entry = _redelivered_copy(entry)
        queued = self.describe(entry)
        message = channel.Message(entry.raw, channel=channel)
        channel.qos.append(message, message.delivery_tag)
        from kombu.serialization import prepare_accept_content

        message.accept = prepare_accept_content(app.conf.accept_content)  # type: ignore[no-untyped-call]
        task = app.tasks.get(queued.name)
        if task is None:
            message.reject(requeue=False)
            raise UnknownTaskError(_unknown_task_message(app, queued.name))
        try:
            if message.headers.get("task"):
                payload = message.payload
                if "args" in payload:
                    body, headers, decoded, utc = hybrid_to_proto2(message, payload)
                else:
                    body, headers, decoded, utc = (
                        message.body,
                        message.headers,
                        False,
                        app.uses_utc_timezone(),
                    )
            else:
                body, headers, decoded, utc = proto1_to_proto2(message, message.decode())
        except (ContentDisallowed, DecodeError) as exc:
            message.reject(requeue=False)
            accepted = sorted(app.conf.accept_content or ())
            raise RefusedMessageError(
                f"a worker refuses the message of '{queued.name}' ({message.content_type}): {exc}; "
                f"accept_content is {accepted}. A pickle message is CEL103 unsafe-serializer-option"
            ) from exc

        request_cls = create_request_cls(
            symbol_by_name(task.Request), task, self.pool, None, None, app=app, trace=_trace_task_ret
        )
        request = request_cls(
            message,
            on_ack=lambda log, errors: message.ack_log_error(log, errors),
            on_reject=lambda log, errors, requeue: message.reject_log_error(log, errors, requeue=requeue),
            app=app,
            hostname=self.hostname,
            eventer=None,
            task=task,
            connection_errors=self._connection.connection_errors if self._connection else (),
            body=body,
            headers=headers,
            decoded=decoded,
            utc=utc,
        )
        execution = Execution(message=queued, state="PENDING", started_at=self.clock.now)
        if request.expires is not None:
            if self.clock.now > request.expires:
                # Let the worker's own expiry path run, against the fake clock's verdict.
                request.expires = _EPOCH
                try:
                    request.revoked()
                finally:
                    revoked.discard(request.id)
                execution.state = "REVOKED"
                execution.exception = TaskRevokedError("expired")
                self.executed.append(execution)
                return execution
            request.expires = None  # the worker's own check reads the real clock

        signals.task_received.send(sender=None, request=request)
        previous_block = _state.task_join_will_block()
        previous_app = getattr(_state._tls, "current_app", None)
        self.pool.last = None
        returned = _ReturnValue(task) if _backend_disabled(task) else None
        with self.executing_scope() as sent:
            _state._set_task_join_will_block(True)
            app.set_current()
            try:
                request.execute_using_pool(self.pool)
            except TaskRevokedError as exc:
                execution.state = "REVOKED"
                execution.exception = exc
            finally:
                _state._set_task_join_will_block(previous_block)
                _state._set_current_app(previous_app)
                if returned is not None:
                    returned.close()
        execution.sent = [self.describe(e) for e in sent]
        ret = self.pool.last
        if execution.state != "REVOKED" and ret is not None:
            failed, retval, _runtime = ret
            if not failed:
                execution.state = "SUCCESS"
                if returned is not None:  # no result backend: nothing stored, nothing encoded
                    execution.result = returned.value
                elif not request.ignore_result:
                    meta = task.backend.get_task_meta(request.id)
                    execution.result = meta.get("result")
            else:
                error = retval.exception
                if isinstance(error, importlib.import_module("billiard.einfo").ExceptionWithTraceback):
                    error = error.exc
                execution.exception = error
                execution.traceback = getattr(retval, "traceback", None)
                if isinstance(error, Retry):
                    execution.state = "RETRY"
                elif isinstance(error, Reject):
                    execution.state = "REJECTED"
                elif isinstance(error, Ignore):
                    execution.state = "IGNORED"
                else:
                    execution.state = "FAILURE"
                    _maybe_result_hint(error, task, app)
        elif execution.state != "REVOKED":
            execution.state = "FAILURE"
            execution.exception = RuntimeError(f"'{queued.name}' did not report an outcome")
        self.executed.append(execution)
        return execution


def _worker_hostname() -> str:
    from celery.utils.nodenames import default_nodename

    return str(default_nodename(None))


def _backend_disabled(task: Any) -> bool:
    from celery.backends.base import DisabledBackend

    return isinstance(task.backend, DisabledBackend)


class _ReturnValue:
    """The value a task returned, read from ``task_success`` (a disabled backend keeps none)."""

    def __init__(self, task: Any) -> None:
        self.task = task
        self.value: Any = None
        signals.task_success.connect(self._on_success, weak=False)

    def _on_success(self, sender: Any = None, result: Any = None, **_: Any) -> None:
        if sender is self.task:
            self.value = result

    def close(self) -> None:
        signals.task_success.disconnect(self._on_success)


def _trace_task_ret(*args: Any, **kwargs: Any) -> Any:
    from celery.app.trace import trace_task_ret

    return trace_task_ret(*args, **kwargs)


def _redelivered_copy(entry: StoredMessage) -> StoredMessage:
    import copy

    raw = copy.deepcopy(entry.raw)
    properties = raw.setdefault("properties", {})
    delivery_info = dict(properties.get("delivery_info") or {})
    delivery_info["redelivered"] = True
    properties["delivery_info"] = delivery_info
    raw["redelivered"] = True
    return StoredMessage(entry.seq, entry.queue, raw, entry.published_at)


def _maybe_result_hint(exc: BaseException, task: Any, app: Any) -> None:
    from kombu.exceptions import EncodeError

    if not isinstance(exc, EncodeError):
        return
    notes = getattr(exc, "__notes__", None) or []
    if any("celery-lint" in note for note in notes) or "celery-lint" in str(exc):
        return  # the argument hint of a child send made inside the task
    serializer = getattr(task.backend, "serializer", None) or app.conf.result_serializer
    add_hint(exc, result_hint(task.name, str(serializer)))


def _unknown_task_message(app: Any, name: str) -> str:
    import difflib

    names = [n for n in app.tasks if not n.startswith("celery.")]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (
        f"a message for task '{name}' is in the queue, but app '{app.main}' has no task of "
        f"that name: a worker rejects it and the caller never gets a result.{hint}"
    )
