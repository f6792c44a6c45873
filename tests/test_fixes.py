"""Autofixes: every rule's before/after cases through the real fix loop, the edit helpers,
and ``--fix`` / ``--diff`` / ``--unsafe-fixes`` on the command line.

For each INVALID case of a rule with a fix, the file is fixed as ``celery-lint --fix
--unsafe-fixes`` would (``celery_lint.testing.fix_source``) and the result must equal
the case's ``fixed`` text, be valid Python, differ from the original only inside the
finding's statement and the nodes the fix edits, be clean for the rule, and stay the
same when fixed again. A case without ``fixed`` documents where the rule offers no fix.
"""

from __future__ import annotations

import ast
import difflib
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import libcst as cst
import pytest
from conftest import BARE_TASK, LEFTOVERS, Project
from libcst.metadata import MetadataWrapper, PositionProvider

from celery_lint.engine import Engine, fix_paths, lint_paths, select_rules
from celery_lint.engine.fixing.loop import _apply_valid
from celery_lint.fixes import (
    Fix,
    add_keywords,
    apply_fixes,
    class_with_attributes,
    decorator_with_keywords,
    literal,
    prepend_keywords,
    replace,
    with_elements,
)
from celery_lint.project.model import ProjectModel
from celery_lint.rules import all_rules
from celery_lint.rules.base import Invalid, Rule
from celery_lint.testing import fix_source, lint_source

RULES = all_rules()
FIXABLE = [r for r in RULES if r.FIX_SAFETY is not None]
REQUIRED_FIXES = {
    "CEL101",
    "CEL102",
    "CEL103",
    "CEL201",
    "CEL202",
    "CEL205",
    "CEL501",
    "CEL603",
    "CEL604",
    "CEL703",
    "CEL708",
}
ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def _invalid_cases(with_fix: bool):
    for rule in FIXABLE:
        for index, case in enumerate(rule.INVALID, start=1):
            if (case.fixed is not None) == with_fix:
                yield pytest.param(rule, case, id=f"{rule.CODE}-invalid-{index}")


def _select(rule: type[Rule]) -> list[str]:
    return [rule.CODE, *rule.CASE_SELECT]


def _fix(rule: type[Rule], case: Invalid, code: str | None = None) -> str:
    return fix_source(
        case.code if code is None else code,
        case.path,
        case.files,
        select=_select(rule),
        encoding=case.encoding,
    )


# ----------------------------------------------------------------------------- the contract
def test_the_required_rules_have_fixes():
    declared = {r.CODE for r in FIXABLE}
    assert declared >= REQUIRED_FIXES, sorted(REQUIRED_FIXES - declared)


@pytest.mark.parametrize("rule", FIXABLE, ids=[r.CODE for r in FIXABLE])
def test_a_fixable_rule_documents_and_shows_its_fix(rule):
    assert rule.FIX_SAFETY in ("safe", "unsafe")
    assert rule.AUTOFIX_TITLE
    assert "## Fix safety" in (rule.__doc__ or ""), f"{rule.CODE} lacks a '## Fix safety' section"
    assert any(c.fixed is not None for c in rule.INVALID), f"{rule.CODE} has no before/after case"


def test_only_rules_that_declare_a_fix_offer_one():
    """A fix from a rule without FIX_SAFETY would never be applied: the rule must declare it."""
    for rule in RULES:
        if rule.FIX_SAFETY is not None:
            continue
        for case in rule.INVALID:
            pairs, _, _ = _pairs(rule, case)
            assert all(fix is None for _, fix in pairs), f"{rule.CODE} offers a fix but declares none"


@pytest.mark.parametrize(("rule", "case"), list(_invalid_cases(with_fix=True)))
def test_fix_gives_the_fixed_text(rule, case):
    assert _fix(rule, case) == case.fixed


@pytest.mark.parametrize(("rule", "case"), list(_invalid_cases(with_fix=True)))
def test_fixed_text_is_valid_python(rule, case):
    cst.parse_module(case.fixed)
    ast.parse(case.fixed)


@pytest.mark.parametrize(("rule", "case"), list(_invalid_cases(with_fix=True)))
def test_fix_changes_only_the_finding_and_what_it_edits(rule, case):
    pairs, tree, positions = _pairs(rule, case)
    statements = _statement_ranges(tree, positions)
    allowed: set[int] = set()
    for violation, fix in pairs:
        if violation.code != rule.CODE:
            continue
        allowed.update(range(violation.line, violation.end_line + 1))
        if fix is None:
            continue
        home = _enclosing(statements, violation.line, violation.column - 1)
        task_name = _name_at(tree, positions, violation.line)
        for old, _ in fix.edits:
            start, end = _lines(old, positions)
            assert (home[0] <= start and end <= home[1]) or _makes_task(tree, old, task_name), (
                f"{rule.CODE} edits lines {start}-{end}, outside the finding's statement {home}"
            )
            allowed.update(range(start, end + 1))
    for line in _changed_lines(case.code, case.fixed):
        assert line in allowed, (
            f"{rule.CODE}: line {line} changed outside the edited region {sorted(allowed)}"
        )


@pytest.mark.parametrize(("rule", "case"), list(_invalid_cases(with_fix=True)))
def test_fixed_text_is_clean_for_the_rule(rule, case):
    found = lint_source(case.fixed, case.path, case.files, select=_select(rule), encoding=case.encoding)
    assert not [v for v in found if v.code == rule.CODE], found


@pytest.mark.parametrize(("rule", "case"), list(_invalid_cases(with_fix=True)))
def test_fixing_twice_is_fixing_once(rule, case):
    assert _fix(rule, case, case.fixed) == case.fixed


@pytest.mark.parametrize(("rule", "case"), list(_invalid_cases(with_fix=False)))
def test_cases_without_fixed_get_no_fix(rule, case):
    assert _fix(rule, case) == case.code


# ----------------------------------------------------------------------------- region helpers
def _pairs(rule: type[Rule], case: Invalid):
    """(violation, fix) pairs of the case's file from the engine, with its tree and positions."""
    with tempfile.TemporaryDirectory(prefix="celery-lint-fix-test-") as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[project]\nname = 'case'\n", "utf-8")
        for name, text in case.files.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        main = root / case.path
        main.parent.mkdir(parents=True, exist_ok=True)
        main.write_bytes(case.code.encode(case.encoding))
        model = ProjectModel(root)
        file = model.add_file(main)
        model.build()
        engine = Engine(select_rules(_select(rule)), _default_options())
        pairs = engine.lint_file_with_fixes(model, file)
        tree = file.tree
        if tree is None:  # an unparsable file (CEL900's cases)
            return pairs, None, None
        positions = MetadataWrapper(tree, unsafe_skip_copy=True).resolve(PositionProvider)
        return pairs, tree, positions


def _name_at(tree: cst.Module, positions, line: int) -> str | None:
    """The function or class defined on ``line`` (where task findings are reported)."""
    for node, code_range in positions.items():
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and code_range.start.line == line:
            return node.name.value
    return None


def _makes_task(tree: cst.Module, old: cst.CSTNode, name: str | None) -> bool:
    """Whether ``old`` is the call that makes the task ``name`` (``add = app.task(_add)``,
    ``shared_task(bind=True)(_add)``): the fix edits the task's decorator, written apart."""
    if name is None:
        return False
    found = []

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            makes = any(
                a.keyword is None and isinstance(a.value, cst.Name) and a.value.value == name
                for a in node.args
            )
            if makes and (node is old or node.func is old):
                found.append(node)

    tree.visit(Calls())
    return bool(found)


def _default_options():
    return {o.name: o.default for r in RULES for o in r.OPTIONS}


def _lines(node: cst.CSTNode, positions) -> tuple[int, int]:
    code_range = positions[node]
    start = code_range.start.line
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.decorators:
        start = min(start, positions[node.decorators[0]].start.line)
    return start, code_range.end.line


def _statement_ranges(tree: cst.Module, positions) -> list[tuple[int, int, int, int]]:
    """(start line, start column, end line, end column) of every statement, decorators included."""
    found = []
    for node, code_range in positions.items():
        if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            start_line, start_col = code_range.start.line, code_range.start.column
            if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.decorators:
                first = positions[node.decorators[0]].start
                start_line, start_col = first.line, first.column
            found.append((start_line, start_col, code_range.end.line, code_range.end.column))
    return found


def _enclosing(statements, line: int, column: int) -> tuple[int, int]:
    """The lines of the smallest statement that holds (line, column)."""
    holding = [s for s in statements if (s[0], s[1]) <= (line, column) and (line, column) <= (s[2], s[3])]
    assert holding, f"no statement holds {line}:{column}"
    best = min(holding, key=lambda s: (s[2] - s[0], s[3] - s[1]))
    return best[0], best[2]


def _changed_lines(before: str, after: str) -> set[int]:
    """Lines of ``before`` (1-based) the diff touches; an insertion touches both neighbours' gap,
    counted as the line it follows (or the first line)."""
    old, new = before.splitlines(), after.splitlines()
    changed: set[int] = set()
    for tag, i1, i2, _, _ in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i1 == i2:
            changed.add(max(1, i1))  # inserted after line i1
        else:
            changed.update(range(i1 + 1, i2 + 1))
    return changed


# ----------------------------------------------------------------------------- edit helpers
@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("f()", "f(x=1)"),
        ("f(a)", "f(a, x=1)"),
        ("f(\n    a,\n    b,\n)", "f(\n    a,\n    b,\n    x=1,\n)"),
        ("f(\n    a,\n    b\n)", "f(\n    a,\n    b,\n    x=1\n)"),
        ("f(\n    a,\n)", "f(\n    a,\n    x=1,\n)"),
        ("f(a,\n  b)", "f(a,\n  b,\n  x=1)"),
        ("f(\n    a,  # one\n    b,  # two\n)", "f(\n    a,  # one\n    b,  # two\n    x=1,\n)"),
        ("f(x=2)", "f(x=2)"),
    ],
)
def test_add_keywords_keeps_the_layout(before, after):
    call = cst.parse_expression(before)
    assert isinstance(call, cst.Call)
    assert cst.Module([]).code_for_node(add_keywords(call, [("x", literal(1))])) == after


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("f(a=1)", "f(x=1, a=1)"),
        ("f(\n    a=1,\n    b=2,\n)", "f(\n    x=1,\n    a=1,\n    b=2,\n)"),
        ("f(\n    a=1\n)", "f(\n    x=1,\n    a=1\n)"),
    ],
)
def test_prepend_keywords_keeps_the_layout(before, after):
    call = cst.parse_expression(before)
    assert isinstance(call, cst.Call)
    assert cst.Module([]).code_for_node(prepend_keywords(call, [("x", literal(1))])) == after


@pytest.mark.parametrize(
    ("before", "changes", "after"),
    [
        ("['a', 'b']", {1: None}, "['a']"),
        ("['a', 'b']", {0: None}, "['b']"),
        ("('a', 'b')", {1: None}, "('a',)"),
        ("[\n    'a',\n    'b',\n]", {1: None}, "[\n    'a',\n]"),
        ("{'a'}", {0: None}, None),
    ],
)
def test_with_elements(before, changes, after):
    node = cst.parse_expression(before)
    assert isinstance(node, (cst.List, cst.Tuple, cst.Set))
    result = with_elements(node, changes)
    assert (None if result is None else cst.Module([]).code_for_node(result)) == after


def test_class_with_attributes_goes_after_the_docstring_and_attributes():
    module = cst.parse_module(
        'class A(T):\n    """Doc."""\n    name = "a"\n\n    def run(self):\n        pass\n'
    )
    klass = module.body[0]
    assert isinstance(klass, cst.ClassDef)
    new = class_with_attributes(klass, [("time_limit", literal(300))])
    assert new is not None
    assert module.with_changes(body=[new]).code == (
        'class A(T):\n    """Doc."""\n    name = "a"\n    time_limit = 300\n\n    def run(self):\n        pass\n'
    )


def _decorator_fix(decorator: cst.Decorator, name: str, value: int, compose: bool) -> Fix:
    new = decorator_with_keywords(decorator, [(name, literal(value))])
    assert new is not None
    again = (lambda node: decorator_with_keywords(node, [(name, literal(value))])) if compose else None
    return replace(decorator, new, "", again)


def test_keyword_fixes_on_one_decorator_land_in_one_round():
    tree = cst.parse_module("@shared_task\ndef f():\n    pass\n")
    function = tree.body[0]
    assert isinstance(function, cst.FunctionDef)
    decorator = function.decorators[0]
    fixes = [_decorator_fix(decorator, name, value, True) for name, value in (("a", 1), ("b", 2), ("c", 3))]
    new, applied = apply_fixes(tree, fixes)
    assert applied == 3
    assert new.code == "@shared_task(a=1, b=2, c=3)\ndef f():\n    pass\n"


def test_an_overlapping_fix_waits_for_the_next_round():
    tree = cst.parse_module("@shared_task\ndef f():\n    pass\n")
    function = tree.body[0]
    assert isinstance(function, cst.FunctionDef)
    decorator = function.decorators[0]
    fixes = [_decorator_fix(decorator, "a", 1, False), _decorator_fix(decorator, "b", 2, False)]
    new, applied = apply_fixes(tree, fixes)
    assert applied == 1
    assert new.code == "@shared_task(a=1)\ndef f():\n    pass\n"


def test_a_fix_that_breaks_python_is_dropped_and_the_others_kept():
    text = "f(a=1)\ng(x)\n"
    tree = cst.parse_module(text)
    calls = [stmt.body[0].value for stmt in tree.body]  # type: ignore[attr-defined]
    # LibCST parses a keyword given twice; CPython does not.
    bad = replace(calls[0], calls[0].with_changes(args=[*calls[0].args, calls[0].args[0]]))
    good = replace(calls[1].args[0].value, cst.Name("y"))
    new_text, applied = _apply_valid(tree, text, [bad, good])
    assert (new_text, applied) == ("f(a=1)\ng(y)\n", 1)


# ----------------------------------------------------------------------------- command line
PICKLE_TASK = (
    "from celery import Celery\n"
    "app = Celery('proj', task_serializer='pickle')\n"
    "\n"
    "@app.task\n"
    "def bare():\n"
    "    pass\n"
)


def test_diff_prints_a_diff_and_changes_nothing(project: Project):
    path = project.write("tasks.py", PICKLE_TASK)
    run = project.run("--diff", "--unsafe-fixes", "--select", "CEL101", "tasks.py")
    assert run.returncode == 1, run
    assert "--- a/tasks.py" in run.stdout and "+++ b/tasks.py" in run.stdout
    assert "-app = Celery('proj', task_serializer='pickle')" in run.stdout
    assert "+app = Celery('proj', task_serializer='json')" in run.stdout
    assert "1 file would be changed." in run.stdout
    assert path.read_text("utf-8") == PICKLE_TASK


def test_diff_exits_0_when_nothing_would_change(project: Project):
    project.write("tasks.py", "from celery import Celery\napp = Celery('proj', task_serializer='json')\n")
    run = project.run("--diff", "--select", "CEL101", "tasks.py")
    assert run.returncode == 0, run
    assert "0 files would be changed." in run.stdout


def test_fix_writes_and_exits_0_when_nothing_remains(project: Project):
    path = project.write("tasks.py", PICKLE_TASK)
    run = project.run("--fix", "--unsafe-fixes", "--select", "CEL101", "tasks.py")
    assert run.returncode == 0, run
    assert "Fixed 1 file." in run.stdout
    assert path.read_text("utf-8") == PICKLE_TASK.replace("'pickle'", "'json'")


def test_fix_exits_1_and_prints_what_remains(project: Project):
    path = project.write("tasks.py", PICKLE_TASK)
    run = project.run("--fix", "--select", "CEL101,CEL201,CEL604", "tasks.py")
    assert run.returncode == 1, run
    assert path.read_text("utf-8") == PICKLE_TASK.replace(
        "'pickle')", "'pickle', broker_connection_retry_on_startup=True)"
    )
    assert run.codes_in("tasks.py") == {"CEL101", "CEL201"}, run  # unsafe: reported, not fixed
    assert run.stdout.splitlines()[-1] == "2 fixes available with --fix --unsafe-fixes", run


def test_unsafe_fixes_only_when_asked(project: Project):
    path = project.write("tasks.py", PICKLE_TASK)
    safe = project.run("--diff", "--select", "CEL101,CEL201", "tasks.py")
    assert "time_limit" not in safe.stdout and "'json'" not in safe.stdout, safe
    unsafe = project.run("--fix", "--unsafe-fixes", "--select", "CEL101,CEL201", "tasks.py")
    assert unsafe.returncode == 0, unsafe
    assert path.read_text("utf-8") == PICKLE_TASK.replace("'pickle'", "'json'").replace(
        "@app.task\n", "@app.task(time_limit=300, soft_time_limit=270)\n"
    )


def test_fixes_of_several_rules_compose(project: Project):
    path = project.write("tasks.py", BARE_TASK)
    run = project.run("--fix", "--unsafe-fixes", "--select", "CEL201,CEL202,CEL205", "tasks.py")
    assert run.returncode == 0, run
    assert path.read_text("utf-8") == BARE_TASK.replace(
        "@shared_task\n", "@shared_task(time_limit=300, soft_time_limit=270, acks_late=True)\n"
    )


def test_fix_values_come_from_the_configuration(project: Project):
    project.config("[tool.celery-lint]\ndefault-time-limit = 900\ndefault-soft-time-limit = 850\n")
    path = project.write("tasks.py", BARE_TASK)
    run = project.run("--fix", "--unsafe-fixes", "--select", "CEL201,CEL202", "tasks.py")
    assert run.returncode == 0, run
    assert "@shared_task(time_limit=900, soft_time_limit=850)\n" in path.read_text("utf-8")


def test_soft_limit_default_stays_below_a_configured_hard_limit(project: Project):
    project.config("[tool.celery-lint]\ndefault-time-limit = 100\n")
    path = project.write("tasks.py", BARE_TASK)
    project.run("--fix", "--unsafe-fixes", "--select", "CEL201,CEL202,CEL203", "tasks.py")
    assert "@shared_task(time_limit=100, soft_time_limit=90)\n" in path.read_text("utf-8")
    assert project.run("--select", "CEL203", "tasks.py").returncode == 0


def test_cel201_alone_sets_a_soft_limit_below_its_hard_limit(project: Project):
    """A task with neither limit is CEL201's finding alone: CEL202 does not fire (nothing to
    fix), and CEL201's fix adds both, the soft one below the configured hard one (CEL203)."""
    project.config("[tool.celery-lint]\ndefault-time-limit = 100\n")
    path = project.write("tasks.py", BARE_TASK)
    quiet = project.run("--fix", "--unsafe-fixes", "--select", "CEL202", "tasks.py")
    assert quiet.returncode == 0, quiet
    assert path.read_text("utf-8") == BARE_TASK
    project.run("--fix", "--unsafe-fixes", "--select", "CEL201", "tasks.py")
    assert "@shared_task(time_limit=100, soft_time_limit=90)\n" in path.read_text("utf-8")
    assert project.run("--select", "CEL201,CEL202,CEL203", "tasks.py").returncode == 0


def test_latin1_file_keeps_its_encoding(project: Project):
    code = "# -*- coding: latin-1 -*-\n# Café\n" + PICKLE_TASK
    path = project.write("tasks.py", code.encode("latin-1"))
    run = project.run("--fix", "--unsafe-fixes", "--select", "CEL101", "tasks.py")
    assert run.returncode == 0, run
    data = path.read_bytes()
    assert b"Caf\xe9" in data
    assert data == code.replace("'pickle'", "'json'").encode("latin-1")


def test_crlf_line_endings_are_kept(project: Project):
    code = BARE_TASK.replace("\n", "\r\n")
    path = project.write("tasks.py", code)
    run = project.run("--fix", "--unsafe-fixes", "--select", "CEL201", "tasks.py")
    assert run.returncode == 0, run
    assert (
        path.read_bytes()
        == code.replace("@shared_task\r\n", "@shared_task(time_limit=300, soft_time_limit=270)\r\n").encode()
    )


def test_crlf_is_kept_in_inserted_lines(project: Project):
    code = "from celery import Task\r\n\r\nclass Export(Task):\r\n    def run(self):\r\n        pass\r\n"
    path = project.write("tasks.py", code)
    project.run("--fix", "--unsafe-fixes", "--select", "CEL201", "tasks.py")
    data = path.read_bytes()
    assert b"    time_limit = 300\r\n    soft_time_limit = 270\r\n\r\n    def run" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_noqa_and_per_file_ignores_are_not_fixed(project: Project):
    project.config('[tool.celery-lint]\nper-file-ignores = { "legacy.py" = ["CEL101"] }\n')
    legacy = project.write("legacy.py", PICKLE_TASK)
    quiet = project.write("quiet.py", PICKLE_TASK.replace("'pickle')\n", "'pickle')  # noqa: CEL101\n"))
    before = quiet.read_text("utf-8")
    run = project.run("--fix", "--unsafe-fixes", "--select", "CEL101", ".")
    assert run.returncode == 0, run
    assert legacy.read_text("utf-8") == PICKLE_TASK
    assert quiet.read_text("utf-8") == before


def test_pre_commit_fix_hook_applies_safe_fixes():
    text = (ROOT / ".pre-commit-hooks.yaml").read_text("utf-8")
    hook = text[text.index("- id: celery-lint-fix") :]
    entry = next(line for line in hook.splitlines() if line.strip().startswith("entry:"))
    assert entry.split(":", 1)[1].split() == ["celery-lint", "--fix"]


# ----------------------------------------------------------------------------- fixture projects
FIXTURE_PROJECTS = sorted(
    config.parent
    for pattern in ("*/pyproject.toml", "families/*/pyproject.toml")
    for config in FIXTURES.glob(pattern)
    if config.parent.name != "example_pack"
)


@pytest.mark.parametrize(
    "source", FIXTURE_PROJECTS, ids=[p.relative_to(FIXTURES).as_posix() for p in FIXTURE_PROJECTS]
)
def test_fixing_a_fixture_project(source: Path, tmp_path: Path):
    """``--fix --unsafe-fixes`` on a copy: it still compiles, every fixable finding is gone,
    and a second run changes nothing."""
    copy = tmp_path / source.name
    shutil.copytree(source, copy, ignore=LEFTOVERS)
    compiled_before = _compileall(copy)
    before = lint_paths([copy], extend_select=["ALL"]).violations
    result, changes = fix_paths([copy], unsafe=True, extend_select=["ALL"])
    after = result.violations
    assert _compileall(copy) == compiled_before
    fixable = {r.CODE for r in FIXABLE}
    gone = Counter(v.code for v in before) - Counter(v.code for v in after)
    if any(v.code in fixable for v in before):
        assert changes and gone, "nothing was fixed"
    _, again = fix_paths([copy], unsafe=True, extend_select=["ALL"])
    assert again == [], [str(p) for p, _, _ in again]


def _compileall(folder: Path) -> int:
    return subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(folder)], capture_output=True, check=False
    ).returncode
