"""The engine: parse each file once, run every selected rule in one visit, filter noqa.

Every front end (CLI, flake8, pre-commit, pytest) goes through :func:`lint_paths`
(:mod:`.runner`) or, file by file, an :class:`Engine` (:mod:`.linter`); ``--fix`` goes
through :func:`fix_paths` (:mod:`.fixing`). Rules are chosen in :mod:`.selection`.
"""

from __future__ import annotations

from ..types import Kind, LintResult, Violation
from .fixing import FixInterrupted, fix_paths
from .linter import UNPARSABLE, UNPARSABLE_PREFIX, UNUSED_NOQA, Engine, display_path
from .runner import collect_targets, lint_paths
from .selection import check_project_selectors, engine_for, ignored_codes, project_settings, select_rules

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
