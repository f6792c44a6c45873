"""Helpers for rule authors: lint a snippet as a small project, check a rule's cases."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .engine import Violation, lint_paths
from .rules.base import Invalid, Rule, Valid


def lint_source(
    code: str,
    path: str = "tasks.py",
    files: Mapping[str, str] | None = None,
    select: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> list[Violation]:
    """Lint ``code`` as the file ``path`` of a throwaway project that also holds ``files``."""
    with tempfile.TemporaryDirectory(prefix="celery-lint-case-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[project]\nname = 'case'\n", "utf-8")
        for name, text in (files or {}).items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        main = root / path
        main.parent.mkdir(parents=True, exist_ok=True)
        main.write_bytes(code.encode(encoding))
        result = lint_paths([main], select=select)
        return [v for v in result.violations if Path(v.path).resolve() == main.resolve()]


def check_case(rule: type[Rule], case: Valid | Invalid) -> str | None:
    """None when the rule behaves as the case says, else a one-line explanation."""
    found = [
        v
        for v in lint_source(
            case.code, case.path, case.files, select=[rule.CODE, *rule.CASE_SELECT], encoding=case.encoding
        )
        if v.code == rule.CODE
    ]
    if isinstance(case, Valid):
        if found:
            return f"{rule.CODE} flagged VALID code: {found[0].line}:{found[0].column} {found[0].message}"
        return None
    if not found:
        return f"{rule.CODE} did not flag INVALID code ({case.note or case.code.splitlines()[0]})"
    if case.line is not None and all(v.line != case.line for v in found):
        return f"{rule.CODE} flagged line {[v.line for v in found]}, expected line {case.line}"
    if case.message_contains and not any(case.message_contains in v.message for v in found):
        return f"{rule.CODE} message {found[0].message!r} lacks {case.message_contains!r}"
    return None


def check_rule_cases(rule: type[Rule]) -> list[str]:
    """Every failure of the rule's VALID and INVALID cases."""
    failures = []
    cases: list[Valid | Invalid] = [*rule.VALID, *rule.INVALID]
    for case in cases:
        problem = check_case(rule, case)
        if problem is not None:
            failures.append(problem)
    return failures
