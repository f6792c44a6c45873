"""``pytest --celery-lint`` as a user runs it (pytester): the same project, the same findings
as ``celery-lint .``, and its own marker (#15).

- a project with no marker but ``pytest.ini`` (the standard ``proj/celery.py`` layout, a
  Django project) is one project rooted at pytest's rootdir, as ``celery-lint .`` run there
  sees it: same findings, same task names;
- the gate's items carry ``celery_lint_gate``: ``-m celery_lint_gate`` runs the gate only,
  never the tests marked ``@pytest.mark.celery_lint(...)`` (Celery settings); the old
  spelling ``-m celery_lint`` still means the gate only, with a deprecation warning.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from celery_pytester import forget_shared_tasks  # noqa: F401 (an autouse fixture)
from conftest import FINDING_LINE

from celery_lint.cli import main

pytest_plugins = ["pytester"]
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

Finding = tuple[str, int, str, str]

CELERY_LAYOUT = {
    "proj/__init__.py": "",
    "proj/celery.py": """
        from celery import Celery

        app = Celery("proj")
        app.conf.task_acks_late = True
        app.autodiscover_tasks()
        """,
    "proj/tasks.py": """
        from celery import shared_task


        @shared_task
        def refresh(x):
            return x
        """,
    "proj/billing/__init__.py": "",
    "proj/billing/tasks.py": """
        from celery import shared_task


        @shared_task(time_limit=60, soft_time_limit=50, serializer="pickle")
        def charge(order_id):
            return order_id
        """,
}

DJANGO_LAYOUT = {
    "manage.py": """
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
        """,
    "mysite/__init__.py": """
        from .celery import app as celery_app

        __all__ = ("celery_app",)
        """,
    "mysite/settings.py": """
        INSTALLED_APPS = ["shop"]
        CELERY_BROKER_URL = "redis://localhost:6379/0"
        CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
        CELERY_TASK_ACKS_LATE = True
        CELERY_TASK_TIME_LIMIT = 60
        """,
    "mysite/celery.py": """
        import os

        from celery import Celery

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
        app = Celery("mysite")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.autodiscover_tasks()
        """,
    "shop/__init__.py": "",
    "shop/tasks.py": """
        from celery import shared_task


        @shared_task
        def charge(order_id):
            return order_id
        """,
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


def _findings(lines: list[str], root: Path | None = None) -> set[Finding]:
    """The findings of the lines, paths relative to ``root`` (None: as printed)."""
    found = set()
    for line in lines:
        match = FINDING_LINE.match(line)
        if match and not line.startswith("FAILED "):  # (pytest's short summary)
            path = match["path"]
            if root is not None:
                path = Path(path).resolve().relative_to(root).as_posix()
            found.add((path, int(match["line"]), match["code"], match["message"]))
    return found


def _cli(capsys: pytest.CaptureFixture[str]) -> tuple[set[Finding], str]:
    capsys.readouterr()
    main([".", "--no-cache"])
    out = capsys.readouterr().out
    return _findings(out.splitlines()), out


@pytest.mark.parametrize("started_in", ["the rootdir", "a package folder"])
@pytest.mark.parametrize(("layout", "package"), [("celery", "proj"), ("django", "shop")])
def test_a_project_with_only_pytest_ini_is_linted_as_one_project(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    layout: str,
    package: str,
    started_in: str,
) -> None:
    """No pyproject.toml, setup.cfg, setup.py or .git: the project is pytest's rootdir, as
    for ``celery-lint .`` run there, wherever pytest is started (it finds pytest.ini above a
    package folder). Rooted at each file's folder, the celery layout passed with no finding
    and the Django one had a false CEL201 and task names without their package. The gate
    runs first: the command's project model must not help it."""
    _write(pytester.path, CELERY_LAYOUT if layout == "celery" else DJANGO_LAYOUT)
    pytester.makefile(".ini", pytest="[pytest]\n")
    monkeypatch.chdir(pytester.path if started_in == "the rootdir" else pytester.path / package)
    result = pytester.runpytest(*QUIET, "-p", "no:python", "--celery-lint", str(pytester.path))
    gate = _findings(result.stdout.lines, pytester.path.resolve())
    monkeypatch.chdir(pytester.path)
    expected, out = _cli(capsys)
    if layout == "django":
        assert "task 'shop.tasks.charge'" in out and "CEL205" not in out and "CEL201" not in out, out
    else:
        assert "task 'proj.tasks.refresh'" in out and "CEL205" not in out, out
    assert gate == expected, out + result.stdout.str()
    failing = {finding[0] for finding in expected}
    result.assert_outcomes(failed=len(failing), passed=len(list(pytester.path.rglob("*.py"))) - len(failing))


SETTINGS_MARKED = """
import pytest


@pytest.mark.celery_lint(task_acks_late=True)
def test_marked_with_settings():
    pass


def test_plain():
    pass
"""
BARE_TASK = "from celery import shared_task\n\n\n@shared_task\ndef bare():\n    pass\n"


@pytest.fixture
def gate_and_tests(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyprojecttoml("")
    pytester.makepyfile(test_it=SETTINGS_MARKED, tasks=BARE_TASK)
    return pytester


def test_the_gate_only_with_its_own_marker(gate_and_tests: pytest.Pytester) -> None:
    result = gate_and_tests.runpytest(*QUIET, "--celery-lint", "-m", "celery_lint_gate", "-v")
    result.stdout.fnmatch_lines_random(["tasks.py::celery-lint FAILED*", "test_it.py::celery-lint PASSED*"])
    result.assert_outcomes(passed=1, failed=1, deselected=2)
    assert "test_marked_with_settings" not in result.stdout.str()
    result = gate_and_tests.runpytest(*QUIET, "--celery-lint", "-m", "not celery_lint_gate")
    result.assert_outcomes(passed=2, deselected=2)


def test_the_old_spelling_still_means_the_gate_only_and_warns(gate_and_tests: pytest.Pytester) -> None:
    result = gate_and_tests.runpytest(*QUIET, "--celery-lint", "-m", "celery_lint", "-v")
    result.assert_outcomes(passed=1, failed=1, deselected=2, warnings=1)
    assert "test_marked_with_settings" not in result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*CeleryLintDeprecationWarning: `-m celery_lint` for the lint gate is deprecated: use `-m celery_lint_gate`*"
        ]
    )
    # Without --celery-lint, -m celery_lint keeps pytest's meaning: the settings-marked tests.
    result = gate_and_tests.runpytest(*QUIET, "-m", "celery_lint", "-v")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*test_marked_with_settings PASSED*"])


def test_strict_markers_know_both_markers(gate_and_tests: pytest.Pytester) -> None:
    result = gate_and_tests.runpytest(*QUIET, "--strict-markers", "--celery-lint", "-m", "celery_lint_gate")
    result.assert_outcomes(passed=1, failed=1, deselected=2)


@pytest.mark.parametrize(
    ("expression", "read_as"),
    [
        ("celery_lint", "celery_lint_gate"),
        ("not celery_lint", "not celery_lint_gate"),
        ("slow and (celery_lint or fast)", "slow and (celery_lint_gate or fast)"),
        ("celery_lint_gate", None),
        ("celery_lint(task_acks_late=True)", None),  # keyword arguments: the settings marker
        ("other(name='celery_lint') or celery_lint", "other(name='celery_lint') or celery_lint_gate"),
    ],
)
def test_the_old_spelling_is_read_as_the_gate_marker(expression: str, read_as: str | None) -> None:
    from celery_lint.pytest_plugin.plugin import old_gate_spelling

    assert old_gate_spelling(expression) == read_as
