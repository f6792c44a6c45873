"""celery-lint: a linter for Celery task code and configuration.

Public API: :func:`lint_paths`, :func:`lint_source`, :class:`Violation`, :class:`Rule`,
:data:`__version__`. Heavy modules (LibCST, Celery) load only when a function needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

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
    from .engine import lint_paths
    from .hookspecs import hookimpl
    from .rules.base import Invalid, Rule, RuleOption, Valid
    from .testing import lint_source
    from .types import Violation


# The names load on first use, so that ``import celery_lint`` (the CLI's --version, the
# pytest plugin) does not import the engine, the rules or LibCST.
def __getattr__(name: str) -> Any:
    if name == "lint_paths":
        from .engine import lint_paths

        return lint_paths
    if name == "Violation":
        from .types import Violation

        return Violation
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
