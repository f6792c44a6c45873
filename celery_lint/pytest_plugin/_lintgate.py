"""``pytest --celery-lint``: one test item per Python file, failing with its findings.

The files pytest walks (the arguments, ``testpaths`` or the root folder, minus
``norecursedirs``) are collected, less those celery-lint's own ``exclude`` leaves out.
The first item to run lints every collected file at once through :func:`lint_paths`
(one project model for the run, the project's ``[tool.celery-lint]`` selection, noqa and
per-file ignores), and each item reports its own file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_FINDINGS = pytest.StashKey[dict[Path, list[Any]]]()
_SETTINGS = pytest.StashKey[dict[Path, Any]]()


class CeleryLintFindings(Exception):
    def __init__(self, path: Path, violations: list[Any]) -> None:
        super().__init__(path, violations)
        self.path = path
        self.violations = violations


def _settings_for(config: pytest.Config, path: Path) -> tuple[Path, Any]:
    from celery_lint.config import load_settings
    from celery_lint.engine import rule_options
    from celery_lint.project.files import find_project_root

    root = find_project_root(path)
    cache = config.stash.setdefault(_SETTINGS, {})
    if root not in cache:
        cache[root] = load_settings(root, None, rule_options())
    return root, cache[root]


def collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".py":
        return None
    from celery_lint.config import ConfigError
    from celery_lint.project.files import is_excluded

    try:
        root, settings = _settings_for(parent.config, file_path)
    except ConfigError as exc:
        raise pytest.UsageError(f"celery-lint: {exc}") from exc
    try:
        relpath = str(file_path.resolve().relative_to(root))
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
        self.add_marker("celery_lint")
        # Some plugins (pytest-docker-tools, loaded with pytest-celery) read every item's
        # funcargs; a file check has none.
        self.funcargs: dict[str, Any] = {}

    def runtest(self) -> None:
        findings = self.config.stash.get(_FINDINGS, None)
        if findings is None or self.path.resolve() not in findings:
            findings = _lint_session(self.session)
            self.config.stash[_FINDINGS] = findings
        violations = findings.get(self.path.resolve(), [])
        if violations:
            raise CeleryLintFindings(self.path, violations)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CeleryLintFindings):
            lines = [f"{v.path}:{v.line}:{v.column}: {v.code} {v.message}" for v in excinfo.value.violations]
            count = len(lines)
            return "\n".join([*lines, f"{count} celery-lint finding{'s' if count != 1 else ''}"])
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"celery-lint {self.path.name}"


def _lint_session(session: pytest.Session) -> dict[Path, list[Any]]:
    from celery_lint.engine import lint_paths

    paths = sorted({item.path.resolve() for item in session.items if isinstance(item, CeleryLintItem)})
    by_root: dict[Path, list[Path]] = {}
    for path in paths:
        root, _ = _settings_for(session.config, path)
        by_root.setdefault(root, []).append(path)
    findings: dict[Path, list[Any]] = {path: [] for path in paths}
    for root, files in by_root.items():
        _, settings = _settings_for(session.config, root / "pyproject.toml")
        result = lint_paths(files, settings=settings)
        for violation in result.violations:
            found = Path(violation.path).resolve()
            findings.setdefault(found, []).append(violation)
    return findings
