"""Which files a walk of a project finds, what it leaves out and why, and the one path rule.

**The path rule** (every front end follows it): a path is used with its folders resolved
through symbolic links and its file name kept (:func:`real_path`). A project's root is
resolved the same way (:mod:`.roots`), so a file's place in its project, its module name and
the ``per-file-ignores`` that apply to it do not depend on how the path was spelled
(``/tmp`` on macOS, a symlinked checkout). The file name is kept: Python imports a symlinked
module under the link's name. The front ends print paths as the user spelled them
(:class:`PathAliases`).

**The walk** never leaves the project: a symbolic link to a folder is followed only when it
points inside the project root and outside the folder being walked (which is walked
anyway); a link that leaves the project or loops is skipped. Virtual environments and
build output (``venv``, ``build``, ``dist``, ``node_modules``...) are skipped unless they
are packages of the project (they hold ``__init__.py``). What a walk leaves out that could
hold project code is recorded in a :class:`SkippedPaths`, which the run's summary shows.
"""

from __future__ import annotations

import errno
import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

NEVER_SOURCE_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "__pycache__",
        ".celery_lint_cache",
    }
)
"""Folders that never hold a project's code: VCS metadata and caches (skipped quietly)."""

ENVIRONMENT_DIRS = frozenset(
    {".tox", ".nox", ".venv", "venv", "node_modules", "site-packages", "build", "dist", ".eggs"}
)
"""Environments and build output: skipped unless they are a package of the project."""

ALWAYS_SKIPPED_DIRS = NEVER_SOURCE_DIRS | ENVIRONMENT_DIRS
"""Every folder name a walk leaves out (an environment's only when it is not a package)."""

try:
    PATH_MAX = os.pathconf("/", "PC_PATH_MAX")
except (AttributeError, OSError, ValueError):  # not on Windows
    PATH_MAX = 4096

# Why a walk left something out (the keys of the JSON summary's ``skipped``), and the words.
ENVIRONMENT = "environment"
LINK_OUTSIDE = "link-outside-project"
LINK_LOOP = "link-loop"
UNREADABLE = "unreadable"
TOO_LONG = "path-too-long"
REASONS = {
    ENVIRONMENT: "virtual environments and build output, not packages of the project",
    LINK_OUTSIDE: "symbolic links to folders outside the project",
    LINK_LOOP: "symbolic links that loop",
    UNREADABLE: "folders that cannot be read",
    TOO_LONG: f"paths longer than the system allows ({PATH_MAX} bytes)",
}
WARNING_REASONS = (LINK_OUTSIDE, LINK_LOOP, UNREADABLE, TOO_LONG)
"""Reasons that may hide project code: a warning each. Environments are a note of the summary."""


@dataclass
class SkippedPaths:
    """What walks left out, by reason: the paths (as the walk reached them)."""

    by_reason: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, path: str) -> None:
        paths = self.by_reason.setdefault(reason, [])
        if path not in paths:
            paths.append(path)

    def __bool__(self) -> bool:
        return bool(self.by_reason)


def real_path(path: str | Path) -> Path:
    """``path`` absolute, with its folders resolved through symbolic links; a file's own
    name is kept (a folder's is resolved too). Never raises: an unreadable or missing part
    is left as spelled."""
    text = os.fspath(path)
    absolute = text if os.path.isabs(text) else os.path.join(os.getcwd(), text)
    if os.path.isdir(absolute):
        return Path(os.path.realpath(absolute))
    head, name = os.path.split(absolute)
    if name in ("", ".", ".."):
        return Path(os.path.realpath(absolute))
    return Path(os.path.join(os.path.realpath(head), name))


def is_within(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or inside it (both absolute and normalised)."""
    return path == folder or path.startswith(os.path.join(folder, ""))


class PathAliases:
    """How the user spelled the paths named on the command line, to print the files found
    under them (real paths, see :func:`real_path`) back in that spelling."""

    def __init__(self, paths: Iterable[str | Path]) -> None:
        pairs: dict[str, str] = {}
        for path in paths:
            spelled = os.path.abspath(path)
            real = str(real_path(path))
            if real != spelled:
                pairs.setdefault(real, spelled)
        # The deepest real folder first: it is the most specific spelling.
        self._pairs = sorted(pairs.items(), key=lambda pair: -len(pair[0]))

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def spelled(self, path: str | Path) -> str:
        """``path`` (absolute, real) as the user's spelling reaches it; unchanged when no
        named path leads to it."""
        text = os.fspath(path)
        for real, spelled in self._pairs:
            if is_within(text, real):
                return spelled + text[len(real) :]
        return text


def _matches_any(relpath: str, patterns: Iterable[str]) -> bool:
    posix = relpath.replace(os.sep, "/")
    name = posix.rsplit("/", 1)[-1]
    for pattern in patterns:
        pat = pattern.rstrip("/")
        if fnmatch.fnmatch(posix, pat) or fnmatch.fnmatch(name, pat):
            return True
        if posix == pat or posix.startswith(pat + "/"):
            return True
        if fnmatch.fnmatch(posix, pat + "/*"):
            return True
    return False


def is_excluded(relpath: str, exclude: Iterable[str]) -> bool:
    return _matches_any(relpath, exclude)


def is_environment(folder: str, name: str) -> bool:
    """Whether the folder ``name`` in ``folder`` is an environment or build output to skip:
    a conventional name that is not a package (no ``__init__.py``), or a virtual environment
    (``pyvenv.cfg``) whatever its name."""
    path = os.path.join(folder, name)
    if os.path.isfile(os.path.join(path, "pyvenv.cfg")):
        return True
    return name in ENVIRONMENT_DIRS and not os.path.isfile(os.path.join(path, "__init__.py"))


def skips_quietly(name: str) -> bool:
    """Folders no walk enters and no summary mentions (VCS metadata, caches, egg-info)."""
    return name in NEVER_SOURCE_DIRS or name.endswith(".egg-info")


def walks_into(folder: str, name: str) -> bool:
    """Whether a walk of a project's other files (configuration data, launch scripts) enters
    the folder ``name`` in ``folder``: the rules of :func:`iter_python_files`, and no hidden
    folder. (Those walks never follow a symbolic link to a folder.)"""
    return not (name.startswith(".") or skips_quietly(name) or is_environment(folder, name))


def iter_python_files(
    root: Path,
    exclude: Iterable[str] = (),
    *,
    boundary: Path | None = None,
    skipped: SkippedPaths | None = None,
) -> Iterator[Path]:
    """Every ``.py`` file under ``root`` (resolved: see :func:`real_path`), by the rules of
    the module's docstring. ``exclude``: patterns relative to ``root``. ``boundary``: the
    project root no symbolic link may lead out of (``root`` when None). ``skipped``: where
    to record what was left out and why."""
    excluded = tuple(exclude)
    top = os.path.realpath(root)
    limit = os.path.realpath(boundary) if boundary is not None else top
    log = skipped if skipped is not None else SkippedPaths()
    seen: set[tuple[int, int]] = set()
    # A stack of (real folder, its path relative to ``root`` as the walk spells it).
    stack: list[tuple[str, str]] = [(top, "")]
    while stack:
        folder, rel_folder = stack.pop()
        try:
            info = os.stat(folder)
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            log.add(_unreadable_reason(exc), folder)
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:  # reached twice (a bind mount): walked once
            continue
        seen.add(key)
        folders: list[tuple[str, str]] = []
        prefix = os.path.join(folder, "")
        rel_prefix = os.path.join(rel_folder, "") if rel_folder else ""
        for entry in entries:
            name = entry.name
            rel = rel_prefix + name
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                if name.endswith(".py") and not (excluded and _matches_any(rel, excluded)):
                    path = prefix + name
                    if len(os.fsencode(path)) >= PATH_MAX:
                        log.add(TOO_LONG, path)
                        continue
                    yield Path(path)
                continue
            if skips_quietly(name) or (excluded and _matches_any(rel, excluded)):
                continue
            if is_environment(folder, name):
                if not name.startswith("."):  # (``.venv``, ``.tox``: as quiet as ``.git``)
                    log.add(ENVIRONMENT, os.path.join(folder, name))
                continue
            target = prefix + name
            if _is_link(entry):
                target = os.path.realpath(target)
                if not is_within(target, limit):
                    log.add(LINK_OUTSIDE, os.path.join(folder, name))
                    continue
                if is_within(folder, target):
                    log.add(LINK_LOOP, os.path.join(folder, name))
                    continue
                if is_within(target, top):
                    continue  # walked where it is
            folders.append((target, rel))
        stack.extend(reversed(folders))


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _unreadable_reason(exc: OSError) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return TOO_LONG
    return UNREADABLE
