"""``celery-lint tasks``: every app and task with its effective options and their sources.
The real CLI runs in a subprocess; one test checks the values against the live Celery."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import BARE_TASK, Project, Run, run_cli

from celery_lint.inventory import DEFAULT_OPTIONS, KNOWN_OPTIONS

CELERY_PY = """\
from celery import Celery

app = Celery("proj", broker="memory://")
app.conf.update(
    task_time_limit=120,
    task_acks_late=True,
)
"""

BASE_PY = """\
from celery import Task


class OrdersTask(Task):
    max_retries = 7
    soft_time_limit = 30
"""

TASKS_PY = """\
from datetime import timedelta

from .base import OrdersTask
from .celery import app

EXTRA = globals().get("OVERRIDES") or {"queue": "q"}


@app.task(time_limit=timedelta(minutes=5), ignore_result=True)
def decorated():
    pass


@app.task(base=OrdersTask)
def based():
    pass


@app.task(**EXTRA)
def splat():
    pass


@app.task
def plain():
    pass
"""


@pytest.fixture
def proj(project: Project) -> Project:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", CELERY_PY)
    project.write("proj/base.py", BASE_PY)
    project.write("proj/tasks.py", TASKS_PY)
    return project


def inventory(run: Run) -> dict[str, Any]:
    assert run.returncode == 0, run
    assert run.stderr == "", run
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def task_named(data: dict[str, Any], name: str | None, line: int | None = None) -> dict[str, Any]:
    found = [t for t in data["tasks"] if t["name"] == name and (line is None or t["line"] == line)]
    assert len(found) == 1, data["tasks"]
    return found[0]


def option(task: dict[str, Any], name: str) -> tuple[Any, str, str | None, int | None]:
    entry = task["options"][name]
    source = entry["source"]
    return entry["value"], source["kind"], source["path"], source["line"]


# --------------------------------------------------------------------------- json
def test_json_schema_and_sources(proj: Project) -> None:
    data = inventory(proj.run("tasks", "--format", "json"))
    assert set(data) == {"apps", "tasks"}
    assert data["apps"] == [
        {
            "name": "app",
            "path": "proj/celery.py",
            "line": 3,
            "config_sources": [
                {"path": "proj/celery.py", "line": 3, "kind": "Celery()"},
                {"path": "proj/celery.py", "line": 5, "kind": "conf.update"},
            ],
            "unknown": [],
        }
    ]
    assert [t["name"] for t in data["tasks"]] == [
        "proj.tasks.decorated",
        "proj.tasks.based",
        None,
        "proj.tasks.plain",
    ]
    for task in data["tasks"]:
        assert set(task) == {"name", "path", "line", "apps", "options"}
        assert list(task["options"]) == list(DEFAULT_OPTIONS)
        for entry in task["options"].values():
            assert set(entry) == {"value", "source", "unknown"}
            assert set(entry["source"]) == {"kind", "path", "line"}

    decorated = task_named(data, "proj.tasks.decorated")
    # The line of the ``def``, not of the decorator.
    assert (decorated["path"], decorated["line"], decorated["apps"]) == ("proj/tasks.py", 10, ["app"])
    assert option(decorated, "time_limit") == (300.0, "decorator", "proj/tasks.py", 9)
    assert option(decorated, "ignore_result") == (True, "decorator", "proj/tasks.py", 9)
    assert option(decorated, "acks_late") == (True, "setting", "proj/celery.py", 6)
    assert option(decorated, "soft_time_limit") == (None, "default", None, None)
    assert option(decorated, "serializer") == ("json", "default", None, None)

    based = task_named(data, "proj.tasks.based")
    assert option(based, "time_limit") == (120, "setting", "proj/celery.py", 5)
    assert option(based, "max_retries") == (7, "base", "proj/base.py", 5)
    assert option(based, "soft_time_limit") == (30, "base", "proj/base.py", 6)

    splat = task_named(data, None)
    assert splat["line"] == 20
    for entry in splat["options"].values():
        assert entry["value"] is None
        assert entry["source"] == {"kind": "unknown", "path": None, "line": None}
        assert "**" in entry["unknown"]

    plain = task_named(data, "proj.tasks.plain")
    assert option(plain, "max_retries") == (3, "default", None, None)
    assert plain["options"]["queue"] == {
        "value": None,
        "source": {"kind": "default", "path": None, "line": None},
        "unknown": None,
    }


def test_option_selection(proj: Project) -> None:
    data = inventory(proj.run("tasks", "--format", "json", "--option", "rate_limit, time_limit"))
    for task in data["tasks"]:
        assert list(task["options"]) == ["rate_limit", "time_limit"]


# Options every bound Celery task has as an attribute (autoretry_for and the like are
# read from the decorator's options instead).
LIVE_OPTIONS = (
    *DEFAULT_OPTIONS,
    "rate_limit",
    "track_started",
    "default_retry_delay",
    "reject_on_worker_lost",
    "expires",
    "store_errors_even_if_ignored",
)


def test_json_matches_live_celery(proj: Project) -> None:
    assert set(LIVE_OPTIONS) <= set(KNOWN_OPTIONS)
    data = inventory(proj.run("tasks", "--format", "json", "--option", ",".join(LIVE_OPTIONS)))
    expected = {}
    for task in data["tasks"]:
        if task["name"] is None:
            continue
        expected[task["name"]] = {
            name: entry["value"] for name, entry in task["options"].items() if entry["unknown"] is None
        }
    assert len(expected) == 3
    script = textwrap.dedent(
        f"""
        import json
        from datetime import timedelta
        from proj.celery import app
        import proj.tasks

        def plain(value):
            if isinstance(value, timedelta):
                return value.total_seconds()
            if isinstance(value, (tuple, set, frozenset)):
                return list(value)
            return value

        wanted = {json.dumps({name: sorted(values) for name, values in expected.items()})}
        app.finalize()
        print(json.dumps({{
            name: {{key: plain(getattr(app.tasks[name], key, None)) for key in keys}}
            for name, keys in wanted.items()
        }}))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-B", "-c", script],
        cwd=proj.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == expected


def test_django_settings_with_namespace(project: Project) -> None:
    project.write("manage.py", "")
    project.write("shop/__init__.py", "")
    celery_py = (
        "from celery import Celery\n\n"
        "app = Celery('shop')\n"
        "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
        "app.autodiscover_tasks()\n"
    )
    project.write("shop/celery.py", celery_py)
    project.write(
        "shop/settings.py",
        "INSTALLED_APPS = ['shop']\n\nCELERY_TASK_TIME_LIMIT = 90\nTASK_ACKS_LATE = True\n",
    )
    project.write(
        "shop/tasks.py", "from celery import shared_task\n\n\n@shared_task\ndef work():\n    pass\n"
    )
    # Which settings module? The model does not guess: every option is unknown, and why.
    data = inventory(project.run("tasks", "--format", "json"))
    assert data["apps"][0]["unknown"] == ["DJANGO_SETTINGS_MODULE is not set in the project"]
    task = task_named(data, "shop.tasks.work")
    assert task["options"]["time_limit"]["unknown"] == "DJANGO_SETTINGS_MODULE is not set in the project"

    project.write(
        "shop/celery.py",
        "import os\n\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n" + celery_py,
    )
    data = inventory(project.run("tasks", "--format", "json"))
    task = task_named(data, "shop.tasks.work")
    assert task["apps"] == ["app"]
    assert option(task, "time_limit") == (90, "setting", "shop/settings.py", 3)
    # Without the CELERY_ prefix the Django setting is not Celery's.
    assert option(task, "acks_late") == (False, "default", None, None)
    app = data["apps"][0]
    assert {"path": "shop/settings.py", "line": 3, "kind": "django settings"} in app["config_sources"]
    run = project.run("tasks")
    assert "90 (shop/settings.py:3)" in run.stdout


# --------------------------------------------------------------------------- text and markdown
def test_text_table(proj: Project) -> None:
    run = proj.run("tasks")
    assert run.returncode == 0, run
    lines = run.lines
    assert lines[0].split() == ["task", "where", "app", *DEFAULT_OPTIONS]
    rows = {line.split()[0]: line.split() for line in lines[1:5]}
    assert rows["proj.tasks.decorated"][:5] == [
        "proj.tasks.decorated",
        "proj/tasks.py:10",
        "app",
        "300.0",
        "(decorator)",
    ]
    based = " ".join(rows["proj.tasks.based"])
    assert "120 (proj/celery.py:5) 30 (base OrdersTask) True (proj/celery.py:6)" in based
    assert "7 (base OrdersTask) None (default)" in based
    assert "splat (name unknown)" in lines[3]
    assert "? (unknown)" in lines[3]
    footer = "\n".join(lines[5:])
    assert "app app (proj/celery.py:3), configured by proj/celery.py:3 (Celery())" in footer
    assert (
        "unknown: name, time_limit, soft_time_limit, acks_late, ignore_result, serializer, max_retries,"
        " queue of 1 task (proj/tasks.py:20): options are passed with **EXTRA in proj/tasks.py"
    ) in footer
    assert lines[-1] == "4 tasks, 1 app."


def test_markdown_table(proj: Project) -> None:
    run = proj.run("tasks", "--format", "markdown")
    assert run.returncode == 0, run
    lines = run.lines
    assert lines[0] == "| task | where | app | " + " | ".join(DEFAULT_OPTIONS) + " |"
    assert lines[1] == "|" + "---|" * (3 + len(DEFAULT_OPTIONS))
    assert lines[2].startswith(
        "| `proj.tasks.decorated` | `proj/tasks.py:10` | app | 300.0 (decorator) | None (default) |"
    )
    assert "| 7 (base OrdersTask) |" in lines[3]
    assert lines[-1] == "- 4 tasks, 1 app."


# --------------------------------------------------------------------------- fixtures
def test_django_shop(fixtures_copy: Path) -> None:
    root = fixtures_copy / "django_shop"
    data = inventory(run_cli("tasks", "--format", "json", cwd=root))
    assert [a["name"] for a in data["apps"]] == ["app"]
    assert len(data["tasks"]) == 15
    charge = task_named(data, "payments.tasks.charge_payment")
    assert (charge["path"], charge["line"]) == ("payments/tasks.py", 16)
    assert option(charge, "time_limit")[:2] == (60, "base")
    assert option(charge, "max_retries")[:2] == (5, "base")
    assert option(charge, "soft_time_limit")[:2] == (45, "base")
    sync = task_named(data, "payments.tasks.sync_bank_statements")
    assert option(sync, "soft_time_limit") == (50, "setting", "shop/settings/base.py", 49)
    assert option(sync, "serializer") == ("json", "setting", "shop/settings/base.py", 42)
    assert option(sync, "time_limit") == (None, "default", None, None)
    text = run_cli("tasks", cwd=root)
    row = next(line for line in text.lines if line.startswith("payments.tasks.charge_payment "))
    assert "payments/tasks.py:16" in row
    assert "60 (base PaymentTask)" in row
    assert text.lines[-1] == "15 tasks, 1 app."


def test_plain_celery(fixtures_copy: Path) -> None:
    root = fixtures_copy / "plain_celery"
    data = inventory(run_cli("tasks", "--format", "json", cwd=root))
    assert [(a["name"], a["path"]) for a in data["apps"]] == [("app", "proj/celery.py")]
    kinds = {s["kind"] for s in data["apps"][0]["config_sources"]}
    assert {"conf.update", "config_from_object"} <= kinds
    for task in data["tasks"]:
        assert task["path"] == "proj/tasks.py"
        # conf.update(task_acks_late=True) in proj/celery.py, unless the task says otherwise.
        value, kind, path, _ = option(task, "acks_late")
        assert kind in ("setting", "decorator")
        if kind == "setting":
            assert (value, path) == (True, "proj/celery.py")
        # CELERY_TASK_SERIALIZER in proj/celeryconfig.py (the old name).
        if task["options"]["serializer"]["source"]["kind"] == "setting":
            assert option(task, "serializer")[:3] == ("json", "setting", "proj/celeryconfig.py")


def test_several_projects_under_one_folder(tmp_path: Path) -> None:
    for name in ("one", "two"):
        sub = Project(tmp_path / name)
        sub.write("tasks.py", BARE_TASK)
    data = inventory(run_cli("tasks", "--format", "json", "one", "two", cwd=tmp_path))
    assert sorted(t["path"] for t in data["tasks"]) == ["one/tasks.py", "two/tasks.py"]
    data = inventory(run_cli("tasks", "--format", "json", ".", cwd=tmp_path))
    assert sorted(t["path"] for t in data["tasks"]) == ["one/tasks.py", "two/tasks.py"]


# --------------------------------------------------------------------------- user errors
def test_unknown_option_is_one_line_exit_2(proj: Project) -> None:
    run = proj.run("tasks", "--option", "time_limit,nope")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.startswith("celery-lint: error: unknown task option 'nope'")
    assert len(run.stderr.splitlines()) == 1


def test_bad_path_is_one_line_exit_2(proj: Project) -> None:
    run = proj.run("tasks", "missing")
    assert run.returncode == 2
    assert run.stderr == "celery-lint: error: missing: no such file or directory\n"


def test_bad_format_exit_2(proj: Project) -> None:
    run = proj.run("tasks", "--format", "sarif")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr


def test_a_file_that_cannot_be_parsed_is_said_not_listed_as_no_app(project: Project) -> None:
    """#14 review: a tasks module with a syntax error printed "no Celery app found",
    exit 0, as if the project had no Celery code."""
    project.write("tasks_mod.py", "from celery import Celery\napp = Celery('z')\n@app.task\ndef f(:\n")
    run = project.run("tasks", "tasks_mod.py")
    assert run.returncode == 2, run
    assert "not analysed: tasks_mod.py: syntax error at line 4" in run.stdout, run
    assert run.stderr.startswith("celery-lint: error: tasks_mod.py: not analysed"), run
    data = json.loads(project.run("tasks", "--format", "json", "tasks_mod.py").stdout)
    assert [entry["path"] for entry in data["not_analysed"]] == ["tasks_mod.py"]


def test_no_tasks(project: Project) -> None:
    run = project.run("tasks")
    assert run.returncode == 0, run
    assert run.lines[-2:] == ["no Celery app found", "0 tasks, 0 apps."]


@pytest.mark.parametrize("layout", ["tasks/__init__.py", "tasks.py"])
def test_tasks_is_the_subcommand_beside_a_path_named_tasks(project: Project, layout: str) -> None:
    """A root ``tasks/`` folder or ``tasks.py`` does not turn ``celery-lint tasks`` into a
    lint run; ``./tasks``, ``tasks/`` and ``-- tasks`` lint the path."""
    if layout == "tasks.py":
        project.write("tasks.py", BARE_TASK)
        module, relpath = "tasks.bare", "tasks.py"
        spellings = [["./tasks.py"], ["--", "tasks.py"]]
    else:
        project.write("tasks/__init__.py", "")
        project.write("tasks/work.py", BARE_TASK)
        module, relpath = "tasks.work.bare", str(Path("tasks/work.py"))
        spellings = [["./tasks"], ["tasks/"], ["--", "tasks"], ["--select", "CEL201", "tasks"]]
    data = inventory(project.run("tasks", "--format", "json"))
    assert [t["name"] for t in data["tasks"]] == [module]
    for spelling in spellings:
        run = project.run("--no-cache", "--select", "CEL201", *spelling)
        assert run.returncode == 1, run
        assert [(path, line, code) for path, line, _, code in run.findings] == [(relpath, 4, "CEL201")], run


def test_help_mentions_the_subcommand(project: Project) -> None:
    run = project.run("--help")
    assert "celery-lint tasks" in run.stdout
    run = project.run("tasks", "--help")
    assert run.returncode == 0
    assert "--option" in run.stdout


def test_deployment_settings_reach_the_listing_and_the_rules(tmp_path: Path) -> None:
    """An app that also reads a runtime mapping: what deployment-settings states is the value
    in both the listing and the lint run. pyproject.toml names the setting only to state it,
    so that does not make the value unknown."""
    (tmp_path / "pyproject.toml").write_text(
        "[tool.celery-lint]\ndeployment-settings = { task_time_limit = 300 }\n", "utf-8"
    )
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "__init__.py").write_text("", "utf-8")
    (tmp_path / "proj" / "worker.py").write_text(
        "import json\nfrom celery import Celery\n\n"
        "app = Celery('proj', broker_connection_retry_on_startup=True)\n"
        "app.conf.update(json.load(open('/etc/proj/celery.json')))\n\n\n"
        "@app.task\ndef refresh():\n    pass\n",
        "utf-8",
    )
    listing = run_cli("tasks", ".", "--format", "json", "--option", "time_limit", cwd=tmp_path)
    assert listing.returncode == 0, listing
    (task,) = json.loads(listing.stdout)["tasks"]
    assert task["options"]["time_limit"]["value"] == 300, task
    assert task["options"]["time_limit"]["source"]["kind"] == "deployment", task
    lint = run_cli(".", "--no-cache", cwd=tmp_path)
    codes = {code for _, _, _, code in lint.findings}
    assert "CEL201" not in codes and "CEL202" in codes, lint


DJANGO_MANAGE_PY = (
    "import os, sys\n\nif __name__ == '__main__':\n"
    "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\n"
    "    from django.core.management import execute_from_command_line\n"
    "    execute_from_command_line(sys.argv)\n"
)
CLICK_MANAGE_PY = "import click\n\n\n@click.group()\ndef cli():\n    pass\n"


@pytest.mark.parametrize(
    ("files", "tasks_module", "expected"),
    [
        # Django runs from the folder of its manage.py: the project imports ``shop.tasks``.
        (
            {"backend/manage.py": DJANGO_MANAGE_PY, "backend/shop/__init__.py": ""},
            "backend/shop",
            "shop.tasks.bare",
        ),
        # A Flask or click manage.py inside the package (lemur's): the package's own name.
        (
            {"shop/__init__.py": "", "shop/manage.py": CLICK_MANAGE_PY, "shop/common/__init__.py": ""},
            "shop/common",
            "shop.common.tasks.bare",
        ),
    ],
)
def test_task_names_follow_the_folder_django_runs_from(
    project: Project, files: dict[str, str], tasks_module: str, expected: str
) -> None:
    for name, text in files.items():
        project.write(name, text)
    project.write(f"{tasks_module}/tasks.py", BARE_TASK)
    data = inventory(project.run("tasks", "--format", "json", "--no-cache"))
    assert [t["name"] for t in data["tasks"]] == [expected]


def test_modules_no_worker_can_import_by_name_declare_no_task(project: Project) -> None:
    """A file with a hyphen in its name (saleor's ``.semgrep/correctness/celery/*.py``
    rule examples) is no module any import can name: its tasks are not the project's. A
    package inside a hyphenated distribution folder (misago's plugins), or a module a
    worker imports from inside a hyphenated folder, still declares them."""
    project.write("shop/__init__.py", "")
    project.write("shop/tasks.py", BARE_TASK)
    project.write(".semgrep/celery/task-missing-queue.py", BARE_TASK)
    project.write("docs/examples/run-worker.py", BARE_TASK)
    project.write("plugins/shop-extras/shop_extras/__init__.py", "")
    project.write("plugins/shop-extras/shop_extras/tasks.py", BARE_TASK)
    data = inventory(project.run("tasks", "--format", "json", "--no-cache"))
    assert sorted(t["name"] for t in data["tasks"]) == ["shop.tasks.bare", "shop_extras.tasks.bare"]
    run = project.run("--no-cache", "--select", "CEL201", ".")
    assert {path for path, *_ in run.findings} == {
        "shop/tasks.py",
        "plugins/shop-extras/shop_extras/tasks.py",
    }, run


def test_a_task_decorator_of_an_app_outside_the_project_is_said(project: Project) -> None:
    """``@app.task`` where ``app`` comes from a package that is not in the repository, or
    from a relative import that climbs above the top package (saleor has one): the listing
    cannot show the task and says so, where and why, without calling it an error."""
    project.write("shop/__init__.py", "")
    project.write("shop/celeryconf.py", "from celery import Celery\n\napp = Celery('shop')\n")
    project.write("shop/orders/__init__.py", "")
    project.write(
        "shop/orders/tasks.py", "from ...celeryconf import app\n\n\n@app.task\ndef lost():\n    pass\n"
    )
    project.write(
        "shop/sync.py",
        "from platform_common.worker import app\n\n\n@app.task(acks_late=True)\ndef sync():\n    pass\n",
    )
    project.write("shop/tasks.py", "from .celeryconf import app\n\n\n@app.task\ndef kept():\n    pass\n")
    run = project.run("tasks", "--no-cache")
    assert run.returncode == 0 and run.stderr == "", run
    assert [line for line in run.lines if line.startswith("not followed")] == [
        "not followed: `@app.task` at shop/orders/tasks.py:4: celeryconf.app is not in the project, "
        "so a task it declares is not listed",
        "not followed: `@app.task(acks_late=True)` at shop/sync.py:4: platform_common.worker.app is not in the "
        "project, so a task it declares is not listed",
    ], run
    data = inventory(project.run("tasks", "--format", "json", "--no-cache"))
    assert [t["name"] for t in data["tasks"]] == ["shop.tasks.kept"]
    assert data["not_followed"] == [
        {"path": "shop/orders/tasks.py", "line": 4, "decorator": "app.task", "object": "celeryconf.app"},
        {
            "path": "shop/sync.py",
            "line": 4,
            "decorator": "app.task(acks_late=True)",
            "object": "platform_common.worker.app",
        },
    ]
