"""What a task wrapper does to the ``**options`` it collects before passing them on.

``def scheduled(**opts): opts.pop("every", None); opts.setdefault("ignore_result", True);
return app.task(**opts)``: the task gets the caller's options minus the popped keys, plus
the ``setdefault`` defaults the caller did not give, plus keys the wrapper assigns. Keys
may be computed from string literals and the variable of a loop over literal strings
(``for arg in "queue", "routing_key": if arg in opts: opts["default_" + arg] =
opts.pop(arg)`` renames two options; every other option is followed as before). Any
other use of the mapping (``opts.update(x)``, passing it to another call, rebinding it)
means the options reaching the task cannot be followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .strings import static_string
from .walk import contains

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

# Reads that leave the mapping as it is.
_READ_METHODS = frozenset({"get", "keys", "values", "items", "copy"})


@dataclass(frozen=True)
class KwargsChange:
    """One change to the collected options: ``pop``, ``setdefault`` or ``set`` of ``key``,
    or ``copy`` of the option ``source`` to ``key`` (``opts["b"] = opts.pop("a")``)."""

    kind: str
    key: str
    value: cst.BaseExpression | None
    conditional: bool
    source: str | None = None


@dataclass(frozen=True)
class KwargsFlow:
    changes: tuple[KwargsChange, ...]
    opaque: str | None
    """Why the options cannot be followed, when they cannot."""


# Known string values of loop variables while a loop over literal strings is unrolled.
Bindings = dict[str, str]


def kwargs_flow(function: cst.FunctionDef, kwargs: str, inner_call: cst.Call) -> KwargsFlow:
    """The changes ``function`` makes to its ``**kwargs`` mapping, in source order."""
    changes: list[KwargsChange] = []
    for node, conditional, bindings in _nodes(function.body, False, inner_call, kwargs, {}):
        if isinstance(node, cst.Call):
            change = _method_change(node, kwargs, conditional, bindings)
            if isinstance(change, str):
                return KwargsFlow((), change)
            if change is not None:
                changes.append(change)
        elif isinstance(node, (cst.Assign, cst.Del)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                key = _subscript_key(target, kwargs, bindings)
                if key is None:
                    continue
                value = node.value if isinstance(node, cst.Assign) else None
                kind = "set" if isinstance(node, cst.Assign) else "pop"
                if key == "":
                    return KwargsFlow((), f"{kwargs}[...] is written with a computed key")
                source = _option_read(value, kwargs, bindings) if value is not None else None
                if source == "":
                    return KwargsFlow((), f"{kwargs} is read with a computed key")
                if source is not None:
                    changes.append(KwargsChange("copy", key, None, conditional, source))
                else:
                    changes.append(KwargsChange(kind, key, value, conditional))
        elif isinstance(node, cst.Name) and node.value == kwargs:
            return KwargsFlow((), f"{kwargs} is used in a way the analyzer cannot follow")
    return KwargsFlow(tuple(changes), None)


def _nodes(
    node: cst.CSTNode, conditional: bool, inner_call: cst.Call, kwargs: str, bindings: Bindings
) -> Iterator[tuple[cst.CSTNode, bool, Bindings]]:
    """Nodes under ``node`` that touch the mapping, each with 'may not run' and the loop
    variables known there; the inner call (which passes the mapping on) and the parts of
    a recognised change are skipped."""
    for child in node.children:
        yield from _visit(child, conditional, inner_call, kwargs, bindings)


def _visit(
    child: cst.CSTNode, conditional: bool, inner_call: cst.Call, kwargs: str, bindings: Bindings
) -> Iterator[tuple[cst.CSTNode, bool, Bindings]]:
    """What :func:`_nodes` yields for ``child`` and the nodes under it."""
    if child is inner_call:
        return
    if isinstance(child, (cst.FunctionDef, cst.Lambda)) and _rebinds(child, kwargs):
        # ``def call_task(item, **kwargs)`` nested in the wrapper: another mapping.
        return
    if isinstance(child, cst.For):
        unrolled = _literal_strings_loop(child, bindings)
        if unrolled is not None:
            variable, values = unrolled
            # The body runs once per value; a jump out of it may skip the rest.
            body_conditional = conditional or _has_jump(child.body)
            for value in values:
                yield from _nodes(
                    child.body, body_conditional, inner_call, kwargs, {**bindings, variable: value}
                )
            if child.orelse is not None:
                yield from _nodes(child.orelse, body_conditional, inner_call, kwargs, bindings)
            return
    if isinstance(child, cst.Comparison) and _is_membership_test(child, kwargs):
        # ``"queue" in opts``: a read, the mapping stays as it is.
        yield from _visit(child.left, conditional, inner_call, kwargs, bindings)
        return
    if isinstance(child, (cst.Call, cst.Assign, cst.Del, cst.Name)):
        yield child, conditional, bindings
        if isinstance(child, cst.Call) and isinstance(child.func, cst.Attribute):
            # A method of the mapping was judged with the call; its arguments may hold more uses.
            receiver = child.func.value
            if not (isinstance(receiver, cst.Name) and receiver.value == kwargs):
                yield from _visit(receiver, conditional, inner_call, kwargs, bindings)
            for arg in child.args:
                yield from _nodes(arg, conditional, inner_call, kwargs, bindings)
            return
        if isinstance(child, (cst.Assign, cst.Del)):
            targets = [t.target for t in child.targets] if isinstance(child, cst.Assign) else [child.target]
            for target in targets:
                if isinstance(target, cst.Subscript):
                    yield from _nodes(target.slice[0], conditional, inner_call, kwargs, bindings)
                else:
                    yield from _visit(target, conditional, inner_call, kwargs, bindings)
            if isinstance(child, cst.Assign):
                yield from _visit(child.value, conditional, inner_call, kwargs, bindings)
            return
        if isinstance(child, cst.Name):
            return
    if isinstance(child, cst.Subscript) and isinstance(child.value, cst.Name) and child.value.value == kwargs:
        # ``opts["key"]`` read: the mapping stays as it is.
        yield from _nodes(child.slice[0], conditional, inner_call, kwargs, bindings)
        return
    nested = conditional or _is_branch(child)
    if isinstance(child, (cst.FunctionDef, cst.Lambda)) and not contains(child, inner_call):
        nested = True
    yield from _nodes(child, nested, inner_call, kwargs, bindings)


def _rebinds(function: cst.FunctionDef | cst.Lambda, name: str) -> bool:
    """``function`` has a parameter called ``name``, which hides the wrapper's own."""
    params = function.params
    every = [*params.posonly_params, *params.params, *params.kwonly_params]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    return any(param.name.value == name for param in every)


def _literal_strings_loop(loop: cst.For, bindings: Bindings) -> tuple[str, list[str]] | None:
    """``for arg in "queue", "routing_key":``: the loop variable and the strings it takes."""
    if loop.asynchronous is not None or not isinstance(loop.target, cst.Name):
        return None
    if not isinstance(loop.iter, (cst.Tuple, cst.List, cst.Set)) or not loop.iter.elements:
        return None
    values: list[str] = []
    for element in loop.iter.elements:
        if isinstance(element, cst.StarredElement):
            return None
        value = _string_value(element.value, bindings)
        if value is None:
            return None
        values.append(value)
    return loop.target.value, values


def _has_jump(node: cst.CSTNode) -> bool:
    if isinstance(node, (cst.Break, cst.Continue, cst.Return, cst.Raise)):
        return True
    if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
        return False
    return any(_has_jump(child) for child in node.children)


def _is_membership_test(comparison: cst.Comparison, kwargs: str) -> bool:
    """``key in opts`` / ``key not in opts``."""
    return len(comparison.comparisons) == 1 and (
        isinstance(comparison.comparisons[0].operator, (cst.In, cst.NotIn))
        and isinstance(comparison.comparisons[0].comparator, cst.Name)
        and comparison.comparisons[0].comparator.value == kwargs
    )


def _string_value(expr: cst.BaseExpression, bindings: Bindings) -> str | None:
    """The string ``expr`` always gives, loop variables of a loop over literal strings known."""
    return static_string(expr, lambda leaf: bindings.get(leaf.value) if isinstance(leaf, cst.Name) else None)


def _is_branch(node: cst.CSTNode) -> bool:
    """Children of these may or may not run when the wrapper runs."""
    return isinstance(node, (cst.If, cst.For, cst.While, cst.Try, cst.IfExp, cst.BooleanOperation))


def _method_change(
    call: cst.Call, kwargs: str, conditional: bool, bindings: Bindings
) -> KwargsChange | str | None:
    func = call.func
    if not (
        isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == kwargs
    ):
        return None
    method = func.attr.value
    if method in _READ_METHODS:
        return None
    if method not in ("pop", "setdefault") or not call.args or call.args[0].keyword or call.args[0].star:
        return f"{kwargs}.{method}(...) changes the options"
    key = _string_value(call.args[0].value, bindings)
    if key is None:
        return f"{kwargs}.{method}(...) has a computed key"
    if method == "pop":
        return KwargsChange("pop", key, None, conditional)
    value = call.args[1].value if len(call.args) > 1 else cst.Name("None")
    return KwargsChange("setdefault", key, value, conditional)


def _option_read(value: cst.BaseExpression, kwargs: str, bindings: Bindings) -> str | None:
    """The option ``value`` reads from the mapping (``opts.pop(key)``, ``opts.get(key)``,
    ``opts[key]``): its key, "" when computed, None when ``value`` is not such a read."""
    if isinstance(value, cst.Subscript):
        key = _subscript_key(value, kwargs, bindings)
        return key
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and isinstance(value.func.value, cst.Name)
        and value.func.value.value == kwargs
        and value.func.attr.value in ("pop", "get")
        and len(value.args) == 1
        and not value.args[0].keyword
        and not value.args[0].star
    ):
        key = _string_value(value.args[0].value, bindings)
        return "" if key is None else key
    return None


def _subscript_key(target: cst.BaseExpression, kwargs: str, bindings: Bindings) -> str | None:
    """``kwargs["key"]`` as an assignment or ``del`` target: the key; "" when computed."""
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)):
        return None
    if target.value.value != kwargs:
        return None
    if len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
        key = _string_value(target.slice[0].slice.value, bindings)
        if key is not None:
            return key
    return ""
