"""Which modules a Celery worker of the project imports, so which tasks it registers.
A worker registers the tasks of the modules it imports: the module that defines the app
(``celery -A``), ``include=`` / the ``include`` and ``imports`` settings,
``autodiscover_tasks(packages, related_name='tasks')`` (which imports each package and
its ``tasks`` module; without packages, Django's fixup passes every installed app), and
under Django whatever ``django.setup()`` and the system checks that the fixup runs
(``celery/fixups/django.py``, ``validate_models``) import: each app package, its
``models``, ``admin`` and ``apps`` modules, the URL configuration, and the dotted
paths in the settings (``MIDDLEWARE``, backends). Anything those modules import, at any depth and also
inside functions (``AppConfig.ready``), is registered too.

The answer errs towards "reached": imports are read with a generous regex, every
package of a Django project counts as an installed app, a module whose dotted name
appears in a string anywhere in the project counts as named by configuration, and
``-A``/``--app``/``-I``/``--include`` arguments in launcher files (Procfile, shell
scripts, compose files, ...) are roots.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .evaluate import NotEvaluable, evaluate
from .files import SourceFile
from .launchers import launcher_arguments
from .model import ProjectModel
from .scan import ModuleSummary
from .tasknames import per_model
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


def unreached_task_files(model: ProjectModel) -> set[str] | None:
    """Paths of non-test files defining tasks that no worker import reaches; None when the
    project's workers cannot be worked out (no app, computed related_name)."""
    return per_model(model, "unreached_task_files", lambda: _compute(model))


def _compute(model: ProjectModel) -> set[str] | None:
    apps = model.default_apps()
    if not apps:
        return None
    task_files = {str(t.summary.file.path): t.summary.file for t in model.tasks if not t.is_test}
    if not task_files:
        return set()
    names = model.module_names_by_path()
    roots: set[str] = set()
    django = bool(model.django_settings_modules())
    every_app: set[str] = set()  # related names imported from every installed app / package
    for app in apps:
        roots.add(app.summary.name)
        roots.update(app.includes)
        for setting in ("imports", "include"):
            value = model.setting(app, setting)
            if isinstance(value, Known):
                roots.update(_strings(value.value))
    for summary in list(model.parsed_summaries()):
        if summary.is_test:
            continue
        for op in summary.conf_ops:
            if op.kind != "autodiscover" or op.call is None:
                continue
            roots.add(summary.name)
            packages, related = _autodiscover_args(model, summary, op.call)
            if related is False:
                return None
            if packages is True or (packages is None and django):
                every_app.add(related if isinstance(related, str) else "")
            elif isinstance(packages, list):
                for package in packages:
                    roots.add(package)
                    if related:
                        roots.add(f"{package}.{related}")
    if django:
        roots.update(model.django_settings_modules() or [])
        every_app.update(DJANGO_SETUP_MODULES)
        roots.update(_settings_paths(model))
    roots.update(launcher_arguments(model, ("-A", "--app", "-I", "--include")))
    reached: set[str] = set()
    pending: list[SourceFile] = []

    def reach(name: str) -> None:
        parts = name.replace(":", ".").split(".")
        for end in range(1, len(parts) + 1):
            file = model.find_module(".".join(parts[:end]))
            if file is not None and str(file.path) not in reached:
                reached.add(str(file.path))
                pending.append(file)

    for root in roots:
        reach(root)
        if "." not in root.replace(":", "."):
            reach(f"{root}.celery")  # ``celery -A proj`` also tries proj.celery
    if every_app:
        # Each installed app's package is imported, then its related modules.
        for file in model.files.values():
            if file.is_test:
                continue
            file_names = names.get(str(file.path), set()) or {file.module}
            if file.is_package or {n.rpartition(".")[2] for n in file_names} & every_app:
                for name in file_names:
                    reach(name)
    while pending:
        file = pending.pop()
        for imported in _imports(file, names.get(str(file.path), {file.module})):
            reach(imported)
    unreached = {path for path in task_files if path not in reached}
    if unreached:
        unreached -= _named_in_strings(model, {p: names.get(p, set()) for p in unreached})
    return unreached


def _settings_paths(model: ProjectModel) -> set[str]:
    """Dotted paths in Django settings: Django and its system checks (run by the worker's
    Django fixup) import them: MIDDLEWARE, ROOT_URLCONF, backends, app configs."""
    found: set[str] = set()
    for file in model.files.values():
        if file.is_test or "settings" not in file.relpath:
            continue
        found.update(DOTTED_STRING.findall(file.text or ""))
    return found


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [v for v in value if isinstance(v, str)]
    return []


def _autodiscover_args(
    model: ProjectModel, summary: ModuleSummary, call: cst.Call
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
        strings = _strings(value)
        if isinstance(value, (list, tuple)) and len(strings) == len(value):
            packages = strings
        elif value is None and isinstance(package_expr, cst.Name) and package_expr.value == "None":
            packages = None
    return packages, related


def _imports(file: SourceFile, module_names: set[str]) -> set[str]:
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


def _named_in_strings(model: ProjectModel, candidates: dict[str, set[str]]) -> set[str]:
    """Candidate files whose dotted name appears quoted somewhere in the project's code."""
    wanted = {name: path for path, names in candidates.items() for name in names if "." in name}
    if not wanted:
        return set()
    alternatives = "|".join(re.escape(n) for n in sorted(wanted, key=len, reverse=True))
    pattern = re.compile(rf"""["']({alternatives})["':]""")
    named: set[str] = set()
    for file in model.files.values():
        if file.is_test:
            continue
        text = file.text
        if not text:
            continue
        for match in pattern.finditer(text):
            named.add(wanted[match.group(1)])
    return named
