"""Rule packs, end to end: the example pack (``fixtures/example_pack``) loaded the two
documented ways and run by the real front ends (the CLI, flake8, pre-commit) in
subprocesses; pack options and extension settings; broken packs; the helpers pack
authors test with.

The two ways a pack is loaded:

- installed: ``pip install --no-deps --target <tmp>/site fixtures/example_pack``, then
  ``PYTHONPATH=<tmp>/site`` so ``importlib.metadata`` sees its ``celery_lint`` entry point;
- local: the pack package copied into the project root and named in
  ``[tool.celery-lint] plugins = [...]``.

celery-lint keeps no plugin state in the process (each run has its own registry); the
in-process tests of ``celery_lint.testing`` only forget the pack's imported modules.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Run, copy_clean

REPO = Path(__file__).resolve().parents[1]
PACK_SOURCE = REPO / "fixtures" / "example_pack"
PACK_PACKAGE = PACK_SOURCE / "acme_celery_rules"

# payments/tasks.py: a task on the default queue (line 4), one on `payments` (line 8),
# and one on the default queue whose ACM101 is suppressed (line 12).
PAYMENTS_TASKS = (
    "from celery import shared_task\n"
    "\n"
    "@shared_task\n"
    "def capture(pid):\n"
    "    pass\n"
    "\n"
    "@shared_task(queue='payments')\n"
    "def settle(pid):\n"
    "    pass\n"
    "\n"
    "@shared_task\n"
    "def refund(pid):  # noqa: ACM101\n"
    "    pass\n"
)
# Outside a `payments` package ACM101 has nothing to say.
HEALTH_TASKS = "from celery import shared_task\n\n@shared_task\ndef ping():\n    pass\n"
BARE_TASK = "from celery import shared_task\n\n@shared_task\ndef bare():\n    pass\n"

FINDING = re.compile(
    r"^(?:\./)?(?P<path>[^\s:]+\.py):(?P<line>\d+):(?P<column>\d+): (?P<code>[A-Z]+[0-9]+) (?P<message>.*)$"
)

LOCAL_CONFIG = '[tool.celery-lint]\nplugins = ["acme_celery_rules"]\n'


# --------------------------------------------------------------------------- running tools
def _env(pythonpath: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONWARNINGS", "PYTHONSTARTUP"):
        env.pop(name, None)
    for name in [n for n in env if n.startswith("GIT_") or n.startswith("PRE_COMMIT")]:
        env.pop(name)
    env["PYTHONIOENCODING"] = "utf-8"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    proc = subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        env=env if env is not None else _env(),
    )
    run = Run(proc.returncode, proc.stdout, proc.stderr, argv)
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, str(run)
    assert run.returncode >= 0, f"killed by signal {-run.returncode}\n{run}"
    return run


def celery_lint(*args: str, cwd: Path, site: Path | None = None) -> Run:
    return _run([sys.executable, "-m", "celery_lint", *args], cwd, _env(site))


def flake8(*args: str, cwd: Path, site: Path | None = None) -> Run:
    # -j 1: flake8's worker processes would each print a broken pack's error line.
    return _run([sys.executable, "-m", "flake8", "-j", "1", *args], cwd, _env(site))


def findings(run: Run) -> set[tuple[str, int, str]]:
    """(path, line, code) of every finding line, from the CLI, flake8 or pre-commit."""
    out = set()
    for line in run.stdout.splitlines():
        match = FINDING.match(line.strip())
        if match:
            out.add((match["path"], int(match["line"]), match["code"]))
    return out


def messages(run: Run, code: str) -> list[str]:
    return [m["message"] for m in map(FINDING.match, run.stdout.splitlines()) if m and m["code"] == code]


def of(run: Run, code: str) -> set[tuple[str, int]]:
    return {(path, line) for path, line, c in findings(run) if c == code}


# --------------------------------------------------------------------------- projects
@pytest.fixture(scope="session")
def pack_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example pack pip-installed into a folder of its own (a copy is built, so the
    fixture's source tree gets no build/ or egg-info)."""
    base = tmp_path_factory.mktemp("pack-install")
    source = base / "example_pack"
    copy_clean(PACK_SOURCE, source)
    site = base / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    entry_points = next(site.glob("acme_celery_rules-*.dist-info")) / "entry_points.txt"
    assert (
        "[celery_lint]" in entry_points.read_text() and "acme = acme_celery_rules" in entry_points.read_text()
    )
    return site


def make_project(root: Path, config: str = "", local_pack: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(config, encoding="utf-8")
    (root / "payments").mkdir()
    (root / "payments" / "__init__.py").write_text("", encoding="utf-8")
    (root / "payments" / "tasks.py").write_text(PAYMENTS_TASKS, encoding="utf-8")
    (root / "health").mkdir()
    (root / "health" / "__init__.py").write_text("", encoding="utf-8")
    (root / "health" / "tasks.py").write_text(HEALTH_TASKS, encoding="utf-8")
    if local_pack:
        copy_clean(PACK_PACKAGE, root / "acme_celery_rules")
    return root


class Way:
    """One way of loading the example pack: how to build the project and run the tools."""

    def __init__(self, name: str, tmp_path: Path, site: Path | None) -> None:
        self.name = name
        self.site = site if name == "installed" else None
        self.local = name == "local"
        self.tmp_path = tmp_path

    def project(self, extra_config: str = "") -> Path:
        if self.local:
            config = LOCAL_CONFIG + extra_config
        else:
            config = ("[tool.celery-lint]\n" + extra_config) if extra_config else ""
        return make_project(self.tmp_path / f"proj_{self.name}", config, local_pack=self.local)

    def cli(self, *args: str, cwd: Path) -> Run:
        return celery_lint(*args, cwd=cwd, site=self.site)

    def flake8(self, *args: str, cwd: Path) -> Run:
        return flake8(*args, cwd=cwd, site=self.site)


@pytest.fixture(params=["installed", "local"])
def way(request: pytest.FixtureRequest, tmp_path: Path) -> Way:
    site = request.getfixturevalue("pack_site") if request.param == "installed" else None
    return Way(request.param, tmp_path, site)


@pytest.fixture
def installed(tmp_path: Path, pack_site: Path) -> Way:
    return Way("installed", tmp_path, pack_site)


@pytest.fixture
def local(tmp_path: Path) -> Way:
    return Way("local", tmp_path, None)


PAYMENTS = "payments/tasks.py"
HEALTH = "health/tasks.py"


# =========================================================================== 1. loading
def test_installed_pack_registers_through_its_entry_point(tmp_path: Path, pack_site: Path) -> None:
    # A folder with no configuration at all: only the entry point can bring the pack in.
    empty = tmp_path / "empty"
    empty.mkdir()
    without = celery_lint("--list-rules", cwd=empty)
    assert without.returncode == 0, without
    assert "ACM101" not in without.stdout
    assert "CEL201" in without.stdout

    with_pack = celery_lint("--list-rules", cwd=empty, site=pack_site)
    assert with_pack.returncode == 0, with_pack
    rows = [line.split() for line in with_pack.lines]
    assert ["ACM101", "payments-task-off-queue", "default"] in rows, with_pack
    # Nothing else changed: the built-in list is the same, plus the pack's one rule.
    assert [r for r in with_pack.lines if not r.startswith("ACM")] == without.lines


def test_pack_rule_fires_in_the_cli(way: Way) -> None:
    root = way.project()
    run = way.cli("--no-cache", "--select", "CEL201,ACM", ".", cwd=root)
    assert run.returncode == 1, run
    assert run.error_lines == [], run
    # Line 12 has a noqa comment for ACM101: the CLI drops ACM101 there, and only ACM101.
    assert of(run, "ACM101") == {(PAYMENTS, 4)}, run
    assert of(run, "CEL201") == {(PAYMENTS, 4), (PAYMENTS, 8), (PAYMENTS, 12), (HEALTH, 4)}, run
    assert messages(run, "ACM101") == [
        "payments task 'payments.tasks.capture' runs on the default queue: route it to `payments`"
    ]


def test_pack_rule_select_by_prefix_only(way: Way) -> None:
    root = way.project()
    run = way.cli("--no-cache", "--select", "ACM", ".", cwd=root)
    assert run.returncode == 1, run
    assert findings(run) == {(PAYMENTS, 4, "ACM101")}, run


def test_default_pack_rule_runs_without_select(installed: Way) -> None:
    """ACM101 is a default rule (``--list-rules`` and ``--explain`` say "default"), and
    the docs say pack rules "run like built-in ones": a plain ``celery-lint`` (which is
    what the pre-commit hook runs) must report it."""
    root = installed.project()
    explain = installed.cli("--explain", "ACM101", cwd=root)
    assert "Enabled: default" in explain.stdout, explain
    run = installed.cli("--no-cache", ".", cwd=root)
    assert run.returncode == 1, run
    assert (PAYMENTS, 4) in of(run, "CEL201"), run
    assert of(run, "ACM101") == {(PAYMENTS, 4)}, run


def test_pack_rule_fires_in_flake8(way: Way) -> None:
    root = way.project()
    run = way.flake8("--select", "CEL201,ACM", ".", cwd=root)
    assert run.returncode == 1, run
    assert run.error_lines == [], run
    # flake8 applies the noqa comment itself (celery-lint hands it every finding).
    assert of(run, "ACM101") == {(PAYMENTS, 4)}, run
    assert of(run, "CEL201") == {(PAYMENTS, 4), (PAYMENTS, 8), (PAYMENTS, 12), (HEALTH, 4)}, run

    only = way.flake8("--select", "ACM", ".", cwd=root)
    assert only.returncode == 1, only
    assert findings(only) == {(PAYMENTS, 4, "ACM101")}, only


def test_flake8_takes_the_long_way_with_a_pack(way: Way) -> None:
    """The plugin remembers a project's selection only without rule packs (a pack's code is
    outside what the record is keyed by): with one, each run loads it and answers alike."""
    root = way.project()
    first = way.flake8("--select", "CEL201,ACM", ".", cwd=root)
    again = way.flake8("--select", "CEL201,ACM", ".", cwd=root)
    assert (again.returncode, again.stdout) == (first.returncode, first.stdout), again
    assert of(again, "ACM101") == {(PAYMENTS, 4)}, again
    assert list((root / ".celery_lint_cache").glob("results-*.json")), "the plugin kept no entry"
    assert not list((root / ".celery_lint_cache").glob("flake8-selection-*")), "a selection was remembered"


def test_without_the_noqa_comment_both_tasks_are_reported(local: Way) -> None:
    """The control for the noqa checks above: line 12 is flagged once its comment goes."""
    root = local.project()
    tasks = root / "payments" / "tasks.py"
    tasks.write_text(PAYMENTS_TASKS.replace("  # noqa: ACM101", ""), encoding="utf-8")
    assert of(local.flake8("--select", "ACM", ".", cwd=root), "ACM101") == {(PAYMENTS, 4), (PAYMENTS, 12)}
    assert of(local.cli("--no-cache", "--select", "ACM", ".", cwd=root), "ACM101") == {
        (PAYMENTS, 4),
        (PAYMENTS, 12),
    }


# --------------------------------------------------------------------------- pre-commit
def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=celery-lint tests", "-c", "user.email=tests@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env=_env(),
        timeout=60,
    )


# The pack in pre-commit: test_precommit.py (one worker shares one hook environment).


# =========================================================================== 2. options
def test_pack_option_changes_the_expected_queue(way: Way) -> None:
    root = way.project('acme-payments-queue = "pci"\n')
    run = way.cli("--no-cache", "--select", "ACM", ".", cwd=root)
    assert run.returncode == 1, run
    assert run.error_lines == [], run
    # The `payments` queue is now wrong too; line 12 stays suppressed.
    assert of(run, "ACM101") == {(PAYMENTS, 4), (PAYMENTS, 8)}, run
    assert all(m.endswith("route it to `pci`") for m in messages(run, "ACM101")), run
    assert any("runs on queue `payments`" in m for m in messages(run, "ACM101")), run

    same_in_flake8 = way.flake8("--select", "ACM", ".", cwd=root)
    assert of(same_in_flake8, "ACM101") == {(PAYMENTS, 4), (PAYMENTS, 8)}, same_in_flake8


def test_pack_option_of_the_wrong_type_is_a_config_error(way: Way) -> None:
    root = way.project("acme-payments-queue = 3\n")
    run = way.cli("--no-cache", ".", cwd=root)
    assert run.returncode == 2, run
    assert run.stdout == "", run
    assert len(run.stderr_lines) == 1, run
    line = run.stderr_lines[0]
    assert line.startswith("celery-lint: error: "), run
    assert "'acme-payments-queue' must be of type str, got 3" in line, run


def test_pack_option_without_the_pack_is_an_unknown_key(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj", '[tool.celery-lint]\nacme-payments-queue = "pci"\n')
    run = celery_lint("--no-cache", ".", cwd=root)
    assert run.returncode == 2, run
    assert len(run.stderr_lines) == 1 and "unknown key 'acme-payments-queue'" in run.stderr, run


CELERY_APP = "from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"


def test_extension_setting_is_not_an_unknown_setting(way: Way) -> None:
    root = way.project()
    (root / "app.py").write_text(CELERY_APP, encoding="utf-8")
    (root / "celeryconfig.py").write_text(
        "broker_url = 'redis://'\nacme_audit_level = 'high'\nacme_audit_sink = 'syslog'\ntask_acks_lte = True\n",
        encoding="utf-8",
    )
    run = way.cli("--no-cache", "--select", "CEL601", ".", cwd=root)
    assert run.returncode == 1, run
    # The typo of a real setting is still reported; the pack's extension settings are not.
    assert findings(run) == {("celeryconfig.py", 4, "CEL601")}, run
    assert "did you mean `task_acks_late`?" in run.stdout, run


def test_extension_settings_hook_silences_what_cel601_would_report(tmp_path: Path) -> None:
    """``acme_audit_*`` keys never look like Celery settings, so the example pack cannot
    show that the hook does anything; a pack whose extension setting reads like a
    misspelt Celery setting (``worker_pol``, one letter from ``worker_pool``) can."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.py").write_text(CELERY_APP, encoding="utf-8")
    (root / "celeryconfig.py").write_text("worker_pol = 'x'\ntask_acks_lte = True\n", encoding="utf-8")
    (root / "ext_pack.py").write_text(
        "from celery_lint import hookimpl\n\n\n@hookimpl\ndef celery_lint_extension_settings():\n"
        "    return ['worker_po*']\n",
        encoding="utf-8",
    )
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    before = celery_lint("--no-cache", "--select", "CEL601", ".", cwd=root)
    assert findings(before) == {("celeryconfig.py", 1, "CEL601"), ("celeryconfig.py", 2, "CEL601")}, before

    (root / "pyproject.toml").write_text('[tool.celery-lint]\nplugins = ["ext_pack"]\n', encoding="utf-8")
    after = celery_lint("--no-cache", "--select", "CEL601", ".", cwd=root)
    assert after.error_lines == [], after
    assert findings(after) == {("celeryconfig.py", 2, "CEL601")}, after


# =========================================================================== 3. broken packs
RULE_FACTORY = textwrap.dedent(
    '''
    from celery_lint import Invalid, Rule, Valid

    DOC = """
        ## What it does
        Checks for nothing much.

        ## Why is this bad?
        It is a test.

        ## Example
        ```python
        x = 1
        ```

        ## Use instead
        ```python
        x = 2
        ```
    """


    def make(code, name="test-thing", cases=True):
        attrs = {
            "__doc__": DOC,
            "CODE": code,
            "NAME": name,
            "MESSAGE": "a finding",
            "VALID": [Valid("x = 1\\n")] if cases else [],
            "INVALID": [Invalid("x = 2\\n", line=1)] if cases else [],
            "check": lambda self: None,
        }
        return type("Rule" + code.replace("-", "_"), (Rule,), attrs)
    '''
)


def _rules_pack(body: str) -> str:
    return f"from celery_lint import hookimpl\nfrom broken_rules import make\n\n\n@hookimpl\ndef celery_lint_rules():\n    {body}\n"


BROKEN_PACKS = {
    "code-of-a-built-in-rule": (_rules_pack("return [make('CEL201')]"), "code CEL201 is already provided by"),
    "two-rules-one-code": (
        _rules_pack("return [make('ZZZ101'), make('ZZZ101', name='other-thing')]"),
        "code ZZZ101 is used by two of its rules",
    ),
    "no-cases": (_rules_pack("return [make('ZZZ102', cases=False)]"), "needs VALID cases"),
    "bad-code-format": (
        _rules_pack("return [make('acm1')]"),
        "'acm1' is not 1-3 capital letters and 3 digits",
    ),
    "raises-on-import": (
        "raise RuntimeError('acme needs\\nthe vault')\n",
        "RuntimeError: acme needs the vault",
    ),
    "hook-returns-a-class": (_rules_pack("return make('ZZZ103')"), "celery_lint_rules() must return a list"),
    "not-a-rule": (_rules_pack("return ['ZZZ104']"), "is not a celery_lint Rule subclass"),
}


def broken_project(root: Path, case: str, *, with_acme: bool = False) -> str:
    """A project with one bare task (CEL201 on line 4) and the broken pack ``case``."""
    module = "pack_" + case.replace("-", "_")
    source, _ = BROKEN_PACKS[case]
    root.mkdir(parents=True)
    (root / "broken_rules.py").write_text(RULE_FACTORY, encoding="utf-8")
    (root / f"{module}.py").write_text(source, encoding="utf-8")
    (root / "tasks.py").write_text(BARE_TASK, encoding="utf-8")
    plugins = [module]
    if with_acme:
        copy_clean(PACK_PACKAGE, root / "acme_celery_rules")
        (root / "payments").mkdir()
        (root / "payments" / "tasks.py").write_text(PAYMENTS_TASKS, encoding="utf-8")
        plugins = ["acme_celery_rules", module]
    (root / "pyproject.toml").write_text(
        "[tool.celery-lint]\nplugins = [" + ", ".join(f'"{p}"' for p in plugins) + "]\n", encoding="utf-8"
    )
    return module


def _one_pack_error(run: Run, module: str, detail: str) -> None:
    assert len(run.error_lines) == 1, run
    line = run.error_lines[0]
    assert line.startswith(f"celery-lint: error: rule pack '{module}'"), run
    assert detail in line, run


@pytest.mark.parametrize("case", sorted(BROKEN_PACKS))
def test_broken_pack_fails_loudly_and_the_cli_still_lints(tmp_path: Path, case: str) -> None:
    root = tmp_path / "proj"
    module = broken_project(root, case)
    run = celery_lint("--no-cache", "--select", "CEL201", ".", cwd=root)
    assert run.returncode == 2, run
    _one_pack_error(run, module, BROKEN_PACKS[case][1])
    assert findings(run) == {("tasks.py", 4, "CEL201")}, run


def test_broken_packs_fail_loudly_and_flake8_still_lints(tmp_path: Path) -> None:
    """Every broken pack at once (one flake8 run): one error line each, naming the pack."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "broken_rules.py").write_text(RULE_FACTORY, encoding="utf-8")
    (root / "tasks.py").write_text(BARE_TASK, encoding="utf-8")
    modules = {}
    for case, (source, detail) in BROKEN_PACKS.items():
        module = "pack_" + case.replace("-", "_")
        (root / f"{module}.py").write_text(source, encoding="utf-8")
        modules[module] = detail
    (root / "pyproject.toml").write_text(
        "[tool.celery-lint]\nplugins = [" + ", ".join(f'"{m}"' for m in modules) + "]\n", encoding="utf-8"
    )
    run = flake8("--select", "CEL201,CEL900", "tasks.py", cwd=root)
    assert len(run.stderr_lines) == len(modules), run
    for module, detail in modules.items():
        lines = [
            line for line in run.stderr_lines if line.startswith(f"celery-lint: error: rule pack '{module}'")
        ]
        assert len(lines) == 1 and detail in lines[0], run
        # And on the file, at line 0, so that flake8's exit code says it too.
        assert any(
            m.startswith(f"celery-lint: rule pack '{module}'") and detail in m
            for m in messages(run, "CEL900")
        ), run
    assert findings(run) == {("tasks.py", 4, "CEL201"), ("tasks.py", 0, "CEL900")}, run
    assert len(messages(run, "CEL900")) == len(modules), run
    assert run.returncode == 1, run


def test_a_broken_pack_does_not_take_the_other_packs_down(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    module = broken_project(root, "bad-code-format", with_acme=True)
    run = celery_lint("--no-cache", "--select", "CEL201,ACM", ".", cwd=root)
    assert run.returncode == 2, run
    _one_pack_error(run, module, "is not 1-3 capital letters")
    assert (PAYMENTS, 4, "ACM101") in findings(run), run
    assert ("tasks.py", 4, "CEL201") in findings(run), run

    in_flake8 = flake8("--select", "CEL201,CEL900,ACM", ".", cwd=root)
    _one_pack_error(in_flake8, module, "is not 1-3 capital letters")
    assert (PAYMENTS, 4, "ACM101") in findings(in_flake8), in_flake8
    assert ("tasks.py", 0, "CEL900") in findings(in_flake8), in_flake8


def test_installed_pack_that_raises_on_import(tmp_path: Path) -> None:
    """The entry-point way: an installed pack whose module raises is one error line."""
    site = tmp_path / "site"
    dist = site / "broken_pack-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-pack\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist / "entry_points.txt").write_text("[celery_lint]\nbroken = broken_pack\n", encoding="utf-8")
    (site / "broken_pack.py").write_text("import a_module_that_is_not_there\n", encoding="utf-8")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    (root / "tasks.py").write_text(BARE_TASK, encoding="utf-8")
    run = celery_lint("--no-cache", "--select", "CEL201", ".", cwd=root, site=site)
    assert run.returncode == 2, run
    _one_pack_error(run, "broken", "No module named 'a_module_that_is_not_there'")
    assert findings(run) == {("tasks.py", 4, "CEL201")}, run


def test_pack_that_fails_to_load_with_its_option_set(tmp_path: Path) -> None:
    """The usual shape of a configured pack: ``plugins`` plus the pack's own options. When
    the pack cannot be imported (a missing dependency in CI, say), the user must see why,
    and the built-in rules must still run, as for any other broken pack."""
    root = make_project(tmp_path / "proj", LOCAL_CONFIG + 'acme-payments-queue = "pci"\n', local_pack=True)
    init = root / "acme_celery_rules" / "__init__.py"
    text = init.read_text(encoding="utf-8")
    future = "from __future__ import annotations\n"
    init.write_text(text.replace(future, future + "import acme_vault_client\n", 1), encoding="utf-8")

    run = celery_lint("--no-cache", "--select", "CEL201", ".", cwd=root)
    assert "rule pack 'acme_celery_rules'" in run.stderr and "acme_vault_client" in run.stderr, run
    assert (PAYMENTS, 4) in of(run, "CEL201"), run
    assert run.returncode == 2, run

    in_flake8 = flake8("--select", "CEL201,CEL900", ".", cwd=root)
    assert "acme_vault_client" in in_flake8.stderr, in_flake8
    assert (PAYMENTS, 4) in of(in_flake8, "CEL201"), in_flake8
    assert (PAYMENTS, 0) in of(in_flake8, "CEL900"), in_flake8


# =========================================================================== 4. testing helpers
@pytest.fixture
def example_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[type]:
    """The example pack's rule, imported from a clean copy of the fixture (not installed:
    the egg-info that ``pip install -e`` leaves in the fixture would make it look installed);
    the pack's modules are forgotten around the test."""
    source = copy_clean(PACK_SOURCE, tmp_path / "example_pack")
    monkeypatch.syspath_prepend(str(source))
    for name in [n for n in sys.modules if n == "acme_celery_rules" or n.startswith("acme_celery_rules.")]:
        monkeypatch.delitem(sys.modules, name)
    try:
        module = importlib.import_module("acme_celery_rules.payments_queue")
        assert Path(module.__file__ or "").is_relative_to(source)
        yield module.PaymentsTaskOffQueue
    finally:
        for name in [
            n for n in sys.modules if n == "acme_celery_rules" or n.startswith("acme_celery_rules.")
        ]:
            sys.modules.pop(name, None)


def test_assert_rule_cases_passes_for_the_example_rule(example_rule: type) -> None:
    from celery_lint.registry import RuleRegistry
    from celery_lint.testing import assert_rule_cases, check_rule_cases

    assert check_rule_cases(example_rule) == []
    assert_rule_cases(example_rule)
    # The rule was registered for the duration only.
    assert "ACM101" not in {r.CODE for r in RuleRegistry().rules}


def test_assert_rule_cases_names_a_wrong_valid_case(example_rule: type) -> None:
    from celery_lint import Valid
    from celery_lint.testing import assert_rule_cases

    wrong = type(
        "WrongValid",
        (example_rule,),
        {
            "__doc__": example_rule.__doc__,
            # A task on the default queue in payments/: not valid at all.
            "VALID": [
                Valid(
                    "from celery import shared_task\n\n@shared_task\ndef capture(pid):\n    pass\n",
                    path="payments/tasks.py",
                )
            ],
        },
    )
    with pytest.raises(AssertionError) as info:
        assert_rule_cases(wrong)
    assert str(info.value) == (
        "ACM101 flagged VALID code: 4:1 payments task 'payments.tasks.capture' runs on the default queue: "
        "route it to `payments`"
    )


def test_assert_rule_cases_names_a_wrong_invalid_case(example_rule: type) -> None:
    from celery_lint import Invalid
    from celery_lint.testing import assert_rule_cases

    wrong = type(
        "WrongInvalid",
        (example_rule,),
        {
            "__doc__": example_rule.__doc__,
            "INVALID": [
                # Right snippet, wrong line.
                Invalid(
                    "from celery import shared_task\n\n@shared_task\ndef capture(pid):\n    pass\n",
                    path="payments/tasks.py",
                    line=3,
                ),
                # Not under payments/: nothing to flag.
                Invalid(
                    "from celery import shared_task\n\n@shared_task\ndef capture(pid):\n    pass\n",
                    path="billing/tasks.py",
                    note="billing task",
                ),
            ],
        },
    )
    with pytest.raises(AssertionError) as info:
        assert_rule_cases(wrong)
    assert str(info.value).splitlines() == [
        "ACM101 flagged line [4], expected line 3",
        "ACM101 did not flag INVALID code (billing task)",
    ]


def test_assert_rule_cases_checks_the_class_it_is_given(example_rule: type) -> None:
    """With the pack registered (installed, or registered by an earlier fixture), checking
    a changed class with the same code must run that class, not the registered one."""
    from celery_lint.testing import assert_rule_cases, registered_rules

    silent = type(
        "SilentRule", (example_rule,), {"__doc__": example_rule.__doc__, "check": lambda self: None}
    )
    with registered_rules([example_rule], name="acme"), pytest.raises(AssertionError, match="did not flag"):
        assert_rule_cases(silent)


def test_lint_source_runs_a_registered_pack_rule(example_rule: type) -> None:
    from celery_lint.testing import lint_source, registered_rules

    snippet = "from celery import shared_task\n\n@shared_task\ndef capture(pid):\n    pass\n"
    with registered_rules([example_rule]):
        found = lint_source(snippet, path="payments/tasks.py", select=["ACM101"])
        elsewhere = lint_source(snippet, path="health/tasks.py", select=["ACM101"])
    assert [(f.code, f.line) for f in found] == [("ACM101", 4)]
    assert elsewhere == []


def test_a_broken_rule_is_refused_by_registered_rules(example_rule: type) -> None:
    from celery_lint.registry import RuleRegistry
    from celery_lint.testing import registered_rules

    nameless = type("Nameless", (example_rule,), {"__doc__": example_rule.__doc__, "NAME": "Use_Payments"})
    with (
        pytest.raises(AssertionError, match="name 'Use_Payments' is not kebab-case"),
        registered_rules([nameless]),
    ):
        pass
    assert "ACM101" not in {r.CODE for r in RuleRegistry().rules}


# =========================================================================== 5. list and explain
def test_list_rules_and_explain_show_an_installed_pack(installed: Way, tmp_path: Path) -> None:
    root = installed.project()
    listing = installed.cli("--list-rules", cwd=root)
    assert ["ACM101", "payments-task-off-queue", "default"] in [line.split() for line in listing.lines]

    for code in ("ACM101", "payments-task-off-queue"):
        explain = installed.cli("--explain", code, cwd=root)
        assert explain.returncode == 0, explain
        text = explain.stdout
        assert text.startswith("# ACM101 payments-task-off-queue\n"), explain
        for part in (
            "## What it does",
            "## Why is this bad?",
            "## Example",
            "## Use instead",
            "`acme-payments-queue`",
        ):
            assert part in text, explain

    missing = celery_lint("--explain", "ACM101", cwd=root)
    assert missing.returncode == 2, missing
    assert missing.stderr_lines == ["celery-lint: error: unknown rule code 'ACM101'"], missing


def test_explain_shows_a_local_pack_and_list_rules_does_not_import_it(local: Way) -> None:
    """In a project whose configuration loads the pack (and whose runs report ACM101),
    ``--explain ACM101`` must know the rule too. A local pack is code the project runs:
    ``--list-rules`` (built-in and installed rules) does not import it."""
    root = local.project()
    listing = local.cli("--list-rules", cwd=root)
    assert listing.returncode == 0, listing
    assert "ACM101" not in listing.stdout, listing
    explain = local.cli("--explain", "ACM101", cwd=root)
    assert explain.returncode == 0, explain
    assert explain.stdout.startswith("# ACM101 payments-task-off-queue\n"), explain


# =========================================================================== packs and the rest
def test_cached_results_follow_an_upgraded_pack(tmp_path: Path, pack_site: Path) -> None:
    """The CLI caches findings per file. Upgrading an installed pack (new rule logic, new
    message) must not leave the old pack's findings in place for unchanged files."""
    site = tmp_path / "site"
    shutil.copytree(pack_site, site)
    root = make_project(tmp_path / "proj")
    first = celery_lint("--select", "ACM", ".", cwd=root, site=site)
    assert messages(first, "ACM101") == [
        "payments task 'payments.tasks.capture' runs on the default queue: route it to `payments`"
    ], first
    rule = site / "acme_celery_rules" / "payments_queue.py"
    rule.write_text(rule.read_text(encoding="utf-8").replace("route it to", "send it to"), encoding="utf-8")
    second = celery_lint("--select", "ACM", ".", cwd=root, site=site)
    assert messages(second, "ACM101") == [
        "payments task 'payments.tasks.capture' runs on the default queue: send it to `payments`"
    ], second


def test_local_pack_applies_to_its_own_project_only(tmp_path: Path) -> None:
    """Two projects in one run (a monorepo; pre-commit passes both in one call): the pack
    that project `a` lists must not run on project `b`, and the order must not matter."""
    make_project(tmp_path / "a", LOCAL_CONFIG, local_pack=True)
    make_project(tmp_path / "b", "")
    a_then_b = celery_lint(
        "--no-cache", "--select", "CEL201", "--extend-select", "ACM101", "a", "b", cwd=tmp_path
    )
    b_then_a = celery_lint(
        "--no-cache", "--select", "CEL201", "--extend-select", "ACM101", "b", "a", cwd=tmp_path
    )
    assert ("a/" + PAYMENTS, 4, "ACM101") in findings(a_then_b), a_then_b
    assert ("b/" + PAYMENTS, 4, "ACM101") not in findings(a_then_b), a_then_b
    assert (findings(b_then_a), b_then_a.returncode) == (findings(a_then_b), a_then_b.returncode), b_then_a
