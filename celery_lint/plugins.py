"""Finding and validating rule packs (the pluggy plugin manager).

The built-in rules are a plugin like any pack. Packs come from the ``celery_lint``
entry-point group and from ``plugins = [...]`` in ``[tool.celery-lint]``; every rule a
pack returns goes through the same validation as the built-in ones.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs

if TYPE_CHECKING:
    from .rules.base import Rule, RuleOption

CODE_FORMAT = re.compile(r"^[A-Z]{1,3}[0-9]{3}$")
NAME_FORMAT = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
REQUIRED_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")
BUILTIN = "celery_lint.builtin"


@dataclass
class Registry:
    """Every rule, extension setting and option the registered packs provide."""

    rules: tuple[type[Rule], ...] = ()
    extension_settings: tuple[str, ...] = ()
    options: tuple[RuleOption, ...] = ()
    errors: list[str] = field(default_factory=list)
    """One line per refused pack: shown by every front end, never a traceback."""
    pack_of: dict[str, str] = field(default_factory=dict)
    """Rule code -> the pack that provides it."""


class _State:
    manager: pluggy.PluginManager | None = None
    registry: Registry | None = None
    load_errors: list[str] = []
    local: set[str] = set()


def plugin_manager() -> pluggy.PluginManager:
    if _State.manager is None:
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        from .rules import builtin

        manager.register(builtin, name=BUILTIN)
        try:
            from importlib.metadata import entry_points

            for entry in entry_points(group=hookspecs.PROJECT_NAME):
                if manager.get_plugin(entry.name) is not None:
                    continue
                try:
                    manager.register(entry.load(), name=entry.name)
                except Exception as exc:
                    _State.load_errors.append(
                        f"rule pack '{entry.name}' ({entry.value}) could not be loaded: {_one_line(exc)}"
                    )
        except Exception as exc:
            _State.load_errors.append(f"rule packs could not be listed: {_one_line(exc)}")
        _State.manager = manager
    return _State.manager


def load_local_plugins(names: list[str], root: Path) -> None:
    """Import and register ``plugins = [...]`` modules, with the project root importable."""
    manager = plugin_manager()
    for name in names:
        if name in _State.local or manager.get_plugin(name) is not None:
            continue
        _State.local.add(name)
        added = str(root) not in sys.path
        if added:
            sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(name)
            manager.register(module, name=name)
        except Exception as exc:
            _State.load_errors.append(
                f"rule pack '{name}' (from plugins in [tool.celery-lint]) could not be loaded: {_one_line(exc)}"
            )
        _State.registry = None


def registry() -> Registry:
    """The validated registry of every registered pack (built-in rules first)."""
    if _State.registry is None:
        _State.registry = _build_registry(plugin_manager())
    return _State.registry


def _build_registry(manager: pluggy.PluginManager) -> Registry:
    result = Registry(errors=list(_State.load_errors))
    rules: list[type[Rule]] = []
    extension: list[str] = []
    options: list[RuleOption] = []
    seen_codes: dict[str, str] = {}
    plugins = sorted(manager.list_name_plugin(), key=lambda item: (item[0] != BUILTIN, item[0]))
    for pack, plugin in plugins:
        try:
            pack_rules = _call(plugin, "celery_lint_rules")
            pack_settings = _call(plugin, "celery_lint_extension_settings")
            pack_options = _call(plugin, "celery_lint_options")
        except Exception as exc:
            result.errors.append(f"rule pack '{pack}' failed: {_one_line(exc)}")
            continue
        problems = [p for rule in pack_rules for p in validate_rule(rule)]
        for rule in pack_rules:
            code = getattr(rule, "CODE", None)
            if isinstance(code, str) and code in seen_codes:
                problems.append(f"code {code} is already provided by '{seen_codes[code]}'")
        codes = [getattr(r, "CODE", None) for r in pack_rules]
        duplicates = {c for c in codes if c is not None and codes.count(c) > 1}
        problems += [f"code {c} is used by two of its rules" for c in sorted(duplicates)]
        if problems:
            result.errors.append(f"rule pack '{pack}' refused: {'; '.join(problems)}")
            continue
        for rule in pack_rules:
            seen_codes[rule.CODE] = pack
            result.pack_of[rule.CODE] = pack
        rules.extend(pack_rules)
        extension.extend(str(s) for s in pack_settings)
        options.extend(pack_options)
    result.rules = tuple(sorted(rules, key=lambda r: r.CODE))
    result.extension_settings = tuple(extension)
    result.options = tuple(options)
    return result


def _call(plugin: Any, hook: str) -> list[Any]:
    implementation = getattr(plugin, hook, None)
    if implementation is None:
        return []
    value = implementation()
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{hook}() must return a list, not {type(value).__name__}")
    return list(value)


def validate_rule(rule: Any) -> list[str]:
    """Every way ``rule`` breaks the rule contract (empty when it is fine)."""
    from .rules.base import Invalid, Rule, Valid

    if not (isinstance(rule, type) and issubclass(rule, Rule)):
        return [f"{rule!r} is not a celery_lint Rule subclass"]
    label = getattr(rule, "__name__", repr(rule))
    problems = []
    code = getattr(rule, "CODE", None)
    if not isinstance(code, str) or not CODE_FORMAT.match(code):
        problems.append(f"{label}: code {code!r} is not 1-3 capital letters and 3 digits")
    name = getattr(rule, "NAME", None)
    if not isinstance(name, str) or not NAME_FORMAT.match(name):
        problems.append(f"{label}: name {name!r} is not kebab-case")
    if not isinstance(getattr(rule, "MESSAGE", None), str) or not rule.MESSAGE:
        problems.append(f"{label}: no MESSAGE")
    doc = rule.__doc__ or ""
    missing = [section for section in REQUIRED_SECTIONS if section not in doc]
    if missing:
        problems.append(f"{label}: docstring lacks {', '.join(missing)}")
    valid = getattr(rule, "VALID", [])
    invalid = getattr(rule, "INVALID", [])
    if not valid or not all(isinstance(c, Valid) for c in valid):
        problems.append(f"{label}: needs VALID cases")
    if not invalid or not all(isinstance(c, Invalid) for c in invalid):
        problems.append(f"{label}: needs INVALID cases")
    if getattr(rule, "FIX_SAFETY", None) not in (None, "safe", "unsafe"):
        problems.append(f"{label}: FIX_SAFETY must be None, 'safe' or 'unsafe'")
    return problems


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


def load_errors() -> list[str]:
    """Packs that could not be imported so far."""
    return list(_State.load_errors)


def local_pack_names() -> set[str]:
    """Packs loaded from ``plugins = [...]`` of some project in this run."""
    return set(_State.local)


def forget_registry() -> None:
    """Rebuild the registry on next use (after registering or unregistering a pack)."""
    _State.registry = None


def reset() -> None:
    """Forget registered packs (tests)."""
    _State.manager = None
    _State.registry = None
    _State.load_errors = []
    _State.local = set()
