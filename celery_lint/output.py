"""Report formats. Each takes the findings of a run and returns the text to print."""

from __future__ import annotations

import difflib
import json
import re
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

from .types import LintResult, Violation
from .version import __version__

if TYPE_CHECKING:
    from .rules.base import Rule

FORMATS = ("text", "json", "sarif", "github")


def summary_line(result: LintResult) -> str:
    count = len(result.violations)
    files = len({v.path for v in result.violations})
    checked = result.files_checked
    noun = "file" if checked == 1 else "files"
    if not count:
        return f"No findings in {checked} {noun} checked."
    finding_noun = "finding" if count == 1 else "findings"
    in_noun = "file" if files == 1 else "files"
    return f"Found {count} {finding_noun} in {files} {in_noun} ({checked} {noun} checked)."


def format_text(violations: Sequence[Violation]) -> str:
    return "\n".join(f"{v.path}:{v.line}:{v.column}: {v.code} {v.text}" for v in violations)


def format_json(result: LintResult) -> str:
    by_code: dict[str, int] = {}
    for violation in result.violations:
        by_code[violation.code] = by_code.get(violation.code, 0) + 1
    payload = {
        "findings": [v.as_dict() for v in result.violations],
        "summary": {
            "findings": len(result.violations),
            "files_checked": result.files_checked,
            "files_with_findings": len({v.path for v in result.violations}),
            "by_code": dict(sorted(by_code.items())),
            "errors": list(result.errors),
        },
    }
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
    payload = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
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
        ],
    }
    return json.dumps(payload, indent=2)


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/"))


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


# --------------------------------------------------------------------------- diff
def unified_diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )
