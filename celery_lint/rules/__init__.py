"""The rule registry. Built-in rules live one per module in the family folders below."""

from __future__ import annotations

import importlib
from functools import cache

from .base import Invalid, Rule, RuleOption, Valid

__all__ = ["Invalid", "Rule", "RuleOption", "Valid", "all_rules"]

FAMILIES = ("serialization", "limits", "retries", "task_body", "results", "configuration", "canvas", "meta")


def builtin_rule_modules() -> list[str]:
    """Every rule module of the built-in families: one public module per rule."""
    import pkgutil
    from pathlib import Path

    names = []
    here = Path(__file__).parent
    for family in FAMILIES:
        folder = here / family
        if not folder.is_dir():
            continue
        for info in pkgutil.iter_modules([str(folder)]):
            if not info.name.startswith("_"):
                names.append(f"{family}.{info.name}")
    return sorted(names)


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every registered rule class, sorted by code."""
    rules: list[type[Rule]] = []
    for name in builtin_rule_modules():
        module = importlib.import_module(f"{__name__}.{name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value.__module__ == module.__name__
                and not value.__name__.startswith("_")
            ):
                rules.append(value)
    return tuple(sorted(rules, key=lambda r: r.CODE))
