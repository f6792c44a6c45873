"""What a result cache file must hold: every field read from it, with its type.

A file that does not match (cut short, edited, written by another version) is not an
error: the run rebuilds it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from enum import Enum
from typing import Any

from ..types import Violation


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_str_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _matches(value: Any, hint: Any) -> bool:
    """``value`` (as JSON gives it back) fits the annotation ``hint``."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return any(value == member.value for member in hint)
    return False  # a field the cache does not know how to read back


_HINTS = typing.get_type_hints(Violation)
_FIELDS = {f.name: _HINTS[f.name] for f in dataclasses.fields(Violation)}
_REQUIRED = {
    f.name
    for f in dataclasses.fields(Violation)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
}


def valid_violation(entry: Any) -> bool:
    if not isinstance(entry, dict) or not entry.keys() >= _REQUIRED:
        return False
    return all(name in _FIELDS and _matches(value, _FIELDS[name]) for name, value in entry.items())


def _valid_census(census: Any) -> bool:
    if not isinstance(census, dict) or not _is_int(census.get("apps", 0)):
        return False
    tasks = census.get("tasks", [])
    if not isinstance(tasks, list):
        return False
    for task in tasks:
        if not (isinstance(task, list) and len(task) == 3 and _is_int(task[0]) and isinstance(task[2], list)):
            return False
        if not all(isinstance(where, list) and len(where) == 2 and _is_str_list(where) for where in task[2]):
            return False
    return True


def _valid_result(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("hash"), str)
        and isinstance(entry.get("named"), bool)
        and all(
            isinstance(entry.get(found), list) and all(valid_violation(v) for v in entry[found])
            for found in ("violations", "suppressed")
        )
        and _valid_census(entry.get("census"))
    )


def _valid_stat(stat: Any) -> bool:
    return (
        isinstance(stat, list)
        and len(stat) == 5
        and all(_is_int(part) for part in stat[:4])
        and isinstance(stat[4], str)
    )


def _valid_project(project: Any) -> bool:
    if project is None:
        return True
    return (
        isinstance(project, dict)
        and isinstance(project.get("imports_celery", False), bool)
        and _is_int(project.get("apps", 0))
        and _is_int(project.get("tasks", 0))
    )


def valid_content(content: Any, key: str) -> bool:
    """Whether ``content`` (a loaded cache file) is for ``key`` and fully well-formed."""
    if not isinstance(content, dict) or content.get("key") != key:
        return False
    model_files = content.get("model_files")
    data_files = content.get("data_files")
    results = content.get("results")
    stats = content.get("stats")
    return (
        _is_str_dict(model_files)
        and _is_str_list(content.get("all_files"))
        and _is_str_list(content.get("patterns"))
        and all(max(map(ord, p), default=0) < 256 for p in content["patterns"])
        and all(
            isinstance(found, dict) and all(isinstance(k, str) and _valid_result(v) for k, v in found.items())
            for found in (results, content.get("named_results"))
        )
        and (data_files is None or _is_str_dict(data_files))
        and _valid_project(content.get("project"))
        and isinstance(stats, dict)
        and all(isinstance(k, str) and _valid_stat(v) for k, v in stats.items())
    )
