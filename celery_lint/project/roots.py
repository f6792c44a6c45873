"""Which project a file belongs to: one rule for every front end.

The root of a file's project is

1. the nearest folder holding a project marker: ``pyproject.toml``, ``setup.cfg``, ``.git``,
   or a ``setup.py`` that calls setuptools' (or distutils') ``setup()``. A package folder
   (one with ``__init__.py``) is never a root, whatever it holds: a first-run wizard's
   ``shop/views/setup.py`` or a package's own ``setup.cfg`` does not split the project;
2. else the base folder (the current directory; pytest's rootdir for the lint gate) when the
   file is under it, so ``celery-lint shop/jobs.py`` models what ``celery-lint .`` does in a
   folder with no marker (a tarball, a Docker build context). The filesystem root and the
   home folder are never a base: they would stand for everything on the machine;
3. else the parent of the outermost package holding the file (the file's folder when it is
   in no package).

Roots, like every path the front ends use, are real: their folders resolved through
symbolic links (see :mod:`.discovery`).

A folder walked from one project root may hold other projects (a monorepo's services,
each with its own ``pyproject.toml``). Each is modelled on its own (:class:`ProjectRoots`),
as the flake8 plugin does when it looks up a file's root, so one service's global
configuration never silences a finding in another and every front end reports the same
findings.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", ".git")
"""Files (or folders) that make the folder holding them a project root (outside packages)."""
SETUP_SCRIPT = "setup.py"
"""A root marker too, when it is a packaging script (it calls ``setup()``)."""

# Modules whose ``setup`` is the packaging entry point (numpy.distutils.core, skbuild too).
_PACKAGING_MODULES = ("setuptools", "distutils", "skbuild")
_MAX_SETUP_BYTES = 1024 * 1024
_SETUP_CALL = re.compile(rb"\bsetup\s*\(")
_PACKAGING_WORD = re.compile(rb"\b(?:setuptools|distutils|skbuild)\b")
_setup_cache: dict[tuple[str, int, int], bool] = {}


def is_package(folder: str | Path) -> bool:
    """Whether ``folder`` is a regular package (holds ``__init__.py``)."""
    return os.path.isfile(os.path.join(folder, "__init__.py"))


def marks_project(folder: str | Path) -> bool:
    """Whether ``folder`` is a project root by what it holds (see the module's docstring)."""
    if is_package(folder):
        return False
    if any(os.path.exists(os.path.join(folder, marker)) for marker in ROOT_MARKERS):
        return True
    script = os.path.join(folder, SETUP_SCRIPT)
    return os.path.isfile(script) and is_packaging_script(script)


def is_packaging_script(path: str | Path) -> bool:
    """Whether the ``setup.py`` at ``path`` calls ``setup()`` of setuptools or distutils,
    imported in any form (``from setuptools import setup as s``, ``import setuptools``,
    ``from distutils.core import *``). A script CPython cannot parse (an old Python 2
    ``setup.py``) counts when it names a packaging module and calls a ``setup(``."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    key = (str(path), info.st_mtime_ns, info.st_size)
    known = _setup_cache.get(key)
    if known is None:
        known = _setup_cache[key] = _calls_setup(path, info.st_size)
    return known


def _calls_setup(path: str | Path, size: int) -> bool:
    if size > _MAX_SETUP_BYTES:
        return False
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return False
    if b"setup" not in data:
        return False
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return bool(_PACKAGING_WORD.search(data) and _SETUP_CALL.search(data))
    # Names bound to a packaging ``setup``, and to a packaging module (``import setuptools as st``).
    setup_names: set[str] = set()
    module_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_packaging(node.module or ""):
            for alias in node.names:
                if alias.name in ("setup", "*"):
                    setup_names.add(alias.asname or "setup")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _is_packaging(alias.name):
                    module_names.add(alias.asname or alias.name.split(".")[0])
    if not setup_names and not module_names:
        return False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in setup_names:
            return True
        if isinstance(func, ast.Attribute) and func.attr == "setup":
            base = func.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in module_names:
                return True
    return False


def _is_packaging(module: str) -> bool:
    parts = module.split(".")
    return parts[0] in _PACKAGING_MODULES or "distutils" in parts


def find_marked_root(path: Path) -> Path | None:
    """The nearest folder holding ``path`` (or ``path``, a folder) that marks a project."""
    start = (path if os.path.isdir(path) else path.parent).resolve()
    for candidate in (start, *start.parents):
        if marks_project(candidate):
            return candidate
    return None


def find_project_root(path: Path, base: Path | None = None) -> Path:
    """The root of the project ``path`` (a file or a folder) belongs to, by the rule of the
    module's docstring. ``base``: the folder a project without a marker defaults to when
    ``path`` is under it (None: the current directory)."""
    marked = find_marked_root(path)
    if marked is not None:
        return marked
    start = (path if os.path.isdir(path) else path.parent).resolve()
    folder = (base if base is not None else Path.cwd()).resolve()
    if (folder == start or folder in start.parents) and folder.parent != folder and folder != _home():
        return folder
    while is_package(start) and start.parent != start:
        start = start.parent
    return start


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return None


class ProjectRoots:
    """Nearest project root of files under ``top``, with one marker check per folder."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self._top_text = str(top)
        self._top_prefix = os.path.join(self._top_text, "")
        self._owner: dict[str, Path] = {self._top_text: top}

    def owner(self, path: Path) -> Path:
        """The project root ``path`` (a file under ``top``) belongs to."""
        return self._owner_of_dir(os.path.dirname(str(path)))

    def _owner_of_dir(self, folder: str) -> Path:
        known = self._owner.get(folder)
        if known is not None:
            return known
        if not folder.startswith(self._top_prefix):
            owner = self.top
        elif marks_project(folder):
            owner = Path(folder)
        else:
            owner = self._owner_of_dir(os.path.dirname(folder))
        self._owner[folder] = owner
        return owner
