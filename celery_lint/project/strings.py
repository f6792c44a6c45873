"""Strings a module computes from literals: ``"default_{0}".format(arg)``, ``f"{NAME}.settings"``,
``"a" + b``, ``"%s_x" % y``, where the caller says what the names (and other leaves) stand for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

Leaf = Callable[["cst.BaseExpression"], "str | None"]
"""The string value of an expression that is not a literal or an operation on strings."""


def static_string(expr: cst.BaseExpression, leaf: Leaf) -> str | None:
    """The string ``expr`` always gives: literals, and ``+``, ``%``, ``str.format`` and
    f-strings of strings; ``leaf`` gives the value of any other expression (a name, a call)
    or None. None when some part cannot be known."""
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    if isinstance(expr, cst.FormattedString):
        pieces: list[str] = []
        for part in expr.parts:
            if isinstance(part, cst.FormattedStringText):
                pieces.append(part.value)
                continue
            if not isinstance(part, cst.FormattedStringExpression):
                return None
            if part.conversion is not None or part.format_spec is not None:
                return None
            value = static_string(part.expression, leaf)
            if value is None:
                return None
            pieces.append(value)
        return "".join(pieces)
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, (cst.Add, cst.Modulo)):
        left = static_string(expr.left, leaf)
        if left is None:
            return None
        if isinstance(expr.operator, cst.Add):
            right = static_string(expr.right, leaf)
            return None if right is None else left + right
        operands = _strings(expr.right, leaf)
        if operands is None:
            return None
        try:
            return left % operands
        except (TypeError, ValueError, KeyError):
            return None
    if (
        isinstance(expr, cst.Call)
        and isinstance(expr.func, cst.Attribute)
        and expr.func.attr.value == "format"
    ):
        template = static_string(expr.func.value, leaf)
        if template is None:
            return None
        positional: list[str] = []
        named: dict[str, str] = {}
        for arg in expr.args:
            value = static_string(arg.value, leaf) if not arg.star else None
            if value is None:
                return None
            if arg.keyword is None:
                positional.append(value)
            else:
                named[arg.keyword.value] = value
        try:
            return template.format(*positional, **named)
        except (IndexError, KeyError, ValueError, AttributeError):
            return None
    return leaf(expr)


def _strings(expr: cst.BaseExpression, leaf: Leaf) -> str | tuple[str, ...] | None:
    """The right operand of ``%``: one string or a tuple of strings."""
    if isinstance(expr, cst.Tuple):
        values = [
            static_string(element.value, leaf)
            for element in expr.elements
            if not isinstance(element, cst.StarredElement)
        ]
        if len(values) != len(expr.elements) or any(value is None for value in values):
            return None
        return tuple(value for value in values if value is not None)
    return static_string(expr, leaf)
