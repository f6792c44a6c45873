"""Local scopes of functions: the names a function binds, and to what.

Two views, kept apart on purpose because rules depend on their exact extent:
:func:`scope_of` records each binding with its kind and value (parameters apart, nested
scopes excluded, ``global``/``nonlocal`` noted) for following a local name back to where
it was bound; :func:`local_names` is the plain set of names a function binds itself,
comprehension variables and bare annotations included, for telling a local name from a
module-level one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .scan import dotted_name
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst


@dataclass
class Binding:
    kind: str  # "assign", "unpack", "for", "with", "other"
    value: cst.BaseExpression | None
    index: int = 0  # position in a tuple target ("unpack")
    imported: tuple[int, str, str] | None = None
    """``from module import name``: (relative level, module as written, name) of the import."""


@dataclass(eq=False)
class Scope:
    """The names one function binds (its parameters and assignments; nested scopes excluded)."""

    node: cst.FunctionDef
    params: dict[str, cst.Param] = field(default_factory=dict)
    first_param: str | None = None
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)

    def binds(self, name: str) -> bool:
        return name in self.params or name in self.bindings

    def assigned(self, name: str) -> list[Binding] | None:
        """Every binding of a local name that is not a parameter; None otherwise."""
        if name in self.params:
            return None
        return self.bindings.get(name)


class _ScopeCollector(Walker):
    def __init__(self, scope: Scope) -> None:
        super().__init__()
        self.scope = scope

    def _add(self, name: str, binding: Binding) -> None:
        self.scope.bindings.setdefault(name, []).append(binding)

    def _target(self, target: cst.BaseExpression, value: cst.BaseExpression | None, kind: str) -> None:
        if isinstance(target, cst.Name):
            self._add(target.value, Binding(kind, value))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for index, element in enumerate(target.elements):
                inner = element.value
                if isinstance(inner, cst.Name) and isinstance(element, cst.Element):
                    unpack = "unpack" if kind == "assign" else kind
                    self._add(inner.value, Binding(unpack, value, index))
                else:
                    self._target(inner, None, "other")
        elif isinstance(target, cst.StarredElement):
            self._target(target.value, None, "other")

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._add(node.name.value, Binding("other", None))
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._add(node.name.value, Binding("other", None))
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._target(target.target, node.value, "assign")

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._target(node.target, node.value, "assign")

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target, None, "other")

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._target(node.target, node.value, "assign")

    def visit_For(self, node: cst.For) -> None:
        self._target(node.target, node.iter, "for")

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._target(node.asname.name, node.item, "with")

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._target(node.name.name, None, "other")

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            if alias.asname is not None:
                self._target(alias.asname.name, None, "other")
            else:
                head = (dotted_name(alias.name) or "").split(".")[0]
                if head:
                    self._add(head, Binding("other", None))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        module = dotted_name(node.module) if node.module is not None else ""
        for alias in node.names:
            local = alias.asname.name if alias.asname is not None else alias.name
            if isinstance(local, cst.Name):
                name = alias.name.value if isinstance(alias.name, cst.Name) else None
                source = (len(node.relative), module, name) if module is not None and name else None
                self._add(local.value, Binding("other", None, imported=source))
            elif alias.asname is not None:
                self._target(alias.asname.name, None, "other")

    def visit_Global(self, node: cst.Global) -> None:
        self.scope.globals.update(item.name.value for item in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.scope.nonlocals.update(item.name.value for item in node.names)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self._add(node.name.value, Binding("other", None))

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self._add(node.name.value, Binding("other", None))

    def visit_Del(self, node: cst.Del) -> None:
        self._target(node.target, None, "other")


def scope_of(func: cst.FunctionDef) -> Scope:
    scope = Scope(func)
    params = func.params
    ordered = [*params.posonly_params, *params.params]
    for param in [*ordered, *params.kwonly_params]:
        scope.params[param.name.value] = param
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            scope.params[star.name.value] = star
    if ordered:
        scope.first_param = ordered[0].name.value
    collector = _ScopeCollector(scope)
    body = func.body
    if isinstance(body, cst.IndentedBlock):
        for stmt in body.body:
            collector.walk(stmt)
    else:
        for small in body.body:
            collector.walk(small)
    return scope


class _LocalNames(Walker):
    """Names a function binds itself (parameters, assignments, loops, imports, ``as``)."""

    def __init__(self, root: cst.FunctionDef) -> None:
        super().__init__()
        self.root = root
        self.names: set[str] = set()

    def _target(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.names.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._target(element.value)
        elif isinstance(target, cst.StarredElement):
            self._target(target.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        if node is self.root:
            for param in (
                *node.params.posonly_params,
                *node.params.params,
                *node.params.kwonly_params,
            ):
                self.names.add(param.name.value)
            for star in (node.params.star_arg, node.params.star_kwarg):
                if isinstance(star, cst.Param):
                    self.names.add(star.name.value)
            return True
        self.names.add(node.name.value)
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._target(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._target(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._target(node.target)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._target(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._target(node.name)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            dotted = dotted_name(node.name)
            if dotted is not None:
                self.names.add(dotted.split(".")[0])


def local_names(function: cst.FunctionDef) -> set[str]:
    finder = _LocalNames(function)
    finder.walk(function)
    return finder.names


class _Names(Walker):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        # Only the head of ``a.b.c`` is a name that is looked up.
        self.walk(node.value)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        # ``f(countdown=x)``: the keyword is not a name that is looked up.
        self.walk(node.value)
        return False


def names_in(expr: cst.CSTNode) -> set[str]:
    finder = _Names()
    finder.walk(expr)
    return finder.names
