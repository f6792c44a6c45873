"""What the project model is made of: symbols, apps, their configuration writes, tasks.

Plain data: the layers of the model (symbols, apps, settings, tasks, options) find and
fill these, and rules read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from .evaluate import NameResolver, NotEvaluable, evaluate
from .values import Known, Origin, Resolved, Unknown

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from .scan import ConfOp, ModuleSummary


# --------------------------------------------------------------------------- symbols
@dataclass(frozen=True)
class External:
    qualname: str


@dataclass(eq=False)
class ModuleSym:
    summary: ModuleSummary


@dataclass(eq=False)
class ClassSym:
    summary: ModuleSummary
    node: cst.ClassDef


@dataclass(eq=False)
class FunctionSym:
    summary: ModuleSummary
    node: cst.FunctionDef


@dataclass(eq=False)
class ValueSym:
    summary: ModuleSummary
    expr: cst.BaseExpression | None
    name: str


@dataclass(eq=False)
class AttrOf:
    base: Symbol
    attrs: tuple[str, ...]


Symbol = Union[External, ModuleSym, ClassSym, FunctionSym, ValueSym, AttrOf, "App"]


# --------------------------------------------------------------------------- apps
@dataclass(repr=False)
class ConfigWrite:
    """One place a setting is given a value."""

    key: str  # as written
    setting: str | None  # Celery's new name, None when not a Celery setting
    value: cst.BaseExpression | None
    summary: ModuleSummary
    node: cst.CSTNode
    form: str  # "Celery()", "changes", "conf.update", "conf attribute", "conf item", ...
    namespace: str | None = None
    conditional: bool = False

    def __repr__(self) -> str:
        return f"<ConfigWrite {self.key} ({self.form}) in {self.summary.file.relpath}>"

    def resolved(self, model: NameResolver) -> Resolved:
        if self.value is None:
            return Unknown(f"{self.key} is computed")
        try:
            value = evaluate(model, self.summary, self.value)
        except NotEvaluable:
            return Unknown(f"{self.key} in {self.summary.file.relpath} is computed")
        relpath = self.summary.file.relpath
        return Known(value, Origin(f"{self.key} in {relpath}", relpath, self.node, kind="setting"))


@dataclass
class ConfigSource:
    """What ``config_from_object`` points at, already flattened to writes."""

    description: str
    writes: dict[str, list[ConfigWrite]]  # key as written -> alternatives (several modules)
    alternatives: int = 1
    opaque: str | None = None
    namespace: str | None = None
    django: bool = False
    runtime: list[str] = field(default_factory=list)
    """Configuration the repository cannot show that this source adds at run time (an
    optional ``from .local_settings import *`` of a module absent from the repository)."""


@dataclass(eq=False, repr=False)
class App:
    name: str
    summary: ModuleSummary
    node: cst.CSTNode
    call: cst.Call | None
    preconf: list[ConfigWrite] = field(default_factory=list)
    preconf_opaque: list[str] = field(default_factory=list)
    runtime_sources: list[str] = field(default_factory=list)
    """Runtime mappings the app reads (``conf.update(flask_app.config) in app.py:14``)."""
    source: ConfigSource | None = None
    source_ops: list[tuple[ModuleSummary, ConfOp]] = field(default_factory=list)
    namespace: str | None = None
    task_cls: tuple[ModuleSummary, cst.BaseExpression] | None = None
    task_cls_unknown: bool = False
    includes: list[str] = field(default_factory=list)

    @property
    def is_test(self) -> bool:
        return self.summary.is_test

    @property
    def label(self) -> str:
        """The app by the name Python imports it under (``shop.celery_app.app`` in a
        ``src/`` layout, not ``src.shop.celery_app.app``)."""
        return f"{self.summary.file.import_name or self.summary.name}.{self.name}"

    def __repr__(self) -> str:
        return f"<App {self.label}>"


# --------------------------------------------------------------------------- tasks
@dataclass
class OptionExpr:
    """A task option as written, evaluated where it was written."""

    summary: ModuleSummary
    expr: cst.BaseExpression


@dataclass
class TaskDecorator:
    apps: list[App] | None  # None: every app (shared_task)
    options: dict[str, OptionExpr | Resolved]
    opaque: str | None = None
    via: str = "the decorator"
    node: cst.CSTNode | None = None


@dataclass(eq=False, repr=False)
class Task:
    summary: ModuleSummary
    node: cst.FunctionDef | cst.ClassDef
    body: cst.FunctionDef | None
    decorator: TaskDecorator | None  # None for class-based tasks
    class_bases: list[Symbol | None] = field(default_factory=list)

    @property
    def function_name(self) -> str:
        return self.node.name.value

    @property
    def is_test(self) -> bool:
        return self.summary.is_test

    @property
    def is_class(self) -> bool:
        return isinstance(self.node, cst.ClassDef)

    def __repr__(self) -> str:
        return f"<Task {self.summary.name}.{self.function_name}>"


# ----------------------------------------------------------------------- class bodies
def class_statements(klass: cst.ClassDef) -> Iterator[cst.CSTNode]:
    body = klass.body
    if isinstance(body, cst.IndentedBlock):
        for stmt in body.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                yield from stmt.body
    elif isinstance(body, cst.SimpleStatementSuite):
        yield from body.body


def assigned_names(node: cst.CSTNode) -> Iterator[tuple[str, cst.BaseExpression | None]]:
    if isinstance(node, cst.Assign):
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                yield target.target.value, node.value
            elif isinstance(target.target, (cst.Tuple, cst.List)):
                for element in target.target.elements:
                    if isinstance(element.value, cst.Name):
                        yield element.value.value, None
    elif isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name):
        yield node.target.value, node.value
    elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
        yield node.target.value, None
