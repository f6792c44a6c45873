"""The engine: parse each file once, run every selected rule in one visit, filter noqa.

Every front end (CLI, flake8, pre-commit, pytest) goes through :func:`lint_paths`
(:mod:`.runner`) or, file by file, an :class:`Engine` (:mod:`.linter`); ``--fix`` goes
through :func:`fix_paths` (:mod:`.fixing`). Rules are chosen in :mod:`.selection`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..types import Kind, LintResult, Violation

if TYPE_CHECKING:
    from ..project.files import display_path
    from .fixing import FixInterrupted, fix_paths
    from .linter import UNPARSABLE, UNPARSABLE_PREFIX, UNUSED_NOQA, Engine
    from .runner import collect_targets, lint_paths
    from .selection import check_project_selectors, engine_for, ignored_codes, project_settings, select_rules

# Imported on first use: the flake8 plugin, which runs once per saved file in editors and
# mostly answers from the result cache, needs none of them then (they import every rule),
# and importing a submodule such as the cache runs this file first.
_LAZY = {
    "FixInterrupted": ".fixing",
    "fix_paths": ".fixing",
    "UNPARSABLE": ".linter",
    "UNPARSABLE_PREFIX": ".linter",
    "UNUSED_NOQA": ".linter",
    "Engine": ".linter",
    "display_path": "..project.files",
    "collect_targets": ".runner",
    "lint_paths": ".runner",
    "check_project_selectors": ".selection",
    "engine_for": ".selection",
    "ignored_codes": ".selection",
    "project_settings": ".selection",
    "select_rules": ".selection",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "UNPARSABLE",
    "UNPARSABLE_PREFIX",
    "UNUSED_NOQA",
    "Engine",
    "FixInterrupted",
    "Kind",
    "LintResult",
    "Violation",
    "check_project_selectors",
    "collect_targets",
    "display_path",
    "engine_for",
    "fix_paths",
    "ignored_codes",
    "lint_paths",
    "project_settings",
    "select_rules",
]
