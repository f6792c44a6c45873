"""The project model: Celery apps, their effective configuration, and every task.

Built once per project root and per process. Files that never mention Celery (or a
project name that leads to it) are not parsed; names found while scanning widen the
byte-level prefilter until nothing new turns up.

The model is built in layers, each a module of its own, each class extending the one
below: ``modules`` (files, import names, prefilter), ``symbols`` (name resolution,
evaluation), ``apps``, ``settings`` (configuration sources, effective settings),
``tasks`` (task discovery, decorators) and ``options`` (task names and options).
This module puts them together and drives the build; it also re-exports the names rules
and front ends import from here. What the model knows beyond these (beat entries, task
names, routes, call sites, ...) lives in modules of its own that build on this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .app_class import apply_class_writes
from .entities import (
    App,
    AttrOf,
    ClassSym,
    ConfigSource,
    ConfigWrite,
    External,
    FunctionSym,
    ModuleSym,
    OptionExpr,
    Symbol,
    Task,
    TaskDecorator,
    ValueSym,
)
from .files import SourceFile
from .modules import CELERY_MENTION, SummaryStore, pattern_matcher
from .options import (
    FROM_CONFIG,
    TASK_DEFAULTS,
    TaskOptions,
    has_unnamed_tasks,
    task_for_expression,
    tasks_by_name,
)
from .roots import find_project_root
from .settings import config_writes_in
from .symbols import CELERY_CLASS, CELERY_TASK_CLASSES
from .tasks import SHARED_TASK

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from .scan import ModuleSummary

__all__ = [
    "CELERY_CLASS",
    "CELERY_MENTION",
    "CELERY_TASK_CLASSES",
    "FROM_CONFIG",
    "SHARED_TASK",
    "TASK_DEFAULTS",
    "App",
    "AttrOf",
    "ClassSym",
    "ConfigSource",
    "ConfigWrite",
    "External",
    "FunctionSym",
    "ModuleSym",
    "OptionExpr",
    "ProjectModel",
    "Symbol",
    "Task",
    "TaskDecorator",
    "ValueSym",
    "config_writes_in",
    "has_unnamed_tasks",
    "model_for",
    "task_for_expression",
    "tasks_by_name",
]


class ProjectModel(TaskOptions):
    """Everything the rules ask about a project, computed lazily and once."""

    def __init__(
        self,
        root: Path,
        exclude: Iterable[str] = (),
        use_prefilter: bool = True,
        discovered: Iterable[Path] | None = None,
        deployment: Mapping[str, Any] | None = None,
        summaries: SummaryStore | None = None,
    ) -> None:
        """``discovered``: the project's files when the caller already walked the project
        exactly as the model would (same folder, same exclusions), to save a second walk.
        ``deployment``: ``deployment-settings`` (new setting names to values), configuration
        of every app. ``summaries``: module summaries of earlier runs, used instead of
        parsing a module whose bytes are unchanged (None: every module is parsed)."""
        super().__init__(root, exclude, use_prefilter, discovered)
        self.summary_store = summaries
        self.built_from: tuple[ModuleSummary, ...] = ()
        """The modules the build parsed (prefilter rounds and the names it resolved)."""
        self.deployment = dict(deployment or {})
        self._built = False

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
            self._evaluations,
            self._memo,
            self.files,
            self._by_module,
            self._init_cache,
        ):
            container.clear()
        self._unindexed.clear()
        self.apps.clear()
        self.tasks.clear()
        self.outside_task_decorators.clear()

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
        searched: set[bytes] = set()
        while pending:
            # A file left for a later round missed every pattern searched so far: search it
            # for the ones added since.
            matches = pattern_matcher(patterns - searched)
            searched = set(patterns)
            next_round: list[SourceFile] = []
            for file in pending:
                data = file.read()
                if data is None:
                    continue
                if not self.use_prefilter or matches(data):
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
        # What rules later parse for themselves depends on the run (the files named, -j):
        # a project-wide fact read from "every module" must read these, the same in every run.
        self.built_from = tuple(self.parsed_summaries())

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
        # ``self.conf`` writes of an app's Celery subclass: its ``__init__`` runs before the
        # module's own writes; methods the project calls later come after them.
        for app in list(self.apps):
            apply_class_writes(self, app, summaries, at_init=True)
        for summary in summaries:
            for op in summary.conf_ops:
                self._attach_conf_op(summary, op)
        for app in list(self.apps):
            apply_class_writes(self, app, summaries, at_init=False)
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
            app_class = ClassSym(summary, klass)
            if self._class_derives(app_class, CELERY_CLASS):
                # ``@app.scheduled(...)``: task factories that are methods of the app's class.
                for method in self.app_class_factory_methods(app_class):
                    self.factory_names.add(method)
                    self.patterns.add(b"." + method.encode() + b"(")
            if self._class_task_bases(summary, klass):
                self.patterns.add(name.encode())
            else:
                self._factory_of_symbol(ClassSym(summary, klass))


_MODELS: dict[tuple[Path, tuple[str, ...], bool, str], ProjectModel] = {}


def model_for(
    path: Path,
    exclude: Iterable[str] = (),
    use_prefilter: bool = True,
    deployment: Mapping[str, Any] | None = None,
) -> ProjectModel:
    """The (per-process) model of the project that contains ``path``."""
    root = find_project_root(path)
    key = (root, tuple(exclude), use_prefilter, repr(sorted((deployment or {}).items())))
    model = _MODELS.get(key)
    if model is None:
        model = ProjectModel(root, exclude, use_prefilter, deployment=deployment)
        model.build()
        _MODELS[key] = model
    return model
