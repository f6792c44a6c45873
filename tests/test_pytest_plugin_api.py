"""The pytest plugin's public face: what a test can import from ``celery_lint.pytest_plugin``,
and the fixtures beside ``celery.contrib.pytest``'s whatever the order a test asks for them.

The project is test_pytest_plugin's: its app points at a broker that does not exist
(``redis://127.0.0.1:1``), so anything that leaks past the fixtures fails loudly.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import test_pytest_plugin
from celery_pytester import contrib_worker_stops_at_once, forget_shared_tasks  # noqa: F401 (fixtures)
from test_pytest_plugin import PROJECT

pytest_plugins = ["pytester"]
project = test_pytest_plugin.project  # the same fixture, the same project
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_it=textwrap.dedent(source))
    return pytester.runpytest(*QUIET, "-p", "no:celery", "-p", "celery.contrib.pytest", *args)


# ------------------------------------------------------- beside celery.contrib.pytest (#15, 8)
def test_shared_tasks_stay_on_the_switched_app_whatever_the_fixture_order(project: pytest.Pytester) -> None:
    """contrib's ``depends_on_current_app`` (and its ``celery_worker``, below) make contrib's
    app current; asked for after ``celery_lint_app`` they used to take ``@shared_task``
    sends away from ``celery_queue`` (to contrib's broker)."""
    result = run(
        project,
        """
        from celery import current_app
        import proj

        def test_contrib_after(celery_lint_app, celery_queue, celery_app, depends_on_current_app):
            assert current_app._get_current_object() is celery_lint_app
            proj.triple.delay(2)
            celery_queue.assert_enqueued(proj.triple, (2,))
            [run] = celery_queue.run_all()
            assert run.result == 6

        def test_contrib_before(celery_app, depends_on_current_app, celery_lint_app, celery_queue):
            proj.triple.delay(3)
            celery_queue.assert_enqueued(proj.triple, (3,))

        def test_contrib_alone_is_left_alone(celery_app, depends_on_current_app):
            assert current_app._get_current_object() is celery_app
        """,
    )
    result.assert_outcomes(passed=3)


@pytest.mark.usefixtures("contrib_worker_stops_at_once")
def test_shared_tasks_stay_on_the_switched_app_with_contribs_worker(project: pytest.Pytester) -> None:
    """The same with contrib's real ``celery_worker`` thread."""
    project.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def celery_worker_parameters():
            return {"perform_ping_check": False}
        """
    )
    result = run(
        project,
        """
        import proj

        def test_worker_after(celery_lint_app, celery_queue, celery_worker):
            proj.triple.delay(2)
            celery_queue.assert_enqueued(proj.triple, (2,))
        """,
    )
    result.assert_outcomes(passed=1)


# ------------------------------------------------------- celery_tasks alone (#15, 7)
def test_a_blocked_call_never_reaches_the_projects_result_backend(pytester: pytest.Pytester) -> None:
    """Without ``celery_lint_app`` the app keeps its Redis backend (its client library is
    not even installed here): the ``PENDING`` result of a held call is an in-memory one."""
    pytester.makepyfile(proj=PROJECT)
    pytester.syspathinsert()
    result = run(
        pytester,
        """
        import proj

        def test_held(celery_tasks):
            with celery_tasks.block():
                result = proj.add.delay(1, 2)
                sent = proj.app.send_task("proj.add", (3, 4))
            assert result.state == sent.state == "PENDING"
            assert celery_tasks.names == ["proj.add", "proj.add"]
            assert proj.app.conf.result_backend.startswith("redis://")
        """,
    )
    result.assert_outcomes(passed=1)


# ------------------------------------------------------- the public API (#15)
def test_errors_and_types_import_from_the_package_without_celery() -> None:
    """``import celery_lint.pytest_plugin`` (pytest does it for every run) stays light;
    the names load on first use."""
    code = (
        "import sys\n"
        "import celery_lint.pytest_plugin as plugin\n"
        "from celery_lint.pytest_plugin import TaskNotRunError, PublishedOutsideTestBroker\n"
        "heavy = sorted(m for m in ('celery', 'kombu', 'libcst') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "assert issubclass(TaskNotRunError, plugin.CeleryLintTestError)\n"
        "from celery_lint.pytest_plugin import UnknownTaskError\n"
        "from celery.exceptions import NotRegistered\n"
        "assert issubclass(UnknownTaskError, NotRegistered)\n"
        "missing = [name for name in plugin.__all__ if getattr(plugin, name, None) is None]\n"
        "assert not missing, missing\n"
        "assert set(plugin.__all__) <= set(dir(plugin))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    import celery_lint.pytest_plugin as plugin

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        plugin.Nope  # noqa: B018


def test_the_fixtures_objects_have_the_public_types(project: pytest.Pytester) -> None:
    result = run(
        project,
        """
        import pytest
        import proj
        from celery_lint.pytest_plugin import (
            AuditReport, ConfigurationError, EagerRunner, Execution, FakeClock,
            IdempotencyChecker, PublishedOutsideTestBroker, QueuedTask, RetryDriver, TaskCall,
            TaskNotRunError, TaskQueue, TaskRecorder, UnknownTaskError,
        )
        import other

        def test_queue(celery_queue: TaskQueue, celery_tasks: TaskRecorder, celery_lint_app) -> None:
            assert isinstance(celery_queue, TaskQueue) and isinstance(celery_tasks, TaskRecorder)
            assert isinstance(celery_queue.clock, FakeClock)
            result = proj.add.delay(1, 2)
            assert isinstance(celery_queue.pending()[0], QueuedTask)
            assert isinstance(celery_tasks.calls[0], TaskCall)
            with pytest.raises(TaskNotRunError):
                result.get(timeout=1)
            [run] = celery_queue.run_all()
            assert isinstance(run, Execution)
            with pytest.raises(UnknownTaskError):
                celery_lint_app.send_task("proj.nope")
                celery_queue.run_all()
            assert isinstance(celery_lint_app.audit(), AuditReport)

        def test_leak(celery_lint_app) -> None:
            with pytest.raises(PublishedOutsideTestBroker):
                other.ping.delay()

        def test_eager(celery_eager: EagerRunner, celery_retries: RetryDriver) -> None:
            assert isinstance(celery_eager, EagerRunner) and isinstance(celery_retries, RetryDriver)

        def test_idempotency(celery_idempotency: IdempotencyChecker) -> None:
            assert isinstance(celery_idempotency, IdempotencyChecker)

        def test_configuration_error_is_the_plugins():
            assert issubclass(ConfigurationError, Exception)
        """,
    )
    # test_leak passes, and errors at teardown: a leak the test caught still fails it.
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(
        ["ERROR test_it.py::test_leak - Failed: celery_lint_app: a task was published*"]
    )
