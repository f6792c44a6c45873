"""The rule registry. Built-in rules live one per module in the family folders below."""

from __future__ import annotations

import importlib
from functools import cache

from .base import Invalid, Rule, RuleOption, Valid

__all__ = ["Invalid", "Rule", "RuleOption", "Valid", "all_rules"]

BUILTIN_RULE_MODULES = (
    "serialization.unsafe_serializer",
    "serialization.unsafe_accept_content",
    "serialization.unsafe_serializer_option",
    "limits.missing_time_limit",
    "limits.missing_soft_time_limit",
    "limits.missing_acks_late",
    "task_body.non_idempotent_update",
    "results.result_not_ignored",
    "results.large_return_value",
    "meta.unparsable_file",
)


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every registered rule class, sorted by code."""
    rules: list[type[Rule]] = []
    for name in BUILTIN_RULE_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value is not Rule
                and value.__module__ == module.__name__
            ):
                rules.append(value)
    return tuple(sorted(rules, key=lambda r: r.CODE))
