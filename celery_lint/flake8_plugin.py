"""The flake8 front end: ``flake8 --select CEL``.

flake8 calls the plugin once per file, in several processes with ``-j``. The project
model is built lazily, once per process and project root, and shared by every file the
process checks. Files that cannot concern Celery cost a byte search and nothing more.
flake8 applies ``# noqa`` and ``--select``/``--ignore`` itself; opt-in rules join its
default ignore list, so ``--extend-select CEL206`` turns one on.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from . import __version__

# The bytes any Celery-related file contains; anything else needs no model at all.
_CHEAP_MARKERS = (b"celery", b"Celery", b"CELERY")


class CeleryLintChecker:
    """flake8 plugin entry point (``CEL`` in ``flake8.extension``)."""

    name = "celery-lint"
    version = __version__
    _options: ClassVar[dict[str, Any]] = {}

    def __init__(self, tree: Any, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        from .rules import all_rules

        rules = all_rules()
        _OPT_IN.update(r.CODE for r in rules if not r.DEFAULT)
        option_manager.extend_default_ignore([r.CODE for r in rules if not r.DEFAULT])
        # Installed rule packs' default rules run like the built-in ones, without a --select.
        prefixes = sorted({r.CODE[:-3] for r in rules if r.DEFAULT and not r.CODE.startswith("CEL")})
        if prefixes:
            option_manager.extend_default_select(prefixes)

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        # flake8 lets an explicit --select beat its default ignore list, so ``--select CEL``
        # alone would turn every opt-in rule on; an opt-in rule runs only when named in full.
        named = [*(getattr(options, "select", None) or []), *(getattr(options, "extend_select", None) or [])]
        cls._options = {"named": {code.strip().upper() for code in named}}

    def run(self) -> Iterator[tuple[int, int, str, type[CeleryLintChecker]]]:
        if self.filename in ("stdin", "-") or not self.filename.endswith(".py"):
            return
        path = Path(os.path.abspath(self.filename))
        root = _root_of(path.parent)
        analysis = _analysis_for(root)
        if isinstance(analysis, str):
            # A broken configuration must not pass as a clean run: report it once per process.
            if root not in _REPORTED:
                _REPORTED.add(root)
                yield (1, 0, f"CEL900 celery-lint could not check this project: {analysis}", type(self))
            return
        model, engine = analysis
        file = model.add_file(path)
        text = "".join(self.lines)
        if file.data is None or file.text != text:
            file.set_text(text)
        named = self._options.get("named")
        for violation in engine.lint_file(model, file, parse_errors=False, apply_noqa=False):
            if named is not None and violation.code in _OPT_IN and violation.code not in named:
                continue
            yield (
                violation.line,
                violation.column - 1,
                f"{violation.code} {violation.message}",
                type(self),
            )


_ROOTS: dict[Path, Path] = {}


def _root_of(folder: Path) -> Path:
    """The project root of files in ``folder``, as the CLI would find it when run from the
    current directory: the nearest folder with a project marker, else the current directory
    when the file is under it (the CLI's root for ``celery-lint .``), else the folder."""
    root = _ROOTS.get(folder)
    if root is None:
        from .project.files import find_marked_root

        marked = find_marked_root(folder)
        if marked is not None:
            root = marked
        else:
            root = folder.resolve()
            cwd = Path.cwd().resolve()
            if cwd == root or cwd in root.parents:
                root = cwd
        _ROOTS[folder] = root
    return root


_ANALYSES: dict[Path, Any] = {}
_OPT_IN: set[str] = set()
_REPORTED: set[Path] = set()


def _analysis_for(root: Path) -> Any:
    """(model, engine) for a project root, built once per process."""
    if root in _ANALYSES:
        return _ANALYSES[root]
    from .config import ConfigError, load_settings
    from .engine import Engine, rule_options
    from .project.model import ProjectModel
    from .rules import all_rules

    try:
        settings = load_settings(root, None, rule_options)
    except ConfigError as exc:
        sys.stderr.write(f"celery-lint: error: {exc}\n")
        _ANALYSES[root] = str(exc)
        return _ANALYSES[root]
    from .plugins import registry

    for error in registry().errors:
        sys.stderr.write(f"celery-lint: error: {error}\n")
    # Building allocates millions of nodes that all stay alive; with the cycle collector
    # on, its full collections would walk them again and again (the CLI runs with it off).
    collecting = gc.isenabled()
    gc.disable()
    try:
        model = ProjectModel(root, settings.exclude)
        model.build()
    finally:
        # The model lives as long as the process: keep later collections off it too.
        gc.freeze()
        if collecting:
            gc.enable()
    # flake8 does the selecting, so every rule runs. CEL900 is left to flake8's E999, and
    # CEL901 to flake8 itself: only flake8 knows which of its noqa comments were used.
    # Opt-in rules are reported only when named in full, so only those run.
    named = CeleryLintChecker._options.get("named")
    chosen = [
        r
        for r in all_rules()
        if r.CODE not in ("CEL900", "CEL901") and (named is None or r.DEFAULT or r.CODE in named)
    ]
    engine = Engine(chosen, settings.options)
    _ANALYSES[root] = (model, engine)
    return _ANALYSES[root]
