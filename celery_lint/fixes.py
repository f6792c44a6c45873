"""Small CST edits the rules build their fixes from, and applying a file's fixes to its tree.

A rule offers a :class:`~celery_lint.types.Fix` with the finding: a set of node
replacements. The fix loop (:mod:`celery_lint.engine.fixing`) applies them, re-lints
and repeats. This module sits below the rules: it imports only plain data and the walk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .project.walk import children
from .types import Fix

if TYPE_CHECKING:
    import libcst as cst
else:
    from ._lazy_libcst import cst

__all__ = [
    "Fix",
    "add_keywords",
    "apply_fixes",
    "class_with_attributes",
    "decorator_with_keywords",
    "literal",
    "prepend_keywords",
    "replace",
    "string_like",
    "with_elements",
]


def replace(
    old: cst.CSTNode,
    new: cst.CSTNode | cst.RemovalSentinel,
    title: str = "",
    reapply: Callable[[Any], cst.CSTNode | None] | None = None,
) -> Fix:
    return Fix(((old, new),), title, reapply)


# ------------------------------------------------------------------------- edit helpers
def string_like(original: cst.BaseExpression, text: str) -> cst.SimpleString:
    """A string literal holding ``text``, quoted the way ``original`` was."""
    quote = "'"
    prefix = ""
    if isinstance(original, cst.SimpleString):
        raw = original.value
        prefix = raw[: len(raw) - len(raw.lstrip("rRbBuUfF"))].replace("f", "").replace("F", "")
        quote = original.quote
    return cst.SimpleString(f"{prefix}{quote}{text}{quote}")


def add_keywords(call: cst.Call, keywords: Sequence[tuple[str, cst.BaseExpression]]) -> cst.Call:
    """``call`` with keyword arguments appended (those it does not pass already), laid out
    like its arguments: on one line, or one a line with the same indentation and trailing
    comma. A comment after the last argument stays on that argument's line."""
    args = list(call.args)
    present = {a.keyword.value for a in args if a.keyword is not None}
    new = [(k, v) for k, v in keywords if k not in present]
    if not new:
        return call
    added = [
        cst.Arg(
            value=value,
            keyword=cst.Name(name),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
            ),
        )
        for name, value in new
    ]
    space = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if not args:
        return call.with_changes(args=[a.with_changes(comma=space) for a in added[:-1]] + [added[-1]])
    last = args[-1]
    separator = _separator(call)
    trailing = last.comma
    if isinstance(trailing, cst.Comma) and isinstance(trailing.whitespace_after, cst.ParenthesizedWhitespace):
        # ``b=2,  # note\n)``: the comment stays after ``b=2``, the line break moves down.
        ws = trailing.whitespace_after
        if isinstance(separator.whitespace_after, cst.ParenthesizedWhitespace):
            kept = separator.whitespace_after.with_changes(
                first_line=ws.first_line, empty_lines=ws.empty_lines
            )
            last_comma: cst.Comma = trailing.with_changes(whitespace_after=kept)
        else:
            last_comma = separator
        trailing = cst.Comma(
            whitespace_after=ws.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
        )
    else:
        last_comma = separator
    args[-1] = last.with_changes(comma=last_comma, whitespace_after_arg=cst.SimpleWhitespace(""))
    for index, arg in enumerate(added):
        if index < len(added) - 1:
            args.append(arg.with_changes(comma=separator))
        else:
            args.append(arg.with_changes(comma=trailing, whitespace_after_arg=last.whitespace_after_arg))
    return call.with_changes(args=args)


def _separator(call: cst.Call) -> cst.Comma:
    """The comma (and line break) between two arguments of ``call``, without comments."""
    whitespace: cst.BaseParenthesizableWhitespace = cst.SimpleWhitespace(" ")
    args = call.args
    if len(args) >= 2 and isinstance(args[-2].comma, cst.Comma):
        whitespace = args[-2].comma.whitespace_after
    elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
        whitespace = call.whitespace_before_args  # one argument, on its own line
    if isinstance(whitespace, cst.ParenthesizedWhitespace):
        whitespace = whitespace.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
    return cst.Comma(whitespace_after=whitespace)


def decorator_with_keywords(
    decorator: cst.Decorator, keywords: Sequence[tuple[str, cst.BaseExpression]]
) -> cst.Decorator | None:
    """``@shared_task`` -> ``@shared_task(k=v)``; ``@app.task(bind=True)`` -> ``..., k=v)``."""
    expr = decorator.decorator
    if isinstance(expr, cst.Call):
        if any(a.star == "**" for a in expr.args):
            return None
        return decorator.with_changes(decorator=add_keywords(expr, keywords))
    if isinstance(expr, (cst.Name, cst.Attribute)):
        return decorator.with_changes(decorator=add_keywords(cst.Call(func=expr), keywords))
    return None


def literal(value: Any) -> cst.BaseExpression:
    """A CST expression for a simple Python value (bool, None, number, string)."""
    return cst.parse_expression(repr(value))


def prepend_keywords(call: cst.Call, keywords: Sequence[tuple[str, cst.BaseExpression]]) -> cst.Call:
    """``call`` with keyword arguments put first, laid out like its arguments.

    Only for calls whose arguments are all keywords (a keyword before a positional
    argument is a syntax error); ``crontab(hour=3)`` -> ``crontab(minute=0, hour=3)``.
    """
    args = list(call.args)
    present = {a.keyword.value for a in args if a.keyword is not None}
    new = [(k, v) for k, v in keywords if k not in present]
    if not new:
        return call
    if not args:
        return add_keywords(call, new)
    whitespace: cst.BaseParenthesizableWhitespace = cst.SimpleWhitespace(" ")
    first_comma = args[0].comma
    if len(args) >= 2 and isinstance(first_comma, cst.Comma):
        whitespace = first_comma.whitespace_after
    elif isinstance(call.whitespace_before_args, cst.ParenthesizedWhitespace):
        whitespace = call.whitespace_before_args
    if isinstance(whitespace, cst.ParenthesizedWhitespace):
        whitespace = whitespace.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
    separator = cst.Comma(whitespace_after=whitespace)
    added = [
        cst.Arg(
            value=value,
            keyword=cst.Name(name),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
            ),
            comma=separator,
        )
        for name, value in new
    ]
    return call.with_changes(args=[*added, *args])


def with_elements(
    node: cst.List | cst.Tuple | cst.Set, changes: dict[int, cst.BaseElement | None]
) -> cst.List | cst.Tuple | cst.Set | None:
    """A list, tuple or set literal with some elements replaced (index -> element) or
    removed (index -> None), laid out as before: when the last element goes, the new last
    one takes its comma (``['json', 'pickle']`` becomes ``['json']``, not ``['json', ]``),
    and a one-element tuple keeps the comma that makes it a tuple. None when nothing would
    be left (an empty ``{}`` is a dict, not a set)."""
    original = list(node.elements)
    kept: list[cst.BaseElement] = []
    for index, element in enumerate(original):
        replacement = changes.get(index, element)
        if replacement is not None:
            kept.append(replacement)
    if not kept:
        return None
    if changes.get(len(original) - 1, original[-1]) is None:
        kept[-1] = kept[-1].with_changes(comma=original[-1].comma)
    if isinstance(node, cst.Tuple) and len(kept) == 1 and not isinstance(kept[0].comma, cst.Comma):
        kept[0] = kept[0].with_changes(comma=cst.Comma())
    return node.with_changes(elements=kept)


def class_with_attributes(
    klass: cst.ClassDef, attributes: Sequence[tuple[str, cst.BaseExpression]]
) -> cst.ClassDef | None:
    """``klass`` with ``name = value`` lines added after its docstring and the simple
    statements (attributes) that open its body; None for a one-line class body."""
    body = klass.body
    if not isinstance(body, cst.IndentedBlock):
        return None
    statements = list(body.body)
    position = 0
    while position < len(statements) and isinstance(statements[position], cst.SimpleStatementLine):
        position += 1
    added = [
        cst.SimpleStatementLine(
            body=[cst.Assign(targets=[cst.AssignTarget(target=cst.Name(name))], value=value)]
        )
        for name, value in attributes
    ]
    if position == 0 and statements:
        following = statements[0]
        if isinstance(following, cst.BaseCompoundStatement) and not following.leading_lines:
            # Keep a blank line between the new attributes and the first method.
            statements[0] = following.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
    statements[position:position] = added
    return klass.with_changes(body=body.with_changes(body=statements))


# ------------------------------------------------------------------------- applying edits
def _descendant_ids(node: cst.CSTNode) -> set[int]:
    found: set[int] = set()
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        found.add(id(current))
        stack.extend(children(current))
    return found


def apply_fixes(
    tree: cst.Module, fixes: Sequence[Fix], line_length: int | None = None
) -> tuple[cst.Module, int]:
    """Apply every fix whose nodes do not overlap an earlier one, and every fix that can
    redo its edit on the replacement of the very node an earlier fix edits (``reapply``);
    returns (tree, applied). With ``line_length``, a call a fix gave arguments that no
    longer fits its line is laid out one argument a line (:mod:`celery_lint.fix_layout`)."""
    chosen: dict[int, cst.CSTNode | cst.RemovalSentinel] = {}
    originals: dict[int, cst.CSTNode] = {}
    covered: set[int] = set()
    applied = 0
    for fix in fixes:
        ids = set()
        for old, _ in fix.edits:
            ids |= _descendant_ids(old)
        if ids & covered:
            if fix.reapply is not None and len(fix.edits) == 1:
                current = chosen.get(id(fix.edits[0][0]))
                if isinstance(current, cst.CSTNode):
                    again = fix.reapply(current)
                    if again is not None:
                        chosen[id(fix.edits[0][0])] = again
                        applied += 1
            continue
        covered |= ids
        for old, new in fix.edits:
            chosen[id(old)] = new
            originals[id(old)] = old
        applied += 1
    if not chosen:
        return tree, 0
    # Imported here: it needs LibCST itself, and rules import this module on runs (a warm
    # cache) that never load LibCST.
    from .project.replace import EditApplier

    new_tree = tree.visit(EditApplier(chosen))
    assert isinstance(new_tree, cst.Module)
    if line_length is not None:
        from .fix_layout import edited_calls, wrap_long_calls

        edits = {key: (originals[key], new) for key, new in chosen.items()}
        new_tree = wrap_long_calls(new_tree, edited_calls(edits), line_length)
    return new_tree, applied
