"""Task names as Celery sees them, matched generously so that a miss is a real miss.

A task without ``name=`` is called ``<module>.<function>`` after the name Python imports
its module under, and that name depends on ``sys.path``: a Django project under
``backend/`` imports ``apps.orders.tasks`` while the analyser may also see
``backend.apps.orders.tasks``. So a name written in a schedule or a route counts as a
project task when it matches any module name the file is known under, or when its
module part and the task's module path end the same way (``orders.tasks.charge`` matches
``charge`` in ``src/shop/orders/tasks.py`` and the other way round).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .model import ProjectModel, Task, has_unnamed_tasks, tasks_by_name
from .values import Known

DEFAULT_KNOWN_PACKAGES = ["celery."]
KNOWN_PACKAGES_OPTION = "known-task-packages"


T = TypeVar("T")


def _cache(model: ProjectModel) -> dict[str, Any]:
    return model.memo("per-model-cache", dict)


def per_model(model: ProjectModel, key: str, compute: Callable[[], T]) -> T:
    """``compute()`` once per project model (rules run once per file, the answers are project-wide)."""
    store = _cache(model)
    if key not in store:
        store[key] = compute()
    result: T = store[key]
    return result


def named_tasks(model: ProjectModel) -> dict[str, list[Task]]:
    store = _cache(model)
    if "tasks_by_name" not in store:
        store["tasks_by_name"] = tasks_by_name(model)
    result: dict[str, list[Task]] = store["tasks_by_name"]
    return result


def unnamed_tasks(model: ProjectModel) -> bool:
    store = _cache(model)
    if "unnamed" not in store:
        store["unnamed"] = has_unnamed_tasks(model)
    return bool(store["unnamed"])


def _module_names(model: ProjectModel) -> dict[str, set[str]]:
    """File path to every dotted name the file is known under."""
    store = _cache(model)
    if "module_names" not in store:
        store["module_names"] = model.module_names_by_path()
    result: dict[str, set[str]] = store["module_names"]
    return result


def implicit(model: ProjectModel, task: Task) -> bool:
    """The task has Celery's default name (no ``name=``)."""
    name = model.task_name(task)
    return isinstance(name, Known) and name.origin.description == "the default name"


def candidate_names(model: ProjectModel, task: Task) -> set[str]:
    """Every name Celery may register the task under."""
    name = model.task_name(task)
    if not isinstance(name, Known) or not isinstance(name.value, str):
        return set()
    if not implicit(model, task):
        return {name.value}
    modules = _module_names(model).get(str(task.summary.file.path), set()) | {task.summary.name}
    return {name.value} | {f"{m}.{task.function_name}" for m in modules if m}


def _all_candidates(model: ProjectModel) -> list[tuple[Task, set[str]]]:
    store = _cache(model)
    if "candidates" not in store:
        store["candidates"] = [(t, candidate_names(model, t)) for t in model.tasks if not t.is_test]
    result: list[tuple[Task, set[str]]] = store["candidates"]
    return result


def _dotted_suffix(a: str, b: str) -> bool:
    """One dotted path ends with the other on a component boundary."""
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def find_tasks(model: ProjectModel, name: str) -> list[Task]:
    """Project tasks Celery may know as ``name``."""
    exact = named_tasks(model).get(name)
    if exact:
        return list(exact)
    found = []
    module_part, _, function = name.rpartition(".")
    for task, names in _all_candidates(model):
        if name in names:
            found.append(task)
            continue
        if module_part and implicit(model, task) and task.function_name == function:
            modules = {n.rpartition(".")[0] for n in names}
            if any(_dotted_suffix(module_part, m) for m in modules if m):
                found.append(task)
    return found


def glob_matches(model: ProjectModel, pattern: str) -> list[Task]:
    """Project tasks a ``task_routes`` glob (``'proj.tasks.*'``) may match, as Celery matches it."""
    regexes = [re.compile(fnmatch.translate(p)) for p in _pattern_variants(pattern)]
    found = []
    for task, names in _all_candidates(model):
        variants = set(names)
        for n in names:
            parts = n.split(".")
            variants.update(".".join(parts[i:]) for i in range(1, len(parts) - 1))
        if any(r.match(n) for r in regexes for n in variants):
            found.append(task)
    return found


def _pattern_variants(pattern: str) -> list[str]:
    """The pattern, and the pattern without leading literal components (a deeper project root)."""
    variants = [pattern]
    parts = pattern.split(".")
    for index in range(1, len(parts) - 1):
        head = parts[:index]
        if any(c in p for p in head for c in "*?["):
            break
        variants.append(".".join(parts[index:]))
    return variants


def known_packages(option: Any) -> list[str]:
    if isinstance(option, str):
        return [option]
    if isinstance(option, Iterable):
        return [p for p in option if isinstance(p, str)]
    return list(DEFAULT_KNOWN_PACKAGES)


def from_known_package(name: str, prefixes: list[str]) -> bool:
    return any(name.startswith(p) or name == p.rstrip(".") for p in prefixes if p)


def project_namespaces(model: ProjectModel) -> set[str]:
    """First components of the project's module names and of its explicit task names."""
    store = _cache(model)
    if "namespaces" not in store:
        spaces: set[str] = set()
        for file in model.files.values():
            if file.is_test:
                continue
            for candidate in _module_names(model).get(str(file.path), ()):
                spaces.add(candidate.split(".")[0])
        for name in named_tasks(model):
            spaces.add(name.split(".")[0])
        spaces.discard("")
        store["namespaces"] = spaces
    result: set[str] = store["namespaces"]
    return result


def outside_project(model: ProjectModel, name: str) -> bool:
    """A dotted name whose first component is no module or task namespace of the project."""
    if "." not in name:
        return False
    head = name.split(".")[0]
    if any(c in head for c in "*?["):
        return False
    return head not in project_namespaces(model)
