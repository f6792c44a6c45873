"""Paths (#14): one rule for symbolic links in every front end, a walk that never leaves the
project, and nothing left out without a word.

The rule: folders are resolved through symbolic links (the project root is too), a file's
own name is kept, and paths are printed as the user spelled them. Most runs are in-process
(``celery_lint.cli.main``); real flake8 and the real CLI run as subprocesses only where the
point is flake8's behaviour or a run that would not end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from celery_lint.cli import main

SELECT = "CEL201,CEL205,CEL101,CEL900"
BARE_TASK = "from celery import shared_task\n\n\n@shared_task\ndef bare():\n    pass\n"
APP = "from celery import Celery\n\napp = Celery('shop')\napp.conf.task_serializer = 'pickle'\n"
PYPROJECT = (
    '[project]\nname = \'shop\'\n\n[tool.celery-lint]\nper-file-ignores = { "shop/legacy/*" = ["CEL205"] }\n'
)
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def shop(folder: Path) -> Path:
    """A small project: an app, a task, a task under per-file-ignores."""
    write(folder / "pyproject.toml", PYPROJECT)
    write(folder / "shop" / "__init__.py", "")
    write(folder / "shop" / "celery.py", APP)
    write(folder / "shop" / "tasks.py", BARE_TASK)
    write(folder / "shop" / "legacy" / "__init__.py", "")
    write(folder / "shop" / "legacy" / "old.py", BARE_TASK)
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["--no-cache", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def findings(out: str) -> list[str]:
    return sorted(line for line in out.splitlines() if ": CEL" in line)


# --------------------------------------------------------------------------- one path rule
@pytest.fixture
def real(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project ``real``, also reached as ``link`` (a symbolic link), from their folder."""
    project = shop(tmp_path / "real")
    (tmp_path / "link").symlink_to(project)
    monkeypatch.chdir(tmp_path)
    return project


def test_a_project_reached_through_a_symlinked_folder_gives_the_same_findings(
    real: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--select", SELECT, tmp_path / "real")
    expected = findings(out)
    assert code == 1 and len(expected) == 4, out
    # per-file-ignores apply: the legacy task has CEL201, not CEL205.
    assert [f for f in expected if "legacy" in f and "CEL205" in f] == [], out
    for spelled in (tmp_path / "link", "link", "link/shop/tasks.py"):
        code, out, _ = run(capsys, "--select", SELECT, spelled)
        shown = findings(out)
        # Printed as the user spelled the path; otherwise the very same findings.
        assert all(line.startswith("link" + os.sep) for line in shown), out
        wanted = [f.replace("real" + os.sep, "link" + os.sep, 1) for f in expected]
        if str(spelled).endswith(".py"):
            wanted = [f for f in wanted if f.startswith(os.path.join("link", "shop", "tasks.py"))]
        assert shown == wanted, (spelled, out)


def test_fix_through_a_symlinked_folder_keeps_per_file_ignores(
    real: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--fix", "--unsafe-fixes", "--select", SELECT, tmp_path / "link")
    assert code == 0 and out.startswith("Fixed 3 files."), out
    # The fixes landed in the real files, and none for a finding per-file-ignores ignores:
    # the legacy task gets its time limit, not ``acks_late``.
    assert "'json'" in (real / "shop" / "celery.py").read_text("utf-8")
    assert "acks_late=True" in (real / "shop" / "tasks.py").read_text("utf-8")
    legacy = (real / "shop" / "legacy" / "old.py").read_text("utf-8")
    assert "time_limit" in legacy and "acks_late" not in legacy, legacy


def test_flake8_through_a_symlinked_folder_gives_the_same_findings(real: Path, tmp_path: Path) -> None:
    def flake8(target: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "flake8", "--select", "CEL", target],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return sorted(line.split(os.sep, 1)[1] for line in done.stdout.splitlines() if " CEL" in line)

    direct = flake8("real")
    assert len(direct) >= 5, direct
    assert flake8("link") == direct


def test_testing_helpers_in_a_symlinked_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS: ``/tmp`` and ``/var`` are symbolic links; the helpers' projects live there."""
    from celery_lint.testing import lint_source

    (tmp_path / "real").mkdir()
    (tmp_path / "tmp").symlink_to(tmp_path / "real")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    found = lint_source(
        BARE_TASK, path="shop/tasks.py", files={"shop/__init__.py": "", "shop/celery.py": APP}
    )
    assert {v.code for v in found} >= {"CEL201", "CEL205"}, found
    assert all("'shop.tasks.bare'" in v.message for v in found if v.code == "CEL201"), found


# --------------------------------------------------------------------------- the walk
def test_a_folder_link_out_of_the_project_is_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shop(tmp_path / "project")
    outside = write(tmp_path / "outside" / "conf.py", APP)
    write(tmp_path / "outside" / "jobs.py", BARE_TASK)
    (project / "shop" / "shared").symlink_to(tmp_path / "outside")
    monkeypatch.chdir(project)
    code, out, err = run(capsys, "--select", SELECT, ".")
    assert code == 1 and not [line for line in findings(out) if "shared" in line], out
    assert (
        "celery-lint: warning: 1 path not checked (symbolic links to folders outside the project): "
        + os.path.join("shop", "shared")
    ) in err.splitlines(), err
    # --fix writes nothing outside the project either.
    run(capsys, "--fix", "--unsafe-fixes", "--select", SELECT, ".")
    assert outside.read_text("utf-8") == APP
    assert "'json'" in (project / "shop" / "celery.py").read_text("utf-8")


def test_a_link_to_the_filesystem_root_ends_quickly(tmp_path: Path) -> None:
    project = shop(tmp_path / "project")
    (project / "rootlink").symlink_to("/")
    done = subprocess.run(
        [sys.executable, "-m", "celery_lint", "--no-cache", "--select", SELECT, "--format", "json", "."],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)["summary"]
    assert summary["files_checked"] == 5
    assert summary["skipped"] == {"link-outside-project": ["rootlink"]}
    assert any("rootlink" in warning for warning in summary["warnings"]), summary


def test_folder_links_inside_the_project_neither_loop_nor_count_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shop(tmp_path / "project")
    (project / "shop" / "up").symlink_to("..")
    (project / "shop" / "again").symlink_to("legacy")
    monkeypatch.chdir(project)
    code, out, err = run(capsys, "--select", SELECT, "--format", "json", ".")
    data = json.loads(out)
    assert code == 1 and data["summary"]["files_checked"] == 5, data["summary"]
    assert sorted({f["path"] for f in data["findings"]}) == [
        os.path.join("shop", "celery.py"),
        os.path.join("shop", "legacy", "old.py"),
        os.path.join("shop", "tasks.py"),
    ]
    assert data["summary"]["skipped"] == {"link-loop": [os.path.join("shop", "up")]}
    assert "symbolic links that loop" in err


# --------------------------------------------------------------------------- nothing left out in silence
def test_packages_named_like_build_output_are_checked_and_the_rest_is_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shop(tmp_path / "project")
    write(project / "build" / "__init__.py", "")
    write(project / "build" / "steps.py", BARE_TASK)
    write(project / "shop" / "dist" / "__init__.py", "")
    write(project / "shop" / "dist" / "jobs.py", BARE_TASK)
    write(project / "venv" / "lib" / "jobs.py", BARE_TASK)
    write(project / "node_modules" / "x" / "jobs.py", BARE_TASK)
    write(project / "dist" / "shop" / "tasks.py", BARE_TASK)
    monkeypatch.chdir(project)
    code, out, _ = run(capsys, "--select", SELECT, ".")
    assert code == 1, out
    paths = {line.split(":")[0] for line in findings(out)}
    assert os.path.join("build", "steps.py") in paths, out
    assert os.path.join("shop", "dist", "jobs.py") in paths, out
    assert not [p for p in paths if p.startswith(("venv", "node_modules", "dist"))], out
    summary = next(line for line in out.splitlines() if line.startswith("Found "))
    assert summary.endswith(
        "3 folders skipped: dist, node_modules, venv "
        "(virtual environments and build output, not packages of the project))."
    ), summary
    _, out, _ = run(capsys, "--select", SELECT, "--format", "json", ".")
    assert json.loads(out)["summary"]["skipped"] == {"environment": ["dist", "node_modules", "venv"]}


def _deep_folder(top: Path, depth: int) -> str:
    """A chain of folders under ``top`` whose path is longer than PATH_MAX, made through
    file descriptors (the path itself cannot be used); a task module at its bottom."""
    name = "d" * 200
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        handle = os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(handle, BARE_TASK.encode())
        os.close(handle)
    finally:
        os.close(fd)
    return "/".join([name] * depth)


def test_paths_longer_than_path_max_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shop(tmp_path / "project")
    deep = _deep_folder(project, 24)  # 24 * 201 bytes: past Linux's and macOS's PATH_MAX
    monkeypatch.chdir(project)
    code, out, err = run(capsys, "--select", SELECT, "--format", "json", ".")
    skipped = json.loads(out)["summary"]["skipped"]
    assert list(skipped) == ["path-too-long"], skipped
    assert skipped["path-too-long"][0].startswith("d" * 200), skipped
    assert "paths longer than the system allows" in err
    # A file named on the command line with such a path: one error line, the rest checked.
    code, out, err = run(capsys, "--select", SELECT, deep + "/deep.py", "shop/tasks.py")
    assert code == 2, (out, err)
    errors = [line for line in err.splitlines() if line.startswith("celery-lint: error:")]
    assert len(errors) == 1 and "longer than the system allows" in errors[0], err
    assert [line.split(":")[0] for line in findings(out)] == [os.path.join("shop", "tasks.py")] * 2, out


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``project/locked`` (a folder holding a task module) that this process cannot read:
    ``chmod 000``, and where that does not stop the reader (root), the listing and the
    lookups inside it are refused as the system refuses them."""
    project = shop(tmp_path / "project")
    folder = project / "locked"
    write(folder / "jobs.py", BARE_TASK)
    folder.chmod(0)
    if IS_ROOT:
        real_stat, real_scandir = os.stat, os.scandir

        def refused(path: object) -> bool:
            if not isinstance(path, (str, os.PathLike)):
                return False
            absolute = os.path.abspath(os.fspath(path))  # type: ignore[arg-type]
            return absolute.startswith(os.path.join(str(folder), ""))

        def stat(path: object, *args: object, **kwargs: object) -> object:
            if refused(path):
                raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[arg-type]
            return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

        def scandir(path: object = ".") -> object:
            if refused(os.path.join(os.fspath(path), "x")):  # type: ignore[arg-type]
                raise PermissionError(13, "Permission denied", os.fspath(path))  # type: ignore[arg-type]
            return real_scandir(path)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "stat", stat)
        monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.chdir(project)
    yield folder
    monkeypatch.undo()
    folder.chmod(0o755)


def test_an_unreadable_folder_is_reported(locked: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--select", SELECT, ".")
    assert code == 1 and findings(out), out
    assert (
        "celery-lint: warning: 1 path not checked (folders that cannot be read): locked" in err.splitlines()
    )


def test_a_file_named_inside_an_unreadable_folder_is_one_error(
    locked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--select", SELECT, "locked/jobs.py", "shop/tasks.py")
    assert code == 2, (out, err)
    assert err.splitlines() == ["celery-lint: error: locked/jobs.py: cannot be checked: permission denied"]
    assert [line.split(":")[0] for line in findings(out)] == [os.path.join("shop", "tasks.py")] * 2, out
