"""Writing fixed files: all or nothing, keeping the file's permissions."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename: an interrupted run leaves the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".celery-lint")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        _pause_before_rename_for_tests(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


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
