"""``celery_lint_app``: the project's own app, switched to in-memory for one test.

The switch writes the test settings into ``app.conf`` (every spelling the app could read
them under), drops the app's cached connection pool, AMQP helper and result backend, and
clears what bound tasks cached from the old settings: the tracer (which holds the result
backend) and the execution options. Task attributes that came from the configuration
(``Task.from_config``: ``acks_late``, ``time_limit``, ``serializer``, ...) are set again
for every setting the test overrides. Teardown puts all of it back.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._broker import STORE, TRANSPORT_PATH
from ._errors import ConfigurationError, PublishedOutsideTestBroker

if TYPE_CHECKING:
    from ._audit import AuditReport
    from ._intercept import Interceptor

_MISSING = object()

# Celery reads these environment variables before app.conf (celery/app/utils.py Settings).
BROKER_ENVIRONMENT = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
)

TEST_SETTINGS: dict[str, Any] = {
    "broker_url": "memory://localhost//",
    "broker_read_url": None,
    "broker_write_url": None,
    "broker_transport": TRANSPORT_PATH,
    "broker_transport_options": {"polling_interval": 0.05},
    "broker_use_ssl": False,
    "result_backend": None,  # TEST_RESULT_BACKEND when the project (or the test) has one
    "result_backend_transport_options": {},
}
TEST_RESULT_BACKEND = "cache+memory://"

# Instance attributes a bound task caches from the app it runs on.
_TASK_INSTANCE_CACHES = ("__trace__", "_exec_options")
# What ``config_from_object`` replaces: the app's settings object and where they came from.
_APP_CONFIG_ATTRS = ("_conf", "_config_source", "_config_source_silent", "namespace", "configured")
_LOADER_CONFIG_ATTRS = ("_conf", "override_backends")

_LOAD_LOCK = threading.Lock()


def load_app(spec: str) -> Any:
    """The Celery app named by ``spec``, as ``celery -A`` finds it, finalized with every
    module a worker would import (``imports``, ``include``, autodiscovery)."""
    from celery.app.utils import find_app

    with _LOAD_LOCK:
        try:
            app = find_app(spec)
        except Exception as exc:  # ImportError, AttributeError, or the module's own error
            raise ConfigurationError(
                f"celery_lint_app = {spec!r}: cannot load the Celery app: {type(exc).__name__}: {exc}"
            ) from exc
        from celery import Celery

        if not isinstance(app, Celery):
            raise ConfigurationError(f"celery_lint_app = {spec!r} is {type(app).__name__}, not a Celery app")
        if not getattr(app, "_celery_lint_loaded", False):
            try:
                app.loader.import_default_modules()
                app.finalize(auto=True)
            except Exception as exc:
                raise ConfigurationError(
                    f"celery_lint_app = {spec!r}: importing the app's task modules failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            app._celery_lint_loaded = True
        return app


def _has_backend(setting: Any) -> bool:
    """Whether a ``result_backend`` value configures a backend (not Celery's disabled one)."""
    if setting is None or setting is False:
        return False
    return not (isinstance(setting, str) and setting.strip().lower() in ("", "disabled", "disabled://"))


def _connection_url(connection: Any) -> str:
    try:
        return str(connection.as_uri())
    except Exception:  # a half-configured connection object: show what it is
        return repr(connection)


def _is_memory_transport(transport: Any, url: str) -> bool:
    """Whether a publish with this transport setting and URL stays in process memory."""
    from kombu.transport.memory import Transport as MemoryTransport

    if transport is None or transport == "":
        head = url.split("://", 1)[0] if "://" in url else url
        transport = head.split("+", 1)[0]
    if isinstance(transport, type):
        return issubclass(transport, MemoryTransport)
    if transport == TRANSPORT_PATH or transport == "memory":
        return True
    if isinstance(transport, str) and (":" in transport or "." in transport):
        try:
            from kombu.transport import get_transport_cls

            resolved = get_transport_cls(transport)
        except Exception:  # cannot be imported: certainly not the test broker
            return False
        return isinstance(resolved, type) and issubclass(resolved, MemoryTransport)
    return False


class AppSwitch:
    """Switches one app to the test broker and back. See the module docstring."""

    def __init__(self, app: Any, interceptor: Interceptor, overrides: Mapping[str, Any]) -> None:
        self.app = app
        self.interceptor = interceptor
        self.overrides = dict(overrides)
        self.patch = pytest.MonkeyPatch()
        self.violations: list[str] = []
        self._conf_snapshot: dict[str, Any] = {}
        # The project's settings whose value is a dict, list or set: the object and a deep
        # copy of its content (a test may change it in place: conf.task_routes["x"] = ...).
        self._containers: list[tuple[Any, Any]] = []
        self._app_state: dict[str, Any] = {}
        # Per task: the task, its class's own attributes, its instance attributes.
        self._task_state: dict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = {}
        self._tasks_before: set[str] = set()
        self.original_conf: Any = None
        self.runner: Any = None
        self.root: Path | None = None
        self.mode: str | None = None

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        from celery import _state

        app = self.app
        conf = app.conf
        conf.finalize()
        self.original_conf = conf.copy()
        self._conf_snapshot = dict(conf.changes)
        self._containers = _container_snapshot(self.original_conf.values())
        state = self._app_state
        state["_pool"] = app._pool
        state["amqp"] = app.__dict__.get("amqp", _MISSING)
        state["timezone"] = app.__dict__.get("timezone", _MISSING)
        state["_backend_cache"] = app._backend_cache
        state["local_backend"] = getattr(app._local, "backend", _MISSING)
        state["default_app"] = _state.default_app
        state["current_app"] = getattr(_state._tls, "current_app", None)
        state["join_will_block"] = _state.task_join_will_block()
        state["config"] = {attr: app.__dict__.get(attr, _MISSING) for attr in _APP_CONFIG_ATTRS}
        state["loader"] = {attr: app.loader.__dict__.get(attr, _MISSING) for attr in _LOADER_CONFIG_ATTRS}

        old_values = {key: conf.get(key) for key in self.overrides}
        settings = {**TEST_SETTINGS, **self.overrides}
        # The project's choice of result backend stays: with none configured (or a test
        # turning it off), Celery's disabled backend raises where production does.
        wanted = self.overrides.get("result_backend", conf.result_backend)
        settings["result_backend"] = TEST_RESULT_BACKEND if _has_backend(wanted) else None
        for key, value in settings.items():
            self.set_setting(key, value)
        for name in BROKER_ENVIRONMENT:
            self.patch.delenv(name, raising=False)
        self._drop_caches()

        self._tasks_before = set(app.tasks)
        for name, task in list(app.tasks.items()):
            self._snapshot_task(name, task)
        self._rederive_task_options(old_values)
        for task in app.tasks.values():
            self._clear_task_caches(task)

        app.set_current()
        app.set_default()
        STORE.reset()
        self.interceptor.guards.append(self.guard)
        self.patch.setattr(app, "audit", self.audit, raising=False)

    def set_setting(self, key: str, value: Any) -> None:
        """Set ``key`` in every spelling ``app.conf`` could answer it from."""
        conf = self.app.conf
        changes = conf.changes
        for spelling in conf._to_keys(key):
            if spelling in changes:
                changes[spelling] = value
        conf[key] = value

    def _drop_caches(self) -> None:
        app = self.app
        app._pool = None
        app.__dict__.pop("amqp", None)
        app.__dict__.pop("timezone", None)
        app._backend_cache = None
        if hasattr(app._local, "backend"):
            del app._local.backend

    def _snapshot_task(self, name: str, task: Any) -> None:
        # Every attribute, not only the ones the plugin changes: a test may write any of
        # them (``task.acks_late = True``) and the next test must see the project's task.
        class_values = {attr: value for attr, value in vars(type(task)).items() if attr not in _SLOTS}
        self._task_state[name] = (task, class_values, dict(vars(task)))
        # A dict, list or set attribute changed in place (task.retry_kwargs["x"] = ...), on
        # the task, its class or a project base class: its content is put back too.
        from celery import Task

        owners = [task, *(cls for cls in type(task).__mro__ if cls not in Task.__mro__)]
        self._containers.extend(_container_snapshot(v for owner in owners for v in _own_values(owner)))

    @staticmethod
    def _clear_task_caches(task: Any) -> None:
        for attr in _TASK_INSTANCE_CACHES:
            task.__dict__.pop(attr, None)
        type(task)._exec_options = None

    def _rederive_task_options(self, old_values: Mapping[str, Any]) -> None:
        """Give tasks the overridden settings where their attribute came from the old one.

        Celery copies a setting into a task attribute when the task is bound, and only when
        the attribute was ``None``; after that the two cannot be told apart, so an attribute
        equal to the old setting is taken to come from it.
        """
        if not self.overrides:
            return
        conf = self.app.conf
        for task, _, _ in self._task_state.values():
            cls = type(task)
            for attr, setting in cls.from_config:
                if setting not in self.overrides:
                    continue
                inherited = any(getattr(base, attr, None) is not None for base in cls.__mro__[1:])
                current = cls.__dict__.get(attr, _MISSING)
                if current is _MISSING and inherited:
                    continue
                if current is _MISSING or current == old_values.get(setting):
                    setattr(cls, attr, conf[setting])

    def install_clock(self, now: Callable[[], Any]) -> None:
        self.patch.setattr(self.app, "now", now, raising=False)

    # ------------------------------------------------------------------ guard
    def guard(self, app: Any, name: str, options: dict[str, Any]) -> None:
        """Refuse a publish that would leave the test's in-memory broker."""
        __tracebackhide__ = True
        connection = options.get("connection")
        producer = options.get("producer")
        if producer is not None:
            connection = getattr(producer, "connection", None) or connection
        if connection is not None:
            transport, url = getattr(connection, "transport_cls", None), _connection_url(connection)
            reason = "through a connection or producer passed to the call"
        else:
            # Read the settings, not app.connection_for_write(): building a connection
            # imports the transport, which may need a client library the tests lack.
            conf = app.conf
            url = str(conf.broker_write_url or "amqp://")
            transport = conf.broker_transport
            reason = (
                "by the project app itself" if app is self.app else f"by another Celery app, '{app.main}'"
            )
        if _is_memory_transport(transport, url):
            return
        from kombu.utils.url import maybe_sanitize_url

        message = (
            f"task '{name}' was published to {maybe_sanitize_url(url)} {reason}, not to the test's "
            f"in-memory broker: celery_lint_app switches only the app '{self.app.main}'. Bind the "
            "task to that app (or use @shared_task), or drop the explicit connection."
        )
        self.violations.append(message)
        raise PublishedOutsideTestBroker(message)

    # ------------------------------------------------------------------ audit
    def audit(
        self,
        *,
        select: Any = None,
        ignore: Any = (),
        tasks: Any = None,
        known: bool = False,
    ) -> AuditReport:
        """Check every registered task's real effective options with celery-lint's rules.

        See ``docs/pytest.md`` (``celery_lint_app.audit()``).
        """
        from ._audit import audit_app

        return audit_app(
            self.app,
            self.original_conf,
            {name: self._original_task_values(name) for name in self._task_state},
            root=self.root,
            select=select,
            ignore=ignore,
            tasks=tasks,
            known=known,
        )

    def _original_task_values(self, name: str) -> dict[str, Any]:
        task, class_values, _ = self._task_state[name]
        cls = type(task)
        values: dict[str, Any] = {}
        for attr, _setting in cls.from_config:
            original = class_values.get(attr, _MISSING)
            values[attr] = getattr(cls, attr, None) if original is _MISSING else original
        return values

    # ------------------------------------------------------------------ teardown
    def teardown(self) -> None:
        from celery import _state

        app = self.app
        if self.guard in self.interceptor.guards:
            self.interceptor.guards.remove(self.guard)
        for name in set(app.tasks) - self._tasks_before:
            app.tasks.pop(name, None)
        for task, class_values, instance_values in self._task_state.values():
            _restore_attributes(type(task), class_values)
            _restore_attributes(task, instance_values)
        state = self._app_state
        # A test's config_from_object() replaced the settings object: put the project's back.
        for attr, value in state["config"].items():
            _put_back(app, attr, value)
        for attr, value in state["loader"].items():
            _put_back(app.loader, attr, value)
        changes = app.conf.changes
        changes.clear()
        changes.update(self._conf_snapshot)
        for value, content in self._containers:
            _restore_content(value, content)
        app._pool = state["_pool"]
        for key in ("amqp", "timezone"):
            if state[key] is _MISSING:
                app.__dict__.pop(key, None)
            else:
                app.__dict__[key] = state[key]
        app._backend_cache = state["_backend_cache"]
        if state["local_backend"] is _MISSING:
            if hasattr(app._local, "backend"):
                del app._local.backend
        else:
            app._local.backend = state["local_backend"]
        _state.set_default_app(state["default_app"])
        _state._set_current_app(state["current_app"])
        _state._set_task_join_will_block(state["join_will_block"])
        self.patch.undo()
        STORE.reset()


_CONTAINERS = (dict, list, set)


def _own_values(owner: Any) -> list[Any]:
    try:
        return list(vars(owner).values())
    except TypeError:
        return []


def _container_snapshot(values: Iterable[Any]) -> list[tuple[Any, Any]]:
    """Each value that is a plain dict, list or set, with a deep copy of its
    content (values that cannot be copied are left out: they stay as the test leaves them)."""
    seen: set[int] = set()
    out = []
    for value in values:
        if type(value) not in _CONTAINERS or id(value) in seen:
            continue
        seen.add(id(value))
        try:
            out.append((value, copy.deepcopy(value)))
        except Exception:  # an uncopyable value (a lock, a module) is not restored
            continue
    return out


def _restore_content(value: Any, content: Any) -> None:
    """Put ``content`` back into the container ``value`` where a test changed it in place."""
    try:
        if value == content:
            return
    except Exception:  # an element whose comparison fails: restore anyway
        pass
    fresh = copy.deepcopy(content)
    if isinstance(value, list):
        value[:] = fresh
    else:
        value.clear()
        value.update(fresh)


# Attributes of every class that cannot be set or deleted.
_SLOTS = frozenset({"__dict__", "__weakref__"})


def _put_back(owner: Any, attr: str, value: Any) -> None:
    if value is _MISSING:
        owner.__dict__.pop(attr, None)
    else:
        owner.__dict__[attr] = value


def _restore_attributes(owner: Any, snapshot: Mapping[str, Any]) -> None:
    """Give ``owner`` (a task class or instance) back the attributes of ``snapshot``."""
    current = vars(owner)
    for attr in [attr for attr in current if attr not in snapshot and attr not in _SLOTS]:
        delattr(owner, attr)
    for attr, value in snapshot.items():
        if current.get(attr, _MISSING) is not value:
            setattr(owner, attr, value)


def resolve_app_spec(config: pytest.Config) -> str | None:
    value = config.getoption("celery_lint_app", default=None)
    if not value:
        value = config.getini("celery_lint_app")
    text = str(value).strip() if value else ""
    return text or None
