"""Report formats. Each takes the findings of a run and returns the text to print."""

from __future__ import annotations

import difflib
import json
import os
import re
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .types import LintResult, Violation
from .version import __version__

if TYPE_CHECKING:
    from .rules.base import Rule

FORMATS = ("text", "json", "sarif", "github")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _skipped_text(result: LintResult) -> str:
    """``2 folders skipped: build, venv (virtual environments and build output, not packages
    of the project)`` for what the walks left out that needs no warning."""
    from .project.discovery import ENVIRONMENT, REASONS

    paths = result.skipped.get(ENVIRONMENT, [])
    if not paths:
        return ""
    return f"{_plural(len(paths), 'folder')} skipped: {_some(paths)} ({REASONS[ENVIRONMENT]})"


def _some(paths: Sequence[str], shown: int = 3) -> str:
    listed = ", ".join(path if len(path) <= 100 else f"{path[:40]}...{path[-50:]}" for path in paths[:shown])
    return listed + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def skip_warnings(result: LintResult) -> list[str]:
    """One line a reason the walks left out what may hold project code: an unreadable
    folder, a symbolic link out of the project or in a loop, a path too long."""
    from .project.discovery import REASONS, WARNING_REASONS

    out = []
    for reason in WARNING_REASONS:
        paths = result.skipped.get(reason, [])
        if paths:
            out.append(f"{_plural(len(paths), 'path')} not checked ({REASONS[reason]}): {_some(paths)}")
    return out


def summary_line(result: LintResult) -> str:
    """``Found 2 findings in 1 file (3 files checked; 1 app, 4 tasks)``, or ``No findings
    in 3 files checked (1 app, 4 tasks)``, with how many tasks the configuration-dependent
    rules could not judge."""
    count = len(result.violations)
    files = len({v.path for v in result.violations})
    checked = result.files_checked
    noun = "file" if checked == 1 else "files"
    seen = "; ".join(text for text in (_seen_text(result), _skipped_text(result)) if text)
    if not count:
        return f"No findings in {checked} {noun} checked" + (f" ({seen})." if seen else ".")
    finding_noun = "finding" if count == 1 else "findings"
    in_noun = "file" if files == 1 else "files"
    seen = f"; {seen}" if seen else ""
    return f"Found {count} {finding_noun} in {files} {in_noun} ({checked} {noun} checked{seen})."


def _seen_text(result: LintResult) -> str:
    """``1 app, 37 tasks, 3 with unknown configuration: celery-lint tasks shows why``."""
    figures = run_figures(result)
    if figures is None:
        return ""
    apps, tasks, unknown = figures
    text = f"{_plural(apps, 'app')}, {_plural(tasks, 'task')}"
    if unknown:
        text += f", {unknown} with unknown configuration: celery-lint tasks shows why"
    return text


def run_figures(result: LintResult) -> tuple[int, int, int] | None:
    """Apps and tasks in the checked files, and how many of those tasks have an option the
    configuration-dependent rules read that the analysis cannot know; None when the run
    did not count them."""
    if result.projects is None:
        return None
    apps = sum(project.apps for project in result.projects)
    tasks = sum(len(project.tasks) for project in result.projects)
    unknown = sum(1 for project in result.projects for task in project.tasks if task.unknown)
    return apps, tasks, unknown


_WHY_IT_MATTERS = {
    "app or task": "no Celery code was checked",
    "app": "its tasks were judged against Celery's default configuration and no app configuration was checked",
    "task": "no task was checked",
}


def run_warnings(result: LintResult) -> list[str]:
    """One line a project that imports Celery but where the analysis found no app or no
    task: a run that saw nothing says so. Then what the walks left out that may hold
    project code (:func:`skip_warnings`)."""
    out = skip_warnings(result)
    for project in result.projects or []:
        if not project.imports_celery:
            continue
        missing = [
            noun
            for noun, count in (("app", project.project_apps), ("task", project.project_tasks))
            if not count
        ]
        if not missing:
            continue
        what = " or ".join(missing)
        out.append(
            f"{project.root} imports Celery but no Celery {what} was found: {_WHY_IT_MATTERS[what]};"
            " celery-lint tasks shows what was found"
        )
    return out


HINT_THRESHOLD = 3
"""Findings of one cause on at least this many tasks get a hint line."""

# Findings whose cause one global setting removes: the code, what the tasks lack, and the
# setting (with its value, when the bare name would not say it) that covers them all.
_HINTS: dict[str, tuple[str, str, str]] = {
    "CEL201": ("have no time limit", "task_time_limit", ""),
    "CEL202": ("have no soft time limit", "task_soft_time_limit", ""),
    "CEL205": ("acknowledge before they run", "task_acks_late", " = True"),
}


def run_hints(result: LintResult) -> list[str]:
    """``125 tasks have no time limit: one task_time_limit in proj/settings/celery.py
    covers them all``: one line a cause that one setting in the
    apps' configuration module removes, when at least ``HINT_THRESHOLD`` tasks share it."""
    from .project.census import setting_name

    tasks = {(task.path, task.line): task for project in result.projects or [] for task in project.tasks}
    groups: dict[tuple[str, tuple[tuple[str, str], ...]], set[tuple[str, int]]] = {}
    for violation in result.violations:
        task = tasks.get((violation.path, violation.line))
        if violation.code not in _HINTS or task is None or not task.settings:
            continue
        groups.setdefault((violation.code, task.settings), set()).add((violation.path, violation.line))
    out = []
    for (code, where), members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        if len(members) < HINT_THRESHOLD:
            continue
        lack, setting, value = _HINTS[code]
        places = " and one ".join(f"{setting_name(setting, style)}{value} in {path}" for path, style in where)
        out.append(f"{len(members)} tasks {lack}: one {places} covers them all")
    return out


def fix_counts(violations: Sequence[Violation]) -> dict[str, int]:
    """How many findings ``--fix`` repairs (``safe``) and how many more ``--fix
    --unsafe-fixes`` does (``unsafe``)."""
    counts = {"safe": 0, "unsafe": 0}
    for violation in violations:
        if violation.fix_safety in counts:
            counts[violation.fix_safety] += 1
    return counts


def _fixes(count: int) -> str:
    return f"{count} fix{'' if count == 1 else 'es'}"


def fixes_line(violations: Sequence[Violation], *, unsafe_only: bool = False) -> str:
    """``2 fixes available with --fix, 3 more with --unsafe-fixes``, as ruff says it: only
    the parts that are not zero, "" when no finding has a fix. ``unsafe_only``: count only
    the unsafe fixes (after a ``--fix`` run without ``--unsafe-fixes``)."""
    counts = fix_counts(violations)
    safe = 0 if unsafe_only else counts["safe"]
    unsafe = counts["unsafe"]
    if safe and unsafe:
        return f"{_fixes(safe)} available with --fix, {unsafe} more with --unsafe-fixes"
    if safe:
        return f"{_fixes(safe)} available with --fix"
    if unsafe:
        return f"{_fixes(unsafe)} available with --fix --unsafe-fixes"
    return ""


def format_text(violations: Sequence[Violation]) -> str:
    return "\n".join(f"{v.path}:{v.line}:{v.column}: {v.code} {v.text}" for v in violations)


def format_json(result: LintResult) -> str:
    by_code: dict[str, int] = {}
    for violation in result.violations:
        by_code[violation.code] = by_code.get(violation.code, 0) + 1
    summary: dict[str, Any] = {
        "findings": len(result.violations),
        "files_checked": result.files_checked,
        "files_with_findings": len({v.path for v in result.violations}),
        "by_code": dict(sorted(by_code.items())),
        "errors": list(result.errors),
        "fixes_available": fix_counts(result.violations),
        "skipped": {reason: list(paths) for reason, paths in result.skipped.items()},
    }
    figures = run_figures(result)
    if figures is not None:
        apps, tasks, unknown = figures
        summary.update(
            {
                "apps": apps,
                "tasks": tasks,
                "tasks_with_unknown_configuration": unknown,
                "warnings": run_warnings(result),
                "hints": run_hints(result),
            }
        )
    payload = {"findings": [v.as_dict() for v in result.violations], "summary": summary}
    return json.dumps(payload, indent=2)


# --------------------------------------------------------------------------- SARIF
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
DOCS_URL = "https://github.com/celery-lint/celery-lint/blob/main/docs/rules/{code}.md"
TOOL_URL = "https://github.com/celery-lint/celery-lint"


def sarif_level(code: str) -> str:
    """Security findings (CEL1xx) are errors; everything else is a warning."""
    return "error" if code.startswith("CEL1") else "warning"


def format_sarif(result: LintResult, rules: Sequence[type[Rule]]) -> str:
    """SARIF 2.1.0 as GitHub code scanning reads it: rule metadata, results, locations.
    ``rules``: every rule of the run (built-in and from packs), described in the log."""
    rules = list(rules)
    index = {rule.CODE: i for i, rule in enumerate(rules)}
    descriptors = []
    for rule in rules:
        docs = textwrap.dedent(rule.docs()).strip()
        summary = _summary(docs) or rule.NAME
        descriptors.append(
            {
                "id": rule.CODE,
                "name": "".join(part.capitalize() for part in rule.NAME.split("-")),
                "shortDescription": {"text": summary},
                "fullDescription": {"text": summary},
                "help": {"text": docs, "markdown": docs},
                "helpUri": DOCS_URL.format(code=rule.CODE),
                "defaultConfiguration": {"level": sarif_level(rule.CODE), "enabled": rule.DEFAULT},
                "properties": {
                    "tags": ["celery", "security" if rule.CODE.startswith("CEL1") else "reliability"]
                },
            }
        )
    results = []
    for violation in result.violations:
        results.append(
            {
                "ruleId": violation.code,
                "ruleIndex": index.get(violation.code, 0),
                "level": sarif_level(violation.code),
                "message": {"text": violation.text},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(violation.path), "uriBaseId": "%SRCROOT%"},
                            "region": {
                                "startLine": violation.line,
                                "startColumn": violation.column,
                                "endLine": max(violation.end_line, violation.line),
                                "endColumn": max(violation.end_column, 1),
                            },
                        }
                    }
                ],
            }
        )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "celery-lint",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": TOOL_URL,
                "rules": descriptors,
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    warnings = run_warnings(result)
    if warnings:
        # What the run could not see: run-level notifications, beside the results.
        run["invocations"] = [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": [
                    {"level": "warning", "message": {"text": warning}} for warning in warnings
                ],
            }
        ]
    payload = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(payload, indent=2)


def _uri(path: str) -> str:
    """A relative URI reference: the path's bytes percent-encoded (a file name that is not
    valid UTF-8, ``bad\\xff.py``, keeps its bytes as ``bad%FF.py``)."""
    return quote(os.fsencode(path.replace("\\", "/")))


def _summary(docs: str) -> str:
    match = re.search(r"## What it does\s*\n(.*?)(\n\s*\n|\n\s*##|$)", docs, re.S)
    text = " ".join((match.group(1) if match else "").split())
    return text.split(". ")[0].rstrip(".")


# --------------------------------------------------------------------------- GitHub
def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(violations: Sequence[Violation]) -> str:
    """GitHub Actions workflow commands: one ``::error``/``::warning`` annotation a finding."""
    lines = []
    for v in violations:
        level = "error" if sarif_level(v.code) == "error" else "warning"
        properties = ",".join(
            [
                f"file={_escape_property(v.path)}",
                f"line={v.line}",
                f"col={v.column}",
                f"endLine={max(v.end_line, v.line)}",
                f"endColumn={max(v.end_column, 1)}",
                f"title={_escape_property(f'{v.code} {v.name}')}",
            ]
        )
        lines.append(f"::{level} {properties}::{_escape_data(f'{v.code} {v.text}')}")
    return "\n".join(lines)


def format_github_warnings(warnings: Sequence[str]) -> str:
    """Warnings of the run (a project where no app or task was found) as annotations
    that belong to no file."""
    return "\n".join(f"::warning title=celery-lint::{_escape_data(warning)}" for warning in warnings)


# --------------------------------------------------------------------------- diff
def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )
