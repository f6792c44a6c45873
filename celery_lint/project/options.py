"""The sixth layer of the project model: a task's name and its effective options, in
Celery's precedence order (annotations, decorator, base classes, the app's task class,
the app's settings, Celery's class defaults)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .binding import worker_apps
from .entities import (
    App,
    AttrOf,
    ClassSym,
    FunctionSym,
    OptionExpr,
    Symbol,
    Task,
    ValueSym,
    assigned_names,
    class_statements,
)
from .scan import ModuleSummary
from .tasks import TaskRegistry
from .values import CELERY_DEFAULT, UNKNOWN_ELEMENT, Known, Origin, Resolved, Unknown, agree
from .walk import contains

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

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


class TaskOptions(TaskRegistry):
    """Task names and effective task options."""

    def task_apps(self, task: Task) -> list[App]:
        """The apps whose settings apply to ``task``: its own app, or for a shared task the
        apps whose workers import its module (every app when none is seen to)."""
        if task.decorator is not None and task.decorator.apps is not None:
            return task.decorator.apps
        if task.is_test:
            return self.default_apps()
        return worker_apps(self, task.summary.file)

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
                return self._option_value(raw, option, option_via(task, raw))
            if task.decorator.opaque:
                return Unknown(task.decorator.opaque)
            return None
        assert isinstance(task.node, cst.ClassDef)
        return self._class_attribute(task.summary, task.node, option, 0)

    def _option_value(self, raw: OptionExpr | Resolved, option: str, via: str) -> Resolved:
        if isinstance(raw, (Known, Unknown)):
            return raw
        origin = Origin(f"{option} on {via}", raw.summary.file.relpath, raw.expr, kind="decorator")
        return self.value_of(raw.summary, raw.expr, origin)

    def task_option(self, task: Task, option: str) -> Resolved:
        """The effective value of a task option, in Celery's precedence order."""
        return self.memo(("task_option", id(task), option), lambda: self._task_option(task, option))

    def _task_option(self, task: Task, option: str) -> Resolved:
        apps = self.task_apps(task)
        annotated = self._annotation(task, option, apps)
        config_key = FROM_CONFIG.get(option)
        if annotated is not None:
            if not (isinstance(annotated, Known) and annotated.value is None and config_key is not None):
                return annotated
            # A task made before the app is finalized is bound again then, and the None an
            # annotation wrote is filled from the configuration; one made later (after
            # something read ``app.tasks``) keeps the None. Known when both agree.
            setting = self.project_setting(config_key, apps)
            if isinstance(setting, Known) and setting.value is None:
                return annotated
            if isinstance(setting, Unknown):
                return setting
            return Unknown(
                f"task_annotations sets {option} to None: Celery fills it from {config_key}"
                " only for tasks made before the app is finalized"
            )
        chain = self._option_chain(task, option)
        if chain is not None:
            if isinstance(chain, Unknown):
                return chain
            if chain.value is not None or config_key is None:
                return chain
            # An explicit None on a task or base class still takes the app setting.
        if config_key is not None:
            value = self.project_setting(config_key, apps)
            if isinstance(value, Known) and value.origin.default and option in TASK_DEFAULTS:
                return Known(TASK_DEFAULTS[option], value.origin)
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
                    symbol = self.derived_class(base_raw.summary, base_raw.expr)
                    found = self._symbol_attribute(symbol, option, 0)
                    if found is not None:
                        return found
                    if not isinstance(symbol, ClassSym) and not self._is_task_class_symbol(symbol):
                        return Unknown("the base class cannot be analysed")
                    # The app's task class is the base only through ``app.Task``; a base
                    # deriving from ``celery.Task`` itself never sees ``task_cls``.
                    if not self._uses_app_task(symbol):
                        return None
                else:
                    return Unknown("the base class cannot be analysed")
        else:
            assert isinstance(task.node, cst.ClassDef)
            found = self._class_attribute(task.summary, task.node, option, 0)
            if found is not None:
                return found
            if self._class_has_unknown_bases(task.summary, task.node):
                return Unknown("a base class cannot be analysed")
            if not self._uses_app_task(ClassSym(task.summary, task.node)):
                return None
        return self._task_cls_attribute(self.task_apps(task), option)

    def _uses_app_task(self, symbol: Symbol | None, depth: int = 0, seen: set[int] | None = None) -> bool:
        """Whether a task class derives from ``app.Task`` (the app's ``task_cls``) rather
        than from ``celery.Task``, directly or through project classes (each class looked
        at once: ``seen``)."""
        if isinstance(symbol, AttrOf):
            return isinstance(symbol.base, App) and symbol.attrs == ("Task",)
        seen = set() if seen is None else seen
        if isinstance(symbol, ClassSym) and depth < 20 and id(symbol.node) not in seen:
            seen.add(id(symbol.node))
            return any(
                self._uses_app_task(self.symbol_of(symbol.summary, base.value), depth + 1, seen)
                for base in symbol.node.bases
                if base.keyword is None
            )
        return False

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
                symbol = self.derived_class(summary, expr)
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
        self,
        summary: ModuleSummary,
        klass: cst.ClassDef,
        option: str,
        depth: int,
        seen: set[int] | None = None,
    ) -> Resolved | None:
        if depth > 20:
            return Unknown("class hierarchy too deep")
        # Each class once (``seen``): a class met again through a diamond gives what it gave.
        seen = set() if seen is None else seen
        if id(klass) in seen:
            return None
        seen.add(id(klass))
        for stmt in class_statements(klass):
            for name, value in assigned_names(stmt):
                if name == option:
                    origin = Origin(
                        f"{option} on class {klass.name.value} ({summary.file.relpath})",
                        summary.file.relpath,
                        stmt,
                        kind="class",
                        subject=klass.name.value,
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
                found = self._class_attribute(symbol.summary, symbol.node, option, depth + 1, seen)
                if found is not None:
                    return found
        return None

    def _class_has_unknown_bases(
        self, summary: ModuleSummary, klass: cst.ClassDef, depth: int = 0, seen: set[int] | None = None
    ) -> bool:
        if depth > 20:
            return True
        seen = set() if seen is None else seen
        if id(klass) in seen:
            return False
        seen.add(id(klass))
        for arg in klass.bases:
            if arg.keyword is not None:
                continue
            symbol = self.symbol_of(summary, arg.value)
            if isinstance(symbol, ClassSym):
                if self._class_has_unknown_bases(symbol.summary, symbol.node, depth + 1, seen):
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
        if len(apps) > 1:
            # A task of several apps (``shared_task``): each app annotates it on its own.
            found = [self._app_annotation(task, option, [app]) for app in apps]
            if all(f is None for f in found):
                return None
            if any(f is None for f in found):
                return Unknown(f"task_annotations sets {option} in some of the task's apps only")
            return agree([f for f in found if f is not None], f"apps annotate {option} differently")
        return self._app_annotation(task, option, apps)

    def _app_annotation(self, task: Task, option: str, apps: list[App]) -> Resolved | None:
        annotations = self.project_setting("task_annotations", apps)
        if isinstance(annotations, Unknown):
            return annotations
        value = annotations.value
        if value is None:
            return None
        # Celery (celery/app/annotations.py): a dict or a list of them; the first map that
        # names the task gives its entry, the first map with ``"*"`` gives the entry for
        # every task, and the task's attributes are set from the named entry, then from
        # the ``"*"`` one (which so wins where both set an option).
        maps = list(value) if isinstance(value, (list, tuple)) else [value]
        name = self.task_name(task)
        named: object = None
        anything: object = None
        for mapping in maps:
            if not isinstance(mapping, dict):
                return Unknown(f"task_annotations ({annotations.origin}) cannot be analysed")
            for key in mapping:
                if not isinstance(key, str):
                    return Unknown("task_annotations has computed keys")
                if key == "*" or (isinstance(name, Known) and key == name.value):
                    continue
                if isinstance(name, Unknown) or (
                    (not task.decorator or "name" not in task.decorator.options)
                    and key.endswith("." + task.function_name)
                ):
                    return Unknown("task_annotations may name this task")
            if named is None and isinstance(name, Known) and name.value in mapping:
                named = mapping[name.value]
            if anything is None and "*" in mapping:
                anything = mapping["*"]
        found: Resolved | None = None
        for entry in (named, anything):
            if entry is None:
                continue
            if not isinstance(entry, dict):
                return Unknown("task_annotations entry cannot be analysed")
            if option in entry:
                if entry[option] is UNKNOWN_ELEMENT:
                    return Unknown(
                        f"task_annotations ({annotations.origin}) sets {option} to a computed value"
                    )
                found = Known(
                    entry[option], Origin(f"task_annotations ({annotations.origin})", kind="annotation")
                )
        return found


# ----------------------------------------------------------------------- tasks by name and expression
def option_via(task: Task, raw: OptionExpr | Resolved) -> str:
    """Where messages say a decorator option was given: "the decorator" when it is
    written in the task's own decorator (``@wrapper(max_retries=5)``), else the wrapper
    or alias that supplies it."""
    assert task.decorator is not None
    if (
        isinstance(raw, OptionExpr)
        and raw.summary is task.summary
        and any(contains(decorator, raw.expr) for decorator in task.node.decorators)
    ):
        return "the decorator"
    return task.decorator.via


def task_for_expression(model: TaskOptions, summary: ModuleSummary, expr: cst.BaseExpression) -> Task | None:
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


def tasks_by_name(model: TaskOptions) -> dict[str, list[Task]]:
    """Every task under Celery's name for it; tasks whose name is unknown are left out."""
    return model.memo("tasks_by_name", lambda: _tasks_by_name(model))


def _tasks_by_name(model: TaskOptions) -> dict[str, list[Task]]:
    names: dict[str, list[Task]] = {}
    for task in model.tasks:
        name = model.task_name(task)
        if isinstance(name, Known) and isinstance(name.value, str):
            names.setdefault(name.value, []).append(task)
    return names


def has_unnamed_tasks(model: TaskOptions) -> bool:
    """True when some task's name cannot be known (then 'no such task' cannot be claimed)."""
    return model.memo("has_unnamed_tasks", lambda: _has_unnamed(model))


def _has_unnamed(model: TaskOptions) -> bool:
    return any(not isinstance(model.task_name(t), Known) for t in model.tasks)
