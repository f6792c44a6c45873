"""``--fix`` killed mid-way (SIGKILL, no chance to clean up) leaves every file either its
old or its new content, each one parsing; the only debris allowed is the writer's own
temporary files (``.NAME.*.celery-lint``), which nothing lints.

The kill lands at a known point: the fixer's test hook (``CELERY_LINT_TEST_PAUSE_BEFORE_RENAME``)
stops the N-th write once its temporary file is complete, before the rename, and says so
in a file the test waits for.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL"),
    pytest.mark.slow,
]

FILES = 12
# The fixer's test hook: "N:PATH" pauses the N-th write before its rename, announced in PATH.
PAUSE_BEFORE_RENAME = "CELERY_LINT_TEST_PAUSE_BEFORE_RENAME"
TEMP_FILE = re.compile(r"^\.(?P<name>.+\.py)\..+\.celery-lint$")


def _module(index: int) -> str:
    return (
        "from celery import Celery\n\n"
        f"app = Celery('proj{index}')\n"
        "app.conf.task_serializer = 'pickle'\n"
        "app.conf.result_serializer = 'pickle'\n"
    )


def _make_project(root: Path) -> dict[str, bytes]:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text("", "utf-8")
    contents = {}
    for index in range(FILES):
        relpath = f"pkg{index % 3}/mod_{index}.py"
        path = root / relpath
        path.parent.mkdir(exist_ok=True)
        data = _module(index).encode()
        path.write_bytes(data)
        contents[relpath] = data
    return contents


def _start_fix(root: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery_lint",
            "--fix",
            "--unsafe-fixes",
            "--no-cache",
            "--select=CEL101",
            ".",
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != "pyproject.toml"
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Old and new content of every file, from an uninterrupted run."""
    root = tmp_path_factory.mktemp("reference") / "proj"
    old = _make_project(root)
    proc = _start_fix(root)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()
    new = _snapshot(root)
    assert set(new) == set(old)
    assert all(new[k] != old[k] for k in old), "every file has a fix"
    for data in new.values():
        ast.parse(data)
    return old, new


def _check_tree(root: Path, old: dict[str, bytes], new: dict[str, bytes]) -> tuple[int, list[str]]:
    """Every module old or new and parsing; returns (files changed, leftover temp files)."""
    leftovers = []
    changed = 0
    for relpath, data in _snapshot(root).items():
        if relpath in old:
            assert data in (old[relpath], new[relpath]), f"{relpath} is neither its old nor its new content"
            ast.parse(data)
            changed += data == new[relpath]
            continue
        match = TEMP_FILE.match(os.path.basename(relpath))
        assert match, f"unexpected file left behind: {relpath}"
        assert os.path.join(os.path.dirname(relpath), match["name"]) in old, relpath
        leftovers.append(relpath)
    assert set(old) <= set(_snapshot(root)), "a file disappeared"
    return changed, leftovers


def _wait_for(announce: Path, proc: subprocess.Popen[bytes], limit: float = 120) -> str:
    deadline = time.monotonic() + limit
    while not announce.exists():
        if proc.poll() is not None:
            pytest.fail(
                f"the fix ended (exit {proc.returncode}) before the paused write: {proc.stderr.read()!r}"
            )
        assert time.monotonic() < deadline, "the fix never reached the paused write"
        time.sleep(0.01)
    return announce.read_text("utf-8")


@pytest.mark.parametrize("write", [1, FILES // 2, FILES], ids=["first write", "middle write", "last write"])
def test_sigkill_during_a_write_leaves_old_or_new_files(
    tmp_path: Path, reference: tuple[dict[str, bytes], dict[str, bytes]], write: int
) -> None:
    old, new = reference
    root = tmp_path / "proj"
    _make_project(root)
    announce = tmp_path / "paused"
    proc = _start_fix(root, {PAUSE_BEFORE_RENAME: f"{write}:{announce}"})
    try:
        temp = Path(_wait_for(announce, proc))
        # Proof that the kill lands inside a write: the temporary file holds the new content
        # of a file that still has its old content, and the writes before it are done.
        target = temp.with_name(TEMP_FILE.match(temp.name)["name"])
        relpath = target.relative_to(root).as_posix()
        assert temp.read_bytes() == new[relpath]
        assert target.read_bytes() == old[relpath]
        assert sum(path.read_bytes() == new[r] for r, path in ((r, root / r) for r in old)) == write - 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    changed, leftovers = _check_tree(root, old, new)
    assert changed == write - 1
    assert leftovers == [temp.relative_to(root).as_posix()]

    # A second run finishes the job and removes nothing it should not.
    proc = _start_fix(root)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()
    changed, _ = _check_tree(root, old, new)
    assert changed == len(old)


def test_fix_never_writes_temp_files_next_to_an_unparsable_result(
    tmp_path: Path, reference: tuple[dict[str, bytes], dict[str, bytes]]
) -> None:
    """A file whose fix would not parse is never replaced (here: a file that does not parse
    to begin with keeps its bytes, the others are fixed)."""
    root = tmp_path / "proj"
    old = _make_project(root)
    broken = root / "pkg0" / "mod_0.py"
    broken.write_bytes(old["pkg0/mod_0.py"] + b"def broken(:\n")
    proc = _start_fix(root)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode in (0, 1), stderr.decode()
    assert broken.read_bytes() == old["pkg0/mod_0.py"] + b"def broken(:\n"
    assert not [p for p in root.rglob("*.celery-lint")]
    _, new = reference
    assert all(
        (root / relpath).read_bytes() == data for relpath, data in new.items() if relpath != "pkg0/mod_0.py"
    )
