"""What a task accepts when it is called, and whether the project's task list is complete.

Celery checks the arguments of ``delay``/``apply_async`` against the task function's
signature (``Task.typing``, on by default: ``check_arguments`` built by ``head_from_fun``),
and a worker calls ``run(*args, **kwargs)`` with what the message carries. The signature is
the function's own parameters, without the first one of a bound task (``bind=True``, or
``self`` of a class-based task's ``run``). It is only trusted when nothing between the call
and the function may change what is accepted: no other decorator on the function, no
project wrapper, no task class that overrides how a task is called or sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .entities import ClassSym, External, FunctionSym, OptionExpr
from .hooks import task_classes
from .retries import decorator_option
from .scan import dotted_name
from .symbols import CELERY_TASK_CLASSES
from .tasknames import per_model
from .values import Known

if TYPE_CHECKING:
    import libcst as cst

    from .model import ProjectModel, Task
    from .scan import ModuleSummary
    from .tasks import TaskFactory
else:
    from .._lazy_libcst import cst

CALLING_METHODS = frozenset(
    {"__call__", "run", "apply_async", "delay", "apply", "s", "si", "signature", "subtask", "__init__"}
)
"""Methods of a task class that change what a call passes to the function, or check it."""

_DYNAMIC_REGISTRATION = re.compile(rb"\.register_task\(|\btasks\.register\(|\btasks\[[^\]]*\]\s*=(?!=)")


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str  # "positional-only", "positional", "keyword-only"
    has_default: bool


@dataclass(frozen=True)
class CallSignature:
    """The parameters a call of the task is bound to, as Python binds them."""

    function: str
    parameters: tuple[Parameter, ...]
    var_positional: bool
    var_keyword: bool
    text: str
    """``send_welcome(user_id, *, lang='en')``: how messages show it."""

    @property
    def positional(self) -> list[Parameter]:
        return [p for p in self.parameters if p.kind != "keyword-only"]

    def problem(self, given: int, keywords: list[str], complete: bool) -> str | None:
        """Why ``given`` positional arguments and ``keywords`` cannot be bound, as Python
        says it; None when they can. A partial call (``complete=False``) may leave
        parameters for later, but never take too many."""
        positional = self.positional
        if given > len(positional) and not self.var_positional:
            takes = len(positional)
            return (
                f"{self.text} takes {takes} positional argument{'s' if takes != 1 else ''} "
                f"but {given} {'was' if given == 1 else 'were'} given"
            )
        names = {p.name: (index, p) for index, p in enumerate(self.parameters)}
        seen: set[str] = set()
        for name in keywords:
            found = names.get(name)
            if found is None or found[1].kind == "positional-only":
                if self.var_keyword:
                    continue
                if found is not None:
                    return f"{self.text} got a positional-only argument passed as keyword: '{name}'"
                return f"{self.text} got an unexpected keyword argument '{name}'"
            index, parameter = found
            if name in seen or (parameter.kind != "keyword-only" and index < given):
                return f"{self.text} got multiple values for argument '{name}'"
            seen.add(name)
        if not complete:
            return None
        missing = [
            p.name
            for index, p in enumerate(positional)
            if index >= given and not p.has_default and p.name not in seen
        ]
        if missing:
            return f"{self.text} is missing {len(missing)} required positional argument{'s' if len(missing) != 1 else ''}: {_names(missing)}"
        missing = [
            p.name
            for p in self.parameters
            if p.kind == "keyword-only" and not p.has_default and p.name not in seen
        ]
        if missing:
            return f"{self.text} is missing {len(missing)} required keyword-only argument{'s' if len(missing) != 1 else ''}: {_names(missing)}"
        return None


def _names(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def call_signature(model: ProjectModel, task: Task) -> CallSignature | None:
    """What a call of ``task`` binds to; None when the analyzer cannot be sure of it."""
    return per_model(model, f"call-signature-{id(task.node)}", lambda: _call_signature(model, task))


def _call_signature(model: ProjectModel, task: Task) -> CallSignature | None:
    body = task.body
    if body is None or body.asynchronous is not None:
        return None
    if task.is_class:
        if body.decorators:
            return None  # staticmethod, classmethod, a wrapper: not plain ``self.run``
        drop = 1
    else:
        decorator = task.decorator
        if decorator is None or decorator.opaque or not _function_kept(model, task):
            return None
        if len(body.decorators) > (0 if isinstance(decorator.node, cst.Call) else 1):
            return None  # another decorator may wrap the function in another signature
        bind = decorator_option(model, task, "bind")
        if bind is None:
            drop = 0
        elif isinstance(bind, Known) and isinstance(bind.value, bool):
            drop = 1 if bind.value else 0
        else:
            return None
    if not _plain_task_classes(model, task):
        return None
    return _from_parameters(body, drop)


def _function_kept(model: ProjectModel, task: Task) -> bool:
    """The task is made from the function itself: ``shared_task``/``app.task``, or a project
    wrapper that returns their decorator, handing the function over untouched
    (``def job(*args, **kwargs): return shared_task(*args, base=Job, **kwargs)``)."""
    decorator = task.decorator
    if decorator is None:
        return False
    if decorator.via == "the decorator":
        return True
    node = decorator.node
    expr = node.decorator if isinstance(node, cst.Decorator) else node
    if isinstance(expr, cst.Call):
        expr = expr.func
    if not isinstance(expr, cst.BaseExpression):
        return False
    factory = model.task_factory(task.summary, expr)
    depth = 0
    while factory is not None and factory.kind == "wrapper" and depth < 10:
        if not _returns_decorator(factory):
            return False
        factory = factory.inner_wrapper
        depth += 1
    return factory is None or factory.kind == "base"


def _returns_decorator(factory: TaskFactory) -> bool:
    """The wrapper returns its inner ``shared_task(...)`` call as it is, passing on at most
    its own ``*args`` (the function, when the wrapper is used without parentheses)."""
    wrapper, call = factory.wrapper, factory.inner_call
    if wrapper is None or call is None:
        return False
    star = wrapper.node.params.star_arg
    star_name = star.name.value if isinstance(star, cst.Param) else None
    for arg in call.args:
        passed_on = arg.star == "*" and isinstance(arg.value, cst.Name) and arg.value.value == star_name
        if arg.keyword is None and arg.star != "**" and not passed_on:
            return False
    body = wrapper.node.body
    statements = body.body if isinstance(body, cst.IndentedBlock) else ()
    return any(
        isinstance(line, cst.SimpleStatementLine)
        and any(isinstance(small, cst.Return) and small.value is call for small in line.body)
        for line in statements
    )


SENDING_METHODS = frozenset({"apply_async", "delay"})
"""Methods of a task class that may change what a call puts into the message."""


def sends_arguments_as_given(model: ProjectModel, task: Task) -> bool:
    """The message carries the call's arguments as given: every class of the task's chain
    is known and none overrides ``apply_async`` or ``delay`` (a base task that turns model
    objects into references before sending does)."""
    return _plain_task_classes(model, task, SENDING_METHODS)


def _plain_task_classes(model: ProjectModel, task: Task, methods: frozenset[str] = CALLING_METHODS) -> bool:
    """Every class of the task's chain is known and none overrides ``methods`` (how it is
    called, by default)."""
    if task.decorator is not None:
        base = task.decorator.options.get("base")
        if base is not None and not (isinstance(base, OptionExpr) and _known_class(model, base)):
            return False
    for app in model.task_apps(task):
        if app.task_cls_unknown:
            return False
    for klass in task_classes(model, task):
        for item in klass.node.body.body:
            if isinstance(item, cst.FunctionDef) and item.name.value in methods and item is not task.body:
                return False
        for arg in klass.node.bases:
            if arg.keyword is not None:
                continue
            symbol = model.symbol_of(klass.summary, arg.value)
            if isinstance(symbol, ClassSym):
                continue
            if not (isinstance(symbol, External) and symbol.qualname in CELERY_TASK_CLASSES):
                return False
    return True


def _known_class(model: ProjectModel, base: OptionExpr) -> bool:
    symbol = model.symbol_of(base.summary, base.expr)
    return isinstance(symbol, ClassSym) or (
        isinstance(symbol, External) and symbol.qualname in CELERY_TASK_CLASSES
    )


def _from_parameters(body: cst.FunctionDef, drop: int) -> CallSignature | None:
    params = body.params
    parameters: list[Parameter] = []
    texts: list[str] = []
    ordered = [("positional-only", p) for p in params.posonly_params] + [
        ("positional", p) for p in params.params
    ]
    if len(ordered) < drop:
        return None
    ordered = ordered[drop:]
    last_posonly = max((i for i, (kind, _) in enumerate(ordered) if kind == "positional-only"), default=-1)
    for index, (kind, param) in enumerate(ordered):
        parameters.append(Parameter(param.name.value, kind, param.default is not None))
        texts.append(_param_text(param))
        if index == last_posonly:
            texts.append("/")
    star = params.star_arg
    var_positional = isinstance(star, cst.Param)
    if isinstance(star, cst.Param):
        texts.append(f"*{star.name.value}")
    elif params.kwonly_params:
        texts.append("*")
    for param in params.kwonly_params:
        parameters.append(Parameter(param.name.value, "keyword-only", param.default is not None))
        texts.append(_param_text(param))
    var_keyword = isinstance(params.star_kwarg, cst.Param)
    if isinstance(params.star_kwarg, cst.Param):
        texts.append(f"**{params.star_kwarg.name.value}")
    text = f"{body.name.value}({', '.join(texts)})"
    return CallSignature(body.name.value, tuple(parameters), var_positional, var_keyword, text)


def _param_text(param: cst.Param) -> str:
    if param.default is None:
        return param.name.value
    default = " ".join(cst.Module([]).code_for_node(param.default).split())
    if len(default) > 20:
        default = "..."
    return f"{param.name.value}={default}"


# --------------------------------------------------------------------------- task names
def task_list_complete(model: ProjectModel) -> bool:
    """Every task the project's workers register is known by name: the project defines
    tasks, Celery's name of each is known (the notion of the beat and route rules), and no
    code registers tasks at run time (``app.register_task``, ``app.tasks.register``)."""
    from .options import has_unnamed_tasks

    def compute() -> bool:
        if not model.tasks or has_unnamed_tasks(model):
            return False
        for file in model.files.values():
            if file.is_test:
                continue
            data = file.read()  # bytes: no decoding for a search most files fail at once
            if data and (b"register" in data or b"tasks[" in data) and _DYNAMIC_REGISTRATION.search(data):
                return False
        return True

    return per_model(model, "task-list-complete", compute)


def project_module_prefix(model: ProjectModel, name: str) -> str | None:
    """The longest dotted prefix of ``name`` (shorter than ``name``) that is a module or
    package of the project's own code; None when there is none."""
    modules = per_model(model, "project-module-names", lambda: _project_modules(model))
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in modules:
            return prefix
    return None


def _project_modules(model: ProjectModel) -> set[str]:
    production = {str(file.path) for file in model.files.values() if not file.is_test}
    return {
        name for path, names in model.module_names_by_path().items() if path in production for name in names
    }


# --------------------------------------------------------------------------- local imports
def locally_imported_task(
    model: ProjectModel, summary: ModuleSummary, function: cst.FunctionDef, name: str, bindings: int
) -> Task | None:
    """The project task ``name`` stands for in ``function`` when every one of its
    ``bindings`` there is a ``from module import task`` of the same task (Django code
    imports tasks inside functions to avoid import cycles)."""
    package = summary.file.module if summary.file.is_package else summary.file.module.rpartition(".")[0]
    targets = [target for local, target in _function_imports(function, package) if local == name]
    if not targets or len(targets) != bindings or len(set(targets)) != 1:
        return None
    symbol = model.resolve(targets[0])
    if isinstance(symbol, (FunctionSym, ClassSym)):
        return model.task_for_node(symbol.node)
    return None


def _function_imports(node: cst.CSTNode, package: str) -> list[tuple[str, str]]:
    """``(local name, qualified name)`` of the ``from ... import`` statements of a
    function's own body (nested functions and classes have their own scope)."""
    found: list[tuple[str, str]] = []
    for child in node.children:
        if isinstance(child, (cst.FunctionDef, cst.ClassDef, cst.BaseExpression)):
            continue  # other scopes; expressions hold no import statement
        if isinstance(child, cst.ImportFrom) and not isinstance(child.names, cst.ImportStar):
            module = _imported_module(child, package)
            for alias in child.names if module is not None else ():
                if not isinstance(alias.name, cst.Name):
                    continue
                local = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(local, cst.Name):
                    found.append((local.value, f"{module}.{alias.name.value}"))
        else:
            found.extend(_function_imports(child, package))
    return found


def _imported_module(node: cst.ImportFrom, package: str) -> str | None:
    module = dotted_name(node.module) if node.module is not None else ""
    if module is None:
        return None
    level = len(node.relative)
    if level == 0:
        return module
    base = package.split(".") if package else []
    if level - 1 > len(base):
        return None
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base) or None
