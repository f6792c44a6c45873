"""``celery-lint tasks``: what the project model believes, made visible.

:func:`build_inventory` turns the models of the projects under some paths into plain
data (every app, every task with its effective options and where each came from);
:func:`format_text`, :func:`format_markdown` and :func:`format_json` print it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .project.apps import code_of
from .project.model import FROM_CONFIG, TASK_DEFAULTS, App, ProjectModel, Task
from .project.values import UNKNOWN_ELEMENT, CallValue, Known, Origin, Resolved, Unknown, number_text

if TYPE_CHECKING:
    import libcst as cst

    from .project.modules import SummaryStore

DEFAULT_OPTIONS = (
    "time_limit",
    "soft_time_limit",
    "acks_late",
    "ignore_result",
    "serializer",
    "max_retries",
    "queue",
)

# Every task option the model resolves (``--option`` accepts these).
KNOWN_OPTIONS = tuple(sorted(set(FROM_CONFIG) | set(TASK_DEFAULTS)))


@dataclass
class Source:
    kind: str  # decorator, class, base, setting, annotation, default, unknown
    path: str | None = None
    line: int | None = None
    subject: str | None = None  # the class of a "base" source

    def short(self) -> str:
        if self.kind == "base":
            return f"base {self.subject}"
        if self.kind == "setting" and self.path:
            return f"{self.path}:{self.line}" if self.line else self.path
        if self.kind == "annotation":
            return "task_annotations"
        return self.kind

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "path": self.path, "line": self.line}


@dataclass
class OptionEntry:
    value: Any
    source: Source
    unknown: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "value": None if self.unknown is not None else json_value(self.value),
            "source": self.source.as_json(),
            "unknown": self.unknown,
        }


@dataclass
class TaskEntry:
    name: str | None
    name_unknown: str | None
    function: str
    path: str
    line: int
    apps: list[str]
    options: dict[str, OptionEntry]

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"{self.function} (name unknown)"


@dataclass
class AppEntry:
    name: str
    path: str
    line: int
    config_sources: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


@dataclass
class OutsideDecorator:
    """``@app.task`` where ``app`` is not in the project: a task the listing cannot show."""

    path: str
    line: int | None
    decorator: str
    outside: str
    """What the decorator's object is, as imported (``shared.worker.app``)."""

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "decorator": self.decorator, "object": self.outside}

    def text(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"not followed: `@{self.decorator}` at {where}: {self.outside} is not in the project, so a task it declares is not listed"


@dataclass
class Inventory:
    options: tuple[str, ...]
    apps: list[AppEntry] = field(default_factory=list)
    tasks: list[TaskEntry] = field(default_factory=list)
    not_analysed: list[tuple[str, str]] = field(default_factory=list)
    """Files of the listing that could not be read or parsed (path, why): their apps and
    tasks are missing from it."""
    outside: list[OutsideDecorator] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = self._as_json()
        if self.not_analysed:
            data["not_analysed"] = [{"path": path, "error": error} for path, error in self.not_analysed]
        if self.outside:
            data["not_followed"] = [entry.as_json() for entry in self.outside]
        return data

    def _as_json(self) -> dict[str, Any]:
        return {
            "apps": [
                {
                    "name": a.name,
                    "path": a.path,
                    "line": a.line,
                    "config_sources": a.config_sources,
                    "unknown": a.unknown,
                }
                for a in self.apps
            ],
            "tasks": [
                {
                    "name": t.name,
                    "path": t.path,
                    "line": t.line,
                    "apps": t.apps,
                    "options": {name: entry.as_json() for name, entry in t.options.items()},
                }
                for t in self.tasks
            ],
        }


def json_value(value: Any) -> Any:
    """A resolved value as JSON: timedelta as seconds, tuples and sets as lists."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # "inf": JSON has no infinity
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_value(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, CallValue):
        return _call_text(value)
    if value is UNKNOWN_ELEMENT:
        return "<unknown>"
    return repr(value)


def _call_text(value: CallValue) -> str:
    parts = [repr(a) for a in value.args] + [f"{k}={v!r}" for k, v in value.kwargs.items()]
    return f"{value.qualname.rsplit('.', 1)[-1]}({', '.join(parts)})"


# ------------------------------------------------------------------------ building
class _Lines:
    """Line numbers of nodes, one position pass a file, only for files asked about."""

    def __init__(self, model: ProjectModel) -> None:
        self.model = model
        self._by_relpath = {file.relpath: file for file in model.files.values()}
        self._positions: dict[int, Any] = {}

    def line(self, tree: cst.Module | None, node: cst.CSTNode | None) -> int | None:
        if tree is None or node is None:
            return None
        positions = self._positions.get(id(tree))
        if positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
            self._positions[id(tree)] = positions
        code_range = positions.get(node)
        return None if code_range is None else int(code_range.start.line)

    def tree_of(self, relpath: str | None) -> cst.Module | None:
        file = self._by_relpath.get(relpath) if relpath else None
        return None if file is None else file.tree

    def path_of(self, relpath: str | None) -> str | None:
        file = self._by_relpath.get(relpath) if relpath else None
        return None if file is None else display(file.path)


def display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def build_inventory(
    projects: Iterable[tuple[Path, Sequence[str], set[Path], dict[str, Any]]],
    options: Sequence[str] = DEFAULT_OPTIONS,
    summaries: Mapping[Path, SummaryStore] | None = None,
) -> Inventory:
    """``projects``: each project's root, its exclusions, the files the user named (or
    found under the folders named: only their apps and tasks are listed) and its
    ``deployment-settings``. ``summaries``: by project root, the store of module summaries
    to build its model from (a project without one parses every module)."""
    inventory = Inventory(tuple(options))
    for root, exclude, targets, deployment in projects:
        store = summaries.get(root) if summaries else None
        model = ProjectModel(root, exclude, deployment=deployment, summaries=store)
        model.build()
        _add_project(inventory, model, targets)
        model.release()
    return inventory


def _add_project(inventory: Inventory, model: ProjectModel, targets: set[Path]) -> None:
    lines = _Lines(model)
    for app in model.apps:
        if app.summary.file.path in targets:
            inventory.apps.append(_app_entry(model, lines, app))
    tasks = [t for t in model.tasks if t.summary.file.path in targets]
    for task in tasks:
        inventory.tasks.append(_task_entry(model, lines, task, inventory.options))
    # A file the model could not read or parse lists no app and no task: say so, or a
    # broken tasks module reads as "no Celery app found".
    for file in model.files.values():
        if file.path in targets and file.error is not None:
            inventory.not_analysed.append((display(file.path), file.error))
    for summary, decorator, outside in model.outside_task_decorators:
        if summary.file.path in targets:
            line = lines.line(summary.file.tree, decorator)
            inventory.outside.append(
                OutsideDecorator(display(summary.file.path), line, code_of(decorator.decorator), outside)
            )


def _app_entry(model: ProjectModel, lines: _Lines, app: App) -> AppEntry:
    tree = app.summary.tree
    entry = AppEntry(app.name, display(app.summary.file.path), lines.line(tree, app.node) or 1)
    seen: set[tuple[str, str]] = set()

    def add(path: str | None, line: int | None, kind: str) -> None:
        # One entry a kind of write a module: the first line it is written on.
        if path is None or (path, kind) in seen:
            return
        seen.add((path, kind))
        entry.config_sources.append({"path": path, "line": line, "kind": kind})

    for write in app.preconf:
        add(display(write.summary.file.path), lines.line(write.summary.tree, write.node), write.form)
    for summary, op in app.source_ops:
        add(display(summary.file.path), lines.line(summary.tree, op.node), op.kind)
    source = app.source
    if source is not None:
        modules: dict[str, int | None] = {}
        for writes in source.writes.values():
            for write in writes:
                if write.setting is None:
                    continue  # not a Celery setting (INSTALLED_APPS, a namespace's stranger)
                path = display(write.summary.file.path)
                line = lines.line(write.summary.tree, write.node)
                known = modules.get(path)
                if path not in modules or (line is not None and (known is None or line < known)):
                    modules[path] = line
        kind = "django settings" if source.django else "config module"
        for path, line in modules.items():
            add(path, line, kind)
        if source.opaque:
            entry.unknown.append(source.opaque)
    entry.unknown.extend(app.preconf_opaque)
    if app.task_cls_unknown:
        entry.unknown.append(f"the task class of {app.label} cannot be analysed")
    return entry


def _task_entry(model: ProjectModel, lines: _Lines, task: Task, options: Sequence[str]) -> TaskEntry:
    name = model.task_name(task)
    entry = TaskEntry(
        name=name.value if isinstance(name, Known) and isinstance(name.value, str) else None,
        name_unknown=name.reason if isinstance(name, Unknown) else None,
        function=task.function_name,
        path=display(task.summary.file.path),
        line=lines.line(task.summary.tree, task.node.name) or 1,
        apps=[_app_name(model, app) for app in model.task_apps(task)],
        options={},
    )
    for option in options:
        entry.options[option] = _option_entry(lines, task, model.task_option(task, option))
    return entry


def _app_name(model: ProjectModel, app: App) -> str:
    """The app's variable name; its module too when another app shares the name, and the
    configuration module for Celery's default app (a worker started without ``-A``)."""
    if app.call is None and app not in model.apps:
        return f"default app ({app.summary.name})"
    if sum(1 for other in model.apps if other.name == app.name) > 1:
        return app.label
    return app.name


def _option_entry(lines: _Lines, task: Task, resolved: Resolved) -> OptionEntry:
    if isinstance(resolved, Unknown):
        return OptionEntry(None, Source("unknown"), resolved.reason)
    return OptionEntry(resolved.value, _source(lines, task, resolved.origin))


def _source(lines: _Lines, task: Task, origin: Origin) -> Source:
    kind = origin.kind or "unknown"
    if kind == "class" and (task.decorator is not None or origin.subject != task.function_name):
        kind = "base"
    path = lines.path_of(origin.path)
    line = lines.line(lines.tree_of(origin.path), origin.node) if origin.node is not None else None
    return Source(kind, path, line, origin.subject)


# ------------------------------------------------------------------------ output
def _value_text(entry: OptionEntry) -> str:
    if entry.unknown is not None:
        return "?"
    value = json_value(entry.value)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return number_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return json.dumps(value)


def _rows(inventory: Inventory) -> tuple[list[str], list[list[str]]]:
    header = ["task", "where", "app", *inventory.options]
    rows = []
    for task in inventory.tasks:
        row = [task.label, f"{task.path}:{task.line}", ",".join(task.apps) or "-"]
        for option in inventory.options:
            entry = task.options[option]
            row.append(f"{_value_text(entry)} ({entry.source.short()})")
        rows.append(row)
    return header, rows


def _footer(inventory: Inventory) -> list[str]:
    out = []
    for app in inventory.apps:
        sources = ", ".join(f"{s['path']}:{s['line']} ({s['kind']})" for s in app.config_sources)
        out.append(
            f"app {app.name} ({app.path}:{app.line})" + (f", configured by {sources}" if sources else "")
        )
        out.extend(f"  unknown: {reason}" for reason in app.unknown)
    if not inventory.apps:
        out.append("no Celery app found")
    # One line a reason: a reason of the app's (its settings module cannot be read) would
    # otherwise repeat for every task.
    reasons: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for task in inventory.tasks:
        where = f"{task.path}:{task.line}"
        if task.name_unknown:
            names, tasks = reasons.setdefault(task.name_unknown, ({}, {}))
            names["name"] = None
            tasks[where] = None
        for option, entry in task.options.items():
            if entry.unknown is not None:
                names, tasks = reasons.setdefault(entry.unknown, ({}, {}))
                names[option] = None
                tasks[where] = None
    for reason, (names, tasks) in reasons.items():
        listed = list(tasks)
        shown = ", ".join(listed[:3]) + (f" and {len(listed) - 3} more" if len(listed) > 3 else "")
        plural = "s" if len(listed) != 1 else ""
        out.append(f"unknown: {', '.join(names)} of {len(listed)} task{plural} ({shown}): {reason}")
    for path, error in inventory.not_analysed:
        out.append(f"not analysed: {path}: {error}")
    out.extend(entry.text() for entry in inventory.outside)
    count = len(inventory.tasks)
    apps = len(inventory.apps)
    out.append(f"{count} task{'s' if count != 1 else ''}, {apps} app{'s' if apps != 1 else ''}.")
    return out


def format_text(inventory: Inventory) -> str:
    header, rows = _rows(inventory)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    table = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join([*table, "", *_footer(inventory)])


def _md(cell: str) -> str:
    return cell.replace("|", "\\|")


def format_markdown(inventory: Inventory) -> str:
    header, rows = _rows(inventory)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [f"`{_md(row[0])}`", f"`{_md(row[1])}`", *(_md(c) for c in row[2:])]
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    out.extend(f"- {_md(line.strip())}" for line in _footer(inventory))
    return "\n".join(out)


def format_json(inventory: Inventory) -> str:
    return json.dumps(inventory.as_json(), indent=2)
