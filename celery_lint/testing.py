"""Helpers for rule authors: lint a snippet as a small project, check a rule's cases."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from .engine import fix_paths, lint_paths
from .hookspecs import hookimpl
from .project.discovery import real_path
from .registry import RuleRegistry, validate_rule
from .rules.base import Invalid, Rule, Valid
from .types import Violation

# Packs registered by ``registered_rules`` while its ``with`` block runs: (name, pack).
_REGISTERED: ContextVar[tuple[tuple[str, Any], ...]] = ContextVar("celery_lint_registered_rules", default=())


def _registry() -> RuleRegistry:
    """The rules of a helper's run: the installed ones and those ``registered_rules`` adds."""
    registry = RuleRegistry()
    for name, pack in _REGISTERED.get():
        registry.register(pack, name=name)
    return registry


def lint_source(
    code: str,
    path: str = "tasks.py",
    files: Mapping[str, str] | None = None,
    select: Sequence[str] | None = None,
    encoding: str = "utf-8",
    rules: Sequence[type[Rule]] | None = None,
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
        result = lint_paths([main], select=select, rules=rules, registry=_registry())
        return [v for v in result.violations if real_path(v.path) == real_path(main)]


def check_case(rule: type[Rule], case: Valid | Invalid) -> str | None:
    """None when the rule behaves as the case says, else a one-line explanation.

    The class given is the one run (not whatever rule is registered under its code), so a
    pack's rule can be checked before the pack is installed. Every code run for the case
    counts (the rule's and its ``CASE_SELECT``): a VALID case gets no finding at all, an
    INVALID case that states where its findings are gets exactly those.
    """
    rules = _rules_for(rule)
    codes = {r.CODE for r in rules}
    found = sorted(
        (
            v
            for v in lint_source(case.code, case.path, case.files, encoding=case.encoding, rules=rules)
            if v.code in codes
        ),
        key=lambda v: (v.line, v.column, v.code),
    )
    if isinstance(case, Valid):
        if found:
            return f"{found[0].code} flagged VALID code: {found[0].line}:{found[0].column} {found[0].text}"
        return None
    own = [v for v in found if v.code == rule.CODE]
    if not own:
        return f"{rule.CODE} did not flag INVALID code ({case.note or case.code.splitlines()[0]})"
    problem = _position_problem(rule.CODE, case, [(v.line, v.column, v.code) for v in found])
    if problem is not None:
        return problem
    if case.message_contains and not any(case.message_contains in v.text for v in own):
        return f"{rule.CODE} message {own[0].text!r} lacks {case.message_contains!r}"
    return None


def _position_problem(code: str, case: Invalid, found: list[tuple[int, int, str]]) -> str | None:
    """How ``found`` (sorted) differs from where ``case`` says its findings are, if it does."""
    if case.findings and (case.line is not None or case.column is not None):
        return f"{code} INVALID case states both findings and line/column; state one"
    if case.column is not None and case.line is None:
        return f"{code} INVALID case states a column without a line"
    if case.line is not None and case.column is None:
        # Only the line is known: the rule's own findings are all on it.
        lines = sorted({line for line, _, other in found if other == code})
        if lines != [case.line]:
            return f"{code} flagged line {lines}, expected line {case.line}"
        return None
    if case.line is not None and case.column is not None:
        expected = [(case.line, case.column, code)]
    elif case.findings:
        expected = sorted((f[0], f[1], f[2] if len(f) == 3 else code) for f in case.findings)
    else:
        return None
    if found != expected:
        return f"{code} flagged {_positions(found)}, expected {_positions(expected)}"
    return None


def _positions(findings: list[tuple[int, int, str]]) -> str:
    return "[" + ", ".join(f"{line}:{column} {code}" for line, column, code in findings) + "]"


def _rules_for(rule: type[Rule]) -> list[type[Rule]]:
    """The rule under test, plus the default rules its cases need (``CASE_SELECT``)."""
    extra = [
        other
        for other in _registry().rules
        if other.CODE != rule.CODE
        and other.DEFAULT
        and other.CODE.startswith(tuple(rule.CASE_SELECT) or ("\0",))
    ]
    return [rule, *extra]


def check_rule_cases(rule: type[Rule]) -> list[str]:
    """Every failure of the rule's VALID and INVALID cases."""
    failures = []
    cases: list[Valid | Invalid] = [*rule.VALID, *rule.INVALID]
    for case in cases:
        problem = check_case(rule, case)
        if problem is not None:
            failures.append(problem)
    return failures


@contextmanager
def registered_rules(rules: Sequence[type[Rule]], name: str = "rules-under-test") -> Iterator[None]:
    """Register ``rules`` as a temporary rule pack (unless already registered): the helpers
    of this module run them like installed rules inside the ``with`` block."""
    known = {r.CODE for r in _registry().rules}
    missing = [r for r in rules if r.CODE not in known]
    if not missing:
        yield
        return

    class _Pack:
        @staticmethod
        @hookimpl
        def celery_lint_rules() -> list[type[Rule]]:
            return list(missing)

    token = _REGISTERED.set((*_REGISTERED.get(), (name, _Pack())))
    try:
        problems = [p for r in missing for p in validate_rule(r)]
        if problems:
            raise AssertionError("; ".join(problems))
        yield
    finally:
        _REGISTERED.reset(token)


def assert_rule_cases(rule: type[Rule]) -> None:
    """Assert that ``rule`` keeps the rule contract and every VALID and INVALID case holds."""
    # Raised explicitly: pytest rewrites ``assert`` in plugin packages and would change the message.
    problems = validate_rule(rule)
    if problems:
        raise AssertionError("; ".join(problems))
    failures = check_rule_cases(rule)
    if failures:
        raise AssertionError("\n".join(failures))


def fix_source(
    code: str,
    path: str = "tasks.py",
    files: Mapping[str, str] | None = None,
    select: Sequence[str] | None = None,
    encoding: str = "utf-8",
    unsafe: bool = True,
    config: str = "",
) -> str:
    """``code`` after the selected rules' fixes, run as :func:`lint_source` lints it: the
    file ``path`` of a throwaway project that also holds ``files`` (which are not fixed).
    ``unsafe`` includes the unsafe fixes; ``config`` is added to ``pyproject.toml``
    (``[tool.celery-lint]`` options). Nothing outside the temporary folder is written."""
    with tempfile.TemporaryDirectory(prefix="celery-lint-fix-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[project]\nname = 'case'\n" + config, "utf-8")
        for name, text in (files or {}).items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        main = root / path
        main.parent.mkdir(parents=True, exist_ok=True)
        main.write_bytes(code.encode(encoding))
        _, changes = fix_paths([main], unsafe=unsafe, write=False, select=select, registry=_registry())
        for changed, _, after in changes:
            if real_path(changed) == real_path(main):
                return after
        return code
