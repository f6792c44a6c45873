"""Celery's setting names, read from the installed Celery.

The names come from ``celery.app.defaults`` (the same tables Celery itself uses to
rename old settings and to detect mixed styles), never from a hand-copied list: the
documentation's rename table is wrong in many places. Importing ``celery.app`` costs
about a quarter of a second, so the catalogue is kept in a small JSON file keyed by
the installed Celery version and rebuilt only when that version changes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

_CACHE_FORMAT = 3


@dataclass(frozen=True)
class SettingsCatalogue:
    """Every setting the installed Celery knows, in both spellings."""

    celery_version: str
    defaults: dict[str, Any]
    """New (lowercase) name to its default, JSON-ified (timedelta as seconds)."""
    old_to_new: dict[str, str]
    new_to_old: dict[str, str]
    types: dict[str, str] = field(default_factory=dict)
    """New name to the type Celery declares for it: ``bool``, ``int``, ``float``, ``string``,
    ``list``, ``dict`` or ``any``."""

    def is_new(self, key: str) -> bool:
        return key in self.defaults

    def is_old(self, key: str) -> bool:
        return key in self.old_to_new

    def canonical(self, key: str) -> str | None:
        """The new name of ``key`` if it is a Celery setting in either spelling."""
        if key in self.defaults:
            return key
        return self.old_to_new.get(key)

    def namespaced(self, key: str, namespace: str) -> str | None:
        """The new name for ``key`` read through ``namespace`` (``CELERY_TASK_ACKS_LATE``)."""
        prefix = namespace + "_"
        if not key.startswith(prefix):
            return None
        rest = key[len(prefix) :].lower()
        return rest if rest in self.defaults else None

    def all_names(self) -> list[str]:
        return sorted(set(self.defaults) | set(self.old_to_new))


def _jsonable(value: Any) -> Any:
    from datetime import timedelta

    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (tuple, list, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, float) and value == float("inf"):
        return "inf"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _read_from_celery() -> dict[str, Any]:
    from celery.app import defaults as celery_defaults

    return {
        "format": _CACHE_FORMAT,
        "defaults": {k: _jsonable(v) for k, v in celery_defaults.DEFAULTS.items()},
        "old_to_new": dict(celery_defaults._TO_NEW_KEY),
        "new_to_old": dict(celery_defaults._TO_OLD_KEY),
        "types": {
            name: _type_name(option.type)
            for name, option in celery_defaults.flatten(celery_defaults.NAMESPACES)
        },
    }


def _type_name(declared: Any) -> str:
    name = declared if isinstance(declared, str) else getattr(declared, "__name__", "any")
    return {"str": "string", "tuple": "list", "bytes": "any"}.get(name, name)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "celery-lint"


def _installed_celery_version() -> str:
    try:
        return metadata.version("celery")
    except metadata.PackageNotFoundError:  # pragma: no cover - celery is a dependency
        return "unknown"


@cache
def load_catalogue() -> SettingsCatalogue:
    """The catalogue for the installed Celery, from the version-keyed cache when possible."""
    version = _installed_celery_version()
    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    cache_file = _cache_dir() / f"settings-{version}-py{py}-v{_CACHE_FORMAT}.json"
    data: dict[str, Any] | None = None
    try:
        data = json.loads(cache_file.read_text("utf-8"))
        if data.get("format") != _CACHE_FORMAT:
            data = None
    except (OSError, ValueError):
        data = None
    if data is None:
        data = _read_from_celery()
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only home only costs the import next time
    return SettingsCatalogue(
        celery_version=version,
        defaults=data["defaults"],
        old_to_new=data["old_to_new"],
        new_to_old=data["new_to_old"],
        types=data["types"],
    )
