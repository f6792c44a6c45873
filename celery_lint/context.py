"""What a rule sees of the file it checks, and the raw findings it reports there."""

from __future__ import annotations

from dataclasses import dataclass
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
