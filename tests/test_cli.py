"""The ``celery-lint`` command as a user runs it: exit codes, output formats, positions,
rule selection and configuration. Every test runs the real CLI in a subprocess."""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import (
    BARE_TASK,
    CLEAN_TASK,
    FINDING_LINE,
    FIXES_LINE,
    SELECT,
    SUMMARY_LINE,
    TASK_CODES,
    Project,
    Run,
    run_cli,
)

import celery_lint
from celery_lint.rules import all_rules

UNIVERSE = {"CEL103", *TASK_CODES}
CALL = "from proj.tasks import add\n\nadd.apply_async((1,), serializer='pickle')\n"


# --------------------------------------------------------------------------- exit codes
def test_clean_project_exits_0_with_no_findings_summary(project: Project) -> None:
    project.write(
        "helpers.py", '"""Helpers for the celery workers."""\n\n\ndef double(x):\n    return x * 2\n'
    )
    run = project.run()
    assert run.returncode == 0, run
    assert run.lines == ["No findings in 1 file checked (0 apps, 0 tasks)."], run
    assert run.stderr == ""
    project.write("tasks.py", CLEAN_TASK)
    run = project.run("--select", SELECT)
    assert run.returncode == 0, run
    assert run.lines == ["No findings in 2 files checked (0 apps, 1 task)."], run
    assert run.error_lines == [], run


def test_findings_exit_1_with_summary(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    run = project.run("--select", SELECT)
    assert run.returncode == 1, run
    assert run.findings == [
        ("tasks.py", 4, 1, "CEL201"),
        ("tasks.py", 4, 1, "CEL205"),
    ]
    assert run.summary == "Found 2 findings in 1 file (1 file checked; 0 apps, 1 task).", run
    assert run.error_lines == [], run
    default = project.run()
    assert default.returncode == 1, default
    assert default.codes_in("tasks.py") >= TASK_CODES, default
    count = len(default.findings)
    assert (
        default.summary
        == f"Found {count} finding{'s' if count > 1 else ''} in 1 file (1 file checked; 0 apps, 1 task)."
    ), default


def test_exit_zero_gives_0_and_still_prints_findings(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    run = project.run("--exit-zero")
    assert run.returncode == 0, run
    assert run.codes_in("tasks.py") >= TASK_CODES, run
    assert run.summary.startswith(f"Found {len(run.findings)} findings"), run


def test_unknown_option_is_a_usage_error(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    run = project.run("--no-such-option")
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert "--no-such-option" in run.stderr
    assert run.stderr_lines[-1].startswith("celery-lint: error:"), run


@pytest.mark.parametrize(
    ("option", "code"),
    [
        ("--select", "CEL999"),
        ("--ignore", "XYZ123"),
        ("--extend-select", "CEL77"),
    ],
)
def test_unknown_rule_code_on_command_line(project: Project, option: str, code: str) -> None:
    project.write("tasks.py", BARE_TASK)
    run = project.run(option, code)
    assert run.returncode == 2, run
    assert run.stdout == "", run
    assert len(run.stderr_lines) == 1, run
    assert code in run.stderr and option in run.stderr, run


def test_unknown_code_among_known_ones_is_still_an_error(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    run = project.run("--select", "CEL201,CEL2O1")
    assert run.returncode == 2, run
    assert len(run.stderr_lines) == 1 and "CEL2O1" in run.stderr, run


def test_invalid_toml_is_a_configuration_error(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    project.config("[tool.celery-lint]\nselect = [\n")
    run = project.run()
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert len(run.stderr_lines) == 1, run
    assert "pyproject.toml" in run.stderr and "TOML" in run.stderr, run


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('select = "CEL201"', "select"),
        ('per-file-ignores = ["tests/*"]', "per-file-ignores"),
        ('default-time-limit = "300"', "default-time-limit"),
    ],
)
def test_wrong_type_in_configuration(project: Project, toml: str, key: str) -> None:
    project.write("tasks.py", BARE_TASK)
    project.config(f"[tool.celery-lint]\n{toml}\n")
    run = project.run()
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert len(run.stderr_lines) == 1, run
    assert f"'{key}'" in run.stderr, run


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("ignroe", "ignore"),
        ("default-time-limt", "default-time-limit"),
    ],
)
def test_unknown_configuration_key_suggests_closest(project: Project, typo: str, suggestion: str) -> None:
    project.write("tasks.py", BARE_TASK)
    project.config(f'[tool.celery-lint]\n{typo} = ["CEL201"]\n')
    run = project.run()
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert len(run.stderr_lines) == 1, run
    assert typo in run.stderr and f"'{suggestion}'" in run.stderr, run


DEPLOYED_APP = (
    "from celery import Celery\n\n"
    "app = Celery('proj', broker='redis://localhost:6379/0')\n"
    "app.conf.broker_connection_retry_on_startup = True\n"
)
DEPLOYED_TASKS = (
    "from proj.celery import app\n\n\n"
    "@app.task\ndef pull():\n    return 1\n\n\n"
    "@app.task(soft_time_limit=400)\ndef pull_all():\n    return 0\n"
)


def test_deployment_settings_count_as_configuration_of_every_app(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", DEPLOYED_APP)
    project.write("proj/tasks.py", DEPLOYED_TASKS)
    before = project.run("--no-cache")
    assert {(line, code) for p, line, _, code in before.findings if p == "proj/tasks.py"} == {
        (5, "CEL201"),  # neither limit: one finding for the cause
        (5, "CEL205"),
        (10, "CEL201"),
        (10, "CEL205"),
    }, before
    project.config(
        "[tool.celery-lint]\n"
        "deployment-settings = { task_time_limit = 300, task_soft_time_limit = 240, task_acks_late = true }\n"
    )
    run = project.run("--no-cache")
    assert run.returncode == 1, run
    # pull is clean; pull_all's soft limit 400 is above the deployment's hard limit 300.
    assert [(p, line, code) for p, line, _, code in run.findings] == [("proj/tasks.py", 9, "CEL203")], run
    assert "hard limit 300 s (deployment)" in run.stdout, run


def test_deployment_settings_configure_shared_tasks_of_a_project_without_an_app(project: Project) -> None:
    """A reusable app ships shared tasks and no Celery app: the project that installs it
    configures the worker, which deployment-settings states."""
    project.write("tasks.py", BARE_TASK)
    before = project.run("--no-cache", "--select", "CEL201,CEL205")
    assert {code for _, _, _, code in before.findings} == {"CEL201", "CEL205"}, before
    project.config(
        "[tool.celery-lint]\n"
        "deployment-settings = { task_time_limit = 300, task_soft_time_limit = 240, task_acks_late = true }\n"
    )
    run = project.run("--no-cache", "--select", "CEL201,CEL205")
    assert run.returncode == 0, run
    assert run.findings == [], run


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [("task_time_limt", "task_time_limit"), ("CELERYD_TASK_TIME_LIMIT", "task_time_limit")],
)
def test_deployment_settings_unknown_setting_suggests_closest(
    project: Project, key: str, suggestion: str
) -> None:
    project.write("tasks.py", BARE_TASK)
    project.config(f"[tool.celery-lint]\ndeployment-settings = {{ {key} = 300 }}\n")
    run = project.run()
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert len(run.stderr_lines) == 1, run
    assert f"'{key}'" in run.stderr and f"'{suggestion}'" in run.stderr, run
    assert "pyproject.toml" in run.stderr, run


@pytest.mark.parametrize(
    "toml",
    [
        'deployment-settings = { task_acks_late = "yes" }',
        'deployment-settings = { task_time_limit = "300" }',
        "deployment-settings = { worker_prefetch_multiplier = 1.5 }",
        "deployment-settings = { task_default_queue = 1 }",
        "deployment-settings = { task_time_limit = true }",
        "deployment-settings = [1]",
    ],
)
def test_deployment_settings_wrong_type(project: Project, toml: str) -> None:
    project.write("tasks.py", BARE_TASK)
    project.config(f"[tool.celery-lint]\n{toml}\n")
    run = project.run()
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert len(run.stderr_lines) == 1, run
    assert "deployment-settings" in run.stderr and "pyproject.toml" in run.stderr, run


def test_unknown_code_in_configuration_file(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    project.config('[tool.celery-lint]\nper-file-ignores = { "tasks.py" = ["CEL299"] }\n')
    run = project.run()
    assert run.returncode == 2, run
    assert len(run.stderr_lines) == 1 and "CEL299" in run.stderr, run


def test_nonexistent_path_is_an_error_but_other_paths_are_checked(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    run = project.run("missing.py", "tasks.py", "missing_dir", "--select", SELECT)
    assert run.returncode == 2, run
    assert [line for line in run.stderr_lines if "missing.py" in line], run
    assert [line for line in run.stderr_lines if "missing_dir" in line], run
    assert len(run.error_lines) == 2, run
    assert run.codes_in("tasks.py") == TASK_CODES, run
    as_json = project.run("missing.py", "tasks.py", "--select", SELECT, "--format", "json")
    assert as_json.returncode == 2, as_json
    assert {f["code"] for f in as_json.json["findings"]} == TASK_CODES, as_json
    assert (
        len(as_json.json["summary"]["errors"]) == 1 and "missing.py" in as_json.json["summary"]["errors"][0]
    )


# --------------------------------------------------------------------------- text output
def test_text_output_is_sorted_relative_and_ends_with_the_summary_and_fixes_lines(project: Project) -> None:
    project.write("pkg/__init__.py", "")
    project.write("pkg/b.py", BARE_TASK)
    project.write(
        "pkg/a.py",
        "from proj.tasks import add\n\nadd.apply_async((1,), serializer='pickle')\n\n"
        + BARE_TASK.replace("bare", "later"),
    )
    project.write("a_first.py", BARE_TASK)
    run = project.run("--select", SELECT)
    assert run.returncode == 1, run
    body, summary, fixes = run.lines[:-2], run.lines[-2], run.lines[-1]
    assert body and all(FINDING_LINE.match(line) for line in body), run
    assert SUMMARY_LINE.match(summary), run
    assert FIXES_LINE.match(fixes), run
    assert summary == f"Found {len(body)} findings in 3 files (4 files checked; 0 apps, 3 tasks).", run
    keys = [(p, line, col, code) for p, line, col, code in run.findings]
    assert keys == sorted(keys), run
    assert {p for p, *_ in keys} == {"a_first.py", os.path.join("pkg", "a.py"), os.path.join("pkg", "b.py")}
    assert (os.path.join("pkg", "a.py"), 3, 23, "CEL103") in keys, run


def test_paths_are_relative_to_the_working_directory(project: Project) -> None:
    project.write("src/app/tasks.py", BARE_TASK)
    from_root = project.run("src")
    assert {p for p, *_ in from_root.findings} == {os.path.join("src", "app", "tasks.py")}, from_root
    from_sub = project.run(".", cwd=project.root / "src" / "app")
    assert {p for p, *_ in from_sub.findings} == {"tasks.py"}, from_sub
    absolute = project.run(project.root / "src" / "app" / "tasks.py")
    assert {p for p, *_ in absolute.findings} == {os.path.join("src", "app", "tasks.py")}, absolute


# --------------------------------------------------------------------------- JSON output
def test_json_output(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    project.write("calls.py", "from proj.tasks import add\n\nadd.apply_async((1,), serializer='pickle')\n")
    run = project.run("--format", "json", "--select", SELECT)
    assert run.returncode == 1, run
    data = run.json
    assert set(data) == {"findings", "summary"}
    findings = data["findings"]
    assert len(findings) == 3
    keys = {"code", "name", "message", "path", "line", "column", "end_line", "end_column", "fix_safety"}
    for finding in findings:
        assert set(finding) == keys
        assert finding["fix_safety"] in ("safe", "unsafe", None)
        assert all(
            isinstance(finding[k], int) and finding[k] >= 1
            for k in ("line", "column", "end_line", "end_column")
        )
        assert (finding["end_line"], finding["end_column"]) >= (finding["line"], finding["column"])
    by_code = {(f["path"], f["code"]): f for f in findings}
    task = by_code[("tasks.py", "CEL201")]
    assert (task["line"], task["column"], task["name"]) == (4, 1, "missing-time-limit")
    assert "bare" in task["message"]
    option = by_code[("calls.py", "CEL103")]
    assert (option["line"], option["column"], option["name"]) == (3, 23, "unsafe-serializer-option")
    assert data["summary"]["findings"] == 3
    assert data["summary"]["files_checked"] == 2
    assert data["summary"]["files_with_findings"] == 2


def test_json_output_when_clean(project: Project) -> None:
    project.write("tasks.py", CLEAN_TASK)
    run = project.run("--format", "json", "--select", SELECT)
    assert run.returncode == 0, run
    assert run.json["findings"] == []
    assert run.json["summary"]["findings"] == 0


def test_json_lines_match_text_lines(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    project.write("calls.py", "from proj.tasks import add\n\nadd.apply_async((1,), serializer='pickle')\n")
    text = project.run()
    data = project.run("--format", "json").json
    assert [(f["path"], f["line"], f["column"], f["code"]) for f in data["findings"]] == text.findings


# --------------------------------------------------------------------------- positions
def test_task_finding_at_def_line_and_column(project: Project) -> None:
    project.write(
        "tasks.py",
        "from celery import shared_task\n"
        "\n"
        "\n"
        "@shared_task(\n"
        "    bind=True,\n"
        ")\n"
        "def top(self):\n"
        "    pass\n"
        "\n"
        "\n"
        "if True:\n"
        "    @shared_task\n"
        "    def nested():\n"
        "        pass\n",
    )
    run = project.run("--select", "CEL201")
    assert run.at("tasks.py") == [(7, 1, "CEL201"), (13, 5, "CEL201")], run


def test_async_task_finding_at_async_def(project: Project) -> None:
    import celery.app.task

    if "coroutine" not in inspect.getsource(celery.app.task):
        pytest.skip("the installed Celery does not run `async def` tasks")
    project.write("tasks.py", "from celery import shared_task\n\n@shared_task\nasync def f():\n    pass\n")
    run = project.run("--select", "CEL201")
    assert run.at("tasks.py") == [(4, 1, "CEL201")], run


def test_class_based_task_finding_at_class_line(project: Project) -> None:
    project.write(
        "tasks.py",
        "from celery import Celery\n"
        "app = Celery('proj')\n"
        "\n"
        "class Export(app.Task):\n"
        "    name = 'export'\n"
        "\n"
        "    def run(self):\n"
        "        pass\n",
    )
    run = project.run("--select", "CEL201")
    assert run.at("tasks.py") == [(4, 1, "CEL201")], run


def test_option_finding_at_the_keyword(project: Project) -> None:
    line = "    add.apply_async((1, 2), countdown=5, serializer='pickle')\n"
    project.write("calls.py", "from proj.tasks import add\n\n\ndef go():\n" + line)
    run = project.run("--select", "CEL103")
    assert run.at("calls.py") == [(5, line.index("serializer=") + 1, "CEL103")], run


def test_configuration_finding_at_the_setting_line_in_a_settings_module(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write(
        "proj/celery.py",
        "import os\nfrom celery import Celery\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
        "app = Celery('proj')\n"
        "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
    )
    project.write(
        "proj/settings.py",
        "DEBUG = False\n\nCELERY_TASK_SERIALIZER = 'json'\n# results\nCELERY_RESULT_SERIALIZER = 'pickle'\n",
    )
    run = project.run("--select", "CEL101")
    assert run.at(os.path.join("proj", "settings.py")) == [(5, 1, "CEL101")], run
    assert run.codes_in(os.path.join("proj", "celery.py")) == set(), run


# --------------------------------------------------------------------------- selection
@pytest.fixture
def mixed(project: Project) -> Project:
    """Findings of two families: CEL1 (103), CEL2 (201, 205)."""
    project.write("tasks.py", BARE_TASK)
    project.write("calls.py", CALL)
    return project


def _codes(run: Run) -> set[str]:
    return {code for *_, code in run.findings}


SELECTIONS = [
    ((), {"CEL103", "CEL201", "CEL205"}),
    (("--select", "CEL2"), {"CEL201", "CEL205"}),
    (("--select", "cel2"), {"CEL201", "CEL205"}),
    (("--select", "CEL201"), {"CEL201"}),
    (("--select", "CEL201", "--extend-select", "CEL205"), {"CEL201", "CEL205"}),
    (("--ignore", "CEL2"), {"CEL103"}),
    (("--ignore", "CEL201,CEL103"), {"CEL205"}),
    (("--select", "CEL201", "--ignore", "CEL201"), set()),
    (("--select", "CEL2", "--ignore", "CEL20"), set()),
    (("--extend-select", "CEL103", "--ignore", "CEL1"), {"CEL201", "CEL205"}),
    (("--select", "ALL", "--ignore", "CEL1"), {"CEL201", "CEL205"}),
]


@pytest.fixture(scope="module")
def selection_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], Run]:
    """The selection matrix, each in its own copy of the project, run in parallel."""
    jobs = []
    for number, (args, _) in enumerate(SELECTIONS):
        project = Project(tmp_path_factory.mktemp(f"selection{number}"))
        project.write("tasks.py", BARE_TASK)
        project.write("calls.py", CALL)
        jobs.append((args, project))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        runs = list(pool.map(lambda job: job[1].run(*job[0]), jobs))
    return {args: run for (args, _), run in zip(jobs, runs, strict=True)}


@pytest.mark.parametrize(
    ("args", "expected"),
    SELECTIONS,
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else None,
)
def test_selection_on_the_command_line(
    selection_runs: dict[tuple[str, ...], Run], args: tuple[str, ...], expected: set[str]
) -> None:
    run = selection_runs[args]
    assert _codes(run) & UNIVERSE == expected, run
    if "--select" in args and "ALL" not in args:
        selected = tuple(args[args.index("--select") + 1].upper().split(","))
        if "--extend-select" in args:
            selected += tuple(args[args.index("--extend-select") + 1].split(","))
        assert all(code.startswith(selected) for code in _codes(run)), run
    if "--ignore" in args:
        ignored = tuple(args[args.index("--ignore") + 1].split(","))
        assert not any(code.startswith(ignored) for code in _codes(run)), run
    if expected:
        assert run.returncode == 1, run


OPT_IN = [rule for rule in all_rules() if not rule.DEFAULT and rule.INVALID]


@pytest.fixture(scope="module")
def opt_in_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """One project per opt-in rule (its first INVALID case), all checked by each run."""
    base = tmp_path_factory.mktemp("opt_in")
    for rule in OPT_IN:
        project = Project(base / rule.CODE)
        case = rule.INVALID[0]
        for relpath, content in case.files.items():
            project.write(relpath, content)
        project.write(case.path, case.code.encode(case.encoding))
    codes = ",".join(rule.CODE for rule in OPT_IN)
    families = ",".join(sorted({rule.CODE[:4] for rule in OPT_IN}))
    folders = [rule.CODE for rule in OPT_IN]
    runs = {
        "default": (),
        "select CEL": ("--select", "CEL"),
        "extend-select families": ("--extend-select", families),
        "extend-select codes": ("--extend-select", codes),
        "select ALL": ("--select", "ALL"),
        "select ALL, ignore codes": ("--select", "ALL", "--ignore", codes),
    }
    return {name: run_cli(*args, *folders, cwd=base) for name, args in runs.items()}


@pytest.mark.skipif(not OPT_IN, reason="no opt-in rules registered yet")
@pytest.mark.parametrize("rule", OPT_IN, ids=lambda rule: rule.CODE)
def test_opt_in_rules_need_their_full_code(opt_in_runs: dict[str, Run], rule) -> None:  # type: ignore[no-untyped-def]
    """An opt-in rule stays off by default and for a prefix; its full code or ALL turns it on."""

    def reported(run: Run) -> bool:
        return any(p.startswith(rule.CODE + os.sep) and code == rule.CODE for p, _, _, code in run.findings)

    for name in ("default", "select CEL", "extend-select families", "select ALL, ignore codes"):
        assert not reported(opt_in_runs[name]), (name, opt_in_runs[name])
    for name in ("extend-select codes", "select ALL"):
        assert reported(opt_in_runs[name]), (name, opt_in_runs[name])


def test_opt_in_rule_from_the_configuration_file(project: Project) -> None:
    if not OPT_IN:
        pytest.skip("no opt-in rules registered yet")
    rule = OPT_IN[0]
    case = rule.INVALID[0]
    for relpath, content in case.files.items():
        project.write(relpath, content)
    project.write(case.path, case.code.encode(case.encoding))
    assert rule.CODE not in _codes(project.run())
    project.config(f'[tool.celery-lint]\nextend-select = ["{rule.CODE}"]\n')
    run = project.run()
    assert rule.CODE in _codes(run), run


def test_configuration_file_select_ignore_and_command_line_override(mixed: Project) -> None:
    mixed.config('[tool.celery-lint]\nselect = ["CEL1"]\n')
    assert _codes(mixed.run()) & UNIVERSE == {"CEL103"}
    # --select replaces the file's select
    assert _codes(mixed.run("--select", "CEL201")) & UNIVERSE == {"CEL201"}
    mixed.config('[tool.celery-lint]\nignore = ["CEL205"]\n')
    assert _codes(mixed.run()) & UNIVERSE == {"CEL103", "CEL201"}
    # the file's ignore still applies to a command-line select, and adds to --ignore
    assert _codes(mixed.run("--select", "CEL2")) & UNIVERSE == {"CEL201"}
    assert _codes(mixed.run("--ignore", "CEL1")) & UNIVERSE == {"CEL201"}
    mixed.config('[tool.celery-lint]\nselect = ["CEL201"]\nextend-select = ["CEL103"]\n')
    assert _codes(mixed.run()) & UNIVERSE == {"CEL103", "CEL201"}


def test_per_file_ignores(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    project.write("legacy/old.py", BARE_TASK)
    project.write("legacy/deep/older.py", BARE_TASK)
    project.config(
        '[tool.celery-lint]\nper-file-ignores = { "legacy/*" = ["CEL20"], "tasks.py" = ["CEL205"] }\n'
    )
    run = project.run("--select", SELECT)
    assert run.codes_in("tasks.py") == {"CEL201"}, run
    assert run.codes_in(os.path.join("legacy", "old.py")) == set(), run
    assert run.codes_in(os.path.join("legacy", "deep", "older.py")) == set(), run
    assert run.summary == "Found 1 finding in 1 file (3 files checked; 0 apps, 3 tasks).", run


def test_exclude_in_configuration(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    project.write("generated/a.py", BARE_TASK)
    project.write("pkg/migrations/0001.py", BARE_TASK)
    project.write("pkg/keep.py", BARE_TASK)
    project.config('[tool.celery-lint]\nexclude = ["generated", "migrations"]\n')
    run = project.run()
    assert {p for p, *_ in run.findings} == {"tasks.py", os.path.join("pkg", "keep.py")}, run
    assert run.summary.endswith("(2 files checked; 0 apps, 2 tasks)."), run
    # the same when the folder holding the excluded one is named
    run = project.run("pkg")
    assert {p for p, *_ in run.findings} == {os.path.join("pkg", "keep.py")}, run


def test_explicitly_named_excluded_file_is_linted(project: Project) -> None:
    """A file named on the command line is checked even when `exclude` matches it; it must
    not be counted as checked while its tasks go unanalysed."""
    project.write("generated/tasks.py", BARE_TASK)
    project.config('[tool.celery-lint]\nexclude = ["generated"]\n')
    run = project.run(os.path.join("generated", "tasks.py"))
    assert run.codes_in(os.path.join("generated", "tasks.py")) >= TASK_CODES, run
    assert run.returncode == 1, run


def test_explicitly_named_file_in_an_always_skipped_folder_is_linted(project: Project) -> None:
    project.write("build/tasks.py", BARE_TASK)
    run = project.run(os.path.join("build", "tasks.py"))
    assert run.codes_in(os.path.join("build", "tasks.py")) >= TASK_CODES, run


def test_config_option_points_at_another_file(project: Project, tmp_path: Path) -> None:
    project.write("tasks.py", BARE_TASK)
    project.config('[tool.celery-lint]\nselect = ["CEL205"]\n')
    other = tmp_path / "elsewhere" / "lint.toml"
    other.parent.mkdir()
    other.write_text('[tool.celery-lint]\nselect = ["CEL201"]\n', encoding="utf-8")
    assert _codes(project.run()) == {"CEL205"}
    assert _codes(project.run("--config", other)) == {"CEL201"}
    assert _codes(project.run("--config", other, "--select", "CEL2")) == {"CEL201", "CEL205"}
    broken = tmp_path / "elsewhere" / "broken.toml"
    broken.write_text('[tool.celery-lint]\nselect = "CEL201"\n', encoding="utf-8")
    run = project.run("--config", broken)
    assert run.returncode == 2 and len(run.stderr_lines) == 1 and "broken.toml" in run.stderr, run
    run = project.run("--config", tmp_path / "elsewhere" / "missing.toml")
    assert run.returncode == 2 and len(run.stderr_lines) == 1 and "missing.toml" in run.stderr, run


# --------------------------------------------------------------------------- other commands
def test_list_rules_shows_every_code_with_default_or_opt_in(tmp_path: Path) -> None:
    # The registry as a fresh interpreter sees it, next to the CLI run.
    registry = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from celery_lint.rules import all_rules; "
            "print(json.dumps([[r.CODE, r.NAME, r.DEFAULT] for r in all_rules()]))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    run = run_cli("--list-rules", cwd=tmp_path)
    assert run.returncode == 0, run
    rows = {line.split()[0]: line for line in run.lines if line.strip()}
    rules = json.loads(registry.stdout)
    assert rules
    assert set(rows) == {code for code, _, _ in rules}
    for code, name, default in rules:
        words = rows[code].split()
        assert name in words
        assert ("default" if default else "opt-in") in words
        assert ("opt-in" if default else "default") not in words


@pytest.mark.parametrize("code", ["cel201", "missing-time-limit"])
def test_explain_prints_the_rule_docs(tmp_path: Path, code: str) -> None:
    run = run_cli("--explain", code, cwd=tmp_path)
    assert run.returncode == 0, run
    assert "CEL201" in run.stdout
    assert "What it does" in run.stdout
    assert "time_limit" in run.stdout


@pytest.mark.parametrize("code", ["CEL999", "CEL2"])
def test_explain_unknown_code_exits_2(tmp_path: Path, code: str) -> None:
    run = run_cli("--explain", code, cwd=tmp_path)
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert len(run.stderr_lines) == 1 and code in run.stderr, run


def test_version(tmp_path: Path) -> None:
    run = run_cli("--version", cwd=tmp_path)
    assert run.returncode == 0, run
    assert run.stdout.strip() == f"celery-lint {celery_lint.__version__}"
    assert celery_lint.__version__ == importlib.metadata.version("celery-lint")


def test_module_and_console_script_agree(mixed: Project) -> None:
    script = shutil.which("celery-lint", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("console script not installed next to the interpreter")
    module_run = mixed.run("--format", "json")
    proc = subprocess.run(
        [script, "--format", "json"], cwd=mixed.root, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == module_run.returncode == 1
    assert proc.stdout == module_run.stdout
    assert proc.stderr == module_run.stderr
    assert module_run.error_lines == [], module_run


def test_output_into_a_closed_pipe_does_not_print_a_traceback(project: Project) -> None:
    """`celery-lint | head -1`: the reader goes away after one line."""
    project.write(
        "tasks.py",
        "from celery import shared_task\n"
        + "".join(f"\n@shared_task\ndef task_{i}():\n    pass\n" for i in range(400)),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery_lint", "--format", "json"],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    assert first.strip() == b"{"
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipeError" not in stderr, stderr


@pytest.mark.parametrize("selection", ["", " , "])
def test_an_empty_select_is_a_usage_error(project: Project, selection: str) -> None:
    """An empty selection would check nothing and pass: a CI gate that sees nothing."""
    project.write("tasks.py", BARE_TASK)
    run = project.run("--select", selection, ".")
    assert run.returncode == 2, run
    assert run.stderr.splitlines()[-1] == (
        "celery-lint: error: argument --select: no codes given: it would check nothing (e.g. --select CEL2,CEL101)"
    ), run
    assert run.stdout == "", run


def test_an_empty_select_in_the_configuration_is_an_error(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    project.config("[tool.celery-lint]\nselect = []\n")
    run = project.run(".")
    assert run.returncode == 2, run
    assert "'select' is empty: it would check nothing" in run.stderr, run
    assert run.stdout == "", run
