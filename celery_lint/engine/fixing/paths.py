"""``--fix`` and ``--diff``: fix the selected rules' findings in files and folders.

A file that cannot be fixed safely (read-only, a link out of the project, an encoding that
does not give its bytes back, changed on disk meanwhile, a failed write) is left as it
was, with one error line; the others are still fixed, and the run exits 2.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from pathlib import Path

from ...config import Settings
from ...project.discovery import PathAliases, SkippedPaths, real_path
from ...project.files import display_path, is_excluded
from ...registry import RuleRegistry
from ...types import LintResult, Violation
from ..runner import projects_of, report_pack_errors, show_as_named
from ..selection import engine_for, ignored_codes
from .files import NotWritten, WrittenThenInterrupted, file_identity, refusal, write_fix
from .loop import FixOutcome, fix_project


class FixInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``--fix``: ``fixed`` files were written, no file was left half-written."""

    def __init__(self, fixed: int) -> None:
        super().__init__(fixed)
        self.fixed = fixed


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
    With ``write`` the files are written (see :mod:`.files`); otherwise nothing is written.
    ``registry``: the rule packs of the run (a fresh one, with the installed packs, when None).
    Ctrl-C raises :class:`FixInterrupted`, which says how many files were written.
    """
    registry = registry if registry is not None else RuleRegistry()
    written: list[Path] = []
    # Local rule packs are importable for the run only: sys.path is restored on return.
    try:
        with registry.importable():
            return _fix_paths(
                registry,
                paths,
                unsafe,
                write,
                select,
                extend_select,
                ignore,
                config_file,
                use_prefilter,
                written,
            )
    except FixInterrupted:
        raise
    except KeyboardInterrupt as exc:
        raise FixInterrupted(len(written)) from exc


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
    written: list[Path],
) -> tuple[LintResult, list[tuple[Path, str, str]]]:
    result = LintResult()
    changes: list[tuple[Path, str, str]] = []
    done: dict[tuple[int, int], bytes] = {}  # each file written, through any of its names
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
            root,
            chosen,
            engine,
            project_settings,
            unsafe=unsafe,
            use_prefilter=use_prefilter,
            refuse=functools.partial(refusal, root=root) if write else None,
        )
        result.files_checked += outcome.files_checked
        for path in outcome.changed:
            if not write:
                changes.append((path, outcome.original[path], outcome.fixed[path]))
                continue
            reason = _write(path, outcome, done, written)
            if reason is None:
                changes.append((path, outcome.original[path], outcome.fixed[path]))
            else:
                outcome.not_fixed[path] = reason
                outcome.remaining[path] = outcome.before[path]
        for path, reason in sorted(outcome.not_fixed.items()):
            result.errors.append(f"{display_path(path)}: not fixed: {reason}")
        remaining = [violation for found in outcome.remaining.values() for violation in found]
        result.violations.extend(_without_per_file_ignores(root, remaining, project_settings))
    report_pack_errors(registry, result)
    show_as_named(PathAliases(paths or ["."]), result, skipped)
    result.violations.sort()
    return result, changes


def _write(
    path: Path, outcome: FixOutcome, done: dict[tuple[int, int], bytes], written: list[Path]
) -> str | None:
    """Write the fix of ``path``; why it was not written, or None. A file reached by a second
    name (a link) is written once."""
    data = outcome.encoded[path]
    try:
        identity = file_identity(path)
    except OSError as exc:
        return f"cannot write it: {exc.strerror or exc}"
    if identity in done:
        return None if done[identity] == data else "another name of the same file was fixed differently"
    try:
        write_fix(path, outcome.read[path], data)
    except NotWritten as exc:
        return str(exc)
    except WrittenThenInterrupted:
        written.append(path)
        raise
    written.append(path)
    # A replaced file has a new inode: the identity its other names now lead to.
    with contextlib.suppress(OSError):
        done[file_identity(path)] = data
    return None


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
