"""``celery_on_commit``: hold ``transaction.on_commit`` callbacks until the test decides.

While the fixture is active, ``django.db.transaction.on_commit`` (what
``delay_on_commit`` and ``apply_async_on_commit`` call) is wrapped:

* inside an atomic block, the callback is still handed to Django, so a rolled-back
  savepoint drops it and a commit by the code itself runs it, as in production;
* outside one (autocommit, where Django would run it at once), it is held.

``commit()`` runs every callback still waiting, as a commit would, and ``rollback()``
drops them. Inside a test transaction that never commits (Django's ``TestCase``,
pytest-django's ``db``), this is the only way the callbacks ever run.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ._intercept import Interceptor, call_text, task_name_of

logger = logging.getLogger("celery_lint.pytest_plugin")


@dataclass(eq=False)
class OnCommitCallback:
    """A callback registered with ``transaction.on_commit``; ``task`` is set when it
    sends a task (``delay_on_commit``, ``apply_async_on_commit``, a partial of
    ``delay``/``apply_async``)."""

    callback: Callable[[], Any]
    using: str | None
    robust: bool
    task: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    state: str = "pending"
    """``pending``, ``committed`` or ``rolled back``."""
    in_atomic: bool = False
    _django_callable: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        if self.task is not None:
            what = call_text(self.task, self.args, self.kwargs)
        else:
            what = getattr(self.callback, "__qualname__", repr(self.callback))
        return f"<OnCommitCallback {what} {self.state}>"


def _describe(entry: OnCommitCallback) -> None:
    func = entry.callback
    if not isinstance(func, functools.partial):
        return
    method = func.func
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if owner is None or name not in ("delay", "apply_async"):
        return
    try:
        entry.task = task_name_of(owner)
    except TypeError:
        return
    if name == "delay":
        entry.args, entry.kwargs = tuple(func.args), dict(func.keywords)
    else:
        call_args = list(func.args)
        args = call_args[0] if call_args else func.keywords.get("args")
        kwargs = call_args[1] if len(call_args) > 1 else func.keywords.get("kwargs")
        entry.args, entry.kwargs = tuple(args or ()), dict(kwargs or {})


class OnCommitCapture:
    """The value of the ``celery_on_commit`` fixture. See ``docs/pytest.md``."""

    def __init__(self, interceptor: Interceptor) -> None:
        transaction = importlib.import_module("django.db.transaction")
        self._interceptor = interceptor
        self._transaction = transaction
        self._original = transaction.on_commit
        self.callbacks: list[OnCommitCallback] = []
        """Every callback registered while the fixture was active, in order."""
        self._patch = pytest.MonkeyPatch()
        self._patch.setattr(transaction, "on_commit", self._on_commit)

    def close(self) -> None:
        self._patch.undo()

    def _on_commit(self, func: Callable[[], Any], using: str | None = None, robust: bool = False) -> None:
        if not callable(func):
            raise TypeError("on_commit()'s callback must be a callable.")
        entry = OnCommitCallback(func, using, robust)
        _describe(entry)
        self.callbacks.append(entry)
        connection = self._transaction.get_connection(using)
        if connection.in_atomic_block:
            entry.in_atomic = True

            def from_django() -> None:
                if entry.state == "pending":
                    self._run(entry)

            entry._django_callable = from_django
            self._original(from_django, using=using, robust=robust)

    def _alive(self, entry: OnCommitCallback) -> bool:
        if entry.state != "pending":
            return False
        if not entry.in_atomic:
            return True
        connection = self._transaction.get_connection(entry.using)
        alive = any(item[1] is entry._django_callable for item in connection.run_on_commit)
        if not alive:
            entry.state = "rolled back"
        return alive

    def _forget(self, entry: OnCommitCallback) -> None:
        if entry.in_atomic:
            connection = self._transaction.get_connection(entry.using)
            connection.run_on_commit = [
                item for item in connection.run_on_commit if item[1] is not entry._django_callable
            ]

    def _run(self, entry: OnCommitCallback) -> None:
        entry.state = "committed"
        self._interceptor.on_commit_depth += 1
        try:
            if entry.robust:
                try:
                    entry.callback()
                except Exception as exc:
                    logger.error("Error calling %r in on_commit() (%s).", entry.callback, exc, exc_info=True)
            else:
                entry.callback()
        finally:
            self._interceptor.on_commit_depth -= 1

    @property
    def pending(self) -> list[OnCommitCallback]:
        """Callbacks waiting for a commit (a savepoint rolled back by the code drops its own)."""
        return [e for e in self.callbacks if self._alive(e)]

    @property
    def tasks(self) -> list[str]:
        """Names of the tasks the pending callbacks would send."""
        return [e.task for e in self.pending if e.task is not None]

    def commit(self) -> list[OnCommitCallback]:
        """Run the pending callbacks in order, as a commit would; returns them."""
        ran = []
        for entry in self.pending:
            self._forget(entry)
            self._run(entry)
            ran.append(entry)
        return ran

    def rollback(self) -> list[OnCommitCallback]:
        """Drop the pending callbacks, as a rollback would; returns them."""
        dropped = []
        for entry in self.pending:
            self._forget(entry)
            entry.state = "rolled back"
            dropped.append(entry)
        return dropped

    def assert_deferred(self, task: Any, *args: Any, **kwargs: Any) -> OnCommitCallback:
        """A send of ``task`` (with exactly these arguments, when given) waits for a commit."""
        name = task_name_of(task)
        for entry in self.pending:
            if entry.task == name and (
                not (args or kwargs) or (entry.args == args and entry.kwargs == kwargs)
            ):
                return entry
        pytest.fail(
            f"no send of '{name}' waits for a commit; pending: {self.pending!r}, "
            f"all callbacks: {self.callbacks!r}",
            pytrace=False,
        )

    def assert_not_deferred(self, task: Any = None) -> None:
        """No send of ``task`` (no callback at all when none is given) waits for a commit."""
        name = task_name_of(task) if task is not None else None
        waiting = [e for e in self.pending if name is None or e.task == name]
        if waiting:
            pytest.fail(f"callbacks wait for a commit: {waiting!r}", pytrace=False)

    def __repr__(self) -> str:
        return f"<celery_on_commit pending={self.pending!r}>"


def django_ready() -> str | None:
    """None when Django is importable and configured; else why not."""
    try:
        django = importlib.import_module("django")
        settings = importlib.import_module("django.conf").settings
    except ImportError:
        return "celery_on_commit needs Django (pip install django)"
    if not settings.configured:
        return "celery_on_commit needs configured Django settings (DJANGO_SETTINGS_MODULE or pytest-django)"
    try:
        apps = importlib.import_module("django.apps").apps
        if not apps.ready:
            django.setup()
    except Exception as exc:  # a broken settings module: say so rather than skip silently
        return f"celery_on_commit: Django is not set up: {type(exc).__name__}: {exc}"
    return None
