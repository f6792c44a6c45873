"""The fifth layer of the project model: which functions and classes are Celery tasks,
through ``shared_task``, ``app.task``, project wrappers, aliases and task base classes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .apps import function_locals, mentions
from .entities import (
    App,
    AttrOf,
    ClassSym,
    External,
    FunctionSym,
    OptionExpr,
    Symbol,
    Task,
    TaskDecorator,
    ValueSym,
)
from .files import SourceFile
from .kwargs_flow import KwargsFlow, kwargs_flow
from .scan import Binding, ModuleSummary, dotted_name
from .settings import SettingsModel
from .symbols import CELERY_TASK_CLASSES
from .values import Resolved, Unknown
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

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


@dataclass
class TaskFactory:
    """Something that makes a task decorator: shared_task, app.task or a project wrapper."""

    kind: str  # "base", "applied", "wrapper", "opaque"
    apps: list[App] | None = None
    applied: TaskDecorator | None = None
    wrapper: FunctionSym | None = None
    inner_call: cst.Call | None = None
    inner_summary: ModuleSummary | None = None
    reason: str = ""
    bound: bool = False
    """The wrapper is a method of the app's class, called through the app (``self`` is bound)."""
    inner_wrapper: TaskFactory | None = None
    """The wrapper's inner call is another wrapper (``job`` calling ``task``)."""


class _InnerFactoryFinder(Walker):
    """The first call in a function body that makes a task (a wrapper's inner decorator)."""

    def __init__(self, model: TaskRegistry, summary: ModuleSummary, depth: int) -> None:
        self.model = model
        self.summary = summary
        self.depth = depth
        self.found: tuple[cst.Call, TaskFactory] | None = None

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


def _importable_by_name(file: SourceFile) -> bool:
    """Whether an ``import`` statement can name the module: its file name (a package's
    folder name) is an identifier. ``.semgrep/celery/rule-example.py`` or
    ``docs/run-worker.py`` is an example, a fixture or a script, run or loaded by path if
    at all, not a module whose tasks a worker registers. (A folder in between may have any
    name: a worker run from inside it imports the module by its own name.)"""
    own = file.path.parent.name if file.is_package else file.path.stem
    return own.isidentifier()


class TaskRegistry(SettingsModel):
    """Every task of the project, and what each decorator expression means."""

    def __init__(
        self,
        root: Path,
        exclude: Iterable[str] = (),
        use_prefilter: bool = True,
        discovered: Iterable[Path] | None = None,
    ) -> None:
        super().__init__(root, exclude, use_prefilter, discovered)
        self.tasks: list[Task] = []
        self._tasks_by_node: dict[int, Task] = {}
        self._tasks_by_module: dict[str, list[Task]] = {}
        self._factory_cache: dict[int, TaskFactory | None] = {}
        self.factory_names: set[str] = set()
        self.outside_task_decorators: list[tuple[ModuleSummary, cst.Decorator, str]] = []
        """``@app.task`` where ``app`` comes from outside the project (a package that is not
        in the repository, a relative import above the top package), with that name: each
        may declare a Celery task the analyzer cannot see, and ``celery-lint tasks`` says so."""

    def _collect_tasks(self, summaries: list[ModuleSummary]) -> None:
        self.tasks = []
        self._tasks_by_node = {}
        self._tasks_by_module = {}
        self.outside_task_decorators = []
        for summary in summaries:
            if not _importable_by_name(summary.file):
                continue
            for func in summary.decorated:
                for decorator in func.decorators:
                    spec = self.task_decorator(summary, decorator.decorator)
                    if spec is not None:
                        spec.node = decorator
                        self._add_task(Task(summary, func, func, spec))
                        break
                else:
                    if not summary.file.is_test:
                        self._note_outside_task_decorators(summary, func)
            for _name, bindings in summary.bindings.items():
                for binding in bindings:
                    task = self._call_form_task(summary, binding)
                    if task is not None:
                        self._add_task(task)
            for klass in summary.all_classes:
                if _defines_method(klass, "run") and self._class_task_bases(summary, klass):
                    run = _method(klass, "run")
                    self._add_task(Task(summary, klass, run, None))

    def _note_outside_task_decorators(self, summary: ModuleSummary, func: cst.FunctionDef) -> None:
        for decorator in func.decorators:
            expr = decorator.decorator
            func_expr = expr.func if isinstance(expr, cst.Call) else expr
            if not (isinstance(func_expr, cst.Attribute) and func_expr.attr.value == "task"):
                continue
            symbol = self.symbol_of(summary, func_expr.value)
            if isinstance(symbol, External) and symbol.qualname.split(".")[0] != "celery":
                self.outside_task_decorators.append((summary, decorator, symbol.qualname))

    def _add_task(self, task: Task) -> None:
        if id(task.node) in self._tasks_by_node:
            return
        self.tasks.append(task)
        self._tasks_by_node[id(task.node)] = task
        self._tasks_by_module.setdefault(str(task.summary.file.path), []).append(task)

    def _call_form_task(self, summary: ModuleSummary, binding: Binding) -> Task | None:
        """``add = app.task(_add)``, ``add = app.task(_add, acks_late=True)`` (options after
        the function, as Celery's ``task(*args, **opts)`` takes them) or
        ``add = shared_task(bind=True)(_add)``."""
        value = binding.value
        if not isinstance(value, cst.Call) or not value.args:
            return None
        first, rest = value.args[0], value.args[1:]
        if first.keyword is not None or first.star or any(a.keyword is None and a.star != "**" for a in rest):
            return None
        target = first.value
        if not isinstance(target, cst.Name) or target.value not in summary.functions:
            return None
        spec: TaskDecorator | None
        if rest:
            factory = self._factory(summary, value.func)
            if factory is None or factory.kind != "base":
                return None
            spec = self._apply_factory(factory, summary, value)
        else:
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

    def is_task_class(self, summary: ModuleSummary, klass: cst.ClassDef) -> bool:
        """Whether ``klass`` derives from a Celery task class (through project classes too)."""
        return self._class_task_bases(summary, klass)

    def _class_task_bases(
        self, summary: ModuleSummary, klass: cst.ClassDef, depth: int = 0, seen: set[int] | None = None
    ) -> bool:
        seen = set() if seen is None else seen  # each class once: diamonds cost no more
        if depth > 20 or id(klass) in seen:
            return False
        seen.add(id(klass))
        for arg in klass.bases:
            # A parametrised base (``Task[P, R]``) derives from the class it parametrises.
            base = arg.value.value if isinstance(arg.value, cst.Subscript) else arg.value
            qualname = self.qualname_of(summary, base)
            if qualname is None or not self._may_define_task_class(qualname):
                continue
            symbol = self.resolve(qualname)
            if self._is_task_class_symbol(symbol):
                return True
            if isinstance(symbol, ClassSym) and self._class_task_bases(
                symbol.summary, symbol.node, depth + 1, seen
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
    def task_factory(self, summary: ModuleSummary, expr: cst.BaseExpression) -> TaskFactory | None:
        """What makes tasks when ``expr`` is called or used as a decorator; None: no task."""
        return self._factory(summary, expr)

    def _factory(
        self, summary: ModuleSummary, expr: cst.BaseExpression, depth: int = 0
    ) -> TaskFactory | None:
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

    def _factory_of_symbol(self, symbol: Symbol | None, depth: int = 0) -> TaskFactory | None:
        if symbol is None or depth > 10:
            return None
        if isinstance(symbol, External):
            if symbol.qualname in SHARED_TASK:
                return TaskFactory("base", apps=None)
            return None
        if isinstance(symbol, AttrOf):
            if isinstance(symbol.base, App) and symbol.attrs == ("task",):
                return TaskFactory("base", apps=[symbol.base])
            if isinstance(symbol.base, App) and len(symbol.attrs) == 1:
                return self._app_method_factory(symbol.base, symbol.attrs[0])
            return None
        if isinstance(symbol, ValueSym):
            value = symbol.expr
            if isinstance(value, cst.Call):
                inner = self._factory(symbol.summary, value.func, depth + 1)
                if inner is not None and inner.kind in ("base", "wrapper"):
                    # ``retry_task = shared_task(max_retries=5)``, or a project wrapper
                    # applied once (``periodic = limited_task(queue="low")``).
                    if inner.kind == "base":
                        decorator = self._apply_factory(inner, symbol.summary, value)
                    else:
                        decorator = self._apply_wrapper(inner, symbol.summary, value)
                    decorator.via = f"the decorator {symbol.name} ({symbol.summary.file.relpath})"
                    return TaskFactory("applied", applied=decorator)
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
                    stored = self._stored_options_factory(symbol, depth)
                    if stored is not None:
                        return stored
                    return TaskFactory(
                        "opaque",
                        reason=f"class decorator {symbol.node.name.value} passes options the analyzer cannot follow",
                    )
        return None

    def _app_method_factory(self, app: App, name: str) -> TaskFactory | None:
        """``app.scheduled(...)`` where ``scheduled`` is a method of the app's Celery subclass
        that calls ``self.task(...)``: a wrapper whose ``self`` is the app."""
        method = self._app_class_method(app, name)
        if method is None:
            return None
        summary, function = method
        call = _self_task_call(function)
        if call is None:
            return None
        self.factory_names.add(name)
        return TaskFactory(
            "wrapper",
            apps=[app],
            wrapper=FunctionSym(summary, function),
            inner_call=call,
            inner_summary=summary,
            bound=True,
        )

    def _app_class_method(self, app: App, name: str) -> tuple[ModuleSummary, cst.FunctionDef] | None:
        """The method ``name`` of the app's own class, found up its project base classes."""
        if app.call is None:
            return None
        symbol = self.symbol_of(app.summary, app.call.func)
        for _depth in range(20):
            if not isinstance(symbol, ClassSym):
                return None
            method = _method(symbol.node, name)
            if method is not None:
                return symbol.summary, method
            bases = [self.symbol_of(symbol.summary, b.value) for b in symbol.node.bases if b.keyword is None]
            symbol = next((b for b in bases if isinstance(b, ClassSym)), None)
        return None

    def app_class_factory_methods(self, klass: ClassSym) -> list[str]:
        """Methods of a Celery subclass that make tasks through ``self.task(...)``."""
        return [
            stmt.name.value
            for stmt in klass.node.body.body
            if isinstance(stmt, cst.FunctionDef) and _self_task_call(stmt) is not None
        ]

    def _find_inner_factory_call(
        self, summary: ModuleSummary, func: cst.FunctionDef, depth: int
    ) -> tuple[cst.Call, TaskFactory] | None:
        finder = _InnerFactoryFinder(self, summary, depth)
        finder.walk(func.body)
        return finder.found

    def _stored_options_factory(self, klass: ClassSym, depth: int) -> TaskFactory | None:
        """A class decorator whose ``__init__(self, *args, **kwargs)`` only stores its
        arguments (``self.task_kwargs = kwargs``) and whose ``__call__`` hands them to the
        task decorator unchanged (``shared_task(*self.task_args, **self.task_kwargs)``):
        a wrapper taking ``__init__``'s parameters."""
        init = _method(klass.node, "__init__")
        call = _method(klass.node, "__call__")
        if init is None or call is None or not init.params.params:
            return None
        stored = _stored_parameters(init)
        inner = self._find_inner_factory_call(klass.summary, call, depth)
        if stored is None or inner is None or inner[1].kind != "base":
            return None
        self_name = call.params.params[0].name.value if call.params.params else None
        args: list[cst.Arg] = []
        for arg in inner[0].args:
            value = arg.value
            attribute = dotted_name(value) if isinstance(value, cst.Attribute) else None
            if attribute is not None and attribute.startswith(f"{self_name}."):
                parameter = stored.get(attribute.partition(".")[2])
                if parameter is None or _assigned_elsewhere(klass.node, init, attribute.partition(".")[2]):
                    return None
                arg = arg.with_changes(value=cst.Name(parameter))
            elif self_name is not None and mentions(value, frozenset({self_name})):
                return None
            args.append(arg)
        # The wrapper as if written as a function: ``def klass(*args, **kwargs): return shared_task(...)``.
        inner_call = inner[0].with_changes(args=args)
        function = init.with_changes(
            name=cst.Name(klass.node.name.value),
            body=cst.IndentedBlock([cst.SimpleStatementLine([cst.Return(inner_call)])]),
        )
        return TaskFactory(
            "wrapper",
            apps=inner[1].apps,
            wrapper=FunctionSym(klass.summary, function),
            inner_call=inner_call,
            inner_summary=klass.summary,
            bound=True,
        )

    def _wrapper_factory(self, symbol: FunctionSym, depth: int) -> TaskFactory | None:
        inner = self._find_inner_factory_call(symbol.summary, symbol.node, depth)
        if inner is None:
            return None
        call, factory = inner
        if factory.kind not in ("base", "wrapper"):
            # A wrapper around an applied or opaque decorator: a task for sure, its options not followed.
            return TaskFactory(
                "opaque", apps=factory.apps, reason=f"wrapper {symbol.node.name.value} nests other wrappers"
            )
        return TaskFactory(
            "wrapper",
            apps=factory.apps,
            wrapper=symbol,
            inner_call=call,
            inner_summary=symbol.summary,
            inner_wrapper=factory if factory.kind == "wrapper" else None,
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

    def _apply_factory(self, factory: TaskFactory, summary: ModuleSummary, call: cst.Call) -> TaskDecorator:
        options: dict[str, OptionExpr | Resolved] = {}
        opaque = None
        for arg in call.args:
            if arg.star == "**":
                entries = self.splat_entries(summary, arg.value)
                if isinstance(entries, str):
                    opaque = entries
                else:
                    options.update(entries)
            elif arg.star:
                opaque = f"options are passed with {arg.star}... in {summary.file.relpath}"
            elif arg.keyword is not None:
                options[arg.keyword.value] = OptionExpr(summary, arg.value)
        return TaskDecorator(factory.apps, options, opaque=opaque)

    def splat_entries(self, summary: ModuleSummary, expr: cst.BaseExpression) -> dict[str, OptionExpr] | str:
        """Key by key, what a ``**expr`` splat passes, each value as written where it was
        written (a literal dict, ``dict(...)``, a name bound once to one, nested splats and
        imported names too); a reason naming the splat when some key cannot be known."""
        entries = self._splat_entries(summary, expr, 0)
        if entries is None:
            return f"options are passed with **{_code(expr)} in {summary.file.relpath}"
        return entries

    def _splat_entries(
        self, summary: ModuleSummary, expr: cst.BaseExpression, depth: int
    ) -> dict[str, OptionExpr] | None:
        if depth > 10:
            return None
        if isinstance(expr, cst.Dict):
            entries: dict[str, OptionExpr] = {}
            for element in expr.elements:
                if isinstance(element, cst.StarredDictElement):
                    nested = self._splat_entries(summary, element.value, depth + 1)
                    if nested is None:
                        return None
                    entries.update(nested)
                    continue
                key = element.key if isinstance(element, cst.DictElement) else None
                if not isinstance(key, cst.SimpleString) or not isinstance(key.evaluated_value, str):
                    return None
                entries[key.evaluated_value] = OptionExpr(summary, element.value)
            return entries
        if isinstance(expr, cst.Call) and self.qualname_of(summary, expr.func) == "dict":
            entries = {}
            for arg in expr.args:
                if arg.keyword is not None and not arg.star:
                    entries[arg.keyword.value] = OptionExpr(summary, arg.value)
                    continue
                if arg.star == "*":
                    return None
                nested = self._splat_entries(summary, arg.value, depth + 1)
                if nested is None:
                    return None
                entries.update(nested)
            return entries
        if isinstance(expr, (cst.Name, cst.Attribute)):
            symbol = self.symbol_of(summary, expr)
            if isinstance(symbol, ValueSym) and symbol.expr is not None:
                return self._splat_entries(symbol.summary, symbol.expr, depth + 1)
        return None

    def _apply_wrapper(
        self, factory: TaskFactory, site: ModuleSummary, call: cst.Call | None
    ) -> TaskDecorator:
        """The decorator a call of a project wrapper makes (``@task(queue="low")``)."""
        assert factory.wrapper is not None
        name = factory.wrapper.node.name.value
        via = f"the wrapper {name} ({factory.wrapper.summary.file.relpath})"
        arguments: list[tuple[str | None, OptionExpr | Resolved]] = []
        for arg in call.args if call is not None else ():
            if arg.star == "**":
                entries = self.splat_entries(site, arg.value)
                if isinstance(entries, str):
                    return TaskDecorator(factory.apps, {}, opaque=entries, via=via)
                arguments.extend(entries.items())
            elif arg.star:
                return TaskDecorator(
                    factory.apps, {}, opaque=f"options are passed to {name} with {arg.star}...", via=via
                )
            else:
                arguments.append((arg.keyword.value if arg.keyword else None, OptionExpr(site, arg.value)))
        return self._wrapped(factory, arguments, via, 0)

    def _wrapped(
        self,
        factory: TaskFactory,
        arguments: list[tuple[str | None, OptionExpr | Resolved]],
        via: str,
        depth: int,
    ) -> TaskDecorator:
        """What reaches the task when ``factory``'s wrapper is called with ``arguments``
        (keyword or positional, each as written at its call site), following the wrapper's
        inner call into the wrapper it nests, if any."""
        wrapper = factory.wrapper
        inner_call = factory.inner_call
        inner_summary = factory.inner_summary
        assert wrapper is not None and inner_call is not None and inner_summary is not None
        name = wrapper.node.name.value
        params = wrapper.node.params
        named = [p for p in (*params.posonly_params, *params.params)]
        if factory.bound:
            named = named[1:]
        defaults = {p.name.value: p.default for p in (*named, *params.kwonly_params)}
        star_kwargs = params.star_kwarg.name.value if params.star_kwarg is not None else None
        bound: dict[str, OptionExpr | Resolved] = {}
        extra: dict[str, OptionExpr | Resolved] = {}
        for index, (keyword, value) in enumerate(arguments):
            if keyword is None:
                if index < len(named):
                    bound[named[index].name.value] = value
            elif keyword in defaults:
                bound[keyword] = value
            else:
                extra[keyword] = value

        def argument(value: cst.BaseExpression, key: str) -> OptionExpr | Resolved:
            """An argument of the inner call: a parameter's value, or as written in the wrapper."""
            if isinstance(value, cst.Name) and value.value in defaults:
                if value.value in bound:
                    return bound[value.value]
                default = defaults[value.value]
                if default is None:
                    return Unknown(f"{name} requires {value.value}")
                return OptionExpr(wrapper.summary, default)
            if (
                isinstance(value, cst.Name)
                and not inner_summary.defines(value.value)
                and value.value not in inner_summary.imports
                and value.value not in ("True", "False", "None")
            ):
                return Unknown(f"{key} is computed inside {name}")
            return OptionExpr(inner_summary, value)

        options: dict[str, OptionExpr | Resolved] = {}
        positional: list[tuple[str | None, OptionExpr | Resolved]] = []
        opaque: str | None = None
        for arg in inner_call.args:
            if arg.star == "**":
                if isinstance(arg.value, cst.Name) and arg.value.value == star_kwargs:
                    flow = kwargs_flow(wrapper.node, star_kwargs, inner_call)
                    if flow.opaque is not None:
                        opaque = f"{name} changes its options: {flow.opaque}"
                    else:
                        options.update(_changed_options(extra, flow, wrapper))
                else:
                    entries = self.splat_entries(inner_summary, arg.value)
                    if isinstance(entries, str):
                        opaque = f"{name} passes computed options"
                    else:
                        options.update(entries)
                continue
            if arg.star:
                continue
            if arg.keyword is None:
                if not options:
                    positional.append((None, argument(arg.value, f"argument {len(positional) + 1}")))
                continue
            options[arg.keyword.value] = argument(arg.value, arg.keyword.value)
        inner = factory.inner_wrapper
        if inner is None or opaque is not None:
            return TaskDecorator(factory.apps, options, opaque=opaque, via=via)
        if depth > 5:
            return TaskDecorator(
                factory.apps, {}, opaque=f"wrapper {name} nests wrappers too deeply", via=via
            )
        # ``job(name, **opts)`` calling ``task(name=name, bind=True, **opts)``: the options
        # reach the inner wrapper as if written at its call.
        return self._wrapped(inner, [*positional, *options.items()], via, depth + 1)


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


def _changed_options(
    given: dict[str, OptionExpr | Resolved], flow: KwargsFlow, wrapper: FunctionSym
) -> dict[str, OptionExpr | Resolved]:
    """The caller's options after the wrapper's pops, defaults and assignments."""
    options: dict[str, OptionExpr | Resolved] = dict(given)
    for change in flow.changes:
        if change.conditional:
            if change.kind != "pop" or change.key in options:
                options[change.key] = Unknown(f"{change.key} may be changed inside {wrapper.node.name.value}")
        elif change.kind == "pop":
            options.pop(change.key, None)
        elif change.kind == "copy" and change.source is not None:
            # ``opts["default_queue"] = opts.pop("queue")``: the caller's value, moved.
            moved = options.get(change.source)
            options[change.key] = (
                moved
                if moved is not None
                else Unknown(f"{change.key} is read from {change.source}, which the caller does not pass")
            )
        elif change.kind == "setdefault" and change.key in options:
            continue
        elif change.value is not None:
            options[change.key] = _wrapper_value(wrapper, change.value, change.key)
    return options


def _wrapper_value(wrapper: FunctionSym, value: cst.BaseExpression, key: str) -> OptionExpr | Resolved:
    """A value the wrapper writes: literal or module-level, else unknown (it reads a local)."""
    if mentions(value, _all_locals(wrapper.node)):
        return Unknown(f"{key} is computed inside {wrapper.node.name.value}")
    return OptionExpr(wrapper.summary, value)


def _all_locals(function: cst.FunctionDef) -> frozenset[str]:
    """Names local to ``function`` or to a function nested in it (``def wrap(fn)``)."""
    names = set(function_locals(function))

    def nested(node: cst.CSTNode) -> None:
        for child in node.children:
            if isinstance(child, (cst.FunctionDef, cst.Lambda)):
                if isinstance(child, cst.FunctionDef):
                    names.update(function_locals(child))
                else:
                    names.update(p.name.value for p in child.params.params)
            nested(child)

    nested(function.body)
    return frozenset(names)


def _self_task_call(function: cst.FunctionDef) -> cst.Call | None:
    """The first ``self.task(...)`` call in a method (also inside a nested decorator)."""
    params = function.params.params
    if not params:
        return None
    receiver = params[0].name.value
    found: list[cst.Call] = []

    def search(node: cst.CSTNode) -> None:
        for child in node.children:
            if found:
                return
            if isinstance(child, cst.Call) and dotted_name(child.func) == f"{receiver}.task":
                found.append(child)
                return
            search(child)

    search(function.body)
    return found[0] if found else None


def _code(expr: cst.BaseExpression) -> str:
    return cst.Module([]).code_for_node(expr)


def _method(klass: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    for stmt in klass.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return stmt
    return None


def _stored_parameters(init: cst.FunctionDef) -> dict[str, str] | None:
    """``self.attr = param`` statements that make up all of ``__init__`` (a docstring
    aside): attribute -> parameter; None for any other statement."""
    receiver = init.params.params[0].name.value
    params = init.params
    names = {p.name.value for p in (*params.params[1:], *params.kwonly_params)}
    names.update(p.name.value for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param))
    stored: dict[str, str] = {}
    for stmt in init.body.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            return None
        for small in stmt.body:
            if isinstance(small, cst.Expr) and isinstance(
                small.value, (cst.SimpleString, cst.ConcatenatedString)
            ):
                continue
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
                return None
            target = dotted_name(small.targets[0].target)
            if target is None or not target.startswith(f"{receiver}.") or target.count(".") != 1:
                return None
            if not isinstance(small.value, cst.Name) or small.value.value not in names:
                return None
            stored[target.partition(".")[2]] = small.value.value
    return stored


def _assigned_elsewhere(klass: cst.ClassDef, init: cst.FunctionDef, attribute: str) -> bool:
    """Another method of ``klass`` writes or changes ``self.<attribute>``."""
    for stmt in klass.body.body:
        if stmt is init or not isinstance(stmt, cst.FunctionDef):
            continue
        code = cst.Module([]).code_for_node(stmt)
        if f".{attribute} =" in code or f".{attribute}[" in code or f".{attribute}." in code:
            return True
    return False


def _defines_method(klass: cst.ClassDef, name: str) -> bool:
    return _method(klass, name) is not None
