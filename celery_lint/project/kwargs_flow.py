"""What a task wrapper does to the ``**options`` it collects before passing them on.

``def scheduled(**opts): opts.pop("every", None); opts.setdefault("ignore_result", True);
return app.task(**opts)``: the task gets the caller's options minus the popped keys, plus
the ``setdefault`` defaults the caller did not give, plus keys the wrapper assigns. Any
other use of the mapping (``opts.update(x)``, passing it to another call, rebinding it)
means the options reaching the task cannot be followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

# Reads that leave the mapping as it is.
_READ_METHODS = frozenset({"get", "keys", "values", "items", "copy"})


@dataclass(frozen=True)
class KwargsChange:
    """One change to the collected options: ``pop``, ``setdefault`` or ``set`` of ``key``."""

    kind: str
    key: str
    value: cst.BaseExpression | None
    conditional: bool


@dataclass(frozen=True)
class KwargsFlow:
    changes: tuple[KwargsChange, ...]
    opaque: str | None
    """Why the options cannot be followed, when they cannot."""


def kwargs_flow(function: cst.FunctionDef, kwargs: str, inner_call: cst.Call) -> KwargsFlow:
    """The changes ``function`` makes to its ``**kwargs`` mapping, in source order."""
    changes: list[KwargsChange] = []
    for node, conditional in _nodes(function.body, False, inner_call, kwargs):
        if isinstance(node, cst.Call):
            change = _method_change(node, kwargs, conditional)
            if isinstance(change, str):
                return KwargsFlow((), change)
            if change is not None:
                changes.append(change)
        elif isinstance(node, (cst.Assign, cst.Del)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                key = _subscript_key(target, kwargs)
                if key is None:
                    continue
                value = node.value if isinstance(node, cst.Assign) else None
                kind = "set" if isinstance(node, cst.Assign) else "pop"
                if key == "":
                    return KwargsFlow((), f"{kwargs}[...] is written with a computed key")
                changes.append(KwargsChange(kind, key, value, conditional))
        elif isinstance(node, cst.Name) and node.value == kwargs:
            return KwargsFlow((), f"{kwargs} is used in a way the analyzer cannot follow")
    return KwargsFlow(tuple(changes), None)


def _nodes(
    node: cst.CSTNode, conditional: bool, inner_call: cst.Call, kwargs: str
) -> Iterator[tuple[cst.CSTNode, bool]]:
    """Nodes under ``node`` that touch the mapping, each with 'may not run'; the inner
    call (which passes the mapping on) and the parts of a recognised change are skipped."""
    for child in node.children:
        if child is inner_call:
            continue
        if isinstance(child, (cst.Call, cst.Assign, cst.Del, cst.Name)):
            yield child, conditional
            if isinstance(child, cst.Call) and isinstance(child.func, cst.Attribute):
                # A method of the mapping was judged with the call; its arguments may hold more uses.
                receiver = child.func.value
                if not (isinstance(receiver, cst.Name) and receiver.value == kwargs):
                    yield from _nodes(receiver, conditional, inner_call, kwargs)
                for arg in child.args:
                    yield from _nodes(arg, conditional, inner_call, kwargs)
                continue
            if isinstance(child, (cst.Assign, cst.Del)):
                targets = (
                    [t.target for t in child.targets] if isinstance(child, cst.Assign) else [child.target]
                )
                for target in targets:
                    if isinstance(target, cst.Subscript):
                        yield from _nodes(target.slice[0], conditional, inner_call, kwargs)
                    else:
                        yield from _nodes(target, conditional, inner_call, kwargs)
                if isinstance(child, cst.Assign):
                    yield from _nodes(child.value, conditional, inner_call, kwargs)
                continue
            if isinstance(child, cst.Name):
                continue
        if (
            isinstance(child, cst.Subscript)
            and isinstance(child.value, cst.Name)
            and child.value.value == kwargs
        ):
            # ``opts["key"]`` read: the mapping stays as it is.
            yield from _nodes(child.slice[0], conditional, inner_call, kwargs)
            continue
        nested = conditional or _is_branch(child)
        if isinstance(child, (cst.FunctionDef, cst.Lambda)) and not _contains(child, inner_call):
            nested = True
        yield from _nodes(child, nested, inner_call, kwargs)


def _is_branch(node: cst.CSTNode) -> bool:
    """Children of these may or may not run when the wrapper runs."""
    return isinstance(node, (cst.If, cst.For, cst.While, cst.Try, cst.IfExp, cst.BooleanOperation))


def _contains(node: cst.CSTNode, target: cst.CSTNode) -> bool:
    return node is target or any(_contains(child, target) for child in node.children)


def _method_change(call: cst.Call, kwargs: str, conditional: bool) -> KwargsChange | str | None:
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
    key_node = call.args[0].value
    key = key_node.evaluated_value if isinstance(key_node, cst.SimpleString) else None
    if not isinstance(key, str):
        return f"{kwargs}.{method}(...) has a computed key"
    if method == "pop":
        return KwargsChange("pop", key, None, conditional)
    value = call.args[1].value if len(call.args) > 1 else cst.Name("None")
    return KwargsChange("setdefault", key, value, conditional)


def _subscript_key(target: cst.BaseExpression, kwargs: str) -> str | None:
    """``kwargs["key"]`` as an assignment or ``del`` target: the key; "" when computed."""
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)):
        return None
    if target.value.value != kwargs:
        return None
    if len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
        index = target.slice[0].slice.value
        if isinstance(index, cst.SimpleString) and isinstance(index.evaluated_value, str):
            return index.evaluated_value
    return ""
