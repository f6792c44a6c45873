"""Which app a shared task runs under (S7), a ``celery/`` package inside the tree (S8), and
configuration modules recognised by what they assign (S9): the real command line on
temporary projects, its findings and ``celery-lint tasks --format json``."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Project, Run

SHARED = "from celery import shared_task\n\n\n@shared_task\ndef {name}(x):\n    return x\n"

BILLING_APP = """\
from celery import Celery

app = Celery("billing", include=["billing.jobs"])
app.conf.update(task_acks_late=True, task_time_limit=60, task_soft_time_limit=50)
"""

REPORTS_APP = """\
from celery import Celery

app = Celery("reports")
app.conf.update(task_time_limit=60, task_soft_time_limit=50)
app.autodiscover_tasks(["reports"])
"""


def packages(project: Project, *names: str) -> None:
    for name in names:
        project.write(f"{name}/__init__.py", "")


def tasks_json(project: Project, *args: str) -> dict[str, dict[str, Any]]:
    run = project.run("tasks", "--format", "json", *args)
    assert run.returncode == 0, run
    return {task["name"]: task for task in run.json["tasks"]}


def acks_late(task: dict[str, Any]) -> object:
    option = task["options"]["acks_late"]
    return "unknown" if option["unknown"] is not None else option["value"]


def codes(run: Run, path: str) -> set[str]:
    return run.codes_in(path)


# ---------------------------------------------------------------------------- S7
def two_apps(project: Project) -> None:
    packages(project, "billing", "reports")
    project.write("billing/celery.py", BILLING_APP)
    project.write("billing/jobs.py", SHARED.format(name="charge"))
    project.write("reports/celery.py", REPORTS_APP)
    project.write("reports/tasks.py", SHARED.format(name="build"))


def test_shared_task_takes_the_settings_of_the_app_whose_worker_imports_it(project: Project) -> None:
    two_apps(project)
    run = project.run(".")
    assert "CEL205" in codes(run, "reports/tasks.py"), run
    assert "CEL205" not in codes(run, "billing/jobs.py"), run
    # The same when each file is named alone (pre-commit).
    alone = project.run("reports/tasks.py", "billing/jobs.py")
    assert alone.findings == [f for f in run.findings if f[0] in ("reports/tasks.py", "billing/jobs.py")], (
        alone
    )
    tasks = tasks_json(project)
    assert tasks["billing.jobs.charge"]["apps"] == ["billing.celery.app"]
    assert tasks["reports.tasks.build"]["apps"] == ["reports.celery.app"]
    assert acks_late(tasks["billing.jobs.charge"]) is True
    assert acks_late(tasks["reports.tasks.build"]) is False
    assert tasks["reports.tasks.build"]["options"]["acks_late"]["source"]["kind"] == "default"


def test_the_imports_setting_and_imports_at_any_depth_reach_a_module(project: Project) -> None:
    two_apps(project)
    packages(project, "reports/lib")
    project.write(
        "reports/celery.py",
        REPORTS_APP.replace('app.autodiscover_tasks(["reports"])', 'app.conf.imports = ["reports.entry"]'),
    )
    project.write("reports/entry.py", "def load():\n    from reports.lib import deep  # noqa: F401\n")
    project.write("reports/lib/deep.py", SHARED.format(name="nested"))
    tasks = tasks_json(project)
    assert tasks["reports.lib.deep.nested"]["apps"] == ["reports.celery.app"]
    assert acks_late(tasks["reports.lib.deep.nested"]) is False


def test_a_module_beside_the_app_module_runs_under_that_app(project: Project) -> None:
    two_apps(project)
    project.write("billing/refunds.py", SHARED.format(name="refund"))
    tasks = tasks_json(project)
    assert tasks["billing.refunds.refund"]["apps"] == ["billing.celery.app"]
    assert acks_late(tasks["billing.refunds.refund"]) is True


def test_an_app_configured_at_deploy_time_leaves_the_other_apps_tasks_known(project: Project) -> None:
    two_apps(project)
    packages(project, "ops")
    project.write(
        "ops/celery.py",
        "import os\n\nfrom celery import Celery\n\napp = Celery('ops')\n"
        "app.config_from_object(os.environ['OPS_CONFIG'])\napp.autodiscover_tasks(['ops'])\n",
    )
    project.write("ops/tasks.py", SHARED.format(name="rotate"))
    run = project.run(".")
    assert "CEL205" in codes(run, "reports/tasks.py"), run
    assert codes(run, "ops/tasks.py") == set(), run
    tasks = tasks_json(project)
    assert acks_late(tasks["billing.jobs.charge"]) is True
    assert acks_late(tasks["reports.tasks.build"]) is False
    assert acks_late(tasks["ops.tasks.rotate"]) == "unknown"


def test_a_module_no_worker_imports_stays_with_every_app(project: Project) -> None:
    two_apps(project)
    packages(project, "misc")
    project.write("misc/tasks.py", SHARED.format(name="stray"))
    run = project.run(".")
    assert "CEL205" not in codes(run, "misc/tasks.py"), run
    task = tasks_json(project)["misc.tasks.stray"]
    assert sorted(task["apps"]) == ["billing.celery.app", "reports.celery.app"]
    assert acks_late(task) == "unknown"


def test_a_module_both_workers_import_is_judged_by_both(project: Project) -> None:
    two_apps(project)
    packages(project, "common")
    project.write("common/tasks.py", SHARED.format(name="shared"))
    project.write(
        "billing/jobs.py", "from common import tasks  # noqa: F401\n" + SHARED.format(name="charge")
    )
    project.write("reports/tasks.py", "import common.tasks  # noqa: F401\n" + SHARED.format(name="build"))
    run = project.run(".")
    assert "CEL205" not in codes(run, "common/tasks.py"), run
    task = tasks_json(project)["common.tasks.shared"]
    assert sorted(task["apps"]) == ["billing.celery.app", "reports.celery.app"]
    assert acks_late(task) == "unknown"


@pytest.mark.parametrize(
    "autodiscover",
    ["app.autodiscover_tasks()", "app.autodiscover_tasks(lambda: settings.INSTALLED_APPS)"],
)
def test_django_autodiscovery_reaches_the_installed_apps(project: Project, autodiscover: str) -> None:
    packages(project, "proj", "orders", "shop", "batch")
    project.write(
        "proj/celery.py",
        "import os\n\nfrom celery import Celery\nfrom django.conf import settings\n\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
        "app = Celery('proj')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n"
        f"{autodiscover}\n",
    )
    project.write(
        "proj/settings.py",
        "INSTALLED_APPS = ['django.contrib.admin', 'orders', 'shop.apps.ShopConfig']\n"
        "CELERY_TASK_ACKS_LATE = True\nCELERY_TASK_TIME_LIMIT = 60\nCELERY_TASK_SOFT_TIME_LIMIT = 50\n",
    )
    project.write("orders/tasks.py", SHARED.format(name="ship"))
    project.write(
        "shop/apps.py",
        "from django.apps import AppConfig\n\n\nclass ShopConfig(AppConfig):\n    name = 'shop'\n",
    )
    project.write("shop/tasks.py", SHARED.format(name="restock"))
    project.write(
        "batch/worker.py",
        "from celery import Celery\n\napp = Celery('batch', include=['batch.tasks'])\n"
        "app.conf.update(task_time_limit=60, task_soft_time_limit=50)\n",
    )
    # A tasks module of a package Django does not install: not the Django app's.
    project.write("batch/tasks.py", SHARED.format(name="crunch"))
    run = project.run(".")
    assert "CEL205" not in codes(run, "orders/tasks.py") | codes(run, "shop/tasks.py"), run
    assert "CEL205" in codes(run, "batch/tasks.py"), run
    tasks = tasks_json(project)
    assert tasks["orders.tasks.ship"]["apps"] == ["proj.celery.app"]
    assert tasks["shop.tasks.restock"]["apps"] == ["proj.celery.app"]
    assert tasks["batch.tasks.crunch"]["apps"] == ["batch.worker.app"]


CELERYCONFIG = """\
broker_url = "redis://localhost:6379/0"
imports = ("legacy.tasks",)
task_acks_late = True
task_time_limit = 30
task_soft_time_limit = 20
"""


def test_celeryconfig_configures_the_default_app_of_the_modules_it_imports(project: Project) -> None:
    two_apps(project)
    packages(project, "legacy")
    project.write("celeryconfig.py", CELERYCONFIG.replace("task_acks_late = True", "task_acks_late = False"))
    project.write("legacy/tasks.py", SHARED.format(name="sweep"))
    run = project.run(".")
    assert "CEL205" not in codes(run, "legacy/tasks.py"), run  # an explicit False is a decision
    tasks = tasks_json(project)
    assert tasks["legacy.tasks.sweep"]["apps"] == ["default app (celeryconfig)"]
    assert tasks["legacy.tasks.sweep"]["options"]["acks_late"]["source"]["path"] == "celeryconfig.py"
    assert tasks["legacy.tasks.sweep"]["options"]["time_limit"]["value"] == 30
    # A module an app's worker imports is that app's, whatever celeryconfig imports.
    assert tasks["reports.tasks.build"]["apps"] == ["reports.celery.app"]


def test_celeryconfig_without_any_app(project: Project) -> None:
    packages(project, "legacy")
    project.write("celeryconfig.py", CELERYCONFIG)
    project.write("legacy/tasks.py", SHARED.format(name="sweep"))
    run = project.run(".")
    assert codes(run, "legacy/tasks.py") == set(), run
    task = tasks_json(project)["legacy.tasks.sweep"]
    assert task["apps"] == ["default app (celeryconfig)"]
    assert acks_late(task) is True


def test_a_single_app_keeps_every_shared_task(project: Project) -> None:
    packages(project, "proj", "elsewhere")
    project.write("proj/celery.py", BILLING_APP)
    project.write("elsewhere/tasks.py", SHARED.format(name="far"))
    task = tasks_json(project)["elsewhere.tasks.far"]
    assert task["apps"] == ["app"]
    assert acks_late(task) is True


# ---------------------------------------------------------------------------- S8
VENDORED = "class Celery:\n    pass\n\n\ndef shared_task(*args, **kwargs):\n    pass\n"


def test_a_celery_package_in_the_tree_does_not_hide_the_project(project: Project) -> None:
    packages(project, "proj")
    project.write("celery/__init__.py", "from .app import Celery, shared_task  # noqa: F401\n")
    project.write("celery/app.py", VENDORED)
    project.write(
        "proj/celery.py",
        "from celery import Celery\n\napp = Celery('proj')\n"
        "app.conf.update(task_time_limit=60, task_soft_time_limit=50)\n",
    )
    project.write(
        "proj/tasks.py",
        "from celery import shared_task\n\nfrom .celery import app\n\n\n"
        "@shared_task\ndef refresh(x):\n    return x\n\n\n@app.task(acks_late=True)\ndef rebuild(x):\n    return x\n",
    )
    run = project.run(".")
    assert run.at("proj/tasks.py") == [(7, 1, "CEL205")], run
    tasks = tasks_json(project)
    assert set(tasks) == {"proj.tasks.refresh", "proj.tasks.rebuild"}
    assert tasks["proj.tasks.rebuild"]["apps"] == ["app"]
    assert tasks["proj.tasks.refresh"]["options"]["time_limit"]["value"] == 60
    assert [app["path"] for app in project.run("tasks", "--format", "json").json["apps"]] == [
        "proj/celery.py"
    ]


# ---------------------------------------------------------------------------- S9
WORKER_CONF = 'broker_url = "redis://localhost:6379/0"\nresult_serializer = "pickle"\n'
OVERLAY = 'DEBUG = False\nCELERY_ACCEPT_CONTENT = ["pickle"]\nCELERY_TASK_SERIALIZER = "json"\n'


@pytest.mark.parametrize("named", [False, True])
def test_configuration_modules_are_recognised_by_their_assignments(project: Project, named: bool) -> None:
    packages(project, "proj")
    project.write("proj/worker_conf.py", WORKER_CONF)
    project.write("deploy/overlay.py", OVERLAY)
    args = ["proj/worker_conf.py", "deploy/overlay.py"] if named else ["."]
    run = project.run(*args)
    assert run.at("proj/worker_conf.py") == [(2, 1, "CEL101")], run
    assert run.at("deploy/overlay.py") == [(2, 1, "CEL102")], run


@pytest.mark.parametrize(
    "text",
    [
        # generic names Celery also uses
        'timezone = "UTC"\nimports = ["pickle"]\ninclude = ["os"]\n',
        # one Celery setting is not enough
        'result_serializer = "pickle"\nretries = 3\n',
        # not at the top level
        'def configure(conf):\n    task_serializer = "pickle"\n    result_serializer = "pickle"\n',
        # Django names without a Celery one
        'DEBUG = True\nTIME_ZONE = "UTC"\nSECRET_KEY = "x"\n',
    ],
)
def test_other_modules_are_not_configuration(project: Project, text: str) -> None:
    packages(project, "proj")
    project.write("proj/helpers.py", text)
    for args in (["."], ["proj/helpers.py"]):
        run = project.run(*args)
        assert run.findings == [], run
