"""Findings carry a structured kind, and every front end decides from it what an error is.

A file CPython accepts but celery-lint does not analyse comes back as a CEL900 line of
kind ``ANALYSIS_SKIPPED``: through the cache and ``-j`` like any finding, then turned into
an error by the CLI (an error line, exit 2) and by the pytest lint gate (the file's item
fails with the error). A file that is not valid Python stays a finding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from celery_pytester import forget_shared_tasks  # noqa: F401 (an autouse fixture)

from celery_lint.engine import lint_paths
from celery_lint.types import Kind

pytest_plugins = ["pytester"]
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

# CPython compiles this at once; LibCST would take many seconds, so the analysis is skipped.
CHAIN = (
    "from celery import Celery\n\napp = Celery('proj')\napp.conf.beat_schedule = settings"
    + "[0]" * 2500
    + "\n"
)
BROKEN = "def broken(:\n    pass\n"


def _project(root: Path) -> Path:
    (root / "pyproject.toml").write_text("[project]\nname = 'kinds'\n", encoding="utf-8")
    (root / "chain.py").write_text(CHAIN, encoding="utf-8")
    (root / "broken.py").write_text(BROKEN, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("use_cache", "jobs"), [(False, 1), (True, 1), (False, 2)], ids=["plain", "cache", "jobs"]
)
def test_a_skipped_analysis_is_an_error_kind_and_a_syntax_error_a_finding(
    tmp_path: Path, use_cache: bool, jobs: int
) -> None:
    root = _project(tmp_path)
    runs = 2 if use_cache else 1  # the second run is served from the cache
    for _ in range(runs):
        result = lint_paths([root / "chain.py", root / "broken.py"], use_cache=use_cache, jobs=jobs)
        kinds = {Path(v.path).name: v.kind for v in result.violations if v.code == "CEL900"}
        assert kinds == {"chain.py": Kind.ANALYSIS_SKIPPED, "broken.py": Kind.FINDING}, result


def test_the_lint_gate_fails_a_skipped_file_with_an_error(pytester: pytest.Pytester) -> None:
    _project(pytester.path)
    (pytester.path / "clean.py").write_text("VALUE = 1\n", encoding="utf-8")
    result = pytester.runpytest(*QUIET, "--celery-lint", "-v")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*celery-lint: error: *chain.py: analysis skipped: the chain of 2500 *"])
    result.stdout.fnmatch_lines(
        ["*broken.py:1:*: CEL900 file cannot be analysed: *", "1 celery-lint finding"]
    )
    assert "CEL900 file cannot be analysed: analysis skipped" not in result.stdout.str()


def test_the_lint_gate_fails_every_file_of_a_run_with_a_refused_pack(pytester: pytest.Pytester) -> None:
    """A refused rule pack means no file was checked by every configured rule."""
    (pytester.path / "broken_pack.py").write_text(
        "from celery_lint import hookimpl\n\n\n@hookimpl\ndef celery_lint_rules():\n    return [object]\n",
        encoding="utf-8",
    )
    pytester.makepyprojecttoml(
        '[tool.celery-lint]\nplugins = ["broken_pack"]\nexclude = ["broken_pack.py"]\n'
    )
    (pytester.path / "clean.py").write_text("VALUE = 1\n", encoding="utf-8")
    result = pytester.runpytest(*QUIET, "--celery-lint", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*celery-lint: error: rule pack 'broken_pack' refused: *"])
