"""The search behind :meth:`SettingsModel.names_setting_anywhere`: the words of the
project's Python files and configuration files, where a setting name may be spelt."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tokenize
from pathlib import Path

from .discovery import walks_into

_TOKEN = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DATA_SUFFIXES = (".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".env", ".conf")


_ASCII_SUPERSETS = frozenset({"utf-8", "utf-8-sig", "iso-8859-1", "latin-1", "ascii", "us-ascii"})


def spells_words_as_ascii(data: bytes) -> bool:
    """Whether every word :func:`code_tokens` finds in ``data`` is also in it byte for byte:
    true when the source decodes as UTF-8 or Latin-1 (a coding cookie can name an encoding,
    UTF-16 or UTF-7, that spells ASCII letters otherwise)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        return True  # tokenizing fails too, and the fallback reads the bytes themselves
    return encoding.lower() in _ASCII_SUPERSETS


def spelling_pattern(name: str, old: str | None) -> re.Pattern[bytes]:
    """What a file's bytes hold when :func:`code_tokens` finds a word that names setting
    ``name`` (new name, upper case, ``old`` name, an upper-case word ending in ``_`` and the
    upper-case name), in a file that :func:`spells_words_as_ascii`. Such a word is a run of
    ASCII letters, digits and underscores, with no letter or underscore before it and no
    letter, digit or underscore after it: a spelling inside a longer word (``include`` in
    ``includes``) is no match. Comments count, so the answer may be yes for nothing."""
    upper = name.upper()
    words = sorted({re.escape(s.encode("ascii")) for s in (name, upper, old) if s is not None})
    ends = re.escape(f"_{upper}".encode("ascii"))
    return re.compile(
        rb"(?<![A-Za-z_])(?:" + b"|".join(words) + rb")(?![A-Za-z0-9_])|" + ends + rb"(?![A-Za-z0-9_])"
    )


def code_tokens(data: bytes) -> frozenset[str]:
    """Names and words in strings of Python source, comments left out."""
    words: list[str] = []
    try:
        for token in tokenize.tokenize(io.BytesIO(data).readline):
            if token.type in (tokenize.NAME, tokenize.STRING):
                words.extend(_WORD.findall(token.string))
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError, ValueError):
        return _tokens(data)
    return frozenset(words)


def _tokens(data: bytes) -> frozenset[str]:
    return frozenset(token.decode("ascii") for token in _TOKEN.findall(data))


def data_file_tokens(root: Path, digests: dict[str, str]) -> list[frozenset[str]]:
    """The words of each configuration file; ``digests`` receives what was read of each."""
    result = []
    for path, data in _read_data_files(root):
        digests[str(path)] = _digest(data)
        if data is not None:
            result.append(_tokens(data))
    return result


def data_file_digests(root: Path) -> dict[str, str]:
    """What the setting search would read of each configuration file now, by content (an
    unreadable file by an empty string): equal digests, equal search results."""
    return {str(path): _digest(data) for path, data in _read_data_files(root)}


def _read_data_files(root: Path) -> list[tuple[Path, bytes | None]]:
    found: list[tuple[Path, bytes | None]] = []
    for path in data_files(root):
        try:
            found.append((path, path.read_bytes()[:1_000_000]))
        except OSError:
            found.append((path, None))
    return found


def _digest(data: bytes | None) -> str:
    return "" if data is None else hashlib.blake2b(data, digest_size=16).hexdigest()


def data_files(root: Path) -> list[Path]:
    """Configuration files of the repository a deployment may load settings from."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if walks_into(folder, d)]
        for name in files:
            # pyproject.toml holds celery-lint's own configuration (deployment-settings
            # names settings there); a deployment does not load Celery settings from it.
            if name == "pyproject.toml":
                continue
            if name.endswith(_DATA_SUFFIXES) or name.startswith(".env"):
                found.append(Path(folder, name))
        if len(found) > 2000:
            break
    return found
