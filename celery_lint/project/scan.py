"""One pass over a module's CST that records what the project model needs.

The scanner keeps its own import and binding tables (cheap) instead of LibCST's
qualified-name and scope metadata (about ten times the cost of parsing).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .files import SourceFile
from .strings import static_string
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

CONF_METHODS = frozenset({"update", "setdefault"})


@dataclass
class Binding:
    """A module-level name bound by an assignment."""

    value: cst.BaseExpression | None
    """The assigned expression; None for bindings the analyzer cannot follow (unpacking, loops)."""
    node: cst.CSTNode
    conditional: bool


@dataclass(repr=False)
class ConfOp:
    """A write to an app's configuration: ``X.conf.update(...)``, ``X.conf.k = v``, ..."""

    kind: str  # "update", "setdefault", "attr", "item", "config_from_object", "autodiscover", "periodic"
    receiver: cst.BaseExpression
    node: cst.CSTNode
    call: cst.Call | None = None
    key: str | None = None
    value: cst.BaseExpression | None = None
    in_function: bool = False
    conditional: bool = False
    """Inside an ``if``/``try``/loop: the write may or may not happen."""


@dataclass(repr=False)
class ModuleSummary:
    file: SourceFile
    tree: cst.Module
    imports: dict[str, str] = field(default_factory=dict)
    star_imports: list[str] = field(default_factory=list)
    optional_stars: set[int] = field(default_factory=set)
    """ids of star imports guarded by ``except ImportError``, ``suppress(ImportError)`` or
    an ``if`` that checks a file or module exists."""
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)
    classes: dict[str, cst.ClassDef] = field(default_factory=dict)
    decorated: list[cst.FunctionDef] = field(default_factory=list)
    all_classes: list[cst.ClassDef] = field(default_factory=list)
    conf_ops: list[ConfOp] = field(default_factory=list)
    settings_module_env: list[tuple[str | None, cst.CSTNode]] = field(default_factory=list)
    """DJANGO_SETTINGS_MODULE values this module sets; None for a computed value."""
    ordered: list[tuple[cst.CSTNode, bool]] = field(default_factory=list)
    """Module-level assignments, star imports and call statements in order, each with its
    'conditional' flag."""

    @property
    def name(self) -> str:
        return self.file.module

    @property
    def is_test(self) -> bool:
        return self.file.is_test

    def __repr__(self) -> str:
        return f"<ModuleSummary {self.name}>"

    def defines(self, name: str) -> bool:
        return name in self.bindings or name in self.functions or name in self.classes

    def detached(self) -> dict[str, Any]:
        """Every field but the file, to be kept between runs (the summary store pickles it:
        nodes stay shared with the tree). The optional star imports are kept as nodes, their
        ids are this process's."""
        state = {name: getattr(self, name) for name in _KEPT_FIELDS}
        stars = [node for node, _ in self.ordered if id(node) in self.optional_stars]
        if len(stars) != len(self.optional_stars):
            raise ValueError("an optional star import is not a module-level statement")
        state["optional_stars"] = stars
        return state

    @classmethod
    def attached(cls, file: SourceFile, state: Any) -> ModuleSummary | None:
        """The summary :meth:`detached` gave ``state`` for, now for ``file``; None when
        ``state`` is not such a summary."""
        if (
            not isinstance(state, dict)
            or state.keys() != _KEPT_FIELDS
            or not isinstance(state["tree"], cst.Module)
        ):
            return None
        stars = state["optional_stars"]
        if not isinstance(stars, list):
            return None
        summary = cls(file=file, **{**state, "optional_stars": {id(node) for node in stars}})
        return summary


def summary_inputs(file: SourceFile) -> tuple[str, ...]:
    """What a module's summary depends on besides its bytes and the code that makes it:
    its import name and whether it is a package (relative imports), and the name of its
    folder (``os.path.basename(os.path.dirname(__file__))``)."""
    return file.module, "package" if file.is_package else "module", file.path.parent.name


_KEPT_FIELDS = frozenset(f.name for f in fields(ModuleSummary)) - {"file"}


def dotted_name(expr: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    node: cst.BaseExpression = expr
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def _module_of_import(node: cst.ImportFrom, package: str) -> str | None:
    module = dotted_name(node.module) if node.module is not None else ""
    if module is None:
        return None
    level = len(node.relative)
    if level == 0:
        return module
    base = package.split(".") if package else []
    if level > 1:
        base = base[: len(base) - (level - 1)] if level - 1 <= len(base) else []
    prefix = ".".join(base)
    if module:
        return f"{prefix}.{module}" if prefix else module
    return prefix


class _Scanner(Walker):
    def __init__(self, summary: ModuleSummary) -> None:
        super().__init__()
        self.s = summary
        file = summary.file
        self.package = file.module if file.is_package else file.module.rpartition(".")[0]
        self.function_depth = 0
        self.class_depth = 0
        self.block_depth = 0  # if/try/with/for/while at module level
        self.branch_depth = 0  # if/try/for/while at any level

    # -- imports -----------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        if self.function_depth or self.class_depth:
            return
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.s.imports[alias.asname.name.value] = full
            else:
                head = full.split(".")[0]
                self.s.imports.setdefault(head, head)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if self.function_depth or self.class_depth:
            return
        module = _module_of_import(node, self.package)
        if module is None:
            return
        if isinstance(node.names, cst.ImportStar):
            self.s.star_imports.append(module)
            self.s.ordered.append((node, self.block_depth > 0))
            return
        for alias in node.names:
            name = alias.name.value if isinstance(alias.name, cst.Name) else dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.s.imports[local] = f"{module}.{name}" if module else name

    # -- blocks ----------------------------------------------------------------------
    def _enter_block(self) -> None:
        if not self.function_depth and not self.class_depth:
            self.block_depth += 1

    def _leave_block(self) -> None:
        if not self.function_depth and not self.class_depth:
            self.block_depth -= 1

    def visit_If(self, node: cst.If) -> None:
        self._enter_block()
        self.branch_depth += 1
        if not self.function_depth and not self.class_depth and _checks_existence(node.test):
            # ``if os.path.isfile(join(HERE, "private.py")): from .private import *``
            self._mark_optional_stars(node.body)

    def leave_If(self, original_node: cst.If) -> None:
        self._leave_block()
        self.branch_depth -= 1

    def visit_Try(self, node: cst.Try) -> None:
        self._enter_block()
        self.branch_depth += 1
        if (
            not self.function_depth
            and not self.class_depth
            and any(handler.type is None or _catches_import_error(handler.type) for handler in node.handlers)
        ):
            self._mark_optional_stars(node.body)

    def _mark_optional_stars(self, block: cst.BaseSuite) -> None:
        if not isinstance(block, cst.IndentedBlock):
            return
        for stmt in block.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.ImportFrom) and isinstance(small.names, cst.ImportStar):
                        self.s.optional_stars.add(id(small))

    def leave_Try(self, original_node: cst.Try) -> None:
        self._leave_block()
        self.branch_depth -= 1

    def visit_For(self, node: cst.For) -> None:
        self._enter_block()
        self.branch_depth += 1

    def leave_For(self, original_node: cst.For) -> None:
        self._leave_block()
        self.branch_depth -= 1

    def visit_While(self, node: cst.While) -> None:
        self._enter_block()
        self.branch_depth += 1

    def leave_While(self, original_node: cst.While) -> None:
        self._leave_block()
        self.branch_depth -= 1

    def visit_With(self, node: cst.With) -> None:
        self._enter_block()
        if not self.function_depth and not self.class_depth:
            for item in node.items:
                call = item.item
                if (
                    isinstance(call, cst.Call)
                    and (dotted_name(call.func) or "").rpartition(".")[2] == "suppress"
                    and any(_catches_import_error(arg.value) for arg in call.args if arg.keyword is None)
                ):
                    self._mark_optional_stars(node.body)

    def leave_With(self, original_node: cst.With) -> None:
        self._leave_block()

    # -- definitions -------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        if not self.function_depth and not self.class_depth:
            self.s.functions[node.name.value] = node
        if (node.decorators and not self.class_depth) or (
            node.decorators and self.class_depth and self.function_depth
        ):
            self.s.decorated.append(node)
        self.function_depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.function_depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not self.function_depth and not self.class_depth:
            self.s.classes[node.name.value] = node
        self.s.all_classes.append(node)
        self.class_depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.class_depth -= 1

    # -- assignments ---------------------------------------------------------------------
    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression | None, node: cst.CSTNode) -> None:
        if isinstance(target, cst.Name):
            self.s.bindings.setdefault(target.value, []).append(
                Binding(value, node, conditional=self.block_depth > 0)
            )
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                if isinstance(element, cst.Element):
                    self._bind(element.value, None, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        at_module = not self.function_depth and not self.class_depth
        if at_module:
            self.s.ordered.append((node, self.block_depth > 0))
            for target in node.targets:
                self._bind(target.target, node.value, node)
        for target in node.targets:
            self._conf_assignment(target.target, node.value, node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if not self.function_depth and not self.class_depth:
            self.s.ordered.append((node, self.block_depth > 0))
            self._bind(node.target, node.value, node)
        if node.value is not None:
            self._conf_assignment(node.target, node.value, node)

    def visit_Expr(self, node: cst.Expr) -> None:
        # ``include("base.py")``, ``Settings.export(__name__)``, ``globals().update(...)``:
        # module-level calls that may set the module's names.
        if not self.function_depth and not self.class_depth and isinstance(node.value, cst.Call):
            self.s.ordered.append((node.value, self.block_depth > 0))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if not self.function_depth and not self.class_depth and isinstance(node.target, cst.Name):
            self.s.ordered.append((node, self.block_depth > 0))
            self._bind(node.target, None, node)

    def _conf_assignment(
        self, target: cst.BaseExpression, value: cst.BaseExpression, node: cst.CSTNode
    ) -> None:
        # X.conf.key = value
        if (
            isinstance(target, cst.Attribute)
            and isinstance(target.value, cst.Attribute)
            and target.value.attr.value == "conf"
        ):
            self.s.conf_ops.append(
                ConfOp(
                    "attr",
                    target.value.value,
                    node,
                    key=target.attr.value,
                    value=value,
                    in_function=self.function_depth > 0,
                    conditional=self.branch_depth > 0,
                )
            )
        # X.conf["key"] = value
        elif (
            isinstance(target, cst.Subscript)
            and isinstance(target.value, cst.Attribute)
            and target.value.attr.value == "conf"
            and len(target.slice) == 1
            and isinstance(target.slice[0].slice, cst.Index)
            and isinstance(target.slice[0].slice.value, cst.SimpleString)
        ):
            key = target.slice[0].slice.value.evaluated_value
            if isinstance(key, str):
                self.s.conf_ops.append(
                    ConfOp(
                        "item",
                        target.value.value,
                        node,
                        key=key,
                        value=value,
                        in_function=self.function_depth > 0,
                        conditional=self.branch_depth > 0,
                    )
                )
        # os.environ["DJANGO_SETTINGS_MODULE"] = "proj.settings"
        elif (
            isinstance(target, cst.Subscript)
            and dotted_name(target.value) == "os.environ"
            and len(target.slice) == 1
            and isinstance(target.slice[0].slice, cst.Index)
            and isinstance(target.slice[0].slice.value, cst.SimpleString)
            and target.slice[0].slice.value.evaluated_value == "DJANGO_SETTINGS_MODULE"
        ):
            self.s.settings_module_env.append((self._module_name(value, 0), node))

    def _module_name(self, expr: cst.BaseExpression, depth: int) -> str | None:
        """A settings module name as the module computes it: literals and operations on
        strings (``f"{PROJECT}.settings.prod"``), module-level names bound once to such, and
        the name of the folder holding this file (``os.path.basename(os.path.dirname(__file__))``)."""
        if depth > 5:
            return None

        def leaf(node: cst.BaseExpression) -> str | None:
            if isinstance(node, cst.Name):
                bindings = self.s.bindings.get(node.value, [])
                if len(bindings) != 1 or bindings[0].conditional or bindings[0].value is None:
                    return None
                return self._module_name(bindings[0].value, depth + 1)
            return self.s.file.path.parent.name if _folder_of_this_file(node) else None

        return static_string(expr, leaf)

    # -- calls ---------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return
        method = func.attr.value
        owner = func.value
        in_function = self.function_depth > 0
        if method in CONF_METHODS and isinstance(owner, cst.Attribute) and owner.attr.value == "conf":
            self.s.conf_ops.append(
                ConfOp(
                    method,
                    owner.value,
                    node,
                    call=node,
                    in_function=in_function,
                    conditional=self.branch_depth > 0,
                )
            )
        elif method == "config_from_object":
            self.s.conf_ops.append(
                ConfOp("config_from_object", owner, node, call=node, in_function=in_function)
            )
        elif method == "add_periodic_task":
            self.s.conf_ops.append(ConfOp("periodic", owner, node, call=node, in_function=in_function))
        elif method == "autodiscover_tasks":
            self.s.conf_ops.append(ConfOp("autodiscover", owner, node, call=node, in_function=in_function))
        elif method == "setdefault" and dotted_name(owner) in ("os.environ", "environ"):
            args = node.args
            if (
                len(args) >= 2
                and isinstance(args[0].value, cst.SimpleString)
                and args[0].value.evaluated_value == "DJANGO_SETTINGS_MODULE"
            ):
                self.s.settings_module_env.append((self._module_name(args[1].value, 0), node))


def _folder_of_this_file(expr: cst.BaseExpression) -> bool:
    """``os.path.basename(os.path.dirname(__file__))``, also with ``abspath``/``realpath``
    around ``__file__``: the name of the folder holding the module."""
    if not (isinstance(expr, cst.Call) and len(expr.args) == 1):
        return False
    if (dotted_name(expr.func) or "").rpartition(".")[2] != "basename":
        return False
    inner = expr.args[0].value
    if not (isinstance(inner, cst.Call) and len(inner.args) == 1):
        return False
    if (dotted_name(inner.func) or "").rpartition(".")[2] != "dirname":
        return False
    path = inner.args[0].value
    while (
        isinstance(path, cst.Call)
        and len(path.args) == 1
        and (dotted_name(path.func) or "").rpartition(".")[2] in ("abspath", "realpath")
    ):
        path = path.args[0].value
    return isinstance(path, cst.Name) and path.value == "__file__"


def scan_module(file: SourceFile) -> ModuleSummary | None:
    tree = file.tree
    if tree is None:
        return None
    summary = ModuleSummary(file=file, tree=tree)
    _Scanner(summary).walk(tree)
    return summary


# Calls that ask whether a file or module is there: ``os.path.isfile``, ``Path.exists``, ...
_EXISTENCE_CHECKS = frozenset({"isfile", "exists", "is_file", "lexists", "find_spec", "access"})


def _checks_existence(test: cst.BaseExpression) -> bool:
    """An ``if`` test that holds when a file or module exists (also within ``and``)."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _checks_existence(test.left) or _checks_existence(test.right)
    if isinstance(test, cst.Comparison):
        # ``find_spec("x") is not None``
        return _checks_existence(test.left)
    if not isinstance(test, cst.Call):
        return False
    func = test.func
    name = func.attr.value if isinstance(func, cst.Attribute) else dotted_name(func)
    return name in _EXISTENCE_CHECKS


def _catches_import_error(expr: cst.BaseExpression) -> bool:
    """``ImportError``, ``ModuleNotFoundError`` or ``Exception``, alone or in a tuple."""
    if isinstance(expr, cst.Tuple):
        return any(_catches_import_error(e.value) for e in expr.elements)
    name = dotted_name(expr)
    return name is not None and name.rpartition(".")[2] in (
        "ImportError",
        "ModuleNotFoundError",
        "Exception",
        "BaseException",
    )
