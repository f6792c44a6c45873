"""The project model: Celery apps, their effective configuration, and every task.

Built once per project root and per process. Files that never mention Celery (or a
project name that leads to it) are not parsed; names found while scanning widen the
byte-level prefilter until nothing new turns up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, Union

from ..settings_catalogue import SettingsCatalogue, load_catalogue
from .evaluate import NotEvaluable, evaluate
from .files import SourceFile, find_project_root, iter_python_files, module_name_for
from .roots import ProjectRoots
from .scan import Binding, ConfOp, ModuleSummary, dotted_name, scan_module
from .values import CELERY_DEFAULT, Known, Origin, Resolved, Unknown, agree
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

_T = TypeVar("_T")

CELERY_CLASS = frozenset({"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"})
SHARED_TASK = frozenset(
    {
        "celery.shared_task",
        "celery.app.shared_task",
        "celery.app.base.shared_task",
        "celery.task",
        "celery.decorators.task",
        "celery.task.task",
        "celery.current_app.task",
        "celery.app.current_app.task",
    }
)
CELERY_TASK_CLASSES = frozenset(
    {
        "celery.Task",
        "celery.app.Task",
        "celery.app.task.Task",
        "celery.task.Task",
        "celery.task.base.Task",
        "celery.contrib.django.task.DjangoTask",
        "celery.contrib.abortable.AbortableTask",
    }
)

# Task attributes that Task.bind copies from the app configuration when they are None
# (celery/app/task.py ``from_config``; a test checks this table against the installed Celery).
FROM_CONFIG = {
    "serializer": "task_serializer",
    "rate_limit": "task_default_rate_limit",
    "priority": "task_default_priority",
    "time_limit": "task_time_limit",
    "soft_time_limit": "task_soft_time_limit",
    "track_started": "task_track_started",
    "acks_late": "task_acks_late",
    "acks_on_failure_or_timeout": "task_acks_on_failure_or_timeout",
    "acks_on_failure": "task_acks_on_failure",
    "acks_on_timeout": "task_acks_on_timeout",
    "reject_on_worker_lost": "task_reject_on_worker_lost",
    "retry_on_worker_lost": "task_retry_on_worker_lost",
    "ignore_result": "task_ignore_result",
    "store_eager_result": "task_store_eager_result",
    "store_errors_even_if_ignored": "task_store_errors_even_if_ignored",
}

# Class defaults of celery.app.task.Task for options without a setting (also checked by a test).
TASK_DEFAULTS: dict[str, Any] = {
    "max_retries": 3,
    "default_retry_delay": 180,
    "retry_backoff": False,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "autoretry_for": (),
    "dont_autoretry_for": (),
    "retry_kwargs": {},
    "typing": True,
    "expires": None,
    "queue": None,
}

CELERY_MENTION = (b"celery", b"Celery", b"CELERY")
# How a module uses an app it imports under another name: these bytes make it worth parsing.
_APP_USES = (
    b".task",
    b".Task",
    b".conf",
    b".config_from_object",
    b".on_after",
    b".add_periodic_task",
    b".autodiscover",
)


# --------------------------------------------------------------------------- symbols
@dataclass(frozen=True)
class External:
    qualname: str


@dataclass(eq=False)
class ModuleSym:
    summary: ModuleSummary


@dataclass(eq=False)
class ClassSym:
    summary: ModuleSummary
    node: cst.ClassDef


@dataclass(eq=False)
class FunctionSym:
    summary: ModuleSummary
    node: cst.FunctionDef


@dataclass(eq=False)
class ValueSym:
    summary: ModuleSummary
    expr: cst.BaseExpression | None
    name: str


@dataclass(eq=False)
class AttrOf:
    base: Symbol
    attrs: tuple[str, ...]


Symbol = Union[External, ModuleSym, ClassSym, FunctionSym, ValueSym, AttrOf, "App"]


# --------------------------------------------------------------------------- apps
@dataclass(repr=False)
class ConfigWrite:
    """One place a setting is given a value."""

    key: str  # as written
    setting: str | None  # Celery's new name, None when not a Celery setting
    value: cst.BaseExpression | None
    summary: ModuleSummary
    node: cst.CSTNode
    form: str  # "Celery()", "changes", "conf.update", "conf attribute", "conf item", ...
    namespace: str | None = None
    conditional: bool = False

    def __repr__(self) -> str:
        return f"<ConfigWrite {self.key} ({self.form}) in {self.summary.file.relpath}>"

    def resolved(self, model: ProjectModel) -> Resolved:
        if self.value is None:
            return Unknown(f"{self.key} is computed")
        try:
            value = evaluate(model, self.summary, self.value)
        except NotEvaluable:
            return Unknown(f"{self.key} in {self.summary.file.relpath} is computed")
        return Known(
            value, Origin(f"{self.key} in {self.summary.file.relpath}", self.summary.file.relpath, self.node)
        )


@dataclass
class ConfigSource:
    """What ``config_from_object`` points at, already flattened to writes."""

    description: str
    writes: dict[str, list[ConfigWrite]]  # key as written -> alternatives (several modules)
    alternatives: int = 1
    opaque: str | None = None
    namespace: str | None = None
    django: bool = False


@dataclass(eq=False, repr=False)
class App:
    name: str
    summary: ModuleSummary
    node: cst.CSTNode
    call: cst.Call | None
    preconf: list[ConfigWrite] = field(default_factory=list)
    preconf_opaque: list[str] = field(default_factory=list)
    source: ConfigSource | None = None
    source_ops: list[tuple[ModuleSummary, ConfOp]] = field(default_factory=list)
    namespace: str | None = None
    task_cls: tuple[ModuleSummary, cst.BaseExpression] | None = None
    task_cls_unknown: bool = False
    includes: list[str] = field(default_factory=list)

    @property
    def is_test(self) -> bool:
        return self.summary.is_test

    @property
    def label(self) -> str:
        return f"{self.summary.name}.{self.name}"

    def __repr__(self) -> str:
        return f"<App {self.label}>"


# --------------------------------------------------------------------------- tasks
@dataclass
class OptionExpr:
    """A task option as written, evaluated where it was written."""

    summary: ModuleSummary
    expr: cst.BaseExpression


@dataclass
class TaskDecorator:
    apps: list[App] | None  # None: every app (shared_task)
    options: dict[str, OptionExpr | Resolved]
    opaque: str | None = None
    via: str = "the decorator"
    node: cst.CSTNode | None = None


@dataclass(eq=False, repr=False)
class Task:
    summary: ModuleSummary
    node: cst.FunctionDef | cst.ClassDef
    body: cst.FunctionDef | None
    decorator: TaskDecorator | None  # None for class-based tasks
    class_bases: list[Symbol | None] = field(default_factory=list)

    @property
    def function_name(self) -> str:
        return self.node.name.value

    @property
    def is_test(self) -> bool:
        return self.summary.is_test

    @property
    def is_class(self) -> bool:
        return isinstance(self.node, cst.ClassDef)

    def __repr__(self) -> str:
        return f"<Task {self.summary.name}.{self.function_name}>"


# --------------------------------------------------------------------------- decorators
@dataclass
class _Factory:
    """Something that makes a task decorator: shared_task, app.task or a project wrapper."""

    kind: str  # "base", "applied", "wrapper", "opaque"
    apps: list[App] | None = None
    applied: TaskDecorator | None = None
    wrapper: FunctionSym | None = None
    inner_call: cst.Call | None = None
    inner_summary: ModuleSummary | None = None
    reason: str = ""


class _InnerFactoryFinder(Walker):
    """The first call in a function body that makes a task (a wrapper's inner decorator)."""

    def __init__(self, model: ProjectModel, summary: ModuleSummary, depth: int) -> None:
        self.model = model
        self.summary = summary
        self.depth = depth
        self.found: tuple[cst.Call, _Factory] | None = None

    def visit_Call(self, node: cst.Call) -> bool:
        if self.found is not None:
            return False
        if not _may_make_tasks(self.summary, node.func, self.model.factory_names):
            return True
        factory = self.model._factory(self.summary, node.func, self.depth + 1)
        if factory is not None and factory.kind in ("base", "applied", "wrapper", "opaque"):
            self.found = (node, factory)
            return False
        return True


# Up to this many prefilter patterns are searched one by one; more go into one regex.
_SUBSTRING_SEARCH_LIMIT = 12


class ProjectModel:
    """Everything the rules ask about a project, computed lazily and once."""

    def __init__(
        self,
        root: Path,
        exclude: Iterable[str] = (),
        use_prefilter: bool = True,
        discovered: Iterable[Path] | None = None,
    ) -> None:
        """``discovered``: the project's files when the caller already walked the project
        exactly as the model would (same folder, same exclusions), to save a second walk."""
        self.root = root
        self.catalogue: SettingsCatalogue = load_catalogue()
        self.use_prefilter = use_prefilter
        self.files: dict[Path, SourceFile] = {}
        self._by_module: dict[str, SourceFile] = {}
        # Files added but not yet given their import names (a warm run never needs them).
        self._unindexed: list[SourceFile] = []
        self._root_prefix = os.path.join(str(root), "")
        self._init_cache: dict[Path, bool] = {}
        self._external_cache: dict[str, bool] = {}
        self._source_root_list: list[Path] | None = None
        self._summaries: dict[str, ModuleSummary | None] = {}
        # Modules that forked -j workers parsed: the result cache depends on them too.
        self._parsed_elsewhere: dict[str, SourceFile] = {}
        self._resolving: set[tuple[str, str]] = set()
        self._factory_cache: dict[int, _Factory | None] = {}
        self._apps_by_node: dict[int, App] = {}
        # Projects nested under this root (their own marker) are modelled separately.
        if discovered is not None:
            for path in discovered:
                self.add_file(path)
        else:
            roots = ProjectRoots(Path(os.path.abspath(root)))
            for path in iter_python_files(root, exclude):
                if roots.owner(path) == roots.top:
                    self.add_file(path)
        self.apps: list[App] = []
        self.tasks: list[Task] = []
        self._tasks_by_node: dict[int, Task] = {}
        self._tasks_by_module: dict[str, list[Task]] = {}
        self.config_modules: dict[str, list[tuple[App | None, ConfigSource]]] = {}
        self.patterns: set[bytes] = set(CELERY_MENTION)
        self._built = False
        self._regex: re.Pattern[bytes] | None = None
        self._patterns_seen = -1
        self._patterns_sorted: list[bytes] = []
        self._resolve_cache: dict[str, Symbol | None] = {}
        self.factory_names: set[str] = set()
        self._memo: dict[Any, Any] = {}

    # ------------------------------------------------------------------ files
    @property
    def by_module(self) -> dict[str, SourceFile]:
        """Every module name (and import alias) -> its file."""
        if self._unindexed:
            self._index_files()
        return self._by_module

    @by_module.setter
    def by_module(self, value: dict[str, SourceFile]) -> None:
        self._unindexed = []
        self._by_module = value

    def add_file(self, path: Path) -> SourceFile:
        text_path = os.path.abspath(path)
        if not isinstance(path, Path) or text_path != str(path):
            path = Path(text_path)
        existing = self.files.get(path)
        if existing is not None:
            return existing
        if text_path.startswith(self._root_prefix):
            relpath = text_path[len(self._root_prefix) :]
        else:
            try:
                relpath = str(path.relative_to(self.root))
            except ValueError:
                relpath = path.name
        module = module_name_for(relpath)
        file = SourceFile(path, relpath, module, is_package=path.name == "__init__.py")
        self.files[path] = file
        self._unindexed.append(file)
        return file

    def _index_files(self) -> None:
        pending, self._unindexed = self._unindexed, []
        for file in pending:
            if file.module:
                self._by_module.setdefault(file.module, file)
            aliases = self._importable_names(file.path)
            for alias in aliases:
                if alias != file.module:
                    self._by_module.setdefault(alias, file)
            file.import_name = aliases[0] if aliases else file.module

    def _importable_names(self, path: Path) -> list[str]:
        """Names the file is imported under from the folders that act as ``sys.path`` entries.

        A Django project under ``backend/`` imports ``apps.orders.tasks``, not
        ``backend.apps.orders.tasks``. Names that would shadow an installed or standard
        package (a ``proj/celery.py`` in a folder without ``__init__.py``) are not used.
        """
        names: list[str] = []
        parts: list[str] = [path.stem] if path.name != "__init__.py" else []
        folder = path.parent
        while folder != self.root and self.root in folder.parents:
            if not self._has_init(folder):
                break
            parts.insert(0, folder.name)
            folder = folder.parent
        for source_root in self._source_roots():
            if source_root in path.parents and source_root != self.root:
                rel = path.relative_to(source_root)
                names.append(module_name_for(str(rel)))
        if len(parts) > 1 and folder != self.root:
            # Only files inside a package: a lone module in a plain folder is not importable by name.
            names.append(".".join(parts))
        return [n for n in names if n and not self._shadows_external(n)]

    def _has_init(self, folder: Path) -> bool:
        known = self._init_cache.get(folder)
        if known is None:
            known = (folder / "__init__.py").is_file()
            self._init_cache[folder] = known
        return known

    def _source_roots(self) -> list[Path]:
        if self._source_root_list is None:
            roots = [self.root / "src"] if (self.root / "src").is_dir() else []
            for candidate in self.root.glob("*/manage.py"):
                roots.append(candidate.parent)
            for candidate in self.root.glob("*/*/manage.py"):
                roots.append(candidate.parent)
            self._source_root_list = roots
        return self._source_root_list

    def _shadows_external(self, name: str) -> bool:
        top = name.split(".")[0]
        cached = self._external_cache.get(top)
        if cached is None:
            import importlib.util
            import sys

            cached = top in sys.stdlib_module_names or top in ("celery", "kombu", "django", "flask")
            if not cached:
                try:
                    spec = importlib.util.find_spec(top)
                except (ImportError, ValueError):
                    spec = None
                origin = spec.origin if spec is not None else None
                locations = list(spec.submodule_search_locations or []) if spec is not None else []
                paths = [p for p in [origin, *locations] if p]
                cached = spec is not None and not any(str(self.root) in str(p) for p in paths)
            self._external_cache[top] = cached
        return cached

    def find_module(self, name: str) -> SourceFile | None:
        return self.by_module.get(name)

    def summary_for(self, file: SourceFile) -> ModuleSummary | None:
        key = str(file.path)
        if key not in self._summaries:
            self._summaries[key] = scan_module(file)
        return self._summaries[key]

    def module_summary(self, name: str) -> ModuleSummary | None:
        file = self.find_module(name)
        return self.summary_for(file) if file is not None else None

    def parsed_summaries(self) -> Iterator[ModuleSummary]:
        for summary in list(self._summaries.values()):
            if summary is not None:
                yield summary

    def release(self) -> None:
        """Drop every tree, summary and cached fact, so the model can be freed by reference
        counting alone (the CLI runs with the cycle collector off, and a collection over a
        heap of syntax trees costs more than a second)."""
        for file in self.files.values():
            file.forget_tree()
        for container in (
            self._summaries,
            self._parsed_elsewhere,
            self._factory_cache,
            self._apps_by_node,
            self._tasks_by_node,
            self._tasks_by_module,
            self.config_modules,
            self._resolve_cache,
            self._memo,
            self.files,
            self._by_module,
            self._init_cache,
        ):
            container.clear()
        self._unindexed.clear()
        self.apps.clear()
        self.tasks.clear()

    def note_parsed_elsewhere(self, file: SourceFile) -> None:
        """Record that another process (a -j worker) parsed ``file`` for this model."""
        self._parsed_elsewhere.setdefault(str(file.path), file)

    def parsed_files(self) -> list[SourceFile]:
        """Every module this model's findings may depend on, parsed here or in a worker."""
        files = {str(s.file.path): s.file for s in self.parsed_summaries()}
        for key, file in self._parsed_elsewhere.items():
            files.setdefault(key, file)
        return list(files.values())

    # ------------------------------------------------------------------ build
    def build(self) -> None:
        if self._built:
            return
        self._built = True
        self._index_files()
        # Test code declares no production apps, tasks or settings; it is parsed only on demand.
        pending = [f for f in self.files.values() if not f.is_test]
        patterns = set(self.patterns)
        explored: set[int] = set()
        while pending:
            next_round: list[SourceFile] = []
            for file in pending:
                data = file.read()
                if data is None:
                    continue
                if not self.use_prefilter or self._matches(data):
                    self.summary_for(file)
                else:
                    # Most files never concern Celery: read again if a later round needs them.
                    file.forget_contents()
                    next_round.append(file)
            # Widen the prefilter with what the new modules export, until nothing new turns up.
            while True:
                fresh = [s for s in self.parsed_summaries() if id(s) not in explored]
                if not fresh:
                    break
                for summary in fresh:
                    explored.add(id(summary))
                    self._register_apps(summary)
                self._resolve_cache = {}
                for summary in fresh:
                    self._discover_exports(summary)
            if self.patterns == patterns:
                break
            patterns = set(self.patterns)
            pending = next_round
        self._discover()

    def _pattern_regex(self) -> re.Pattern[bytes]:
        return re.compile(b"|".join(re.escape(p) for p in sorted(self.patterns)))

    @property
    def _pattern_list(self) -> list[bytes]:
        if self._patterns_seen != len(self.patterns):
            self._patterns_seen = len(self.patterns)
            self._regex = None
            # Longest first: a file passes on its most telling pattern without scanning the rest.
            self._patterns_sorted = sorted(self.patterns, key=lambda p: (-len(p), p))
        return self._patterns_sorted

    def _register_apps(self, summary: ModuleSummary) -> None:
        for name, bindings in summary.bindings.items():
            for binding in bindings:
                if isinstance(binding.value, cst.Call) and self._is_celery_ctor(summary, binding.value):
                    self._app_for(summary, name, binding)
                    self.patterns.update(name.encode() + suffix for suffix in _APP_USES)

    def memo(self, key: Any, compute: Callable[[], _T]) -> _T:
        """Compute a project-wide fact once per built model (rules ask for them per file)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def is_config_module(self, file: SourceFile) -> bool:
        """A module some app reads settings from, or a settings module naming Celery settings."""
        if str(file.path) in self.config_modules:
            return True
        return _looks_like_settings(file) and b"CELERY" in (file.read() or b"")

    def needs_analysis(self, file: SourceFile) -> bool:
        """Whether the prefilter would parse this file for the model."""
        data = file.read()
        if data is None:
            return False
        if not self.use_prefilter:
            return True
        return self._matches(data)

    def _matches(self, data: bytes) -> bool:
        """Whether ``data`` holds any prefilter pattern."""
        patterns = self._pattern_list
        if len(patterns) <= _SUBSTRING_SEARCH_LIMIT:
            # A few substring searches (memchr-fast) beat one regex alternation by ~5x.
            return any(pattern in data for pattern in patterns)
        if self._regex is None:
            self._regex = self._pattern_regex()
        return self._regex.search(data) is not None

    def _discover(self) -> None:
        """(Re)compute apps, configuration and tasks from every summary parsed so far."""
        self.apps = []
        self._apps_by_node = {}
        self._factory_cache = {}
        self._resolve_cache = {}
        summaries = list(self.parsed_summaries())
        for summary in summaries:
            self._register_apps(summary)
        # Names resolved while apps were still being registered may have missed an app.
        self._resolve_cache = {}
        self._factory_cache = {}
        self._memo = {}
        for summary in summaries:
            for op in summary.conf_ops:
                self._attach_conf_op(summary, op)
        for app in self.apps:
            self._finish_app(app)
        self._collect_config_modules()
        self._collect_tasks(summaries)

    def _discover_exports(self, summary: ModuleSummary) -> None:
        """Names other modules may use to declare tasks: aliases, wrappers, task base classes."""
        for name, bindings in summary.bindings.items():
            value = bindings[-1].value
            if len(bindings) != 1 or not isinstance(value, (cst.Name, cst.Attribute, cst.Call)):
                continue
            factory = self._factory_of_symbol(self._lookup(summary, name, 0))
            if factory is not None:
                self.factory_names.add(name)
                self.patterns.update((b"@" + name.encode(), name.encode() + b"("))
        for function in summary.functions.values():
            self._factory_of_symbol(FunctionSym(summary, function))
        for name, klass in summary.classes.items():
            if self._class_task_bases(summary, klass):
                self.patterns.add(name.encode())
            else:
                self._factory_of_symbol(ClassSym(summary, klass))

    # ------------------------------------------------------------------ resolution
    def qualname_of(self, summary: ModuleSummary, expr: cst.BaseExpression) -> str | None:
        dotted = dotted_name(expr)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head in summary.imports:
            base = summary.imports[head]
        elif summary.defines(head):
            base = f"{summary.name}.{head}" if summary.name else head
        elif head in ("dict", "list", "set", "tuple", "timedelta") and not rest:
            base = head
        else:
            # A star import may bring the name in.
            for star in summary.star_imports:
                target = self.module_summary(star)
                if target is not None and (target.defines(head) or head in target.imports):
                    base = f"{star}.{head}"
                    break
            else:
                return None
        return f"{base}.{rest}" if rest else base

    def resolve(self, qualname: str, depth: int = 0) -> Symbol | None:
        """Follow imports and aliases from a dotted name to what it names."""
        if depth == 0:
            if qualname in self._resolve_cache:
                return self._resolve_cache[qualname]
            result = self._resolve(qualname, 0)
            self._resolve_cache[qualname] = result
            return result
        return self._resolve(qualname, depth)

    def _resolve(self, qualname: str, depth: int) -> Symbol | None:
        if depth > 25:
            return None
        parts = qualname.split(".")
        for split in range(len(parts), 0, -1):
            module_name = ".".join(parts[:split])
            file = self.find_module(module_name)
            if file is None:
                continue
            summary = self.summary_for(file)
            if summary is None:
                return None
            rest = parts[split:]
            if not rest:
                return ModuleSym(summary)
            symbol = self._lookup(summary, rest[0], depth)
            if symbol is None:
                return None
            if len(rest) > 1:
                return self._attribute(symbol, tuple(rest[1:]), depth)
            return symbol
        return External(qualname)

    def _attribute(self, symbol: Symbol, attrs: tuple[str, ...], depth: int) -> Symbol | None:
        if isinstance(symbol, External):
            return External(symbol.qualname + "." + ".".join(attrs))
        if isinstance(symbol, ModuleSym):
            return self.resolve(symbol.summary.name + "." + ".".join(attrs), depth + 1)
        if isinstance(symbol, AttrOf):
            return AttrOf(symbol.base, symbol.attrs + attrs)
        return AttrOf(symbol, attrs)

    def _lookup(self, summary: ModuleSummary, name: str, depth: int) -> Symbol | None:
        key = (summary.name, name)
        if key in self._resolving:
            return None
        self._resolving.add(key)
        try:
            if name in summary.bindings:
                bindings = summary.bindings[name]
                binding = bindings[-1]
                app = self._apps_by_node.get(id(binding.node))
                if app is not None:
                    return app
                value = binding.value
                if len(bindings) == 1 and value is not None and isinstance(value, (cst.Name, cst.Attribute)):
                    target = self.qualname_of(summary, value)
                    if target is not None:
                        return self.resolve(target, depth + 1)
                return ValueSym(summary, value if len(bindings) == 1 else None, name)
            if name in summary.classes:
                return ClassSym(summary, summary.classes[name])
            if name in summary.functions:
                return FunctionSym(summary, summary.functions[name])
            if name in summary.imports:
                return self.resolve(summary.imports[name], depth + 1)
            submodule_file = self.find_module(f"{summary.name}.{name}") if summary.name else None
            if submodule_file is not None:
                sub = self.summary_for(submodule_file)
                return ModuleSym(sub) if sub is not None else None
            for star in summary.star_imports:
                star_summary = self.module_summary(star)
                if star_summary is not None:
                    found = self._lookup(star_summary, name, depth + 1)
                    if found is not None:
                        return found
            return None
        finally:
            self._resolving.discard(key)

    def symbol_of(self, summary: ModuleSummary, expr: cst.BaseExpression) -> Symbol | None:
        qualname = self.qualname_of(summary, expr)
        return self.resolve(qualname) if qualname is not None else None

    # ------------------------------------------------------------------ evaluation
    def evaluate_name(self, summary: ModuleSummary, name: str, depth: int) -> Any:
        if name in summary.bindings:
            bindings = summary.bindings[name]
            if any(b.value is None for b in bindings):
                raise NotEvaluable(name)
            values = [evaluate(self, summary, b.value, depth) for b in bindings if b.value is not None]
            unconditional = [b for b in bindings if not b.conditional]
            if len(set(map(repr, values))) == 1:
                return values[0]
            if len(unconditional) == len(bindings):
                return values[-1]
            raise NotEvaluable(name)
        qualname = self.qualname_of(summary, cst.Name(name))
        if qualname is None:
            raise NotEvaluable(name)
        symbol = self.resolve(qualname)
        if isinstance(symbol, ValueSym) and symbol.expr is not None:
            return evaluate(self, symbol.summary, symbol.expr, depth)
        raise NotEvaluable(name)

    def evaluate_attribute(self, summary: ModuleSummary, expr: cst.Attribute, depth: int) -> Any:
        qualname = self.qualname_of(summary, expr)
        if qualname is None:
            raise NotEvaluable("attribute")
        symbol = self.resolve(qualname)
        if isinstance(symbol, ValueSym) and symbol.expr is not None:
            return evaluate(self, symbol.summary, symbol.expr, depth)
        raise NotEvaluable("attribute")

    def value_of(self, summary: ModuleSummary, expr: cst.BaseExpression, origin: Origin) -> Resolved:
        try:
            return Known(evaluate(self, summary, expr), origin)
        except NotEvaluable:
            return Unknown(f"{origin} is computed")

    # ------------------------------------------------------------------ apps
    def _is_celery_ctor(self, summary: ModuleSummary, call: cst.Call) -> bool:
        symbol = self.symbol_of(summary, call.func)
        if isinstance(symbol, External):
            return symbol.qualname in CELERY_CLASS
        if isinstance(symbol, ClassSym):
            return self._class_derives(symbol, CELERY_CLASS)
        return False

    def _class_derives(self, symbol: ClassSym, targets: frozenset[str], depth: int = 0) -> bool:
        if depth > 20:
            return False
        for arg in symbol.node.bases:
            base = self.symbol_of(symbol.summary, arg.value)
            if isinstance(base, External) and base.qualname in targets:
                return True
            if isinstance(base, ClassSym) and self._class_derives(base, targets, depth + 1):
                return True
        return False

    def _app_for(self, summary: ModuleSummary, name: str, binding: Binding) -> App:
        existing = self._apps_by_node.get(id(binding.node))
        if existing is not None:
            return existing
        call = binding.value if isinstance(binding.value, cst.Call) else None
        app = App(name=name, summary=summary, node=binding.node, call=call)
        self._apps_by_node[id(binding.node)] = app
        self.apps.append(app)
        if call is not None:
            self._subclass_task_cls(app, summary, call)
            for arg in call.args:
                if arg.star == "**":
                    app.preconf_opaque.append(f"Celery(**...) in {summary.file.relpath}")
                    continue
                if arg.keyword is None:
                    continue
                key = arg.keyword.value
                if key == "broker":
                    app.preconf.append(ConfigWrite(key, "broker_url", arg.value, summary, arg, "Celery()"))
                elif key == "backend":
                    app.preconf.append(
                        ConfigWrite(key, "result_backend", arg.value, summary, arg, "Celery()")
                    )
                elif key == "namespace":
                    try:
                        ns = evaluate(self, summary, arg.value)
                        app.namespace = ns if isinstance(ns, str) else None
                    except NotEvaluable:
                        app.preconf_opaque.append("namespace is computed")
                elif key == "task_cls":
                    app.task_cls = (summary, arg.value)
                elif key == "include":
                    app.includes.extend(self._string_list(summary, arg.value))
                elif key == "changes":
                    self._add_mapping_writes(app, summary, arg.value, "changes")
                elif key == "config_source":
                    app.source_ops.append(
                        (
                            summary,
                            ConfOp(
                                "config_from_object",
                                cst.Name(name),
                                arg,
                                call=cst.Call(func=cst.Name("x"), args=[cst.Arg(arg.value)]),
                            ),
                        )
                    )
                elif key in (
                    "main",
                    "loader",
                    "log",
                    "control",
                    "set_as_current",
                    "tasks",
                    "amqp",
                    "events",
                    "fixups",
                    "strict_typing",
                    "autofinalize",
                    "tasks_cls",
                ):
                    continue
                else:
                    app.preconf.append(
                        ConfigWrite(key, self.catalogue.canonical(key), arg.value, summary, arg, "Celery()")
                    )
        return app

    def _subclass_task_cls(self, app: App, summary: ModuleSummary, call: cst.Call) -> None:
        """``class MyCelery(Celery): task_cls = "proj.base:SafeTask"`` sets every task's base."""
        symbol = self.symbol_of(summary, call.func)
        depth = 0
        while isinstance(symbol, ClassSym) and depth < 20:
            depth += 1
            for stmt in _class_statements(symbol.node):
                for name, value in _assigned(stmt):
                    if name == "task_cls":
                        if value is None:
                            app.task_cls_unknown = True
                        else:
                            app.task_cls = (symbol.summary, value)
                        return
            if any(
                isinstance(m, cst.FunctionDef) and m.name.value == "task_cls" for m in symbol.node.body.body
            ):
                app.task_cls_unknown = True
                return
            bases = [self.symbol_of(symbol.summary, b.value) for b in symbol.node.bases if b.keyword is None]
            project_bases = [b for b in bases if isinstance(b, ClassSym)]
            if any(b is None or (isinstance(b, External) and b.qualname not in CELERY_CLASS) for b in bases):
                app.task_cls_unknown = True
                return
            symbol = project_bases[0] if project_bases else None

    def _string_list(self, summary: ModuleSummary, expr: cst.BaseExpression) -> list[str]:
        try:
            value = evaluate(self, summary, expr)
        except NotEvaluable:
            return []
        if isinstance(value, (list, tuple, frozenset)):
            return [v for v in value if isinstance(v, str)]
        return []

    def _add_mapping_writes(
        self, app: App, summary: ModuleSummary, expr: cst.BaseExpression, form: str
    ) -> None:
        if isinstance(expr, cst.Dict):
            for element in expr.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                    key = element.key.evaluated_value
                    if isinstance(key, str):
                        app.preconf.append(
                            ConfigWrite(
                                key,
                                self._setting_name(key, app.namespace),
                                element.value,
                                summary,
                                element,
                                form,
                            )
                        )
                        continue
                app.preconf_opaque.append(f"{form} in {summary.file.relpath} has computed keys")
        else:
            app.preconf_opaque.append(f"{form} in {summary.file.relpath} is computed")

    def _setting_name(self, key: str, namespace: str | None) -> str | None:
        if namespace:
            named = self.catalogue.namespaced(key, namespace)
            if named is not None:
                return named
        return self.catalogue.canonical(key)

    def app_of_expr(self, summary: ModuleSummary, expr: cst.BaseExpression) -> App | None:
        symbol = self.symbol_of(summary, expr)
        return symbol if isinstance(symbol, App) else None

    def _attach_conf_op(self, summary: ModuleSummary, op: ConfOp) -> None:
        app = self.app_of_expr(summary, op.receiver)
        if app is None:
            return
        before = len(app.preconf)
        self._apply_conf_op(app, summary, op)
        if op.conditional:
            for write in app.preconf[before:]:
                write.conditional = True

    def _apply_conf_op(self, app: App, summary: ModuleSummary, op: ConfOp) -> None:
        if op.kind in ("update", "setdefault") and op.call is not None:
            args = op.call.args
            if op.kind == "setdefault":
                if len(args) >= 2 and isinstance(args[0].value, cst.SimpleString):
                    key = args[0].value.evaluated_value
                    if isinstance(key, str):
                        app.preconf.append(
                            ConfigWrite(
                                key,
                                self._setting_name(key, app.namespace),
                                args[1].value,
                                summary,
                                op.node,
                                "conf.setdefault",
                            )
                        )
                return
            for arg in args:
                if arg.star == "**" or (arg.keyword is None and not isinstance(arg.value, cst.Dict)):
                    if arg.keyword is None:
                        self._opaque_update(app, summary, arg.value)
                    continue
                if arg.keyword is None:
                    self._add_mapping_writes(app, summary, arg.value, "conf.update")
                else:
                    key = arg.keyword.value
                    app.preconf.append(
                        ConfigWrite(
                            key,
                            self._setting_name(key, app.namespace),
                            arg.value,
                            summary,
                            arg,
                            "conf.update",
                        )
                    )
        elif op.kind in ("attr", "item") and op.key is not None:
            form = "conf attribute" if op.kind == "attr" else "conf item"
            app.preconf.append(
                ConfigWrite(
                    op.key, self._setting_name(op.key, app.namespace), op.value, summary, op.node, form
                )
            )
        elif op.kind == "config_from_object":
            app.source_ops.append((summary, op))
        elif op.kind == "autodiscover" and op.call is not None:
            for arg in op.call.args:
                if arg.keyword is None or arg.keyword.value == "packages":
                    app.includes.extend(self._string_list(summary, arg.value))

    def _opaque_update(self, app: App, summary: ModuleSummary, expr: cst.BaseExpression) -> None:
        symbol = self.symbol_of(summary, expr)
        if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
            self._add_mapping_writes(app, symbol.summary, symbol.expr, "conf.update")
            return
        app.preconf_opaque.append(f"conf.update(...) in {summary.file.relpath} is computed")

    def _finish_app(self, app: App) -> None:
        if not app.source_ops:
            return
        # Only the last config_from_object counts (it replaces earlier ones).
        ops = [(s, op) for s, op in app.source_ops if not s.is_test] or app.source_ops
        summary, op = ops[-1]
        if len({id(s) for s, _ in ops}) > 1:
            app.source = ConfigSource(
                "config_from_object in several modules",
                {},
                opaque="config_from_object is called in several modules",
            )
            return
        app.source = self._config_source(app, summary, op)

    def _config_source(self, app: App, summary: ModuleSummary, op: ConfOp) -> ConfigSource:
        call = op.call
        assert call is not None
        # ``Celery(namespace=...)`` is the default prefix for config_from_object too.
        namespace: str | None = app.namespace
        obj: cst.BaseExpression | None = None
        for index, arg in enumerate(call.args):
            if arg.star:
                return ConfigSource(
                    "config_from_object(**...)", {}, opaque="config_from_object arguments are computed"
                )
            if (arg.keyword is None and index == 0) or (
                arg.keyword is not None and arg.keyword.value == "obj"
            ):
                obj = arg.value
            elif arg.keyword is not None and arg.keyword.value == "namespace":
                try:
                    ns = evaluate(self, summary, arg.value)
                except NotEvaluable:
                    return ConfigSource("config_from_object", {}, opaque="namespace is computed")
                namespace = ns if isinstance(ns, str) and ns else None
        if obj is None:
            return ConfigSource("config_from_object", {}, opaque="no object given")
        if isinstance(obj, (cst.SimpleString, cst.ConcatenatedString)):
            target = obj.evaluated_value
            if not isinstance(target, str):
                return ConfigSource("config_from_object", {}, opaque="object name is computed")
            if target in ("django.conf:settings", "django.conf.settings"):
                return self._django_source(app, summary, namespace)
            module_name, _, attr = target.partition(":")
            if attr:
                symbol = self.resolve(f"{module_name}.{attr}")
                return self._source_from_symbol(symbol, namespace, target)
            module = self.module_summary(module_name)
            if module is None:
                return ConfigSource(
                    target,
                    {},
                    opaque=f"module {module_name!r} is not part of the analysed project",
                    namespace=namespace,
                )
            return self._module_source([module], namespace, target, django=False)
        symbol = self.symbol_of(summary, obj)
        if isinstance(symbol, External) and symbol.qualname in ("django.conf.settings",):
            return self._django_source(app, summary, namespace)
        return self._source_from_symbol(symbol, namespace, dotted_name(obj) or "object")

    def _source_from_symbol(
        self, symbol: Symbol | None, namespace: str | None, description: str
    ) -> ConfigSource:
        if isinstance(symbol, ModuleSym):
            return self._module_source([symbol.summary], namespace, description, django=False)
        if isinstance(symbol, ClassSym):
            writes: dict[str, list[ConfigWrite]] = {}
            opaque = None
            if any(not self._plain_base(symbol.summary, b.value) for b in symbol.node.bases):
                opaque = f"class {symbol.node.name.value} inherits settings"
            for stmt in _class_statements(symbol.node):
                for name, value in _assigned(stmt):
                    writes[name] = [
                        ConfigWrite(
                            name,
                            self._setting_name(name, namespace),
                            value,
                            symbol.summary,
                            stmt,
                            f"class {symbol.node.name.value}",
                            namespace,
                        )
                    ]
            return ConfigSource(description, writes, opaque=opaque, namespace=namespace)
        if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
            writes = {}
            for element in symbol.expr.elements:
                if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                    key = element.key.evaluated_value
                    if isinstance(key, str):
                        writes[key] = [
                            ConfigWrite(
                                key,
                                self._setting_name(key, namespace),
                                element.value,
                                symbol.summary,
                                element,
                                f"dict {symbol.name}",
                                namespace,
                            )
                        ]
                        continue
                return ConfigSource(description, writes, opaque="dict has computed keys", namespace=namespace)
            return ConfigSource(description, writes, namespace=namespace)
        return ConfigSource(description, {}, opaque=f"{description} cannot be analysed", namespace=namespace)

    def django_settings_modules(self, app_summary: ModuleSummary | None = None) -> list[str] | None:
        """DJANGO_SETTINGS_MODULE values set in the project (the app's own module first).

        None when the app's module computes the value: the settings cannot be known.
        """
        if app_summary is not None and app_summary.settings_module_env:
            values = {m for m, _ in app_summary.settings_module_env}
            if None in values:
                return None
            return sorted(m for m in values if m is not None)
        found: set[str] = set()
        for summary in self.parsed_summaries():
            if summary.is_test:
                continue
            found.update(m for m, _ in summary.settings_module_env if m is not None)
        if not found:
            for file in self.files.values():
                if file.path.name in ("manage.py", "wsgi.py", "asgi.py", "celery.py") and not file.is_test:
                    data = file.read() or b""
                    if b"DJANGO_SETTINGS_MODULE" in data:
                        env_summary = self.summary_for(file)
                        if env_summary is not None:
                            found.update(m for m, _ in env_summary.settings_module_env if m is not None)
        return sorted(found)

    def _django_source(self, app: App, summary: ModuleSummary, namespace: str | None) -> ConfigSource:
        names = self.django_settings_modules(summary)
        if names is None:
            return ConfigSource(
                "Django settings",
                {},
                opaque="DJANGO_SETTINGS_MODULE is computed",
                namespace=namespace,
                django=True,
            )
        if not names:
            return ConfigSource(
                "Django settings",
                {},
                opaque="DJANGO_SETTINGS_MODULE is not set in the project",
                namespace=namespace,
                django=True,
            )
        modules = []
        for name in names:
            module = self.module_summary(name)
            if module is None:
                return ConfigSource(
                    name,
                    {},
                    opaque=f"settings module {name!r} is not part of the analysed project",
                    namespace=namespace,
                    django=True,
                )
            modules.append(module)
        return self._module_source(modules, namespace, " / ".join(names), django=True)

    def _module_source(
        self, modules: list[ModuleSummary], namespace: str | None, description: str, django: bool
    ) -> ConfigSource:
        writes: dict[str, list[ConfigWrite]] = {}
        opaque: str | None = None
        for module in modules:
            flat, module_opaque = self.flatten_module(module)
            opaque = opaque or module_opaque
            for key, write_list in flat.items():
                if django and not key.isupper():
                    continue
                for write in write_list:
                    write.setting = self._setting_name(key, namespace)
                    write.namespace = namespace
                    write.form = "Django settings" if django else "config module"
                writes.setdefault(key, []).extend(write_list)
            # A key missing from one alternative module makes it unknown there.
        if len(modules) > 1:
            for key, write_list in writes.items():
                if len(write_list) < len(modules):
                    write_list.append(ConfigWrite(key, None, None, modules[0], modules[0].tree, "missing"))
        return ConfigSource(
            description, writes, alternatives=len(modules), opaque=opaque, namespace=namespace, django=django
        )

    def flatten_module(
        self, module: ModuleSummary, seen: set[str] | None = None
    ) -> tuple[dict[str, list[ConfigWrite]], str | None]:
        """Module-level settings in effect at the end of ``module``, star imports followed.

        Each key maps to one write, or to several when conditional assignments disagree.
        """
        seen = set() if seen is None else seen
        if module.name in seen:
            return {}, None
        seen.add(module.name)
        result: dict[str, list[ConfigWrite]] = {}
        opaque: str | None = None
        for node, conditional in module.ordered:
            if isinstance(node, cst.ImportFrom):
                star = _star_module(module, node)
                target = self.module_summary(star) if star else None
                if target is None:
                    if (
                        star
                        and not star.startswith(("django", "os", "typing"))
                        and star.split(".")[0] in {f.module.split(".")[0] for f in self.by_module.values()}
                    ):
                        opaque = opaque or f"star import of {star} cannot be followed"
                    continue
                inner, inner_opaque = self.flatten_module(target, seen)
                opaque = opaque or inner_opaque
                for key, writes in inner.items():
                    if conditional and key in result:
                        result[key] = result[key] + writes
                    else:
                        result[key] = list(writes)
                continue
            for name, value in _assigned(node):
                write = ConfigWrite(name, None, value, module, node, "config module")
                if conditional and name in result:
                    result[name] = result[name] + [write]
                elif conditional:
                    result[name] = [write, ConfigWrite(name, None, None, module, node, "conditional")]
                else:
                    result[name] = [write]
        return result, opaque

    def _collect_config_modules(self) -> None:
        """Which modules hold configuration, for the rules that check each write."""
        self.config_modules = {}
        for app in self.apps:
            source = app.source
            if source is None:
                continue
            for write_list in source.writes.values():
                for write in write_list:
                    if write.value is not None:
                        self.config_modules.setdefault(str(write.summary.file.path), []).append((app, source))

    # ------------------------------------------------------------------ effective settings
    def setting(self, app: App, name: str) -> Resolved:
        """The effective value of setting ``name`` (new spelling) for ``app``."""
        return self.memo(("setting", id(app), name), lambda: self._setting(app, name))

    def _setting(self, app: App, name: str) -> Resolved:
        matching = [w for w in app.preconf if w.setting == name]
        if app.preconf_opaque:
            return Unknown(app.preconf_opaque[0])
        if any(w.conditional for w in matching):
            # A write in a branch may not happen: known only when every write agrees.
            if len(matching) < 2:
                return Unknown(f"{name} is set conditionally in {matching[0].summary.file.relpath}")
            return agree([w.resolved(self) for w in matching], f"{name} is set conditionally")
        if matching:
            by_module: dict[str, ConfigWrite] = {}
            for write in matching:
                by_module[str(write.summary.file.path)] = write  # the last in each module wins
            return agree(
                [w.resolved(self) for w in by_module.values()],
                f"{name} is set differently in several modules",
            )
        source = app.source
        if source is not None:
            if source.opaque:
                return Unknown(source.opaque)
            found = self._source_lookup(source, name)
            if found is not None:
                return found
        if name in self.catalogue.defaults:
            return Known(self.catalogue.defaults[name], CELERY_DEFAULT)
        return Known(None, CELERY_DEFAULT)

    def _source_lookup(self, source: ConfigSource, name: str) -> Resolved | None:
        candidates: list[str] = []
        if source.namespace:
            candidates.append(f"{source.namespace}_{name.upper()}")
        if not source.django:
            candidates.append(name)
        elif source.namespace is None:
            pass
        else:
            candidates.append(name)
        old = self.catalogue.new_to_old.get(name)
        if old:
            candidates.append(old)
        for key in candidates:
            writes = source.writes.get(key)
            if writes:
                return agree(
                    [w.resolved(self) for w in writes], f"{key} differs between settings modules or branches"
                )
        return None

    def task_apps(self, task: Task) -> list[App]:
        if task.decorator is not None and task.decorator.apps is not None:
            return task.decorator.apps
        return self.default_apps()

    def default_apps(self) -> list[App]:
        production = [a for a in self.apps if not a.is_test]
        return production or self.apps

    def project_setting(self, name: str, apps: list[App] | None = None) -> Resolved:
        """A setting across apps (for shared tasks): Known only when every app agrees."""
        apps = self.default_apps() if apps is None else apps
        if not apps:
            if name in self.catalogue.defaults:
                return Known(self.catalogue.defaults[name], CELERY_DEFAULT)
            return Known(None, CELERY_DEFAULT)
        return agree([self.setting(app, name) for app in apps], f"apps disagree on {name}")

    # ------------------------------------------------------------------ tasks
    def _collect_tasks(self, summaries: list[ModuleSummary]) -> None:
        self.tasks = []
        self._tasks_by_node = {}
        self._tasks_by_module = {}
        for summary in summaries:
            for func in summary.decorated:
                for decorator in func.decorators:
                    spec = self.task_decorator(summary, decorator.decorator)
                    if spec is not None:
                        spec.node = decorator
                        self._add_task(Task(summary, func, func, spec))
                        break
            for _name, bindings in summary.bindings.items():
                for binding in bindings:
                    task = self._call_form_task(summary, binding)
                    if task is not None:
                        self._add_task(task)
            for klass in summary.all_classes:
                if _defines_method(klass, "run") and self._class_task_bases(summary, klass):
                    run = _method(klass, "run")
                    self._add_task(Task(summary, klass, run, None))

    def _add_task(self, task: Task) -> None:
        if id(task.node) in self._tasks_by_node:
            return
        self.tasks.append(task)
        self._tasks_by_node[id(task.node)] = task
        self._tasks_by_module.setdefault(str(task.summary.file.path), []).append(task)

    def _call_form_task(self, summary: ModuleSummary, binding: Binding) -> Task | None:
        """``add = app.task(_add)`` or ``add = shared_task(bind=True)(_add)``."""
        value = binding.value
        if not isinstance(value, cst.Call) or len(value.args) != 1 or value.args[0].keyword is not None:
            return None
        target = value.args[0].value
        if not isinstance(target, cst.Name) or target.value not in summary.functions:
            return None
        spec = self.task_decorator(summary, value.func)
        if spec is None:
            return None
        spec.node = value
        func = summary.functions[target.value]
        return Task(summary, func, func, spec)

    def tasks_in(self, file: SourceFile) -> list[Task]:
        return self._tasks_by_module.get(str(file.path), [])

    def task_for_node(self, node: cst.CSTNode) -> Task | None:
        return self._tasks_by_node.get(id(node))

    def _class_task_bases(self, summary: ModuleSummary, klass: cst.ClassDef, depth: int = 0) -> bool:
        if depth > 20:
            return False
        for arg in klass.bases:
            qualname = self.qualname_of(summary, arg.value)
            if qualname is None or not self._may_define_task_class(qualname):
                continue
            symbol = self.resolve(qualname)
            if self._is_task_class_symbol(symbol):
                return True
            if isinstance(symbol, ClassSym) and self._class_task_bases(
                symbol.summary, symbol.node, depth + 1
            ):
                return True
        return False

    def _may_define_task_class(self, qualname: str) -> bool:
        """False when ``qualname`` lives in a project module the prefilter rules out: a
        module that mentions neither Celery nor any project task base cannot define a task
        class, so it is not parsed just to find that out."""
        parts = qualname.split(".")
        for split in range(len(parts), 0, -1):
            file = self.find_module(".".join(parts[:split]))
            if file is not None:
                return self.needs_analysis(file)
        return True

    def _is_task_class_symbol(self, symbol: Symbol | None) -> bool:
        if isinstance(symbol, External):
            return symbol.qualname in CELERY_TASK_CLASSES or (
                symbol.qualname.endswith(".Task") and symbol.qualname.split(".")[0] == "celery"
            )
        return bool(isinstance(symbol, AttrOf) and isinstance(symbol.base, App) and symbol.attrs == ("Task",))

    # ------------------------------------------------------------------ decorators
    def _factory(self, summary: ModuleSummary, expr: cst.BaseExpression, depth: int = 0) -> _Factory | None:
        if not self._plausible_factory(summary, expr):
            return None
        symbol = self.symbol_of(summary, expr)
        return self._factory_of_symbol(symbol, depth)

    def _plausible_factory(self, summary: ModuleSummary, expr: cst.BaseExpression) -> bool:
        """Whether ``expr`` can name a task decorator, judged before resolving anything.

        Resolving every call of every module would parse modules that have nothing to
        do with Celery; only Celery's own names, ``<app>.task``, local definitions and
        names already known to be project wrappers or aliases are worth following.
        """
        dotted = dotted_name(expr)
        if dotted is None:
            return False
        head, _, _ = dotted.partition(".")
        last = dotted.rpartition(".")[2]
        if last == "task":
            return True
        imported = summary.imports.get(head)
        if imported is not None:
            return (
                imported.split(".")[0] == "celery"
                or imported.rpartition(".")[2] in self.factory_names
                or last in self.factory_names
            )
        return summary.defines(head)

    def _factory_of_symbol(self, symbol: Symbol | None, depth: int = 0) -> _Factory | None:
        if symbol is None or depth > 10:
            return None
        if isinstance(symbol, External):
            if symbol.qualname in SHARED_TASK:
                return _Factory("base", apps=None)
            return None
        if isinstance(symbol, AttrOf):
            if isinstance(symbol.base, App) and symbol.attrs == ("task",):
                return _Factory("base", apps=[symbol.base])
            return None
        if isinstance(symbol, ValueSym):
            value = symbol.expr
            if isinstance(value, cst.Call):
                inner = self._factory(symbol.summary, value.func, depth + 1)
                if inner is not None and inner.kind == "base":
                    decorator = self._apply_factory(inner, symbol.summary, value)
                    decorator.via = f"the decorator {symbol.name} ({symbol.summary.file.relpath})"
                    return _Factory("applied", applied=decorator)
            return None
        if isinstance(symbol, FunctionSym):
            key = id(symbol.node)
            if key in self._factory_cache:
                return self._factory_cache[key]
            self._factory_cache[key] = None  # recursion guard
            factory = self._wrapper_factory(symbol, depth)
            self._factory_cache[key] = factory
            if factory is not None:
                self.factory_names.add(symbol.node.name.value)
                self.patterns.add(b"@" + symbol.node.name.value.encode())
                self.patterns.add(symbol.node.name.value.encode() + b"(")
            return factory
        if isinstance(symbol, ClassSym):
            for method in symbol.node.body.body:
                if (
                    isinstance(method, cst.FunctionDef)
                    and method.name.value in ("__call__", "__init__", "__new__")
                    and self._find_inner_factory_call(symbol.summary, method, depth) is not None
                ):
                    self.patterns.add(symbol.node.name.value.encode())
                    self.factory_names.add(symbol.node.name.value)
                    return _Factory(
                        "opaque",
                        reason=f"class decorator {symbol.node.name.value} passes options the analyzer cannot follow",
                    )
        return None

    def _find_inner_factory_call(
        self, summary: ModuleSummary, func: cst.FunctionDef, depth: int
    ) -> tuple[cst.Call, _Factory] | None:
        finder = _InnerFactoryFinder(self, summary, depth)
        finder.walk(func.body)
        return finder.found

    def _wrapper_factory(self, symbol: FunctionSym, depth: int) -> _Factory | None:
        inner = self._find_inner_factory_call(symbol.summary, symbol.node, depth)
        if inner is None:
            return None
        call, factory = inner
        if factory.kind != "base":
            # A wrapper around another wrapper: a task for sure, its options not followed.
            return _Factory(
                "opaque", apps=factory.apps, reason=f"wrapper {symbol.node.name.value} nests other wrappers"
            )
        return _Factory(
            "wrapper", apps=factory.apps, wrapper=symbol, inner_call=call, inner_summary=symbol.summary
        )

    def task_decorator(self, summary: ModuleSummary, expr: cst.BaseExpression) -> TaskDecorator | None:
        """What a decorator expression means, or None when it does not make a task."""
        if isinstance(expr, cst.Call):
            factory = self._factory(summary, expr.func)
            if factory is None:
                return None
            if factory.kind == "base":
                return self._apply_factory(factory, summary, expr)
            if factory.kind == "wrapper":
                return self._apply_wrapper(factory, summary, expr)
            if factory.kind == "opaque":
                return TaskDecorator(factory.apps, {}, opaque=factory.reason)
            return TaskDecorator(None, {}, opaque="an applied decorator is called again")
        factory = self._factory(summary, expr)
        if factory is None:
            return None
        if factory.kind == "base":
            return TaskDecorator(factory.apps, {})
        if factory.kind == "applied" and factory.applied is not None:
            return factory.applied
        if factory.kind == "wrapper":
            return self._apply_wrapper(factory, summary, None)
        return TaskDecorator(factory.apps, {}, opaque=factory.reason)

    def _apply_factory(self, factory: _Factory, summary: ModuleSummary, call: cst.Call) -> TaskDecorator:
        options: dict[str, OptionExpr | Resolved] = {}
        opaque = None
        for arg in call.args:
            if arg.star:
                opaque = f"options are passed with {arg.star}... in {summary.file.relpath}"
            elif arg.keyword is not None:
                options[arg.keyword.value] = OptionExpr(summary, arg.value)
        return TaskDecorator(factory.apps, options, opaque=opaque)

    def _apply_wrapper(self, factory: _Factory, site: ModuleSummary, call: cst.Call | None) -> TaskDecorator:
        wrapper = factory.wrapper
        inner_call = factory.inner_call
        inner_summary = factory.inner_summary
        assert wrapper is not None and inner_call is not None and inner_summary is not None
        name = wrapper.node.name.value
        via = f"the wrapper {name} ({wrapper.summary.file.relpath})"
        params = wrapper.node.params
        named = [p for p in (*params.posonly_params, *params.params)]
        defaults = {p.name.value: p.default for p in (*named, *params.kwonly_params)}
        star_kwargs = params.star_kwarg.name.value if params.star_kwarg is not None else None
        bound: dict[str, OptionExpr] = {}
        extra: dict[str, OptionExpr] = {}
        if call is not None:
            for index, arg in enumerate(call.args):
                if arg.star:
                    return TaskDecorator(
                        factory.apps, {}, opaque=f"options are passed to {name} with {arg.star}...", via=via
                    )
                if arg.keyword is None:
                    if index < len(named):
                        bound[named[index].name.value] = OptionExpr(site, arg.value)
                    continue
                key = arg.keyword.value
                if key in defaults:
                    bound[key] = OptionExpr(site, arg.value)
                else:
                    extra[key] = OptionExpr(site, arg.value)
        options: dict[str, OptionExpr | Resolved] = {}
        opaque: str | None = None
        for arg in inner_call.args:
            if arg.star == "**":
                if isinstance(arg.value, cst.Name) and arg.value.value == star_kwargs:
                    options.update(extra)
                else:
                    opaque = f"{name} passes computed options"
                continue
            if arg.star or arg.keyword is None:
                continue
            key = arg.keyword.value
            value = arg.value
            if isinstance(value, cst.Name) and value.value in defaults:
                if value.value in bound:
                    options[key] = bound[value.value]
                else:
                    default = defaults[value.value]
                    options[key] = (
                        OptionExpr(wrapper.summary, default)
                        if default is not None
                        else Unknown(f"{name} requires {value.value}")
                    )
            elif (
                isinstance(value, cst.Name)
                and not inner_summary.defines(value.value)
                and value.value not in inner_summary.imports
                and value.value not in ("True", "False", "None")
            ):
                options[key] = Unknown(f"{key} is computed inside {name}")
            else:
                options[key] = OptionExpr(inner_summary, value)
        return TaskDecorator(factory.apps, options, opaque=opaque, via=via)

    # ------------------------------------------------------------------ task options
    def task_name(self, task: Task) -> Resolved:
        """Celery's name for the task: explicit ``name=`` or ``module.function``."""
        return self.memo(("task_name", id(task)), lambda: self._task_name(task))

    def _task_name(self, task: Task) -> Resolved:
        explicit = self._explicit_option(task, "name")
        if explicit is not None and not (isinstance(explicit, Known) and explicit.value is None):
            return explicit
        # ``name=None`` (or no name) gives Celery's default: the module's import name + the function.
        module = task.summary.file.import_name or task.summary.name
        return Known(f"{module}.{task.function_name}", Origin("the default name"))

    def _explicit_option(self, task: Task, option: str) -> Resolved | None:
        if task.decorator is not None:
            raw = task.decorator.options.get(option)
            if raw is not None:
                return self._option_value(raw, option, task.decorator.via)
            if task.decorator.opaque:
                return Unknown(task.decorator.opaque)
            return None
        assert isinstance(task.node, cst.ClassDef)
        return self._class_attribute(task.summary, task.node, option, 0)

    def _option_value(self, raw: OptionExpr | Resolved, option: str, via: str) -> Resolved:
        if isinstance(raw, (Known, Unknown)):
            return raw
        origin = Origin(f"{option} on {via}", raw.summary.file.relpath, raw.expr)
        return self.value_of(raw.summary, raw.expr, origin)

    def task_option(self, task: Task, option: str) -> Resolved:
        """The effective value of a task option, in Celery's precedence order."""
        return self.memo(("task_option", id(task), option), lambda: self._task_option(task, option))

    def _task_option(self, task: Task, option: str) -> Resolved:
        apps = self.task_apps(task)
        annotated = self._annotation(task, option, apps)
        if annotated is not None:
            return annotated
        config_key = FROM_CONFIG.get(option)
        chain = self._option_chain(task, option)
        if chain is not None:
            if isinstance(chain, Unknown):
                return chain
            if chain.value is not None or config_key is None:
                return chain
            # An explicit None on a task or base class still takes the app setting.
        if config_key is not None:
            value = self.project_setting(config_key, apps)
            if isinstance(value, Known) and value.origin is CELERY_DEFAULT and option in TASK_DEFAULTS:
                return Known(TASK_DEFAULTS[option], CELERY_DEFAULT)
            return value
        return Known(TASK_DEFAULTS.get(option), CELERY_DEFAULT)

    def _option_chain(self, task: Task, option: str) -> Resolved | None:
        """Decorator, then base class chain, then the app's task class."""
        if task.decorator is not None:
            explicit = self._explicit_option(task, option)
            if explicit is not None:
                return explicit
            base_raw = task.decorator.options.get("base")
            if base_raw is not None:
                if isinstance(base_raw, OptionExpr):
                    symbol = self.symbol_of(base_raw.summary, base_raw.expr)
                    found = self._symbol_attribute(symbol, option, 0)
                    if found is not None:
                        return found
                    if not self._is_task_class_symbol(symbol):
                        return (
                            None
                            if isinstance(symbol, ClassSym)
                            else Unknown("the base class cannot be analysed")
                        )
                else:
                    return Unknown("the base class cannot be analysed")
        else:
            assert isinstance(task.node, cst.ClassDef)
            found = self._class_attribute(task.summary, task.node, option, 0)
            if found is not None:
                return found
            if self._class_has_unknown_bases(task.summary, task.node):
                return Unknown("a base class cannot be analysed")
        return self._task_cls_attribute(self.task_apps(task), option)

    def _task_cls_attribute(self, apps: list[App], option: str) -> Resolved | None:
        results: list[Resolved | None] = []
        for app in apps:
            if app.task_cls_unknown and app.task_cls is None:
                results.append(Unknown(f"the task class of {app.label} cannot be analysed"))
                continue
            if app.task_cls is None:
                results.append(None)
                continue
            summary, expr = app.task_cls
            symbol: Symbol | None
            if isinstance(expr, cst.SimpleString):
                target = expr.evaluated_value
                symbol = self.resolve(target.replace(":", ".")) if isinstance(target, str) else None
            else:
                symbol = self.symbol_of(summary, expr)
            found = self._symbol_attribute(symbol, option, 0)
            if found is None and not isinstance(symbol, ClassSym) and not self._is_task_class_symbol(symbol):
                found = Unknown("the app's task_cls cannot be analysed")
            results.append(found)
        if not results or all(r is None for r in results):
            return None
        if any(r is None for r in results):
            return Unknown("apps use different task classes")
        return agree([r for r in results if r is not None], "apps use different task classes")

    def _symbol_attribute(self, symbol: Symbol | None, option: str, depth: int) -> Resolved | None:
        if isinstance(symbol, ClassSym):
            found = self._class_attribute(symbol.summary, symbol.node, option, depth)
            if found is None and self._class_has_unknown_bases(symbol.summary, symbol.node):
                return Unknown(f"a base of {symbol.node.name.value} cannot be analysed")
            return found
        if self._is_task_class_symbol(symbol):
            return None
        return Unknown("the base class cannot be analysed")

    def _class_attribute(
        self, summary: ModuleSummary, klass: cst.ClassDef, option: str, depth: int
    ) -> Resolved | None:
        if depth > 20:
            return Unknown("class hierarchy too deep")
        for stmt in _class_statements(klass):
            for name, value in _assigned(stmt):
                if name == option:
                    origin = Origin(
                        f"{option} on class {klass.name.value} ({summary.file.relpath})",
                        summary.file.relpath,
                        stmt,
                    )
                    if value is None:
                        return Unknown(f"{option} on {klass.name.value} is computed")
                    return self.value_of(summary, value, origin)
        for body_item in klass.body.body:
            if isinstance(body_item, cst.FunctionDef) and body_item.name.value == option:
                return Unknown(f"{option} is a property of {klass.name.value}")
        for arg in klass.bases:
            symbol = self.symbol_of(summary, arg.value)
            if isinstance(symbol, ClassSym):
                found = self._class_attribute(symbol.summary, symbol.node, option, depth + 1)
                if found is not None:
                    return found
        return None

    def _class_has_unknown_bases(self, summary: ModuleSummary, klass: cst.ClassDef, depth: int = 0) -> bool:
        if depth > 20:
            return True
        for arg in klass.bases:
            if arg.keyword is not None:
                continue
            symbol = self.symbol_of(summary, arg.value)
            if isinstance(symbol, ClassSym):
                if self._class_has_unknown_bases(symbol.summary, symbol.node, depth + 1):
                    return True
            elif self._is_task_class_symbol(symbol) or self._plain_base(summary, arg.value):
                continue
            else:
                return True
        return False

    def _plain_base(self, summary: ModuleSummary, expr: cst.BaseExpression) -> bool:
        """``object``, ``abc.ABC``, ``typing.Generic[...]``: bases that contribute no settings."""
        if isinstance(expr, cst.Name) and expr.value == "object" and not summary.defines("object"):
            return "object" not in summary.imports
        target = expr.value if isinstance(expr, cst.Subscript) else expr
        qualname = self.qualname_of(summary, target)
        return qualname in ("abc.ABC", "typing.Generic", "typing.Protocol")

    def _annotation(self, task: Task, option: str, apps: list[App]) -> Resolved | None:
        annotations = self.project_setting("task_annotations", apps)
        if isinstance(annotations, Unknown):
            return annotations
        value = annotations.value
        if value is None:
            return None
        if not isinstance(value, dict):
            return Unknown(f"task_annotations ({annotations.origin}) cannot be analysed")
        name = self.task_name(task)
        entries = []
        for key, entry in value.items():
            if not isinstance(key, str):
                return Unknown("task_annotations has computed keys")
            if key == "*" or (isinstance(name, Known) and key == name.value):
                entries.append(entry)
            elif isinstance(name, Unknown) or (
                (not task.decorator or "name" not in task.decorator.options)
                and key.endswith("." + task.function_name)
            ):
                return Unknown("task_annotations may name this task")
        for entry in entries:
            if not isinstance(entry, dict):
                return Unknown("task_annotations entry cannot be analysed")
            if option in entry:
                return Known(entry[option], Origin(f"task_annotations ({annotations.origin})"))
        return None


# ----------------------------------------------------------------------- helpers
def _class_statements(klass: cst.ClassDef) -> Iterator[cst.CSTNode]:
    body = klass.body
    if isinstance(body, cst.IndentedBlock):
        for stmt in body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                yield from stmt.body
    elif isinstance(body, cst.SimpleStatementSuite):
        yield from body.body


def _assigned(node: cst.CSTNode) -> Iterator[tuple[str, cst.BaseExpression | None]]:
    if isinstance(node, cst.Assign):
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                yield target.target.value, node.value
            elif isinstance(target.target, (cst.Tuple, cst.List)):
                for element in target.target.elements:
                    if isinstance(element.value, cst.Name):
                        yield element.value.value, None
    elif isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
        yield node.target.value, node.value
    elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
        yield node.target.value, None


def _may_make_tasks(summary: ModuleSummary, func: cst.BaseExpression, known_factories: set[str]) -> bool:
    """Cheap test before resolving a call inside a possible wrapper function.

    Only ``<app>.task``, names imported from Celery and module-level aliases can be the
    task decorator a wrapper calls; resolving every other call would parse half the
    project for nothing.
    """
    dotted = dotted_name(func)
    if dotted is None:
        return False
    head, _, _ = dotted.partition(".")
    if dotted.endswith(".task"):
        return True
    imported = summary.imports.get(head)
    if imported is not None:
        return imported.split(".")[0] == "celery" or imported.rpartition(".")[2] in known_factories
    # A module-level alias or another wrapper of the same module (``job`` calling ``task``).
    return head in summary.bindings or head in summary.functions


def _star_module(module: ModuleSummary, node: cst.ImportFrom) -> str | None:
    from .scan import _module_of_import

    file = module.file
    package = file.module if file.is_package else file.module.rpartition(".")[0]
    return _module_of_import(node, package)


def _method(klass: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    for stmt in klass.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return stmt
    return None


def _defines_method(klass: cst.ClassDef, name: str) -> bool:
    return _method(klass, name) is not None


_MODELS: dict[tuple[Path, tuple[str, ...], bool], ProjectModel] = {}


def model_for(path: Path, exclude: Iterable[str] = (), use_prefilter: bool = True) -> ProjectModel:
    """The (per-process) model of the project that contains ``path``."""
    root = find_project_root(path)
    key = (root, tuple(exclude), use_prefilter)
    model = _MODELS.get(key)
    if model is None:
        model = ProjectModel(root, exclude, use_prefilter)
        model.build()
        _MODELS[key] = model
    return model


# ----------------------------------------------------------------------- config writes by file
def _looks_like_settings(file: SourceFile) -> bool:
    stem = file.path.stem
    parts = file.relpath.replace("\\", "/").split("/")
    return (
        "settings" in stem
        or any("settings" in p for p in parts[:-1])
        or stem in ("celeryconfig", "celery_config", "celeryconf")
    )


def config_writes_in(model: ProjectModel, file: SourceFile) -> list[ConfigWrite]:
    """Every place in ``file`` that gives a Celery setting a value, in any configuration form."""
    return model.memo(("config_writes_in", str(file.path)), lambda: _config_writes_in(model, file))


def _config_writes_in(model: ProjectModel, file: SourceFile) -> list[ConfigWrite]:
    found: dict[int, ConfigWrite] = {}
    path = str(file.path)
    for app in model.apps:
        for write in app.preconf:
            if str(write.summary.file.path) == path:
                found.setdefault(id(write.node), write)
        if app.source is not None:
            for writes in app.source.writes.values():
                for write in writes:
                    if write.value is not None and str(write.summary.file.path) == path:
                        found.setdefault(id(write.node), write)
    summary = model.summary_for(file)
    if summary is None:
        return list(found.values())
    for op in summary.conf_ops:
        if model.app_of_expr(summary, op.receiver) is not None:
            continue
        # A receiver the analyzer cannot tie to an app (``sender.conf``): still Celery configuration.
        if op.kind in ("attr", "item") and op.key is not None:
            form = "conf attribute" if op.kind == "attr" else "conf item"
            write = ConfigWrite(op.key, model.catalogue.canonical(op.key), op.value, summary, op.node, form)
            found.setdefault(id(write.node), write)
        elif op.kind == "update" and op.call is not None:
            for arg in op.call.args:
                if arg.keyword is not None and not arg.star:
                    key = arg.keyword.value
                    write = ConfigWrite(
                        key, model.catalogue.canonical(key), arg.value, summary, arg, "conf.update"
                    )
                    found.setdefault(id(write.node), write)
                elif arg.keyword is None and isinstance(arg.value, cst.Dict):
                    for element in arg.value.elements:
                        if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
                            dict_key = element.key.evaluated_value
                            if isinstance(dict_key, str):
                                write = ConfigWrite(
                                    dict_key,
                                    model.catalogue.canonical(dict_key),
                                    element.value,
                                    summary,
                                    element,
                                    "conf.update",
                                )
                                found.setdefault(id(write.node), write)
    linked = any(
        str(w.summary.file.path) == path and w.form in ("Django settings", "config module")
        for w in found.values()
    )
    if not linked and _looks_like_settings(file):
        flat, _ = model.flatten_module(summary)
        for key, writes in flat.items():
            for write in writes:
                if write.value is None or str(write.summary.file.path) != path:
                    continue
                setting = model.catalogue.namespaced(key, "CELERY") if key.startswith("CELERY_") else None
                write.setting = setting or model.catalogue.canonical(key)
                write.form = "settings module"
                if write.setting is not None:
                    found.setdefault(id(write.node), write)
        # Flask-style settings classes: ``class Defaults: CELERY_TASK_SERIALIZER = "pickle"``.
        for klass in summary.classes.values():
            for stmt in _class_statements(klass):
                for key, value in _assigned(stmt):
                    if value is None or not key.isupper():
                        continue
                    setting = model.catalogue.namespaced(key, "CELERY") if key.startswith("CELERY_") else None
                    setting = setting or model.catalogue.canonical(key)
                    if setting is not None:
                        write = ConfigWrite(
                            key, setting, value, summary, stmt, f"settings class {klass.name.value}"
                        )
                        found.setdefault(id(write.node), write)
    return list(found.values())


# ----------------------------------------------------------------------- tasks by name and expression
def task_for_expression(model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression) -> Task | None:
    """The project task an expression names (``add``, ``tasks.add``), if the analyzer can tell."""
    symbol = model.symbol_of(summary, expr)
    if isinstance(symbol, FunctionSym):
        return model.task_for_node(symbol.node)
    if isinstance(symbol, ClassSym):
        return model.task_for_node(symbol.node)
    if isinstance(symbol, ValueSym) and symbol.expr is not None:
        # ``add = app.task(_add)``: the call form binds the task to a module-level name.
        for task in model.tasks_in(symbol.summary.file):
            if task.decorator is not None and task.decorator.node is symbol.expr:
                return task
    return None


def tasks_by_name(model: ProjectModel) -> dict[str, list[Task]]:
    """Every task under Celery's name for it; tasks whose name is unknown are left out."""
    return model.memo("tasks_by_name", lambda: _tasks_by_name(model))


def _tasks_by_name(model: ProjectModel) -> dict[str, list[Task]]:
    names: dict[str, list[Task]] = {}
    for task in model.tasks:
        name = model.task_name(task)
        if isinstance(name, Known) and isinstance(name.value, str):
            names.setdefault(name.value, []).append(task)
    return names


def has_unnamed_tasks(model: ProjectModel) -> bool:
    """True when some task's name cannot be known (then 'no such task' cannot be claimed)."""
    return model.memo("has_unnamed_tasks", lambda: _has_unnamed(model))


def _has_unnamed(model: ProjectModel) -> bool:
    return any(not isinstance(model.task_name(t), Known) for t in model.tasks)


@dataclass(eq=False)
class BeatEntry:
    """One periodic task: a ``beat_schedule`` entry or an ``add_periodic_task`` call."""

    name: str | None
    summary: ModuleSummary
    node: cst.CSTNode
    fields: dict[str, tuple[cst.BaseExpression, cst.CSTNode]]
    """For schedule dicts: the entry's keys to (value, dict element)."""
    opaque: bool
    """The entry dict has computed keys or is not a literal dict."""
    form: str  # "beat_schedule" or "add_periodic_task"
    call: cst.Call | None = None


def beat_entries(model: ProjectModel) -> list[BeatEntry]:
    """Every beat entry the project defines, in every configuration form, test code excluded."""
    return model.memo("beat_entries", lambda: _beat_entries(model))


def _beat_entries(model: ProjectModel) -> list[BeatEntry]:
    entries: list[BeatEntry] = []
    seen: set[int] = set()
    writes: list[ConfigWrite] = []
    for app in model.apps:
        writes.extend(w for w in app.preconf if w.setting == "beat_schedule")
        if app.source is not None:
            for write_list in app.source.writes.values():
                writes.extend(w for w in write_list if w.setting == "beat_schedule" and w.value is not None)
    for summary in model.parsed_summaries():
        if summary.is_test:
            continue
        for write in config_writes_in(model, summary.file):
            if write.setting == "beat_schedule":
                writes.append(write)
    for write in writes:
        if id(write.node) in seen or write.summary.is_test:
            continue
        seen.add(id(write.node))
        value = write.value
        if isinstance(value, cst.Name):
            symbol = model.symbol_of(write.summary, value)
            if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
                entries.extend(_schedule_dict_entries(model, symbol.summary, symbol.expr))
            continue
        if isinstance(value, cst.Dict):
            entries.extend(_schedule_dict_entries(model, write.summary, value))
    for summary in model.parsed_summaries():
        if summary.is_test:
            continue
        for op in summary.conf_ops:
            if op.kind == "periodic" and op.call is not None:
                name = None
                for arg in op.call.args:
                    if arg.keyword is not None and arg.keyword.value == "name":
                        try:
                            evaluated = evaluate(model, summary, arg.value)
                            name = evaluated if isinstance(evaluated, str) else None
                        except NotEvaluable:
                            name = None
                entries.append(
                    BeatEntry(name, summary, op.call, {}, False, "add_periodic_task", call=op.call)
                )
    return entries


def _schedule_dict_entries(
    model: ProjectModel, summary: ModuleSummary, schedule: cst.Dict
) -> list[BeatEntry]:
    entries: list[BeatEntry] = []
    for element in schedule.elements:
        if not isinstance(element, cst.DictElement):
            continue
        try:
            name = evaluate(model, summary, element.key)
        except NotEvaluable:
            name = None
        entry_value = element.value
        if isinstance(entry_value, cst.Name):
            symbol = model.symbol_of(summary, entry_value)
            if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
                entry_value = symbol.expr
        fields: dict[str, tuple[cst.BaseExpression, cst.CSTNode]] = {}
        opaque = not isinstance(entry_value, cst.Dict)
        if isinstance(entry_value, cst.Dict):
            for field_element in entry_value.elements:
                if isinstance(field_element, cst.DictElement) and isinstance(
                    field_element.key, cst.SimpleString
                ):
                    key = field_element.key.evaluated_value
                    if isinstance(key, str):
                        fields[key] = (field_element.value, field_element)
                        continue
                opaque = True
        elif isinstance(entry_value, cst.Call) and dotted_name(entry_value.func) == "dict":
            opaque = False
            for arg in entry_value.args:
                if arg.keyword is None:
                    opaque = True
                else:
                    fields[arg.keyword.value] = (arg.value, arg)
        entries.append(
            BeatEntry(
                name if isinstance(name, str) else None, summary, element, fields, opaque, "beat_schedule"
            )
        )
    return entries
