"""A lint run says what it saw and what it could not see: apps and tasks on the summary
line, tasks whose configuration is unknown, a warning for a project that imports Celery
where no app or task was found, and one hint line a cause that one setting removes.
All through the real CLI on throw-away projects.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import BARE_TASK, CLEAN_TASK, SUMMARY_LINE, WARNING_PREFIX, Project, Run, run_cli

APP = "from celery import Celery\n\napp = Celery('proj')\napp.conf.broker_url = 'redis://localhost'\n"
# Configured so that no default rule fires on the app or its tasks.
CLEAN_APP = APP + "app.conf.broker_connection_retry_on_startup = True\napp.conf.result_backend = None\n"
CLEAN_APP_TASKS = (
    "from proj.celery import app\n"
    "\n\n"
    "@app.task(time_limit=60, soft_time_limit=50, acks_late=True, ignore_result=True)\n"
    "def one():\n"
    "    pass\n"
    "\n\n"
    "@app.task(time_limit=60, soft_time_limit=50, acks_late=True, ignore_result=True)\n"
    "def two():\n"
    "    pass\n"
)
NO_APP = "no Celery app was found: its tasks were judged against Celery's default configuration"
WHY = "celery-lint tasks shows what was found"


def summary(run: Run) -> str:
    (line,) = [line for line in run.lines if SUMMARY_LINE.match(line)]
    return line


def warnings(run: Run) -> list[str]:
    return [line.removeprefix(WARNING_PREFIX) for line in run.stderr_lines if line.startswith(WARNING_PREFIX)]


def bare_tasks(
    count: int, decorator: str = "@app.task", header: str = "from proj.celery import app\n"
) -> str:
    return header + "".join(f"\n\n{decorator}\ndef bare_{i}():\n    pass\n" for i in range(count))


def app_project(project: Project) -> Project:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", CLEAN_APP)
    project.write("proj/tasks.py", CLEAN_APP_TASKS)
    return project


# --------------------------------------------------------------------------- the summary line
def test_app_and_tasks_are_counted_on_a_clean_run(project: Project) -> None:
    app_project(project)
    run = project.run()
    assert run.returncode == 0, run
    assert run.lines == ["No findings in 3 files checked (1 app, 2 tasks)."], run
    assert run.stderr == "", run


def test_findings_line_keeps_its_start_and_adds_the_figures(project: Project) -> None:
    app_project(project)
    project.write("proj/more.py", bare_tasks(1))
    run = project.run("--select", "CEL201")
    assert run.returncode == 1, run
    assert run.summary == "Found 1 finding in 1 file (4 files checked; 1 app, 3 tasks).", run
    assert run.stderr == "", run


def test_one_task_is_singular(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", CLEAN_APP)
    project.write(
        "proj/tasks.py", CLEAN_APP_TASKS.split("\n\n\n")[0] + "\n\n\n" + CLEAN_APP_TASKS.split("\n\n\n")[1]
    )
    run = project.run()
    assert summary(run) == "No findings in 3 files checked (1 app, 1 task).", run


def test_unknown_configuration_is_counted_and_celery_lint_tasks_shows_why(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write(
        "proj/celery.py",
        "import os\n\n" + CLEAN_APP + "app.conf.task_acks_late = os.environ.get('LATE') == '1'\n",
    )
    project.write("proj/tasks.py", bare_tasks(2, "@app.task(time_limit=60, soft_time_limit=50)"))
    project.write(
        "proj/known.py", CLEAN_APP_TASKS.replace("def one", "def three").replace("def two", "def four")
    )
    run = project.run()
    assert summary(run) == (
        "No findings in 4 files checked "
        "(1 app, 4 tasks, 2 with unknown configuration: celery-lint tasks shows why)."
    ), run
    # The same unknowns ``celery-lint tasks`` reports, task by task.
    listing = project.run("tasks", "--format", "json")
    unknown = {
        task["name"]
        for task in listing.json["tasks"]
        if any(option["unknown"] for option in task["options"].values())
    }
    assert unknown == {"proj.tasks.bare_0", "proj.tasks.bare_1"}, listing
    as_json = project.run("--format", "json")
    assert as_json.json["summary"]["tasks_with_unknown_configuration"] == 2, as_json


def test_one_task_with_unknown_configuration(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", CLEAN_APP)
    project.write(
        "proj/tasks.py",
        "from proj.celery import app\n\nOPTIONS = load()\n\n\n@app.task(**OPTIONS)\ndef splat():\n    pass\n",
    )
    run = project.run()
    assert run.returncode == 0, run
    assert summary(run).endswith(
        "(1 app, 1 task, 1 with unknown configuration: celery-lint tasks shows why)."
    ), run


def test_files_only_run_counts_what_the_named_files_hold(project: Project) -> None:
    """As ``celery-lint tasks PATH`` lists them: the app lives in another file."""
    app_project(project)
    run = project.run(os.path.join("proj", "tasks.py"))
    assert run.returncode == 0, run
    assert run.lines == ["No findings in 1 file checked (0 apps, 2 tasks)."], run
    assert run.stderr == "", run  # the project has an app: nothing to warn about


def test_cached_run_says_the_same(project: Project) -> None:
    app_project(project)
    project.write("proj/more.py", bare_tasks(3))
    first = run_cli(".", cwd=project.root)
    second = run_cli(".", cwd=project.root)
    assert (second.returncode, second.stdout, second.stderr) == (first.returncode, first.stdout, first.stderr)
    uncached = run_cli("--no-cache", ".", cwd=project.root)
    assert uncached.stdout == first.stdout, (uncached, first)
    assert "(4 files checked; 1 app, 5 tasks)" in summary(first), first


# --------------------------------------------------------------------------- warnings
def test_tasks_without_an_app_warn_and_keep_the_exit_code(project: Project) -> None:
    project.write("tasks.py", BARE_TASK)
    run = project.run("--select", "CEL201")
    assert run.returncode == 1, run
    assert run.summary == "Found 1 finding in 1 file (1 file checked; 0 apps, 1 task).", run
    assert warnings(run) == [
        f"proj_root imports Celery but {NO_APP} and no app configuration was checked; {WHY}"
    ]
    assert run.error_lines == [], run
    project.write("tasks.py", CLEAN_TASK)
    clean = project.run()
    assert clean.returncode == 0, clean
    assert len(warnings(clean)) == 1, clean


@pytest.mark.parametrize(
    ("module", "figures", "warning"),
    [
        # An app without tasks.
        (CLEAN_APP, "1 app, 0 tasks", "no Celery task was found: no task was checked"),
        # An app built in a way the analysis does not follow: the run must not look clean.
        (
            "import celery\n\nWORKER = build(celery)\n",
            "0 apps, 0 tasks",
            "no Celery app or task was found: no Celery code was checked",
        ),
    ],
    ids=["app-without-tasks", "nothing-found"],
)
def test_what_was_not_found_warns(project: Project, module: str, figures: str, warning: str) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", module)
    run = project.run()
    assert run.returncode == 0, run
    assert run.lines == [f"No findings in 2 files checked ({figures})."], run
    assert warnings(run) == [f"proj_root imports Celery but {warning}; {WHY}"], run


def test_factory_import_inside_a_function_counts(project: Project) -> None:
    project.write("factory.py", "def make():\n    from celery import Celery as C\n    return build(C)\n")
    run = project.run()
    assert len(warnings(run)) == 1 and "no Celery app or task" in warnings(run)[0], run


def test_a_project_without_celery_says_nothing(project: Project) -> None:
    project.write(
        "helpers.py", "# celery is mentioned, not imported\nimport celery_helpers\n\n\ndef f():\n    pass\n"
    )
    project.write("tests/test_worker.py", "from celery import Celery\n")  # test code only
    run = project.run()
    assert run.returncode == 0, run
    assert run.lines == ["No findings in 2 files checked (0 apps, 0 tasks)."], run
    assert run.stderr == "", run


def test_warnings_in_every_output_format(project: Project) -> None:
    project.write("tasks.py", CLEAN_TASK)
    as_json = project.run("--format", "json")
    assert as_json.returncode == 0, as_json
    (warning,) = as_json.json["summary"]["warnings"]
    assert warning.startswith(f"proj_root imports Celery but {NO_APP}"), as_json
    assert warnings(as_json) == [warning], as_json  # stderr too
    sarif = project.run("--format", "sarif")
    (invocation,) = sarif.json["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True
    assert invocation["toolExecutionNotifications"] == [{"level": "warning", "message": {"text": warning}}]
    github = project.run("--format", "github")
    assert github.lines == [f"::warning title=celery-lint::{warning}"], github


def test_json_summary_keys(project: Project) -> None:
    app_project(project)
    project.write("proj/more.py", bare_tasks(3))
    run = project.run("--format", "json", "--select", "CEL201")
    assert run.returncode == 1, run
    data = run.json["summary"]
    assert data["apps"] == 1 and data["tasks"] == 5, data
    assert data["tasks_with_unknown_configuration"] == 0, data
    assert data["warnings"] == [], data
    assert data["hints"] == [
        f"3 tasks have no time limit: one task_time_limit in {os.path.join('proj', 'celery.py')} covers them all"
    ], data
    assert {f["code"] for f in run.json["findings"]} == {"CEL201"}, run  # hints are not findings


# --------------------------------------------------------------------------- hint lines
def test_hints_from_three_tasks_of_one_cause(project: Project) -> None:
    app_project(project)
    project.write("proj/more.py", bare_tasks(3))
    run = project.run("--select", "CEL201,CEL205")
    assert run.returncode == 1, run
    where = os.path.join("proj", "celery.py")
    assert run.lines[-4:] == [
        "Found 6 findings in 1 file (4 files checked; 1 app, 5 tasks).",
        f"3 tasks have no time limit: one task_time_limit in {where} covers them all",
        f"3 tasks acknowledge before they run: one task_acks_late = True in {where} covers them all",
        "6 fixes available with --fix --unsafe-fixes",
    ], run


def test_no_hint_below_three_tasks_or_for_suppressed_findings(project: Project) -> None:
    app_project(project)
    project.write("proj/more.py", bare_tasks(2))
    run = project.run("--select", "CEL201")
    assert run.summary == "Found 2 findings in 1 file (4 files checked; 1 app, 4 tasks).", run
    source = bare_tasks(3).replace("def bare_2():", "def bare_2():  # noqa: CEL201")
    project.write("proj/more.py", source)
    run = project.run("--select", "CEL201")
    assert run.summary == "Found 2 findings in 1 file (4 files checked; 1 app, 5 tasks).", run


def test_no_hint_without_an_app(project: Project) -> None:
    for name in ("a", "b", "c"):
        project.write(f"{name}.py", BARE_TASK.replace("bare", name))
    run = project.run("--select", "CEL201")
    assert run.summary.startswith("Found 3 findings in 3 files"), run


DJANGO_CELERY = (
    "import os\n\nfrom celery import Celery\n\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object({source})\n"
    "app.autodiscover_tasks()\n"
)


@pytest.mark.parametrize(
    ("source", "settings", "time_limit", "acks_late"),
    [
        (
            "'django.conf:settings', namespace='CELERY'",
            "INSTALLED_APPS = ['shop']\nCELERY_BROKER_URL = 'redis://localhost'\n",
            "CELERY_TASK_TIME_LIMIT",
            "CELERY_TASK_ACKS_LATE",
        ),
        # Without ``namespace=`` Celery reads only the old uppercase names from Django.
        (
            "'django.conf:settings'",
            "INSTALLED_APPS = ['shop']\nBROKER_URL = 'redis://localhost'\n",
            "CELERYD_TASK_TIME_LIMIT",
            "CELERY_ACKS_LATE",
        ),
        # A configuration module written in old names takes old names: Celery refuses a mix.
        (
            "'proj.settings'",
            "BROKER_URL = 'redis://localhost'\nCELERY_RESULT_BACKEND = None\n",
            "CELERYD_TASK_TIME_LIMIT",
            "CELERY_ACKS_LATE",
        ),
    ],
    ids=["django-namespace", "django-old-names", "module-in-old-names"],
)
def test_hint_names_the_settings_module_and_its_spelling(
    project: Project, source: str, settings: str, time_limit: str, acks_late: str
) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", DJANGO_CELERY.format(source=source))
    project.write("proj/settings.py", settings)
    project.write("shop/__init__.py", "")
    project.write("shop/tasks.py", bare_tasks(3, "@shared_task", "from celery import shared_task\n"))
    run = project.run("--select", "CEL201,CEL205")
    where = os.path.join("proj", "settings.py")
    assert run.lines[-3:-1] == [
        f"3 tasks have no time limit: one {time_limit} in {where} covers them all",
        f"3 tasks acknowledge before they run: one {acks_late} = True in {where} covers them all",
    ], run


# --------------------------------------------------------------------------- several projects
def test_nested_projects_sum_figures_and_warn_each(tmp_path: Path) -> None:
    outer = Project(tmp_path / "mono")
    billing = Project(outer.root / "services" / "billing")
    app_project(billing)
    mailer = Project(outer.root / "services" / "mailer")
    mailer.write("tasks.py", CLEAN_TASK)
    lonely = Project(outer.root / "services" / "lonely")
    lonely.write("celery_app.py", "from celery import Celery\n\napp = Celery('x')\n")
    run = outer.run("--select", "CEL201")
    assert run.returncode == 0, run
    assert summary(run) == "No findings in 5 files checked (2 apps, 3 tasks).", run
    assert sorted(warnings(run)) == [
        f"{os.path.join('services', 'lonely')} imports Celery but no Celery task was found: no task was checked; {WHY}",
        f"{os.path.join('services', 'mailer')} imports Celery but {NO_APP} and no app configuration was checked; {WHY}",
    ], run
    as_json = outer.run("--select", "CEL201", "--format", "json")
    data = as_json.json["summary"]
    assert (data["apps"], data["tasks"], len(data["warnings"])) == (2, 3, 2), data
