"""Writing fixed files without losing data.

A fix is written only to a file the user may write, that is inside the project, and that
still holds the bytes the fix was computed from (an editor may have saved it meanwhile:
then the file is left alone and reported). A symbolic link is never replaced: the file it
points to is written. How the new bytes get there:

* A file with one name (``st_nlink == 1``) is replaced: the new content goes to a
  temporary file in the same folder, flushed to disk and given the file's mode and owner;
  the original is checked once more and the temporary file renamed over it. The rename is
  atomic: an interrupted run (even ``kill -9``) leaves the old or the new file, and at worst
  the temporary file (``.NAME.*.celery-lint``) next to it.
* A file with several names (hard links), in a folder that takes no new file, or whose
  owner a new file could not be given, is rewritten in place (read and compared, then
  written and truncated through one handle): its inode, and so its other names, mode and
  owner, stay. That is not atomic against ``kill -9``, but Ctrl-C is held back until the
  write is complete, so Ctrl-C never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

CHANGED = "the file changed on disk while it was being fixed"


class NotWritten(Exception):
    """The fix of a file was not written (the file is as it was); the message says why."""


class WrittenThenInterrupted(KeyboardInterrupt):
    """Ctrl-C arrived while a file was being written; the write was completed first."""


def refusal(path: Path, root: Path) -> str | None:
    """Why a fix of ``path`` must not be written, or None when it may. Root may write a file
    whose mode has no write bit: a fix still leaves it alone, as a read-only file."""
    real = Path(os.path.realpath(path))
    if not _inside(real, Path(os.path.realpath(root))):
        where = "a link to a file" if path.is_symlink() else "reached through a link to a folder"
        return f"it is {where} outside the project"
    try:
        status = os.stat(real)
    except OSError as exc:
        return f"cannot read its status: {exc.strerror or exc}"
    if not stat.S_ISREG(status.st_mode):
        return "it is not a regular file"
    if not status.st_mode & stat.S_IWUSR or not os.access(real, os.W_OK):
        return "the file is read-only"
    return None


def file_identity(path: Path) -> tuple[int, int]:
    """The file ``path`` names, through links: two paths of one file (a symbolic or a hard
    link) have the same identity."""
    status = os.stat(path)
    return status.st_dev, status.st_ino


def write_fix(path: Path, expected: bytes, data: bytes) -> None:
    """Replace the content of the file ``path`` names (through a symbolic link) by ``data``
    when it still is ``expected``; raises :class:`NotWritten` otherwise, or when it cannot."""
    real = Path(os.path.realpath(path))
    try:
        status = os.stat(real)
        if status.st_nlink == 1 and _replace(real, status, expected, data):
            return
        _rewrite_in_place(real, expected, data)
    except OSError as exc:
        raise NotWritten(f"cannot write it: {exc.strerror or exc}") from exc


def _replace(real: Path, status: os.stat_result, expected: bytes, data: bytes) -> bool:
    """Write through a temporary file and a rename; False (nothing done) when the folder
    takes no new file or the new file cannot have the original's owner."""
    _check_unchanged(real, expected)
    try:
        fd, tmp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".celery-lint")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            kept = _give_owner_and_mode(handle.fileno(), status)
            if kept:
                os.fsync(handle.fileno())
        if not kept:
            os.unlink(tmp)
            return False
        _pause_before_rename_for_tests(tmp)
        with _ctrl_c_held():
            _check_unchanged(real, expected)
            os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def _give_owner_and_mode(fd: int, status: os.stat_result) -> bool:
    """Give the new file the original's owner, group and mode (owner first: a change of
    owner clears the set-id bits); False when the owner or group cannot be kept."""
    if hasattr(os, "fchown"):
        mine = os.fstat(fd)
        if (mine.st_uid, mine.st_gid) != (status.st_uid, status.st_gid):
            try:
                os.fchown(fd, status.st_uid, status.st_gid)
            except OSError:
                return False
    if hasattr(os, "fchmod"):
        with contextlib.suppress(OSError):
            os.fchmod(fd, stat.S_IMODE(status.st_mode))
    return True


def _rewrite_in_place(real: Path, expected: bytes, data: bytes) -> None:
    with _ctrl_c_held(), open(real, "r+b") as handle:
        if handle.read() != expected:
            raise NotWritten(CHANGED)
        handle.seek(0)
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())


def _check_unchanged(real: Path, expected: bytes) -> None:
    with open(real, "rb") as handle:
        if handle.read() != expected:
            raise NotWritten(CHANGED)


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C back until the block is done: then raise it, as
    :class:`WrittenThenInterrupted` when the block completed."""
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous: Any = None
    installed = False
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
                previous = signal.signal(signal.SIGINT, hold)
                installed = True
    try:
        yield
    except BaseException:
        if caught:
            raise KeyboardInterrupt from None
        raise
    finally:
        if installed:
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if caught:
        raise WrittenThenInterrupted


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


# A hook for tests/test_fix_interrupted.py, which must kill a fix at a known point of a write:
# "N:PATH" makes the N-th write of this process, once its temporary file is complete and
# before the rename, write the temporary file's name to PATH and wait there to be killed.
PAUSE_BEFORE_RENAME = "CELERY_LINT_TEST_PAUSE_BEFORE_RENAME"
_writes_so_far = [0]


def _pause_before_rename_for_tests(tmp: str) -> None:
    spec = os.environ.get(PAUSE_BEFORE_RENAME)
    if not spec:
        return
    _writes_so_far[0] += 1
    count, _, announce = spec.partition(":")
    if _writes_so_far[0] != int(count):
        return
    # Announced by a rename, so the test never reads a half-written name.
    Path(announce + ".part").write_text(tmp, "utf-8")
    os.replace(announce + ".part", announce)
    while True:
        time.sleep(1)
