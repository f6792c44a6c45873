"""One interception point for every task send of a test.

``Task.apply_async``, ``Task.apply`` and ``Celery.send_task`` are wrapped for the length of
one test, class-wide, so that calls made through any app, in any mode (publish, Celery's
own eager mode, a worker thread) pass here. The fixtures plug into it: the recorder of
``celery_tasks`` sees every call, its block mode stops them, ``celery_lint_app``'s guard
refuses publishes to a real broker and ``celery_eager`` runs what is sent.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest

from ._errors import add_hint, argument_hint

_APPLY_ASYNC_POSITIONAL = ("task_id", "producer", "link", "link_error", "shadow")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _held_result(app: Any, task_id: str, name: str, task: Any) -> Any:
    """The ``PENDING`` result of a blocked call. From the app's result backend when that is
    the test's in-memory one (or none); else from an in-memory backend of its own: a call
    ``celery_tasks`` holds never reaches the project's real result backend (nor needs its
    client library installed), with or without ``celery_lint_app``."""
    url = app.conf.result_backend
    if not url or (isinstance(url, str) and url.startswith(("cache+memory:", "memory:"))):
        if task is not None:
            return task.AsyncResult(task_id)
        return app.AsyncResult(task_id, task_name=name)
    from celery.backends.cache import CacheBackend
    from celery.result import AsyncResult

    return AsyncResult(task_id, backend=CacheBackend(app=app, url="memory://"), task_name=name, app=app)


@dataclass(eq=False)
class TaskCall:
    """One ``apply_async``/``delay``/``send_task`` call, as the caller made it."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    via: str
    """``'apply_async'`` (also ``delay()`` and canvas sends), ``'send_task'`` or ``'retry'``."""
    task: Any = None
    app: Any = None
    caller: str = ""
    """``file:line`` of the code that made the call (outside Celery and kombu)."""
    on_commit: bool = False
    """True when the call ran from a ``transaction.on_commit`` callback of ``celery_on_commit``."""
    blocked: bool = False
    """True when ``celery_tasks.block()`` kept the call from being sent."""
    result: Any = None
    error: BaseException | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def task_id(self) -> str | None:
        if self.result is not None:
            return str(self.result.id)
        task_id = self.options.get("task_id")
        return None if task_id is None else str(task_id)

    def matches(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        return same_call(self.args, self.kwargs, args, kwargs)

    def signature_repr(self) -> str:
        return call_text(self.name, self.args, self.kwargs)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.options.items() if v is not None and k not in ("task_type",)}
        flags = [f"via={self.via}"]
        if shown:
            flags.append(f"options={shown!r}")
        if self.blocked:
            flags.append("blocked")
        if self.on_commit:
            flags.append("on_commit")
        return f"<TaskCall {self.signature_repr()} {' '.join(flags)}>"


class EagerHook(Protocol):
    def takes(self, call: TaskCall) -> bool: ...

    def around(self, call: TaskCall, publish: Callable[[], Any]) -> Any: ...

    def takes_apply(self, task: Any) -> bool: ...

    def apply(
        self, original: Callable[..., Any], task: Any, args: Any, kwargs: Any, options: dict[str, Any]
    ) -> Any: ...


Guard = Callable[[Any, str, dict[str, Any]], None]


def call_text(name: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> str:
    """``name(1, 2, key='value')``: a task call as the plugin's messages show it."""
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def same_call(
    args: Iterable[Any],
    kwargs: Mapping[str, Any],
    wanted_args: Iterable[Any] | None,
    wanted_kwargs: Mapping[str, Any] | None,
) -> bool:
    """Whether a call's arguments are the wanted ones (None: any)."""
    if wanted_args is not None and tuple(args) != tuple(wanted_args):
        return False
    return wanted_kwargs is None or dict(kwargs) == dict(wanted_kwargs)


def task_name_of(task: Any) -> str:
    """A task's name from a task, a ``shared_task`` proxy, a signature or a name."""
    if isinstance(task, str):
        return task
    name = getattr(task, "name", None)
    if isinstance(name, str):
        return name
    if isinstance(task, dict) and isinstance(task.get("task"), str):
        return str(task["task"])
    raise TypeError(f"expected a task, a task name or a signature, got {task!r}")


def caller_location() -> str:
    """``file:line`` of the first frame outside Celery, kombu and this plugin."""
    frame = sys._getframe(2)
    skipped = ("celery", "kombu", "vine", "billiard")
    while frame is not None:
        filename = frame.f_code.co_filename
        module = frame.f_globals.get("__name__", "")
        top = module.split(".", 1)[0]
        if (
            top not in skipped
            and not os.path.abspath(filename).startswith(_PACKAGE_DIR)
            and module not in ("functools", "contextlib")
        ):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return ""


def serializer_for(task: Any, app: Any, options: dict[str, Any]) -> str:
    return str(
        options.get("serializer")
        or (getattr(task, "serializer", None) if task is not None else None)
        or app.conf.task_serializer
    )


def check_serializable(call: TaskCall, serializer: str) -> None:
    """Raise the ``EncodeError`` publishing would raise for these arguments, with a hint."""
    from kombu import serialization
    from kombu.exceptions import EncodeError

    try:
        serialization.dumps((list(call.args), dict(call.kwargs)), serializer)  # type: ignore[no-untyped-call]
    except EncodeError as exc:
        raise add_hint(exc, argument_hint(call.name, serializer)) from None


class Interceptor:
    """The wrapped send methods of one test, and what the fixtures plugged into them."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self._patch = pytest.MonkeyPatch()
        self.calls: list[TaskCall] = []
        self.block_all = False
        self.blocked_names: set[str] = set()
        self.guards: list[Guard] = []
        self.eager: EagerHook | None = None
        self.on_commit_depth = 0
        self.installed = False

    # ------------------------------------------------------------------ install
    def install(self) -> None:
        from celery.app.base import Celery
        from celery.app.task import Task

        hooks = self
        original_apply_async = Task.apply_async
        original_apply = Task.apply
        original_send_task = Celery.send_task
        send_task_signature = inspect.signature(original_send_task)

        def apply_async(task: Any, args: Any = None, kwargs: Any = None, *rest: Any, **options: Any) -> Any:
            __tracebackhide__ = True
            for name, value in zip(_APPLY_ASYNC_POSITIONAL, rest, strict=False):
                options[name] = value
            return hooks._apply_async(original_apply_async, task, args, kwargs, options)

        def apply(task: Any, args: Any = None, kwargs: Any = None, *rest: Any, **options: Any) -> Any:
            __tracebackhide__ = True
            for name, value in zip(("link", "link_error", "task_id", "retries", "throw"), rest, strict=False):
                options[name] = value
            eager = hooks.eager
            if eager is not None and eager.takes_apply(task):
                return eager.apply(original_apply, task, args, kwargs, options)
            return original_apply(task, args, kwargs, **options)

        def send_task(app: Any, *a: Any, **kw: Any) -> Any:
            __tracebackhide__ = True
            bound = send_task_signature.bind(app, *a, **kw)
            arguments = dict(bound.arguments)
            arguments.pop("self", None)
            extra = arguments.pop("options", {})
            name = arguments.pop("name")
            args = arguments.pop("args", None)
            kwargs = arguments.pop("kwargs", None)
            options = {**arguments, **extra}
            return hooks._send_task(original_send_task, app, name, args, kwargs, options)

        for wrapper, original in ((apply_async, original_apply_async), (apply, original_apply)):
            wrapper.__doc__ = original.__doc__
            wrapper.__wrapped__ = original  # type: ignore[attr-defined]
        send_task.__doc__ = original_send_task.__doc__
        send_task.__wrapped__ = original_send_task  # type: ignore[attr-defined]
        self._patch.setattr(Task, "apply_async", apply_async)
        self._patch.setattr(Task, "apply", apply)
        self._patch.setattr(Celery, "send_task", send_task)
        self.installed = True

    def uninstall(self) -> None:
        self._patch.undo()
        self.installed = False

    # ------------------------------------------------------------------ state
    @property
    def apply_depth(self) -> int:
        return int(getattr(self._local, "apply_depth", 0))

    def is_blocked(self, name: str) -> bool:
        return self.block_all or name in self.blocked_names

    def block(self, names: Iterable[str]) -> None:
        names = list(names)
        with self._lock:
            if names:
                self.blocked_names.update(names)
            else:
                self.block_all = True

    def unblock(self, names: Iterable[str]) -> None:
        names = list(names)
        with self._lock:
            if names:
                self.blocked_names.difference_update(names)
            else:
                self.block_all = False
                self.blocked_names.clear()

    def _record(self, call: TaskCall) -> None:
        with self._lock:
            self.calls.append(call)

    def _guard(self, app: Any, name: str, options: dict[str, Any]) -> None:
        __tracebackhide__ = True
        for guard in list(self.guards):
            guard(app, name, options)

    # ------------------------------------------------------------------ wrapped calls
    def _apply_async(
        self, original: Callable[..., Any], task: Any, args: Any, kwargs: Any, options: dict[str, Any]
    ) -> Any:
        __tracebackhide__ = True
        app = task._get_app()
        call = TaskCall(
            name=task.name,
            args=tuple(args) if args else (),
            kwargs=dict(kwargs) if kwargs else {},
            options={k: v for k, v in options.items() if k not in ("producer", "connection")},
            via="retry" if options.get("retries") else "apply_async",
            task=task,
            app=app,
            caller=caller_location(),
            on_commit=self.on_commit_depth > 0,
        )
        self._record(call)
        if self.is_blocked(call.name):
            check_serializable(call, serializer_for(task, app, options))
            call.blocked = True
            call.result = _held_result(app, options.get("task_id") or _uuid(), call.name, task)
            return call.result

        def publish() -> Any:
            __tracebackhide__ = True
            try:
                return original(task, args, kwargs, **options)
            except Exception as exc:
                _maybe_argument_hint(exc, call, serializer_for(task, app, options))
                raise

        depth = self.apply_depth
        self._local.apply_depth = depth + 1
        try:
            eager = self.eager
            result = eager.around(call, publish) if eager is not None and eager.takes(call) else publish()
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            self._local.apply_depth = depth
        call.result = result
        return result

    def _send_task(
        self,
        original: Callable[..., Any],
        app: Any,
        name: str,
        args: Any,
        kwargs: Any,
        options: dict[str, Any],
    ) -> Any:
        __tracebackhide__ = True
        if options.get("task_type") is not None and self.apply_depth > 0:
            # Task.apply_async publishing: recorded there already.
            self._guard(app, name, options)
            return original(app, name, args, kwargs, **options)
        registry = getattr(app, "_tasks", None)
        task = registry.get(name) if registry is not None else None
        call = TaskCall(
            name=name,
            args=tuple(args) if args else (),
            kwargs=dict(kwargs) if kwargs else {},
            options={k: v for k, v in options.items() if k not in ("producer", "connection")},
            via="send_task",
            task=task,
            app=app,
            caller=caller_location(),
            on_commit=self.on_commit_depth > 0,
        )
        self._record(call)
        if self.is_blocked(name):
            check_serializable(call, serializer_for(task, app, options))
            call.blocked = True
            call.result = _held_result(app, options.get("task_id") or _uuid(), name, None)
            return call.result

        def publish() -> Any:
            __tracebackhide__ = True
            self._guard(app, name, options)
            try:
                return original(app, name, args, kwargs, **options)
            except Exception as exc:
                _maybe_argument_hint(exc, call, serializer_for(task, app, options))
                raise

        try:
            eager = self.eager
            result = eager.around(call, publish) if eager is not None and eager.takes(call) else publish()
        except BaseException as exc:
            call.error = exc
            raise
        call.result = result
        return result


def _maybe_argument_hint(exc: BaseException, call: TaskCall, serializer: str) -> None:
    from kombu.exceptions import EncodeError

    if isinstance(exc, EncodeError):
        add_hint(exc, argument_hint(call.name, serializer))


def _uuid() -> str:
    from celery.utils import uuid

    return str(uuid())
