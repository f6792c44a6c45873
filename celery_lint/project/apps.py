"""The third layer of the project model: Celery apps, and the configuration each one is
given in code (``Celery(...)`` arguments, ``conf`` writes, ``config_from_object`` calls)."""

from __future__ import annotations

from collections.abc import Iterable
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
    ValueSym,
    assigned_names,
    class_statements,
)
from .evaluate import NotEvaluable, evaluate
from .scan import Binding, ConfOp, ModuleSummary
from .symbols import SymbolResolver

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

CELERY_CLASS = frozenset({"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"})

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

    def _register_apps(self, summary: ModuleSummary) -> None:
        for name, bindings in summary.bindings.items():
            for binding in bindings:
                if isinstance(binding.value, cst.Call) and self._is_celery_ctor(summary, binding.value):
                    self._app_for(summary, name, binding)
                    self.patterns.update(name.encode() + suffix for suffix in _APP_USES)

    # ------------------------------------------------------------------ apps
    def _is_celery_ctor(self, summary: ModuleSummary, call: cst.Call) -> bool:
        symbol = self.symbol_of(summary, call.func)
        if isinstance(symbol, External):
            return symbol.qualname in CELERY_CLASS
        if isinstance(symbol, ClassSym):
            return self._class_derives(symbol, CELERY_CLASS)
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
            for stmt in class_statements(symbol.node):
                for name, value in assigned_names(stmt):
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


def runtime_note(summary: ModuleSummary, text: str, needle: str, fallback: str = "") -> str:
    """``conf.update(json.load(handle)) in ingest/worker.py:12``: ``text`` where the first
    ``needle`` of the file is (else the only ``fallback``), for messages."""
    data = summary.file.read() or b""
    index = data.find(needle.encode()) if needle else -1
    if index < 0 and fallback and data.count(fallback.encode()) == 1:
        index = data.find(fallback.encode())
    if index < 0:
        return f"{text} in {summary.file.relpath}"
    line = data.count(b"\n", 0, index) + 1
    return f"{text} in {summary.file.relpath}:{line}"


def code_of(expr: cst.CSTNode, limit: int = 60) -> str:
    code = " ".join(cst.Module([]).code_for_node(expr).split())
    return code if len(code) <= limit else code[: limit - 3] + "..."
