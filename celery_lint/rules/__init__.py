"""The rule contract and the built-in rules.

The rules of a run (built-in and from rule packs) come from
:class:`celery_lint.registry.RuleRegistry`; this package knows only its own rules.
"""

from __future__ import annotations

from .base import Invalid, Rule, RuleOption, Valid
from .builtin import builtin_rules

__all__ = ["Invalid", "Rule", "RuleOption", "Valid", "all_rules"]


def all_rules() -> tuple[type[Rule], ...]:
    """Every built-in rule class, sorted by code (a run's pack rules: ``RuleRegistry.rules``)."""
    return builtin_rules()
