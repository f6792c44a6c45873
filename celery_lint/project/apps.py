"""The third layer of the project model: Celery apps, and the configuration each one is
given in code (``Celery(...)`` arguments, ``conf`` writes, ``config_from_object`` calls)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..settings_catalogue import SettingsCatalogue, load_catalogue
from .entities import (
    App,
    AttrOf,
    ClassSym,
    ConfigWrite,
    External,
    FunctionSym,
    Symbol,
    ValueSym,
    assigned_names,
    class_statements,
)
from .evaluate import NotEvaluable, evaluate
from .scan import Binding, ConfOp, ModuleSummary, dotted_name
from .symbols import CELERY_CLASS, SymbolResolver
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst


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


# Methods of an app that change nothing the model reads, or that the model reads itself.
_HARMLESS_APP_METHODS = frozenset(
    {"set_default", "autodiscover_tasks", "config_from_object", "task", "on_after_configure"}
)


@dataclass(eq=False)
class _Factory:
    """A project function that builds an app in a local: ``L = Celery(...)`` ... ``return L``."""

    summary: ModuleSummary
    function: cst.FunctionDef
    local: str
    assign: cst.Assign
    call: cst.Call
    returned: bool
    registered: bool
    """``L.set_default()`` or ``x.extensions[...] = L``: the app is made current or stored."""
    ops: list[ConfOp]
    locals: frozenset[str]
    task_attr: cst.BaseExpression | None
    escapes: str | None
    """Why the function may configure the app in ways the model cannot see, if it may."""


def _descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Every node under ``node`` (itself excluded), not entering nested functions or classes."""
    for child in node.children:
        yield child
        if not isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            yield from _descendants(child)


def function_locals(function: cst.FunctionDef) -> frozenset[str]:
    names: set[str] = set()
    params = function.params
    for param in [*params.posonly_params, *params.params, *params.kwonly_params]:
        names.add(param.name.value)
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names.add(star.name.value)
    for node in _descendants(function.body):
        bound: cst.CSTNode | None = None
        if isinstance(node, (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.CompFor)):
            bound = node.target
        elif isinstance(node, (cst.AsName, cst.FunctionDef, cst.ClassDef)):
            bound = node.name
        if bound is not None:
            for sub in [bound, *_descendants(bound)]:
                if isinstance(sub, cst.Name):
                    names.add(sub.value)
        if isinstance(node, cst.ImportAlias) and node.asname is None:
            dotted: cst.BaseExpression = node.name
            while isinstance(dotted, cst.Attribute):
                dotted = dotted.value
            if isinstance(dotted, cst.Name):
                names.add(dotted.value)
    return frozenset(names)


def computed_config_from_object(op: ConfOp) -> ConfOp:
    """``op``, a ``config_from_object`` call, with its object replaced by a stand-in for a
    computed value: the configuration source it gives is unknown."""
    computed = cst.Call(func=cst.Name("x"), args=[cst.Arg(cst.Call(func=cst.Name("computed")))])
    return ConfOp(op.kind, op.receiver, op.node, call=computed, in_function=True)


def mentions(expr: cst.CSTNode, names: frozenset[str]) -> bool:
    """Whether ``expr`` reads any of ``names`` (an attribute's own name does not count)."""
    if isinstance(expr, cst.Name):
        return expr.value in names
    if isinstance(expr, cst.Attribute):
        return mentions(expr.value, names)
    return any(mentions(child, names) for child in expr.children)


def _is_name(expr: cst.BaseExpression, name: str) -> bool:
    return isinstance(expr, cst.Name) and expr.value == name


class AppRegistry(SymbolResolver):
    """Every ``Celery(...)`` app in the project and its configuration operations."""

    def __init__(
        self,
        root: Path,
        exclude: Iterable[str] = (),
        use_prefilter: bool = True,
        discovered: Iterable[Path] | None = None,
    ) -> None:
        super().__init__(root, exclude, use_prefilter, discovered)
        self.catalogue: SettingsCatalogue = load_catalogue()
        self.apps: list[App] = []
        self._app_factories: dict[int, _Factory | None] = {}
        # Configuration operations a factory makes on its local: they belong to its app only.
        self._factory_ops: set[int] = set()
        self._holders: dict[int, dict[str, _Factory]] = {}
        self._holding: set[int] = set()

    def _register_apps(self, summary: ModuleSummary) -> None:
        for name, bindings in summary.bindings.items():
            for binding in bindings:
                if not isinstance(binding.value, cst.Call):
                    continue
                if self._is_celery_ctor(summary, binding.value):
                    self._app_for(summary, name, binding)
                    self.patterns.update(name.encode() + suffix for suffix in _APP_USES)
                    continue
                factory = self._factory_called(summary, binding.value)
                if factory is not None and factory.returned:
                    self._apps_by_node[id(binding.node)] = self._factory_app(factory, name)
                    self.patterns.update(name.encode() + suffix for suffix in _APP_USES)
            if len(bindings) != 1:
                continue
            value = bindings[0].value
            if isinstance(value, cst.Call):
                holder = ValueSym(summary, value, name)
                for attr, factory in self._holder_of(holder).items():
                    self._factory_app(factory, f"{name}.{attr}")
                    self.patterns.update(f"{name}.{attr}".encode() + suffix for suffix in _APP_USES)
            elif isinstance(value, cst.Attribute) and isinstance(self._lookup(summary, name, 0), App):
                # ``celery = ext.celery``: other modules use the app under this name.
                self.patterns.update(name.encode() + suffix for suffix in _APP_USES)
        for function in summary.functions.values():
            factory = self._app_factory(summary, function)
            if factory is not None and factory.registered:
                self._factory_app(factory, factory.local)
            if factory is not None:
                # Modules that call the factory hold the app.
                self.patterns.add(function.name.value.encode() + b"(")
        for class_name, klass in summary.classes.items():
            if self._app_holder(ClassSym(summary, klass)):
                self.patterns.add(class_name.encode() + b"(")

    # ------------------------------------------------------------------ app factories
    def _factory_called(self, summary: ModuleSummary, call: cst.Call) -> _Factory | None:
        symbol = self.symbol_of(summary, call.func)
        if isinstance(symbol, FunctionSym):
            return self._app_factory(symbol.summary, symbol.node)
        return None

    def _app_factory(self, summary: ModuleSummary, function: cst.FunctionDef) -> _Factory | None:
        key = id(function)
        if key not in self._app_factories:
            self._app_factories[key] = self._read_factory(summary, function)
        return self._app_factories[key]

    def _read_factory(self, summary: ModuleSummary, function: cst.FunctionDef) -> _Factory | None:
        if not isinstance(function.body, cst.IndentedBlock):
            return None
        found = self._celery_assignments(summary, function, lambda t: isinstance(t, cst.Name))
        if len(found) != 1:
            return None
        local, assign, call = found[0]
        last = function.body.body[-1]
        return self._read_scope(summary, [function], local, assign, call, last)

    def _celery_assignments(
        self,
        summary: ModuleSummary,
        function: cst.FunctionDef,
        target_ok: Callable[[cst.BaseExpression], bool],
    ) -> list[tuple[str, cst.Assign, cst.Call]]:
        """``X = Celery(...)`` statements at the top level of ``function``'s body."""
        found: list[tuple[str, cst.Assign, cst.Call]] = []
        if not isinstance(function.body, cst.IndentedBlock):
            return found
        for stmt in function.body.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and len(small.targets) == 1
                    and target_ok(small.targets[0].target)
                    and isinstance(small.value, cst.Call)
                    and self._is_celery_ctor(summary, small.value)
                ):
                    name = dotted_name(small.targets[0].target)
                    if name is not None:
                        found.append((name, small, small.value))
        return found

    def _read_scope(
        self,
        summary: ModuleSummary,
        functions: list[cst.FunctionDef],
        local: str,
        assign: cst.Assign,
        call: cst.Call,
        last: cst.BaseStatement | None,
    ) -> _Factory | None:
        """What ``functions`` do with the app bound to ``local`` (a name, or ``self.x``)."""
        returned = registered = False
        escapes: str | None = None
        task_attr: cst.BaseExpression | None = None
        bound = 0
        nodes = [node for function in functions for node in _descendants(function.body)]
        for node in nodes:
            if isinstance(node, (cst.AnnAssign, cst.AugAssign)) and dotted_name(node.target) == local:
                bound += 1
            elif isinstance(node, cst.Assign):
                for target in node.targets:
                    t = target.target
                    if dotted_name(t) == local and not (
                        local.startswith("self.") and _is_name(node.value, "None")
                    ):
                        bound += 1
                    elif (
                        isinstance(t, cst.Attribute)
                        and dotted_name(t.value) == local
                        and t.attr.value == "Task"
                    ):
                        task_attr = node.value
                    elif (
                        isinstance(t, cst.Subscript)
                        and isinstance(t.value, cst.Attribute)
                        and t.value.attr.value == "extensions"
                        and dotted_name(node.value) == local
                    ):
                        registered = True
            elif isinstance(node, cst.Return) and node.value is not None and dotted_name(node.value) == local:
                returned = returned or (isinstance(last, cst.SimpleStatementLine) and node in last.body)
            elif isinstance(node, cst.Call):
                func = node.func
                if isinstance(func, cst.Attribute) and dotted_name(func.value) == local:
                    if func.attr.value == "set_default":
                        registered = True
                    elif func.attr.value not in _HARMLESS_APP_METHODS and escapes is None:
                        escapes = f"{local}.{func.attr.value}() in {summary.file.relpath}"
                elif (
                    isinstance(func, cst.Attribute)
                    and isinstance(func.value, cst.Attribute)
                    and dotted_name(func.value.value) == local
                    and func.value.attr.value == "conf"
                    and func.attr.value not in ("update", "setdefault", "get")
                    and escapes is None
                ):
                    escapes = f"{local}.conf.{func.attr.value}() in {summary.file.relpath}"
                elif any(dotted_name(arg.value) == local for arg in node.args) and escapes is None:
                    escapes = f"{local} is passed to a call in {summary.file.relpath}"
        if bound != 1:
            return None
        inside = {id(node) for node in nodes}
        ops = [op for op in summary.conf_ops if id(op.node) in inside and dotted_name(op.receiver) == local]
        self._factory_ops.update(id(op.node) for op in ops)
        names: frozenset[str] = frozenset().union(*(function_locals(f) for f in functions))
        return _Factory(
            summary, functions[0], local, assign, call, returned, registered, ops, names, task_attr, escapes
        )

    # ------------------------------------------------------------------ app holders
    def _app_holder(self, symbol: ClassSym) -> dict[str, _Factory]:
        """``self.x = Celery(...)`` in a method of a project class: attribute -> the app."""
        key = id(symbol.node)
        if key not in self._holders:
            self._holders[key] = {}
            methods = [stmt for stmt in symbol.node.body.body if isinstance(stmt, cst.FunctionDef)]
            found = [
                item
                for method in methods
                for item in self._celery_assignments(
                    symbol.summary,
                    method,
                    lambda t: isinstance(t, cst.Attribute) and _is_name(t.value, "self"),
                )
            ]
            for local, assign, call in found:
                if sum(1 for other in found if other[0] == local) != 1:
                    continue
                factory = self._read_scope(symbol.summary, methods, local, assign, call, None)
                if factory is not None:
                    self._holders[key][local.removeprefix("self.")] = factory
        return self._holders[key]

    def _holder_of(self, symbol: ValueSym) -> dict[str, _Factory]:
        if not isinstance(symbol.expr, cst.Call) or id(symbol.expr) in self._holding:
            return {}
        # ``x = x.make()``: resolving the callee may come back here.
        self._holding.add(id(symbol.expr))
        try:
            klass = self.symbol_of(symbol.summary, symbol.expr.func)
        finally:
            self._holding.discard(id(symbol.expr))
        if isinstance(klass, ClassSym) and not self._class_derives(klass, CELERY_CLASS):
            return self._app_holder(klass)
        return {}

    def _held_app(self, symbol: Symbol, attr: str) -> App | None:
        if isinstance(symbol, ValueSym):
            factory = self._holder_of(symbol).get(attr)
            if factory is not None:
                return self._factory_app(factory, f"{symbol.name}.{attr}")
        return None

    def _factory_app(self, factory: _Factory, name: str) -> App:
        existing = self._apps_by_node.get(id(factory.assign))
        if existing is not None:
            return existing
        summary = factory.summary
        binding = Binding(factory.call, factory.assign, conditional=False)
        app = self._app_for(summary, name, binding)
        for op in factory.ops:
            if (
                op.kind == "config_from_object"
                and op.call is not None
                and any(mentions(arg.value, factory.locals) for arg in op.call.args)
            ):
                # The object is computed from the function's parameters or locals (the app
                # local the call is made on does not count).
                op = computed_config_from_object(op)
            before = len(app.preconf)
            self._apply_conf_op(app, summary, op)
            if op.conditional:
                for write in app.preconf[before:]:
                    write.conditional = True
        if factory.escapes is not None:
            app.preconf_opaque.append(factory.escapes)
        for write in app.preconf:
            if write.value is not None and mentions(write.value, factory.locals):
                write.value = None
        if factory.task_attr is not None:
            app.task_cls = (summary, factory.task_attr)
        if app.task_cls is not None and mentions(app.task_cls[1], factory.locals):
            app.task_cls = None
            app.task_cls_unknown = True
        if any(
            arg.keyword is not None
            and arg.keyword.value == "namespace"
            and mentions(arg.value, factory.locals)
            for arg in factory.call.args
        ):
            app.namespace = None
            app.preconf_opaque.append("namespace is computed")
        return app

    # ------------------------------------------------------------------ apps
    def _is_celery_ctor(self, summary: ModuleSummary, call: cst.Call) -> bool:
        return self._is_celery_class(self.symbol_of(summary, call.func)) or bool(
            self._app_class_alternatives(summary, call)
        )

    def _is_celery_class(self, symbol: object) -> bool:
        if isinstance(symbol, External):
            return symbol.qualname in CELERY_CLASS
        if isinstance(symbol, ClassSym):
            return self._class_derives(symbol, CELERY_CLASS)
        return False

    def _app_class_alternatives(self, summary: ModuleSummary, call: cst.Call) -> list[object]:
        """``Celery = celery.Celery`` and, in an ``if``, ``Celery = SentryCelery``, then
        ``app = Celery(...)`` (onadata): each module-level binding of the called name is an
        app class, so the call makes an app whichever runs. Empty otherwise."""
        if not isinstance(call.func, cst.Name):
            return []
        bindings = summary.bindings.get(call.func.value, [])
        values = [binding.value for binding in bindings]
        if len(bindings) < 2 or any(value is None for value in values):
            return []
        alternatives: list[object] = [self.symbol_of(summary, value) for value in values if value is not None]
        return alternatives if all(self._is_celery_class(symbol) for symbol in alternatives) else []

    def _app_for(self, summary: ModuleSummary, name: str, binding: Binding) -> App:
        existing = self._apps_by_node.get(id(binding.node))
        if existing is not None:
            return existing
        call = binding.value if isinstance(binding.value, cst.Call) else None
        app = App(name=name, summary=summary, node=binding.node, call=call)
        self._apps_by_node[id(binding.node)] = app
        self.apps.append(app)
        if call is not None:
            self._subclass_task_cls(app, self.symbol_of(summary, call.func))
            for alternative in self._app_class_alternatives(summary, call):
                self._subclass_task_cls(app, alternative)
            # Celery starts its pre-configuration from ``changes`` and then sets the other
            # keyword arguments that are not None (``Celery.__autoset``), whatever their order.
            ordered = sorted(call.args, key=lambda a: not (a.keyword and a.keyword.value == "changes"))
            for arg in ordered:
                if arg.star == "**":
                    app.preconf_opaque.append(f"Celery(**...) in {summary.file.relpath}")
                    continue
                if arg.keyword is None:
                    continue
                key = arg.keyword.value
                if _is_name(arg.value, "None") and key not in ("namespace", "task_cls", "changes"):
                    continue
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

    def _subclass_task_cls(self, app: App, symbol: object) -> None:
        """``class MyCelery(Celery): task_cls = "proj.base:SafeTask"`` sets every task's base
        (``symbol``: the app's class)."""
        depth = 0
        while isinstance(symbol, ClassSym) and depth < 20:
            depth += 1
            for stmt in class_statements(symbol.node):
                for name, value in assigned_names(stmt):
                    if name == "task_cls":
                        if value is None:
                            app.task_cls_unknown = True
                        else:
                            app.task_cls = (symbol.summary, value)
                        return
            if any(
                isinstance(m, cst.FunctionDef) and (m.name.value == "task_cls" or _sets_own_task_class(m))
                for m in symbol.node.body.body
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
        if id(op.node) in self._factory_ops:
            return
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
                        self._opaque_update(app, summary, arg.value, arg.star)
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

    def _opaque_update(
        self, app: App, summary: ModuleSummary, expr: cst.BaseExpression, star: object = ""
    ) -> None:
        symbol = self.symbol_of(summary, expr)
        if isinstance(symbol, ValueSym) and isinstance(symbol.expr, cst.Dict):
            self._add_mapping_writes(app, symbol.summary, symbol.expr, "conf.update")
            return
        if not self._runtime_mapping(summary, expr, symbol):
            app.preconf_opaque.append(f"conf.update(...) in {summary.file.relpath} is computed")
            return
        # A runtime mapping (``conf.update(flask_app.config)``, ``json.load(...)``): settings no
        # file of the repository sets stay unset, and messages name it.
        code = code_of(expr)
        text = f"conf.update({star if isinstance(star, str) else ''}{code})"
        app.runtime_sources.append(runtime_note(summary, text, code.removesuffix("..."), "conf.update("))

    def _runtime_mapping(self, summary: ModuleSummary, expr: cst.BaseExpression, symbol: object) -> bool:
        """``flask_app.config``, ``app.config["CELERY"]``, ``json.load(handle)``, ``dict(...)``:
        configuration only the running process has. Not a bare name (a value of the project
        the analyzer cannot follow), nor a project function's result, nor a project module,
        class or app."""
        if isinstance(expr, cst.Call):
            func = self.symbol_of(summary, expr.func)
            return not isinstance(func, (FunctionSym, ClassSym, App, AttrOf))
        if not isinstance(expr, (cst.Attribute, cst.Subscript)):
            return False
        while isinstance(symbol, AttrOf):
            symbol = symbol.base
        return symbol is None or isinstance(symbol, External)


class _OwnTaskClassWrite(Walker):
    """An assignment to ``<first parameter>.Task`` or ``.task_cls`` in a method."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.found = False

    def visit_Assign(self, node: cst.Assign) -> bool:
        for target in node.targets:
            written = target.target
            if (
                isinstance(written, cst.Attribute)
                and written.attr.value in ("Task", "task_cls")
                and isinstance(written.value, cst.Name)
                and written.value.value == self.owner
            ):
                self.found = True
        return not self.found


def _sets_own_task_class(method: cst.FunctionDef) -> bool:
    """``self.Task = IndicoTask`` in a method of a Celery subclass (its ``__init__``, or one
    it calls): the app's tasks derive from a class the analyzer does not follow."""
    params = method.params.params
    if not params:
        return False
    finder = _OwnTaskClassWrite(params[0].name.value)
    finder.walk(method.body)
    return finder.found


def runtime_note(summary: ModuleSummary, text: str, needle: str, fallback: str = "") -> str:
    """``conf.update(json.load(handle)) in ingest/worker.py:12``: ``text`` where it first
    is in the file's source, else where the first ``needle`` is (else the only
    ``fallback``), for messages. (``flask_app.config`` may be read lines before the
    ``conf.update(flask_app.config)`` that makes it a runtime source.)"""
    data = summary.file.read() or b""
    index = -1
    for wanted in (text.removesuffix("..."), needle):
        if wanted and index < 0:
            index = data.find(wanted.encode())
    if index < 0 and fallback and data.count(fallback.encode()) == 1:
        index = data.find(fallback.encode())
    if index < 0:
        return f"{text} in {summary.file.relpath}"
    line = data.count(b"\n", 0, index) + 1
    return f"{text} in {summary.file.relpath}:{line}"


def code_of(expr: cst.CSTNode, limit: int = 60) -> str:
    code = " ".join(cst.Module([]).code_for_node(expr).split())
    return code if len(code) <= limit else code[: limit - 3] + "..."
