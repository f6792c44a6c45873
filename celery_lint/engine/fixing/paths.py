"""``--fix`` and ``--diff``: fix the selected rules' findings in files and folders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...config import Settings
from ...project.discovery import PathAliases, SkippedPaths, real_path
from ...project.files import is_excluded
from ...registry import RuleRegistry
from ...types import LintResult, Violation
from ..runner import projects_of, report_pack_errors, show_as_named
from ..selection import engine_for, ignored_codes
from .files import write_atomically
from .loop import fix_project


def fix_paths(
    paths: Sequence[str | Path],
    *,
    unsafe: bool = False,
    write: bool = True,
    select: Sequence[str] | None = None,
    extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    config_file: str | Path | None = None,
    use_prefilter: bool = True,
    registry: RuleRegistry | None = None,
) -> tuple[LintResult, list[tuple[Path, str, str]]]:
    """Apply the selected rules' fixes (safe ones, and unsafe ones when asked).

    Returns the findings left after fixing and, for each changed file, (path, before, after).
    With ``write`` the files are replaced atomically; otherwise nothing is written.
    ``registry``: the rule packs of the run (a fresh one, with the installed packs, when None).
    """
    registry = registry if registry is not None else RuleRegistry()
    # Local rule packs are importable for the run only: sys.path is restored on return.
    with registry.importable():
        return _fix_paths(
            registry, paths, unsafe, write, select, extend_select, ignore, config_file, use_prefilter
        )


def _fix_paths(
    registry: RuleRegistry,
    paths: Sequence[str | Path],
    unsafe: bool,
    write: bool,
    select: Sequence[str] | None,
    extend_select: Sequence[str],
    ignore: Sequence[str],
    config_file: str | Path | None,
    use_prefilter: bool,
) -> tuple[LintResult, list[tuple[Path, str, str]]]:
    result = LintResult()
    changes: list[tuple[Path, str, str]] = []
    skipped = SkippedPaths()
    all_settings, projects, _ = projects_of(
        registry, paths, config_file, None, result.errors, skipped=skipped
    )
    for root, targets in projects.items():
        project_settings = all_settings[root]
        engine = engine_for(registry, project_settings, select, extend_select, ignore)
        chosen: list[tuple[Path, bool]] = []
        for target, named in sorted(targets.items()):
            try:
                relpath = str(target.relative_to(root))
            except ValueError:
                relpath = target.name
            if not named and is_excluded(relpath, project_settings.exclude):
                continue
            chosen.append((target, named))
        outcome = fix_project(
            root, chosen, engine, project_settings, unsafe=unsafe, use_prefilter=use_prefilter
        )
        result.files_checked += outcome.files_checked
        result.violations.extend(_without_per_file_ignores(root, outcome.remaining, project_settings))
        for path in outcome.changed:
            changes.append((path, outcome.original[path], outcome.fixed[path]))
            if write:
                write_atomically(path, outcome.encoded[path])
    report_pack_errors(registry, result)
    show_as_named(PathAliases(paths or ["."]), result, skipped)
    result.violations.sort()
    return result, changes


def _without_per_file_ignores(root: Path, violations: list[Violation], settings: Settings) -> list[Violation]:
    kept = []
    for violation in violations:
        try:
            relpath = str(real_path(violation.path).relative_to(root))
        except ValueError:
            relpath = violation.path
        if not violation.code.startswith(ignored_codes(settings, relpath)):
            kept.append(violation)
    return kept
