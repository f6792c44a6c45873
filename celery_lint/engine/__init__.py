"""The engine: parse each file once, run every selected rule in one visit, filter noqa.

Every front end (CLI, flake8, pre-commit, pytest) goes through :func:`lint_paths`
(:mod:`.runner`) or, file by file, an :class:`Engine` (:mod:`.linter`); ``--fix`` goes
through :func:`fix_paths` (:mod:`.fixing`). Rules are chosen in :mod:`.selection`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..types import Kind, LintResult, Violation
from .linter import UNPARSABLE, UNPARSABLE_PREFIX, UNUSED_NOQA, Engine, display_path
from .selection import check_project_selectors, engine_for, ignored_codes, project_settings, select_rules

if TYPE_CHECKING:
    from .fixing import FixInterrupted, fix_paths
    from .runner import collect_targets, lint_paths

# Imported on first use: the flake8 plugin, which runs once per saved file in editors and
# mostly answers from the result cache, needs neither the runner nor the fixing loop.
_LAZY = {
    "FixInterrupted": "fixing",
    "fix_paths": "fixing",
    "collect_targets": "runner",
    "lint_paths": "runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
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
