"""A project's configuration checked against the run's rules, and the rules it selects.

This is the layer that has both the configuration (:mod:`celery_lint.config`) and the
rules (:class:`~celery_lint.registry.RuleRegistry`): it loads a project's own rule
packs, validates options and selectors, and applies ``per-file-ignores``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from ..config import RuleVocabulary, Settings, check_selectors, read_config, settings_from
from ..project.files import is_excluded
from ..registry import RuleRegistry
from ..rules import all_rules
from ..rules.base import Rule
from .linter import UNPARSABLE, Engine


def project_settings(
    registry: RuleRegistry, root: Path, config_file: Path | None, *, load_packs: bool = True
) -> Settings:
    """The validated configuration of the project at ``root``. Its ``plugins`` (local rule
    packs) are loaded first, so the options their rules declare are known. A local pack is
    code the project runs: ``load_packs=False`` (what does not lint: ``celery-lint tasks``)
    leaves it unimported, and the keys and codes it may declare unchecked."""
    source = read_config(root, config_file)
    if load_packs:
        registry.load_local_packs(source.plugins, root)
    lenient = bool(registry.load_errors_for(source.plugins)) or (not load_packs and bool(source.plugins))
    vocabulary = RuleVocabulary(registry.rule_options(), registry.codes_for(source.plugins), lenient=lenient)
    return settings_from(source, vocabulary)


def check_project_selectors(registry: RuleRegistry, project: Settings) -> None:
    """Every code or prefix the project's configuration names is one of its rules' (a
    ConfigError names the first that is not), also where the front end does the selecting."""
    codes = [rule.CODE for rule in registry.rules]
    where = f"{project.source} [tool.celery-lint]: " if project.source else ""
    for selectors, what in (
        (project.select or [], "select"),
        (project.extend_select, "extend-select"),
        (project.ignore, "ignore"),
        *((codes_ignored, "per-file-ignores") for codes_ignored in project.per_file_ignores.values()),
    ):
        check_selectors(selectors, codes, where + what)


def ignored_codes(settings: Settings, relpath: str) -> tuple[str, ...]:
    """Codes and prefixes ``per-file-ignores`` turns off for the file at ``relpath``
    (relative to the project root): test a code with ``code.startswith(...)``."""
    return tuple(
        code
        for pattern, codes in settings.per_file_ignores.items()
        if is_excluded(relpath, [pattern])
        for code in codes
    )


def _matches(code: str, selectors: Iterable[str]) -> bool:
    return any(code.startswith(s) for s in selectors)


def select_rules(
    select: Sequence[str] | None,
    extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    rules: Sequence[type[Rule]] | None = None,
) -> list[type[Rule]]:
    """Of ``rules`` (the built-in ones when None), those these selectors enable; opt-in
    rules need their full code (or ``ALL``). CEL900 is on whatever the selection, unless
    ignored: a file that could not be checked would otherwise pass as a clean one (ruff
    reports syntax errors whatever its selection too)."""
    chosen: list[type[Rule]] = []
    selectors = list(select) if select is not None else []
    selectors += list(extend_select)
    for rule in rules if rules is not None else all_rules():
        code = rule.CODE
        if "ALL" in selectors or code == UNPARSABLE:
            enabled = True
        elif select is None and rule.DEFAULT:
            enabled = True  # no --select: every default rule, built-in or from a pack
        elif rule.DEFAULT:
            enabled = _matches(code, selectors)
        else:
            enabled = code in selectors
        if enabled and not _matches(code, ignore):
            chosen.append(rule)
    return chosen


def engine_for(
    registry: RuleRegistry,
    project: Settings,
    select: Sequence[str] | None,
    extend_select: Sequence[str],
    ignore: Sequence[str],
    rules: Sequence[type[Rule]] | None = None,
) -> Engine:
    """An engine for the rules the project's settings and these selectors select, after
    checking every selector. ``rules`` bypasses the selection (the rule classes under test
    in ``celery_lint.testing``)."""
    if rules is not None:
        return _engine(registry, list(rules), project)
    check_project_selectors(registry, project)
    codes = [rule.CODE for rule in registry.rules]
    for selectors, what in (
        (select or [], "--select"),
        (extend_select, "--extend-select"),
        (ignore, "--ignore"),
    ):
        check_selectors(selectors, codes, what)
    chosen = select_rules(
        select if select is not None else project.select,
        [*project.extend_select, *extend_select],
        [*project.ignore, *ignore],
        registry.rules,
    )
    # A local pack (``plugins = [...]``) belongs to the project that lists it.
    foreign = registry.foreign_packs(project.plugins)
    pack_of = registry.pack_of
    return _engine(registry, [rule for rule in chosen if pack_of.get(rule.CODE) not in foreign], project)


def _engine(registry: RuleRegistry, rules: list[type[Rule]], project: Settings) -> Engine:
    return Engine(
        rules, project.options, known_rules=registry.rules, extension_settings=registry.extension_settings
    )
