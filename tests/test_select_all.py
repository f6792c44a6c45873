"""``--select ALL`` finds what a run that checks every file with every rule finds.

A run skips files: the byte prefilter leaves out the files that cannot concern any rule,
and CEL901 (unused suppression, selected by ``ALL``) has a file parsed only when one of its
``# noqa`` comments may name a celery-lint code. ``--no-prefilter`` parses every file and
runs every rule on it: a file skipped whose findings could change shows up as a difference.
The fixture projects are compared as they are and with ``# noqa`` comments added at the end
of their logical lines: other tools' codes, celery-lint codes (which suppress a finding or
nothing), a code of no rule, a bare ``# noqa``.
"""

from __future__ import annotations

import io
import json
import tokenize
from pathlib import Path

import pytest
from conftest import REPO, copy_clean, run_cli

COMMENTS = (
    "# noqa: E501",
    "# noqa: CEL201",
    "# noqa: F401,CEL205",
    "# NOQA:cel2",
    "# noqa: CEL999",
    "# noqa",
    "# type: ignore  # noqa: E731",
)
"""Added in turn to the logical lines of every module."""

NOT_CELERY = (
    "import os  # noqa: F401\n\nLIMIT = 1  # noqa: CEL201\nNAME = 'x'  # noqa: E501\n"
    "PATH = os.sep  # noqa: CEL999\n"
)
"""A module that never mentions Celery, whose comments CEL901 still judges."""


def with_noqa_comments(source: bytes) -> bytes:
    """``source`` with one of :data:`COMMENTS` after the code of each logical line that has
    no comment yet (inside no string, before no backslash: where tokenize ends the line)."""
    try:
        tokens = list(tokenize.tokenize(io.BytesIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    encoding = tokens[0].string if tokens and tokens[0].type == tokenize.ENCODING else "utf-8"
    lines = source.decode(encoding).splitlines(keepends=True)
    commented = {tok.start[0] for tok in tokens if tok.type == tokenize.COMMENT}
    ends = [tok.start for tok in tokens if tok.type == tokenize.NEWLINE and tok.start[0] not in commented]
    for index, (row, column) in enumerate(reversed(ends)):
        if row > len(lines):
            continue
        line = lines[row - 1]
        lines[row - 1] = f"{line[:column]}  {COMMENTS[index % len(COMMENTS)]}{line[column:]}"
    return "".join(lines).encode(encoding)


def findings(folder: Path, *extra: str) -> list[dict[str, object]]:
    run = run_cli("--select", "ALL", "--no-cache", "--format", "json", *extra, ".", cwd=folder)
    assert run.returncode in (0, 1), run
    found: list[dict[str, object]] = json.loads(run.stdout)["findings"]
    return found


@pytest.mark.parametrize("commented", [False, True], ids=["as-is", "noqa-everywhere"])
def test_select_all_matches_a_run_that_checks_every_file(
    tmp_path: Path, user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, commented: bool
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    fixtures = copy_clean(REPO / "fixtures", tmp_path / "fixtures")
    if commented:
        for module in sorted(fixtures.rglob("*.py")):
            module.write_bytes(with_noqa_comments(module.read_bytes()))
        for marker in sorted(fixtures.rglob("pyproject.toml")):
            (marker.parent / "noqa_elsewhere.py").write_text(NOT_CELERY, encoding="utf-8")
            (marker.parent / "tests").mkdir(exist_ok=True)
            (marker.parent / "tests" / "test_noqa_elsewhere.py").write_text(NOT_CELERY, encoding="utf-8")

    every_file = findings(fixtures, "--no-prefilter")
    assert findings(fixtures) == every_file
    unused = [f for f in every_file if f["code"] == "CEL901"]
    if commented:
        # The comments reach every kind of CEL901 finding, in Celery modules and elsewhere.
        for problem in ("suppresses nothing", "names no celery-lint rule"):
            assert any(problem in str(f["message"]) for f in unused), problem
        assert any(str(f["path"]).endswith("tests/test_noqa_elsewhere.py") for f in unused)
        assert any(str(f["path"]).endswith("/noqa_elsewhere.py") for f in unused)
