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

from .binding import (
    DJANGO_SETUP_MODULES,
    ImportGraph,
    autodiscover_args,
    autodiscover_calls,
    settings_paths,
    strings,
)
from .launchers import launcher_arguments
from .model import ProjectModel
from .tasknames import per_model
from .values import Known


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
    roots: set[str] = set()
    django = bool(model.django_settings_modules())
    every_app: set[str] = set()  # related names imported from every installed app / package
    for app in apps:
        roots.add(app.summary.name)
        roots.update(app.includes)
        for setting in ("imports", "include"):
            value = model.setting(app, setting)
            if isinstance(value, Known):
                roots.update(strings(value.value))
    for summary, _, call in autodiscover_calls(model):
        roots.add(summary.name)
        packages, related = autodiscover_args(model, summary, call)
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
        roots.update(settings_paths(model))
    roots.update(launcher_arguments(model, ("-A", "--app", "-I", "--include")))
    graph = ImportGraph(model)
    if every_app:
        # Each installed app's package is imported, then its related modules.
        for file in model.files.values():
            file_names = graph.file_names(file)
            if not file.is_test and (
                file.is_package or {n.rpartition(".")[2] for n in file_names} & every_app
            ):
                roots.update(file_names)
    reached = graph.closure(roots)
    unreached = {path for path in task_files if path not in reached}
    if unreached:
        unreached -= _named_in_strings(model, {p: graph.names.get(p, set()) for p in unreached})
    return unreached


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
