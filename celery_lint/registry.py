"""The rules one run can use: the built-in rules and every rule pack, validated alike.

The built-in rules are a plugin like any pack. Packs come from the ``celery_lint``
entry-point group and from ``plugins = [...]`` in ``[tool.celery-lint]``; every rule a
pack returns goes through the same validation as the built-in ones. A
:class:`RuleRegistry` belongs to one run (a CLI call, one flake8 run): nothing of it is
kept in the process, and ``sys.path`` is only extended while its packs need it.

A local pack is code of the project that lists it, and importing it runs that code: it is
imported only when that project is linted, and only when the module is a file inside that
project's root (followed through symbolic links); any other module name (a module of the
standard library or of site-packages, of another project of the run, a link out of the
project) is refused with one error line, before anything of it is imported.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy

import celery_lint.hookspecs as hookspecs

from .rules import builtin
from .rules.base import CODE_FORMAT, DOC_SECTIONS, NAME_FORMAT, Invalid, Rule, RuleOption, Valid
from .version import PROJECT_NAME

BUILTIN = "celery_lint.builtin"


@dataclass
class Catalogue:
    """Every rule, extension setting and option the registered packs provide."""

    rules: tuple[type[Rule], ...] = ()
    extension_settings: tuple[str, ...] = ()
    options: tuple[RuleOption, ...] = ()
    failures: list[tuple[str | None, str]] = field(default_factory=list)
    """(pack, one line) per pack that failed or was refused: shown by every front end,
    never a traceback (pack None: the installed packs could not be listed)."""
    pack_of: dict[str, str] = field(default_factory=dict)
    """Rule code -> the pack that provides it."""


class RuleRegistry:
    """The packs of one run and what they provide (built once, rebuilt after a change)."""

    def __init__(self, *, installed_packs: bool = True) -> None:
        self._manager = pluggy.PluginManager(PROJECT_NAME)
        self._manager.add_hookspecs(hookspecs)
        self._manager.register(builtin, name=BUILTIN)
        self._load_failures: list[tuple[str | None, str]] = []
        self._local: dict[str, Path] = {}
        """Local pack -> the root of the project that lists it (and that it was loaded from)."""
        self._pack_roots: list[str] = []
        self._on_path: list[str] = []
        self._importable_depth = 0
        self._catalogue: Catalogue | None = None
        if installed_packs:
            self._load_installed_packs()

    def _load_installed_packs(self) -> None:
        try:
            for entry in entry_points(group=PROJECT_NAME):
                if self._manager.get_plugin(entry.name) is not None:
                    continue
                try:
                    self._manager.register(entry.load(), name=entry.name)
                except Exception as exc:
                    self._load_failures.append(
                        (
                            entry.name,
                            f"rule pack '{entry.name}' ({entry.value}) could not be loaded: {_one_line(exc)}",
                        )
                    )
        except Exception as exc:
            self._load_failures.append((None, f"rule packs could not be listed: {_one_line(exc)}"))

    @property
    def load_errors(self) -> list[str]:
        """Packs that could not be imported: their keys and codes may be what a
        configuration names, so the configuration is checked leniently."""
        return [text for _, text in self._load_failures]

    def load_errors_for(self, own_plugins: Sequence[str]) -> list[str]:
        """:attr:`load_errors` that concern a project listing ``own_plugins``."""
        foreign = self.foreign_packs(own_plugins)
        return [text for pack, text in self._load_failures if pack not in foreign]

    # ----------------------------------------------------------------- local packs
    @contextlib.contextmanager
    def importable(self) -> Iterator[None]:
        """While active, the folders local packs were loaded from are on ``sys.path`` (a pack
        may import its own modules lazily, in a hook or while checking); afterwards
        ``sys.path`` is as it was."""
        self._importable_depth += 1
        try:
            if self._importable_depth == 1:
                for root in self._pack_roots:
                    self._put_on_path(root)
            yield
        finally:
            self._importable_depth -= 1
            if self._importable_depth == 0:
                for root in self._on_path:
                    with contextlib.suppress(ValueError):
                        sys.path.remove(root)
                self._on_path = []

    def _put_on_path(self, root: str) -> None:
        if root not in sys.path:
            sys.path.insert(0, root)
            self._on_path.append(root)

    def load_local_packs(self, names: Sequence[str], root: Path) -> None:
        """Import and register ``plugins = [...]`` modules of the project at ``root``, with
        the project root importable; a module that is not a file of that project is refused
        before it is imported."""
        for name in names:
            if self._local.get(name) == root:
                continue
            if self._manager.get_plugin(name) is not None and name not in self._local:
                continue  # an installed pack of that name is already registered
            self._catalogue = None
            where = "(from plugins in [tool.celery-lint])"
            if name in self._local:
                # One module name, one module: another project of the run loaded it first.
                self._load_failures.append(
                    (
                        name,
                        f"rule pack '{name}' {where} of {root} refused: the module of that name "
                        f"is the one of {self._local[name]}",
                    )
                )
                continue
            self._local[name] = root
            if str(root) not in self._pack_roots:
                self._pack_roots.append(str(root))
            with self.importable():
                self._put_on_path(str(root))
                try:
                    outside = _outside_project(name, root)
                    if outside is not None:
                        self._load_failures.append(
                            (
                                name,
                                f"rule pack '{name}' {where} refused: {outside}; a local pack must be "
                                f"a module inside the project that lists it ({root})",
                            )
                        )
                        continue
                    module = importlib.import_module(name)
                    outside = _outside_project(name, root)  # a package may move its modules
                    if outside is not None:
                        raise ImportError(outside)
                    self._manager.register(module, name=name)
                    if not self._manager.get_hookcallers(module):
                        # Listed to add rules, it adds none: say so rather than check less.
                        self._manager.unregister(module)
                        raise ImportError(
                            f"the module {name!r} implements none of celery-lint's hooks "
                            "(`celery_lint_rules`, ...): it adds no rule"
                        )
                except Exception as exc:
                    self._load_failures.append(
                        (name, f"rule pack '{name}' {where} could not be loaded: {_one_line(exc)}")
                    )

    @property
    def local_pack_names(self) -> set[str]:
        """Packs loaded from ``plugins = [...]`` of some project in this run."""
        return set(self._local)

    def foreign_packs(self, own_plugins: Sequence[str]) -> set[str]:
        """Local packs of other projects of the run: their rules do not apply to this one."""
        return set(self._local) - set(own_plugins)

    # ----------------------------------------------------------------- packs for tests
    def register(self, plugin: Any, name: str) -> None:
        self._manager.register(plugin, name=name)
        self._catalogue = None

    def unregister(self, plugin: Any) -> None:
        self._manager.unregister(plugin)
        self._catalogue = None

    # ----------------------------------------------------------------- what they provide
    @property
    def catalogue(self) -> Catalogue:
        if self._catalogue is None:
            with self.importable():
                self._catalogue = _build_catalogue(self._manager, self._load_failures)
        return self._catalogue

    @property
    def rules(self) -> tuple[type[Rule], ...]:
        """Every accepted rule class (built-in and from packs), sorted by code."""
        return self.catalogue.rules

    @property
    def errors(self) -> list[str]:
        """Packs that could not be loaded or were refused: one line each."""
        return [text for _, text in self.catalogue.failures]

    def errors_for(self, own_plugins: Sequence[str]) -> list[str]:
        """:attr:`errors` that concern a project listing ``own_plugins``: the installed
        packs' and its own local packs', not other projects' local packs."""
        foreign = self.foreign_packs(own_plugins)
        return [text for pack, text in self.catalogue.failures if pack not in foreign]

    @property
    def extension_settings(self) -> tuple[str, ...]:
        return self.catalogue.extension_settings

    @property
    def pack_of(self) -> dict[str, str]:
        return self.catalogue.pack_of

    @property
    def builtin_only(self) -> bool:
        """Whether the rules are the built-in ones alone (no pack registered or failed)."""
        return set(self.pack_of.values()) <= {BUILTIN} and not self.errors and not self._local

    def rule_options(self) -> dict[str, tuple[type, Any]]:
        """Every ``[tool.celery-lint]`` option the rules and packs declare: name -> (type, default)."""
        options: dict[str, tuple[type, Any]] = {}
        for rule in self.rules:
            for option in rule.OPTIONS:
                options[option.name] = (option.type, option.default)
        for option in self.catalogue.options:
            options[option.name] = (option.type, option.default)
        return options

    def codes_for(self, own_plugins: Sequence[str]) -> list[str]:
        """The codes a project may name: built-in, installed packs' and its own packs'."""
        foreign = self.foreign_packs(own_plugins)
        pack_of = self.pack_of
        return [rule.CODE for rule in self.rules if pack_of.get(rule.CODE) not in foreign]


def _build_catalogue(manager: pluggy.PluginManager, load_failures: list[tuple[str | None, str]]) -> Catalogue:
    result = Catalogue(failures=list(load_failures))
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
            result.failures.append((pack, f"rule pack '{pack}' failed: {_one_line(exc)}"))
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
            result.failures.append((pack, f"rule pack '{pack}' refused: {'; '.join(problems)}"))
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


def _outside_project(name: str, root: Path) -> str | None:
    """Why the module ``name`` is not a file of the project at ``root`` (None when it is).
    Only the top-level package is looked up before anything is imported (looking up a
    submodule would import its package); for a dotted name the module itself is checked
    once imported."""
    top = name.partition(".")[0]
    module = sys.modules.get(name if name in sys.modules else top)
    if module is not None:
        locations = [getattr(module, "__file__", None), *(getattr(module, "__path__", None) or [])]
    else:
        importlib.invalidate_caches()
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            return None  # importing it reports ModuleNotFoundError
        locations = [spec.origin if spec.has_location else None, *(spec.submodule_search_locations or [])]
    files = [str(location) for location in locations if location]
    if not files:
        return f"module '{top}' is not a file (built into Python)"
    real_root = os.path.realpath(root)
    for file in files:
        real = os.path.realpath(file)
        if os.path.commonpath([real, real_root]) != real_root:
            return f"module '{top}' is {file}, outside the project"
    return None


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
    missing = [section for section in DOC_SECTIONS if section not in doc]
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
