"""The built-in rules, registered through the same hooks as any rule pack."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from ..hookspecs import hookimpl
from .base import Rule

FAMILIES = (
    "serialization",
    "limits",
    "retries",
    "task_body",
    "results",
    "configuration",
    "canvas",
    "calls",
    "meta",
)


def builtin_rule_modules() -> list[str]:
    """Every rule module of the built-in families: one public module per rule."""
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


def builtin_rules() -> tuple[type[Rule], ...]:
    """Every built-in rule class, sorted by code. Looked up in the imported modules on each
    call, not remembered: whoever re-imports them (pytest's in-process runs restore
    ``sys.modules``) gets the classes that match the rest of the package."""
    rules: list[type[Rule]] = []
    for name in builtin_rule_modules():
        module = importlib.import_module(f"{__package__}.{name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value.__module__ == module.__name__
                and not value.__name__.startswith("_")
            ):
                rules.append(value)
    return tuple(sorted(rules, key=lambda rule: rule.CODE))


@hookimpl
def celery_lint_rules() -> list[type[Rule]]:
    return list(builtin_rules())
