"""A configuration module the project names but the repository does not hold (a
``DJANGO_SETTINGS_MODULE`` or ``config_from_object`` module the deployment provides) is
configuration the repository cannot show: settings no file of the repository names are
unset, and messages name the missing module; settings the repository names stay unknown."""

from __future__ import annotations

import json
from typing import Any

from conftest import Project

CELERY_MODULE = """\
import os
from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.prod")
app = Celery("engine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""


def django_project(project: Project) -> None:
    for package in ("engine/settings", "engine/engine", "engine/apps", "engine/apps/alerts"):
        project.write(f"{package}/__init__.py", "")
    project.write(
        "engine/manage.py", "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings.prod')\n"
    )
    project.write(
        "engine/settings/base.py", "CELERY_TASK_ACKS_LATE = True\nCELERY_BROKER_URL = 'redis://r'\n"
    )
    project.write("engine/engine/celery.py", CELERY_MODULE)
    project.write(
        "engine/apps/alerts/tasks.py",
        "from celery import shared_task\n\n@shared_task\ndef notify():\n    pass\n",
    )


def findings(project: Project, *args: str) -> list[dict[str, Any]]:
    run = project.run("--format", "json", "--select", "CEL201,CEL205", *args)
    assert run.returncode in (0, 1), run
    found: list[dict[str, Any]] = json.loads(run.stdout)["findings"]
    return found


def test_an_absent_django_settings_module_leaves_unnamed_settings_unset(project: Project) -> None:
    django_project(project)
    found = findings(project)
    # task_time_limit is named nowhere: unset. task_acks_late is named in settings/base.py,
    # which the absent module may import: unknown, no CEL205.
    assert [(f["code"], f["path"], f["line"]) for f in found] == [
        ("CEL201", "engine/apps/alerts/tasks.py", 4)
    ]
    assert "DJANGO_SETTINGS_MODULE settings.prod (not in the repository) in engine/" in found[0]["message"]


def test_a_settings_module_on_disk_but_not_analysed_stays_unknown(project: Project) -> None:
    django_project(project)
    project.write(
        "engine/settings/prod.py", "from .base import *\nCELERY_TASK_TIME_LIMIT = (\n"
    )  # cannot parse
    assert [f["code"] for f in findings(project) if f["code"] in ("CEL201", "CEL205")] == []


def test_an_absent_config_from_object_module(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write(
        "proj/celery.py",
        "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n",
    )
    project.write("proj/tasks.py", "from proj.celery import app\n\n@app.task\ndef work():\n    pass\n")
    found = findings(project)
    assert sorted(f["code"] for f in found) == ["CEL201", "CEL205"]
    assert all("config_from_object('celeryconfig') (not in the repository)" in f["message"] for f in found)
    run = project.run("tasks", "--format", "json")
    (task,) = json.loads(run.stdout)["tasks"]
    assert task["options"]["acks_late"]["unknown"] is None
