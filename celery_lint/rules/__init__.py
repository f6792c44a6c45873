"""The rule registry: the built-in rules and every rule pack, validated alike."""

from __future__ import annotations

from .base import Invalid, Rule, RuleOption, Valid

__all__ = ["Invalid", "Rule", "RuleOption", "Valid", "all_rules"]


def all_rules() -> tuple[type[Rule], ...]:
    """Every registered rule class (built-in and from accepted packs), sorted by code."""
    from ..plugins import registry

    return registry().rules
