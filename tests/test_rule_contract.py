"""Meta tests: the rule contract every rule must honour, and the tables copied from Celery."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest
from celery import Celery
from celery.app import autoretry
from celery.app import defaults as celery_defaults
from celery.app.task import Task as CeleryTask

from celery_lint.project.model import FROM_CONFIG, TASK_DEFAULTS
from celery_lint.registry import RuleRegistry, validate_rule
from celery_lint.rules import all_rules
from celery_lint.rules.base import DOC_SECTIONS, Rule, Valid
from celery_lint.settings_catalogue import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
RULES = all_rules()
RULE_IDS = [r.CODE for r in RULES]
REQUIRED_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")


def test_every_builtin_rule_is_accepted():
    """The loader refuses a pack with one rule that breaks the contract: a built-in rule
    that did would leave a run with no built-in rule at all."""
    registry = RuleRegistry(installed_packs=False)
    assert registry.errors == []
    assert registry.rules == RULES
    defined = set()
    for path in (ROOT / "celery_lint" / "rules").glob("*/[!_]*.py"):
        for node in ast.parse(path.read_text("utf-8")).body:
            declares_a_code = isinstance(node, ast.ClassDef) and any(
                isinstance(item, ast.Assign) and getattr(item.targets[0], "id", None) == "CODE"
                for item in node.body
            )
            if declares_a_code:
                defined.add(node.name)
    assert defined, "no rule classes found under celery_lint/rules"
    assert {rule.__name__ for rule in RULES} == defined


def test_names_are_unique():
    names = [r.NAME for r in RULES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_base_declares_the_documented_sections():
    assert set(REQUIRED_SECTIONS) <= set(DOC_SECTIONS)


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_code_format(rule):
    assert re.fullmatch(r"CEL[0-9]{3}", rule.CODE), rule.CODE


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_name_is_kebab_case_and_names_the_pattern(rule):
    assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", rule.NAME), rule.NAME
    assert not rule.NAME.startswith(("use-", "avoid-", "prefer-")), rule.NAME


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_message_is_one_line(rule):
    assert "\n" not in rule.MESSAGE and rule.MESSAGE.strip() == rule.MESSAGE, rule.MESSAGE


def _breach(**attrs):
    """A copy of CEL201's rule with ``attrs`` changed."""
    base = next(rule for rule in RULES if rule.CODE == "CEL201")
    return type("Breach", (base,), {"__doc__": base.__doc__, **attrs})


class CaseLess(Rule):
    __doc__ = RULES[0].__doc__
    CODE = "ZZZ101"
    NAME = "case-less"
    MESSAGE = "a finding"


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (_breach(), None),
        (_breach(CODE="CEL20"), "Breach: code 'CEL20' is not 1-3 capital letters and 3 digits"),
        (_breach(NAME="Missing_Time_Limit"), "Breach: name 'Missing_Time_Limit' is not kebab-case"),
        (_breach(MESSAGE=""), "Breach: no MESSAGE"),
        (_breach(__doc__="## What it does\nx\n"), "Breach: docstring lacks ## Why is this bad?"),
        (_breach(VALID=[]), "Breach: needs VALID cases"),
        (_breach(INVALID=[Valid("x = 1\n")]), "Breach: needs INVALID cases"),
        (CaseLess, "CaseLess: needs VALID cases; CaseLess: needs INVALID cases"),
        (_breach(FIX_SAFETY="maybe"), "Breach: FIX_SAFETY must be None, 'safe' or 'unsafe'"),
        (str, "<class 'str'> is not a celery_lint Rule subclass"),
    ],
)
def test_the_contract_is_enforced_when_rules_load(rule, problem):
    """What the loader refuses: the checks that keep every rule above to the contract."""
    problems = validate_rule(rule)
    if problem is None:
        assert problems == []
    else:
        assert "; ".join(problems).startswith(problem), problems


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_docstring_sections(rule):
    doc = rule.__doc__ or ""
    missing = [s for s in REQUIRED_SECTIONS if s not in doc]
    assert not missing, f"{rule.CODE} docstring lacks {missing}"
    positions = [doc.index(s) for s in REQUIRED_SECTIONS]
    assert positions == sorted(positions), f"{rule.CODE}: sections out of order"
    # Each section has content, not just a heading.
    for section in REQUIRED_SECTIONS:
        assert _section(doc, section).strip(), f"{rule.CODE}: empty {section!r}"


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_default_is_bool(rule):
    assert isinstance(rule.DEFAULT, bool)


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_fix_safety(rule):
    assert rule.FIX_SAFETY in (None, "safe", "unsafe")
    if rule.FIX_SAFETY is not None:
        assert rule.AUTOFIX_TITLE, f"{rule.CODE} declares a fix without a title"


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_options_are_documented(rule):
    if not rule.OPTIONS:
        return
    doc = rule.__doc__ or ""
    assert "## Options" in doc, f"{rule.CODE} declares OPTIONS but has no '## Options' section"
    section = _section(doc, "## Options")
    for option in rule.OPTIONS:
        assert option.name in section, f"{rule.CODE}: option {option.name!r} not in '## Options'"
        assert isinstance(option.default, option.type), (
            f"{rule.CODE}: {option.name} default is not {option.type}"
        )


def test_option_names_are_unique_across_rules():
    names = [o.name for r in RULES for o in r.OPTIONS]
    assert len(names) == len(set(names))


def _section(doc: str, heading: str) -> str:
    text = textwrap.dedent(doc)
    start = text.index(heading) + len(heading)
    following = re.search(r"^\s*## ", text[start:], flags=re.MULTILINE)
    return text[start : start + following.start()] if following else text[start:]


# ------------------------------------------------------------------ tables copied from Celery
def test_from_config_matches_installed_celery():
    assert dict(CeleryTask.from_config) == FROM_CONFIG


def _autoretry_defaults() -> dict[str, object]:
    """``getattr(task, 'name', default)`` defaults in Celery's own autoretry code."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(autoretry.add_autoretry_behaviour)))
    found: dict[str, object] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
        ):
            try:
                found[node.args[1].value] = ast.literal_eval(node.args[2])
            except ValueError:
                continue  # a computed default (``task.max_retries``)
    return found


def _celery_default(name: str) -> object:
    if hasattr(CeleryTask, name):
        return getattr(CeleryTask, name)
    fallback = _autoretry_defaults()
    assert name in fallback, f"Celery neither defines Task.{name} nor defaults it in autoretry"
    return fallback[name]


@pytest.mark.parametrize(
    "name", ["max_retries", "default_retry_delay", "retry_backoff", "retry_backoff_max", "retry_jitter"]
)
def test_task_defaults_match_installed_celery(name):
    assert name in TASK_DEFAULTS
    assert TASK_DEFAULTS[name] == _celery_default(name)
    assert type(TASK_DEFAULTS[name]) is type(_celery_default(name))


@pytest.mark.parametrize("name", ["autoretry_for", "dont_autoretry_for", "retry_kwargs"])
def test_autoretry_defaults_match_installed_celery(name):
    assert TASK_DEFAULTS[name] == _celery_default(name)


def test_typing_default_is_the_apps_strict_typing():
    # Task.typing is None and Task.bind copies app.strict_typing into it.
    assert CeleryTask.typing is None
    assert TASK_DEFAULTS["typing"] == inspect.signature(Celery.__init__).parameters["strict_typing"].default


def test_task_defaults_do_not_shadow_settings():
    # Options read from the configuration must come from the configuration, not a table.
    overlap = set(TASK_DEFAULTS) & set(FROM_CONFIG)
    assert not overlap, overlap


# ------------------------------------------------------------------ settings catalogue
def test_catalogue_new_names_match_celery():
    catalogue = load_catalogue()
    assert set(catalogue.defaults) == set(celery_defaults.DEFAULTS)


def test_catalogue_old_names_match_celery():
    catalogue = load_catalogue()
    assert catalogue.old_to_new == dict(celery_defaults._TO_NEW_KEY)
    assert catalogue.new_to_old == dict(celery_defaults._TO_OLD_KEY)


@pytest.mark.parametrize(
    "name",
    [
        "task_acks_late",
        "task_time_limit",
        "task_soft_time_limit",
        "task_serializer",
        "task_ignore_result",
        "result_expires",
    ],
)
def test_catalogue_default_values_match_celery(name):
    catalogue = load_catalogue()
    expected = celery_defaults.DEFAULTS[name]
    if hasattr(expected, "total_seconds"):
        expected = expected.total_seconds()
    assert catalogue.defaults[name] == expected


def test_documented_but_wrong_old_name_is_not_known():
    catalogue = load_catalogue()
    assert "CELERYD_TIME_LIMIT" not in celery_defaults._TO_NEW_KEY  # premise, from Celery itself
    assert not catalogue.is_old("CELERYD_TIME_LIMIT")
    assert catalogue.canonical("CELERYD_TIME_LIMIT") is None


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("CELERYD_TASK_TIME_LIMIT", "task_time_limit"),
        ("CELERY_ACKS_LATE", "task_acks_late"),
        ("CELERYD_TASK_SOFT_TIME_LIMIT", "task_soft_time_limit"),
    ],
)
def test_old_names_map_like_celery(old, new):
    catalogue = load_catalogue()
    assert celery_defaults._TO_NEW_KEY[old] == new  # premise, from Celery itself
    assert catalogue.is_old(old)
    assert catalogue.canonical(old) == new
    assert catalogue.canonical(new) == new
    assert catalogue.new_to_old[new] == old


def test_namespaced_names():
    catalogue = load_catalogue()
    assert catalogue.namespaced("CELERY_TASK_ACKS_LATE", "CELERY") == "task_acks_late"
    # An old name read through a namespace is not a setting: Celery looks up CELERY_<NEW NAME>.
    assert catalogue.namespaced("CELERY_ACKS_LATE", "CELERY") is None
    assert catalogue.namespaced("TASK_ACKS_LATE", "CELERY") is None


def test_catalogue_built_fresh_equals_cached(tmp_path, monkeypatch):
    """A catalogue built from Celery and one read back from the on-disk cache agree."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    load_catalogue.cache_clear()
    try:
        fresh = load_catalogue()
        assert list(tmp_path.rglob("settings-*.json")), "the catalogue was not cached"
        load_catalogue.cache_clear()
        cached = load_catalogue()
    finally:
        load_catalogue.cache_clear()
    assert fresh == cached
    assert set(cached.defaults) == set(celery_defaults.DEFAULTS)
    assert cached.old_to_new == dict(celery_defaults._TO_NEW_KEY)
