"""Baselines: record today's findings, then report only new ones.

A finding matches a baseline entry on its path, its code and the content of the line it
sits on (whitespace-trimmed), not on its line number, so edits above a finding do not
bring it back. Identical entries are counted, so a second copy of a known finding is new.
"""

from __future__ import annotations

import json
import os
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
    try:
        path.write_text(json.dumps(payload, indent=2) + "\n", "utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write baseline: {exc.strerror or exc}") from exc


def read_baseline(path: Path) -> Counter[tuple[str, str, str]]:
    try:
        payload = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read baseline: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{path}: baseline is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("celery_lint_baseline") != BASELINE_VERSION:
        raise ConfigError(f"{path}: not a celery-lint baseline (write one with --write-baseline)")
    counts: Counter[tuple[str, str, str]] = Counter()
    entries = payload.get("findings", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: malformed baseline: 'findings' must be a list")
    for entry in entries:
        try:
            key = (str(entry["path"]), str(entry["code"]), str(entry["line_content"]))
            counts[key] += int(entry.get("count", 1))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{path}: malformed baseline entry {entry!r}") from exc
    return counts


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
