"""Fixtures of the celery-lint pytest plugin.

Each fixture's docstring is what ``pytest --fixtures`` shows; ``docs/pytest.md`` has the
full story. Celery itself is imported only inside the fixtures, when a test asks for one.
No fixture here is autouse, and none reuses a name of ``celery.contrib.pytest`` or
``pytest-celery``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ._app import AppSwitch
    from ._beat import CeleryBeat
    from ._eager import EagerRunner
    from ._intercept import Interceptor
    from ._oncommit import OnCommitCapture
    from ._queue import TaskQueue
    from ._recorder import TaskRecorder
    from ._retries import IdempotencyChecker, RetryDriver
    from ._runner import Runner

_PROJECT_APP = pytest.StashKey[Any]()
ACTIVE_SWITCH = pytest.StashKey["AppSwitch | None"]()
"""The ``AppSwitch`` of the running test, while ``_celery_lint_switch`` is set up."""
CALL_REPORT = pytest.StashKey[pytest.TestReport]()
"""The call-phase report of a test, kept by ``plugin.pytest_runtest_makereport``."""


@pytest.fixture
def _celery_lint_interceptor() -> Iterator[Interceptor]:
    from ._intercept import Interceptor

    interceptor = Interceptor()
    interceptor.install()
    try:
        yield interceptor
    finally:
        interceptor.uninstall()


@pytest.fixture
def celery_lint_config() -> dict[str, Any]:
    """Celery settings applied to ``celery_lint_app`` for each test (default: none).

    Override it in a ``conftest.py`` to change settings for many tests, e.g.
    ``return {"task_eager_propagates": True}``; ``@pytest.mark.celery_lint(**settings)``
    adds settings for one test. Task attributes that came from a setting you override
    (``task_acks_late`` -> ``acks_late``, ...) follow it. The broker is always the
    in-memory one; a ``result_backend`` here (or in the marker) gives the test the
    in-memory backend, ``None`` none.
    """
    return {}


@pytest.fixture
def _celery_lint_switch(
    request: pytest.FixtureRequest,
    _celery_lint_interceptor: Interceptor,
    celery_lint_config: dict[str, Any],
) -> Iterator[AppSwitch]:
    from ._app import AppSwitch, load_app, resolve_app_spec
    from ._errors import ConfigurationError

    config = request.config
    app = config.stash.get(_PROJECT_APP, None)
    if app is None:
        spec = resolve_app_spec(config)
        if spec is None:
            pytest.fail(
                "celery_lint_app: no app configured. Set `celery_lint_app = proj.celery:app` in "
                "the [pytest] ini options (or [tool.pytest.ini_options]), or pass "
                "--celery-lint-app=proj.celery:app",
                pytrace=False,
            )
        try:
            app = load_app(spec)
        except ConfigurationError as exc:
            pytest.fail(str(exc), pytrace=False)
        config.stash[_PROJECT_APP] = app
    overrides = dict(celery_lint_config or {})
    for marker in reversed(list(request.node.iter_markers("celery_lint"))):
        overrides.update(marker.kwargs)
    switch = AppSwitch(app, _celery_lint_interceptor, overrides)
    switch.root = config.rootpath
    switch.setup()
    config.stash[ACTIVE_SWITCH] = switch
    try:
        yield switch
    finally:
        config.stash[ACTIVE_SWITCH] = None
        runner = switch.runner
        if runner is not None:
            runner.close()
        switch.teardown()
    report = request.node.stash.get(CALL_REPORT, None)
    if switch.violations and (report is None or report.passed):
        # The publish raised in the test; it only gets here when the code swallowed that.
        pytest.fail(
            "celery_lint_app: a task was published outside the test's in-memory broker:\n  "
            + "\n  ".join(switch.violations),
            pytrace=False,
        )


def keep_current(switch: AppSwitch) -> None:
    """Make the switched app the current and default app again, after another fixture
    (``celery.contrib.pytest``'s ``celery_worker`` or ``depends_on_current_app``, set up
    after ``celery_lint_app``) made its own app current: ``shared_task`` tasks must keep
    binding to the switched app whatever the order of the fixtures."""
    from celery import _state

    app = switch.app
    if getattr(_state._tls, "current_app", None) is not app:
        app.set_current()
    if _state.default_app is not app:
        app.set_default()


@pytest.fixture
def celery_lint_app(_celery_lint_switch: AppSwitch) -> Any:
    """The project's own Celery app, switched to an in-memory broker (and result backend,
    when the project configures one; without one, Celery's disabled backend stays).

    The app is the one named by the ``celery_lint_app`` ini option (``proj.celery:app``,
    as ``celery -A`` takes it) or ``--celery-lint-app``, loaded once with the modules a
    worker imports. For the test it is the current and default app (``shared_task``
    binds to it) and publishes to the in-memory broker; its
    configuration, its tasks' attributes and tasks defined during the test
    are restored afterwards. A task published anywhere else (another app's broker, an
    explicit connection) fails the test. Nothing runs by itself: add ``celery_queue`` or
    ``celery_eager``. ``celery_lint_app.audit()`` checks every task's real options with
    celery-lint's rules.
    """
    return _celery_lint_switch.app


def _runner(switch: AppSwitch) -> Runner:
    from ._control import install_revoke, preserve_worker_state
    from ._results import install_result_guard
    from ._runner import Runner

    if switch.runner is None:
        switch.runner = Runner(switch)
        switch.runner.cleanups.append(preserve_worker_state())
        install_result_guard(switch.patch, switch.runner)
        install_revoke(switch.patch, switch.runner)
        # trace_task_ret (what the runner's pool calls) gives the request this host's
        # name; a worker's tracer gives its node name, celery@<host>.
        hostname = switch.runner.hostname
        switch.patch.setattr("celery.app.trace.gethostname", lambda: hostname)
    runner: Runner = switch.runner
    runner.start()
    return runner


def _set_mode(switch: AppSwitch, mode: str) -> None:
    current = switch.mode
    if current is not None and current != mode:
        pytest.fail(f"celery_{mode} and celery_{current} cannot be used in the same test", pytrace=False)
    switch.mode = mode
    switch.set_setting("task_always_eager", False)


@pytest.fixture
def celery_queue(
    request: pytest.FixtureRequest, _celery_lint_switch: AppSwitch, _celery_lint_interceptor: Interceptor
) -> Iterator[TaskQueue]:
    """Tasks are really published (serializer, routing, headers, publish signals,
    ``send_task``) and nothing runs until the test calls ``run_next()``, ``run_all()`` or
    ``run_until_empty()``, which run them with the worker's own request and trace code in
    the test thread, in the broker's priority order and under the tasks' rate limits.
    ``clock.advance(...)``/``clock.set(...)`` move the fake clock that countdowns, ``eta``
    and ``expires`` are measured on (freezegun/time-machine follow it); retries are
    re-queued with their real ``eta``. ``pending()``, ``assert_enqueued()``,
    ``assert_not_enqueued()``, ``assert_empty()`` inspect the queue. With Django, a publish
    inside an open transaction of the code fails (CEL403).
    """
    from ._delivery import Delivery, broker_kind
    from ._queue import TaskQueue
    from ._transactions import TransactionGuard

    _set_mode(_celery_lint_switch, "queue")
    runner = _runner(_celery_lint_switch)
    original = _celery_lint_switch.original_conf
    options = (original.get("broker_transport_options") if original is not None else None) or {}
    runner.delivery = Delivery(runner, broker_kind(original), options.get("priority_steps"))
    guard = TransactionGuard(_celery_lint_interceptor)
    _celery_lint_interceptor.guards.append(guard)
    queue = TaskQueue(runner)
    queue.transactions = guard
    try:
        yield queue
    finally:
        runner.delivery.close()
        runner.delivery = None
        if guard in _celery_lint_interceptor.guards:
            _celery_lint_interceptor.guards.remove(guard)
    report = request.node.stash.get(CALL_REPORT, None)
    function = getattr(request.node, "function", None)
    swallowed = guard.swallowed(getattr(function, "__code__", None)) if guard.violations else []
    if swallowed and (report is None or report.passed):
        # The publish raised at the call; it only gets here when something caught that.
        pytest.fail("celery_queue: " + "\n".join(swallowed), pytrace=False)


@pytest.fixture
def celery_beat(celery_queue: TaskQueue, _celery_lint_switch: AppSwitch) -> CeleryBeat:
    """The app's periodic tasks (``beat_schedule``, ``add_periodic_task``) on
    ``celery_queue``'s clock: ``celery_beat.advance(days=1)`` moves the clock and publishes
    every entry each time Celery's own schedule (crontab, interval, solar) makes it due,
    with its options, as beat does; ``fired``, ``assert_scheduled()``. Nothing runs until
    ``celery_queue`` runs it.
    """
    from ._beat import CeleryBeat

    runner = _celery_lint_switch.runner
    assert runner is not None
    return CeleryBeat(runner)


@pytest.fixture
def celery_eager(
    _celery_lint_switch: AppSwitch, _celery_lint_interceptor: Interceptor
) -> Iterator[EagerRunner]:
    """Eager mode with the holes closed: each task runs when it is sent, through the
    worker's code. Arguments and results round-trip through the serializers (a value
    that does not fails with the worker's error and a hint), retries run whatever
    ``task_eager_propagates`` says and are recorded in ``.retries``, ``send_task`` runs
    registered tasks by name, and children run after their parent. With
    ``task_eager_propagates`` a task failure is raised where the task was sent.
    """
    from ._eager import EagerRunner

    _set_mode(_celery_lint_switch, "eager")
    eager = EagerRunner(_runner(_celery_lint_switch), _celery_lint_switch)
    _celery_lint_interceptor.eager = eager
    try:
        yield eager
    finally:
        _celery_lint_interceptor.eager = None
        eager.close()


@pytest.fixture
def celery_tasks(_celery_lint_interceptor: Interceptor) -> TaskRecorder:
    """Records every ``apply_async``/``delay``/``send_task`` call of the test, through any
    app and in any mode (Celery's eager mode, ``celery_queue``, ``celery_eager``, a worker
    thread). ``assert_called()``, ``assert_called_once()``, ``assert_called_once_with()``,
    ``assert_not_called()``, ``assert_call_order()``, ``calls_for()``; ``block()`` records
    calls without sending them. It switches no broker: a call it lets through goes where
    the app sends it, the project's broker unless the test also has ``celery_lint_app``
    (or ``celery_queue``/``celery_eager``).
    """
    from ._recorder import TaskRecorder

    return TaskRecorder(_celery_lint_interceptor)


@pytest.fixture
def celery_retries(_celery_lint_switch: AppSwitch, _celery_lint_interceptor: Interceptor) -> RetryDriver:
    """Drive a task through failures: ``celery_retries.run(task, *args,
    target="proj.tasks.fetch", failures=[ConnectionError, ConnectionError])`` patches the
    target to raise them, runs the task and its retries on the fake clock, and returns a
    report of the attempts and the delays between them, with ``assert_backoff()``.
    """
    from ._retries import RetryDriver

    return RetryDriver(_runner(_celery_lint_switch), _celery_lint_switch, _celery_lint_interceptor)


@pytest.fixture
def celery_idempotency(
    _celery_lint_switch: AppSwitch, _celery_lint_interceptor: Interceptor
) -> IdempotencyChecker:
    """``celery_idempotency.assert_idempotent(task, *args, state=callable)`` runs the same
    message twice, the second time as a redelivery (as after a lost worker), and fails if
    ``state()`` differs after the second run or the second run sent tasks again.
    """
    from ._retries import IdempotencyChecker

    return IdempotencyChecker(_runner(_celery_lint_switch), _celery_lint_switch, _celery_lint_interceptor)


@pytest.fixture
def celery_on_commit(_celery_lint_interceptor: Interceptor) -> Iterator[OnCommitCapture]:
    """Django only: holds ``transaction.on_commit`` callbacks (``delay_on_commit``,
    ``apply_async_on_commit``) until ``commit()`` runs them or ``rollback()`` drops them;
    ``pending``, ``tasks``, ``assert_deferred()``. Skips the test when Django is not
    installed or configured. Like ``celery_tasks`` it switches no broker: add
    ``celery_queue`` (or ``celery_eager``) for what ``commit()`` sends.
    """
    from ._oncommit import OnCommitCapture, django_ready

    reason = django_ready()
    if reason is not None:
        pytest.skip(reason)
    capture = OnCommitCapture(_celery_lint_interceptor)
    try:
        yield capture
    finally:
        capture.close()
