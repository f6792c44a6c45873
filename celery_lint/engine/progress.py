"""What a run reports while it works, for a front end to show (the CLI's progress line).

The engine knows nothing of terminals: :func:`~celery_lint.engine.runner.lint_paths`
calls the methods of the :class:`Progress` it is given, always in the process that called
it (never in a ``-j`` worker: the parent counts a worker's files when its results come
back), and the front end decides what to draw. The base class does nothing; it is what a
run without an observer gets (the flake8 plugin, the pytest gate, the API).
"""

from __future__ import annotations

from typing import Literal

Phase = Literal["reading", "building", "checking", "done"]
"""Where a project is: ``reading`` its files (and the cache), ``building`` its project
model, ``checking`` its files with the rules, ``done``."""


class Progress:
    """An observer of a lint run; every method does nothing here. Methods are called from
    the run's own thread and must return quickly."""

    def planned(self, files: int) -> None:
        """The run will check ``files`` files in all (known once the paths are walked)."""

    def phase(self, project: str, phase: Phase) -> None:
        """``project`` (its folder as the findings show paths) enters ``phase``."""

    def checked(self, files: int, project: str) -> None:
        """``files`` more files of ``project`` are analysed (or answered from the cache)."""


NO_PROGRESS = Progress()
