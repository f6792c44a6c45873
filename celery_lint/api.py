"""The typed view of the project model that rule packs use.

A rule reads the project through ``self.project`` (a :class:`ProjectView`): the tasks of
the file being checked and of the whole project (:class:`TaskView`), each task's
effective options, the project's Celery apps (:class:`AppView`) and the effective
configuration. Values are :class:`Known` (with the place they came from) or
:class:`Unknown`; a rule should stay silent on Unknown, as the built-in rules do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .project.values import Known, Origin, Resolved, Unknown

if TYPE_CHECKING:
    from collections.abc import Iterator

    import libcst as cst

    from .context import FileContext
    from .project.beat import BeatEntry, Scheduled
    from .project.broker_urls import UrlText
    from .project.configuration import ConfigIndex
    from .project.entities import App, ConfigWrite, Task
    from .project.helper_texts import Reach
    from .project.helpers_called import Helper
    from .project.hooks import Hook
    from .project.routing import Route
    from .project.setting_styles import StyleFinding
    from .project.task_calls import CallSignature
    from .project.tasks import TaskFactory
    from .project.unread_options import UnreadOption
else:
    from ._lazy_libcst import cst

_T = TypeVar("_T")

__all__ = [
    "AppView",
    "HelperView",
    "Known",
    "Origin",
    "ProjectView",
    "Resolved",
    "TaskHookView",
    "TaskView",
    "Unknown",
]


@dataclass(frozen=True, eq=False)
class AppView:
    """One Celery app (``Celery(...)``) of the project."""

    _app: App
    _context: FileContext

    @property
    def label(self) -> str:
        """``module.variable`` of the app, e.g. ``proj.celery.app``."""
        return self._app.label

    @property
    def path(self) -> str:
        """The file that creates the app, relative to the project root."""
        return self._app.summary.file.relpath

    @property
    def is_test(self) -> bool:
        """The app is created in test code."""
        return self._app.is_test

    @property
    def in_checked_file(self) -> bool:
        """The app is created in the file being checked."""
        return str(self._app.summary.file.path) == str(self._context.file.path)

    @property
    def node(self) -> cst.CSTNode:
        """The statement that creates the app."""
        return self._app.node

    @property
    def call(self) -> cst.Call | None:
        """The ``Celery(...)`` call, when the app is created by one."""
        return self._app.call

    @property
    def config_from_object(self) -> str | None:
        """What ``config_from_object`` points the app at (``celeryconfig``, ``Django
        settings``...), or None when it is not called."""
        source = self._app.source
        return str(source.description) if source is not None else None

    @property
    def configuration_source(self) -> str:
        """Where the app reads its settings from, for messages: the ``config_from_object``
        target (``celeryconfig``, ``Django settings``...) or else the app's own module."""
        source = self.config_from_object
        return source if source is not None else str(self._app.summary.file.relpath)

    @property
    def runtime_sources(self) -> list[str]:
        """Configuration the repository cannot show that the app reads at run time, for
        messages (``conf.update(flask_app.config) in app/factory.py:14``, an optional
        ``from .local_settings import *`` of a module absent from the repository)."""
        source = self._app.source
        return [*self._app.runtime_sources, *(source.runtime if source is not None else [])]

    def setting(self, name: str) -> Resolved:
        """The effective value of a Celery setting (new lowercase name) for this app."""
        return self._context.model.setting(self._app, name)


@dataclass(frozen=True, eq=False)
class TaskView:
    """One Celery task as the analyzer sees it."""

    _task: Task
    _context: FileContext

    @property
    def name(self) -> Resolved:
        """Celery's name for the task (explicit ``name=`` or ``module.function``)."""
        return self._context.model.task_name(self._task)

    @property
    def function_name(self) -> str:
        return self._task.function_name

    @property
    def module(self) -> str:
        """The dotted name the task's module is imported under."""
        file = self._task.summary.file
        return file.import_name or file.module

    @property
    def path(self) -> str:
        """The file, relative to the project root."""
        return self._task.summary.file.relpath

    @property
    def node(self) -> cst.FunctionDef | cst.ClassDef:
        """The ``def`` or ``class`` node; report task-level findings here."""
        return self._task.node

    @property
    def body(self) -> cst.FunctionDef | None:
        """The function that runs (the task function, or ``run`` of a class-based task)."""
        return self._task.body

    @property
    def is_class_based(self) -> bool:
        return self._task.is_class

    @property
    def label(self) -> str:
        """How messages name the task: its Celery name when known, else the function name."""
        name = self.name
        return str(name.value) if isinstance(name, Known) else self._task.function_name

    @property
    def is_test(self) -> bool:
        """The task is defined in test code."""
        return self._task.is_test

    @property
    def declared_bases(self) -> list[str]:
        """The task's base classes as written (``base=`` of the decorator, or the bases of
        a class-based task); empty when it declares none."""
        from .project.entities import OptionExpr

        task = self._task
        base = task.decorator.options.get("base") if task.decorator is not None else None
        if isinstance(base, OptionExpr):
            return [cst.Module([]).code_for_node(base.expr)]
        if task.decorator is None and isinstance(task.node, cst.ClassDef):
            return [cst.Module([]).code_for_node(b.value) for b in task.node.bases]
        return []

    @property
    def name_is_implicit(self) -> bool:
        """Celery names the task after its module and function: no ``name=`` on the
        decorator (a base class ``name`` does not count, Celery overrides it), or no
        ``name`` attribute anywhere on a class-based task's known class chain."""
        decorator = self._task.decorator
        if decorator is not None:
            return "name" not in decorator.options and not decorator.opaque
        value = self.option("name")
        return isinstance(value, Known) and value.value is None

    @property
    def bound_parameter(self) -> str | None:
        """The name of the task's first parameter when the task is bound (``bind=True``,
        or a class-based task's ``run``): what ``self.retry(...)`` is called on."""
        from .project.retries import bound_self

        return bound_self(self._context.model, self._task)

    @property
    def result_may_be_read(self) -> bool:
        """Production code may read the task's result: it runs in a group or chord, its
        caller picks the task id, or the ``AsyncResult`` of an enqueue call is kept."""
        from .project.results import tasks_with_read_results

        return id(self._task.node) in tasks_with_read_results(self._context.model)

    @property
    def defers_to_commit(self) -> bool:
        """The task's class (its own, ``base=`` or the app's ``task_cls``, up the class
        chain) overrides ``delay``/``apply_async`` to send on the transaction's commit."""
        from .project.transactions import defers_to_commit

        return defers_to_commit(self._context.model, self._task)

    @property
    def hooks(self) -> list[TaskHookView]:
        """The hook methods (``before_start``, ``on_success``, ``on_failure``, ``on_retry``,
        ``after_return``, ``__call__``) that the task's project classes define: code the
        worker runs around every execution of the task, redeliveries included."""
        from .project.hooks import task_hooks

        return [
            TaskHookView(hook, self._context)
            for hook in task_hooks(self._context.model).values()
            if self._task in hook.tasks
        ]

    @property
    def call_signature(self) -> CallSignature | None:
        """The parameters a call of the task binds to, as Python binds them (without the
        task instance of a bound task); None when something between the call and the
        function may change them (another decorator, a wrapper, a task class that
        overrides ``__call__``/``apply_async``/``run``, an unknown base class)."""
        from .project.task_calls import call_signature

        return call_signature(self._context.model, self._task)

    @property
    def sends_arguments_as_given(self) -> bool:
        """Calls put their arguments into the message as given: every class of the task's
        chain is known and none overrides ``apply_async``/``delay``."""
        from .project.task_calls import sends_arguments_as_given

        return sends_arguments_as_given(self._context.model, self._task)

    @property
    def model_task(self) -> Task:
        """The project model's record of the task, for celery_lint's own helpers (their
        fixes edit the decorator); rule packs should not need it."""
        return self._task

    def option(self, name: str) -> Resolved:
        """The effective value of a task option (``acks_late``, ``queue``, ``time_limit``...),
        resolved in Celery's order: annotations, decorator, base classes, the app's task
        class, the app configuration, Celery's default."""
        return self._context.model.task_option(self._task, name)

    def autoretry_option(self, name: str) -> Resolved:
        """An option as Celery's autoretry wrapper reads it (``autoretry_for``,
        ``retry_backoff``, ``retry_jitter``, ``retry_kwargs``...): the decorator's value
        first (it beats ``task_annotations`` there), else the effective option."""
        from .project.retries import autoretry_option

        return autoretry_option(self._context.model, self._task, name)

    def retry_limit(self, call: cst.Call | None = None) -> int | None:
        """The ``max_retries`` in force for a ``self.retry(...)`` call, or for the autoretry
        wrapper when ``call`` is None; None when unbounded or not known."""
        from .project.retries import retry_limit

        return retry_limit(self._context.model, self._task, call)

    @property
    def retries_bounded_by_calls(self) -> bool:
        """The task has no ``autoretry_for`` and every ``retry(...)`` in its body and hook
        methods passes an integer ``max_retries``: its own ``max_retries`` (even ``None``)
        bounds nothing."""
        from .project.retries import retries_bounded_by_calls

        return retries_bounded_by_calls(self._context.model, self._task)

    def apps(self) -> list[AppView]:
        """The apps the task is registered with (every production app for ``shared_task``)."""
        return [AppView(app, self._context) for app in self._context.model.task_apps(self._task)]

    def setting(self, name: str) -> Resolved:
        """The effective value of a Celery setting for the task's apps: Known only when
        they all agree."""
        model = self._context.model
        return model.project_setting(name, model.task_apps(self._task))

    def option_from_configuration(self, name: str) -> bool:
        """The task's effective ``name`` option is the app setting behind it (``time_limit``
        from ``task_time_limit``), not a value set on the task or its base classes."""
        from .project.options import FROM_CONFIG

        setting = FROM_CONFIG.get(name)
        value = self.option(name)
        if setting is None or not isinstance(value, Known) or value.origin.default:
            return False
        configured = self.setting(setting)
        return isinstance(configured, Known) and configured.origin == value.origin

    def option_site(self, value: Resolved) -> cst.CSTNode:
        """Where the task itself sets ``value`` (an option's value): the keyword of its
        decorator, or the attribute of a class-based task; else the task's node."""
        from .project.limits import option_node

        return option_node(self._task, value)


@dataclass(frozen=True, eq=False)
class TaskHookView:
    """A hook method of a project task class (``on_failure``, ``__call__``...): Celery
    runs it around every execution of each task whose class chain holds the class."""

    _hook: Hook
    _context: FileContext

    @property
    def method(self) -> str:
        """The method's name (``on_failure``)."""
        return self._hook.method

    @property
    def class_name(self) -> str:
        return self._hook.class_name

    @property
    def node(self) -> cst.FunctionDef:
        return self._hook.node

    @property
    def tasks(self) -> list[TaskView]:
        """The project tasks the hook runs for."""
        return [TaskView(task, self._context) for task in self._hook.tasks]

    @property
    def label(self) -> str:
        """How messages name it: ``the `on_failure` hook of task class `Base` (task
        'proj.tasks.a' and 2 more)``."""
        labels = sorted(task.label for task in self.tasks)
        more = f" and {len(labels) - 1} more" if len(labels) > 1 else ""
        return f"the `{self.method}` hook of task class `{self.class_name}` (task '{labels[0]}'{more})"


@dataclass(frozen=True, eq=False)
class HelperView:
    """A project function that task code calls directly (see :meth:`ProjectView.called_helper`)."""

    _helper: Helper
    _context: FileContext

    @property
    def label(self) -> str:
        """How messages name it: ``bump()``, ``Counter.bump()`` for a method."""
        return self._helper.label

    @property
    def path(self) -> str:
        """Its file, relative to the project root."""
        return self._helper.summary.file.relpath

    @property
    def node(self) -> cst.FunctionDef:
        return self._helper.node

    def remembered(self, key: object, compute: Callable[[], _T]) -> _T:
        """``compute()`` once per project for this function and ``key`` (what a rule finds
        in it does not depend on which task calls it)."""
        memo: dict[Any, Any] = self._context.model.memo("helper-findings", dict)
        entry = (id(self._helper.node), key)
        if entry not in memo:
            memo[entry] = (self._helper.node, compute())
        return memo[entry][1]  # type: ignore[no-any-return]

    def checking_context(self) -> FileContext:
        """A context for checking the function's body as code of the task being visited:
        its own file and module, the function as the enclosing one, the task as current."""
        from .context import FileContext

        summary = self._helper.summary
        outer = self._context
        context = FileContext(summary.file, summary, outer.model, outer.options, outer.extension_settings)
        context.function_stack = [self._helper.node]
        context.current_task = outer.current_task
        return context


class ProjectView:
    """What a rule may ask about the project while it checks one file."""

    def __init__(self, context: FileContext) -> None:
        self._context = context

    @property
    def path(self) -> str:
        """The file being checked, relative to the project root."""
        return self._context.file.relpath

    @property
    def module(self) -> str:
        file = self._context.file
        return file.import_name or file.module

    @property
    def is_test_code(self) -> bool:
        return self._context.file.is_test

    def tasks(self) -> list[TaskView]:
        """The tasks defined in the file being checked."""
        return [TaskView(t, self._context) for t in self._context.model.tasks_in(self._context.file)]

    def all_tasks(self) -> list[TaskView]:
        """Every task of the project."""
        return [TaskView(t, self._context) for t in self._context.model.tasks]

    def current_task(self) -> TaskView | None:
        """During the visit: the task whose body encloses the node being visited."""
        task = self._context.current_task
        return TaskView(task, self._context) if task is not None else None

    def called_helper(self, call: cst.Call, reach: Reach | None = None) -> HelperView | None:
        """The project function a call in the function being visited runs, when the analyzer
        knows it for certain: a module-level function (imported or not), or a method of a
        project class the receiver is known to be (``self.m()`` in a method, ``Counter().m()``).
        None for a local name, an installed function, test code, a task or task hook (checked
        as task code already), an ``async`` function or one another decorator may replace.
        ``reach``: what a rule looks for, as text; a function whose module cannot lead to it
        (it is neither there nor ``reach.depth`` imports away) is not followed, nor parsed."""
        from .project.helpers_called import called_helper

        context = self._context
        helper = called_helper(context.model, context.summary, context.function_stack, call, reach)
        return HelperView(helper, context) if helper is not None else None

    def line_of(self, node: cst.CSTNode) -> int:
        """The line a node of the file being checked starts on (1-based)."""
        from .project.helpers_called import line_of

        stack = self._context.function_stack
        return line_of(self._context.model, self._context.summary, node, stack[0] if stack else None)

    def current_hook(self) -> TaskHookView | None:
        """During the visit: the task hook method (``on_failure``, ``__call__``...) whose
        body encloses the node being visited; rules about task bodies check it as task
        code (Celery runs it on every execution)."""
        hook = self._context.current_hook
        return TaskHookView(hook, self._context) if hook is not None else None

    def setting(self, name: str) -> Resolved:
        """The effective value of a Celery setting (new lowercase name) for the project's
        apps: Known only when every production app agrees."""
        return self._context.model.project_setting(name)

    def apps(self) -> list[AppView]:
        """Every Celery app of the project, test apps included (see ``AppView.is_test``)."""
        return [AppView(app, self._context) for app in self._context.model.apps]

    def default_apps(self) -> list[AppView]:
        """The apps a ``shared_task`` is registered with: the production apps, or every app
        when the project has only test apps."""
        return [AppView(app, self._context) for app in self._context.model.default_apps()]

    def app_for_expression(self, expression: cst.BaseExpression) -> AppView | None:
        """The app an expression of the file being checked names (``app``, ``celery.app``)."""
        app = self._context.model.app_of_expr(self._context.summary, expression)
        return AppView(app, self._context) if app is not None else None

    def apps_configured_by(self, write: ConfigWrite) -> list[AppView]:
        """The apps a configuration write configures (the default apps when the analyzer
        cannot tie it to one)."""
        from .project.configuration import index_for

        model = self._context.model
        owners = index_for(model).owners.get(id(write.node)) or model.default_apps()
        return [AppView(app, self._context) for app in owners]

    def exception_names(self, value: Known) -> Iterator[str | None]:
        """The qualified names (``builtins.Exception``) of the exception classes a
        configured value lists, such as ``autoretry_for``: tuple or list elements, ``A + B``
        and module-level constants followed across modules, read where it was written."""
        from .project.retries import exception_names

        return exception_names(self._context.model, value)

    def is_atomic_wrapper(self, expression: cst.BaseExpression) -> bool:
        """The expression names a project ``@contextmanager`` that yields inside Django's
        ``transaction.atomic()`` (its ``with`` block runs in the transaction)."""
        from .project.transactions import is_atomic_wrapper

        return is_atomic_wrapper(self._context.model, self._context.summary, expression)

    def handler_catches(
        self, handler: cst.ExceptHandler | cst.ExceptStarHandler, names: frozenset[str]
    ) -> bool:
        """Whether an ``except`` clause of the file being checked catches one of the
        exception classes ``names`` (qualified: ``builtins.Exception``,
        ``celery.exceptions.Retry``); a bare ``except:`` catches everything."""
        from .project.retries import catches_any

        return catches_any(self._context.model, self._context.summary, handler, names)

    def handler_names(
        self, handler: cst.ExceptHandler | cst.ExceptStarHandler, names: frozenset[str]
    ) -> bool:
        """Whether an ``except`` clause of the file being checked names one of the exception
        classes ``names`` explicitly (a bare ``except:`` names none)."""
        from .project.retries import names_any

        return names_any(self._context.model, self._context.summary, handler, names)

    def beat_entries(self) -> list[BeatEntry]:
        """The periodic tasks the file being checked defines: ``beat_schedule`` entries in
        every configuration form (later additions to a schedule dict too) and
        ``add_periodic_task`` calls."""
        from .project.beat import entries_in

        return entries_in(self._context.model, self._context.summary)

    @property
    def other_beat_scheduler_possible(self) -> bool:
        """Beat may run another scheduler than Celery's (django-celery-beat, redbeat...),
        whose entries accept other fields."""
        from .project.beat import other_scheduler_possible

        return other_scheduler_possible(self._context.model)

    @property
    def beat_timezone_fallback(self) -> str | None:
        """The zone beat reads crontabs in when no app sets ``timezone`` (nor Django's
        ``TIME_ZONE``): 'UTC' or 'the host's local time'; None when a zone may be set."""
        from .project.beat import timezone_unset

        return timezone_unset(self._context.model)

    def fully_known(self, expression: cst.BaseExpression) -> Resolved:
        """The static value of an expression of the file being checked when no part of it
        is computed (a list with a computed element is Unknown, unlike :meth:`value_of`)."""
        from .project.beat import literal

        return literal(self._context.model, self._context.summary, expression)

    def names_crontab(self, expression: cst.BaseExpression) -> bool:
        """The expression names Celery's ``crontab`` (through aliases and re-exports)."""
        from .project.beat import is_crontab_callee

        return is_crontab_callee(self._context.model, self._context.summary, expression)

    def scheduled_task(self, entry: BeatEntry) -> Scheduled | None:
        """What a beat entry of the file runs: the task name as written and the project
        tasks it may be; None when the entry names no task the analyzer can read."""
        from .project.beat import scheduled_task

        return scheduled_task(self._context.model, entry)

    def scheduled_tasks(self, entry: BeatEntry) -> list[TaskView]:
        """The project tasks a beat entry of the file may run (several when the name is
        ambiguous; none when it names no project task or cannot be read)."""
        scheduled = self.scheduled_task(entry)
        return [TaskView(t, self._context) for t in scheduled.tasks] if scheduled is not None else []

    def routes(self) -> list[Route]:
        """The ``task_routes`` entries written in the file being checked."""
        from .project.routing import routes_in

        return routes_in(self._context.model, self._context.summary)

    def declared_queues(self) -> Resolved:
        """The queue names the project declares (``task_queues``): a set, None when it
        declares none."""
        from .project.routing import declared_queues

        return declared_queues(self._context.model)

    def route_queue(self, expression: cst.BaseExpression) -> tuple[str, cst.CSTNode] | None:
        """The queue a route or options value of the file sends to (``'q'``,
        ``{'queue': 'q'}``, ``dict(queue='q')``), with the node naming it."""
        from .project.routing import route_queue

        return route_queue(self._context.model, self._context.summary, expression)

    def task_queue_sites(self) -> list[tuple[cst.CSTNode, str, str]]:
        """Where the file sets a task's effective ``queue`` option: (node, queue, where)."""
        from .project.routing import task_queue_sites

        path = str(self._context.file.path)
        return [
            (node, queue, where)
            for (site, node), queue, where in task_queue_sites(self._context.model)
            if site == path
        ]

    def launcher_queues(self) -> set[str]:
        """Queues workers are started for (``-Q``/``--queues``) in the project's launch files
        (Procfile, compose files, shell scripts...)."""
        from .project.launchers import launcher_arguments

        return launcher_arguments(self._context.model, ("-Q", "--queues"))

    @property
    def has_tasks(self) -> bool:
        """The project defines at least one task."""
        return bool(self._context.model.tasks)

    @property
    def all_task_names_known(self) -> bool:
        """Celery's name of every project task is known (else "no such task" cannot be told)."""
        from .project.tasknames import unnamed_tasks

        return not unnamed_tasks(self._context.model)

    @property
    def task_list_complete(self) -> bool:
        """Every task the project's workers may register is known by name: the project has
        tasks, each task's name is known (:attr:`all_task_names_known`), and no code
        registers tasks at run time (``app.register_task``, ``app.tasks.register``)."""
        from .project.task_calls import task_list_complete

        return task_list_complete(self._context.model)

    def project_module_prefix(self, name: str) -> str | None:
        """The longest dotted prefix of ``name`` that is a module or package of the
        project's own (non-test) code, e.g. ``proj.tasks`` for ``proj.tasks.add``."""
        from .project.task_calls import project_module_prefix

        return project_module_prefix(self._context.model, name)

    def task_names(self) -> list[str]:
        """Celery's names of the project's tasks (tasks whose name is unknown left out)."""
        from .project.tasknames import named_tasks

        return list(named_tasks(self._context.model))

    def tasks_named(self, name: str) -> list[TaskView]:
        """Project tasks Celery may know as ``name`` (matched across the module names a
        file is imported under)."""
        from .project.tasknames import find_tasks

        return [TaskView(t, self._context) for t in find_tasks(self._context.model, name)]

    def tasks_matching(self, pattern: str) -> list[TaskView]:
        """Project tasks a ``task_routes`` glob (``'proj.tasks.*'``) may match."""
        from .project.tasknames import glob_matches

        return [TaskView(t, self._context) for t in glob_matches(self._context.model, pattern)]

    def outside_project(self, name: str) -> bool:
        """A dotted name whose first component is no module or task namespace of the project."""
        from .project.tasknames import outside_project

        return outside_project(self._context.model, name)

    @property
    def tasks_unreached(self) -> bool:
        """The file's tasks are never registered by a worker: no ``include``,
        ``autodiscover_tasks``, import chain or dotted name in the project reaches the
        module. False whenever the analyzer cannot be sure."""
        from .project.registration import unreached_task_files

        unreached = unreached_task_files(self._context.model)
        return unreached is not None and str(self._context.file.path) in unreached

    @property
    def file_is_analysed(self) -> bool:
        """The project model reads the file being checked: it mentions Celery, or a name
        of the project that leads to it (an app, a task wrapper, a task base class)."""
        return self._context.model.needs_analysis(self._context.file)

    def task_for_node(self, node: cst.CSTNode) -> TaskView | None:
        """The task defined by a ``def`` or ``class`` node, if it is one."""
        task = self._context.model.task_for_node(node)
        return TaskView(task, self._context) if task is not None else None

    def is_task_class(self, node: cst.ClassDef) -> bool:
        """A class of the file being checked that derives from a Celery task class."""
        return self._context.model.is_task_class(self._context.summary, node)

    def unread_task_options(self) -> dict[int, UnreadOption]:
        """Options given to a task in the file being checked that neither the installed
        Celery nor the project reads (``ignore_results=True``, ``interval_start=1``), by
        ``id`` of the node that gives each: the value of a task decorator keyword, or the
        assignment of a task class attribute that misspells a real option."""
        from .project.unread_options import unread_options

        return unread_options(self._context.model, self._context.file)

    def task_decorator_kind(self, expression: cst.BaseExpression) -> str | None:
        """What ``expression`` (the callee of a decorator or call) makes tasks with:
        ``"base"`` (``shared_task``, ``app.task``), ``"wrapper"`` (a project function that
        calls one), ``"applied"`` (a module-level ``shared_task(...)`` result), ``"opaque"``
        (a task maker whose options cannot be followed); None when it makes no task."""
        factory = self.task_factory(expression)
        return factory.kind if factory is not None else None

    def task_factory(self, expression: cst.BaseExpression) -> TaskFactory | None:
        """The task maker ``expression`` names in the file being checked (see
        :meth:`task_decorator_kind`), with the wrapper function and the inner call of a
        project wrapper; None when it makes no task."""
        return self._context.model.task_factory(self._context.summary, expression)

    def configuration(self) -> ConfigIndex:
        """The project's configuration, indexed: every write with the apps it configures,
        namespaces, Django settings, what is read elsewhere (built once per project)."""
        from .project.configuration import index_for

        return index_for(self._context.model)

    def write_value(self, write: ConfigWrite) -> Resolved:
        """The value a configuration write (see :meth:`config_writes`) gives its setting,
        evaluated where it is written."""
        return write.resolved(self._context.model)

    def mixed_setting_styles(self) -> list[tuple[ConfigWrite, StyleFinding]]:
        """The configuration writes of the file that make Celery refuse the configuration
        because old and new setting names are mixed, each with the finding's details."""
        from .project.setting_styles import mixed_style_findings

        return mixed_style_findings(self._context.model, str(self._context.file.path))

    def url_texts(self, write: ConfigWrite) -> list[UrlText]:
        """The texts a URL-valued configuration write may give (``broker_url``...): the
        literal, or each fallback of an environment lookup, joined pieces included."""
        from .project.broker_urls import url_texts

        if write.value is None:
            return []
        return url_texts(self._context.model, write.summary, write.value)

    def value_of(self, expression: cst.BaseExpression) -> Resolved:
        """The static value of an expression of the file being checked (literals, names
        bound to literals, ``timedelta``...): Known, or Unknown when it is computed."""
        from .project.evaluate import NotEvaluable, evaluate

        try:
            value = evaluate(self._context.model, self._context.summary, expression)
        except NotEvaluable:
            return Unknown("the expression is computed")
        return Known(value, Origin("the expression", self.path, expression))

    def task_imported_in(self, function: cst.FunctionDef, name: str) -> TaskView | None:
        """The project task a name local to ``function`` (of the file being checked) stands
        for when the function binds it only by importing the task
        (``from .tasks import add`` inside the function)."""
        from .project.scopes import scope_of
        from .project.task_calls import locally_imported_task

        bindings = scope_of(function).assigned(name)
        if not bindings:
            return None
        model = self._context.model
        task = locally_imported_task(model, self._context.summary, function, name, len(bindings))
        return TaskView(task, self._context) if task is not None else None

    def task_for_expression(self, expression: cst.BaseExpression) -> TaskView | None:
        """The project task an expression of the file being checked names (``add``,
        ``tasks.add``), when the analyzer can tell."""
        from .project.options import task_for_expression

        task = task_for_expression(self._context.model, self._context.summary, expression)
        return TaskView(task, self._context) if task is not None else None

    def node_in_file(self, value: Resolved) -> cst.CSTNode | None:
        """The node that gave ``value`` when it lies in the file being checked: a finding
        about a configured value is reported once, where the setting is written."""
        if not isinstance(value, Known):
            return None
        origin = value.origin
        if origin.node is None or origin.path != self._context.file.relpath:
            return None
        return origin.node if isinstance(origin.node, cst.CSTNode) else None

    def config_writes(self) -> list[ConfigWrite]:
        """Every place in the file being checked that gives a Celery setting a value, in
        any configuration form (``Celery(...)``, ``conf`` writes, config modules, Django
        settings)."""
        from .project.settings import config_writes_in

        return config_writes_in(self._context.model, self._context.file)

    def qualified_name(self, expression: cst.BaseExpression) -> str | None:
        """``celery.shared_task`` for ``st`` after ``from celery import shared_task as st``."""
        return self._context.model.qualname_of(self._context.summary, expression)
