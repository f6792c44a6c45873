"""The engine: parse each file once, run every selected rule in one visit, filter noqa.

Every front end (CLI, flake8, pre-commit, pytest) goes through :func:`lint_paths` or
:class:`Engine`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import ConfigError, Settings, load_settings
from .noqa import NoqaIndex
from .project.files import SourceFile, find_project_root, is_excluded, iter_python_files
from .rules import all_rules
from .rules.base import Rule

if TYPE_CHECKING:
    import libcst as cst

    from .fixes import Fix
    from .project.model import ProjectModel, Task
    from .project.scan import ModuleSummary

UNPARSABLE = "CEL900"
UNUSED_NOQA = "CEL901"


@dataclass(frozen=True, order=True)
class Violation:
    path: str
    line: int
    column: int
    code: str
    message: str
    name: str = ""
    end_line: int = 0
    end_column: int = 0
    fixable: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            key: data[key]
            for key in (
                "code",
                "name",
                "message",
                "path",
                "line",
                "column",
                "end_line",
                "end_column",
                "fixable",
            )
        }


@dataclass
class _RawFinding:
    rule: type[Rule]
    node: cst.CSTNode | None
    message: str
    fixable: bool
    fix: Fix | None = None
    line: int = 1
    column: int = 0
    end: tuple[int, int] | None = None


class FileContext:
    """What a rule sees of the file it checks."""

    def __init__(
        self, file: SourceFile, summary: ModuleSummary, model: ProjectModel, options: dict[str, Any]
    ) -> None:
        self.file = file
        self.summary = summary
        self.model = model
        self.options = options
        self.findings: list[_RawFinding] = []
        self.current_task: Task | None = None
        self.function_stack: list[cst.FunctionDef] = []

    @property
    def tree(self) -> cst.Module:
        return self.summary.tree

    @property
    def is_test(self) -> bool:
        return self.file.is_test

    def report(
        self, rule: Rule, node: cst.CSTNode, message: str, *, fixable: bool = False, fix: Fix | None = None
    ) -> None:
        # One finding, one line: code quoted in a message may span several lines.
        message = " ".join(message.split())
        self.findings.append(_RawFinding(type(rule), node, message, fixable or fix is not None, fix))


def rule_options() -> dict[str, tuple[type, Any]]:
    """Every ``[tool.celery-lint]`` option the rules and packs declare: name -> (type, default)."""
    from .plugins import registry

    options: dict[str, tuple[type, Any]] = {}
    for rule in all_rules():
        for option in rule.OPTIONS:
            options[option.name] = (option.type, option.default)
    for option in registry().options:
        options[option.name] = (option.type, option.default)
    return options


def _matches(code: str, selectors: Iterable[str]) -> bool:
    return any(code.startswith(s) for s in selectors)


def validate_selectors(selectors: Iterable[str], what: str) -> None:
    codes = [r.CODE for r in all_rules()]
    for selector in selectors:
        if selector == "ALL":
            continue
        if not re.fullmatch(r"[A-Z]{1,3}[0-9]{0,3}", selector) or not any(
            c.startswith(selector) for c in codes
        ):
            raise ConfigError(f"{what}: unknown rule code or prefix '{selector}'")


def select_rules(
    select: Sequence[str] | None,
    extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> list[type[Rule]]:
    """Rules enabled by these selectors; opt-in rules need their full code (or ``ALL``)."""
    chosen: list[type[Rule]] = []
    selectors = list(select) if select is not None else []
    selectors += list(extend_select)
    for rule in all_rules():
        code = rule.CODE
        if "ALL" in selectors:
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


class _BatchedVisitor:
    """Dispatches every node of a module to the rules that want it, in one walk."""

    def __init__(self, rules: list[Rule], context: FileContext, task_bodies: dict[int, Task]) -> None:
        import libcst as cst

        self.visit: dict[str, list[Callable[[Any], Any]]] = {}
        self.leave: dict[str, list[Callable[[Any], Any]]] = {}
        for rule in rules:
            for attr in type(rule).visitor_methods():
                kind, _, node_name = attr.partition("_")
                table = self.visit if kind == "visit" else self.leave
                table.setdefault(node_name, []).append(getattr(rule, attr))
        self.context = context
        self.task_bodies = task_bodies
        self.visit_by_type: dict[type, list[Callable[[Any], Any]]] = {}
        self.leave_by_type: dict[type, list[Callable[[Any], Any]]] = {}
        self.function_type = cst.FunctionDef

    def walk(self, tree: cst.Module) -> None:
        from .project.dispatch import DispatchWalker

        DispatchWalker(self).walk(tree)

    @property
    def needed(self) -> bool:
        return bool(self.visit or self.leave)


def _positions(tree: cst.Module, findings: list[_RawFinding]) -> None:
    if not any(f.node is not None for f in findings):
        return
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from .project.files import run_with_large_stack

    def resolve() -> Any:
        return MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)

    try:
        positions = resolve()
    except RecursionError:
        # Code generation recurses once per nesting level; a long ``a and b and ...`` chain
        # needs more than the default limit, which only the large-stack thread can afford.
        positions = run_with_large_stack(resolve, recursion_limit=200_000)
    for finding in findings:
        node = finding.node
        if node is None:
            continue
        target = node.name if isinstance(node, (cst.FunctionDef, cst.ClassDef)) else node
        code_range = positions.get(target)
        if code_range is None:
            continue
        finding.line = code_range.start.line
        finding.column = code_range.start.column
        end = code_range.end
        finding.end = end.line, end.column
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            # The def/class keyword, not the decorator: ``async def`` counts from ``async``.
            keyword = "class " if isinstance(node, cst.ClassDef) else "def "
            if isinstance(node, cst.FunctionDef) and node.asynchronous is not None:
                keyword = "async def "
            finding.column = max(0, finding.column - len(keyword))


def display_path(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


_CODING_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)


_NOQA = re.compile(rb"(?i)noqa")


def _decodes(file: SourceFile, data: bytes) -> bool:
    """Whether the file decodes, without keeping a decoded copy of every plain ASCII file."""
    first_line_end = data.find(b"\n")
    second_line_end = data.find(b"\n", first_line_end + 1) if first_line_end >= 0 else -1
    head = data[: second_line_end + 1] if second_line_end >= 0 else data
    if data.isascii() and _CODING_COOKIE.search(head) is None:
        return True
    return file.text is not None


@dataclass
class LintResult:
    violations: list[Violation] = field(default_factory=list)
    files_checked: int = 0
    errors: list[str] = field(default_factory=list)


class Engine:
    """Runs a fixed selection of rules over files of one project model."""

    def __init__(self, rules: Sequence[type[Rule]], options: dict[str, Any] | None = None) -> None:
        self.rules = [r for r in rules if r.CODE not in (UNPARSABLE, UNUSED_NOQA)]
        self.report_unparsable = any(r.CODE == UNPARSABLE for r in rules)
        self.report_unused_noqa = any(r.CODE == UNUSED_NOQA for r in rules)
        unused_rules = [r for r in rules if r.CODE == UNUSED_NOQA]
        self.options = dict(options or {})
        # Per rule: its triggers and the calls one of which must be present as well.
        self._trigger_pairs = [
            (rule.TRIGGERS, rule.TRIGGERS_WITH) for rule in [*self.rules, *unused_rules] if rule.TRIGGERS
        ]

    @property
    def codes(self) -> list[str]:
        """Every selected code, CEL900 and CEL901 included."""
        extra = [UNPARSABLE] if self.report_unparsable else []
        extra += [UNUSED_NOQA] if self.report_unused_noqa else []
        return sorted([r.CODE for r in self.rules] + extra)

    def _wants(self, model: ProjectModel, file: SourceFile) -> bool:
        if model.needs_analysis(file) or model.is_config_module(file):
            return True
        data = file.read()
        if data is None:
            return False
        return any(
            any(t in data for t in triggers) and (not also or any(t in data for t in also))
            for triggers, also in self._trigger_pairs
        )

    def lint_file(
        self,
        model: ProjectModel,
        file: SourceFile,
        *,
        parse_errors: bool = True,
        named: bool = False,
        apply_noqa: bool = True,
    ) -> list[Violation]:
        """Findings for one file. ``named``: the user named this file, so a syntax error is
        reported even where the prefilter would skip the file. ``apply_noqa=False`` leaves
        suppression to the caller (flake8 applies ``# noqa`` itself)."""
        return [
            v
            for v, _ in self.lint_file_with_fixes(
                model, file, parse_errors=parse_errors, named=named, apply_noqa=apply_noqa
            )
        ]

    def lint_file_with_fixes(
        self,
        model: ProjectModel,
        file: SourceFile,
        *,
        parse_errors: bool = True,
        named: bool = False,
        apply_noqa: bool = True,
    ) -> list[tuple[Violation, Fix | None]]:
        """Findings for one file, each with the fix its rule offers (or None)."""
        data = file.read()
        shown = display_path(file.path)
        if data is None or not _decodes(file, data):
            return [(v, None) for v in self._unparsable(file, shown)] if parse_errors else []
        if file.is_test and all(rule.SKIP_TEST_CODE for rule in self.rules):
            return []
        if not self._wants(model, file):
            if named and parse_errors and self.report_unparsable and file.tree is None:
                return [(v, None) for v in self._unparsable(file, shown)]
            return []
        if file.text is None:
            return [(v, None) for v in self._unparsable(file, shown)] if parse_errors else []
        rule_classes = [rule for rule in self.rules if not (rule.SKIP_TEST_CODE and file.is_test)]
        if model.use_prefilter:
            rule_classes = [r for r in rule_classes if not r.REQUIRES or any(b in data for b in r.REQUIRES)]
        if not rule_classes and not (self.report_unused_noqa and _NOQA.search(data)):
            # No rule can fire here; whether the file parses is all that is left to check, and
            # CPython's own parser answers that far faster than building the LibCST tree.
            if parse_errors and self.report_unparsable and not file.cpython_accepts() and file.tree is None:
                return [(v, None) for v in self._unparsable(file, shown)]
            return []
        summary = model.summary_for(file)
        if summary is None:
            return [(v, None) for v in self._unparsable(file, shown)] if parse_errors else []
        context = FileContext(file, summary, model, self.options)
        rules = [rule(context) for rule in rule_classes]
        for rule in rules:
            rule.check()
        task_bodies = {id(t.body): t for t in model.tasks_in(file) if t.body is not None}
        batched = _BatchedVisitor(rules, context, task_bodies)
        if batched.needed:
            batched.walk(summary.tree)
        findings = context.findings
        if not findings and not self.report_unused_noqa:
            return []
        _positions(summary.tree, findings)
        noqa = NoqaIndex(file.text or "")
        by_code = {r.CODE: r for r in all_rules()}
        by_code.update({r.CODE: r for r in self.rules})
        result: dict[Violation, Fix | None] = {}
        for finding in findings:
            code = finding.rule.CODE
            if apply_noqa and noqa.suppresses(finding.line, code):
                continue
            end_line, end_column = finding.end or (finding.line, finding.column)
            violation = Violation(
                path=shown,
                line=finding.line,
                column=finding.column + 1,
                code=code,
                message=finding.message,
                name=by_code[code].NAME,
                end_line=end_line,
                end_column=end_column + 1,
                fixable=finding.fixable,
            )
            if result.get(violation) is None:
                result[violation] = finding.fix
        if self.report_unused_noqa:
            selected = [r.CODE for r in self.rules] + ([UNPARSABLE] if self.report_unparsable else [])
            known = list(by_code)
            for line, column, code, problem in noqa.unused(known, selected):
                result.setdefault(
                    Violation(
                        path=shown,
                        line=line,
                        column=column,
                        code=UNUSED_NOQA,
                        message=by_code[UNUSED_NOQA].MESSAGE.format(code=code, problem=problem),
                        name=by_code[UNUSED_NOQA].NAME,
                        end_line=line,
                        end_column=column,
                    ),
                    None,
                )
        return sorted(result.items(), key=lambda item: item[0])

    def _unparsable(self, file: SourceFile, shown: str) -> list[Violation]:
        if not self.report_unparsable:
            return []
        error = file.error or "cannot parse file"
        line, column = 1, 1
        match = re.search(r"at line (\d+)(?:, column (\d+))?", error)
        if match:
            line = int(match.group(1))
            column = int(match.group(2) or 1)
        return [
            Violation(
                path=shown,
                line=line,
                column=column,
                code=UNPARSABLE,
                message=f"file cannot be analysed: {error}",
                name="unparsable-file",
                end_line=line,
                end_column=column,
            )
        ]


def collect_targets(
    paths: Sequence[Path], root: Path, exclude: Sequence[str]
) -> tuple[list[Path], list[str]]:
    """Python files named by ``paths`` (folders walked), and one error line per bad path."""
    targets: list[Path] = []
    errors: list[str] = []
    for path in paths:
        if not path.exists() and not path.is_symlink():
            errors.append(f"{path}: no such file or directory")
            continue
        if path.is_dir():
            # (A folder named like a module file is walked like any folder.)
            walked = Path(os.path.abspath(path))
            targets.extend(iter_python_files(walked, _relative_excludes(path, root, exclude)))
        else:
            targets.append(Path(os.path.abspath(path)))
    return list(dict.fromkeys(targets)), errors


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
) -> LintResult:
    """Lint files and folders; the project model covers each path's whole project.

    ``use_cache`` reuses findings from ``.celery_lint_cache/`` for unchanged files (the
    CLI's default); ``jobs`` lints files in that many processes.
    """
    result = LintResult()
    all_settings, projects, walked = _projects_of(paths, config_file, settings, result.errors)
    # Engines first, in this process: a bad selector is one error before any work starts.
    plans = [
        _ProjectPlan(
            root,
            targets,
            *_engine_for(root, config_file, select, extend_select, ignore, all_settings[root], rules),
            walked=root in walked,
        )
        for root, targets in projects.items()
    ]
    options = _RunOptions(use_prefilter, use_cache, jobs)
    if jobs > 1 and len(plans) > 1 and "fork" in _start_methods():
        # Independent projects: one per process at a time, the largest first.
        import multiprocessing

        global _PLANS
        _PLANS = (plans, _RunOptions(use_prefilter, use_cache, 1))
        try:
            costs = {i: _estimated_cost(plan) for i, plan in enumerate(plans)}
            order = sorted(costs, key=lambda i: -costs[i])
            biggest, rest = order[0], order[1:]
            context = multiprocessing.get_context("fork")
            if costs[biggest] >= sum(costs[i] for i in rest):
                # One project outweighs the others: they run in other processes while this
                # one builds its model here and then spreads its files over ``jobs``.
                with context.Pool(max(1, min(jobs - 1, len(rest)))) as pool:
                    others = pool.map_async(_lint_planned_project, rest, chunksize=1)
                    outcomes = [_lint_project(plans[biggest], options), *others.get()]
            else:
                with context.Pool(min(jobs, len(plans))) as pool:
                    outcomes = pool.map(_lint_planned_project, order, chunksize=1)
        finally:
            _PLANS = None
    else:
        outcomes = [_lint_project(plan, options) for plan in plans]
    for violations, files_checked in outcomes:
        result.violations.extend(violations)
        result.files_checked += files_checked
    _report_pack_errors(result)
    result.violations.sort()
    return result


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


# What forked per-project workers inherit; set just before the pool starts.
_PLANS: tuple[list[_ProjectPlan], _RunOptions] | None = None


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


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


def _lint_planned_project(index: int) -> tuple[list[Violation], int]:
    assert _PLANS is not None
    plans, options = _PLANS
    return _lint_project(plans[index], options)


def _lint_project(plan: _ProjectPlan, options: _RunOptions) -> tuple[list[Violation], int]:
    """Findings (per-file ignores applied) and the number of files checked, for one project."""
    from .project.model import ProjectModel

    root, project_settings, engine = plan.root, plan.settings, plan.engine
    discovered = list(plan.targets) if plan.walked else None
    model = ProjectModel(root, project_settings.exclude, options.use_prefilter, discovered)
    files: list[tuple[SourceFile, bool]] = []
    for target, named in sorted(plan.targets.items()):
        file = model.add_file(target)
        if not named and is_excluded(file.relpath, project_settings.exclude):
            continue
        files.append((file, named))

    cache = None
    if options.use_cache:
        from .cache import ResultCache, run_key

        key = run_key(engine.codes, project_settings.options, project_settings.exclude, options.use_prefilter)
        cache = ResultCache(root, key)
    found: dict[Path, list[Violation]] = {}
    pending = files
    model_unchanged = cache is not None and cache.model_unchanged(model)
    if cache is not None and model_unchanged:
        from .cache import violations_from_cache

        pending = []
        for file, named in files:
            cached = cache.lookup(file, named)
            if cached is None:
                pending.append((file, named))
            else:
                found[file.path] = violations_from_cache(cached, display_path(file.path)) if cached else []
    if pending:
        model.build()
        found.update(_lint_files(engine, model, pending, options.jobs))
        if cache is not None:
            cache.remember_model(model, keep_previous=model_unchanged)
            for file, named in pending:
                if file.path in found:
                    violations = found[file.path]
                    cache.store(file, violations, [file.relpath] * len(violations), named)
    if cache is not None and pending:
        cache.save()

    kept: list[Violation] = []
    for file, _ in files:
        ignored = [
            codes
            for pattern, codes in project_settings.per_file_ignores.items()
            if is_excluded(file.relpath, [pattern])
        ]
        for violation in found.get(file.path, []):
            if any(violation.code.startswith(tuple(codes)) for codes in ignored):
                continue
            kept.append(violation)
    # Free the trees before the next project is built (by reference counting: the CLI runs
    # with the cycle collector off), and hand the freed memory back to the system.
    model.release()
    _return_free_memory()
    return kept, len(files)


def _return_free_memory() -> None:
    """glibc keeps freed heap memory for reuse; give it back between projects so the peak
    is the largest project's, not the sum of what each left behind."""
    import contextlib
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).malloc_trim(0)


def _projects_of(
    paths: Sequence[str | Path],
    config_file: str | Path | None,
    settings: Settings | None,
    errors: list[str],
) -> tuple[dict[Path, Settings], dict[Path, dict[Path, bool]], set[Path]]:
    """Each project's settings, its files to check (file -> named by the user), and the
    projects whose files were all found by walking a folder as the model would.

    A folder is walked with the settings of the project it is in; a file found under a
    nested project (a folder with its own marker) belongs to that project.
    """
    from .project.roots import ProjectRoots

    config_path = Path(config_file) if config_file else None
    path_list = [Path(p) for p in paths] or [Path(".")]
    roots: dict[Path, list[Path]] = {}
    for path in path_list:
        roots.setdefault(find_project_root(path), []).append(path)
    # Every project's settings first: their local rule packs must all be known before any
    # project's selectors are checked, whatever the order of the paths.
    all_settings = {root: settings or load_settings(root, config_path, rule_options) for root in roots}
    projects: dict[Path, dict[Path, bool]] = {}
    walked: set[Path] = set()
    for root, root_paths in roots.items():
        targets, path_errors = collect_targets(root_paths, root, all_settings[root].exclude)
        errors.extend(path_errors)
        named_paths = {Path(os.path.abspath(p)) for p in root_paths}
        walked_dirs = {p.resolve() for p in root_paths if p.is_dir()}
        owners = ProjectRoots(root)
        seen: set[Path] = set()
        for target in targets:
            named = target in named_paths
            owner = root if named else owners.owner(target)
            if owner not in all_settings:
                all_settings[owner] = settings or load_settings(owner, config_path, rule_options)
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


def _report_pack_errors(result: LintResult) -> None:
    """Refused or broken rule packs: one error line each; the other rules still ran."""
    from .plugins import registry

    for error in registry().errors:
        if error not in result.errors:
            result.errors.append(error)


# State the forked workers inherit; set just before the pool starts.
_WORKER_STATE: tuple[Engine, ProjectModel] | None = None


def _lint_in_worker(batch: list[tuple[str, bool]]) -> tuple[list[tuple[str, list[Violation]]], list[str]]:
    """Lint a batch in a forked worker; also name every module the worker parsed, so the
    parent's cache knows what the findings depend on."""
    assert _WORKER_STATE is not None
    engine, model = _WORKER_STATE
    out = []
    for path, named in batch:
        file = model.add_file(Path(path))
        out.append((path, engine.lint_file(model, file, named=named)))
    return out, [str(summary.file.path) for summary in model.parsed_summaries()]


def _lint_files(
    engine: Engine, model: ProjectModel, files: list[tuple[SourceFile, bool]], jobs: int
) -> dict[Path, list[Violation]]:
    """Lint ``files``, in ``jobs`` forked processes when that can pay off."""
    import multiprocessing

    found: dict[Path, list[Violation]] = {}
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if jobs <= 1 or len(files) < 2 * jobs or not can_fork:
        for file, named in files:
            found[file.path] = engine.lint_file(model, file, named=named)
            file.forget_contents()
        return found
    global _WORKER_STATE
    _WORKER_STATE = (engine, model)
    try:
        # Round-robin so each process gets a share of the large files too.
        batches: list[list[tuple[str, bool]]] = [[] for _ in range(jobs * 4)]
        for index, (file, named) in enumerate(files):
            batches[index % len(batches)].append((str(file.path), named))
        context = multiprocessing.get_context("fork")
        with context.Pool(jobs) as pool:
            for chunk, parsed in pool.imap_unordered(_lint_in_worker, [b for b in batches if b]):
                for path, violations in chunk:
                    found[Path(path)] = violations
                for path in parsed:
                    model.note_parsed_elsewhere(model.add_file(Path(path)))
    finally:
        _WORKER_STATE = None
    return found


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
) -> tuple[LintResult, list[tuple[Path, str, str]]]:
    """Apply the selected rules' fixes (safe ones, and unsafe ones when asked).

    Returns the findings left after fixing and, for each changed file, (path, before, after).
    With ``write`` the files are replaced atomically; otherwise nothing is written.
    """
    from .fixes import fix_project, write_atomically

    result = LintResult()
    changes: list[tuple[Path, str, str]] = []
    all_settings, projects, _ = _projects_of(paths, config_file, None, result.errors)
    for root, targets in projects.items():
        project_settings, engine = _engine_for(
            root, config_file, select, extend_select, ignore, all_settings[root]
        )
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
    _report_pack_errors(result)
    result.violations.sort()
    return result, changes


def _without_per_file_ignores(root: Path, violations: list[Violation], settings: Settings) -> list[Violation]:
    kept = []
    for violation in violations:
        try:
            relpath = str(Path(violation.path).resolve().relative_to(root))
        except ValueError:
            relpath = violation.path
        ignored = [
            codes for pattern, codes in settings.per_file_ignores.items() if is_excluded(relpath, [pattern])
        ]
        if not any(violation.code.startswith(tuple(codes)) for codes in ignored):
            kept.append(violation)
    return kept


def _engine_for(
    root: Path,
    config_file: str | Path | None,
    select: Sequence[str] | None,
    extend_select: Sequence[str],
    ignore: Sequence[str],
    settings: Settings | None = None,
    rules: Sequence[type[Rule]] | None = None,
) -> tuple[Settings, Engine]:
    """The project's settings, validated, and an engine for the rules they select.

    ``rules`` bypasses the selection (the rule classes under test in ``celery_lint.testing``).
    """
    project_settings = settings or load_settings(
        root, Path(config_file) if config_file else None, rule_options
    )
    if rules is not None:
        return project_settings, Engine(list(rules), project_settings.options)
    for selectors, what in (
        (project_settings.select or [], "select"),
        (project_settings.extend_select, "extend-select"),
        (project_settings.ignore, "ignore"),
        (select or [], "--select"),
        (extend_select, "--extend-select"),
        (ignore, "--ignore"),
    ):
        validate_selectors(selectors, what)
    for codes in project_settings.per_file_ignores.values():
        validate_selectors(codes, "per-file-ignores")
    chosen = select_rules(
        select if select is not None else project_settings.select,
        [*project_settings.extend_select, *extend_select],
        [*project_settings.ignore, *ignore],
    )
    # A local pack (``plugins = [...]``) belongs to the project that lists it.
    from .plugins import local_pack_names, registry

    pack_of = registry().pack_of
    foreign = local_pack_names() - set(project_settings.plugins)
    chosen = [rule for rule in chosen if pack_of.get(rule.CODE) not in foreign]
    return project_settings, Engine(chosen, project_settings.options)
