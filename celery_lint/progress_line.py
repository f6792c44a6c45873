"""The CLI's progress line: one line on stderr, rewritten in place, while a long run works.

``celery-lint: 340/850 files analysed, checking shop``. It is drawn only on a terminal,
only once the run has taken :data:`DEFAULT_DELAY` seconds (a fast run prints nothing) and
at most every :data:`INTERVAL` seconds; it is erased before anything else is written to
stdout or stderr (a finding or a warning never shares a line with it), and at the end of
the run, also when it ends with Ctrl-C or an error. The engine reports to it through
:class:`~celery_lint.engine.progress.Progress`; a thread of its own draws, so the line
shows while a project's model is built, when the engine says nothing for seconds.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import TracebackType
from typing import Any, TextIO

from .engine.progress import Phase, Progress

DELAY_VARIABLE = "CELERY_LINT_PROGRESS_DELAY"
"""The environment variable that sets how long a run goes before the line shows."""
DEFAULT_DELAY = 1.0
INTERVAL = 0.1
"""The shortest time between two drawings of the line."""

_PHASES: dict[Phase, str] = {
    "reading": "reading {}",
    "building": "building the project model of {}",
    "checking": "checking {}",
    "done": "{} checked",
}


def progress_delay(environ: dict[str, str] | None = None) -> tuple[float, str | None]:
    """Seconds before the line shows (``$CELERY_LINT_PROGRESS_DELAY``, else 1), and a
    warning when the variable holds no usable number of seconds."""
    raw = (os.environ if environ is None else environ).get(DELAY_VARIABLE)
    if raw is None or not raw.strip():
        return DEFAULT_DELAY, None
    try:
        delay = float(raw)
    except ValueError:
        delay = -1.0
    if not 0 <= delay < float("inf"):
        return DEFAULT_DELAY, (
            f"{DELAY_VARIABLE}={raw!r} is not a number of seconds (0 or more): "
            f"the progress line shows after {DEFAULT_DELAY:g} s"
        )
    return delay, None


class ProgressLine(Progress):
    """A :class:`Progress` that draws on ``stream`` (a terminal) while it is entered; it
    puts itself between ``sys.stdout``/``sys.stderr`` and their streams meanwhile, so that
    every other write first erases the line."""

    def __init__(self, stream: TextIO, delay: float = DEFAULT_DELAY, interval: float = INTERVAL) -> None:
        self._stream = stream
        self._delay = delay
        self._interval = interval
        self._changed = threading.Condition()
        self._total: int | None = None
        self._done = 0
        self._project = ""
        self._phase: Phase = "reading"
        self._dirty = False
        self._shown = 0  # the width of the line on the screen (0: none)
        self._stopped = False
        self._start = 0.0
        self._last_drawn = float("-inf")
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._saved: tuple[Any, Any] | None = None

    # What the engine reports (on the run's thread).

    def planned(self, files: int) -> None:
        with self._changed:
            self._total = files
            self._changed_now()

    def phase(self, project: str, phase: Phase) -> None:
        with self._changed:
            self._project, self._phase = project, phase
            self._changed_now()

    def checked(self, files: int, project: str) -> None:
        with self._changed:
            self._done += files
            if project != self._project:  # (a project a -j worker checked whole)
                self._project, self._phase = project, "done"
            self._changed_now()

    def _changed_now(self) -> None:
        self._dirty = True
        self._changed.notify()

    # The run.

    def __enter__(self) -> ProgressLine:
        global _drawing
        _drawing = self
        self._start = time.monotonic()
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _Erasing(sys.stdout, self)
        sys.stderr = _Erasing(sys.stderr, self)
        self._thread = threading.Thread(
            target=self._draw_while_running, name="celery-lint-progress", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _drawing
        with self._changed:
            self._stopped = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(1)
        with self._changed:
            self._erase()
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
        _drawing = None

    def _draw_while_running(self) -> None:
        with self._changed:
            while not self._stopped:
                timeout: float | None = None
                if self._dirty and self._total is not None:
                    now = time.monotonic()
                    due = max(self._start + self._delay, self._last_drawn + self._interval)
                    if now >= due:
                        self._draw(now)
                        continue
                    timeout = due - now
                self._changed.wait(timeout)

    def _draw(self, now: float) -> None:
        line = f"celery-lint: {self._done}/{self._total} files analysed"
        if self._project:
            line += ", " + _PHASES[self._phase].format(self._project)
        line = line[: _columns(self._stream) - 1]
        padding = " " * max(0, self._shown - len(line))  # (what is left of a longer line)
        try:
            self._stream.write("\r" + line + padding)
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: stop drawing
            self._stopped = True
            return
        self._shown = len(line)
        self._dirty = False
        self._last_drawn = now

    def _erase(self) -> None:
        """Erase the line (the caller holds the lock)."""
        if self._shown:
            try:
                self._stream.write("\r" + " " * self._shown + "\r")
                self._stream.flush()
            except (OSError, ValueError):
                pass
            self._shown = 0

    def _before_write(self) -> bool:
        """Called before another write; False in a forked ``-j`` worker (which has a copy of
        this object but no drawing thread, and whose copy of the lock may be held)."""
        return os.getpid() == self._pid


class _Erasing:
    """``sys.stdout`` or ``sys.stderr`` while the line may show: a write first erases it
    (drawn again at the next change, below what was written)."""

    def __init__(self, stream: Any, line: ProgressLine) -> None:
        self._wrapped = stream
        self._line = line

    def write(self, text: str) -> int:
        line = self._line
        if not text or not line._before_write():
            return int(self._wrapped.write(text))
        with line._changed:
            if line._shown:
                line._erase()
                line._dirty = True
            written = int(self._wrapped.write(text))
            self._wrapped.flush()  # (out before the line is drawn again)
            return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


_drawing: ProgressLine | None = None
"""The line being drawn, if any."""


def _before_fork() -> None:
    # A ``-j`` worker is forked while the drawing thread may be writing: it would inherit
    # the stream's lock held by a thread it does not have. The fork waits for the drawing.
    if _drawing is not None:
        _drawing._changed.acquire()


def _after_fork_in_parent() -> None:
    if _drawing is not None:
        _drawing._changed.release()


def _after_fork_in_child() -> None:
    global _drawing
    if _drawing is not None:
        _drawing._changed = threading.Condition()  # (the parent's is held; this one is its own)
        _drawing._stopped = True
        _drawing = None


if hasattr(os, "register_at_fork"):  # (not on Windows, where nothing is forked)
    os.register_at_fork(
        before=_before_fork, after_in_parent=_after_fork_in_parent, after_in_child=_after_fork_in_child
    )


def _columns(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80
