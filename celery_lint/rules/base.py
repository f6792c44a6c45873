"""The rule contract: one class per rule, with its cases, docs and options."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..api import ProjectView
from ..types import Message

if TYPE_CHECKING:
    import libcst as cst

    from ..context import FileContext
    from ..project.model import Task
    from ..types import Fix

CODE_FORMAT = re.compile(r"^[A-Z]{1,3}[0-9]{3}$")
NAME_FORMAT = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
DOC_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


@dataclass(frozen=True)
class Valid:
    """Code the rule must not flag. ``files`` adds other modules of the same small project."""

    code: str
    files: dict[str, str] = field(default_factory=dict)
    path: str = "tasks.py"
    note: str = ""
    encoding: str = "utf-8"


@dataclass(frozen=True)
class Invalid:
    """Code the rule must flag, where the case says (1-based lines and columns, in ``path``).

    ``line`` and ``column``: the one finding of the case. ``line`` alone: every finding is
    on that line. ``findings``: the whole list, for a case with several, as (line, column)
    of the rule's own code or (line, column, code) of another code the rule's cases select
    (``CASE_SELECT``); nothing else may be reported. None of them: at least one finding.
    """

    code: str
    line: int | None = None
    files: dict[str, str] = field(default_factory=dict)
    path: str = "tasks.py"
    message_contains: str | None = None
    note: str = ""
    encoding: str = "utf-8"
    fixed: str | None = None
    """The file ``path`` after the rule's fix (unsafe fixes included), when the rule offers one."""
    column: int | None = None
    findings: tuple[tuple[int, int] | tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class RuleOption:
    name: str
    type: type
    default: Any
    doc: str


class Rule:
    """Base class of every rule. Subclasses set the class attributes and report findings.

    A rule sees one file at a time through ``self.context`` (the parsed module, the
    project model, the rule options). ``check()`` runs once per file; ``visit_<Node>``
    and ``leave_<Node>`` methods are called by the engine's single batched visit.
    """

    CODE: ClassVar[str]
    NAME: ClassVar[str]
    MESSAGE: ClassVar[str]
    """What is wrong and why it matters: a template the rule fills with ``str.format`` fields."""
    FIX_TITLE: ClassVar[str | None] = None
    """What to do about it, a template filled with the same fields as ``MESSAGE``. Outputs show
    it after the message (text: ``message; fix title`` on one line)."""
    DEFAULT: ClassVar[bool] = True
    SKIP_TEST_CODE: ClassVar[bool] = False
    TRIGGERS: ClassVar[tuple[bytes, ...]] = ()
    """Bytes that make a file worth visiting even when it never mentions Celery."""
    REQUIRES: ClassVar[tuple[bytes, ...]] = ()
    """When set, the rule can only fire in a file holding one of these bytes (``rate_limit``
    for the rate-limit rule): other files are not visited for it (part of the prefilter)."""
    TRIGGERS_WITH: ClassVar[tuple[bytes, ...]] = ()
    """When set, a file that matched ``TRIGGERS`` (and never mentions Celery) is visited
    only if it also holds one of these: the calls the rule inspects."""
    FIX_SAFETY: ClassVar[str | None] = None
    AUTOFIX_TITLE: ClassVar[str | None] = None
    """What the autofix does (``Add `time_limit=` to the task decorator``), when there is one."""
    OPTIONS: ClassVar[tuple[RuleOption, ...]] = ()
    CASE_SELECT: ClassVar[tuple[str, ...]] = ()
    """Other codes selected when this rule's cases run (a rule about other rules' findings)."""
    VALID: ClassVar[list[Valid]] = []
    INVALID: ClassVar[list[Invalid]] = []

    def __init__(self, context: FileContext) -> None:
        self.context = context

    # Every rule may implement these; the engine calls only what a rule defines.
    def check(self) -> None:
        """Model-based checks for the file (tasks, configuration)."""

    def message(self, **fields: Any) -> Message:
        """The finding's text: ``MESSAGE`` and ``FIX_TITLE`` filled with ``fields``."""
        fix_title = self.FIX_TITLE.format(**fields) if self.FIX_TITLE else ""
        return Message(self.MESSAGE.format(**fields), fix_title)

    def report(
        self, node: cst.CSTNode, message: str | Message, *, fixable: bool = False, fix: Fix | None = None
    ) -> None:
        """Report a finding at ``node``; ``fix`` is the edit that repairs it, if the rule has one."""
        self.context.report(self, node, message, fixable=fixable, fix=fix)

    @property
    def current_task(self) -> Task | None:
        return self.context.current_task

    @property
    def project(self) -> ProjectView:
        """The typed, documented view of the project model (the API for rule packs)."""
        return ProjectView(self.context)

    @classmethod
    def option(cls, context: FileContext, name: str) -> Any:
        return context.options.get(name)

    @classmethod
    def docs(cls) -> str:
        return (cls.__doc__ or "").strip("\n")

    @classmethod
    def visitor_methods(cls) -> dict[str, Callable[..., Any]]:
        return {
            attr: getattr(cls, attr)
            for attr in dir(cls)
            if attr.startswith(("visit_", "leave_")) and callable(getattr(cls, attr))
        }
