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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libcst as cst

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


def replace(old: cst.CSTNode, new: cst.CSTNode | cst.RemovalSentinel, title: str = "") -> Fix:
    return Fix(((old, new),), title)


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
    """``call`` with keyword arguments appended, formatted like its last argument."""
    args = list(call.args)
    present = {a.keyword.value for a in args if a.keyword is not None}
    new = [(k, v) for k, v in keywords if k not in present]
    if not new:
        return call
    multiline = any(
        isinstance(a.comma, cst.Comma) and isinstance(a.comma.whitespace_after, cst.ParenthesizedWhitespace)
        for a in args
    )
    if args:
        last = args[-1]
        if multiline:
            trailing_comma = last.comma
            separator = (
                trailing_comma
                if isinstance(trailing_comma, cst.Comma)
                else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            )
            args[-1] = last.with_changes(comma=separator)
        else:
            args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    for index, (name, value) in enumerate(new):
        is_last = index == len(new) - 1
        comma: cst.Comma | cst.MaybeSentinel = cst.MaybeSentinel.DEFAULT
        if not is_last:
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        elif multiline and args:
            comma = args[-1].comma if isinstance(args[-1].comma, cst.Comma) else cst.MaybeSentinel.DEFAULT
        args.append(
            cst.Arg(
                value=value,
                keyword=cst.Name(name),
                equal=cst.AssignEqual(
                    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
                ),
                comma=comma,
            )
        )
    if multiline and len(args) >= 2:
        # Keep one argument per line: the new ones copy the layout of the previous separator.
        previous = args[-len(new) - 1]
        if isinstance(previous.comma, cst.Comma):
            for position in range(len(args) - len(new), len(args) - 1):
                args[position] = args[position].with_changes(comma=previous.comma)
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            last_original = call.args[-1]
            if isinstance(last_original.comma, cst.Comma):
                args[-1] = args[-1].with_changes(comma=last_original.comma)
    return call.with_changes(args=args)


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


# ------------------------------------------------------------------------- applying edits
class _Replacer(cst.CSTTransformer):
    def __init__(self, edits: dict[int, cst.CSTNode | cst.RemovalSentinel]) -> None:
        super().__init__()
        self.edits = edits

    def on_leave(self, original_node: Any, updated_node: Any) -> Any:
        replacement = self.edits.get(id(original_node))
        if replacement is not None:
            return replacement
        return updated_node


def _descendant_ids(node: cst.CSTNode) -> set[int]:
    from .project.walk import Walker

    found: set[int] = set()

    class Collect(Walker):
        def on_visit(self, child: cst.CSTNode) -> bool:
            found.add(id(child))
            return True

    Collect().walk(node)
    return found


def apply_fixes(tree: cst.Module, fixes: Sequence[Fix]) -> tuple[cst.Module, int]:
    """Apply every fix whose nodes do not overlap an earlier one; returns (tree, applied)."""
    chosen: dict[int, cst.CSTNode | cst.RemovalSentinel] = {}
    covered: set[int] = set()
    applied = 0
    for fix in fixes:
        ids = set()
        for old, _ in fix.edits:
            ids |= _descendant_ids(old)
        if ids & covered:
            continue
        covered |= ids
        for old, new in fix.edits:
            chosen[id(old)] = new
        applied += 1
    if not chosen:
        return tree, 0
    new_tree = tree.visit(_Replacer(chosen))
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
    for _ in range(MAX_ROUNDS):
        model = _model_with(root, settings, overlay, use_prefilter)
        changed_any = False
        for path, named in targets:
            file = model.add_file(path)
            if file.text is None:
                continue
            pairs = engine.lint_file_with_fixes(model, file, named=named)
            fixes = [fix for violation, fix in pairs if fix is not None and _allowed(violation, unsafe)]
            if not fixes or file.tree is None:
                continue
            new_tree, applied = apply_fixes(file.tree, fixes)
            new_text = new_tree.code
            if applied == 0 or new_text == file.text:
                continue
            try:
                cst.parse_module(new_text)
            except cst.ParserSyntaxError:
                continue  # a fix that breaks the file is never kept
            outcome.original.setdefault(path, file.text)
            overlay[path] = new_text
            outcome.applied += applied
            changed_any = True
        if not changed_any:
            break
    final = _model_with(root, settings, overlay, use_prefilter)
    for path, named in targets:
        file = final.add_file(path)
        outcome.files_checked += 1
        outcome.remaining.extend(engine.lint_file(final, file, named=named))
    outcome.fixed = {p: overlay[p] for p in overlay}
    outcome.encoded = {p: final.add_file(p).encoded(text) for p, text in overlay.items()}
    return outcome


def _allowed(violation: Violation, unsafe: bool) -> bool:
    from .rules import all_rules

    safety = {r.CODE: r.FIX_SAFETY for r in all_rules()}.get(violation.code)
    return safety == "safe" or (unsafe and safety == "unsafe")


def _model_with(root: Path, settings: Settings, overlay: dict[Path, str], use_prefilter: bool) -> Any:
    from .project.model import ProjectModel

    model = ProjectModel(root, settings.exclude, use_prefilter)
    for path, text in overlay.items():
        file: SourceFile = model.add_file(path)
        _ = file.text  # learn the file's encoding before replacing its text
        file.set_text(text)
    model.build()
    return model


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
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
