"""The fourth layer of the project model: configuration sources (config modules, Django
settings, namespaces, star-import chains) and every app's effective settings."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .apps import AppRegistry, code_of, runtime_note
from .config_content import assigns_celery_settings
from .entities import (
    App,
    ClassSym,
    ConfigSource,
    ConfigWrite,
    External,
    ModuleSym,
    Symbol,
    ValueSym,
    assigned_names,
    class_statements,
)
from .evaluate import NotEvaluable, evaluate
from .files import SourceFile
from .scan import ConfOp, ModuleSummary, dotted_name
from .setting_search import code_tokens, data_file_tokens, spelling_pattern, spells_words_as_ascii
from .settings_calls import settings_call_effect
from .values import CELERY_DEFAULT, Known, Origin, Resolved, Unknown, agree

DEPLOYMENT = Origin("deployment", kind="deployment")
DEFAULT_CONFIG_MODULE = "celeryconfig"
"""The module Celery's default app (a worker started without ``-A``) reads its settings from."""
"""Where a value of ``deployment-settings`` in ``[tool.celery-lint]`` comes from."""

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst


class SettingsModel(AppRegistry):
    """Where each app's settings come from, and their effective values."""

    def __init__(
        self,
        root: Path,
        exclude: Iterable[str] = (),
        use_prefilter: bool = True,
        discovered: Iterable[Path] | None = None,
    ) -> None:
        super().__init__(root, exclude, use_prefilter, discovered)
        self.config_modules: dict[str, list[tuple[App | None, ConfigSource]]] = {}
        self.deployment: dict[str, Any] = {}
        """``deployment-settings`` of ``[tool.celery-lint]``: configuration of every app."""

    def is_config_module(self, file: SourceFile) -> bool:
        """A module some app reads settings from, or a settings module naming Celery settings."""
        if str(file.path) in self.config_modules:
            return True
        if _looks_like_settings(file) and b"CELERY" in (file.read() or b""):
            return True
        return self.assigns_settings(file)

    def assigns_settings(self, file: SourceFile) -> bool:
        """A module recognised as configuration by its assignments of Celery setting names
        (``worker_conf.py``, ``deploy/overlay.py``), whatever its name."""
        return self.memo(
            ("assigns_settings", str(file.path)),
            lambda: assigns_celery_settings(self.catalogue, file.read() or b""),
        )

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
            if module is None and self.absent_from_repository(module_name):
                # ``config_from_object("celeryconfig")`` of a module the deployment provides.
                text = code_of(call)
                note = runtime_note(summary, f"{text} (not in the repository)", text.removesuffix("..."))
                return ConfigSource(target, {}, namespace=namespace, runtime=[note])
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
        # Inside an app factory ``op.call`` holds a stand-in for an object computed from the
        # function's parameters; the call as written says what the object is.
        written = op.node if isinstance(op.node, cst.Call) else call
        original = _object_argument(written)
        if original is not None and self._runtime_config_object(summary, original):
            # ``config_from_object(app.config["CELERY"])``: configuration only the running
            # process has, like ``conf.update(flask_app.config)``: settings no file of the
            # repository names stay unset, and messages name this source.
            text = code_of(written)
            note = runtime_note(summary, text, text.removesuffix("..."), "config_from_object(")
            return ConfigSource("config_from_object", {}, namespace=namespace, runtime=[note])
        if isinstance(obj, cst.Dict):
            # ``config_from_object({"task_acks_late": True})``: a dict literal is a mapping.
            return self._source_from_symbol(ValueSym(summary, obj, "literal"), namespace, "dict")
        if isinstance(obj, cst.Call) and not obj.args:
            # ``config_from_object(Config())``: an instance reads its class's attributes,
            # unless the class writes attributes of its own when it is made.
            klass = self.symbol_of(summary, obj.func)
            if isinstance(klass, ClassSym) and not self._class_defines(klass, ("__init__", "__getattr__")):
                return self._source_from_symbol(klass, namespace, f"{code_of(obj)}")
        return self._source_from_symbol(symbol, namespace, dotted_name(obj) or "object")

    def _class_defines(
        self, symbol: ClassSym, names: tuple[str, ...], depth: int = 0, seen: set[int] | None = None
    ) -> bool:
        """Whether the class or one of its project bases defines a method of ``names``; a
        base the project cannot show counts as one. (``seen``: each class once.)"""
        seen = set() if seen is None else seen
        if id(symbol.node) in seen:
            return False
        seen.add(id(symbol.node))
        for item in symbol.node.body.body:
            if isinstance(item, cst.FunctionDef) and item.name.value in names:
                return True
        for base in symbol.node.bases:
            if base.keyword is not None or self._plain_base(symbol.summary, base.value):
                continue
            found = self.symbol_of(symbol.summary, base.value)
            if (
                not isinstance(found, ClassSym)
                or depth > 20
                or self._class_defines(found, names, depth + 1, seen)
            ):
                return True
        return False

    def _runtime_config_object(self, summary: ModuleSummary, obj: cst.BaseExpression) -> bool:
        """A mapping only the running process holds, given to ``config_from_object``. Not a
        name read from the environment: that names a module, maybe one of the repository's."""
        base = (
            obj.func if isinstance(obj, cst.Call) else obj.value if isinstance(obj, cst.Subscript) else None
        )
        if base is not None:
            source = self.symbol_of(summary, base)
            if isinstance(source, External) and source.qualname in _ENVIRONMENT_READERS:
                return False
        return self._runtime_mapping(summary, obj, self.symbol_of(summary, obj))

    def _source_from_symbol(
        self, symbol: Symbol | None, namespace: str | None, description: str
    ) -> ConfigSource:
        if isinstance(symbol, ModuleSym):
            return self._module_source([symbol.summary], namespace, description, django=False)
        if isinstance(symbol, ClassSym):
            writes, opaque = self._class_settings(symbol, namespace, 0)
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

    def _class_settings(
        self, symbol: ClassSym, namespace: str | None, depth: int
    ) -> tuple[dict[str, list[ConfigWrite]], str | None]:
        """The class attributes of a configuration class, its project base classes' too
        (the class's own first, then its bases left to right, as Python looks them up).
        Once per class: a hierarchy of diamonds costs its number of classes, not 2**levels."""
        writes, opaque = self.resolved_memo(
            ("class-settings", id(symbol.node), namespace),
            symbol.node,
            lambda: self._class_settings_once(symbol, namespace, depth),
        )
        return dict(writes), opaque

    def _class_settings_once(
        self, symbol: ClassSym, namespace: str | None, depth: int
    ) -> tuple[dict[str, list[ConfigWrite]], str | None]:
        writes: dict[str, list[ConfigWrite]] = {}
        opaque = None
        for base in reversed(symbol.node.bases):
            if base.keyword is not None or self._plain_base(symbol.summary, base.value):
                continue
            found = self.symbol_of(symbol.summary, base.value)
            if isinstance(found, ClassSym) and depth < 20:
                inherited, inner_opaque = self._class_settings(found, namespace, depth + 1)
                writes.update(inherited)
                opaque = opaque or inner_opaque
            else:
                opaque = opaque or f"class {symbol.node.name.value} inherits settings"
        for stmt in class_statements(symbol.node):
            for name, value in assigned_names(stmt):
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
        return writes, opaque

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

    def absent_from_repository(self, module: str) -> bool:
        """No file of the repository is module ``module``: neither one the model indexes nor
        one on disk under the root or a source root (an excluded or unreadable file is there)."""
        if self.find_module(module) is not None or not module or module.startswith("."):
            return False
        relative = Path(*module.split("."))
        for base in (self.root, *self._source_roots()):
            if (base / relative).with_suffix(".py").exists() or (base / relative / "__init__.py").exists():
                return False
        suffix = "/" + relative.as_posix()
        return not any(
            f.relpath.replace("\\", "/").removesuffix(".py").removesuffix("/__init__").endswith(suffix)
            or f.module == module
            for f in self.files.values()
        )

    def _settings_env_note(self, name: str) -> str:
        """Where the project names the absent settings module, for messages."""
        text = f"DJANGO_SETTINGS_MODULE {name} (not in the repository)"
        for summary in self.parsed_summaries():
            if any(value == name for value, _ in summary.settings_module_env):
                return runtime_note(summary, text, name)
        return text

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
            if module is None and len(names) == 1 and self.absent_from_repository(name):
                # ``DJANGO_SETTINGS_MODULE=settings.prod`` that the deployment provides:
                # configuration the repository cannot show, like a runtime mapping.
                note = self._settings_env_note(name)
                return ConfigSource(name, {}, namespace=namespace, django=True, runtime=[note])
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
        overlays: list[str] = []
        for module in modules:
            flat, module_opaque = self.flatten_module(module, overlays=overlays)
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
            description,
            writes,
            alternatives=len(modules),
            opaque=opaque,
            namespace=namespace,
            django=django,
            runtime=overlays,
        )

    def flatten_module(
        self, module: ModuleSummary, seen: set[str] | None = None, overlays: list[str] | None = None
    ) -> tuple[dict[str, list[ConfigWrite]], str | None]:
        """Module-level settings in effect at the end of ``module``, star imports, split-settings
        ``include()`` and exported settings classes followed (``settings_calls``).

        Each key maps to one write, or to several when conditional assignments disagree.
        With ``overlays``, an optional star import of a module absent from the repository
        (``try: from .local_settings import *`` / ``except ImportError``) is noted there
        instead of making the module opaque.
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
                        if overlays is not None and id(node) in module.optional_stars:
                            code = code_of(node)
                            overlays.append(runtime_note(module, code, code))
                        else:
                            opaque = opaque or f"star import of {star} cannot be followed"
                    continue
                inner, inner_opaque = self.flatten_module(target, seen, overlays)
                opaque = opaque or inner_opaque
                _merge(result, inner, conditional)
                continue
            if isinstance(node, cst.Call):
                effect = settings_call_effect(
                    self, module, node, lambda inner: self.flatten_module(inner, seen, overlays)
                )
                if effect is None:
                    continue
                opaque = opaque or effect.opaque
                if effect.overlays and overlays is not None:
                    overlays.extend(effect.overlays)
                elif effect.overlays:
                    opaque = (
                        opaque or f"{effect.overlays[0]} names an optional file absent from the repository"
                    )
                for unit in effect.units:
                    if conditional:
                        # A call in a branch may not run: a name it alone sets may be unset.
                        for key in unit.keys() - result.keys():
                            result[key] = [ConfigWrite(key, None, None, module, node, "conditional")]
                    _merge(result, unit, conditional)
                continue
            for name, value in assigned_names(node):
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
        found = self._repository_setting(app, name)
        if name not in self.deployment:
            return found
        stated = Known(self.deployment[name], DEPLOYMENT)
        if isinstance(found, Known) and not found.origin.default and found.value != stated.value:
            return Unknown(
                f"{name} is {found.value!r} in {found.origin} and {stated.value!r} in deployment-settings"
            )
        if isinstance(found, Known) and not found.origin.default:
            return found
        return stated

    def _repository_setting(self, app: App, name: str) -> Resolved:
        matching: list[ConfigWrite] = []
        for write in app.preconf:
            if write.setting != name:
                continue
            if write.form == "conf.setdefault" and any(not w.conditional for w in matching):
                # ``conf.setdefault`` keeps what the pre-configuration already holds
                # under either name of the setting.
                continue
            matching.append(write)
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
        runtime = list(app.runtime_sources)
        if source is not None:
            if source.opaque:
                return Unknown(source.opaque)
            found = self._source_lookup(source, name)
            if found is not None:
                return found
            runtime += source.runtime
        default = self.catalogue.defaults.get(name)
        if not runtime:
            return Known(default, CELERY_DEFAULT)
        # Configuration the repository cannot show: the default holds only when no file of
        # the repository names the setting in any spelling (else it is set in a way the
        # analyzer cannot follow).
        if self.names_setting_anywhere(name, app):
            return Unknown(f"{name} is named in the repository but its value cannot be followed")
        return Known(
            default, Origin("Celery's default", default=True, runtime=tuple(runtime), kind="default")
        )

    def depends_on_whole_repository(self) -> bool:
        """True when a setting may resolve through :meth:`names_setting_anywhere`, which reads
        files the model does not parse: an app reads configuration the repository cannot show.
        (Known from the build alone, so a ``-j`` parent knows it without the workers.)"""
        return (
            self.read_whole_repository
            or self.binds_by_imports()
            or any(
                app.runtime_sources or (app.source is not None and app.source.runtime) for app in self.apps
            )
        )

    def binds_by_imports(self) -> bool:
        """Whether the apps of a shared task depend on the project's import graph (every
        file of it): two or more production apps, or Celery's default app configured by a
        ``celeryconfig`` module. Known from the file list and the apps alone."""
        return len(self.default_apps()) > 1 or self.find_module(DEFAULT_CONFIG_MODULE) is not None

    def config_module_source(self, module: ModuleSummary, description: str) -> ConfigSource:
        """The settings a module holds, read as ``config_from_object`` would read it."""
        return self._module_source([module], None, description, django=False)

    def names_setting_anywhere(self, name: str, app: App | None = None) -> bool:
        """Some file of the repository spells setting ``name`` (new name, old name, any
        namespace prefix), in code or in a configuration file. The configuration modules of
        other apps only (not of ``app``) do not count: they configure those apps."""
        upper = name.upper()
        old = self.catalogue.new_to_old.get(name)
        suffix = "_" + upper
        spellings = [s.encode("ascii") for s in (name, upper, old) if s is not None]
        for tokens in self._tokens_for(app, spellings, spelling_pattern(name, old)):
            if name in tokens or upper in tokens or (old is not None and old in tokens):
                return True
            if any(token.endswith(suffix) for token in tokens if token.isupper()):
                return True
        return False

    def _file_tokens(self, file: SourceFile) -> frozenset[str]:
        return self.memo(("tokens", str(file.path)), lambda: code_tokens(file.read() or b""))

    def _tokens_for(
        self, app: App | None, spellings: list[bytes], pattern: re.Pattern[bytes]
    ) -> list[frozenset[str]]:
        """The words of the files the search for a setting reads; a file whose bytes hold
        none of ``spellings``, or hold them only inside longer words (``pattern``), cannot
        match, so it is not tokenized for this search."""
        self.read_whole_repository = True
        result: list[frozenset[str]] = []
        for file in self.files.values():
            if file.is_test:
                continue
            readers = self.config_modules.get(str(file.path))
            if app is not None and readers and all(other is not app for other, _ in readers):
                continue
            data = file.read() or b""
            if not (any(spelling in data for spelling in spellings) and pattern.search(data)) and self.memo(
                ("ascii_words", str(file.path)), partial(spells_words_as_ascii, data)
            ):
                continue
            result.append(self._file_tokens(file))
        result.extend(
            self.memo(("data_file_tokens",), lambda: data_file_tokens(self.root, self.data_files_read))
        )
        return result

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

    def default_apps(self) -> list[App]:
        production = [a for a in self.apps if not a.is_test]
        return production or self.apps

    def project_setting(self, name: str, apps: list[App] | None = None) -> Resolved:
        """A setting across apps (for shared tasks): Known only when every app agrees."""
        apps = self.default_apps() if apps is None else apps
        if not apps:
            # No app in the project (a reusable Django app's shared tasks): what the
            # deployment states is the configuration they run under.
            if name in self.deployment:
                return Known(self.deployment[name], DEPLOYMENT)
            if name in self.catalogue.defaults:
                return Known(self.catalogue.defaults[name], CELERY_DEFAULT)
            return Known(None, CELERY_DEFAULT)
        return agree([self.setting(app, name) for app in apps], f"apps disagree on {name}")


_ENVIRONMENT_READERS = frozenset({"os.environ", "os.environ.get", "os.getenv"})


def _merge(
    result: dict[str, list[ConfigWrite]], writes: dict[str, list[ConfigWrite]], conditional: bool
) -> None:
    """Settings a star import or an included file brings in, over those set before."""
    for key, key_writes in writes.items():
        if conditional and key in result:
            result[key] = result[key] + key_writes
        else:
            result[key] = list(key_writes)


def _object_argument(call: cst.Call) -> cst.BaseExpression | None:
    """The object given to ``config_from_object`` (first positional or ``obj=``)."""
    for index, arg in enumerate(call.args):
        if (arg.keyword is None and index == 0 and not arg.star) or (
            arg.keyword is not None and arg.keyword.value == "obj"
        ):
            return arg.value
    return None


def _star_module(module: ModuleSummary, node: cst.ImportFrom) -> str | None:
    from .scan import _module_of_import

    file = module.file
    package = file.module if file.is_package else file.module.rpartition(".")[0]
    return _module_of_import(node, package)


# ----------------------------------------------------------------------- config writes by file
def _looks_like_settings(file: SourceFile) -> bool:
    stem = file.path.stem
    parts = file.relpath.replace("\\", "/").split("/")
    return (
        "settings" in stem
        or any("settings" in p for p in parts[:-1])
        or stem in ("celeryconfig", "celery_config", "celeryconf")
    )


def config_writes_in(model: SettingsModel, file: SourceFile) -> list[ConfigWrite]:
    """Every place in ``file`` that gives a Celery setting a value, in any configuration form."""
    return model.memo(("config_writes_in", str(file.path)), lambda: _config_writes_in(model, file))


def _config_writes_in(model: SettingsModel, file: SourceFile) -> list[ConfigWrite]:
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
    if not linked and (_looks_like_settings(file) or model.assigns_settings(file)):
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
            for stmt in class_statements(klass):
                for key, value in assigned_names(stmt):
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
