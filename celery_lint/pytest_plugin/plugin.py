"""pytest hooks of celery-lint (``pytest -p celery_lint``). Loaded in every pytest run of
every user: keep it light. Neither LibCST nor Celery is imported here; the fixtures
import Celery when a test asks for one, and ``--celery-lint`` imports the linter."""

from __future__ import annotations

from pathlib import Path

import pytest

from .fixtures import (  # noqa: F401  (registered with pytest through this module)
    CALL_REPORT,
    _celery_lint_interceptor,
    _celery_lint_switch,
    celery_beat,
    celery_eager,
    celery_idempotency,
    celery_lint_app,
    celery_lint_config,
    celery_on_commit,
    celery_queue,
    celery_retries,
    celery_tasks,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("celery-lint", "celery-lint: Celery task fixtures and lint gate")
    group.addoption(
        "--celery-lint",
        action="store_true",
        dest="celery_lint",
        default=False,
        help="collect one test per Python file that fails with the file's celery-lint findings",
    )
    group.addoption(
        "--celery-lint-app",
        dest="celery_lint_app",
        default=None,
        metavar="MODULE:APP",
        help="the project's Celery app for celery_lint_app (as `celery -A` takes it)",
    )
    parser.addini(
        "celery_lint_app",
        "the project's Celery app for the celery_lint_app fixture, e.g. proj.celery:app",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "celery_lint(**settings): Celery settings applied to celery_lint_app for this test; "
        "also the marker of the --celery-lint file checks",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.option.celery_lint:
        return None
    from ._lintgate import collect_file

    return collect_file(file_path, parent)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if isinstance(report, pytest.TestReport) and report.when == "call":
        item.stash[CALL_REPORT] = report
    return report
