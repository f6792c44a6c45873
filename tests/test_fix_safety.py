"""``--fix`` never loses or damages data.

A file is written only when it still holds the bytes the fix was computed from, when the
user may write it, and when it is inside the project; a symbolic link stays a link (the
file it points to is fixed), a hard-linked file keeps its inode, and a file keeps its mode
and owner. Outside the edited spans a fixed file is byte-for-byte what it was. A file that
is not fixed gets one error line and the run exits 2; Ctrl-C exits 130 with one line and
never leaves a half-written file.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_lint.cli import main
from celery_lint.engine.fixing import paths as fixing_paths
from celery_lint.engine.fixing.preserve import _dropped, carry_edits

PICKLE = b"from celery import Celery\n\napp = Celery('proj')\napp.conf.task_serializer = 'pickle'\n"
FIXED = PICKLE.replace(b"'pickle'", b"'json'")
# CEL101 alone, and its fix whatever its safety: the only edit is 'pickle' -> 'json'.
FIX = ["--fix", "--unsafe-fixes", "--no-cache", "--select", "CEL101"]
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text("", "utf-8")
    monkeypatch.chdir(project)
    return project


def _fix(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, list[str]]:
    """Exit code, stdout and the stderr lines of ``celery-lint --fix ...`` run in-process."""
    try:
        code = main([*FIX, *(args or ["."])])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped celery-lint as a traceback")
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, [line for line in err.splitlines() if "warning:" not in line]


def _leftovers(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.celery-lint"))


# ------------------------------------------------------------------ a file changed meanwhile
def test_a_file_saved_while_fixing_keeps_the_saved_content(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor saves a file after celery-lint read it and before the fix is written: the
    save wins, the file gets one error line, the other files are fixed."""
    (root / "a.py").write_bytes(PICKLE)
    (root / "b.py").write_bytes(PICKLE)
    saved = PICKLE + b"# saved by an editor\n"
    real_fix_project = fixing_paths.fix_project

    def fix_project_then_save(*args: Any, **kwargs: Any) -> Any:
        outcome = real_fix_project(*args, **kwargs)
        (root / "a.py").write_bytes(saved)  # between the analysis and the write
        return outcome

    monkeypatch.setattr(fixing_paths, "fix_project", fix_project_then_save)
    code, _, errors = _fix(capsys)
    assert (root / "a.py").read_bytes() == saved
    assert (root / "b.py").read_bytes() == FIXED
    assert errors == [
        "celery-lint: error: a.py: not fixed: the file changed on disk while it was being fixed"
    ]
    assert code == EXIT_ERROR


# ------------------------------------------------------------------ links, modes, owners
def test_a_symlinked_file_stays_a_link_and_its_target_is_fixed(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (root / "shared.py").write_bytes(PICKLE)
    (root / "alias.py").symlink_to("shared.py")
    code, out, errors = _fix(capsys, "alias.py")
    assert (code, errors) == (0, []), (out, errors)
    assert (root / "alias.py").is_symlink()
    assert os.readlink(root / "alias.py") == "shared.py"
    assert (root / "shared.py").read_bytes() == FIXED
    # Both names in one run: the file is written once, the link stays.
    (root / "shared.py").write_bytes(PICKLE)
    code, _, errors = _fix(capsys, ".")
    assert (code, errors) == (0, [])
    assert (root / "alias.py").is_symlink()
    assert (root / "shared.py").read_bytes() == FIXED


def test_a_link_to_a_file_outside_the_project_is_not_written(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere.py"
    outside.write_bytes(PICKLE)
    (root / "alias.py").symlink_to(outside)
    (root / "own.py").write_bytes(PICKLE)
    code, _, errors = _fix(capsys, ".")
    assert outside.read_bytes() == PICKLE
    assert (root / "alias.py").is_symlink()
    assert (root / "own.py").read_bytes() == FIXED
    # Whether the walk lints the link or not, it is never written through.
    assert all("alias.py: not fixed: it is a link to a file outside the project" in e for e in errors), errors
    assert code in (0, 1, EXIT_ERROR)


def test_a_read_only_file_is_not_fixed(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Mode 0444 means "do not change": the fix leaves the file alone, even for root (who
    could write it)."""
    locked = root / "locked.py"
    locked.write_bytes(PICKLE)
    locked.chmod(0o444)
    (root / "open.py").write_bytes(PICKLE)
    code, out, errors = _fix(capsys)
    assert locked.read_bytes() == PICKLE
    assert stat.S_IMODE(locked.stat().st_mode) == 0o444
    assert (root / "open.py").read_bytes() == FIXED
    assert errors == ["celery-lint: error: locked.py: not fixed: the file is read-only"]
    assert "locked.py:4:1: CEL101" in out  # its finding is still reported
    assert code == EXIT_ERROR


def test_hard_links_mode_and_owner_are_kept(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = root / "first.py"
    first.write_bytes(PICKLE)
    os.link(first, root / "second.py")
    outside = root.parent / "outside_name.py"
    os.link(first, outside)  # a third name, outside the project
    inode = first.stat().st_ino
    private = root / "private.py"
    private.write_bytes(PICKLE)
    private.chmod(0o640)
    owner = (private.stat().st_uid, private.stat().st_gid)
    if IS_ROOT:
        owner = (65534, 65534)  # a file of another user, fixed by root
        os.chown(private, *owner)
    code, _, errors = _fix(capsys)
    assert (code, errors) == (0, [])
    assert first.stat().st_ino == inode and first.stat().st_nlink == 3
    assert first.read_bytes() == (root / "second.py").read_bytes() == outside.read_bytes() == FIXED
    assert private.read_bytes() == FIXED
    assert stat.S_IMODE(private.stat().st_mode) == 0o640
    assert (private.stat().st_uid, private.stat().st_gid) == owner
    assert _leftovers(root) == []


# ------------------------------------------------------------------ folders and failed writes
def test_a_folder_that_takes_no_new_file_gets_the_fix_in_place(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No temporary file can be made in ``locked/`` (a 0555 folder for a user who is not
    root): the file, which is writable, is rewritten in place, and the others are fixed."""
    locked = root / "locked"
    locked.mkdir()
    (locked / "tasks.py").write_bytes(PICKLE)
    (root / "other.py").write_bytes(PICKLE)
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> Any:
        if Path(kwargs.get("dir") or args[2]).resolve() == locked.resolve():
            raise PermissionError(13, "Permission denied", str(locked))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    code, _, errors = _fix(capsys)
    assert (code, errors) == (0, [])
    assert (locked / "tasks.py").read_bytes() == FIXED
    assert (root / "other.py").read_bytes() == FIXED


def test_a_failed_write_is_one_line_and_the_other_files_are_fixed(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.py", "b.py", "c.py"):
        (root / name).write_bytes(PICKLE)
    real_replace = os.replace

    def replace(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if Path(target).name == "b.py":
            raise OSError(30, "Read-only file system")
        real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    code, out, errors = _fix(capsys)
    assert errors == ["celery-lint: error: b.py: not fixed: cannot write it: Read-only file system"]
    assert (root / "b.py").read_bytes() == PICKLE
    assert (root / "a.py").read_bytes() == (root / "c.py").read_bytes() == FIXED
    assert "b.py:4:1: CEL101" in out and "a.py:4" not in out
    assert code == EXIT_ERROR
    assert _leftovers(root) == []


# ------------------------------------------------------------------ the bytes outside the edits
@pytest.mark.parametrize(
    "source",
    [
        pytest.param(PICKLE, id="LF"),
        pytest.param(PICKLE.replace(b"\n", b"\r\n"), id="CRLF"),
        pytest.param(PICKLE.replace(b"\n", b"\r"), id="CR only"),
        pytest.param(PICKLE.replace(b"\napp.conf", b"\n\x0capp.conf"), id="form feed on the fixed line"),
        pytest.param(
            PICKLE.replace(b"\n", b"\r").replace(b"\rapp.conf", b"\r\x0capp.conf"), id="CR and form feed"
        ),
        pytest.param(
            PICKLE + b"\ndef f():\n    x = 1\n\x0c    return x\n", id="form feed in an indented block"
        ),
        pytest.param(PICKLE.replace(b"\n\n", b"\r\n\n").rstrip(b"\n"), id="mixed endings, none at the end"),
        pytest.param(b"\xef\xbb\xbf" + PICKLE, id="UTF-8 BOM"),
        pytest.param(b"# -*- coding: latin-1 -*-\n# caf\xe9\n" + PICKLE, id="latin-1"),
        pytest.param(PICKLE.replace(b"\n", b"  \t\n"), id="trailing whitespace"),
    ],
)
def test_a_fixed_file_keeps_every_byte_outside_the_edit(
    root: Path, capsys: pytest.CaptureFixture[str], source: bytes
) -> None:
    (root / "conf.py").write_bytes(source)
    code, out, errors = _fix(capsys)
    assert (code, errors) == (0, []), out
    assert (root / "conf.py").read_bytes() == source.replace(b"'pickle'", b"'json'")


def test_a_codec_that_does_not_give_the_bytes_back_is_not_fixed(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``unicode_escape`` decodes a newline to a newline and encodes it as ``\\n``: a fix
    would turn the file into one line. The file is left alone."""
    source = b"# coding: unicode_escape\n" + PICKLE
    (root / "escaped.py").write_bytes(source)
    (root / "plain.py").write_bytes(PICKLE)
    code, _, errors = _fix(capsys)
    assert (root / "escaped.py").read_bytes() == source
    assert (root / "plain.py").read_bytes() == FIXED
    assert errors == [
        "celery-lint: error: escaped.py: not fixed: its encoding (unicode_escape) does not give back its bytes"
    ]
    assert code == EXIT_ERROR


def test_a_file_with_a_null_byte_is_cel900_and_never_fixed(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CPython refuses a null byte anywhere in a source file; LibCST accepts one in a comment."""
    source = PICKLE + b"# \x00\n"
    (root / "nul.py").write_bytes(source)
    assert main(["--fix", "--unsafe-fixes", "--no-cache", "."]) == 1
    out = capsys.readouterr().out
    assert (root / "nul.py").read_bytes() == source
    assert (
        "nul.py:5:3: CEL900 file cannot be analysed: syntax error at line 5, column 3: source code contains a null byte"
        in out
    )
    assert main(["--no-cache", "."]) == 1
    assert "nul.py:5:3: CEL900 " in capsys.readouterr().out


# ------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_while_writing_is_one_line_and_exit_130(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("a.py", "b.py", "c.py"):
        (root / name).write_bytes(PICKLE)
    real_replace = os.replace

    def replace(source: Any, target: Any, *args: Any, **kwargs: Any) -> None:
        if Path(target).name == "b.py":
            raise KeyboardInterrupt
        real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    code, out, errors = _fix(capsys)
    assert code == EXIT_INTERRUPTED
    assert errors == ["celery-lint: interrupted; 1 file fixed, no file left half-written"]
    assert out == ""
    assert (root / "a.py").read_bytes() == FIXED
    assert (root / "b.py").read_bytes() == (root / "c.py").read_bytes() == PICKLE
    assert _leftovers(root) == []


def test_ctrl_c_during_an_in_place_write_waits_for_the_write(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard-linked file is rewritten in place, which is not atomic: Ctrl-C arriving in
    the middle is held until the file is complete."""
    (root / "a.py").write_bytes(PICKLE)
    os.link(root / "a.py", root / "a_link.py")
    (root / "b.py").write_bytes(PICKLE)
    real_fsync = os.fsync
    sent: list[int] = []

    def fsync(fd: int) -> None:
        if not sent:
            sent.append(fd)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, after the write, before the flush
            time.sleep(0.05)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    code, _, errors = _fix(capsys)
    assert sent, "the in-place write was not reached"
    assert code == EXIT_INTERRUPTED
    assert errors == ["celery-lint: interrupted; 1 file fixed, no file left half-written"]
    assert (root / "a.py").read_bytes() == FIXED
    assert (root / "b.py").read_bytes() == PICKLE


def test_ctrl_c_before_any_write_changes_nothing(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (root / "a.py").write_bytes(PICKLE)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(fixing_paths, "fix_project", interrupted)
    code, _, errors = _fix(capsys)
    assert code == EXIT_INTERRUPTED
    assert errors == ["celery-lint: interrupted; 0 files fixed, no file left half-written"]
    assert (root / "a.py").read_bytes() == PICKLE


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX SIGINT")
def test_a_real_ctrl_c_in_a_write_leaves_the_file_and_no_debris(tmp_path: Path) -> None:
    """SIGINT to a real process, paused inside its second write (the temporary file is
    complete, the rename not done): one line, exit 130, the file as it was, no temporary file."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("", "utf-8")
    for name in ("a.py", "b.py", "c.py"):
        (root / name).write_bytes(PICKLE)
    announce = tmp_path / "paused"
    env = {**os.environ, "CELERY_LINT_TEST_PAUSE_BEFORE_RENAME": f"2:{announce}"}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery_lint", *FIX, "."],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        _wait_for(announce.exists, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert err.decode().splitlines() == ["celery-lint: interrupted; 1 file fixed, no file left half-written"]
    assert out == b""
    contents = [(root / name).read_bytes() for name in ("a.py", "b.py", "c.py")]
    assert contents == [FIXED, PICKLE, PICKLE]
    assert _leftovers(root) == []


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the fix ended (exit {proc.returncode}) before the paused write")
        assert time.monotonic() < deadline, "the fix never reached the paused write"
        time.sleep(0.01)


def test_noqa_holds_in_a_file_with_lone_cr_line_endings(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``# noqa`` on line 4 of a CR-only file is on line 4: the fix leaves that task alone."""
    source = b"from celery import shared_task\r\r@shared_task\rdef f():  # noqa: CEL201\r    pass\r"
    (root / "tasks.py").write_bytes(source)
    assert main(["--fix", "--unsafe-fixes", "--no-cache", "--select", "CEL201", "."]) == 0
    assert "No findings" in capsys.readouterr().out
    assert (root / "tasks.py").read_bytes() == source


# ------------------------------------------------------------------ carrying edits over, as a property
_CHUNKS = st.sampled_from(["app", " = ", "'pickle'", "(", ")", "x", "\n", "\r\n", "\r", "    ", "#", "é"])


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(
    printed=st.lists(_CHUNKS, max_size=30).map("".join),
    dropped=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["\x0c", "\r", " \x0c"])), max_size=4),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 3), _CHUNKS), max_size=3),
)
def test_edits_carried_to_the_source_keep_everything_else(
    printed: str, dropped: list[tuple[int, str]], edits: list[tuple[int, int, str]]
) -> None:
    """``source`` is ``printed`` (LibCST's print of it) plus whitespace LibCST dropped;
    ``fixed`` is ``printed`` edited. The result is ``fixed`` plus some of that whitespace,
    and is ``source`` exactly when nothing was edited."""
    source = printed
    for at, text in sorted(dropped, reverse=True):
        at %= len(source) + 1
        source = source[:at] + text + source[at:]
    fixed = printed
    for at, length, text in edits:
        at %= len(fixed) + 1
        fixed = fixed[:at] + text + fixed[at + length :]
    result = carry_edits(source, printed, fixed)
    assert result is not None
    assert carry_edits(source, printed, printed) == source
    assert _dropped(result, fixed) is not None, (source, fixed, result)
    kept = "".join(text for _, text in _dropped(result, fixed) or [])
    assert len(kept) <= sum(len(text) for _, text in dropped)


def test_edits_are_not_carried_over_a_source_printed_differently() -> None:
    """LibCST's print of the source lost more than whitespace: nothing can be placed safely."""
    assert carry_edits("a = 1  # x\n", "a = 1\n", "a = 2\n") is None
