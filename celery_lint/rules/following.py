"""Rules about task code that look into the project functions a task calls.

A rule that uses :class:`Following` checks the body of each project function a task calls
directly (``ProjectView.called_helper``), and what that function calls in turn, up to
``MAX_DEPTH`` calls away, as if it were the task's code: the same rule class walks the
function in a context of the function's own file. What it finds there is not reported in
that file (the function is no task, and may be called from elsewhere); the task's file
gets one finding per call site, at the call that leads to it, naming where the cause is
and the way there: ``... in shop/stats.py:40, called from task 'shop.tasks.count' via
bump()``. ``# noqa`` on that call suppresses it; the result cache knows the finding depends
on the function's file, as on every module the model parsed.

What a rule finds in a function does not depend on the task that calls it, so each
function is walked once per rule and depth for the whole project.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..context import HelperPass
from ..project.helper_texts import Reach
from ..project.helpers_called import MAX_DEPTH
from ..project.walk import Walker

if TYPE_CHECKING:
    import libcst as cst

    from ..api import HelperView
    from .base import Rule
else:
    from .._lazy_libcst import cst


@dataclass(frozen=True)
class Cause:
    """What a rule found in a function a task calls: where, and the way there from the task."""

    path: str
    line: int
    chain: tuple[str, ...]
    """The functions called on the way, from the task's call on (``("bump()", "save_count()")``)."""
    fields: dict[str, str] = field(default_factory=dict)
    """The rule's own message fields for it (``target``, ``call``...)."""

    @property
    def place(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def via(self) -> str:
        return " -> ".join(self.chain)


class Following:
    """Helper-following for one rule instance. ``reach``: what the rule looks for, as text
    (``sleep``): a function whose module cannot lead to it is not followed, nor parsed."""

    def __init__(self, rule: Rule, reach: Reach | None = None) -> None:
        self.rule = rule
        self.reach = reach

    @property
    def in_helper(self) -> bool:
        """The rule checks a function a task calls, not the file's own task code."""
        return self.rule.context.helper_pass is not None

    def found(self, node: cst.CSTNode, **fields: str) -> bool:
        """Record a cause at ``node`` when checking a function a task calls, and return True;
        return False in the file's own task code (the rule reports it there as usual)."""
        state = self.rule.context.helper_pass
        if state is None:
            return False
        path = self.rule.project.path
        state.causes.append(Cause(path, self.rule.project.line_of(node), (), dict(fields)))
        return True

    def follow(self, call: cst.Call) -> list[Cause]:
        """What the rule finds in the project function ``call`` runs (and the functions
        that one calls). In task code: the causes, for one finding at ``call``. In a
        function a task calls: recorded as that function's causes, and [] returned."""
        context = self.rule.context
        state = context.helper_pass
        if context.current_task is None:
            return []
        depth = state.depth if state is not None else 0
        if depth >= MAX_DEPTH:
            return []
        helper = self.rule.project.called_helper(call, self.reach)
        if helper is None or (state is not None and id(helper.node) in state.chain):
            return []
        chain = (state.chain if state is not None else ()) + (id(helper.node),)
        causes = helper.remembered(
            (self.rule.CODE, depth), lambda: self._causes_in(helper, HelperPass(depth + 1, chain))
        )
        if state is not None:
            state.causes.extend(causes)
            return []
        return causes

    def report_through(self, call: cst.Call, field: str) -> None:
        """In task code: report at ``call`` what the function it runs leads to, with the
        first cause's ``field`` (``target``, ``call``) and the place and way as ``where``."""
        causes = self.follow(call)
        task = self.rule.project.current_task()
        if causes and task is not None and not self.in_helper:
            where = self.where(causes, task.label)
            self.rule.report(call, self.rule.message(**{field: causes[0].fields[field]}, where=where))

    def _causes_in(self, helper: HelperView, state: HelperPass) -> list[Cause]:
        context = helper.checking_context()
        context.helper_pass = state
        rule = type(self.rule)(context)
        body = helper.node.body
        walker = _BodyWalker(rule)
        if isinstance(body, cst.IndentedBlock):
            for statement in body.body:
                walker.walk(statement)
        else:
            for small in body.body:
                walker.walk(small)
        # One cause once, however many calls of the function lead to it.
        unique: dict[tuple[str, int, tuple[tuple[str, str], ...]], Cause] = {}
        for cause in state.causes:
            key = (cause.path, cause.line, tuple(sorted(cause.fields.items())))
            unique.setdefault(key, Cause(cause.path, cause.line, (helper.label, *cause.chain), cause.fields))
        return list(unique.values())

    @staticmethod
    def where(causes: list[Cause], task: str) -> str:
        """``shop/stats.py:40, called from task 'shop.tasks.count' via bump()`` (with ``(and
        2 more)`` after the place when the call leads to several)."""
        first = causes[0]
        more = f" (and {len(causes) - 1} more)" if len(causes) > 1 else ""
        return f"{first.place}{more}, called from task '{task}' via {first.via}"


class _BodyWalker(Walker):
    """Feeds a function body to a rule's ``visit_``/``leave_`` methods, as the engine's walk
    does; nested functions, classes and lambdas are skipped (calling the function does not
    run them)."""

    def __init__(self, rule: Rule) -> None:
        super().__init__()
        self.visits: dict[str, list[Callable[[Any], Any]]] = {}
        self.leaves: dict[str, list[Callable[[Any], Any]]] = {}
        for attr in type(rule).visitor_methods():
            kind, _, node_name = attr.partition("_")
            table = self.visits if kind == "visit" else self.leaves
            table.setdefault(node_name, []).append(getattr(rule, attr))

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return False
        for callback in self.visits.get(type(node).__name__, ()):
            callback(node)
        return True

    def on_leave(self, node: cst.CSTNode) -> None:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return
        for callback in self.leaves.get(type(node).__name__, ()):
            callback(node)
