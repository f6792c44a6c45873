"""Every rule's own VALID and INVALID cases, run through the engine as a user would."""

from __future__ import annotations

import pytest
from conftest import CLEAN_TASK as CLEAN

from celery_lint.rules import all_rules
from celery_lint.rules.base import Invalid, Valid
from celery_lint.testing import check_case


def _cases():
    for rule in all_rules():
        for kind, cases in (("valid", rule.VALID), ("invalid", rule.INVALID)):
            for index, case in enumerate(cases, start=1):
                yield pytest.param(rule, case, id=f"{rule.CODE}-{kind}-{index}")


@pytest.mark.parametrize(("rule", "case"), list(_cases()))
def test_rule_case(rule, case):
    assert check_case(rule, case) is None


def test_cases_are_collected_for_every_rule():
    ids = [p.id for p in _cases()]
    for rule in all_rules():
        assert any(i.startswith(f"{rule.CODE}-valid-") for i in ids), rule.CODE
        assert any(i.startswith(f"{rule.CODE}-invalid-") for i in ids), rule.CODE


def test_every_builtin_invalid_case_says_where_its_findings_are():
    """Built-in cases are checked exactly: each states its findings' lines and columns."""
    loose = [
        f"{rule.CODE}-invalid-{index}"
        for rule in all_rules()
        for index, case in enumerate(rule.INVALID, start=1)
        if not case.findings and (case.line is None or case.column is None)
    ]
    assert not loose


# ---------------------------------------------------------------- the checker itself
# A bare task: CEL201 (missing time limit) on line 4, column 1, and nowhere else.
BARE = "from celery import shared_task\n\n@shared_task\ndef bare():\n    pass\n"
TWO_BARE = BARE + "\n@shared_task\ndef other():\n    pass\n"


def _rule(code):
    return next(rule for rule in all_rules() if code == rule.CODE)


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        (Invalid(BARE, line=4, column=1), None),
        (Invalid(BARE, line=4), None),
        (Invalid(BARE), None),
        (Invalid(TWO_BARE, findings=((4, 1), (8, 1))), None),
        (Invalid(BARE, line=4, column=2), "CEL201 flagged [4:1 CEL201], expected [4:2 CEL201]"),
        (Invalid(BARE, line=3), "CEL201 flagged line [4], expected line 3"),
        (Invalid(TWO_BARE, line=4), "CEL201 flagged line [4, 8], expected line 4"),
        (
            Invalid(TWO_BARE, line=4, column=1),
            "CEL201 flagged [4:1 CEL201, 8:1 CEL201], expected [4:1 CEL201]",
        ),
        (
            Invalid(TWO_BARE, findings=((4, 1),)),
            "CEL201 flagged [4:1 CEL201, 8:1 CEL201], expected [4:1 CEL201]",
        ),
        (Invalid(BARE, column=1), "CEL201 INVALID case states a column without a line"),
        (
            Invalid(BARE, line=4, findings=((4, 1),)),
            "CEL201 INVALID case states both findings and line/column; state one",
        ),
        (Invalid(BARE, line=4, column=1, message_contains="no time limit"), None),
        (
            Invalid(BARE, line=4, column=1, message_contains="nonsense"),
            "CEL201 message \"task 'tasks.bare' has no time limit",
        ),
        (Invalid(CLEAN, note="a clean task"), "CEL201 did not flag INVALID code (a clean task)"),
        (Valid(CLEAN), None),
        (Valid(BARE), "CEL201 flagged VALID code: 4:1 task 'tasks.bare' has no time limit"),
    ],
)
def test_check_case_compares_every_finding(case, problem):
    got = check_case(_rule("CEL201"), case)
    if problem is None:
        assert got is None
    else:
        assert got is not None and got.startswith(problem), got


def test_codes_a_rule_selects_for_its_cases_count_too():
    """CEL901's cases run every default CEL rule: their findings make a VALID case fail and
    belong in an INVALID case's list."""
    unused = _rule("CEL901")
    stale = "from celery import shared_task\n\n@shared_task\ndef bare():  # noqa: CEL205, CEL999\n    pass\n"
    assert check_case(unused, Valid(BARE)).startswith("CEL201 flagged VALID code: 4:1 ")
    assert check_case(unused, Invalid(stale, line=4, column=14)) == (
        "CEL901 flagged [4:1 CEL201, 4:14 CEL901], expected [4:14 CEL901]"
    )
    assert check_case(unused, Invalid(stale, findings=((4, 1, "CEL201"), (4, 14)))) is None
