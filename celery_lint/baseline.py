"""Baselines: record today's findings, then report only new ones.

A finding matches a baseline entry on its path, its code and the content of the line it
sits on (whitespace-trimmed), not on its line number, so edits above a finding do not
bring it back. Identical entries are counted, so a second copy of a known finding is new.
"""

from __future__ import annotations

import json
import os
import stat
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .config import ConfigError
from .types import Violation

BASELINE_VERSION = 1


def _line_content(path: str, line: int, cache: dict[str, list[str]]) -> str:
    if path not in cache:
        try:
            data = Path(path).read_bytes()
            cache[path] = data.decode("utf-8", errors="replace").splitlines()
        except OSError:
            cache[path] = []
    lines = cache[path]
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _key(violation: Violation, cache: dict[str, list[str]], base: Path) -> tuple[str, str, str]:
    # Paths relative to the baseline's own folder: the same from any working directory.
    relative = os.path.relpath(os.path.abspath(violation.path), base).replace("\\", "/")
    return (relative, violation.code, _line_content(violation.path, violation.line, cache))


def write_baseline(path: Path, violations: Sequence[Violation]) -> None:
    cache: dict[str, list[str]] = {}
    base = path.absolute().parent
    counts = Counter(_key(v, cache, base) for v in violations)
    entries = [
        {"path": p, "code": c, "line_content": content, "count": n}
        for (p, c, content), n in sorted(counts.items())
    ]
    payload = {"celery_lint_baseline": BASELINE_VERSION, "findings": entries}
    if path.is_symlink():
        # A link committed in place of the baseline (to ~/.bashrc, or dangling to a new
        # file anywhere) would have the run overwrite or create a file outside the project.
        raise ConfigError(
            f"{path}: cannot write baseline: it is a symbolic link (celery-lint never writes"
            " through one); name the file it points to"
        )
    _check_regular_file(path, "write")
    try:
        path.write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write baseline: {exc.strerror or exc}") from exc


MAX_BASELINE_BYTES = 256 * 1024 * 1024


def read_baseline(path: Path) -> Counter[tuple[str, str, str]]:
    """The findings a baseline records; :class:`ConfigError` (one line) for anything that
    is not a baseline: a FIFO or a device (never opened, it would block or never end), JSON
    nested past Python's recursion limit, a count that is not a whole number."""
    _check_regular_file(path, "read")
    try:
        size = path.stat().st_size
        if size > MAX_BASELINE_BYTES:
            raise ConfigError(f"{path}: not a celery-lint baseline: {size} bytes is too large")
        payload = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read baseline: {exc.strerror or exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: baseline is not valid JSON: nested too deeply") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: baseline is not valid JSON: {_short(str(exc))}") from exc
    if not isinstance(payload, dict) or payload.get("celery_lint_baseline") != BASELINE_VERSION:
        raise ConfigError(f"{path}: not a celery-lint baseline (write one with --write-baseline)")
    counts: Counter[tuple[str, str, str]] = Counter()
    entries = payload.get("findings", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: malformed baseline: 'findings' must be a list")
    for entry in entries:
        key = _entry_key(entry)
        count = entry.get("count", 1) if isinstance(entry, dict) else None
        if key is None or not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ConfigError(f"{path}: malformed baseline entry {_short(_repr(entry))}")
        counts[key] += count
    return counts


def _entry_key(entry: object) -> tuple[str, str, str] | None:
    if not isinstance(entry, dict):
        return None
    path, code, content = entry.get("path"), entry.get("code"), entry.get("line_content")
    if isinstance(path, str) and isinstance(code, str) and isinstance(content, str):
        return (path, code, content)
    return None


def _check_regular_file(path: Path, action: str) -> None:
    """A FIFO blocks whoever opens it until a writer (or reader) comes, a device may never
    end: a baseline is a regular file, or (to write one) no file yet."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if action == "write":
            return
        raise ConfigError(f"{path}: cannot {action} baseline: No such file or directory") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot {action} baseline: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{path}: cannot {action} baseline: Is a directory")
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{path}: cannot {action} baseline: not a regular file")


def _repr(value: object) -> str:
    try:
        return repr(value)
    except (RecursionError, ValueError):
        return f"<{type(value).__name__}>"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def filter_new(
    violations: Sequence[Violation], baseline: Counter[tuple[str, str, str]], baseline_path: Path
) -> list[Violation]:
    """The findings the baseline does not account for."""
    remaining = Counter(baseline)
    cache: dict[str, list[str]] = {}
    base = baseline_path.absolute().parent
    new = []
    for violation in violations:
        key = _key(violation, cache, base)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            new.append(violation)
    return new
