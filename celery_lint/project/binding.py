"""Which apps a ``shared_task`` runs under.

``shared_task`` registers with every app of the process, but a worker runs one app: the
``-A`` app, whose options and settings apply to the tasks it imports. A worker imports
the app's module (and, for ``-A proj``, ``proj.celery``), the modules named by ``include=``
and the ``include``/``imports`` settings, ``autodiscover_tasks(packages,
related_name='tasks')`` (each package and its ``tasks`` module; without packages, or with a
lambda, Django's installed apps), under Django what ``django.setup()`` and the fixup's
checks import (each installed app's ``models``/``admin``/``apps``/``urls``, the settings'
dotted paths), and whatever those import, at any depth. A module in the same package as
the app's module counts too: that is where a project keeps the app's own tasks. With no
``-A`` the worker runs Celery's default app, configured by a ``celeryconfig`` module and
importing its ``imports``.

A shared task is bound to every app whose worker reaches its module; when none does, to
the default app if ``celeryconfig`` reaches it; otherwise to every app (the caller's
fall-back). Imports are read generously (a regex over every file, imports inside
functions included), so an app reaches rather too much than too little: a task bound to
more apps than run it is judged by settings they all agree on, or stays unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from .entities import App
from .evaluate import NotEvaluable, evaluate
from .files import SourceFile
from .scan import ModuleSummary
from .settings import DEFAULT_CONFIG_MODULE, SettingsModel
from .values import Known

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<source>\.*[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n;#]*)"
    r"|import[ \t]+(?P<modules>[^\n;#]+))",
    re.MULTILINE,
)
DJANGO_SETUP_MODULES = frozenset({"models", "admin", "apps", "urls"})
DOTTED_STRING = re.compile(r"""["']([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?::\w+)?["']""")


def worker_apps(model: SettingsModel, file: SourceFile) -> list[App]:
    """The apps whose workers import ``file``; every app (Celery's default app included)
    when no app's worker is seen to."""
    if not model.binds_by_imports():
        return model.default_apps()
    bound = model.memo(("worker_binding",), lambda: _bind(model))
    found = bound.get(str(file.path))
    if found:
        return found
    fallback = default_app(model)
    return model.default_apps() + ([fallback] if fallback is not None else [])


def default_app(model: SettingsModel) -> App | None:
    """Celery's default app (``celery worker`` without ``-A``), configured by the project's
    ``celeryconfig`` module; None without one."""
    return model.memo(("default_app",), lambda: _default_app(model))


def _default_app(model: SettingsModel) -> App | None:
    summary = model.module_summary(DEFAULT_CONFIG_MODULE)
    if summary is None or summary.is_test:
        return None
    app = App("default", summary, summary.tree, None)
    app.source = model.config_module_source(summary, DEFAULT_CONFIG_MODULE)
    return app


def _bind(model: SettingsModel) -> dict[str, list[App]]:
    model.read_whole_repository = True
    graph = ImportGraph(model)
    apps = [app for app in model.default_apps() if not app.is_test]
    discovered = _autodiscover_calls(model, apps)
    bound: dict[str, list[App]] = {}
    for app in apps:
        for path in graph.closure(_roots(model, graph, app, discovered.get(id(app), []))):
            bound.setdefault(path, []).append(app)
    fallback = default_app(model)
    if fallback is not None:
        roots = {DEFAULT_CONFIG_MODULE}
        for setting in ("imports", "include"):
            value = model.setting(fallback, setting)
            if isinstance(value, Known):
                roots.update(strings(value.value))
        for path in graph.closure(roots):
            bound.setdefault(path, [fallback])
    return bound


def _autodiscover_calls(
    model: SettingsModel, apps: list[App]
) -> dict[int, list[tuple[ModuleSummary, cst.Call]]]:
    """``autodiscover_tasks`` calls by the app they are made on; a call on a receiver the
    analyzer cannot tie to an app counts for the apps of its module, or for every app."""
    found: dict[int, list[tuple[ModuleSummary, cst.Call]]] = {}
    for summary, receiver, call in autodiscover_calls(model):
        owner = model.app_of_expr(summary, receiver)
        owners = [owner] if owner is not None else [a for a in apps if a.summary is summary] or apps
        for app in owners:
            found.setdefault(id(app), []).append((summary, call))
    return found


def autodiscover_calls(
    model: SettingsModel,
) -> Iterator[tuple[ModuleSummary, cst.BaseExpression, cst.Call]]:
    """Every ``X.autodiscover_tasks(...)`` of production code: (module, ``X``, the call)."""
    for summary in list(model.parsed_summaries()):
        if summary.is_test:
            continue
        for op in summary.conf_ops:
            if op.kind == "autodiscover" and op.call is not None:
                yield summary, op.receiver, op.call


def _roots(
    model: SettingsModel,
    graph: ImportGraph,
    app: App,
    discovered: list[tuple[ModuleSummary, cst.Call]],
) -> set[str]:
    """Module names the worker of ``app`` imports first."""
    name = app.summary.name
    roots = {name, *app.includes}
    if "." in name:
        # The app module's package and the modules beside it.
        package = name.rpartition(".")[0] if not app.summary.file.is_package else name
        roots.update(graph.modules_in(package))
    for setting in ("imports", "include"):
        value = model.setting(app, setting)
        if isinstance(value, Known):
            roots.update(strings(value.value))
    django = app.source is not None and app.source.django
    related_everywhere: set[str] = set()
    for summary, call in discovered:
        packages, related = autodiscover_args(model, summary, call)
        if related is False:
            related_everywhere.add("*")
            continue
        if isinstance(packages, list):
            for package in packages:
                roots.add(package)
                if isinstance(related, str) and related:
                    roots.add(f"{package}.{related}")
        else:
            # No packages (Django's installed apps) or computed ones (``lambda:
            # settings.INSTALLED_APPS``).
            django = django or bool(model.django_settings_modules())
            related_everywhere.add(related if isinstance(related, str) else "")
    if django:
        roots.update(model.django_settings_modules() or [])
        roots.update(settings_paths(model))
        related_everywhere.update(DJANGO_SETUP_MODULES)
    if related_everywhere:
        roots.update(graph.installed_modules(_installed_apps(model, app), related_everywhere))
    return roots


def _installed_apps(model: SettingsModel, app: App) -> list[str] | None:
    """The packages of ``INSTALLED_APPS`` in the app's Django settings; None when unknown
    (then every package counts as installed)."""
    source = app.source
    if source is None or not source.django:
        return None
    writes = source.writes.get("INSTALLED_APPS")
    if not writes or len(writes) != 1:
        return None
    value = writes[0].resolved(model)
    if not isinstance(value, Known) or not isinstance(value.value, (list, tuple)):
        return None
    names = strings(value.value)
    return names if len(names) == len(value.value) else None


class ImportGraph:
    """Every file of the project and the dotted names it imports (read with a regex)."""

    def __init__(self, model: SettingsModel) -> None:
        self.model = model
        self.names = model.module_names_by_path()
        self._imports: dict[str, set[str]] = {}

    def file_names(self, file: SourceFile) -> set[str]:
        return self.names.get(str(file.path)) or {file.module}

    def modules_in(self, package: str) -> set[str]:
        """Names of the modules directly inside ``package``."""
        found: set[str] = set()
        for file in self.model.files.values():
            if file.is_test:
                continue
            for name in self.file_names(file):
                if name.rpartition(".")[0] == package:
                    found.add(name)
        return found

    def installed_modules(self, installed: list[str] | None, related: set[str]) -> set[str]:
        """Each installed app's package and its ``related`` modules (``*``: every module)."""
        found: set[str] = set()
        packages = (
            {self._package_of(name) for name in installed}
            if installed is not None
            else {
                name
                for f in self.model.files.values()
                if f.is_package and not f.is_test
                for name in self.file_names(f)
            }
        )
        packages.discard("")
        for file in self.model.files.values():
            if file.is_test:
                continue
            for name in self.file_names(file):
                parent, _, last = name.rpartition(".")
                if name in packages or (parent in packages and (last in related or "*" in related)):
                    found.add(name)
        return found

    def _package_of(self, entry: str) -> str:
        """``orders`` for ``orders``, ``orders.apps.OrdersConfig`` or ``orders.apps``."""
        parts = entry.split(".")
        for end in range(len(parts), 0, -1):
            file = self.model.find_module(".".join(parts[:end]))
            if file is not None:
                name = ".".join(parts[:end])
                return name if file.is_package else name.rpartition(".")[0]
        return entry

    def closure(self, roots: Iterable[str]) -> set[str]:
        """Paths of the files a process that imports ``roots`` imports."""
        reached: set[str] = set()
        pending: list[SourceFile] = []

        def reach(name: str) -> None:
            parts = name.replace(":", ".").split(".")
            for end in range(1, len(parts) + 1):
                file = self.model.find_module(".".join(parts[:end]))
                if file is not None and str(file.path) not in reached:
                    reached.add(str(file.path))
                    pending.append(file)

        for root in roots:
            reach(root)
            if "." not in root.replace(":", "."):
                reach(f"{root}.celery")  # ``celery -A proj`` also tries proj.celery
        while pending:
            file = pending.pop()
            for imported in self.imports(file):
                reach(imported)
        return reached

    def imports(self, file: SourceFile) -> set[str]:
        key = str(file.path)
        found = self._imports.get(key)
        if found is None:
            found = self._imports[key] = imports_of(file, self.file_names(file))
        return found


def settings_paths(model: SettingsModel) -> set[str]:
    """Dotted paths in Django settings: Django and its system checks (run by the worker's
    Django fixup) import them: MIDDLEWARE, ROOT_URLCONF, backends, app configs."""
    found: set[str] = set()
    for file in model.files.values():
        if file.is_test or "settings" not in file.relpath:
            continue
        found.update(DOTTED_STRING.findall(file.text or ""))
    return found


def strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [v for v in value if isinstance(v, str)]
    return []


def autodiscover_args(
    model: SettingsModel, summary: ModuleSummary, call: cst.Call
) -> tuple[list[str] | bool | None, str | bool | None]:
    """(packages: a list, None when absent (Django's installed apps), True when computed;
    related_name: a string, None (the packages themselves) or False when computed)."""
    packages: list[str] | bool | None = None
    related: str | bool | None = "tasks"
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if any(a.star for a in call.args):
        return None, False
    package_expr = positional[0].value if positional else None
    related_expr = positional[1].value if len(positional) > 1 else None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "packages":
            package_expr = arg.value
        elif arg.keyword is not None and arg.keyword.value == "related_name":
            related_expr = arg.value
    if related_expr is not None:
        try:
            value = evaluate(model, summary, related_expr)
        except NotEvaluable:
            return None, False
        related = value if isinstance(value, str) or value is None else False
    if package_expr is not None:
        packages = True
        try:
            value = evaluate(model, summary, package_expr)
        except NotEvaluable:
            value = None
        found = strings(value)
        if isinstance(value, (list, tuple)) and len(found) == len(value):
            packages = found
        elif value is None and isinstance(package_expr, cst.Name) and package_expr.value == "None":
            packages = None
    return packages, related


def imports_of(file: SourceFile, module_names: set[str]) -> set[str]:
    """Dotted names a file imports (absolute, relative resolved against each of its names)."""
    text = file.text or ""
    if "import" not in text:
        return set()
    found: set[str] = set()
    for match in IMPORT.finditer(text):
        modules = match.group("modules")
        if modules is not None:
            for part in modules.split(","):
                name = part.strip().split(" ")[0].strip("\\ \t()")
                if name:
                    found.add(name)
            continue
        source = match.group("source") or ""
        imported = [
            n.strip().split(" ")[0]
            for n in match.group("names").strip("()\\ \t\n").replace("\n", ",").split(",")
        ]
        imported = [n.strip("\\ \t()") for n in imported if n.strip("\\ \t()") and n.strip() != "*"]
        level = len(source) - len(source.lstrip("."))
        rest = source[level:]
        bases = [rest] if level == 0 else []
        for module in module_names:
            package = module if file.is_package else module.rpartition(".")[0]
            parts = package.split(".") if package else []
            if level:
                if level - 1 > len(parts):
                    continue
                base = ".".join(parts[: len(parts) - (level - 1)])
                bases.append(".".join(p for p in (base, rest) if p))
        for base in bases:
            if base:
                found.add(base)
            for name in imported:
                found.add(f"{base}.{name}" if base else name)
    return found
