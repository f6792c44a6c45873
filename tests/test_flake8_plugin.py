"""The flake8 front end, run as users run it: ``python -m flake8 --select CEL ...``.

Every run is the real flake8 in a subprocess, with ``--isolated`` so that no flake8
configuration outside the temporary project changes what it selects. Findings are
compared with the CLI's JSON output on the same project: same paths, lines, columns
(both 1-based as printed), codes and messages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BARE_TASK, LEFTOVERS, Project, run_cli

from celery_lint.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
# Every sample project (a folder of fixtures/ with a pyproject.toml that the fixture tests
# also use). example_pack is a rule pack, not a project to lint.
PROJECTS = sorted(
    config.parent.relative_to(FIXTURES).as_posix()
    for pattern in ("*/pyproject.toml", "families/*/pyproject.toml")
    for config in FIXTURES.glob(pattern)
    if config.parent.name != "example_pack"
)

# One finding a line, fields separated by tabs (messages contain ':' and ',').
FLAKE8_FORMAT = "%(path)s\t%(row)d\t%(col)d\t%(code)s\t%(text)s"

OPT_IN = sorted(r.CODE for r in all_rules() if not r.DEFAULT and r.CODE not in ("CEL900", "CEL901"))
# Every rule flake8 runs (CEL900 is flake8's E999 there, CEL901 is not available).
EVERY_FLAKE8_RULE = sorted(r.CODE for r in all_rules() if r.CODE not in ("CEL900", "CEL901"))

Finding = tuple[str, int, int, str, str]


@dataclass(repr=False)
class Flake8Run:
    returncode: int
    stdout: str
    stderr: str
    args: list[str]

    @property
    def findings(self) -> set[Finding]:
        out = set()
        for line in self.stdout.splitlines():
            path, row, col, code, text = line.split("\t", 4)
            out.add((Path(os.path.normpath(path)).as_posix(), int(row), int(col), code, text))
        return out

    def codes(self) -> set[str]:
        return {code for _, _, _, code, _ in self.findings}

    def __repr__(self) -> str:
        return f"$ {' '.join(self.args)}\n[exit {self.returncode}]\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def flake8(*args: str, cwd: Path, timeout: float = 120) -> Flake8Run:
    argv = [sys.executable, "-m", "flake8", "--isolated", f"--format={FLAKE8_FORMAT}", *args]
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, encoding="utf-8", timeout=timeout, env=env
    )
    run = Flake8Run(proc.returncode, proc.stdout, proc.stderr, argv[2:])
    assert "Traceback" not in run.stderr, repr(run)
    assert "celery-lint: error" not in run.stderr, repr(run)
    return run


def cli_findings(cwd: Path, *args: str) -> set[Finding]:
    run = run_cli("--format", "json", "--no-cache", *args, cwd=cwd)
    assert run.returncode in (0, 1), run
    return {
        (Path(f["path"]).as_posix(), f["line"], f["column"], f["code"], f["message"])
        for f in run.json["findings"]
    }


def copy_fixture(name: str, dest: Path) -> Path:
    target = dest / Path(name).name
    shutil.copytree(FIXTURES / name, target, ignore=LEFTOVERS)
    return target


def describe(expected: set[Finding], got: set[Finding]) -> str:
    lines = [f"only in CLI:    {f[0]}:{f[1]}:{f[2]}: {f[3]} {f[4]}" for f in sorted(expected - got)]
    lines += [f"only in flake8: {f[0]}:{f[1]}:{f[2]}: {f[3]} {f[4]}" for f in sorted(got - expected)]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of fixtures/django_shop for the tests that only read it."""
    return copy_fixture("django_shop", tmp_path_factory.mktemp("flake8-shop"))


_RUNS: dict[tuple[Path, tuple[str, ...]], object] = {}


def once(kind: str, cwd: Path, *args: str) -> object:
    """A run on the shared read-only copy, done once per module."""
    key = (cwd, (kind, *args))
    if key not in _RUNS:
        _RUNS[key] = flake8(*args, cwd=cwd) if kind == "flake8" else cli_findings(cwd, *args)
    return _RUNS[key]


def shop_flake8(shop: Path, *args: str) -> Flake8Run:
    run = once("flake8", shop, *args)
    assert isinstance(run, Flake8Run)
    return run


def shop_cli(shop: Path, *args: str) -> set[Finding]:
    found = once("cli", shop, *args)
    assert isinstance(found, set)
    return found


# --------------------------------------------------------------------------- same findings
def test_select_cel_gives_the_cli_findings(shop: Path) -> None:
    """``flake8 --select CEL .`` (the README's "every default rule") = ``celery-lint .``."""
    expected = shop_cli(shop, ".")
    run = shop_flake8(shop, "--select", "CEL", ".")
    assert run.returncode == 1, run
    assert run.findings == expected, describe(expected, run.findings)


def test_every_rule_gives_the_cli_findings(tmp_path: Path) -> None:
    """With every rule selected by its full code, flake8 and the CLI agree on each
    finding's path, line, column, code and message, on every sample project (all copied
    side by side and linted in one run: each file belongs to its own project root)."""
    folders = []
    for name in PROJECTS:
        folder = name.replace("/", "_")
        shutil.copytree(
            FIXTURES / name,
            tmp_path / folder,
            ignore=LEFTOVERS,
        )
        folders.append(folder)
    codes = ",".join(EVERY_FLAKE8_RULE)
    # CEL900 runs whatever the selection; flake8 leaves it to its E999.
    expected = cli_findings(tmp_path, "--select", codes, "--ignore", "CEL900", *folders)
    run = flake8("--select", codes, *folders, cwd=tmp_path)
    assert {f[0].split("/")[0] for f in expected} == set(folders), "every project has findings"
    assert run.findings == expected, describe(expected, run.findings)


def test_columns_are_one_based_as_printed(project: Project) -> None:
    """A finding at the start of a line is column 1 in both tools, an indented one is the
    1-based column of its first character."""
    project.write(
        "app/tasks.py",
        "from celery import shared_task\n"
        "\n"
        "\n"
        "@shared_task(\n"
        "    time_limit=60, soft_time_limit=50, acks_late=True, ignore_result=True,\n"
        "    serializer='pickle',\n"
        ")\n"
        "def t():\n"
        "    pass\n"
        "\n"
        "\n"
        "@shared_task\n"
        "def bare():\n"
        "    pass\n",
    )
    run = flake8("--select", "CEL103,CEL201", ".", cwd=project.root)
    assert {(f[1], f[2], f[3]) for f in run.findings} == {(6, 5, "CEL103"), (13, 1, "CEL201")}, run
    assert run.findings == cli_findings(project.root, "--select", "CEL103,CEL201", ".")


# --------------------------------------------------------------------------- noqa
def test_fixture_noqa_stays_suppressed(shop: Path) -> None:
    """orders/tasks.py:102 carries ``# noqa: CEL201``; flake8 itself applies it."""
    suppressed = ("orders/tasks.py", 102, "CEL201")
    run = shop_flake8(shop, "--select", "CEL", ".")
    assert suppressed not in {(*f[:2], f[3]) for f in run.findings}, run
    assert "CEL201" in run.codes(), run
    # The finding is there: without noqa processing flake8 reports it.
    unfiltered = flake8("--select", "CEL201", "--disable-noqa", ".", cwd=shop)
    assert suppressed in {(*f[:2], f[3]) for f in unfiltered.findings}, unfiltered


NOQA_TASKS = """\
from celery import shared_task


@shared_task
def one_code():  # noqa: CEL201
    pass


@shared_task
def every_code():  # noqa
    pass


@shared_task
def by_prefix():  # noqa: CEL2
    pass


@shared_task
def unsuppressed():
    pass
"""


def test_own_noqa_comments(project: Project) -> None:
    project.write("app/__init__.py", "")
    project.write("app/tasks.py", NOQA_TASKS)
    project.write("app/quiet.py", "# flake8: noqa\n" + BARE_TASK)
    codes = "CEL201,CEL202,CEL205"
    run = flake8("--select", codes, ".", cwd=project.root)
    got = {(path, line, code) for path, line, _, code, _ in run.findings}
    assert got == {
        ("app/tasks.py", 5, "CEL205"),
        ("app/tasks.py", 20, "CEL201"),
        ("app/tasks.py", 20, "CEL205"),
    }, run
    assert run.findings == cli_findings(project.root, "--select", codes, "."), "CLI and flake8 differ"
    # --disable-noqa brings every suppressed finding back, in both files.
    unfiltered = flake8("--select", codes, "--disable-noqa", ".", cwd=project.root)
    assert {(p, line) for p, line, _, _, _ in unfiltered.findings} == {
        ("app/tasks.py", 5),
        ("app/tasks.py", 10),
        ("app/tasks.py", 15),
        ("app/tasks.py", 20),
        ("app/quiet.py", 5),
    }, unfiltered


# --------------------------------------------------------------------------- opt-in rules
# flake8's decision (flake8/style_guide.py, DecisionEngine): the plugin puts its opt-in
# codes in ``extended_default_ignore``. That list only wins over an *implicit* selection
# (no --select: "longest prefix wins", CEL710 beats CEL). An *explicit* --select CEL
# makes every CEL code "Selected.Explicitly", which beats an implicit ignore, so the
# extended default ignore list has no effect once the user writes --select CEL.
def test_opt_in_rule_absent_with_select_cel(shop: Path) -> None:
    run = shop_flake8(shop, "--select", "CEL", ".")
    assert run.codes() & set(OPT_IN) == set(), run


def test_opt_in_rule_absent_without_select(shop: Path) -> None:
    """Plain ``flake8 .``: CEL is on by default and the opt-in codes stay off."""
    run = shop_flake8(shop, ".")
    cel = {c for c in run.codes() if c.startswith("CEL")}
    assert "CEL201" in cel, run
    assert cel & set(OPT_IN) == set(), run


@pytest.mark.parametrize(
    "args",
    [
        ["--select", "CEL", "--extend-select", "CEL710"],
        ["--select", "CEL,CEL710"],
        ["--extend-select", "CEL710"],
    ],
    ids=["select+extend-select", "select-list", "extend-select-only"],
)
def test_opt_in_rule_present_when_named(shop: Path, args: list[str]) -> None:
    run = flake8(*args, ".", cwd=shop)
    expected = {f for f in shop_cli(shop, "--select", ",".join(EVERY_FLAKE8_RULE), ".") if f[3] == "CEL710"}
    assert expected, "CEL710 should fire on the shop's unnamed tasks"
    assert {f for f in run.findings if f[3] == "CEL710"} == expected, run


# --------------------------------------------------------------------------- -j
def _many_files(project: Project, count: int = 12) -> None:
    project.write(
        "proj/celery.py",
        'from celery import Celery\n\napp = Celery("proj", broker_connection_retry_on_startup=True)\n',
    )
    project.write("proj/__init__.py", "")
    # A constant another module imports: the model reads it on demand.
    project.write("proj/limits.py", "HARD = None\nSOFT = 30\n")
    for index in range(count):
        project.write(f"app{index}/__init__.py", "")
        project.write(f"app{index}/helpers.py", f"VALUE = {index}\n")
        project.write(
            f"app{index}/tasks.py",
            "from celery import shared_task\n"
            "from proj.celery import app\n"
            "from proj.limits import HARD, SOFT\n"
            "\n\n"
            f"@shared_task(time_limit=HARD, soft_time_limit=SOFT, acks_late={index % 2 == 0})\n"
            f"def limited_{index}(x):\n"
            "    return x\n"
            "\n\n"
            "@app.task\n"
            f"def bare_{index}():\n"
            "    pass\n",
        )


def test_parallel_flake8_gives_the_same_findings(project: Project) -> None:
    _many_files(project)
    serial = flake8("--select", "CEL", "-j", "1", ".", cwd=project.root)
    parallel = flake8("--select", "CEL", "-j", "2", ".", cwd=project.root, timeout=120)
    assert len({f[0] for f in serial.findings}) >= 12, serial
    assert parallel.findings == serial.findings, describe(serial.findings, parallel.findings)
    assert parallel.returncode == serial.returncode == 1


# --------------------------------------------------------------------------- one file
CELERY_MODULE = """\
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""

SETTINGS = """\
INSTALLED_APPS = ["orders"]
CELERY_BROKER_URL = "redis://localhost:6379/0"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
"""

ORDER_TASKS = """\
from celery import shared_task


@shared_task(time_limit=60, soft_time_limit=50, ignore_result=True)
def ship(order_id):
    return order_id
"""


def _django_project(project: Project, acks_late: bool) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", CELERY_MODULE)
    project.write("proj/settings.py", SETTINGS + ("CELERY_TASK_ACKS_LATE = True\n" if acks_late else ""))
    project.write("orders/__init__.py", "")
    project.write("orders/tasks.py", ORDER_TASKS)


def test_single_file_sees_project_settings(project: Project) -> None:
    """``flake8 --select CEL orders/tasks.py``: the settings module is not linted, but the
    model reads it, so the global CELERY_TASK_ACKS_LATE = True silences CEL205."""
    _django_project(project, acks_late=True)
    run = flake8("--select", "CEL", "orders/tasks.py", cwd=project.root)
    assert "CEL205" not in run.codes(), run
    assert {f[0] for f in run.findings} <= {"orders/tasks.py"}, run
    # From another folder, naming the file by a longer path: the same project root.
    outside = flake8("--select", "CEL", "proj_root/orders/tasks.py", cwd=project.root.parent)
    assert "CEL205" not in outside.codes(), outside


def test_single_file_without_the_setting_fires(project: Project) -> None:
    _django_project(project, acks_late=False)
    run = flake8("--select", "CEL", "orders/tasks.py", cwd=project.root)
    cel205 = {f for f in run.findings if f[3] == "CEL205"}
    assert {(f[0], f[1], f[2]) for f in cel205} == {("orders/tasks.py", 5, 1)}, run
    assert "proj.settings" in next(iter(cel205))[4], "the message names the settings module"
    assert run.returncode == 1
    assert cel205 == {f for f in cli_findings(project.root, "orders/tasks.py") if f[3] == "CEL205"}


# --------------------------------------------------------------------------- E999, no Celery
def test_syntax_error_is_e999_not_cel900(project: Project) -> None:
    """flake8 reports a file it cannot parse as its own E999; the plugin adds no CEL900.
    E999 is only shown when selected: ``--select CEL`` alone hides the syntax error."""
    project.write("app/__init__.py", "")
    project.write("app/tasks.py", BARE_TASK)
    project.write("app/broken.py", "from celery import shared_task\n\n@shared_task\ndef broken(:\n    pass\n")
    run = flake8("--select", "CEL,E999", ".", cwd=project.root)
    codes = {(f[0], f[3]) for f in run.findings}
    assert ("app/broken.py", "E999") in codes, run
    assert "CEL900" not in run.codes(), run
    assert ("app/tasks.py", "CEL201") in codes, "the other files are still checked"
    cel_only = flake8("--select", "CEL", ".", cwd=project.root)
    assert "CEL900" not in cel_only.codes(), cel_only
    assert ("app/tasks.py", "CEL201") in {(f[0], f[3]) for f in cel_only.findings}, cel_only


def test_project_without_celery_has_no_cel_findings(project: Project) -> None:
    project.write("lib/__init__.py", "")
    project.write("lib/jobs.py", "from invoke import task\n\n\n@task\ndef build(c):\n    c.run('make')\n")
    project.write("lib/util.py", "def shared_task(x):\n    return x\n\n\nTIME_LIMIT = None\n")
    project.write("main.py", "import lib.util\n\nprint(lib.util.shared_task(1))\n")
    run = flake8("--select", "CEL", ".", cwd=project.root)
    assert run.returncode == 0, run
    assert run.stdout == "", run
    everything = flake8(".", cwd=project.root)
    assert not {c for c in everything.codes() if c.startswith("CEL")}, everything


SERVICE_TASKS = """from celery import shared_task


@shared_task
def sync():
    pass
"""


def test_monorepo_services_are_separate_projects_in_cli_and_flake8(tmp_path: Path) -> None:
    """Two services under one repository, each with its own pyproject.toml: the global
    ``task_acks_late`` of one must not silence CEL205 in the other, and flake8 (which looks
    up each file's nearest project) agrees with a CLI run on the repository root."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'monorepo'\n", "utf-8")
    for service, settings in (("billing", "CELERY_TASK_ACKS_LATE = True\n"), ("mailer", "")):
        root = tmp_path / "services" / service
        (root / service).mkdir(parents=True)
        (root / "pyproject.toml").write_text(f"[project]\nname = '{service}'\n", "utf-8")
        (root / "manage.py").write_text(
            f"import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', '{service}.settings')\n"
        )
        (root / service / "__init__.py").write_text("", "utf-8")
        (root / service / "settings.py").write_text(
            settings + "CELERY_BROKER_URL = 'redis://r:6379/0'\n", "utf-8"
        )
        (root / service / "celery.py").write_text(
            f"from celery import Celery\n\napp = Celery('{service}')\n"
            "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
            "utf-8",
        )
        (root / service / "tasks.py").write_text(SERVICE_TASKS, "utf-8")
    cli = cli_findings(tmp_path, ".", "--select", "CEL205")
    assert {(path, code) for path, _, _, code, _ in cli} == {("services/mailer/mailer/tasks.py", "CEL205")}, (
        cli
    )
    run = flake8("--select", "CEL205", ".", cwd=tmp_path)
    assert run.findings == cli, describe(cli, run.findings)


def test_folder_without_project_marker_is_one_project_as_in_the_cli(tmp_path: Path) -> None:
    """No pyproject.toml, setup.cfg, setup.py or .git anywhere: the CLI run on ``.`` takes
    the folder as the project, so ``testing/`` is test code; flake8, run from the same
    folder, must judge each file from the same root and not from the file's own folder."""
    if any((parent / ".git").exists() or (parent / "pyproject.toml").exists() for parent in tmp_path.parents):
        pytest.skip("a project marker above the temporary folder")
    (tmp_path / "testing").mkdir()
    (tmp_path / "testing" / "tasks.py").write_text(SERVICE_TASKS, "utf-8")
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "tasks.py").write_text(SERVICE_TASKS, "utf-8")
    cli = cli_findings(tmp_path, ".", "--select", "CEL201")
    assert {path for path, *_ in cli} == {"jobs/tasks.py"}, cli
    run = flake8("--select", "CEL201", ".", cwd=tmp_path)
    assert run.findings == cli, describe(cli, run.findings)
