"""Static evaluation of literal expressions (numbers, strings, containers, timedelta)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Protocol

from .values import UNKNOWN_ELEMENT, CallValue

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from .scan import ModuleSummary


class NameResolver(Protocol):
    """What evaluation asks of the project: where a name comes from and the value bound to it.

    The project model provides it; evaluation depends on this much only, so the model can
    use evaluation without the two depending on each other.
    """

    def qualname_of(self, summary: ModuleSummary, expr: cst.BaseExpression) -> str | None: ...

    def evaluate_name(self, summary: ModuleSummary, name: str, depth: int) -> Any: ...

    def evaluate_attribute(self, summary: ModuleSummary, expr: cst.Attribute, depth: int) -> Any: ...


class NotEvaluable(Exception):
    """The expression's value cannot be known statically."""


# Calls kept as data for the rules that inspect them (schedules, queues).
DATA_CALLS = frozenset(
    {
        "celery.schedules.crontab",
        "celery.schedules.schedule",
        "celery.schedules.solar",
        "celery.crontab",
        "kombu.Queue",
        "kombu.Exchange",
        "kombu.entity.Queue",
        "kombu.entity.Exchange",
    }
)

_TIMEDELTA = frozenset({"datetime.timedelta", "timedelta"})
_TIMEDELTA_UNITS = {
    "days": 86400.0,
    "seconds": 1.0,
    "microseconds": 1e-6,
    "milliseconds": 1e-3,
    "minutes": 60.0,
    "hours": 3600.0,
    "weeks": 604800.0,
}
_TIMEDELTA_MAX_SECONDS = 86400.0 * 999_999_999  # timedelta.max, about
_MAX_DEPTH = 40
# Past these sizes a value is unknown, never computed: an integer of more than 4096 bits
# (about 1233 digits: well under Python's limit of 4300 digits for ``str(int)``, so any
# known number can be printed), and a string, or a container with all it holds, of more
# than 100,000 characters and elements (names bound to ``[A, A]`` or ``A + A`` level after
# level double in size at each level).
MAX_INT_BITS = 4096
MAX_VALUE_SIZE = 100_000


def evaluate(model: NameResolver, module: ModuleSummary, expr: cst.BaseExpression, depth: int = 0) -> Any:
    """The Python value of ``expr`` in ``module``; raises :class:`NotEvaluable`."""
    if depth > _MAX_DEPTH:
        raise NotEvaluable("too deep")
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        value = expr.evaluated_value
        if value is None:
            raise NotEvaluable("formatted string")
        return value
    if isinstance(expr, (cst.Integer, cst.Float)):
        try:
            number = expr.evaluated_value
        except (ValueError, SyntaxError, OverflowError) as exc:  # a literal past str(int)'s limit
            raise NotEvaluable("number") from exc
        return _checked_number(number)
    if isinstance(expr, cst.Name):
        if expr.value == "True":
            return True
        if expr.value == "False":
            return False
        if expr.value == "None":
            return None
        return model.evaluate_name(module, expr.value, depth + 1)
    if isinstance(expr, cst.Attribute):
        return model.evaluate_attribute(module, expr, depth + 1)
    if isinstance(expr, cst.UnaryOperation):
        operand = evaluate(model, module, expr.expression, depth + 1)
        if isinstance(expr.operator, cst.Minus) and _is_number(operand):
            return -operand
        if isinstance(expr.operator, cst.Plus) and _is_number(operand):
            return operand
        if isinstance(expr.operator, cst.Not):
            return not operand
        raise NotEvaluable("operator")
    if isinstance(expr, cst.BinaryOperation):
        return _binary(model, module, expr, depth)
    if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
        items: list[Any] = []
        for element in expr.elements:
            if isinstance(element, cst.StarredElement):
                raise NotEvaluable("starred element")
            try:
                items.append(evaluate(model, module, element.value, depth + 1))
            except NotEvaluable:
                items.append(UNKNOWN_ELEMENT)
        _check_size(items)
        if isinstance(expr, cst.List):
            return items
        if isinstance(expr, cst.Set):
            try:
                return frozenset(items)
            except TypeError as exc:
                raise NotEvaluable("unhashable") from exc
        return tuple(items)
    if isinstance(expr, cst.Dict):
        result: dict[Any, Any] = {}
        for dict_element in expr.elements:
            if not isinstance(dict_element, cst.DictElement):
                _merge_splat(model, module, dict_element.value, result, depth)
                continue
            entry = dict_element
            try:
                key = evaluate(model, module, entry.key, depth + 1)
                hash(key)
            except (NotEvaluable, TypeError):
                result[UNKNOWN_ELEMENT] = UNKNOWN_ELEMENT
                continue
            try:
                result[key] = evaluate(model, module, entry.value, depth + 1)
            except NotEvaluable:
                result[key] = UNKNOWN_ELEMENT
        _check_size(result)
        return result
    if isinstance(expr, cst.Call):
        return _call(model, module, expr, depth)
    raise NotEvaluable(type(expr).__name__)


def _merge_splat(
    model: NameResolver, module: ModuleSummary, expr: cst.BaseExpression, into: dict[Any, Any], depth: int
) -> None:
    """``{**OTHER}``: the other dict's entries, key by key; keys that cannot be known make
    the result hold an unknown key (whoever reads it then cannot claim a key is absent)."""
    try:
        value = evaluate(model, module, expr, depth + 1)
    except NotEvaluable:
        value = None
    if isinstance(value, dict):
        into.update(value)
    else:
        into[UNKNOWN_ELEMENT] = UNKNOWN_ELEMENT


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _binary(model: NameResolver, module: ModuleSummary, expr: cst.BinaryOperation, depth: int) -> Any:
    left: Any = evaluate(model, module, expr.left, depth + 1)
    right: Any = evaluate(model, module, expr.right, depth + 1)
    op = expr.operator
    try:
        if isinstance(op, cst.Add) and (
            (isinstance(left, str) and isinstance(right, str))
            or (isinstance(left, (list, tuple)) and type(left) is type(right))
        ):
            if len(left) + len(right) > MAX_VALUE_SIZE:
                raise NotEvaluable("too large")
            joined: Any = operator.add(left, right)
            _check_size(joined)
            return joined
        if _is_number(left) and _is_number(right):
            return _checked_number(_arithmetic(op, left, right))
    except (ArithmeticError, ValueError) as exc:
        raise NotEvaluable("arithmetic") from exc
    raise NotEvaluable("operator")


def _arithmetic(op: cst.BaseBinaryOp, left: int | float, right: int | float) -> Any:
    """``left op right`` for numbers, refusing (before computing it) a result too large to know."""
    if isinstance(op, cst.Add):
        return left + right
    if isinstance(op, cst.Subtract):
        return left - right
    if isinstance(op, cst.Multiply):
        if isinstance(left, int) and isinstance(right, int) and _bits(left) + _bits(right) > MAX_INT_BITS + 1:
            raise NotEvaluable("too large")
        return left * right
    if isinstance(op, cst.Divide):
        return left / right
    if isinstance(op, cst.FloorDivide):
        return left // right
    if isinstance(op, cst.Power):
        # ``(10**63)**63``: an int result has about bits(left) * right bits (a float power
        # costs no more than a multiplication, and raises OverflowError past the float range).
        big = isinstance(left, int) and isinstance(right, int) and abs(left) > 1
        if big and right > 0 and (_bits(int(left)) - 1) * right > MAX_INT_BITS:
            raise NotEvaluable("too large")
        return left**right
    raise NotEvaluable("operator")


def _bits(number: int) -> int:
    return abs(number).bit_length()


def _checked_number(number: Any) -> Any:
    """A number the analysis can carry: ints of at most MAX_INT_BITS, real results only
    (``(-8) ** 0.5`` is complex), no NaN (``1e400 - 1e400``); infinite floats are kept
    (``1e400`` is a float Celery receives as it is)."""
    if isinstance(number, int) and not isinstance(number, bool) and _bits(number) > MAX_INT_BITS:
        raise NotEvaluable("too large")
    if isinstance(number, complex):
        raise NotEvaluable("complex")
    if isinstance(number, float) and number != number:  # NaN: no option means anything by it
        raise NotEvaluable("not a number")
    return number


def _check_size(value: Any) -> None:
    """Raise NotEvaluable when ``value`` holds more than MAX_VALUE_SIZE characters and
    elements in all (counted until the budget runs out, so a shared structure that would
    unfold into millions of elements costs no more than the budget)."""
    budget = MAX_VALUE_SIZE
    stack = [value]
    while stack:
        item = stack.pop()
        budget -= 1
        if isinstance(item, str):
            budget -= len(item)
        elif isinstance(item, (list, tuple, frozenset, set)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, CallValue):
            stack.extend(item.args)
            stack.extend(item.kwargs.values())
        if budget < 0:
            raise NotEvaluable("too large")


def fresh_copy(value: Any) -> Any:
    """``value`` with its lists and dicts copied (at every level), so a value handed out
    twice (memoised) cannot be changed through one holder for another."""
    if isinstance(value, list):
        return [fresh_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: fresh_copy(item) for key, item in value.items()}
    if isinstance(value, tuple) and any(isinstance(item, (list, dict, tuple)) for item in value):
        return tuple(fresh_copy(item) for item in value)
    return value


def _call(model: NameResolver, module: ModuleSummary, expr: cst.Call, depth: int) -> Any:
    qualname = model.qualname_of(module, expr.func)
    if qualname is None:
        raise NotEvaluable("call")
    if qualname in _TIMEDELTA:
        total = 0.0
        positional = ("days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks")
        for index, arg in enumerate(expr.args):
            if arg.star:
                raise NotEvaluable("splat")
            unit = arg.keyword.value if arg.keyword else (positional[index] if index < 7 else None)
            if unit not in _TIMEDELTA_UNITS:
                raise NotEvaluable("timedelta")
            value = evaluate(model, module, arg.value, depth + 1)
            if not _is_number(value):
                raise NotEvaluable("timedelta")
            try:
                total += value * _TIMEDELTA_UNITS[unit]
            except OverflowError as exc:
                raise NotEvaluable("timedelta") from exc
        if not abs(total) <= _TIMEDELTA_MAX_SECONDS:  # also NaN: Python's timedelta refuses them
            raise NotEvaluable("timedelta")
        return total
    if qualname == "dict":
        result: dict[Any, Any] = {}
        for arg in expr.args:
            if arg.star == "**" or (not arg.star and arg.keyword is None):
                # ``dict(**LIMITS)`` and ``dict(LIMITS)`` copy a mapping key by key.
                _merge_splat(model, module, arg.value, result, depth)
                continue
            if arg.star or arg.keyword is None:
                raise NotEvaluable("dict()")
            try:
                result[arg.keyword.value] = evaluate(model, module, arg.value, depth + 1)
            except NotEvaluable:
                result[arg.keyword.value] = UNKNOWN_ELEMENT
        _check_size(result)
        return result
    if qualname in DATA_CALLS or qualname.rsplit(".", 1)[-1] in ("crontab", "Queue"):
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for arg in expr.args:
            if arg.star:
                raise NotEvaluable("splat")
            try:
                value = evaluate(model, module, arg.value, depth + 1)
            except NotEvaluable:
                value = UNKNOWN_ELEMENT
            if arg.keyword is None:
                args.append(value)
            else:
                kwargs[arg.keyword.value] = value
        call = CallValue(qualname, tuple(args), kwargs, node=expr)
        _check_size(call)
        return call
    raise NotEvaluable("call")
