"""celery-lint: a linter for Celery task code and configuration.

Public API: :func:`lint_paths`, :func:`lint_source`, :class:`Violation`, :class:`Rule`,
:data:`__version__`. Heavy modules (LibCST, Celery) load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Invalid",
    "Rule",
    "RuleOption",
    "Valid",
    "Violation",
    "__version__",
    "hookimpl",
    "lint_paths",
    "lint_source",
]

if TYPE_CHECKING:
    from .engine import Violation, lint_paths
    from .hookspecs import hookimpl
    from .rules.base import Invalid, Rule, RuleOption, Valid
    from .testing import lint_source


def __getattr__(name: str) -> Any:
    if name in ("lint_paths", "Violation"):
        from . import engine

        return getattr(engine, name)
    if name in ("Rule", "Valid", "Invalid", "RuleOption"):
        from .rules import base

        return getattr(base, name)
    if name == "hookimpl":
        from .hookspecs import hookimpl

        return hookimpl
    if name == "lint_source":
        from .testing import lint_source

        return lint_source
    raise AttributeError(name)
