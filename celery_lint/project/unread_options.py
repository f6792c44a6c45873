"""Task options nobody reads: keywords of a task decorator (and class attributes of a
project task class that look like task options) that neither the installed Celery nor
the project ever looks at.

``_task_from_fun`` copies every keyword it does not take itself onto the new task class,
so ``@shared_task(ignore_results=True)`` builds a task whose ``ignore_results`` attribute
nothing reads, and ``ignore_result`` stays at its default. A keyword is read when Celery
reads it (``task_option_names``), when it replaces a method of ``Task`` that Celery calls
(``on_failure=handler``), when a project task class of the task's chain reads
it from the task (``self.x``, ``cls.x``, ``getattr(self, "x")``; every project task
class when the chain cannot be followed), when the bound task body reads it, or when a
project wrapper the decorator goes through takes it (a parameter, a popped or read key:
the wrapper names it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .entities import ClassSym, OptionExpr, assigned_names, class_statements
from .hooks import task_classes
from .retries import bound_self
from .task_option_names import RETRY_POLICY_KEYS, celery_task_options, closest_option, task_class_members
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst

    from .files import SourceFile
    from .model import ProjectModel, Task
    from .scan import ModuleSummary
    from .tasks import TaskFactory
else:
    from .._lazy_libcst import cst


@dataclass(frozen=True)
class UnreadOption:
    """An option given to a task that nothing reads."""

    name: str
    closest: str | None
    """The real option it most likely misspells, when one is close and unique."""
    retry_policy_key: bool
    """A key of a message's ``retry_policy`` (``interval_start``...), given to the task."""
    tasks: tuple[str, ...]
    """The tasks it is given to (``task `f```) or the task class declaring it (``task class `C```)."""


class _AttributeReads(Walker):
    """Attribute names read from ``receivers``: ``self.x``, ``getattr(self, "x")``."""

    def __init__(self, receivers: frozenset[str]) -> None:
        self.receivers = receivers
        self.names: set[str] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if isinstance(node.value, cst.Name) and node.value.value in self.receivers:
            self.names.add(node.attr.value)

    def visit_Call(self, node: cst.Call) -> None:
        if (
            isinstance(node.func, cst.Name)
            and node.func.value in ("getattr", "hasattr")
            and len(node.args) > 1
            and isinstance(node.args[0].value, cst.Name)
            and node.args[0].value.value in self.receivers
            and isinstance(node.args[1].value, cst.SimpleString)
        ):
            key = node.args[1].value.evaluated_value
            if isinstance(key, str):
                self.names.add(key)


class _Strings(Walker):
    """Every string literal under a node: the keys a wrapper pops, reads or sets."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.evaluated_value
        if isinstance(value, str):
            self.values.add(value)


def _declared(klass: cst.ClassDef) -> set[str]:
    """The attributes a class declares: a task class that gives an attribute a default
    makes it an option of its own (``route = None``)."""
    return {name for statement in class_statements(klass) for name, _ in assigned_names(statement)}


def _class_reads(klass: cst.ClassDef) -> set[str]:
    """What the methods of ``klass`` read from the task (``self``/``cls``/the first parameter)."""
    names: set[str] = set()
    for item in klass.body.body:
        if not isinstance(item, cst.FunctionDef):
            continue
        params = [*item.params.posonly_params, *item.params.params]
        receivers = {"self", "cls"} | ({params[0].name.value} if params else set())
        walker = _AttributeReads(frozenset(receivers))
        walker.walk(item)
        names |= walker.names
    return names


def _analysed(model: ProjectModel) -> list[ModuleSummary]:
    """The modules the model is built from (production code its prefilter reads): the
    same set in every run, whatever else a run parses later for its rules."""
    return model.memo("analysed-summaries", lambda: _collect_analysed(model))


def _collect_analysed(model: ProjectModel) -> list[ModuleSummary]:
    found = []
    for file in model.files.values():
        if not file.is_test and model.needs_analysis(file):
            summary = model.summary_for(file)
            if summary is not None:
                found.append(summary)
    return found


def _task_classes(model: ProjectModel) -> list[tuple[ModuleSummary, cst.ClassDef]]:
    """The project's task classes in production code. The model parses every module that
    defines one while it is built (a task base class's name joins the prefilter), so the
    modules it was built from hold them all: no prefilter test of every file of the
    project, which costs once the prefilter holds a call pattern per task. Not the modules
    parsed so far: those depend on which files this run (or -j worker) has linted."""

    def collect() -> list[tuple[ModuleSummary, cst.ClassDef]]:
        modules = sorted(
            (s for s in model.built_from if not s.file.is_test and s.all_classes),
            key=lambda s: str(s.file.path),
        )
        return [(s, klass) for s in modules for klass in s.all_classes if model.is_task_class(s, klass)]

    return model.memo("project-task-classes", collect)


def _all_task_class_reads(model: ProjectModel) -> tuple[frozenset[str], frozenset[str]]:
    """What every project task class and bound task body reads from the task; what
    every project task class declares."""
    return model.memo("task-class-reads", lambda: _collect_task_class_reads(model))


def _collect_task_class_reads(model: ProjectModel) -> tuple[frozenset[str], frozenset[str]]:
    reads: set[str] = set()
    declared: set[str] = set()
    for _summary, klass in _task_classes(model):
        reads |= _class_reads(klass)
        declared |= _declared(klass)
    for task in model.tasks:
        reads |= _body_reads(model, task)
    return frozenset(reads), frozenset(declared)


def _body_reads(model: ProjectModel, task: Task) -> set[str]:
    receiver = bound_self(model, task)
    if receiver is None or task.body is None:
        return set()
    walker = _AttributeReads(frozenset({receiver}))
    walker.walk(task.body)
    return walker.names


def _chain_is_followed(model: ProjectModel, task: Task) -> bool:
    """Whether every class of the task's chain is known: a project class whose bases are
    known, or Celery's own task class."""
    assert task.decorator is not None
    base = task.decorator.options.get("base")
    if base is not None:
        if not isinstance(base, OptionExpr):
            return False
        symbol = model.symbol_of(base.summary, base.expr)
        if not isinstance(symbol, ClassSym) and not model._is_task_class_symbol(symbol):
            return False
    for app in model.task_apps(task):
        if app.task_cls_unknown:
            return False
    return not any(
        model._class_has_unknown_bases(klass.summary, klass.node) for klass in task_classes(model, task)
    )


def _project_reads(model: ProjectModel, task: Task) -> set[str]:
    """What the project reads from ``task``'s instance."""
    if not _chain_is_followed(model, task):
        reads, declared = _all_task_class_reads(model)
        return set(reads | declared)
    names = _body_reads(model, task)
    for klass in task_classes(model, task):
        names |= _class_reads(klass.node) | _declared(klass.node)
    return names


def _factories(model: ProjectModel, task: Task) -> list[TaskFactory]:
    """The wrappers (and aliases) the task's decorator goes through, outermost first."""
    assert task.decorator is not None
    node = task.decorator.node
    expr = node.decorator if isinstance(node, cst.Decorator) else node
    if isinstance(expr, cst.Call):
        expr = expr.func.func if isinstance(expr.func, cst.Call) else expr.func
    if not isinstance(expr, cst.BaseExpression):
        return []
    found: list[TaskFactory] = []
    factory = model.task_factory(task.summary, expr)
    while factory is not None and len(found) < 10:
        found.append(factory)
        factory = factory.inner_wrapper
    return found


def _consumed_by_wrappers(model: ProjectModel, task: Task) -> set[str]:
    """Keys a project wrapper of the decorator names: parameters and string literals."""
    names: set[str] = set()
    for factory in _factories(model, task):
        if factory.wrapper is None:
            continue
        function = factory.wrapper.node
        params = function.params
        names |= {p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)}
        strings = _Strings()
        strings.walk(function.body)
        names |= strings.values
    return names


def unread_options(model: ProjectModel, file: SourceFile) -> dict[int, UnreadOption]:
    """The unread options written in ``file``, by ``id`` of the keyword's value (a
    decorator keyword) or of the assignment (a class attribute)."""
    found = model.memo("unread-options", lambda: _unread_options(model))
    return found.get(str(file.path), {})


def _read_anywhere(model: ProjectModel, names: set[str]) -> set[str]:
    """Which of ``names`` some module the model reads takes from an object by name
    (``task.route`` in a router, ``getattr(sender, "route")`` in a signal handler)."""
    if not names:
        return set()
    alternatives = "|".join(sorted(re.escape(name) for name in names))
    pattern = re.compile(rf"""\.({alternatives})\b|getattr\([^,()]+,\s*['"]({alternatives})['"]""")
    found: set[str] = set()
    for summary in _analysed(model):
        text = summary.file.text or ""
        for match in pattern.finditer(text):
            found.add(match.group(1) or match.group(2))
    return found


def _unread_options(model: ProjectModel) -> dict[str, dict[int, UnreadOption]]:
    found = _candidates(model)
    names = {option.name for options in found.values() for option in options.values()}
    read = _read_anywhere(model, names)
    return {
        path: {key: option for key, option in options.items() if option.name not in read}
        for path, options in found.items()
    }


def _candidates(model: ProjectModel) -> dict[str, dict[int, UnreadOption]]:
    """Options Celery does not read and that no task class or wrapper of the task reads."""
    known = frozenset(celery_task_options())
    # A keyword or attribute named like a method of ``Task`` replaces it (``on_failure=``):
    # read, but no option a typo is matched against.
    taken = known | task_class_members()
    found: dict[str, dict[int, UnreadOption]] = {}

    def add(summary: ModuleSummary, node: cst.CSTNode, name: str, task: str) -> None:
        in_file = found.setdefault(str(summary.file.path), {})
        previous = in_file.get(id(node))
        tasks = (*previous.tasks, task) if previous is not None else (task,)
        closest = closest_option(name, known)
        in_file[id(node)] = UnreadOption(name, closest, name in RETRY_POLICY_KEYS, tasks)

    for task in model.tasks:
        if task.decorator is None:
            continue
        given = {
            name: raw
            for name, raw in task.decorator.options.items()
            if isinstance(raw, OptionExpr) and name not in taken
        }
        if not given:
            continue
        read = _project_reads(model, task) | _consumed_by_wrappers(model, task)
        for name, raw in given.items():
            if name not in read:
                add(raw.summary, raw.expr, name, f"task `{task.function_name}`")
    # A project task class's attribute: only a near miss of a real option or a retry
    # policy key counts as given as an option (a class keeps its own state too).
    everywhere, _declared_anywhere = _all_task_class_reads(model)
    # A name the project's decorators give as well is an option the project made its own.
    everywhere |= {
        name for task in model.tasks if task.decorator is not None for name in task.decorator.options
    }
    for summary, klass in _task_classes(model):
        for statement in class_statements(klass):
            if not isinstance(statement, (cst.Assign, cst.AnnAssign)):
                continue
            targets = (
                [t.target for t in statement.targets]
                if isinstance(statement, cst.Assign)
                else [statement.target]
            )
            for target in targets:
                if not isinstance(target, cst.Name):
                    continue
                name = target.value
                if name in taken or name in everywhere or name.startswith("_"):
                    continue
                if name in RETRY_POLICY_KEYS or closest_option(name, known) is not None:
                    add(summary, statement, name, f"task class `{klass.name.value}`")
    return found
