"""What a rule sees of the file it checks, and the raw findings it reports there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from .types import Fix, Message

if TYPE_CHECKING:
    import libcst as cst

    from .project.files import SourceFile
    from .project.hooks import Hook
    from .project.model import ProjectModel, Task
    from .project.scan import ModuleSummary


class CodedRule(Protocol):
    """Anything that reports findings under a rule code (a rule instance)."""

    CODE: ClassVar[str]


@dataclass
class RawFinding:
    """A finding as a rule reports it: a node; the engine adds its position and noqa."""

    code: str
    node: cst.CSTNode | None
    message: str
    fixable: bool
    fix: Fix | None = None
    fix_title: str = ""
    line: int = 1
    column: int = 0
    end: tuple[int, int] | None = None


@dataclass
class HelperPass:
    """Set on the context of a project function that task code calls while a rule checks
    the function as the task's code (see ``rules/following.py``)."""

    depth: int
    """How many calls away from the task the function is (1: the task calls it)."""
    chain: tuple[int, ...]
    """``id`` of each function's ``def`` on the way from the task (a cycle ends there)."""
    causes: list[Any] = field(default_factory=list)
    """What the rule found in the function (and the functions it calls)."""


class FileContext:
    """What a rule sees of the file it checks."""

    def __init__(
        self,
        file: SourceFile,
        summary: ModuleSummary,
        model: ProjectModel,
        options: dict[str, Any],
        extension_settings: tuple[str, ...] = (),
    ) -> None:
        self.file = file
        self.summary = summary
        self.model = model
        self.options = options
        self.extension_settings = extension_settings
        """Configuration keys of Celery extensions the run's rule packs know (CEL601 skips them)."""
        self.findings: list[RawFinding] = []
        self.current_task: Task | None = None
        self.current_hook: Hook | None = None
        """During the walk: the task hook method (``on_failure``...) enclosing the node."""
        self.function_stack: list[cst.FunctionDef] = []
        self.helper_pass: HelperPass | None = None
        """Set when the file is not checked but a function of it, as code of a task that
        calls it: the rule records what it finds instead of reporting it."""

    @property
    def tree(self) -> cst.Module:
        return self.summary.tree

    @property
    def is_test(self) -> bool:
        return self.file.is_test

    def report(
        self,
        rule: CodedRule,
        node: cst.CSTNode,
        message: str | Message,
        *,
        fixable: bool = False,
        fix: Fix | None = None,
    ) -> None:
        if isinstance(message, str):
            message = Message(message)
        # One finding, one line: code quoted in a message may span several lines.
        text = " ".join(message.text.split())
        fix_title = " ".join(message.fix_title.split())
        self.findings.append(RawFinding(rule.CODE, node, text, fixable or fix is not None, fix, fix_title))
