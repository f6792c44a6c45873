"""Small helpers shared by several rules (wording of messages, common value tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import libcst as cst

from ..project.model import FROM_CONFIG, OptionExpr, config_writes_in
from ..project.values import CELERY_DEFAULT, Known, Resolved

if TYPE_CHECKING:
    from ..engine import FileContext
    from ..project.model import ConfigWrite, ProjectModel, Task

PICKLE_NAMES = frozenset({"pickle", "application/x-python-serialize"})


def is_pickle(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in PICKLE_NAMES


def task_label(model: ProjectModel, task: Task) -> str:
    name = model.task_name(task)
    return str(name.value) if isinstance(name, Known) else task.function_name


def config_writes(context: FileContext) -> list[ConfigWrite]:
    return config_writes_in(context.model, context.file)


def where_looked(model: ProjectModel, task: Task, option: str) -> str:
    """``none on the task, its base class OrdersTask, or task_time_limit in proj/celery.py``."""
    places = ["none on the task"]
    base = task.decorator.options.get("base") if task.decorator is not None else None
    if isinstance(base, OptionExpr):
        places.append(f"its base class {cst.Module([]).code_for_node(base.expr)}")
    elif task.is_class and isinstance(task.node, cst.ClassDef) and task.node.bases:
        names = ", ".join(cst.Module([]).code_for_node(b.value) for b in task.node.bases)
        places.append(f"its base class {names}")
    setting = FROM_CONFIG.get(option)
    if setting:
        apps = model.task_apps(task)
        sources = sorted({_config_place(app) for app in apps})
        where = f" in {', '.join(sources)}" if sources else " in any Celery configuration"
        places.append(f"`{setting}`{where}")
    if len(places) > 1:
        return ", ".join(places[:-1]) + ", or " + places[-1]
    return places[0]


def _config_place(app: Any) -> str:
    source = app.source
    if source is not None:
        return str(source.description)
    return str(app.summary.file.relpath)


def unset_by_default(value: Resolved) -> bool:
    """True when the value is Celery's own 'unset' default, set nowhere in the project."""
    return isinstance(value, Known) and value.origin is CELERY_DEFAULT and not value.value


def option_keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def method_name(call: cst.Call) -> str | None:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None
