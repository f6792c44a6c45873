"""Arguments given to ``celery`` on the command lines of the project's launcher files.

How workers are started (``celery -A proj worker -Q mail -I proj.jobs``) lives outside
Python: Procfiles, shell scripts, compose files, Makefiles, supervisor and systemd
units. Rules that would otherwise flag something a command-line flag explains read
those flags here; the scan is generous (any file mentioning ``celery``), since a flag
found only keeps a rule silent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from .discovery import walks_into
from .files import read_regular_file
from .model import ProjectModel
from .tasknames import per_model

LAUNCHER_SUFFIXES = (
    ".sh",
    ".yml",
    ".yaml",
    ".ini",
    ".cfg",
    ".conf",
    ".service",
    ".toml",
    ".env",
    ".json",
    ".txt",
)
LAUNCHER_NAMES = ("Procfile", "Makefile", "Dockerfile", "justfile", "Taskfile", "supervisord", "entrypoint")
MAX_LAUNCHER_BYTES = 1_000_000
FLAG = re.compile(
    r"""(?:^|[\s"'\[,])(-[A-Za-z]|--[a-z][a-z-]*)["']?(?:[ \t]*[=,][ \t]*["']?|[ \t]+["']?|(?=[\w.]))([\w.:,-]+)"""
)


def launcher_texts(model: ProjectModel) -> list[str]:
    """Texts of the launcher files under the project root that mention celery."""
    return per_model(model, "launcher_texts", lambda: _read(model.root))


def launcher_arguments(model: ProjectModel, flags: Iterable[str]) -> set[str]:
    """Values given to any of ``flags`` (comma-separated values split), e.g. ``-Q a,b``."""
    wanted = set(flags)
    found: set[str] = set()
    for text in launcher_texts(model):
        for match in FLAG.finditer(text):
            if match.group(1) in wanted:
                for item in match.group(2).split(","):
                    item = item.split(":")[0].strip(".")
                    if item:
                        found.add(item)
    return found


def _read(root: Path) -> list[str]:
    texts: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if walks_into(dirpath, d)]
        for name in filenames:
            if not (name.endswith(LAUNCHER_SUFFIXES) or name.startswith(LAUNCHER_NAMES) or "compose" in name):
                continue
            path = os.path.join(dirpath, name)
            try:
                if os.path.getsize(path) > MAX_LAUNCHER_BYTES:
                    continue
                # Not open(): a named pipe called ``Procfile`` would block the read forever.
                text = read_regular_file(Path(path)).decode("utf-8", errors="replace")
            except OSError:
                continue
            if "celery" in text.lower():
                texts.append(text)
    return texts
