"""Every rule's own VALID and INVALID cases, run through the engine as a user would."""

from __future__ import annotations

import pytest

from celery_lint.rules import all_rules
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
