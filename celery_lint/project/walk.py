"""A fast read-only walk over LibCST trees.

``CSTNode.visit`` rebuilds every node it passes (it is the transformer machinery), which
costs several times the parse. Linting only reads, so this walker follows the syntactic
fields of each node type directly and skips whitespace, commas and parentheses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst


# Fields that only hold formatting; they never contain code.
_FORMATTING_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "comma",
        "semicolon",
        "leading_lines",
        "lines_after_decorators",
        "trailing_whitespace",
        "header",
        "footer",
        "dot",
        "equal",
        "colon",
        "newline",
        "indent",
        "star",
        "star_tok",
        "arrow",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "asynchronous",
        "whitespace",
        "first_line",
        "empty_lines",
        "default_indent",
        "default_newline",
        "encoding",
        "has_trailing_newline",
    }
)

_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(node_type: type) -> tuple[str, ...]:
    names = _FIELDS.get(node_type)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(node_type)
            if f.name not in _FORMATTING_FIELDS and not f.name.startswith("whitespace")
        )
        _FIELDS[node_type] = names
    return names


# type -> True for CST nodes, False otherwise; a dict lookup instead of an ABC isinstance check.
_IS_NODE: dict[type, bool] = {}


def _is_node(value_type: type) -> bool:
    known = _IS_NODE.get(value_type)
    if known is None:
        known = _IS_NODE[value_type] = issubclass(value_type, cst.CSTNode)
    return known


def contains(node: cst.CSTNode, target: cst.CSTNode) -> bool:
    """``target`` is ``node`` or one of the nodes under it (by identity)."""
    return node is target or any(contains(child, target) for child in node.children)


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The syntactic children of ``node``, in field order."""
    found: list[cst.CSTNode] = []
    is_node = _IS_NODE
    names = _FIELDS.get(type(node)) or _fields(type(node))
    for name in names:
        value = getattr(node, name)
        value_type = type(value)
        if value_type is list or value_type is tuple:
            for item in value:
                item_type = type(item)
                known = is_node.get(item_type)
                if known is None:
                    known = _is_node(item_type)
                if known:
                    found.append(item)
        else:
            known = is_node.get(value_type)
            if known is None:
                known = _is_node(value_type)
            if known:
                found.append(value)
    return found


class Walker:
    """Calls ``visit_<NodeType>`` / ``leave_<NodeType>`` methods defined on a subclass.

    A ``visit_`` method that returns ``False`` skips the node's children. The walk is
    iterative, so deeply nested expressions cannot exhaust the Python stack.
    """

    # Per subclass: node type -> its visit_/leave_ function (unbound). Instances keep no
    # bound methods, so a walker is not a reference cycle and dies with its last reference.
    _visit_functions: ClassVar[dict[type, Callable[[Any, Any], Any] | None]] = {}
    _leave_functions: ClassVar[dict[type, Callable[[Any, Any], Any] | None]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._visit_functions = {}
        cls._leave_functions = {}

    def on_visit(self, node: cst.CSTNode) -> bool:
        node_type = type(node)
        functions = type(self)._visit_functions
        try:
            function = functions[node_type]
        except KeyError:
            function = functions[node_type] = getattr(type(self), "visit_" + node_type.__name__, None)
        if function is None:
            return True
        return function(self, node) is not False

    def on_leave(self, node: cst.CSTNode) -> None:
        node_type = type(node)
        functions = type(self)._leave_functions
        try:
            function = functions[node_type]
        except KeyError:
            function = functions[node_type] = getattr(type(self), "leave_" + node_type.__name__, None)
        if function is not None:
            function(self, node)

    def walk(self, root: cst.CSTNode) -> None:
        # Each stack entry: (node, leaving?). Unless a subclass has its own ``on_leave``, a
        # node whose type has no leave_ function gets no leaving entry: most nodes have
        # none, and the walk is a large share of a run.
        stack: list[tuple[cst.CSTNode, bool]] = [(root, False)]
        on_visit = self.on_visit
        on_leave = self.on_leave
        every_leave = type(self).on_leave is not Walker.on_leave
        leave_functions = type(self)._leave_functions
        while stack:
            node, leaving = stack.pop()
            if leaving:
                on_leave(node)
                continue
            if on_visit(node):
                if every_leave:
                    stack.append((node, True))
                else:
                    node_type = type(node)
                    if node_type not in leave_functions:
                        leave_functions[node_type] = getattr(type(self), "leave_" + node_type.__name__, None)
                    if leave_functions[node_type] is not None:
                        stack.append((node, True))
                kids = children(node)
                kids.reverse()
                stack.extend([(child, False) for child in kids])
            else:
                on_leave(node)


class _OwnReturns(Walker):
    def __init__(self, function: cst.FunctionDef) -> None:
        super().__init__()
        self.function = function
        self.values: list[cst.BaseExpression | None] = []
        self.generator = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.function

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        self.values.append(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        self.generator = True


@dataclasses.dataclass(frozen=True)
class Returns:
    """What one function's own ``return`` statements give (a bare ``return``: None), and
    whether it yields; its nested functions, lambdas and classes are theirs."""

    values: tuple[cst.BaseExpression | None, ...]
    generator: bool


def own_returns(function: cst.FunctionDef) -> Returns:
    walker = _OwnReturns(function)
    walker.walk(function)
    return Returns(tuple(walker.values), walker.generator)
