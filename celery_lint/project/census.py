"""What a lint run saw besides its findings: apps, tasks, tasks whose configuration the
analysis cannot know, and whether the project uses Celery at all.

A lint run that sees nothing must say so: the summary line counts what this module
finds, and a project that imports Celery but yields no app or no task gets a warning.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..settings_catalogue import load_catalogue
from .files import SourceFile, resolve_positions
from .values import Unknown

if TYPE_CHECKING:
    import libcst as cst

    from .entities import App, ConfigWrite, Task
    from .model import ProjectModel

CONFIGURATION_OPTIONS = ("time_limit", "soft_time_limit", "acks_late", "ignore_result")
"""The task options the default task-option rules (CEL201-CEL205, CEL501) read, each of
which the app's configuration can set: one of them unknown leaves those rules silent."""

# A line starts after "\n" or, in a file with old Mac line endings, after a lone "\r".
_LINE_START = rb"(?:^|(?<=\r))[ \t\f]*"
_FROM_CELERY = re.compile(_LINE_START + rb"from[ \t]+celery(?:[ \t]*\.[ \t]*\w+)*[ \t]+import\b", re.M)
_IMPORT = re.compile(_LINE_START + rb"import[ \t]+([^\r\n#;]+)", re.M)


def imports_celery(data: bytes) -> bool:
    """Whether the source has an ``import celery...`` or ``from celery... import``
    statement (at any level: app factories import Celery inside functions)."""
    if b"celery" not in data:
        return False
    if _FROM_CELERY.search(data):
        return True
    for match in _IMPORT.finditer(data):
        for part in match.group(1).split(b","):
            name = part.split()[0] if part.split() else b""
            if name == b"celery" or name.startswith(b"celery."):
                return True
    return False


def project_facts(model: ProjectModel) -> dict[str, Any]:
    """What the run's summary says of the whole project, kept with its model's result-cache entry."""
    return {
        "imports_celery": project_imports_celery(model),
        "apps": len(model.apps),
        "tasks": len(model.tasks),
    }


def project_imports_celery(model: ProjectModel) -> bool:
    """A module of the project that is not test code imports ``celery``. Every file that
    mentions Celery is parsed by the model's build, so its parsed files are enough."""
    for summary in model.parsed_summaries():
        if summary.file.is_test:
            continue
        data = summary.file.read()
        if data is not None and imports_celery(data):
            return True
    return False


def file_census(
    model: ProjectModel, file: SourceFile, targets: dict[int, tuple[str, str] | None]
) -> dict[str, Any]:
    """The apps created in ``file`` and its tasks, as plain data (the result cache keeps
    it): ``{"apps": n, "tasks": [[line, unknown, [[relpath, style], ...]], ...]}``.
    ``targets``: a memo of :func:`settings_target` by app, shared between files."""
    apps = sum(1 for app in model.apps if app.summary.file.path == file.path)
    tasks = model.tasks_in(file)
    records: list[list[Any]] = []
    if tasks:
        lines = _name_lines(file, tasks)
        for task in tasks:
            unknown = any(isinstance(model.task_option(task, o), Unknown) for o in CONFIGURATION_OPTIONS)
            where = []
            for app in model.task_apps(task):
                if id(app) not in targets:
                    targets[id(app)] = settings_target(app)
                target = targets[id(app)]
                if target is not None and list(target) not in where:
                    where.append(list(target))
            records.append([lines.get(id(task.node.name), 1), unknown, where])
    return {"apps": apps, "tasks": records}


def _name_lines(file: SourceFile, tasks: list[Task]) -> dict[int, int]:
    """The line of each task's name, as its findings count lines (by ``id`` of the name
    node). CPython's parser finds them far faster than LibCST's positions, which are
    resolved only when a name is defined twice in the file (or CPython refuses it)."""
    counts = Counter(task.function_name for task in tasks)
    text = file.text
    if text is not None and all(count == 1 for count in counts.values()):
        try:
            module = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            module = None
        if module is not None:
            found: dict[str, list[int]] = {}
            for node in ast.walk(module):
                if (
                    isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    and node.name in counts
                ):
                    found.setdefault(node.name, []).append(node.lineno)
            source_lines = text.splitlines()
            lines = {}
            for task in tasks:
                at = found.get(task.function_name, [])
                if (
                    len(at) != 1
                    or at[0] > len(source_lines)
                    or task.function_name not in source_lines[at[0] - 1]
                ):
                    break  # defined twice, or its name is not on the ``def`` line
                lines[id(task.node.name)] = at[0]
            else:
                return lines
    return _positions(tasks[0].summary.tree, [task.node.name for task in tasks])


def _positions(tree: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, int]:
    """The first line of each node, from LibCST's positions."""
    positions = resolve_positions(tree)
    out = {}
    for node in nodes:
        code_range = positions.get(node)
        if code_range is not None:
            out[id(node)] = int(code_range.start.line)
    return out


def settings_target(app: App) -> tuple[str, str] | None:
    """Where one setting for every task of ``app`` would go, and how it is spelled there:
    the module that holds most of the app's Celery settings (its ``config_from_object``
    source, or the module that configures it with ``Celery(...)``/``app.conf``), or the
    app's own module. Spelling: ``new`` (``task_time_limit``), ``old``
    (``CELERYD_TASK_TIME_LIMIT``: Django settings without a namespace, a module written in
    old names) or ``prefix:CELERY_`` (a namespace). None when the app reads its settings
    from something the repository does not show."""
    source = app.source
    if source is not None:
        writes = [write for alternatives in source.writes.values() for write in alternatives]
        celery_writes = [write for write in writes if write.setting is not None]
        relpath = _most_written(celery_writes or writes)
        if relpath is None:
            return None
        if source.namespace:
            return relpath, f"prefix:{source.namespace}_"
        if source.django:
            return relpath, "old"
        return relpath, _style(celery_writes)
    celery_writes = [write for write in app.preconf if write.setting is not None]
    relpath = _most_written(celery_writes) or app.summary.file.relpath
    return relpath, _style(celery_writes)


def _most_written(writes: list[ConfigWrite]) -> str | None:
    counts = Counter(write.summary.file.relpath for write in writes)
    if not counts:
        return None
    return min(counts, key=lambda relpath: (-counts[relpath], relpath))


def _style(writes: list[ConfigWrite]) -> str:
    """``old`` when most settings are written in old names: adding a new name there would
    mix the styles, which Celery refuses."""
    catalogue = load_catalogue()
    old = sum(1 for write in writes if catalogue.is_old(write.key) and not catalogue.is_new(write.key))
    return "old" if old * 2 > len(writes) else "new"


def setting_name(setting: str, style: str) -> str:
    """``setting`` (a new name) spelled as ``style`` says (see :func:`settings_target`)."""
    if style.startswith("prefix:"):
        return style.removeprefix("prefix:") + setting.upper()
    if style == "old":
        return load_catalogue().new_to_old.get(setting, setting.upper())
    return setting
