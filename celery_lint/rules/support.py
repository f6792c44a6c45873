"""Small helpers shared by several rules (wording of messages, common value tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..fixes import add_keywords, class_with_attributes, decorator_with_keywords, replace
from ..project.limits import is_number
from ..project.model import FROM_CONFIG
from ..project.values import Known, Resolved

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from ..api import ProjectView, TaskView
    from ..fixes import Fix
    from ..project.callsites import CallSites

PICKLE_NAMES = frozenset({"pickle", "application/x-python-serialize"})


def is_pickle(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() in PICKLE_NAMES


def where_looked(task: TaskView, option: str) -> str:
    """``neither on the task, its base class OrdersTask, nor `task_time_limit` in proj/celery.py``."""
    places = ["on the task"]
    bases = task.declared_bases
    if bases:
        places.append(f"its base class {', '.join(bases)}")
    setting = FROM_CONFIG.get(option)
    apps = task.apps()
    if setting:
        sources = sorted({app.configuration_source for app in apps})
        places.append(f"`{setting}` in {', '.join(sources)}" if sources else f"`{setting}`")
    if len(places) == 1:
        text = "none on the task"
    elif len(places) == 2:
        text = f"neither {places[0]} nor {places[1]}"
    else:
        text = "neither " + ", ".join(places[:-1]) + ", nor " + places[-1]
    if setting and not apps:
        text += "; no Celery app was found"
    if setting:
        runtime = sorted({source for app in apps for source in app.runtime_sources})
        if runtime:
            # The finding assumes the setting is unset: nothing in the repository sets it.
            text += f"; {', '.join(runtime)} may add settings at run time"
    return text


def has_hard_limit(task: TaskView) -> bool:
    """True when the task's effective ``time_limit`` is known and kills it at some point."""
    hard = task.option("time_limit")
    return isinstance(hard, Known) and is_number(hard.value) and hard.value > 0


def unset_by_default(value: Resolved) -> bool:
    """True when the value is Celery's own 'unset' default, set nowhere in the project."""
    return isinstance(value, Known) and value.origin.default and not value.value


def option_keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def method_name(call: cst.Call) -> str | None:
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


# ----------------------------------------------------------------------- fixes on a task's options
def task_options_fix(
    project: ProjectView, view: TaskView, options: list[tuple[str, cst.BaseExpression]], title: str
) -> Fix | None:
    """Set task options where the task declares its own: as keywords of its decorator
    (``@shared_task`` -> ``@shared_task(k=v)``, ``@app.task(bind=True)`` -> ``..., k=v)``,
    a project wrapper that passes ``**kwargs`` on to ``shared_task``), of the call form
    ``app.task(func)``, or as class attributes of a class-based task.

    None where the decorator cannot take the keyword: a module-level alias
    (``retry = shared_task(max_retries=5)`` returns a decorator that takes only the
    function), a wrapper used bare or one that does not pass the option on, a decorator
    called with ``**options``.
    """
    task = view.model_task
    if task.decorator is None:
        if not isinstance(task.node, cst.ClassDef):
            return None
        klass = class_with_attributes(task.node, options)
        if klass is None:
            return None
        return replace(task.node, klass, title, lambda node: class_with_attributes(node, options))
    node = task.decorator.node
    if isinstance(node, cst.Decorator):
        expr = node.decorator
        factory = project.task_factory(expr.func if isinstance(expr, cst.Call) else expr)
        if factory is None or not _takes_options(factory, isinstance(expr, cst.Call), options):
            return None
        decorator = decorator_with_keywords(node, options)
        if decorator is None:
            return None
        return replace(node, decorator, title, lambda again: decorator_with_keywords(again, options))
    if isinstance(node, cst.Call):
        # ``add = app.task(_add)`` takes the options next to the function;
        # ``add = shared_task(bind=True)(_add)`` takes them in the inner call.
        call = node.func if isinstance(node.func, cst.Call) else node
        factory = project.task_factory(call.func)
        if factory is None or factory.kind != "base" or any(a.star == "**" for a in call.args):
            return None
        return replace(call, add_keywords(call, options), title, lambda again: add_keywords(again, options))
    return None


def _takes_options(factory: Any, called: bool, options: list[tuple[str, cst.BaseExpression]]) -> bool:
    """Whether the decorator ``factory`` accepts these options as keyword arguments."""
    if factory.kind == "base":
        return True  # shared_task / app.task, bare or called: both take options
    if factory.kind != "wrapper" or not called:
        return False  # a bare wrapper is called with the function: a call changes its meaning
    wrapper = factory.wrapper.node
    inner: cst.Call = factory.inner_call
    params = wrapper.params
    positional_only = {p.name.value for p in params.posonly_params}
    named = {p.name.value for p in (*params.params, *params.kwonly_params)}
    star_kwargs = params.star_kwarg.name.value if isinstance(params.star_kwarg, cst.Param) else None
    passed = {a.keyword.value: a.value for a in inner.args if a.keyword is not None}
    splat = any(
        a.star == "**" and isinstance(a.value, cst.Name) and a.value.value == star_kwargs for a in inner.args
    )
    for name, _ in options:
        if name in positional_only:
            return False
        if name in named:
            # ``def task(time_limit=None, **kw): return shared_task(time_limit=time_limit, **kw)``
            value = passed.get(name)
            if not (isinstance(value, cst.Name) and value.value == name):
                return False
        elif not splat or name in passed:
            # Not passed on, or given twice (``shared_task(time_limit=5, **kwargs)``).
            return False
    return True


def task_named_by(project: ProjectView, sites: CallSites, receiver: cst.BaseExpression) -> TaskView | None:
    """The project task ``receiver`` (what ``.delay``/``.apply_async`` is called on) names,
    a task imported inside the calling function too."""
    if not sites.is_local(receiver):
        return project.task_for_expression(receiver)
    if isinstance(receiver, cst.Name):
        scope = sites.owner(receiver.value)
        if scope is not None:
            return project.task_imported_in(scope.node, receiver.value)
    return None
