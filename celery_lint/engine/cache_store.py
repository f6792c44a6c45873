"""Where the result cache lives, and reading and writing its files safely.

A cache file is trusted only when this user on this machine wrote it: its content is sealed
with a secret kept in the user's own cache folder (``$XDG_CACHE_HOME/celery-lint/secret``,
else ``~/.cache/celery-lint/secret``), and the file is owned by the user. A cache committed
to the repository, or brought by a checkout, an archive or another account, fails that test
and is rebuilt. The cache folder is used only when it is a real folder (not a symbolic link)
owned by the user; nothing in it is written or deleted through a symbolic link, and every
file is written to a new temporary file first, then moved into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

CACHE_DIR = ".celery_lint_cache"
CACHE_DIR_ENV = "CELERY_LINT_CACHE_DIR"
SECRET_NAME = "secret"
_HEADER = b"celery-lint-cache "
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_SECRETS: dict[Path, bytes | None] = {}


def _owned(st: os.stat_result) -> bool:
    getuid = getattr(os, "getuid", None)
    return getuid is None or st.st_uid == getuid()


def warn(message: str) -> None:
    """One line on stderr: the run goes on without the cache."""
    sys.stderr.write(f"celery-lint: warning: {message}\n")


def chosen_cache_dir(explicit: str | os.PathLike[str] | None) -> Path | None:
    """``--cache-dir``, else ``$CELERY_LINT_CACHE_DIR``, else None (each project's own folder)."""
    chosen = os.fspath(explicit) if explicit else os.environ.get(CACHE_DIR_ENV, "")
    return Path(os.path.abspath(os.path.expanduser(chosen))) if chosen else None


def user_cache_home() -> Path | None:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "celery-lint"
    home = os.path.expanduser("~")
    return Path(home) / ".cache" / "celery-lint" if home != "~" and os.path.isabs(home) else None


def machine_secret() -> bytes | None:
    """This user's secret (made on first use); None when it cannot be kept: no cache then."""
    folder = user_cache_home()
    if folder is None:
        return None
    if folder not in _SECRETS:
        _SECRETS[folder] = _load_or_make_secret(folder)
    return _SECRETS[folder]


def existing_secret() -> bytes | None:
    """This user's secret when it was made already; None otherwise (nothing is written)."""
    folder = user_cache_home()
    if folder is None:
        return None
    if folder in _SECRETS:
        return _SECRETS[folder]
    try:
        with _open_folder(folder) as fd:
            secret = _read_secret(fd)
    except (OSError, UnsafeFolder, NotImplementedError):
        return None
    if secret is not None:  # kept like machine_secret's; a missing one may be made later
        _SECRETS[folder] = secret
    return secret


def _load_or_make_secret(folder: Path) -> bytes | None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _open_folder(folder) as fd:
            secret = _read_secret(fd)
            if secret is not None:
                return secret
            temp = f".{SECRET_NAME}.{os.getpid()}.tmp"
            _write_new(fd, temp, os.urandom(32), mode=0o600)
            try:
                os.link(temp, SECRET_NAME, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
            except FileExistsError:
                pass  # another run made it first: use that one
            finally:
                os.unlink(temp, dir_fd=fd)
            return _read_secret(fd)
    except (OSError, NotImplementedError, TypeError):
        return None


def _read_secret(fd: int) -> bytes | None:
    data = read_regular(fd, SECRET_NAME)
    return data if data is not None and len(data) == 32 else None


class UnsafeFolder(Exception):
    """The cache folder is a symbolic link, not a folder, or not the user's."""


@contextlib.contextmanager
def _open_folder(path: Path) -> Iterator[int]:
    """A descriptor of ``path`` itself (never of a folder a symbolic link points to)."""
    fd = os.open(path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISDIR(st.st_mode) or not _owned(st):
            raise UnsafeFolder(f"{path} is not a folder of this user")
        yield fd
    finally:
        os.close(fd)


def check_folder(path: Path) -> str | None:
    """Why ``path`` must not be used as the cache folder (None: usable, or not there yet)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a folder"
    if not _owned(st):
        return f"{path} belongs to another user"
    return None


@contextlib.contextmanager
def open_folder(path: Path, create: bool) -> Iterator[int]:
    """The cache folder's descriptor; raises :class:`UnsafeFolder` or OSError."""
    problem = check_folder(path)
    if problem is not None:
        raise UnsafeFolder(problem)
    if create:
        with contextlib.suppress(FileExistsError):
            path.mkdir(parents=True)
    with _open_folder(path) as fd:
        yield fd


def read_regular(fd: int, name: str) -> bytes | None:
    """The content of ``name`` in the folder ``fd`` when it is a regular file of this user."""
    try:
        # (Non-blocking: a FIFO put there must not hang the run; it is refused below.)
        handle = os.open(name, os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK, dir_fd=fd)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as file:
        st = os.fstat(file.fileno())
        if not stat.S_ISREG(st.st_mode) or not _owned(st):
            return None
        return file.read()


def _write_new(fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Create ``name`` (it must not exist, not even as a link) and write ``data``."""
    handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode, dir_fd=fd)
    with os.fdopen(handle, "wb") as file:
        file.write(data)


def write_atomic(fd: int, name: str, data: bytes) -> None:
    """Replace ``name`` in the folder ``fd`` by a complete new file (a link there is replaced,
    never followed)."""
    temp = f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        _write_new(fd, temp, data)
        os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=fd)
        raise


def ensure_gitignore(fd: int) -> bool:
    """The folder's own ``.gitignore`` (``*``); False when something else has the name."""
    try:
        st = os.stat(".gitignore", dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        try:
            _write_new(fd, ".gitignore", b"# created by celery-lint\n*\n")
        except FileExistsError:
            return False
        return True
    return stat.S_ISREG(st.st_mode) and _owned(st)


def remove(fd: int, name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=fd)


def names_in(fd: int) -> list[str]:
    return os.listdir(fd)


def seal(secret: bytes, payload: bytes) -> bytes:
    """The file's bytes: a header line with the payload's keyed digest, then the payload."""
    mac = hashlib.blake2b(payload, key=secret, digest_size=32).hexdigest().encode()
    return _HEADER + mac + b"\n" + payload


def unseal(secret: bytes, data: bytes) -> bytes | None:
    """The payload of a file :func:`seal` made with this secret; None for anything else."""
    header, _, payload = data.partition(b"\n")
    if not header.startswith(_HEADER):
        return None
    mac = hashlib.blake2b(payload, key=secret, digest_size=32).hexdigest().encode()
    return payload if hmac.compare_digest(header[len(_HEADER) :], mac) else None
