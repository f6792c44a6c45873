"""Source files of a project: discovery, module names, decoding and parsing.

LibCST is imported only when a file is parsed, so a run over files that never
mention Celery does not pay for it.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
import sys
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import libcst as cst

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")

# Folders no one wants linted: environments, caches, build output and VCS metadata.
ALWAYS_SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "__pycache__",
        "node_modules",
        "site-packages",
        ".celery_lint_cache",
        "build",
        "dist",
        ".eggs",
    }
)

_R = TypeVar("_R")
_DEEP_NESTING = re.compile(r"[(\[{]\s*[(\[{]" + r"(?:\s*[(\[{]){98}")

MAX_FILE_BYTES = 20 * 1024 * 1024
# LibCST needs hundreds of bytes of memory per source byte: larger files are reported, not parsed.
MAX_PARSE_CHARS = 2 * 1024 * 1024
_PARSE_STACK_BYTES = 512 * 1024 * 1024
_parse_executor: Any = None


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


def find_project_root(path: Path) -> Path:
    """Nearest ancestor (or the path itself) holding a project marker; else the path's folder."""
    start = path if path.is_dir() else path.parent
    start = start.resolve()
    for candidate in (start, *start.parents):
        for marker in ROOT_MARKERS:
            if (candidate / marker).exists():
                return candidate
    return start


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
                size = self.path.stat().st_size
                if size > MAX_FILE_BYTES:
                    self.read_error = f"file is too large to analyse ({size // (1024 * 1024)} MiB)"
                    return None
                self.data = self.path.read_bytes()
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
            try:
                self._tree = parse_with_large_stack(text)
            except cst.ParserSyntaxError as exc:
                line, column, message = exc.raw_line, exc.raw_column + 1, exc.message
                try:
                    # CPython names and places the offending token better where it also fails.
                    compile(text, str(self.path), "exec", dont_inherit=True, flags=0x400)
                except SyntaxError as py_exc:
                    if py_exc.lineno:
                        line, column, message = py_exc.lineno, py_exc.offset or 1, py_exc.msg
                except (ValueError, RecursionError, MemoryError):
                    pass
                if "\0" in text:
                    line, column = _position_of(text, text.index("\0"))
                    message = "source code contains a null byte"
                self.parse_error = f"syntax error at line {line}, column {column}: {_one_line(message)}"
            except RecursionError:
                self.parse_error = "file is nested too deeply to parse"
            except Exception as exc:
                if "\0" in text:
                    line, column = _position_of(text, text.index("\0"))
                    self.parse_error = (
                        f"syntax error at line {line}, column {column}: source code contains a null byte"
                    )
                else:
                    self.parse_error = f"cannot parse file: {_one_line(str(exc))}"
            if self._tree is not None and _DEEP_NESTING.search(text):
                # CPython refuses more than 200 nested brackets; LibCST (on its large stack)
                # does not. Ask CPython only when a long run of openers makes it likely.
                try:
                    compile(text, str(self.path), "exec", dont_inherit=True, flags=0x400)
                except SyntaxError as py_exc:
                    if "nested" in (py_exc.msg or ""):
                        self._tree = None
                        self.parse_error = (
                            f"syntax error at line {py_exc.lineno or 1}, column {py_exc.offset or 1}: "
                            f"{_one_line(py_exc.msg)}"
                        )
                except (ValueError, RecursionError, MemoryError):
                    pass
        return self._tree

    @property
    def error(self) -> str | None:
        return self.read_error or self.parse_error

    def encoded(self, text: str) -> bytes:
        """``text`` as this file stores it on disk (its encoding, its BOM)."""
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode(self.encoding)

    def set_text(self, text: str) -> None:
        """Replace the content (after a fix) so the next parse sees the new text."""
        self._text = text
        self.data = self.encoded(text)
        self._parsed = False
        self._tree = None
        self.parse_error = None


def _position_of(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    before = text[:offset]
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _matches_any(relpath: str, patterns: Iterable[str]) -> bool:
    posix = relpath.replace(os.sep, "/")
    name = posix.rsplit("/", 1)[-1]
    for pattern in patterns:
        pat = pattern.rstrip("/")
        if fnmatch.fnmatch(posix, pat) or fnmatch.fnmatch(name, pat):
            return True
        if posix == pat or posix.startswith(pat + "/"):
            return True
        if fnmatch.fnmatch(posix, pat + "/*"):
            return True
    return False


def iter_python_files(root: Path, exclude: Iterable[str] = ()) -> Iterator[Path]:
    """Every ``.py`` file under ``root``, skipping environments, caches and excluded paths."""
    excluded = tuple(exclude)
    seen_dirs: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:  # a symlink loop
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        rel_dir = os.path.relpath(dirpath, root)
        kept = []
        for d in sorted(dirnames):
            if d in ALWAYS_SKIPPED_DIRS or d.endswith(".egg-info"):
                continue
            rel = d if rel_dir == "." else os.path.join(rel_dir, d)
            if excluded and _matches_any(rel, excluded):
                continue
            if os.path.isfile(os.path.join(dirpath, d, "pyvenv.cfg")):
                continue
            kept.append(d)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            if excluded and _matches_any(rel, excluded):
                continue
            yield Path(dirpath) / name


def is_excluded(relpath: str, exclude: Iterable[str]) -> bool:
    return _matches_any(relpath, exclude)
