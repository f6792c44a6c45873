"""Source files of a project: discovery, module names, decoding and parsing.

LibCST is imported only when a file is parsed, so a run over files that never
mention Celery does not pay for it.
"""

from __future__ import annotations

import ast
import io
import os
import re
import stat
import sys
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..interrupts import raise_if_interrupted
from .discovery import ALWAYS_SKIPPED_DIRS, is_excluded, iter_python_files

if TYPE_CHECKING:
    import libcst as cst

__all__ = ["ALWAYS_SKIPPED_DIRS", "is_excluded", "iter_python_files"]

_R = TypeVar("_R")
_DEEP_NESTING = re.compile(r"[(\[{]\s*[(\[{]" + r"(?:\s*[(\[{]){98}")

# LibCST's parser copies the part of a chain it has parsed at every further link (``a[0][0]``,
# ``a.b().c()``, ``'x' + 'x' + ...``), so its time grows with the square of the chain's length
# and with the size of its links: 2500 chained subscripts take it some 15 s, where CPython
# takes milliseconds. Files that may hold such chains are measured on CPython's tree first.
#
# The cheap signal, for every file about to be parsed: a very long line, many long lines, a
# long run of lines that continue a chain (that start with an operator or a trailer, or end
# with an operator), or a long run of opening brackets. Below these thresholds a chain costs
# well under the budget (see the measure below), unless its links each span several lines.
_LONG_LINE = 1000
_LONGISH_LINE = 250
_LONGISH_LINES_CHARS = 5000
_CHAIN_RUN_CHARS = 2000
_LINE_STARTS_LINK = frozenset(".+-*/%|&^([)]")
_LINE_ENDS_LINK = frozenset("+-*/%@|&^\\([")
_TRAILER_OPENERS = frozenset("([.")
_CLOSERS = frozenset(")]")
# The measure, on CPython's tree: for each chain, the source length of each prefix LibCST
# copies beyond the first few links, weighted by what each kind of link costs it. Measured on
# LibCST 1.9 over subscript, call, attribute, operator, conditional and lambda chains: 0.2 to
# 1.2 microseconds a unit, so the budget is a second of parsing at most. The longest chains
# in the standard library and common packages come to under 6,000 units.
_CHAIN_FREE_LINKS = 16
_CHAIN_BUDGET = 1_000_000

MAX_FILE_BYTES = 20 * 1024 * 1024
# LibCST needs hundreds of bytes of memory per source byte: larger files are reported, not parsed.
MAX_PARSE_CHARS = 2 * 1024 * 1024
_PARSE_STACK_BYTES = 512 * 1024 * 1024
_parse_executor: Any = None


def display_path(path: Path) -> str:
    """The path as the findings show it: relative to the working directory when it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def parse_with_large_stack(text: str) -> cst.Module:
    """Parse in a thread with a large stack: LibCST's native parser recurses once per
    nesting level and would overflow the main thread's stack on deeply nested code."""
    import libcst as cst

    module: cst.Module = run_with_large_stack(cst.parse_module, text)
    return module


def _forget_parse_thread() -> None:
    """A forked child has no copy of the parse thread: start a new one when needed."""
    global _parse_executor
    _parse_executor = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parse_thread)


def run_with_large_stack(function: Callable[..., _R], *args: Any, recursion_limit: int = 0) -> _R:
    """Run ``function`` in the large-stack thread (and, when asked, with a higher Python
    recursion limit, which that stack can afford). Falls back to the calling thread."""
    global _parse_executor

    if _parse_executor is None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        previous = threading.stack_size()
        try:
            threading.stack_size(_PARSE_STACK_BYTES)
            _parse_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="celery-lint-parse")
            # The pool starts its thread on first submit; do it now, while the size is set.
            _parse_executor.submit(lambda: None).result()
        except (ValueError, RuntimeError):
            _parse_executor = False
        finally:
            threading.stack_size(previous)
    if not _parse_executor:
        return function(*args)

    def call() -> _R:
        if not recursion_limit:
            return function(*args)
        previous = sys.getrecursionlimit()
        sys.setrecursionlimit(max(previous, recursion_limit))
        try:
            return function(*args)
        finally:
            sys.setrecursionlimit(previous)

    result: _R = _parse_executor.submit(call).result()
    return result


def resolve_positions(tree: Any) -> Any:
    """LibCST's ``PositionProvider`` for a module tree (node -> ``CodeRange``). Code
    generation recurses once per nesting level; a long ``a and b and ...`` chain needs more
    than the default limit, which only the large-stack thread can afford."""
    from libcst.metadata import MetadataWrapper, PositionProvider

    def resolve() -> Any:
        return MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)

    try:
        return resolve()
    except RecursionError:
        return run_with_large_stack(resolve, recursion_limit=200_000)


def is_test_path(relpath: str) -> bool:
    """Test code as the catalogue defines it: tests/, test_*.py, *_test.py, conftest.py, *test* settings."""
    parts = relpath.replace(os.sep, "/").split("/")
    name = parts[-1]
    if any(p in ("tests", "test", "testing") for p in parts[:-1]):
        return True
    if name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py":
        return True
    if name in ("tests.py", "test.py"):
        return True
    stem = name[:-3] if name.endswith(".py") else name
    in_settings = any("settings" in p for p in parts[:-1]) or "settings" in stem
    return in_settings and "test" in stem


def module_name_for(relpath: str) -> str:
    """Dotted module name of a file relative to the project root."""
    parts = relpath.replace(os.sep, "/").split("/")
    last = parts[-1]
    if last.endswith(".py"):
        last = last[:-3]
    parts[-1] = last
    if last == "__init__":
        parts = parts[:-1]
    return ".".join(p for p in parts if p)


@dataclass
class SourceFile:
    """One Python file, read once; decoded and parsed on demand."""

    path: Path
    relpath: str
    module: str
    is_package: bool
    import_name: str = ""
    """The dotted name Python imports the file under (``apps.orders.tasks`` under ``backend/``)."""
    data: bytes | None = None
    read_error: str | None = None
    _text: str | None = field(default=None, repr=False)
    _tree: cst.Module | None = field(default=None, repr=False)
    parse_error: str | None = None
    _parsed: bool = False
    _in_memory: bool = field(default=False, repr=False)
    encoding: str = "utf-8"
    bom: bool = False

    @property
    def is_test(self) -> bool:
        return is_test_path(self.relpath)

    def read(self) -> bytes | None:
        if self.data is None and self.read_error is None:
            try:
                if self.path.is_dir():
                    self.read_error = "is a directory"
                    return None
                self.data = read_regular_file(self.path)
            except _NotReadable as exc:
                self.read_error = str(exc)
            except OSError as exc:
                self.read_error = f"cannot read file: {exc.strerror or exc}"
        return self.data

    @property
    def text(self) -> str | None:
        if self._text is None and self.parse_error is None:
            data = self.read()
            if data is None:
                return None
            try:
                encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
                text = data.decode(encoding)
                self.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
                self.bom = data.startswith(b"\xef\xbb\xbf")
            except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
                self.parse_error = f"cannot decode file: {_one_line(str(exc))}"
                return None
            if text.startswith("\ufeff"):
                text = text[1:]
            self._text = text
        return self._text

    @property
    def tree(self) -> cst.Module | None:
        """The LibCST module, or None when the file cannot be read, decoded or parsed."""
        if not self._parsed:
            self._parsed = True
            text = self.text
            if text is None:
                return None
            import libcst as cst

            if len(text) > MAX_PARSE_CHARS:
                self.parse_error = (
                    f"file is too large to analyse ({len(text) / 1_048_576:.1f} MiB;"
                    f" the limit is {MAX_PARSE_CHARS // 1_048_576} MiB)"
                )
                return None
            if "\0" in text:
                # CPython refuses a null byte anywhere, where LibCST accepts one in a comment
                # or a string: such a file is not Python, and a fix must never touch it.
                self.parse_error = _null_byte_error(text)
                return None
            if _looks_pathological(text):
                # Very long lines, long runs of continuation lines or deep nesting: ask
                # CPython first. It refuses some of these files at once (where LibCST would
                # accept them, or take minutes), and its tree shows which chains are long.
                self.parse_error = _screen(text, str(self.path))
                if self.parse_error is not None:
                    return None
            try:
                self._tree = parse_with_large_stack(text)
            except cst.ParserSyntaxError as exc:
                # CPython names and places the offending token better where it also fails.
                _, py_exc = _cpython_parse(text, str(self.path))
                if "\0" in text or (isinstance(py_exc, SyntaxError) and py_exc.lineno):
                    self.parse_error = _rejection(text, py_exc)
                elif py_exc is None:
                    # Valid Python that LibCST's grammar does not cover: not a syntax error.
                    self.parse_error = f"{ANALYSIS_SKIPPED}LibCST cannot parse line {exc.raw_line}{_ACCEPTED}"
                else:
                    self.parse_error = (
                        f"syntax error at line {exc.raw_line}, column {exc.raw_column + 1}: "
                        f"{_one_line(exc.message)}"
                    )
            except RecursionError:
                self.parse_error = "file is nested too deeply to parse"
            except Exception as exc:
                raise_if_interrupted(exc)
                self.parse_error = _null_byte_error(text) or f"cannot parse file: {_one_line(str(exc))}"
        return self._tree

    @property
    def in_memory(self) -> bool:
        """The content was given with :meth:`set_text` (a fix, an editor's buffer), not read
        from disk."""
        return self._in_memory

    @property
    def parsed(self) -> bool:
        """Whether :attr:`tree` was asked for (it is known, or the file's error is)."""
        return self._parsed

    def adopt_tree(self, tree: cst.Module) -> None:
        """Take ``tree`` as this file's parse (a module summary kept from an earlier run of
        the same bytes): every user of :attr:`tree` sees the nodes the summary holds."""
        self._tree = tree
        self._parsed = True
        self.parse_error = None

    def cpython_accepts(self) -> bool:
        """Whether the running CPython parses the file (quiet, on the large stack). Far
        cheaper than the LibCST tree; a file it refuses may still be newer syntax that
        LibCST reads, so a False is for :attr:`tree` to confirm."""
        text = self.text
        return text is not None and _cpython_parse(text, str(self.path))[1] is None

    @property
    def error(self) -> str | None:
        return self.read_error or self.parse_error

    def encoded(self, text: str) -> bytes:
        """``text`` as this file stores it on disk (its encoding, its BOM)."""
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode(self.encoding)

    def set_text(self, text: str) -> None:
        """Replace the content (after a fix) so the next parse sees the new text."""
        self._in_memory = True
        self._text = text
        self.data = self.encoded(text)
        self._parsed = False
        self._tree = None
        self.parse_error = None

    def forget_tree(self) -> None:
        """Free the parsed tree and the decoded text; both are rebuilt on demand."""
        if self.parse_error is None:
            self._parsed = False
            self._tree = None
            self._text = None

    def forget_contents(self) -> None:
        """Free the bytes read from disk and the decoded text of a file nothing parsed
        (re-read on demand). Content given with :meth:`set_text` is kept."""
        if self._parsed or self._in_memory:
            return
        self._text = None
        if self.read_error is None and self.parse_error is None:
            self.data = None


def _looks_pathological(text: str) -> bool:
    """The cheap signal that a file may hold chains LibCST would take too long over (or
    brackets nested deeper than CPython allows). A single pass over the lines."""
    if _DEEP_NESTING.search(text):
        return True
    run = 0
    longish = 0
    for line in text.split("\n"):
        if len(line) > _LONGISH_LINE:
            if len(line) > _LONG_LINE:
                return True
            longish += len(line)
            if longish > _LONGISH_LINES_CHARS:
                return True
        stripped = line.strip()
        if not stripped:
            continue
        first, last = stripped[0], stripped[-1]
        if last == "," or first == "#":
            continue  # an item of a literal, a comment: neither continues nor ends a chain
        if first in _LINE_STARTS_LINK:
            if first in _CLOSERS and stripped[1:2] not in _TRAILER_OPENERS:
                continue  # a closing bracket alone
            if stripped.startswith("..."):
                run = 0
                continue
        elif last in _LINE_ENDS_LINK:
            if last in "([" and stripped[-2:-1] not in _CLOSERS:
                run = 0  # opens a call or a literal
                continue
        elif first == "}":
            continue
        else:
            run = 0
            continue
        run += len(stripped)
        if run > _CHAIN_RUN_CHARS:
            return True
    return False


def _screen(text: str, filename: str) -> str | None:
    """CPython's verdict on a file the cheap signal flagged, and the cost of its chains: why
    the file must not be handed to LibCST, or None when it may."""
    module, error = _cpython_parse(text, filename)
    if module is None:
        if isinstance(error, (RecursionError, MemoryError)):
            # Too deep to build CPython's tree as Python objects: compiling decides.
            _, error = _cpython_parse(text, filename, flags=0)
            if error is None:
                return f"{ANALYSIS_SKIPPED}expressions nested too deeply to analyse{_ACCEPTED}"
        return _rejection(text, error)
    problem = _chain_problem(module, text)
    if problem is None:
        return None
    _, error = _cpython_parse(text, filename, flags=0)
    if error is not None:
        return _rejection(text, error)
    return f"{ANALYSIS_SKIPPED}{problem} would take too long to parse{_ACCEPTED}"


ANALYSIS_SKIPPED = "analysis skipped: "
"""How the reason starts for a file CPython accepts but celery-lint does not analyse."""
_ACCEPTED = " (CPython accepts the file)"


def _cpython_parse(text: str, filename: str, flags: int = 0x400) -> tuple[Any, BaseException | None]:
    """CPython's tree (``ast.PyCF_ONLY_AST``; or code with ``flags=0``) and the error it
    refuses the source with. Run on the large-stack thread, where the Python stack is as
    shallow as when CPython runs the file, and without printing CPython's warnings."""

    def parse() -> tuple[Any, BaseException | None]:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return compile(text, filename, "exec", flags=flags, dont_inherit=True), None
            except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as exc:
                return None, exc

    return run_with_large_stack(parse)


def _rejection(text: str, error: BaseException | None) -> str:
    """One line on why CPython refuses the source."""
    null_byte = _null_byte_error(text)
    if null_byte:
        return null_byte
    if isinstance(error, SyntaxError):
        message = _one_line(error.msg or "invalid syntax")
        return f"syntax error at line {error.lineno or 1}, column {error.offset or 1}: {message}"
    if isinstance(error, RecursionError):
        return f"CPython cannot compile it: {_one_line(str(error)) or 'maximum recursion depth exceeded'}"
    if isinstance(error, MemoryError):
        return f"CPython cannot compile it: {_one_line(str(error)) or 'the source is too complex to parse'}"
    return f"cannot parse file: {_one_line(str(error))}"


def _null_byte_error(text: str) -> str | None:
    if "\0" not in text:
        return None
    line, column = _position_of(text, text.index("\0"))
    return f"syntax error at line {line}, column {column}: source code contains a null byte"


def _chain_problem(module: ast.AST, text: str) -> str | None:
    """The file's costliest chain (``the chain of N ... at line L``) when its chains,
    together, are over LibCST's budget; else None."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    starts = [0]
    for physical in lines:
        starts.append(starts[-1] + len(physical) + 1)
    last_line = len(starts)

    def span(node: Any) -> int:
        start: int = starts[min(node.lineno, last_line) - 1] + node.col_offset
        end: int = starts[min(node.end_lineno or node.lineno, last_line) - 1] + (node.end_col_offset or 0)
        return end - start

    total = 0.0
    worst: tuple[float, int, int, str] = (0.0, 0, 0, "")
    long_chains = 0
    stack: list[ast.AST] = [module]
    while stack:
        node = stack.pop()
        kind = _chain_kind(node)
        if kind is None:
            stack.extend(ast.iter_child_nodes(node))
            continue
        top = node
        spans = []
        while True:
            after = _CHAIN_NEXT[type(node)](node)
            for child in ast.iter_child_nodes(node):
                if child is not after:
                    stack.append(child)
            spans.append(_chain_weight(node) * span(node))
            if _chain_kind(after) != kind:
                stack.append(after)
                break
            node = after
        if len(spans) <= _CHAIN_FREE_LINKS:
            continue
        cost = sum(spans[:-_CHAIN_FREE_LINKS])
        total += cost
        long_chains += 1
        if cost > worst[0]:
            worst = (cost, len(spans), getattr(top, "lineno", 1), _CHAIN_LINKS[kind])
    if total <= _CHAIN_BUDGET:
        return None
    _, links, line, what = worst
    others = f" (and {long_chains - 1} more long chains)" if long_chains > 1 else ""
    return f"the chain of {links} {what} at line {line}{others}"


def _chain_weight(node: ast.AST) -> float:
    """What a link costs LibCST, per character of the chain before it. Measured: it tries the
    attribute, call and subscript rules in that order, and copies the chain for each try."""
    if isinstance(node, ast.BinOp):
        return 0.2 if isinstance(node.op, ast.Pow) else 0.1
    return _CHAIN_WEIGHTS.get(type(node), 0.1)


def _chain_kind(node: ast.AST) -> str | None:
    """Which of LibCST's chain rules ``node`` is a link of (None: no chain)."""
    kind = _CHAIN_TYPES.get(type(node))
    if kind == "binary":
        return _BINARY_LEVELS[type(node.op)]  # type: ignore[attr-defined]
    return kind


_CHAIN_TYPES: dict[type, str] = {
    ast.Attribute: "primary",
    ast.Subscript: "primary",
    ast.Call: "primary",
    ast.BinOp: "binary",
    ast.IfExp: "if",
    ast.Lambda: "lambda",
    ast.UnaryOp: "unary",
}
_CHAIN_NEXT: dict[type, Callable[[Any], ast.AST]] = {
    ast.Attribute: lambda node: node.value,
    ast.Subscript: lambda node: node.value,
    ast.Call: lambda node: node.func,
    ast.BinOp: lambda node: node.right if isinstance(node.op, ast.Pow) else node.left,
    ast.IfExp: lambda node: node.orelse,
    ast.Lambda: lambda node: node.body,
    ast.UnaryOp: lambda node: node.operand,
}
_BINARY_LEVELS: dict[type, str] = {
    ast.Add: "sum",
    ast.Sub: "sum",
    ast.Mult: "term",
    ast.Div: "term",
    ast.FloorDiv: "term",
    ast.Mod: "term",
    ast.MatMult: "term",
    ast.LShift: "shift",
    ast.RShift: "shift",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.BitOr: "|",
    ast.Pow: "power",
}
_CHAIN_WEIGHTS: dict[type, float] = {ast.Subscript: 1.0, ast.Call: 0.5, ast.Attribute: 0.25}
_CHAIN_LINKS: dict[str, str] = {
    "primary": "subscripts, calls and attribute accesses",
    "sum": "'+' and '-' operations",
    "term": "'*', '/', '//', '%' and '@' operations",
    "shift": "'<<' and '>>' operations",
    "&": "'&' operations",
    "^": "'^' operations",
    "|": "'|' operations",
    "power": "'**' operations",
    "if": "conditional expressions",
    "lambda": "lambdas",
    "unary": "unary operators",
}


class _NotReadable(OSError):
    """A file that is not read: the message says why."""


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file. Anything else is refused (an OSError) before it is read:
    reading a named pipe waits for a writer forever, and a device may never end."""
    _check_regular(os.stat(path))
    # Opened without blocking, and checked again: the path may have changed meanwhile.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as handle:
        _check_regular(os.fstat(fd))
        return handle.read()


def _check_regular(info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(info.st_mode)), "a special file")
        raise _NotReadable(f"cannot read file: it is {kind}, not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise _NotReadable(f"file is too large to analyse ({info.st_size // (1024 * 1024)} MiB)")


def _position_of(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:offset]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _one_line(message: str) -> str:
    return " ".join(message.split())
