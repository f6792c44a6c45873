"""Linting paths: finding their projects, planning the work, ``-j`` processes, the cache.

:func:`lint_paths` is the engine's front door: the CLI, the pytest lint gate and
``celery_lint.testing`` call it; flake8 drives :class:`~celery_lint.engine.linter.Engine`
per file instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..config import Settings
from ..project.census import file_census, project_facts
from ..project.discovery import PATH_MAX, PathAliases, SkippedPaths, real_path
from ..project.files import SourceFile, display_path, is_excluded, iter_python_files
from ..project.model import ProjectModel
from ..project.roots import ProjectRoots, find_project_root
from ..registry import RuleRegistry
from ..rules.base import Rule
from ..types import LintResult, ProjectFigures, TaskFigures, Violation
from .cache import ResultCache, project_key, violations_from_cache
from .cache_store import chosen_cache_dir
from .linter import Engine
from .progress import NO_PROGRESS, Progress
from .selection import engine_for, ignored_codes, project_settings
from .summary_store import summary_store_for
from .workers import LOST, Forked, can_fork, run_forked


def collect_targets(
    paths: Sequence[Path], root: Path, exclude: Sequence[str], skipped: SkippedPaths | None = None
) -> tuple[list[Path], list[str]]:
    """Python files named by ``paths`` (folders walked; every path real, see
    :func:`~celery_lint.project.discovery.real_path`), and one error line per bad path.
    ``skipped``: where the walks record what they left out."""
    targets: list[Path] = []
    errors: list[str] = []
    for path in paths:
        problem = _path_problem(path)
        if problem is not None:
            errors.append(f"{path}: {problem}")
            continue
        if os.path.isdir(path):
            # (A folder named like a module file is walked like any folder.)
            excludes = _relative_excludes(path, root, exclude)
            targets.extend(iter_python_files(real_path(path), excludes, boundary=root, skipped=skipped))
        else:
            targets.append(real_path(path))
    return list(dict.fromkeys(targets)), errors


def _path_problem(path: Path) -> str | None:
    """Why a path named by the user cannot be checked at all, or None. A symbolic link that
    leads nowhere (or loops) is checked: reading it gives the file its error line."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None if os.path.islink(path) else "no such file or directory"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        if exc.errno == errno.ENAMETOOLONG:
            return f"cannot be checked: the path is longer than the system allows ({PATH_MAX} bytes)"
        return f"cannot be checked: {(exc.strerror or str(exc)).lower()}"
    except ValueError as exc:  # an embedded NUL
        return f"cannot be checked: {exc}"
    return None


def _relative_excludes(path: Path, root: Path, exclude: Sequence[str]) -> list[str]:
    """Exclude patterns written relative to the project root, re-anchored at ``path``."""
    try:
        prefix = str(path.resolve().relative_to(root))
    except ValueError:
        return list(exclude)
    if prefix in ("", "."):
        return list(exclude)
    out = []
    for pattern in exclude:
        if pattern.startswith(prefix + "/"):
            out.append(pattern[len(prefix) + 1 :])
        elif "/" not in pattern:
            out.append(pattern)
    return out


def lint_paths(
    paths: Sequence[str | Path],
    *,
    select: Sequence[str] | None = None,
    extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    config_file: str | Path | None = None,
    use_prefilter: bool = True,
    settings: Settings | None = None,
    use_cache: bool = False,
    jobs: int = 1,
    rules: Sequence[type[Rule]] | None = None,
    registry: RuleRegistry | None = None,
    base: Path | None = None,
    cache_dir: str | Path | None = None,
    progress: Progress | None = None,
    summaries: bool | None = None,
) -> LintResult:
    """Lint files and folders; the project model covers each path's whole project.

    ``use_cache`` reuses findings from ``.celery_lint_cache/`` for unchanged files (the
    CLI's default), or from ``cache_dir`` (None: ``$CELERY_LINT_CACHE_DIR`` when set); ``jobs`` lints files in that many processes. ``registry``: the rule
    packs of the run (a fresh one, with the installed packs, when None). ``base``: the
    folder a path without a project marker belongs to when it is under it (None: the
    current directory; the pytest gate passes its rootdir), see :mod:`..project.roots`.
    ``progress``: told what the run is doing, for a front end to show (see :mod:`.progress`).
    ``summaries``: keep each parsed module's summary beside the result cache and load it
    instead of parsing the same bytes again (see :mod:`.summary_store`); None: with
    ``use_cache``.
    """
    registry = registry if registry is not None else RuleRegistry()
    # Local rule packs are importable for the run only: sys.path is restored on return.
    with registry.importable():
        return _lint_paths(
            registry,
            paths,
            select,
            extend_select,
            ignore,
            config_file,
            use_prefilter,
            settings,
            use_cache,
            jobs,
            rules,
            base,
            cache_dir,
            progress or NO_PROGRESS,
            use_cache if summaries is None else summaries,
        )


def _lint_paths(
    registry: RuleRegistry,
    paths: Sequence[str | Path],
    select: Sequence[str] | None,
    extend_select: Sequence[str],
    ignore: Sequence[str],
    config_file: str | Path | None,
    use_prefilter: bool,
    settings: Settings | None,
    use_cache: bool,
    jobs: int,
    rules: Sequence[type[Rule]] | None,
    base: Path | None,
    cache_dir: str | Path | None,
    progress: Progress,
    summaries: bool,
) -> LintResult:
    result = LintResult()
    skipped = SkippedPaths()
    all_settings, projects, walked = projects_of(
        registry, paths, config_file, settings, result.errors, base, skipped
    )
    # Engines first, in this process: a bad selector is one error before any work starts.
    plans = [
        _ProjectPlan(
            root,
            targets,
            all_settings[root],
            engine_for(registry, all_settings[root], select, extend_select, ignore, rules),
            walked=root in walked,
        )
        for root, targets in projects.items()
    ]
    options = _RunOptions(
        use_prefilter,
        use_cache,
        jobs,
        chosen_cache_dir(cache_dir) if use_cache or summaries else None,
        progress,
        summaries,
    )
    progress.planned(sum(_files_to_check(plan) for plan in plans))
    if jobs > 1 and len(plans) > 1 and can_fork():
        outcomes = _lint_projects_forked(plans, options, result.errors)
    else:
        outcomes = [_lint_project(plan, options) for plan in plans]
    result.projects = []
    for violations, files_checked, figures, errors in outcomes:
        result.errors.extend(errors)
        result.violations.extend(violations)
        result.files_checked += files_checked
        result.projects.append(figures)
    report_pack_errors(registry, result)
    show_as_named(PathAliases(paths or ["."]), result, skipped)
    result.violations.sort()
    return result


def show_as_named(aliases: PathAliases, result: LintResult, skipped: SkippedPaths | None = None) -> None:
    """Paths of the result as the user spelled the paths they named (the run works on real
    paths, see :mod:`celery_lint.project.discovery`), and what the walks left out."""
    if skipped:
        result.skipped = {
            reason: [display_path(Path(aliases.spelled(path))) for path in paths]
            for reason, paths in skipped.by_reason.items()
        }
    if not aliases:
        return

    def shown(path: str) -> str:
        return display_path(Path(aliases.spelled(os.path.abspath(path))))

    result.violations = [replace(v, path=shown(v.path)) for v in result.violations]
    for project in result.projects or []:
        if project.root != os.path.basename(os.getcwd()):  # (the working directory shows its name)
            project.root = shown(project.root)
        for index, task in enumerate(project.tasks):
            settings = tuple((shown(where), style) for where, style in task.settings)
            project.tasks[index] = replace(task, path=shown(task.path), settings=settings)


def _lint_projects_forked(
    plans: list[_ProjectPlan], options: _RunOptions, errors: list[str]
) -> list[_Outcome]:
    """Independent projects, one per process at a time, the largest first; the files of a
    project whose worker died are error lines."""
    global _PLANS
    # (A worker reports nothing: the parent counts a project's files when it comes back.)
    _PLANS = (plans, replace(options, jobs=1, progress=NO_PROGRESS))
    progress = options.progress

    def came_back(index: int, outcome: _Outcome) -> None:
        progress.checked(outcome[1], _label(plans[index].root))

    try:
        costs = {i: _estimated_cost(plan) for i, plan in enumerate(plans)}
        order = sorted(costs, key=lambda i: -costs[i])
        biggest, rest = order[0], order[1:]
        if costs[biggest] >= sum(costs[i] for i in rest):
            # One project outweighs the others: they run in other processes while this
            # one builds its model here and then spreads its files over ``jobs``.
            forked = run_forked(
                _lint_planned_project,
                rest,
                max(1, min(options.jobs - 1, len(rest))),
                in_parent=lambda: _lint_project(plans[biggest], options),
                on_done=came_back,
            )
        else:
            forked = run_forked(
                _lint_planned_project, order, min(options.jobs, len(plans)), on_done=came_back
            )
    finally:
        _PLANS = None
    outcomes = [forked.own] if forked.own is not None else []
    outcomes += [outcome for _, outcome in sorted(forked.done, key=lambda pair: order.index(pair[0]))]
    for index in forked.lost:
        errors.extend(f"{display_path(path)}: {LOST}" for path in sorted(plans[index].targets))
    return outcomes


@dataclass
class _ProjectPlan:
    root: Path
    targets: dict[Path, bool]
    settings: Settings
    engine: Engine
    walked: bool = False
    """The targets are every file of the project, found by a walk the model would repeat."""


@dataclass
class _RunOptions:
    use_prefilter: bool
    use_cache: bool
    jobs: int
    cache_dir: Path | None = None
    progress: Progress = NO_PROGRESS
    summaries: bool = False
    """Module summaries of earlier runs are used (and kept) in place of parsing."""


# What forked per-project workers inherit; set just before the pool starts.
_PLANS: tuple[list[_ProjectPlan], _RunOptions] | None = None


def _estimated_cost(plan: _ProjectPlan) -> int:
    """Roughly how long a project takes: the bytes LibCST will parse dominate, and those are
    (nearly) the files that mention Celery; every other file costs a read and a search."""
    cost = 0
    for path in plan.targets:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        cost += len(data) * (40 if b"elery" in data or b"ELERY" in data else 1)
    return cost


_Outcome = tuple[list[Violation], int, ProjectFigures, list[str]]
"""A project's findings, its number of files checked, its figures and its error lines."""


def _lint_planned_project(index: int) -> _Outcome:
    assert _PLANS is not None
    plans, options = _PLANS
    return _lint_project(plans[index], options)


def _lint_project(plan: _ProjectPlan, options: _RunOptions) -> _Outcome:
    """Findings (per-file ignores applied), the number of files checked, what the run saw
    (apps, tasks) and error lines (files a -j worker could not finish), for one project."""
    root, settings, engine = plan.root, plan.settings, plan.engine
    progress, label = options.progress, _label(root)
    progress.phase(label, "reading")
    discovered = list(plan.targets) if plan.walked else None
    store = summary_store_for(root, options.cache_dir) if options.summaries else None
    model = ProjectModel(
        root, settings.exclude, options.use_prefilter, discovered, settings.deployment, summaries=store
    )
    files: list[tuple[SourceFile, bool]] = []
    for target, named in sorted(plan.targets.items()):
        file = model.add_file(target)
        if not named and is_excluded(file.relpath, settings.exclude):
            continue
        files.append((file, named))

    cache = None
    if options.use_cache:
        cache = ResultCache(
            root, project_key(root, engine, settings, options.use_prefilter), options.cache_dir
        )
    found: dict[Path, list[Violation]] = {}
    silenced: dict[Path, list[Violation]] = {}
    census: dict[Path, dict[str, Any]] = {}
    pending = files
    model_unchanged = cache is not None and cache.model_unchanged(model)
    if cache is not None and model_unchanged:
        pending = []
        for file, named in files:
            cached = cache.lookup(file, named)
            if cached is None:
                pending.append((file, named))
            else:
                found[file.path] = violations_from_cache(cached, display_path(file.path)) if cached else []
                census[file.path] = cache.census(file, named) or {}
    if len(pending) < len(files):
        progress.checked(len(files) - len(pending), label)
    facts = cache.project if cache is not None and model_unchanged else None
    built = bool(pending) or (facts is None and bool(files))
    lost: list[Path] = []
    if built:
        progress.phase(label, "building")
        model.build()
        progress.phase(label, "checking")
        lost = _lint_files(
            engine,
            model,
            pending,
            options.jobs,
            (found, silenced),
            lambda count: progress.checked(count, label),
        )
        facts = project_facts(model)
        targets: dict[int, tuple[str, str] | None] = {}
        for file, _ in pending:
            census[file.path] = file_census(model, file, targets)
        if cache is not None:
            cache.remember_model(model, keep_previous=model_unchanged)
            cache.project = facts
            for file, named in pending:
                if file.path in found:
                    violations = found[file.path]
                    cache.store(
                        file,
                        violations,
                        [file.relpath] * len(violations),
                        named,
                        census[file.path],
                        silenced.get(file.path, []),
                    )
    if cache is not None and built:
        cache.save()
    if store is not None:
        store.report()
    figures = _figures(root, facts or {}, census, [file for file, _ in files])

    kept: list[Violation] = []
    for file, _ in files:
        ignored = ignored_codes(settings, file.relpath)
        kept.extend(
            violation for violation in found.get(file.path, []) if not violation.code.startswith(ignored)
        )
    # Free the trees before the next project is built (by reference counting: the CLI runs
    # with the cycle collector off), and hand the freed memory back to the system.
    model.release()
    _return_free_memory()
    progress.phase(label, "done")
    return kept, len(files), figures, [f"{display_path(path)}: {LOST}" for path in lost]


def _files_to_check(plan: _ProjectPlan) -> int:
    """How many files :func:`_lint_project` will check (for the progress total): a file
    found by a walk that the project's ``exclude`` leaves out is not checked."""
    prefix = os.path.join(str(plan.root), "")
    count = 0
    for target, named in plan.targets.items():
        text = os.path.abspath(target)
        relpath = text[len(prefix) :] if text.startswith(prefix) else target.name
        count += named or not is_excluded(relpath, plan.settings.exclude)
    return count


def _label(root: Path) -> str:
    """A project as the run's summary names it: its folder as findings show paths, or its
    name when it is the working directory."""
    label = display_path(root)
    return root.name if label == "." else label


def _figures(
    root: Path, facts: dict[str, Any], census: dict[Path, dict[str, Any]], files: list[SourceFile]
) -> ProjectFigures:
    """The project's figures for the run's summary, paths as the findings show them."""
    figures = ProjectFigures(
        root=_label(root),
        imports_celery=bool(facts.get("imports_celery")),
        project_apps=int(facts.get("apps", 0)),
        project_tasks=int(facts.get("tasks", 0)),
    )
    shown_settings: dict[str, str] = {}
    for file in files:
        record = census.get(file.path) or {}
        figures.apps += int(record.get("apps", 0))
        shown = display_path(file.path)
        for line, unknown, where in record.get("tasks", []):
            settings = []
            for relpath, style in where:
                if relpath not in shown_settings:
                    shown_settings[relpath] = display_path(root / relpath)
                settings.append((shown_settings[relpath], style))
            figures.tasks.append(TaskFigures(shown, int(line), bool(unknown), tuple(settings)))
    return figures


def _return_free_memory() -> None:
    """glibc keeps freed heap memory for reuse; give it back between projects so the peak
    is the largest project's, not the sum of what each left behind."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)


def projects_of(
    registry: RuleRegistry,
    paths: Sequence[str | Path],
    config_file: str | Path | None,
    settings: Settings | None,
    errors: list[str],
    base: Path | None = None,
    skipped: SkippedPaths | None = None,
    *,
    load_packs: bool = True,
) -> tuple[dict[Path, Settings], dict[Path, dict[Path, bool]], set[Path]]:
    """Each project's settings, its files to check (file -> named by the user), and the
    projects whose files were all found by walking a folder as the model would.

    A folder is walked with the settings of the project it is in; a file found under a
    nested project (a folder with its own marker) belongs to that project. Roots follow
    :func:`~celery_lint.project.roots.find_project_root` (``base``: see :func:`lint_paths`).
    Paths are real (see :mod:`celery_lint.project.discovery`); ``skipped``: where the walks
    record what they left out. ``load_packs=False``: the projects' local rule packs are not
    imported (nothing is linted).
    """
    config_path = Path(config_file) if config_file else None
    path_list = [Path(p) for p in paths] or [Path(".")]
    roots: dict[Path, list[Path]] = {}
    for path in path_list:
        roots.setdefault(find_project_root(path, base), []).append(path)
    # Every project's settings first: their local rule packs must all be known before any
    # project's selectors are checked, whatever the order of the paths.
    all_settings = {
        root: settings or project_settings(registry, root, config_path, load_packs=load_packs)
        for root in roots
    }
    projects: dict[Path, dict[Path, bool]] = {}
    walked: set[Path] = set()
    for root, root_paths in roots.items():
        targets, path_errors = collect_targets(root_paths, root, all_settings[root].exclude, skipped)
        errors.extend(path_errors)
        named_paths = {real_path(p) for p in root_paths}
        walked_dirs = {real_path(p) for p in root_paths if os.path.isdir(p)}
        owners = ProjectRoots(root)
        seen: set[Path] = set()
        for target in targets:
            named = target in named_paths
            owner = root if named else owners.owner(target)
            if owner not in all_settings:
                all_settings[owner] = settings or project_settings(
                    registry, owner, config_path, load_packs=load_packs
                )
            seen.add(owner)
            chosen = projects.setdefault(owner, {})
            chosen[target] = chosen.get(target, False) or named
        for owner in seen:
            # The walk found exactly what the model's own walk would: the project's folder
            # with its exclusions, or an enclosing folder when neither side excludes anything.
            if owner == root:
                exact = root in walked_dirs
            else:
                exact = (
                    not all_settings[root].exclude
                    and not all_settings[owner].exclude
                    and any(d == owner or d in owner.parents for d in walked_dirs)
                )
            if exact and len(roots) == 1:
                walked.add(owner)
    return all_settings, projects, walked


def report_pack_errors(registry: RuleRegistry, result: LintResult) -> None:
    """Refused or broken rule packs: one error line each; the other rules still ran."""
    for error in registry.errors:
        if error not in result.errors:
            result.errors.append(error)


# State the forked workers inherit; set just before the pool starts.
_WORKER_STATE: tuple[Engine, ProjectModel] | None = None


_Batch = tuple[list[tuple[str, list[Violation], list[Violation]]], list[str]]
_Found = tuple[dict[Path, list[Violation]], dict[Path, list[Violation]]]
"""Each file's findings, and those a ``# noqa`` silenced (kept in the cache for flake8)."""


def _lint_in_worker(batch: list[tuple[str, bool]]) -> _Batch:
    """Lint a batch in a forked worker; also name every module the worker parsed, so the
    parent's cache knows what the findings depend on."""
    assert _WORKER_STATE is not None
    engine, model = _WORKER_STATE
    out = []
    for path, named in batch:
        file = model.add_file(Path(path))
        silenced: list[Violation] = []
        out.append((path, engine.lint_file(model, file, named=named, suppressed=silenced), silenced))
    return out, [str(summary.file.path) for summary in model.parsed_summaries()]


def _lint_files(
    engine: Engine,
    model: ProjectModel,
    files: list[tuple[SourceFile, bool]],
    jobs: int,
    into: _Found,
    checked: Callable[[int], None],
) -> list[Path]:
    """Lint ``files`` into ``into``, in ``jobs`` forked processes when that can pay off;
    returns the files a worker that died could not finish. ``checked(n)``: n more files
    are done (a worker's, when its batch comes back)."""
    found, silenced = into
    if jobs <= 1 or len(files) < 2 * jobs or not can_fork():
        for file, named in files:
            silenced[file.path] = []
            found[file.path] = engine.lint_file(model, file, named=named, suppressed=silenced[file.path])
            file.forget_contents()
            checked(1)
        return []
    global _WORKER_STATE
    _WORKER_STATE = (engine, model)
    try:
        # Round-robin so each process gets a share of the large files too.
        batches: list[list[tuple[str, bool]]] = [[] for _ in range(jobs * 4)]
        for index, (file, named) in enumerate(files):
            batches[index % len(batches)].append((str(file.path), named))
        forked: Forked[list[tuple[str, bool]], _Batch, None] = run_forked(
            _lint_in_worker, [b for b in batches if b], jobs, on_done=lambda batch, _: checked(len(batch))
        )
    finally:
        _WORKER_STATE = None
    for _, (chunk, parsed) in forked.done:
        for path, violations, suppressed in chunk:
            found[Path(path)] = violations
            silenced[Path(path)] = suppressed
        for path in parsed:
            model.note_parsed_elsewhere(model.add_file(Path(path)))
    return sorted(Path(path) for batch in forked.lost for path, _ in batch)
