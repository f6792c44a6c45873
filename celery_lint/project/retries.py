"""Helpers shared by the retry rules and the handler rules: bound tasks, ``self.retry``
calls, exception handlers and what they catch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .entities import External, OptionExpr, ValueSym
from .hooks import task_classes, task_hooks
from .options import option_via
from .scan import dotted_name
from .values import Known, Origin, Resolved, Unknown
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst

    Handler = cst.ExceptHandler | cst.ExceptStarHandler
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from .model import ProjectModel, Task
    from .scan import ModuleSummary

BROAD = frozenset({"builtins.Exception", "builtins.BaseException"})
# Retry and the classes it derives from (celery/exceptions.py: Retry -> TaskPredicate -> CeleryError).
RETRY_CATCHERS = frozenset(
    {
        "celery.exceptions.Retry",
        "celery.exceptions.RetryTaskError",
        "celery.exceptions.TaskPredicate",
        "celery.exceptions.CeleryError",
    }
)
SOFT_TIME_LIMIT = frozenset(
    {"celery.exceptions.SoftTimeLimitExceeded", "billiard.exceptions.SoftTimeLimitExceeded"}
)


def decorator_option(model: ProjectModel, task: Task, option: str) -> Resolved | None:
    """The option as the task's decorator gives it; None when the decorator does not."""
    decorator = task.decorator
    if decorator is None:
        return None
    raw = decorator.options.get(option)
    if raw is None:
        return Unknown(decorator.opaque) if decorator.opaque else None
    if isinstance(raw, OptionExpr):
        origin = Origin(
            f"{option} on {option_via(task, raw)}", raw.summary.file.relpath, raw.expr, kind="decorator"
        )
        return model.value_of(raw.summary, raw.expr, origin)
    return raw


def autoretry_option(model: ProjectModel, task: Task, option: str) -> Resolved:
    """An option read by Celery's autoretry wrapper (``autoretry_for``, ``retry_backoff``,
    ``retry_jitter``, ``retry_kwargs``, ...).

    ``add_autoretry_behaviour`` reads ``options.get(name, getattr(task, name, default))``
    after the task is bound, so a decorator option beats ``task_annotations`` here (the
    annotations only change the class attribute); without one, the task's effective
    attribute applies.
    """
    given = decorator_option(model, task, option)
    return given if given is not None else model.task_option(task, option)


def bound_self(model: ProjectModel, task: Task) -> str | None:
    """The name the task body gives the task instance: ``self`` of a class task's ``run``,
    the first parameter of a ``bind=True`` function; None when unbound or unknown.

    ``bind`` is an argument of ``app.task``/``shared_task`` only (it decides whether
    ``run`` is a staticmethod when the task class is built): base classes and
    annotations do not change it.
    """
    body = task.body
    if body is None:
        return None
    params = [*body.params.posonly_params, *body.params.params]
    if not params:
        return None
    if task.is_class:
        if any(dotted_name(d.decorator) == "staticmethod" for d in body.decorators):
            return None
        return params[0].name.value
    bind = decorator_option(model, task, "bind")
    if isinstance(bind, Known) and bind.value is True:
        return params[0].name.value
    return None


def is_self_retry(call: cst.Call, self_name: str | None) -> bool:
    """``self.retry(...)`` on the bound task instance."""
    func = call.func
    return (
        self_name is not None
        and isinstance(func, cst.Attribute)
        and func.attr.value == "retry"
        and isinstance(func.value, cst.Name)
        and func.value.value == self_name
    )


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg
    return None


def has_splat(call: cst.Call) -> bool:
    return any(arg.star for arg in call.args)


def exception_name(model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression) -> str | None:
    """The qualified name of an exception class in an ``except`` clause.

    Builtins come out as ``builtins.Exception``; a module that defines or imports its own
    ``Exception`` gets that instead.
    """
    dotted = dotted_name(expr)
    if dotted is None:
        return None
    if "." not in dotted and not summary.defines(dotted) and dotted not in summary.imports:
        qualname = model.qualname_of(summary, expr)
        return qualname if qualname is not None else f"builtins.{dotted}"
    symbol = model.symbol_of(summary, expr)
    if isinstance(symbol, External):
        return symbol.qualname
    return model.qualname_of(summary, expr)


def caught_names(model: ProjectModel, summary: ModuleSummary, handler: Handler) -> list[str | None] | None:
    """Qualified names an ``except`` clause catches; None for a bare ``except:``."""
    kind = handler.type
    if kind is None:
        return None
    elements: list[cst.BaseExpression] = (
        [e.value for e in kind.elements] if isinstance(kind, (cst.Tuple, cst.List)) else [kind]
    )
    return [exception_name(model, summary, e) for e in elements]


def catches_any(model: ProjectModel, summary: ModuleSummary, handler: Handler, names: frozenset[str]) -> bool:
    """Whether the clause catches one of ``names`` (a bare ``except:`` catches everything)."""
    caught = caught_names(model, summary, handler)
    return caught is None or any(name in names for name in caught)


def names_any(model: ProjectModel, summary: ModuleSummary, handler: Handler, names: frozenset[str]) -> bool:
    """Whether the clause names one of ``names`` explicitly (a bare ``except:`` names none)."""
    caught = caught_names(model, summary, handler)
    return caught is not None and any(name in names for name in caught)


def handler_label(handler: Handler) -> str:
    if handler.type is None:
        return "except:"
    return f"except {cst.Module([]).code_for_node(handler.type)}:"


class _Raises(Walker):
    def __init__(self, self_name: str | None) -> None:
        super().__init__()
        self.self_name = self_name
        self.raises = False

    def visit_Raise(self, node: cst.Raise) -> bool:
        self.raises = True
        return False

    def visit_Call(self, node: cst.Call) -> bool:
        if is_self_retry(node, self.self_name) and not _throw_false(node):
            self.raises = True
        return not self.raises

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False


def handler_raises(handler: Handler, self_name: str | None) -> bool:
    """The handler raises again somewhere: ``raise``, ``raise X``, or ``self.retry(...)``
    (which raises ``Retry``)."""
    finder = _Raises(self_name)
    finder.walk(handler.body)
    return finder.raises


def _throw_false(call: cst.Call) -> bool:
    arg = keyword(call, "throw")
    return arg is not None and isinstance(arg.value, cst.Name) and arg.value.value == "False"


def retry_throws(call: cst.Call) -> bool:
    """``self.retry(...)`` raises ``Retry`` unless given ``throw=False``."""
    return not _throw_false(call)


def _int(value: Resolved | None) -> int | None:
    if isinstance(value, Known) and isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    return None


def retry_limit(model: ProjectModel, task: Task, call: cst.Call | None = None) -> int | None:
    """The ``max_retries`` in force for a ``self.retry()`` call, or for the autoretry
    wrapper when ``call`` is None; None when it is unbounded or not known.

    ``retry()`` raises instead of publishing once ``request.retries + 1 > max_retries``;
    an explicit integer in the call (or in ``retry_kwargs`` for autoretry) wins, ``None``
    falls back to the task's ``max_retries``. Used only to keep quiet, so the task's
    decorator value is trusted even where ``task_annotations`` are not known.
    """
    if call is not None:
        arg = keyword(call, "max_retries")
        if arg is not None and isinstance(arg.value, cst.Integer):
            return int(arg.value.evaluated_value)
    else:
        kwargs = autoretry_option(model, task, "retry_kwargs")
        if isinstance(kwargs, Known) and isinstance(kwargs.value, dict):
            given = kwargs.value.get("max_retries")
            if isinstance(given, int) and not isinstance(given, bool):
                return given
    for value in (decorator_option(model, task, "max_retries"), model.task_option(task, "max_retries")):
        found = _int(value)
        if found is not None:
            return found
    return None


class _RetryCalls(Walker):
    """The ``.retry(...)`` calls of a function, and whether it hands ``self_name`` on."""

    def __init__(self, self_name: str | None, methods: set[str]) -> None:
        super().__init__()
        self.self_name = self_name
        self.methods = methods
        self.calls: list[cst.Call] = []
        self.passes_self = False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "retry":
            self.calls.append(node)
        elif (
            isinstance(func, cst.Attribute)
            and func.attr.value in self.methods
            and isinstance(func.value, cst.Name)
            and func.value.value == self.self_name
        ):
            self.passes_self = True  # a method of the task's own classes may retry
        for arg in node.args:
            if isinstance(arg.value, cst.Name) and arg.value.value == self.self_name:
                self.passes_self = True


def retries_bounded_by_calls(model: ProjectModel, task: Task) -> bool:
    """A ``max_retries=None`` on the task bounds nothing: the task has no ``autoretry_for``
    and retries only through ``retry(...)`` calls of its body and hook methods, each with an
    integer ``max_retries`` (``Task.retry`` uses the call's value when it is not None).
    False without any such call, when a ``retry()`` call leaves the limit out, or when the
    body hands the task instance on (``helper(self)``, ``self.method()`` of a project
    task class: either may retry)."""
    autoretry = autoretry_option(model, task, "autoretry_for")
    if not isinstance(autoretry, Known) or autoretry.value:
        return False
    body = task.body
    if body is None:
        return False
    methods = {
        item.name.value
        for klass in task_classes(model, task)
        for item in klass.node.body.body
        if isinstance(item, cst.FunctionDef)
    }
    functions: list[tuple[cst.FunctionDef, str | None]] = [(body, bound_self(model, task))]
    for hook in task_hooks(model).values():
        if task in hook.tasks:
            params = [*hook.node.params.posonly_params, *hook.node.params.params]
            functions.append((hook.node, params[0].name.value if params else None))
    calls = 0
    for function, self_name in functions:
        finder = _RetryCalls(self_name, methods)
        finder.walk(function)
        if finder.passes_self:
            return False
        for call in finder.calls:
            arg = keyword(call, "max_retries")
            if arg is None or has_splat(call) or not isinstance(arg.value, cst.Integer):
                return False
        calls += len(finder.calls)
    return calls > 0


# ----------------------------------------------------------------------- exception lists
def summary_at(model: ProjectModel, relpath: str | None) -> ModuleSummary | None:
    """The parsed module at ``relpath`` (an :class:`Origin` path)."""
    if relpath is None:
        return None
    for file in model.files.values():
        if file.relpath == relpath:
            return model.summary_for(file)
    return None


def origin_expression(node: object) -> cst.BaseExpression | None:
    """The value expression behind an option's origin node (an expression or an assignment)."""
    if isinstance(node, (cst.Assign, cst.AnnAssign)):
        return node.value
    if isinstance(node, cst.BaseExpression):
        return node
    return None


def exception_elements(
    model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression, depth: int = 0
) -> Iterator[tuple[ModuleSummary, cst.BaseExpression]]:
    """The class expressions of an ``autoretry_for`` value: tuple or list elements,
    ``A + B`` concatenations and module-level constants followed across modules."""
    if depth > 8:
        return
    if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
        for element in expr.elements:
            if isinstance(element, cst.Element):
                yield summary, element.value
    elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        yield from exception_elements(model, summary, expr.left, depth + 1)
        yield from exception_elements(model, summary, expr.right, depth + 1)
    elif isinstance(expr, (cst.Name, cst.Attribute)):
        symbol = model.symbol_of(summary, expr)
        if isinstance(symbol, ValueSym) and symbol.expr is not None:
            yield from exception_elements(model, symbol.summary, symbol.expr, depth + 1)


def exception_names(model: ProjectModel, value: Known) -> Iterator[str | None]:
    """The qualified names of the exception classes a configured value lists
    (``autoretry_for``), read where the value was written; nothing when that place
    cannot be read."""
    expr = origin_expression(value.origin.node)
    summary = summary_at(model, value.origin.path)
    if expr is None or summary is None:
        return
    for where, element in exception_elements(model, summary, expr):
        yield exception_name(model, where, element)
