"""Celery's setting names, read from the installed Celery.

The names come from ``celery.app.defaults`` (the same tables Celery itself uses to
rename old settings and to detect mixed styles), never from a hand-copied list: the
documentation's rename table is wrong in many places. A few settings Celery reads by
name (``conf.get('result_backend_thread_safe')`` in a backend) are missing from those
tables: they are found by reading the installed Celery's own source. Importing ``celery.app`` costs
about a quarter of a second, so the catalogue is kept in a small JSON file keyed by
the installed Celery version and rebuilt only when that version changes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

_CACHE_FORMAT = 4


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
    undeclared: dict[str, str] = field(default_factory=dict)
    """Settings Celery reads by name (``conf.get('firestore_project')``, ``conf['x']``,
    ``app.conf.x``) that ``celery.app.defaults`` does not declare, each with the first
    place of the installed Celery that reads it (``celery/backends/gcs.py:189``)."""

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

    def read_undeclared(self, key: str, namespace: str | None) -> str | None:
        """The undeclared setting Celery reads ``key`` as (the key itself, or
        ``<NS>_<NAME>`` under a namespace), or None."""
        if key in self.undeclared:
            return key
        if namespace:
            prefix = namespace + "_"
            if key.startswith(prefix) and key == (key.upper() if namespace.isupper() else key):
                rest = key[len(prefix) :].lower()
                if rest in self.undeclared:
                    return rest
        return None

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
        "undeclared": _undeclared_reads(set(celery_defaults.DEFAULTS) | set(celery_defaults._TO_NEW_KEY)),
    }


def _undeclared_reads(declared: set[str]) -> dict[str, str]:
    """Names the installed Celery reads from an app's configuration (``conf.get('name')``,
    ``conf['name']``, ``x.conf.name``) that ``declared`` does not hold."""
    import ast

    import celery
    from celery.app.utils import Settings

    root = Path(celery.__file__).parent
    ignored = declared | set(dir(Settings))
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent)
        if "tests" in relative.parts:
            continue
        try:
            tree = ast.parse(path.read_text("utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
            continue
        decorators = {
            id(node)
            for owner in ast.walk(tree)
            if isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            for decorator in owner.decorator_list
            for node in ast.walk(decorator)
        }
        for node in ast.walk(tree):
            if id(node) in decorators:
                continue
            name = _conf_read(node)
            if name is not None and name not in ignored and name not in found:
                found[name] = f"{relative.as_posix()}:{getattr(node, 'lineno', 0)}"
    return found


def _conf_read(node: Any) -> str | None:
    """``conf.get('name', ...)``, ``conf['name']`` or ``x.conf.name`` read: the name."""
    import ast

    def is_conf(expr: Any) -> bool:
        if isinstance(expr, ast.Name):
            return expr.id in ("conf", "_conf")
        return isinstance(expr, ast.Attribute) and expr.attr in ("conf", "_conf")

    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get", "setdefault")
        and is_conf(node.func.value)
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.ctx, ast.Load)
        and is_conf(node.value)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
    ):
        return node.slice.value
    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and is_conf(node.value):
        return node.attr
    return None


def _type_name(declared: Any) -> str:
    name = declared if isinstance(declared, str) else getattr(declared, "__name__", "any")
    return {"str": "string", "tuple": "list", "bytes": "any"}.get(name, name)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "celery-lint"


def installed_celery_version() -> str:
    try:
        return metadata.version("celery")
    except metadata.PackageNotFoundError:  # pragma: no cover - celery is a dependency
        return "unknown"


def cached_json(stem: str, version: int, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What ``build`` reads from the installed Celery, kept in a JSON file keyed by the
    Celery and Python versions (``stem``-<celery>-py<xy>-v<version>.json) and rebuilt only
    when one of them changes: importing Celery costs about a quarter of a second."""
    py = f"{sys.version_info[0]}{sys.version_info[1]}"
    cache_file = _cache_dir() / f"{stem}-{installed_celery_version()}-py{py}-v{version}.json"
    data: dict[str, Any] | None = None
    try:
        data = json.loads(cache_file.read_text("utf-8"))
        if not isinstance(data, dict) or data.get("format") != version:
            data = None
    except (OSError, ValueError):
        data = None
    if data is None:
        data = {**build(), "format": version}
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache_file.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only home only costs the import next time
    return data


@cache
def load_catalogue() -> SettingsCatalogue:
    """The catalogue for the installed Celery, from the version-keyed cache when possible."""
    data = cached_json("settings", _CACHE_FORMAT, _read_from_celery)
    return SettingsCatalogue(
        celery_version=installed_celery_version(),
        defaults=data["defaults"],
        old_to_new=data["old_to_new"],
        new_to_old=data["new_to_old"],
        types=data["types"],
        undeclared=data["undeclared"],
    )
