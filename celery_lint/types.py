"""Plain data every layer shares: a finding and its kind, the edit that fixes it, a run's result.

This module imports nothing else of celery-lint, so rules, the engine and every front end
can depend on it without depending on one another.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import libcst as cst


class Kind(str, enum.Enum):
    """What a reported line is. Front ends decide from this, never from a message's wording,
    whether it is a finding in the code or an error of the run."""

    FINDING = "finding"
    """Something wrong in the checked code (CEL900 for a file that is not valid Python too)."""
    ANALYSIS_SKIPPED = "analysis-skipped"
    """A file CPython accepts that celery-lint did not analyse: an error of the run."""
    CONFIG_ERROR = "config-error"
    """The project's configuration could not be used: nothing was checked."""

    @property
    def is_error(self) -> bool:
        return self is not Kind.FINDING


@dataclass(frozen=True, order=True)
class Violation:
    path: str
    line: int
    column: int
    code: str
    message: str
    """What is wrong and why it matters."""
    fix_title: str = ""
    """What to do about it ("" when the rule has no separate remedy)."""
    name: str = ""
    end_line: int = 0
    end_column: int = 0
    fix_safety: str | None = None
    """``"safe"`` when ``--fix`` repairs the finding, ``"unsafe"`` when only ``--fix
    --unsafe-fixes`` does (the fix changes what the code does), None when no fix is offered."""
    # Not part of equality or order: it follows from the finding, it never tells two apart.
    kind: Kind = field(default=Kind.FINDING, compare=False)

    @property
    def fixable(self) -> bool:
        """A fix is offered (safe or unsafe): see ``fix_safety``."""
        return self.fix_safety is not None

    @property
    def text(self) -> str:
        """The one-line text every output shows: the message, then ``; `` and the fix title."""
        return f"{self.message}; {self.fix_title}" if self.fix_title else self.message

    def as_dict(self) -> dict[str, Any]:
        """The finding as the JSON output shows it (``message`` is the whole one-line text)."""
        data = asdict(self)
        data["message"] = self.text
        return {
            key: data[key]
            for key in (
                "code",
                "name",
                "message",
                "path",
                "line",
                "column",
                "end_line",
                "end_column",
                "fix_safety",
            )
        }


@dataclass(frozen=True)
class Message:
    """A rule's finding text before it has a place: what is wrong, and what to do."""

    text: str
    fix_title: str = ""


@dataclass(frozen=True)
class TaskFigures:
    """One task of a checked file, as the run's summary counts it."""

    path: str
    """As the findings show it."""
    line: int
    """The line of its ``def``/``class`` name: where its task findings land."""
    unknown: bool
    """An option the task-option rules read from the configuration is unknown."""
    settings: tuple[tuple[str, str], ...] = ()
    """Where a setting for all of the task's apps would go: (the configuration module's
    path as the findings show it, how a setting is spelled there: ``new``, ``old`` or
    ``prefix:CELERY_``), one pair an app; empty when the task has no app."""


@dataclass
class ProjectFigures:
    """What a lint run saw of one project besides its findings."""

    root: str
    """The project's folder as the findings show paths (its name when it is the working directory)."""
    imports_celery: bool
    """A file of the project (not test code) imports ``celery``."""
    project_apps: int
    """Celery apps of the whole project."""
    project_tasks: int
    """Tasks of the whole project."""
    apps: int = 0
    """Apps created in the checked files."""
    tasks: list[TaskFigures] = field(default_factory=list)
    """Tasks defined in the checked files."""


@dataclass
class LintResult:
    violations: list[Violation] = field(default_factory=list)
    files_checked: int = 0
    errors: list[str] = field(default_factory=list)
    """Errors of the run that belong to no finding (a missing path, a refused rule pack)."""
    projects: list[ProjectFigures] | None = None
    """What each project's run saw (apps, tasks, unknown configuration); None when the run
    did not count them (``--fix``)."""
    skipped: dict[str, list[str]] = field(default_factory=dict)
    """What the walks of the named folders left out, by reason (the paths as shown)."""


@dataclass(frozen=True)
class Fix:
    """Node replacements that repair one finding (a removal replaces with ``RemoveFromParent``)."""

    edits: tuple[tuple[cst.CSTNode, cst.CSTNode | cst.RemovalSentinel], ...]
    title: str = ""
    reapply: Callable[[Any], cst.CSTNode | None] | None = None
    """For a fix of one edit: the same edit made on what another fix already put in place
    of that node (a keyword added to a decorator another fix extends too), so that such
    fixes land in one round; None: the fix waits for the next round."""
