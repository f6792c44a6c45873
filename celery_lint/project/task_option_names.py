"""The task options the installed Celery reads, found in Celery itself rather than
copied by hand.

A keyword given to ``@app.task``/``@shared_task`` either is taken by the decorator
(``name``, ``base``, ``bind``, ``shared``, ``lazy``, ``filter``, ``pydantic``...), or
becomes an attribute of the task class that Celery reads there (``acks_late``,
``ignore_result``...), or is read by the autoretry wrapper (``autoretry_for``,
``retry_backoff``...). Any other keyword is stored on the class and never looked at.
The options of one call (``countdown``, ``retry_policy``...) are counted too: writing
them on a task is the subject of no finding here.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from ..settings_catalogue import cached_json

_CACHE_FORMAT = 2

# Keys of ``retry_policy`` (kombu's ``ensure_connection`` arguments): given to a task they
# sit unread on its class; a message's retry policy takes them.
RETRY_POLICY_KEYS = frozenset({"max_retries", "interval_start", "interval_step", "interval_max"})


def _task_attributes() -> dict[str, str]:
    """Public settings of ``celery.app.task.Task``: class attributes that are data, not
    methods, properties or exception classes; plus the names ``from_config`` fills."""
    from celery.app.task import Task

    found: dict[str, str] = {}
    for name in dir(Task):
        if name.startswith("_"):
            continue
        value = inspect.getattr_static(Task, name)
        if value is None or isinstance(value, (str, bytes, bool, int, float, tuple, list, dict, frozenset)):
            found[name] = "celery.app.task.Task"
    for name, _setting in Task.from_config:
        found.setdefault(name, "celery.app.task.Task.from_config")
    found.pop("from_config", None)
    return found


def _task_members() -> list[str]:
    """Public methods, properties and exception classes of ``celery.app.task.Task``. A
    decorator keyword of one of these names replaces it on the new task class
    (``on_failure=handler``): Celery calls the handler, so the keyword is read, though it
    is no setting a typo should be matched against."""
    from celery.app.task import Task

    options = _task_attributes()
    return sorted(name for name in dir(Task) if not name.startswith("_") and name not in options)


def _source_tree(function: Callable[..., Any]) -> ast.AST:
    return ast.parse(textwrap.dedent(inspect.getsource(function)))


def _keyword_parameters(tree: ast.AST) -> Iterator[str]:
    """Parameters with a default or keyword-only, of every function in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            yield from (arg.arg for arg in positional[len(positional) - len(args.defaults) :])
            yield from (arg.arg for arg in args.kwonlyargs)


def _string_reads(tree: ast.AST) -> Iterator[str]:
    """``options.get('x')``, ``options['x']`` and ``getattr(task, 'x', ...)`` in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ("get", "pop"):
                key = node.args[0]
            elif isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) > 1:
                key = node.args[1]
            else:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield key.value
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            yield node.slice.value


def _exec_options() -> Iterator[str]:
    """The task attributes ``apply_async`` sends with every message
    (``extract_exec_options = mattrgetter('queue', ...)`` in celery/app/task.py)."""
    import celery.app.task as task_module

    for node in ast.walk(ast.parse(inspect.getsource(task_module))):
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "extract_exec_options" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            for arg in node.value.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield arg.value


def _read_from_celery() -> dict[str, Any]:
    from celery import shared_task
    from celery.app.amqp import AMQP
    from celery.app.autoretry import add_autoretry_behaviour
    from celery.app.base import Celery
    from celery.app.task import Task

    names = _task_attributes()
    readers: list[tuple[str, Callable[..., Any], bool]] = [
        ("Celery.task", Celery.task, False),
        ("Celery._task_from_fun", Celery._task_from_fun, False),
        ("shared_task", shared_task, True),
        ("add_autoretry_behaviour", add_autoretry_behaviour, True),
        ("Task.apply_async", Task.apply_async, False),
        ("Celery.send_task", Celery.send_task, False),
        ("AMQP.as_task_v2", AMQP.as_task_v2, False),
        ("AMQP._create_task_sender", AMQP._create_task_sender, False),
    ]
    for where, function, reads in readers:
        tree = _source_tree(function)
        for name in _keyword_parameters(tree):
            names.setdefault(name, where)
        if reads:
            for name in _string_reads(tree):
                names.setdefault(name, where)
    for name in _exec_options():
        names.setdefault(name, "celery.app.task.extract_exec_options")
    return {"options": names, "members": [name for name in _task_members() if name not in names]}


@cache
def celery_task_options() -> dict[str, str]:
    """Every option name the installed Celery reads for a task, each with where it is
    read (``celery.app.task.Task``, ``Celery._task_from_fun``, ``add_autoretry_behaviour``...)."""
    options: dict[str, str] = cached_json("task-options", _CACHE_FORMAT, _read_from_celery)["options"]
    return options


@cache
def task_class_members() -> frozenset[str]:
    """The other public names of Celery's ``Task`` (handlers such as ``on_failure``,
    ``after_return``; ``retry``, ``backend``...): given to a task, they replace what
    Celery calls or reads, so they are read too."""
    members: list[str] = cached_json("task-options", _CACHE_FORMAT, _read_from_celery)["members"]
    return frozenset(members)


def closest_option(name: str, known: frozenset[str] | set[str]) -> str | None:
    """The one real option ``name`` is most likely a misspelling of, or None."""
    matches = difflib.get_close_matches(name, sorted(known), n=2, cutoff=0.75)
    if not matches:
        return None
    if len(matches) > 1:
        first = difflib.SequenceMatcher(None, name, matches[0]).ratio()
        second = difflib.SequenceMatcher(None, name, matches[1]).ratio()
        if first == second:
            return None
    return matches[0]
