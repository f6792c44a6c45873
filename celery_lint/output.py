"""Report formats. Each takes the findings of a run and returns the text to print."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import LintResult, Violation

FORMATS = ("text", "json")


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
    return "\n".join(f"{v.path}:{v.line}:{v.column}: {v.code} {v.message}" for v in violations)


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
