"""Autofix: small CST edits shared by the rules, and the fix loop.

A rule offers a :class:`Fix` with the finding: a set of node replacements. The loop
applies every non-overlapping fix of a file, regenerates the code (LibCST keeps every
comment and blank line, so only the edited nodes change), re-parses, re-lints the
whole project with the new text, and repeats until nothing is left to fix (bounded).
"""

from __future__ import annotations

import contextlib
import difflib
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import libcst as cst
else:
    from ._lazy_libcst import cst


if TYPE_CHECKING:
    from .config import Settings
    from .engine import Engine, Violation
    from .project.files import SourceFile

MAX_ROUNDS = 8


@dataclass(frozen=True)
class Fix:
    """Node replacements that repair one finding (a removal replaces with ``RemoveFromParent``)."""

    edits: tuple[tuple[cst.CSTNode, cst.CSTNode | cst.RemovalSentinel], ...]
    title: str = ""
    reapply: Callable[[Any], cst.CSTNode | None] | None = None
    """For a fix of one edit: the same edit made on what another fix already put in place
    of that node (a keyword added to a decorator another fix extends too), so that such
    fixes land in one round; None: the fix waits for the next round."""


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
    from .project.walk import children

    found: set[int] = set()
    stack: list[cst.CSTNode] = [node]
    while stack:
        current = stack.pop()
        found.add(id(current))
        stack.extend(children(current))
    return found


def apply_fixes(tree: cst.Module, fixes: Sequence[Fix]) -> tuple[cst.Module, int]:
    """Apply every fix whose nodes do not overlap an earlier one, and every fix that can
    redo its edit on the replacement of the very node an earlier fix edits (``reapply``);
    returns (tree, applied)."""
    chosen: dict[int, cst.CSTNode | cst.RemovalSentinel] = {}
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
        applied += 1
    if not chosen:
        return tree, 0
    from .project.replace import EditApplier

    new_tree = tree.visit(EditApplier(chosen))
    assert isinstance(new_tree, cst.Module)
    return new_tree, applied


# ------------------------------------------------------------------------- the loop
@dataclass
class FixOutcome:
    original: dict[Path, str] = field(default_factory=dict)
    fixed: dict[Path, str] = field(default_factory=dict)
    applied: int = 0
    remaining: list[Violation] = field(default_factory=list)
    files_checked: int = 0
    encoded: dict[Path, bytes] = field(default_factory=dict)
    """The fixed text of each changed file in its own encoding."""

    @property
    def changed(self) -> list[Path]:
        return sorted(p for p, text in self.fixed.items() if text != self.original.get(p))


def fix_project(
    root: Path,
    targets: Sequence[tuple[Path, bool]],
    engine: Engine,
    settings: Settings,
    *,
    unsafe: bool,
    use_prefilter: bool = True,
) -> FixOutcome:
    """Fix ``targets`` (paths of one project) to a fixed point; nothing is written here."""
    outcome = FixOutcome()
    overlay: dict[Path, str] = {}
    allowed = _fixable_codes(unsafe)
    model = None
    final = None
    found: dict[Path, list[Violation]] = {}
    for _ in range(MAX_ROUNDS):
        model = _model_with(root, settings, overlay, use_prefilter, model)
        changed_any = False
        found = {}
        for path, named in targets:
            file = model.add_file(path)
            pairs = engine.lint_file_with_fixes(model, file, named=named)
            found[path] = [violation for violation, _ in pairs]
            ignored = _ignored_codes(file.relpath, settings)
            fixes = [
                fix
                for violation, fix in pairs
                if fix is not None and violation.code in allowed and not violation.code.startswith(ignored)
            ]
            if not fixes or file.text is None or file.tree is None:
                continue
            new_text, applied = _apply_valid(file.tree, file.text, fixes)
            if applied == 0 or new_text == file.text:
                continue
            outcome.original.setdefault(path, file.text)
            overlay[path] = new_text
            outcome.applied += applied
            changed_any = True
        if not changed_any:
            final = model  # the fixed point: its findings are what remains
            break
    if final is None:
        final = _model_with(root, settings, overlay, use_prefilter, model)
        found = {path: engine.lint_file(final, final.add_file(path), named=named) for path, named in targets}
    for path, _ in targets:
        outcome.files_checked += 1
        outcome.remaining.extend(found.get(path, []))
    outcome.fixed = {p: overlay[p] for p in overlay}
    outcome.encoded = {p: final.add_file(p).encoded(text) for p, text in overlay.items()}
    return outcome


def _apply_valid(tree: cst.Module, text: str, fixes: Sequence[Fix]) -> tuple[str, int]:
    """The text with every fix applied, when the result is valid Python; else with as many
    fixes as keep it valid, one at a time (a fix that breaks the file is never kept)."""
    compiles = _compiles(text)
    new_tree, applied = apply_fixes(tree, fixes)
    new_text = new_tree.code
    if applied == 0 or _valid(new_text, compiles):
        return new_text, applied
    kept: list[Fix] = []
    for fix in fixes:
        trial_tree, trial_applied = apply_fixes(tree, [*kept, fix])
        if trial_applied > len(kept) and _valid(trial_tree.code, compiles):
            kept.append(fix)
    if not kept:
        return text, 0
    final_tree, applied = apply_fixes(tree, kept)
    return final_tree.code, applied


def _compiles(text: str) -> bool:
    """Whether CPython compiles ``text``: LibCST (and even ``ast.parse``) accepts code the
    compiler rejects, such as a keyword argument given twice."""
    try:
        compile(text, "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _valid(text: str, original_compiles: bool) -> bool:
    from .project.files import parse_with_large_stack

    try:
        parse_with_large_stack(text)
    except (cst.ParserSyntaxError, RecursionError, MemoryError):
        return False
    return _compiles(text) or not original_compiles


def _ignored_codes(relpath: str, settings: Settings) -> tuple[str, ...]:
    """Codes ``per-file-ignores`` turns off for the file: their findings are not fixed either."""
    from .project.files import is_excluded

    return tuple(
        code
        for pattern, codes in settings.per_file_ignores.items()
        if is_excluded(relpath, [pattern])
        for code in codes
    )


def _fixable_codes(unsafe: bool) -> frozenset[str]:
    """Codes whose fixes are applied: the safe ones, and the unsafe ones when asked."""
    from .rules import all_rules

    wanted = ("safe", "unsafe") if unsafe else ("safe",)
    return frozenset(r.CODE for r in all_rules() if r.FIX_SAFETY in wanted)


def _model_with(
    root: Path, settings: Settings, overlay: dict[Path, str], use_prefilter: bool, previous: Any = None
) -> Any:
    """A fresh project model of ``root`` with the fixed texts of ``overlay``. Files whose
    text has not changed since the ``previous`` model keep their parsed tree (a round
    re-parses only what the last round changed)."""
    from .project.model import ProjectModel

    model = ProjectModel(root, settings.exclude, use_prefilter)
    if previous is not None:
        _reuse_files(model, previous, overlay)
    for path, text in overlay.items():
        file: SourceFile = model.add_file(path)
        if file.text == text:
            continue
        file.set_text(text)  # ``file.text`` above learnt the file's encoding
    model.build()
    return model


def _reuse_files(model: Any, previous: Any, overlay: dict[Path, str]) -> None:
    """Put the ``previous`` model's SourceFile objects (read, decoded, parsed) in ``model``
    wherever their content is still current: unchanged on disk and in the overlay."""
    swapped: dict[int, SourceFile] = {}
    for path, file in model.files.items():
        old = previous.files.get(path)
        if old is None or old.data is None or old.relpath != file.relpath:
            continue
        if path in overlay and old.text != overlay[path]:
            continue
        swapped[id(file)] = old
    if not swapped:
        return
    model.files = {path: swapped.get(id(file), file) for path, file in model.files.items()}
    model.by_module = {name: swapped.get(id(file), file) for name, file in model.by_module.items()}


def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and a rename: an interrupted run leaves the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".celery-lint")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        _pause_before_rename_for_tests(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# A hook for tests/test_fix_interrupted.py, which must kill a fix at a known point of a write:
# "N:PATH" makes the N-th write of this process, once its temporary file is complete and
# before the rename, write the temporary file's name to PATH and wait there to be killed.
PAUSE_BEFORE_RENAME = "CELERY_LINT_TEST_PAUSE_BEFORE_RENAME"
_writes_so_far = [0]


def _pause_before_rename_for_tests(tmp: str) -> None:
    spec = os.environ.get(PAUSE_BEFORE_RENAME)
    if not spec:
        return
    _writes_so_far[0] += 1
    count, _, announce = spec.partition(":")
    if _writes_so_far[0] != int(count):
        return
    # Announced by a rename, so the test never reads a half-written name.
    Path(announce + ".part").write_text(tmp, "utf-8")
    os.replace(announce + ".part", announce)
    while True:
        time.sleep(1)
