"""pytest hooks of celery-lint (``pytest -p celery_lint``). Loaded in every pytest run of
every user: keep it light. Neither LibCST nor Celery is imported here; the fixtures
import Celery when a test asks for one, and ``--celery-lint`` imports the linter."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ._errors import CeleryLintDeprecationWarning
from .fixtures import (  # noqa: F401  (registered with pytest through this module)
    ACTIVE_SWITCH,
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
    keep_current,
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
        "--celery-lint-no-cache",
        action="store_true",
        dest="celery_lint_no_cache",
        default=False,
        help="the --celery-lint gate neither reads nor writes celery-lint's result cache",
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


GATE_MARKER = "celery_lint_gate"
"""The marker of the ``--celery-lint`` items: ``pytest --celery-lint -m celery_lint_gate``
runs the lint gate only."""
SETTINGS_MARKER = "celery_lint"

# An identifier of pytest's ``-m`` grammar, or a quoted string (left as it is), and
# whether keyword arguments follow the identifier (``celery_lint(task_acks_late=True)``).
_MARK_TOKEN = re.compile(r"""("[^"]*"|'[^']*')|((?:\w|:|\+|-|\.|\[|\]|\\|/)+)(\s*\()?""")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{SETTINGS_MARKER}(**settings): Celery settings applied to celery_lint_app for this test",
    )
    config.addinivalue_line(
        "markers",
        f"{GATE_MARKER}: the --celery-lint file checks (`pytest --celery-lint -m {GATE_MARKER}` "
        "runs the lint gate only)",
    )
    if config.option.celery_lint and getattr(config.option, "markexpr", ""):
        gate_only = old_gate_spelling(config.option.markexpr)
        if gate_only is not None:
            # Deprecated: `-m celery_lint` named the gate's items when they shared the
            # settings marker's name (and so selected every settings-marked test too).
            # For this release it still means the gate's items, and only them.
            config.option.markexpr = gate_only
            config.issue_config_time_warning(
                CeleryLintDeprecationWarning(
                    f"`-m {SETTINGS_MARKER}` for the lint gate is deprecated: use "
                    f"`-m {GATE_MARKER}` (this release reads `{SETTINGS_MARKER}` in -m as "
                    f"`{GATE_MARKER}` when --celery-lint is given; the next one will select "
                    f"the tests marked @pytest.mark.{SETTINGS_MARKER}(...) with it)"
                ),
                stacklevel=2,
            )


def old_gate_spelling(expression: str) -> str | None:
    """``expression`` (a ``-m`` expression) with the bare name ``celery_lint`` read as
    ``celery_lint_gate``; None when it has no such name. ``celery_lint(...)`` with keyword
    arguments matches settings markers and is left as it is."""
    found = False

    def gate(match: re.Match[str]) -> str:
        nonlocal found
        if match[2] == SETTINGS_MARKER and not match[3]:
            found = True
            return GATE_MARKER
        return match[0]

    renamed = _MARK_TOKEN.sub(gate, expression)
    return renamed if found else None


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


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest) -> object:
    """While a test's ``celery_lint_app`` is set up, a fixture set up after it that makes
    another app current (``celery.contrib.pytest``'s ``celery_worker``) does not take
    ``shared_task`` tasks away from it: the switched app is made current again."""
    result = yield
    switch = request.config.stash.get(ACTIVE_SWITCH, None)
    if switch is not None:
        keep_current(switch)
    return result
