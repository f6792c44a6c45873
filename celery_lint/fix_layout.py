"""Where the options a fix adds go when the line grows too long: one a line, as the
project's formatter (ruff, black) would put them, so that it leaves the fixed file alone.

A call a fix gave more arguments (``@app.task(bind=True)`` -> ``@app.task(bind=True,
time_limit=300)``, ``Celery('proj')`` -> ``Celery('proj', broker_...=True)``) that now
makes its line longer than the project's line length is laid out the way both formatters
lay out a call that does not fit: the arguments one a line, indented one level, with a
trailing comma (their "magic trailing comma" then keeps it so). Only calls that open and
close the statement's line are wrapped (a decorator, ``name = call(...)``, ``return
call(...)``); a call nested in other brackets is left to the formatter, whose layout of
the enclosing brackets cannot be told here.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .project.walk import children

if TYPE_CHECKING:
    import libcst as cst
else:
    from ._lazy_libcst import cst

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_LINE_LENGTH = 88
"""black's and ruff's default."""

_RUFF_FILES = (".ruff.toml", "ruff.toml")
_STOP_AT = (".git", ".hg")
_OPENERS_AND_QUOTES = frozenset("([{'\"#;\\")
_PRAGMA = re.compile(r"#\s*(noqa|type:|pyright:|pylint:|nosec|isort:|ruff:|mypy:|flake8[:=])", re.IGNORECASE)


def line_length_of(root: Path) -> int:
    """The line length the project formats to: ``line-length`` of the closest ruff
    configuration (``.ruff.toml``, ``ruff.toml``, ``[tool.ruff]`` in ``pyproject.toml``, in
    ruff's order), else ``[tool.black] line-length``, else 88. Looked up from ``root``
    upwards, not past the repository's top folder."""
    for folder in (root, *root.parents):
        for name in _RUFF_FILES:
            data = _toml(folder / name)
            if data is not None:
                return _length(data.get("line-length"))
        pyproject = _toml(folder / "pyproject.toml")
        tool = pyproject.get("tool") if pyproject is not None else None
        if isinstance(tool, dict):
            ruff, black = tool.get("ruff"), tool.get("black")
            if isinstance(ruff, dict) and "line-length" in ruff:
                return _length(ruff["line-length"])
            if isinstance(black, dict) and "line-length" in black:
                return _length(black["line-length"])
            if isinstance(ruff, dict) or isinstance(black, dict):
                return DEFAULT_LINE_LENGTH
        if any((folder / marker).exists() for marker in _STOP_AT):
            break
    return DEFAULT_LINE_LENGTH


def _toml(path: Path) -> dict[str, Any] | None:
    try:
        if not path.is_file():
            return None  # absent, or a folder or FIFO of that name
        with path.open("rb") as handle:
            data: dict[str, Any] = tomllib.load(handle)
    except (OSError, ValueError, RecursionError):
        return None  # absent, unreadable or not TOML: not the project's formatter settings
    return data


def _length(value: Any) -> int:
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_LINE_LENGTH
    )


def grown_calls(old: cst.CSTNode, new: cst.CSTNode | cst.RemovalSentinel) -> Iterator[cst.Call]:
    """The calls in ``new`` that an edit of ``old`` gave more arguments: the same callee
    (or a bare decorator turned into a call) with more arguments than in ``old``."""
    if not isinstance(new, cst.CSTNode):
        return
    before: dict[str, int] = {}
    for node in _nodes(old):
        if isinstance(node, cst.Call):
            key = _code(node.func)
            before[key] = min(before.get(key, len(node.args)), len(node.args))
        elif isinstance(node, cst.Decorator) and not isinstance(node.decorator, cst.Call):
            before[_code(node.decorator)] = 0
    for node in _nodes(new):
        if isinstance(node, cst.Call):
            count = before.get(_code(node.func))
            if count is not None and len(node.args) > count:
                yield node


def wrap_long_calls(tree: cst.Module, calls: list[cst.Call], line_length: int) -> cst.Module:
    """``tree`` with each of ``calls`` (nodes of ``tree``) whose line is longer than
    ``line_length`` laid out one argument a line."""
    if not calls:
        return tree
    from libcst.metadata import MetadataWrapper, PositionProvider

    positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
    lines = re.split(r"\r\n|\r|\n", tree.code)
    unit = tree.default_indent if tree.default_indent.strip(" ") == "" else "    "
    wrapped: dict[int, cst.CSTNode] = {}
    for call in calls:
        where = positions.get(call)
        if where is None or where.start.line != where.end.line or not call.args:
            continue
        line = lines[where.start.line - 1]
        before, after = line[: where.start.column], line[where.end.column :].strip()
        if _OPENERS_AND_QUOTES & set(before) or (after and not after.startswith("#")):
            continue  # nested in other brackets, or more code after it: the formatter's call
        if _width(line) <= line_length or _PRAGMA.match(after):
            # A pragma comment (a noqa, a type: ignore) would leave the lines it applies to: the line
            # stays as it is (ruff does not count the comment in the width either).
            continue
        if any(isinstance(node, (cst.Subscript, cst.Call)) for node in _nodes(call.func)):
            continue
        wrapped[id(call)] = _one_a_line(call, unit)
    if not wrapped:
        return tree
    from .project.replace import EditApplier

    new_tree = tree.visit(EditApplier(dict(wrapped)))
    assert isinstance(new_tree, cst.Module)
    return new_tree


def _one_a_line(call: cst.Call, unit: str) -> cst.Call:
    def newline(indent: str) -> cst.ParenthesizedWhitespace:
        return cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(), indent=True, last_line=cst.SimpleWhitespace(indent)
        )

    args = []
    last = len(call.args) - 1
    for index, arg in enumerate(call.args):
        comma = cst.Comma(whitespace_after=newline("" if index == last else unit))
        args.append(arg.with_changes(comma=comma, whitespace_after_arg=cst.SimpleWhitespace("")))
    return call.with_changes(whitespace_before_args=newline(unit), args=args)


def _nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(children(current))


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _width(line: str) -> int:
    """Columns the line takes, wide (East Asian) characters counting two, as the formatters count."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def edited_calls(
    edits: Mapping[int, tuple[cst.CSTNode, cst.CSTNode | cst.RemovalSentinel]],
) -> list[cst.Call]:
    """Every call the edits (id of the old node -> (old, new)) gave more arguments."""
    return [call for old, new in edits.values() for call in grown_calls(old, new)]
