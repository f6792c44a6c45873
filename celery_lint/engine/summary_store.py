"""Module summaries kept between runs: a module whose bytes did not change is not parsed.

Each entry is one module's :class:`~celery_lint.project.scan.ModuleSummary` (its LibCST
tree included), pickled and compressed, named by a digest of the file's bytes, what else
the summary depends on (:func:`~celery_lint.project.scan.summary_inputs`) and the code that
made it (LibCST, Python, celery-lint). Entries live in ``summaries/`` of the result cache's
folder (``.celery_lint_cache/`` or ``--cache-dir``), and the folder is kept under
:data:`MAX_STORE_BYTES` by removing the entries used longest ago.

Unpickling runs code of the data's choosing, so an entry is read only when nobody else can
have written it: the folder is created ``0700`` and is refused (every module is parsed, and
a debug line on the ``celery_lint.engine.summary_store`` logger says why, once) when it, or
the folder holding it, is a symbolic link, not a folder, another user's or writable by group
or others; an entry that is not a regular file of this user or is writable by others is not
read. Every entry carries an HMAC-SHA256 of its name and content, under a key made of the
store's own random key (a ``0600`` file in the folder) and the user's secret of the result
cache (in the user's home, so a store brought by an archive or a checkout, key file
included, cannot vouch for itself); an entry whose MAC does not verify is deleted. Anything
wrong with an entry (cut short, from another version) means the module is parsed again:
never an error.
"""

from __future__ import annotations

import contextlib
import copyreg
import dataclasses
import errno
import hashlib
import hmac
import io
import logging
import operator
import os
import pickle
import stat
import sys
import time
import typing
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..interrupts import raise_if_interrupted
from ..project import scan
from ..project.files import run_with_large_stack
from ..project.scan import ModuleSummary, summary_inputs
from ..version import __version__
from .cache_store import (
    CACHE_DIR,
    check_folder,
    chosen_cache_dir,
    ensure_gitignore,
    machine_secret,
    write_atomic,
)

if TYPE_CHECKING:
    from ..project.files import SourceFile

_LOG = logging.getLogger(__name__)

STORE_DIR = "summaries"
SUMMARY_FORMAT = 3
"""Bump when what an entry holds changes in a way the code fingerprint would not show."""
MAX_STORE_BYTES = 200 * 1024 * 1024
"""The folder's size past which the entries used longest ago are removed (down to 3/4)."""
MAX_ENTRY_BYTES = 64 * 1024 * 1024
KEY_NAME = "key"
_SUFFIX = ".summary"
_TAG_BYTES = 32
_STALE_TEMP_SECONDS = 3600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_FINGERPRINT: bytes | None = None


class _Refused(Exception):
    """Why the store (or one entry) must not be read."""


def summary_store_for(root: Path, cache_dir: Path | None = None) -> SummaryStore:
    """The store of the project at ``root``, beside its result cache: in ``cache_dir`` (else
    ``$CELERY_LINT_CACHE_DIR``) when given, shared by the projects that use it, else in
    ``root/.celery_lint_cache``."""
    chosen = chosen_cache_dir(cache_dir)
    if chosen is not None:
        return SummaryStore(Path(os.path.realpath(chosen)), in_project=False)
    return SummaryStore(root / CACHE_DIR, in_project=True)


class SummaryStore:
    """Summaries by content, in ``parent/summaries`` (opened on first use)."""

    def __init__(self, parent: Path, *, in_project: bool) -> None:
        """``in_project``: ``parent`` is a project's own cache folder (given a
        ``.gitignore`` when this store creates it)."""
        self.parent = parent
        self.folder = parent / STORE_DIR
        self.in_project = in_project
        self.loaded = 0
        self.parsed = 0
        self.saved = 0
        self._key: bytes | None = None
        self._refused: str | None = None
        self._evicted = False

    # ------------------------------------------------------------------ the model's side
    def load(self, file: SourceFile) -> ModuleSummary | None:
        data = file.read()
        if data is None or self._refused is not None:
            return None
        name = _entry_name(file, data)
        try:
            with self._opened(create=False) as fd:
                payload = self._read_entry(fd, name)
        except _Refused as exc:
            self._refuse(str(exc))
            return None
        except OSError:
            payload = None
        summary = _unpickled(file, payload) if payload is not None else None
        if summary is None:
            self.parsed += 1
        else:
            self.loaded += 1
        return summary

    def save(self, summary: ModuleSummary) -> None:
        file = summary.file
        if self._refused is not None or file.in_memory or file.data is None:
            return
        blob = _pickled(summary)
        if blob is not None and self.write_entry(_entry_name(file, file.data), blob):
            self.saved += 1

    def write_entry(self, name: str, blob: bytes) -> bool:
        """Keep ``blob`` (a pickled summary) as the entry ``name``, sealed with the store's
        key; False when the store cannot be written."""
        try:
            with self._opened(create=True) as fd:
                if not self._evicted:
                    self._evicted = True
                    _evict(fd, MAX_STORE_BYTES)
                assert self._key is not None
                write_atomic(fd, name, _tag(self._key, name, blob) + blob)
                return True
        except _Refused as exc:
            self._refuse(str(exc))
        except OSError:
            pass  # a read-only project only loses the speed-up
        return False

    def report(self) -> None:
        """One debug line: what this store did in the run."""
        if self.loaded or self.parsed or self.saved:
            _LOG.debug(
                "summary store %s: %d modules loaded, %d parsed, %d saved",
                self.folder,
                self.loaded,
                self.parsed,
                self.saved,
            )

    # ------------------------------------------------------------------ the folder
    def _refuse(self, why: str) -> None:
        if self._refused is None:
            self._refused = why
            _LOG.debug("summary store not used (every module is parsed): %s", why)

    @contextlib.contextmanager
    def _opened(self, create: bool) -> Iterator[int]:
        """The store folder's descriptor, checked; its key known. Raises :class:`_Refused`
        or OSError (not there yet, and ``create`` is false)."""
        problem = check_folder(self.parent)
        if problem is not None:
            raise _Refused(problem)
        if os.open not in os.supports_dir_fd:
            raise _Refused("this system cannot open files relative to a folder")
        if create and not os.path.lexists(self.parent):
            with contextlib.suppress(FileExistsError):
                self.parent.mkdir(parents=True)
        parent_fd = _open_folder(self.parent)
        try:
            if create and self.in_project and not ensure_gitignore(parent_fd):
                raise _Refused(f"{self.parent / '.gitignore'} is not a file of this user")
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(STORE_DIR, 0o700, dir_fd=parent_fd)
            fd = _open_folder(STORE_DIR, parent_fd, self.folder)
        finally:
            os.close(parent_fd)
        try:
            if self._key is None:
                self._key = _store_key(fd, create)
            yield fd
        finally:
            os.close(fd)

    def _read_entry(self, fd: int, name: str) -> bytes | None:
        """The pickled summary of entry ``name`` when its MAC verifies (else deleted)."""
        data = _read_file(fd, name, str(self.folder / name), private=False, limit=MAX_ENTRY_BYTES)
        if data is None:
            return None
        with contextlib.suppress(OSError, NotImplementedError):
            os.utime(name, dir_fd=fd, follow_symlinks=False)  # used now: the last to be evicted
        assert self._key is not None
        tag, blob = data[:_TAG_BYTES], data[_TAG_BYTES:]
        if not hmac.compare_digest(tag, _tag(self._key, name, blob)):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=fd)
            return None
        return blob


def _owned(info: os.stat_result) -> bool:
    getuid = getattr(os, "getuid", None)
    return getuid is None or info.st_uid == getuid()


def _unsafe(info: os.stat_result, where: str, *, private: bool) -> str | None:
    """Why a folder or file with this status must not be trusted (``private``: nobody
    else may even read it)."""
    if not _owned(info):
        return f"{where} belongs to another user"
    if info.st_mode & (0o077 if private else 0o022):
        return f"{where} is {'readable' if private else 'writable'} by other users"
    return None


def _open_folder(name: str | Path, dir_fd: int | None = None, shown: Path | None = None) -> int:
    """A descriptor of the folder itself (never one a symbolic link points to), checked:
    this user's, and (the store's own folder, ``dir_fd`` given) writable by nobody else."""
    where = str(shown or name)
    try:
        fd = os.open(name, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _Refused(f"{where} is a symbolic link or not a folder") from None
        raise
    try:
        info = os.fstat(fd)
        problem = (
            _unsafe(info, where, private=False)
            if dir_fd is not None
            else (None if _owned(info) else f"{where} belongs to another user")
        )
        if problem is not None or not stat.S_ISDIR(info.st_mode):
            raise _Refused(problem or f"{shown or name} is not a folder")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _store_key(fd: int, create: bool) -> bytes:
    """The MAC key: the store's own key (made on first use) bound to the user's secret."""
    secret = machine_secret()
    if secret is None:
        raise _Refused("no user cache folder to keep the secret in")
    key = _read_key(fd)
    if key is None:
        if not create:
            raise FileNotFoundError(KEY_NAME)
        temp = f".{KEY_NAME}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        _write_new(fd, temp, os.urandom(32))
        try:
            os.link(temp, KEY_NAME, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
        except FileExistsError:
            pass  # another run made it first: use that one
        finally:
            os.unlink(temp, dir_fd=fd)
        key = _read_key(fd)
        if key is None:
            raise _Refused(f"cannot keep a key in the summary store ({KEY_NAME})")
    return hmac.new(secret, b"celery-lint summaries\0" + key, hashlib.sha256).digest()


def _read_key(fd: int) -> bytes | None:
    key = _read_file(fd, KEY_NAME, f"the summary store's {KEY_NAME} file", private=True, limit=64)
    if key is not None and len(key) != 32:
        raise _Refused(f"the summary store's {KEY_NAME} file is malformed")
    return key


def _read_file(fd: int, name: str, where: str, *, private: bool, limit: int) -> bytes | None:
    """The content of ``name`` in the folder ``fd``; None when there is none, it is not a
    regular file or it is over ``limit`` bytes. Raises :class:`_Refused` when it is another
    user's, or others may write it (``private``: may read it)."""
    try:
        # (Non-blocking: a FIFO put there must not hang the run; it is refused below.)
        handle = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK, dir_fd=fd)
    except FileNotFoundError:
        return None
    with os.fdopen(handle, "rb") as file:
        info = os.fstat(file.fileno())
        problem = _unsafe(info, where, private=private)
        if problem is not None:
            raise _Refused(problem)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        return file.read(limit + 1)


def _write_new(fd: int, name: str, data: bytes) -> None:
    """Create ``name``, readable by this user only (it must not exist, not even as a link)."""
    handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=fd)
    with os.fdopen(handle, "wb") as file:
        file.write(data)


def _evict(fd: int, limit: int) -> None:
    """Remove the entries used longest ago while the folder holds over ``limit`` bytes (down
    to three quarters of it), and temporary files a run left behind."""
    if os.scandir not in os.supports_fd:
        return
    entries: list[tuple[int, int, str]] = []
    total = 0
    now = time.time_ns()
    with os.scandir(fd) as listing:
        for item in listing:
            try:
                info = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            if item.name.endswith(".tmp") and now - info.st_mtime_ns > _STALE_TEMP_SECONDS * 10**9:
                with contextlib.suppress(OSError):
                    os.unlink(item.name, dir_fd=fd)
            elif item.name.endswith(_SUFFIX):
                entries.append((info.st_mtime_ns, info.st_size, item.name))
                total += info.st_size
    if total <= limit:
        return
    for _, size, name in sorted(entries):
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=fd)
        total -= size
        if total <= limit * 3 // 4:
            break


def _tag(key: bytes, name: str, blob: bytes) -> bytes:
    return hmac.new(key, name.encode("ascii") + b"\0" + blob, hashlib.sha256).digest()


def _entry_name(file: SourceFile, data: bytes) -> str:
    parts = [_code_fingerprint(), *(part.encode("utf-8", "surrogatepass") for part in summary_inputs(file))]
    digest = hashlib.sha256(b"\0".join(parts))
    digest.update(b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest() + _SUFFIX


def _code_fingerprint() -> bytes:
    """What makes a summary besides the file: this store's format, celery-lint (the
    modules that parse and scan a module, by content), LibCST and Python."""
    global _FINGERPRINT
    if _FINGERPRINT is None:
        digest = hashlib.sha256(
            f"{SUMMARY_FORMAT}\0{__version__}\0{_libcst_version()}\0{sys.version}".encode()
        )
        folder = Path(scan.__file__).parent
        for name in ("scan.py", "walk.py", "strings.py", "files.py"):
            with contextlib.suppress(OSError):
                digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
        _FINGERPRINT = digest.hexdigest().encode()
    return _FINGERPRINT


def _libcst_version() -> str:
    try:
        from libcst._version import __version__ as version
    except ImportError:  # pragma: no cover - a LibCST without the module
        from importlib.metadata import version as installed

        return installed("libcst")
    return str(version)


# ---------------------------------------------------------------------- pickling
def _node_fields(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _set_fields(node: Any, values: tuple[Any, ...]) -> None:
    """Unpickling: the fields of a (frozen) LibCST node, in :func:`_node_fields` order (a
    node class LibCST does not export by its name, which has no maker)."""
    for name, value in zip(_node_fields(type(node)), values, strict=True):
        object.__setattr__(node, name, value)


_MAKER_PREFIX = "_make_"


def _maker(cls: type) -> Callable[..., Any]:
    """Unpickling: a function of the fields of a ``cls`` node, in :func:`_node_fields` order,
    that makes the node. It is straight-line code made for the class (one call a node
    instead of a loop over names), and a module attribute, so a pickle names it."""
    name = _MAKER_PREFIX + cls.__name__
    made = globals().get(name)
    if made is not None:
        return made  # type: ignore[no-any-return]
    fields = _node_fields(cls)
    arguments = ", ".join(f"a{index}" for index in range(len(fields)))
    lines = [f"def {name}({arguments}):", "    node = new(cls)"]
    lines += [f"    put(node, {field!r}, a{index})" for index, field in enumerate(fields)]
    lines.append("    return node")
    namespace: dict[str, Any] = {"new": object.__new__, "put": object.__setattr__, "cls": cls}
    exec("\n".join(lines), namespace)  # the code is made of the dataclass field names alone
    made = namespace[name]
    made.__module__ = __name__
    made.__qualname__ = name
    globals()[name] = made
    return made  # type: ignore[no-any-return]


def __getattr__(name: str) -> Any:
    """A node maker an entry names (``_make_Name``) is made on first use."""
    if name.startswith(_MAKER_PREFIX):
        cls = _exported_node_class(name[len(_MAKER_PREFIX) :])
        if cls is not None:
            return _maker(cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _exported_node_class(name: str) -> type | None:
    """The LibCST node class ``libcst.<name>``, if there is one."""
    import libcst

    cls = getattr(libcst, name, None)
    if isinstance(cls, type) and issubclass(cls, libcst.CSTNode) and cls.__name__ == name:
        return cls
    return None


_SHARED: dict[tuple[Any, ...], Any] = {}


def _shared_node(cls: type, *values: Any) -> Any:
    """Unpickling: the one node of class ``cls`` with these fields (whitespace, a comma, an
    operator). Such nodes hold no name and no position of their own that anything here
    asks for, and make up about 60% of a module's nodes (oncall: 41% are SimpleWhitespace),
    so equal ones are one object: loading makes that many fewer."""
    key = (cls, *values)
    try:
        return _SHARED[key]
    except KeyError:
        pass
    except TypeError:  # a field holds a list: not hashable, so not shared
        key = ()
    node: Any = object.__new__(cls)
    _set_fields(node, values)
    if key:
        _SHARED[key] = node
    return node


def _is_token(cls: type) -> bool:
    """Whitespace, comments, punctuation and operators: nodes made of tokens alone."""
    module = cls.__module__
    return module in ("libcst._nodes.whitespace", "libcst._nodes.op") or cls.__name__ in _BRACKETS


_BRACKETS = frozenset(
    (
        "LeftParen",
        "RightParen",
        "LeftSquareBracket",
        "RightSquareBracket",
        "LeftCurlyBrace",
        "RightCurlyBrace",
    )
)


class _Canonical:
    """Pickling one entry: equal token nodes given as one object. The pickler writes an
    object it has seen as a reference to it, so a module's thousands of equal whitespace
    and comma nodes load as a few calls of :func:`_shared_node` instead of one each."""

    def __init__(self) -> None:
        self.by_value: dict[tuple[Any, ...], Any] = {}
        self.by_id: dict[int, Any] = {}

    def token(self, node: Any, values: tuple[Any, ...]) -> Any:
        """The entry's one node equal to the token ``node``, whose (canonical) fields are ``values``."""
        try:
            chosen = self.by_value.setdefault((type(node), *values), node)
        except TypeError:  # a field holds a list: not hashable, so kept as it is
            chosen = node
        self.by_id[id(node)] = chosen
        return chosen


_CANONICAL: list[_Canonical] = []
"""The entry being pickled (its canonical tokens), while :func:`_pickled` runs."""


class _NodeReducers(dict):  # type: ignore[type-arg]
    """A pickler's dispatch table that keeps a LibCST node as the call of its class's maker
    with its fields (LibCST's own ``__getstate__`` calls ``dataclasses.fields`` for every
    node and builds a dict: pickling took 0.9 s instead of 0.35 s on oncall's 137 modules).
    Token nodes are written once an entry (:class:`_Canonical`) and loaded through
    :func:`_shared_node`."""

    def __missing__(self, cls: type) -> Callable[[Any], Any]:
        import libcst

        if not (isinstance(cls, type) and issubclass(cls, libcst.CSTNode)):
            raise KeyError(cls)  # pickled as without the table (bindings, enum members)
        if not _TOKEN_CLASSES:
            _know_token_classes()
        getter = _field_getter(cls)
        token_fields = _token_fields(cls)

        def values(node: Any) -> tuple[Any, ...]:
            found = getter(node)
            if not token_fields:
                return found
            canonical = list(found)
            for index in token_fields:
                canonical[index] = _canonical_value(canonical[index])
            return tuple(canonical)

        reduce: Callable[[Any], Any]
        if _is_token(cls):

            def reduce(node: Any) -> Any:
                return _shared_node, (cls, *values(node))

        elif _exported_node_class(cls.__name__) is cls:
            maker = _maker(cls)

            def reduce(node: Any) -> Any:
                return maker, values(node)

        else:
            newobj = copyreg.__newobj__  # type: ignore[attr-defined]

            def reduce(node: Any) -> Any:
                return newobj, (cls,), values(node), None, None, _set_fields

        self[cls] = reduce
        return reduce


def _canonical_value(value: Any) -> Any:
    """A node's field as pickled: a token node (alone or in a sequence) is the entry's
    canonical one."""
    kind = type(value)
    if kind in _TOKEN_CLASSES:
        return _canonical_token(value)
    if (kind is tuple or kind is list) and value and any(type(item) in _TOKEN_CLASSES for item in value):
        return kind(_canonical_token(item) if type(item) in _TOKEN_CLASSES else item for item in value)
    return value


def _canonical_token(node: Any) -> Any:
    if not _CANONICAL:  # pickled outside an entry (a test): as it is
        return node
    entry = _CANONICAL[-1]
    known = entry.by_id.get(id(node))
    if known is not None:
        return known
    values = tuple(_canonical_value(value) for value in _TOKEN_GETTERS[type(node)](node))
    return entry.token(node, values)


def _token_fields(cls: type) -> tuple[int, ...]:
    """The indices of ``cls``'s fields whose type allows a token node, alone or in a
    sequence (``whitespace_after``, ``comma``, ``lpar``; not ``value: BaseExpression``).
    Only these are made canonical: the rest cannot hold one, by LibCST's field types."""
    import libcst

    def classes(annotation: Any) -> Iterator[Any]:
        arguments = typing.get_args(annotation)
        if arguments:
            for argument in arguments:
                yield from classes(argument)
        else:
            yield annotation

    def allows_token(annotation: Any) -> bool:
        return any(
            isinstance(c, type) and (c is libcst.CSTNode or (issubclass(c, libcst.CSTNode) and _is_token(c)))
            for c in classes(annotation)
        )

    return tuple(index for index, field in enumerate(dataclasses.fields(cls)) if allows_token(field.type))


_TOKEN_CLASSES: frozenset[type] = frozenset()
"""LibCST's token node classes (filled when the first node is pickled)."""
_TOKEN_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _know_token_classes() -> None:
    global _TOKEN_CLASSES
    import libcst

    classes = set()
    for name in dir(libcst):
        cls = getattr(libcst, name)
        if isinstance(cls, type) and issubclass(cls, libcst.CSTNode) and _is_token(cls):
            classes.add(cls)
    _TOKEN_GETTERS.update((cls, _field_getter(cls)) for cls in classes)
    _TOKEN_CLASSES = frozenset(classes)


def _field_getter(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    names = _node_fields(cls)
    if len(names) > 1:
        return operator.attrgetter(*names)
    # (attrgetter gives a tuple only for two names or more)
    return lambda node: tuple(getattr(node, name) for name in names)


_REDUCERS = _NodeReducers(copyreg.dispatch_table)


def _pickled(summary: ModuleSummary) -> bytes | None:
    """The summary's entry content (its file left out), or None when it cannot be kept."""

    def dump() -> bytes:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=5)
        pickler.dispatch_table = _REDUCERS
        _CANONICAL.append(_Canonical())
        try:
            pickler.dump(summary.detached())
        finally:
            _CANONICAL.pop()
        return buffer.getvalue()

    try:
        try:
            data = dump()
        except RecursionError:
            # Deep nesting: the large stack affords the pickler's recursion.
            data = run_with_large_stack(dump, recursion_limit=200_000)
    except (RecursionError, MemoryError, ValueError, TypeError, pickle.PicklingError, AttributeError):
        return None
    return zlib.compress(data, 1)


def _unpickled(file: SourceFile, blob: bytes) -> ModuleSummary | None:
    try:
        state = pickle.loads(zlib.decompress(blob))
    except Exception as exc:  # whatever is wrong with an entry, the module is parsed instead
        raise_if_interrupted(exc)
        return None
    return ModuleSummary.attached(file, state)
