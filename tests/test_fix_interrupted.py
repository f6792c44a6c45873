"""``--fix`` killed mid-way (SIGKILL, no chance to clean up) leaves every file either its
old or its new content, each one parsing; the only debris allowed is the writer's own
temporary files (``.NAME.*.celery-lint``), which nothing lints."""

from __future__ import annotations

import ast
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

FILES = 150
TEMP_FILE = re.compile(r"^\.(?P<name>.+\.py)\..+\.celery-lint$")


def _module(index: int) -> str:
    header = (
        "from celery import Celery\n\n"
        f"app = Celery('proj{index}')\n"
        "app.conf.task_serializer = 'pickle'\n"
        "app.conf.result_serializer = 'pickle'\n"
    )
    return header + "# padding, so that each write takes a little while\n" * 200


def _make_project(root: Path) -> dict[str, bytes]:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text("", "utf-8")
    contents = {}
    for index in range(FILES):
        relpath = f"pkg{index % 10}/mod_{index}.py"
        path = root / relpath
        path.parent.mkdir(exist_ok=True)
        data = _module(index).encode()
        path.write_bytes(data)
        contents[relpath] = data
    return contents


def _start_fix(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery_lint", "--fix", "--select", "CEL101", "."],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".celery_lint_cache" not in p.parts and p.name != "pyproject.toml"
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes], float]:
    """Old and new content of every file, from an uninterrupted run, and its duration."""
    root = tmp_path_factory.mktemp("reference") / "proj"
    old = _make_project(root)
    start = time.monotonic()
    proc = _start_fix(root)
    _, stderr = proc.communicate(timeout=300)
    duration = time.monotonic() - start
    assert proc.returncode == 0, stderr.decode()
    new = _snapshot(root)
    assert set(new) == set(old)
    assert all(new[k] != old[k] for k in old), "every file has a fix"
    for data in new.values():
        ast.parse(data)
    return old, new, duration


def _check_tree(root: Path, old: dict[str, bytes], new: dict[str, bytes]) -> tuple[int, list[str]]:
    """Every module old or new and parsing; returns (files changed, leftover temp files)."""
    leftovers = []
    changed = 0
    for relpath, data in _snapshot(root).items():
        name = os.path.basename(relpath)
        if relpath in old:
            assert data in (old[relpath], new[relpath]), f"{relpath} is neither its old nor its new content"
            ast.parse(data)
            changed += data == new[relpath]
            continue
        match = TEMP_FILE.match(name)
        assert match, f"unexpected file left behind: {relpath}"
        assert os.path.join(os.path.dirname(relpath), match["name"]) in old, relpath
        leftovers.append(relpath)
    assert set(old) <= set(_snapshot(root)), "a file disappeared"
    return changed, leftovers


def _wait_for_first_write(
    root: Path, old: dict[str, bytes], proc: subprocess.Popen[bytes], limit: float
) -> None:
    deadline = time.monotonic() + limit
    paths = [root / relpath for relpath in old]
    while time.monotonic() < deadline and proc.poll() is None:
        for path, data in zip(paths, old.values(), strict=False):
            try:
                if path.stat().st_size != len(data):
                    return
            except OSError:
                return
        time.sleep(0.001)


@pytest.mark.parametrize(
    "when", ["at the first write", "just after the first write", "early", "late", "near the end", "after"]
)
def test_sigkill_during_fix_leaves_old_or_new_files(
    tmp_path: Path, reference: tuple[dict[str, bytes], dict[str, bytes], float], when: str
) -> None:
    old, new, duration = reference
    root = tmp_path / "proj"
    _make_project(root)
    proc = _start_fix(root)
    try:
        if "first write" in when:
            _wait_for_first_write(root, old, proc, limit=duration * 3 + 10)
            if when.startswith("just after"):
                time.sleep(0.002)
        else:
            fraction = {"early": 0.4, "late": 0.85, "near the end": 0.97, "after": 1.5}[when]
            time.sleep(duration * fraction)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    changed, leftovers = _check_tree(root, old, new)
    # Temporary files are possible by design: SIGKILL between mkstemp() and os.replace()
    # leaves one. Say so in the output (-rA) rather than fail.
    print(
        f"killed {when} (run: {duration:.1f}s): {changed}/{len(old)} files fixed, temp files left: {leftovers}"
    )

    # A second run finishes the job and removes nothing it should not.
    proc = _start_fix(root)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()
    changed, _ = _check_tree(root, old, new)
    assert changed == len(old)


def test_fix_never_writes_temp_files_next_to_an_unparsable_result(tmp_path: Path) -> None:
    """A file whose fix would not parse is never replaced (here: a file that does not parse
    to begin with keeps its bytes, the others are fixed)."""
    root = tmp_path / "proj"
    old = _make_project(root)
    broken = root / "pkg0" / "mod_0.py"
    broken.write_bytes(old["pkg0/mod_0.py"] + b"def broken(:\n")
    proc = _start_fix(root)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode in (0, 1), stderr.decode()
    assert broken.read_bytes() == old["pkg0/mod_0.py"] + b"def broken(:\n"
    assert not [p for p in root.rglob("*.celery-lint")]
    shutil.rmtree(root)
