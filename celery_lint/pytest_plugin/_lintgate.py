"""``pytest --celery-lint``: one test item per Python file, failing with its findings.

The files pytest walks (the arguments, ``testpaths`` or the root folder, minus
``norecursedirs``) are collected, less those celery-lint's own ``exclude`` leaves out.
The first item to run lints every collected file at once through :func:`lint_paths`
(one project model for the run, the project's ``[tool.celery-lint]`` selection, noqa and
per-file ignores), and each item reports its own file. Errors fail an item too, decided
by the kind of what the run returns: a file whose analysis was skipped fails with that
error, and an error of the run (a refused rule pack) fails every file it checked. A
project whose configuration cannot be used fails every Python file of it with that error
(one line, no traceback): nothing of it was checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from celery_lint.config import ConfigError, Settings
from celery_lint.project.discovery import real_path
from celery_lint.project.files import is_excluded
from celery_lint.project.roots import find_project_root
from celery_lint.registry import RuleRegistry
from celery_lint.types import Violation


@dataclass
class _Outcome:
    """What the lint run says about one file: its findings, and the errors that mean it was
    not (fully) checked: its own (analysis skipped) and the run's (a refused rule pack)."""

    violations: list[Violation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_OUTCOMES = pytest.StashKey[dict[Path, _Outcome]]()
_SETTINGS = pytest.StashKey[dict[Path, Any]]()
_REGISTRY = pytest.StashKey[RuleRegistry]()


class CeleryLintFindings(Exception):
    def __init__(self, path: Path, violations: list[Any], errors: list[str] | None = None) -> None:
        super().__init__(path, violations)
        self.path = path
        self.violations = violations
        self.errors = errors or []


def _registry(config: pytest.Config) -> RuleRegistry:
    """The rule packs of this pytest run (its projects' local packs included)."""
    registry = config.stash.get(_REGISTRY, None)
    if registry is None:
        registry = config.stash[_REGISTRY] = RuleRegistry()
    return registry


# ``celery_lint.engine`` is imported where the gate uses it, not with this module (which
# celery-lint's own tests pre-import): the engine holds a stand-in that imports LibCST on
# first use, and an in-process pytest run that restores ``sys.modules`` afterwards would
# leave that stand-in pointing at a LibCST the rest of the process no longer uses.
def _settings_for(config: pytest.Config, path: Path) -> tuple[Path, Settings]:
    """The project root of ``path`` (by the rule every front end follows; a project without
    a marker defaults to pytest's rootdir) and its settings."""
    root = find_project_root(path, config.rootpath)
    return root, _root_settings(config, root)


def _root_settings(config: pytest.Config, root: Path) -> Settings:
    """The settings of the project at ``root``; a ConfigError (raised again for every file
    of the project, read once) when its configuration cannot be used."""
    from celery_lint.engine import project_settings

    cache = config.stash.setdefault(_SETTINGS, {})
    if root not in cache:
        registry = _registry(config)
        with registry.importable():
            try:
                cache[root] = project_settings(registry, root, None)
            except ConfigError as exc:
                cache[root] = exc
    known = cache[root]
    if isinstance(known, ConfigError):
        raise known
    settings: Settings = known
    return settings


def collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".py":
        return None
    try:
        root, settings = _settings_for(parent.config, file_path)
    except ConfigError:
        # The file's item fails with the error (its exclusion cannot be known either).
        broken: pytest.Collector = CeleryLintFile.from_parent(parent, path=file_path)
        return broken
    try:
        relpath = str(real_path(file_path).relative_to(root))
    except ValueError:
        relpath = file_path.name
    if is_excluded(relpath, settings.exclude):
        return None
    lint_file: pytest.Collector = CeleryLintFile.from_parent(parent, path=file_path)
    return lint_file


class CeleryLintFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield CeleryLintItem.from_parent(self, name="celery-lint")


class CeleryLintItem(pytest.Item):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_marker("celery_lint_gate")
        # Some plugins (pytest-docker-tools, loaded with pytest-celery) read every item's
        # funcargs; a file check has none.
        self.funcargs: dict[str, Any] = {}

    def runtest(self) -> None:
        outcomes = self.config.stash.get(_OUTCOMES, None)
        if outcomes is None or real_path(self.path) not in outcomes:
            outcomes = _lint_session(self.session)
            self.config.stash[_OUTCOMES] = outcomes
        outcome = outcomes.get(real_path(self.path), _Outcome())
        if outcome.violations or outcome.errors:
            raise CeleryLintFindings(self.path, outcome.violations, outcome.errors)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CeleryLintFindings):
            found = excinfo.value.violations
            lines = [f"{v.path}:{v.line}:{v.column}: {v.code} {v.text}" for v in found]
            lines += [f"celery-lint: error: {error}" for error in excinfo.value.errors]
            count = len(found)
            if found or not excinfo.value.errors:
                lines.append(f"{count} celery-lint finding{'s' if count != 1 else ''}")
            return "\n".join(lines)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"celery-lint {self.path.name}"


def _lint_session(session: pytest.Session) -> dict[Path, _Outcome]:
    from celery_lint.engine import UNPARSABLE_PREFIX, lint_paths

    # Each file once (by its real path), linted as pytest spells it: findings show that path.
    spelled = {real_path(item.path): item.path for item in session.items if isinstance(item, CeleryLintItem)}
    paths = sorted(spelled)
    by_root: dict[Path, list[Path]] = {}
    for path in paths:
        by_root.setdefault(find_project_root(path, session.config.rootpath), []).append(path)
    outcomes: dict[Path, _Outcome] = {path: _Outcome() for path in paths}
    for root, files in by_root.items():
        try:
            settings = _root_settings(session.config, root)
            result = lint_paths(
                [spelled[path] for path in files],
                settings=settings,
                registry=_registry(session.config),
                base=session.config.rootpath,
                summaries=True,
            )
        except ConfigError as exc:
            # Nothing of this project was checked: every one of its files fails with why.
            for path in files:
                outcomes[path].errors.append(str(exc))
            continue
        for violation in result.violations:
            outcome = outcomes.setdefault(real_path(violation.path), _Outcome())
            if violation.kind.is_error:
                reason = violation.message.removeprefix(UNPARSABLE_PREFIX)
                outcome.errors.append(f"{violation.path}: {reason}")
            else:
                outcome.violations.append(violation)
        # An error of the run (a refused rule pack) means none of its files was fully checked.
        for path in files:
            outcomes[path].errors.extend(result.errors)
    return outcomes
