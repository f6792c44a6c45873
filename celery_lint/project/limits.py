"""Helpers shared by the time-limit and acknowledgement rules (and the retry rules).

Where a finding goes depends on where the offending value was set: an option written on
the task's own decorator is reported at its keyword, a value that only the app
configuration gives is reported once at the configuration write (not at every task of
the project), anything else at the task.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from .values import UNKNOWN_ELEMENT, Known, Resolved, number_text
from .walk import Walker

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

if TYPE_CHECKING:
    from .model import Task

# What kombu 5.7 ships (kombu/transport/redis.py ``Channel.visibility_timeout``,
# kombu/transport/SQS/__init__.py ``Channel.default_visibility_timeout``); used only when
# the installed kombu's source cannot be read. A test checks both against kombu.
KOMBU_FALLBACK_VISIBILITY = {"redis": 3600.0, "sqs": 1800.0}
_VISIBILITY_ATTRIBUTES = {
    "redis": ("kombu.transport.redis", "Channel", "visibility_timeout"),
    "sqs": ("kombu.transport.SQS", "Channel", "default_visibility_timeout"),
}
BROKER_LABELS = {"redis": "Redis", "sqs": "SQS"}


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def seconds(value: float) -> str:
    """``3600 s`` / ``0.5 s``."""
    if isinstance(value, int):
        return f"{number_text(value)} s"
    return f"{int(value)} s" if value.is_integer() else f"{value} s"


class _ArgFinder(Walker):
    def __init__(self, target: cst.CSTNode) -> None:
        super().__init__()
        self.target = target
        self.found: cst.Arg | None = None

    def visit_Arg(self, node: cst.Arg) -> bool:
        if node.value is self.target:
            self.found = node
        return self.found is None


def option_node(task: Task, value: Resolved) -> cst.CSTNode:
    """Where the task itself set ``value``: the keyword of its decorator, or the attribute
    of a class-based task; else the task."""
    if not isinstance(value, Known) or value.origin.node is None:
        return task.node
    target = value.origin.node
    if task.decorator is not None and task.decorator.node is not None:
        finder = _ArgFinder(target)
        finder.walk(task.decorator.node)
        if finder.found is not None:
            return finder.found
    if isinstance(task.node, cst.ClassDef) and isinstance(task.node.body, cst.IndentedBlock):
        for statement in task.node.body.body:
            if isinstance(statement, cst.SimpleStatementLine) and any(s is target for s in statement.body):
                return statement
    return task.node


# ----------------------------------------------------------------------- brokers and visibility
def broker_kind(url: Any) -> str | None:
    """``redis`` or ``sqs`` when every URL of ``broker_url`` uses that kombu transport."""
    from kombu.transport import TRANSPORT_ALIASES

    if isinstance(url, str):
        urls: list[Any] = [u.strip() for u in url.split(";") if u.strip()]
    elif isinstance(url, (list, tuple)):
        urls = list(url)
    else:
        return None
    kinds: set[str] = set()
    for item in urls:
        if not isinstance(item, str) or "://" not in item:
            return None
        scheme = item.split("://", 1)[0]
        # kombu: ``transport+url`` names the transport; otherwise urlparse's (lowercased) scheme.
        scheme = scheme.split("+", 1)[0] if "+" in scheme else scheme.lower()
        target = TRANSPORT_ALIASES.get(scheme)
        if not isinstance(target, str):
            return None
        module = target.split(":", 1)[0]
        if module == "kombu.transport.redis":
            kinds.add("redis")
        elif module == "kombu.transport.SQS":
            kinds.add("sqs")
        else:
            return None
    return kinds.pop() if len(kinds) == 1 else None


def _class_constant(module: str, klass: str, attribute: str) -> float | None:
    """A numeric class attribute read from a module's source, without importing it.

    kombu's Redis and SQS transports import their client libraries at module level, so
    they cannot be imported where redis-py or boto3 is missing.
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    path = spec.origin if spec is not None else None
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == klass:
            for statement in node.body:
                targets: list[ast.expr] = []
                value: ast.expr | None = None
                if isinstance(statement, ast.Assign):
                    targets, value = statement.targets, statement.value
                elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
                    targets, value = [statement.target], statement.value
                if value is not None and any(isinstance(t, ast.Name) and t.id == attribute for t in targets):
                    try:
                        found = ast.literal_eval(value)
                    except ValueError:
                        return None
                    return float(found) if is_number(found) else None
    return None


@cache
def kombu_visibility_defaults() -> dict[str, float]:
    """kombu's default visibility timeout per transport, from the installed kombu."""
    defaults = dict(KOMBU_FALLBACK_VISIBILITY)
    for kind, (module, klass, attribute) in _VISIBILITY_ATTRIBUTES.items():
        found = _class_constant(module, klass, attribute)
        if found is not None:
            defaults[kind] = found
    return defaults


def visibility_timeout(setting_of: Callable[[str], Resolved]) -> tuple[float, str] | None:
    """The broker's visibility timeout in seconds and where it comes from, for a Redis or
    SQS broker; None for other brokers and whenever the analyzer cannot tell.
    ``setting_of`` gives the effective settings of the apps concerned."""
    url = setting_of("broker_url")
    if not isinstance(url, Known) or not url.value:
        return None
    kind = broker_kind(url.value)
    if kind is None:
        return None
    options = setting_of("broker_transport_options")
    if not isinstance(options, Known):
        return None
    value = options.value
    if value is None:
        value = {}
    if not isinstance(value, dict) or UNKNOWN_ELEMENT in value:
        return None
    label = BROKER_LABELS[kind]
    if "visibility_timeout" in value:
        timeout = value["visibility_timeout"]
        if not is_number(timeout) or timeout <= 0:
            return None
        return timeout, f"{label} visibility timeout of {seconds(timeout)} ({options.origin})"
    default = kombu_visibility_defaults()[kind]
    return default, f"{label} visibility timeout of {seconds(default)} (kombu's default; {url.origin})"
