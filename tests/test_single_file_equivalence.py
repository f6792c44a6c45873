"""Linting one file gives the same findings for it as linting its whole project.

Editors and pre-commit pass single files; CI passes the project root. The project
model always covers the whole project, so the findings for a file must not depend on
which other files were named on the command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from celery_lint.cli import main
from celery_lint.engine import lint_paths

DJANGO_CELERY = (
    "import os\n\nfrom celery import Celery\n\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
    "app.autodiscover_tasks()\n"
)
PROJ_INIT = "from .celery import app as celery_app\n\n__all__ = ('celery_app',)\n"
ORDERS_TASKS = (
    "from celery import shared_task\n\n\n"
    "@shared_task\ndef charge(order_id):\n    return order_id\n\n\n"
    "@shared_task(time_limit=60, soft_time_limit=50)\ndef refund(order_id):\n    return order_id\n"
)

PROJECTS: dict[str, dict[str, str]] = {
    "django-namespace": {
        "proj/__init__.py": PROJ_INIT,
        "proj/celery.py": DJANGO_CELERY,
        "proj/settings.py": "DEBUG = False\nINSTALLED_APPS = ['orders']\nCELERY_TASK_ACKS_LATE = True\n",
        "orders/__init__.py": "",
        "orders/models.py": "class Order:\n    pass\n",
        "orders/tasks.py": ORDERS_TASKS,
    },
    "alias-without-celery-mention": {
        "proj/__init__.py": PROJ_INIT,
        "proj/celery.py": DJANGO_CELERY,
        "proj/settings.py": "DEBUG = False\n",
        "proj/decorators.py": "from celery import shared_task\n\nretry_task = shared_task(acks_late=True, max_retries=5)\n",
        "orders/__init__.py": "",
        "orders/tasks.py": "from proj.decorators import retry_task\n\n\n@retry_task\ndef charge(order_id):\n    return order_id\n",
    },
    "wrapper-without-celery-mention": {
        "proj/__init__.py": PROJ_INIT,
        "proj/celery.py": DJANGO_CELERY,
        "proj/settings.py": "DEBUG = False\n",
        "proj/tasking.py": "from celery import shared_task\n\n\ndef my_task(**kw):\n    return shared_task(acks_late=True, **kw)\n",
        "orders/__init__.py": "",
        "orders/tasks.py": "from proj.tasking import my_task\n\n\n@my_task(queue='orders')\ndef charge(order_id):\n    return order_id\n",
    },
    "base-class-chain": {
        "proj/__init__.py": PROJ_INIT,
        "proj/celery.py": DJANGO_CELERY,
        "proj/settings.py": "DEBUG = False\n",
        "proj/base.py": "from celery import Task\n\n\nclass BaseTask(Task):\n    acks_late = True\n",
        "orders/__init__.py": "",
        "orders/base.py": "from proj.base import BaseTask\n\n\nclass OrdersTask(BaseTask):\n    queue = 'orders'\n",
        "orders/tasks.py": (
            "from celery import shared_task\n\nfrom orders.base import OrdersTask\n\n\n"
            "@shared_task(base=OrdersTask)\ndef charge(order_id):\n    return order_id\n"
        ),
    },
    "config-module": {
        "proj/__init__.py": "",
        "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
        "proj/celeryconfig.py": "CELERY_ACKS_LATE = True\n",
        "orders/__init__.py": "",
        "orders/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef charge(order_id):\n    return order_id\n",
    },
}
TARGET = "orders/tasks.py"


def write(root: Path, files: dict[str, str]) -> Path:
    (root / "pyproject.toml").write_text("[project]\nname = 'shop'\n", "utf-8")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    return root


def findings_for(paths, target: Path) -> list[tuple[str, int, int, str]]:
    result = lint_paths(paths)
    assert not result.errors
    return sorted(
        (v.code, v.line, v.column, v.message)
        for v in result.violations
        if Path(v.path).resolve() == target.resolve()
    )


@pytest.mark.parametrize("name", list(PROJECTS))
def test_single_file_equals_whole_project(tmp_path, name):
    root = write(tmp_path, PROJECTS[name])
    target = root / TARGET
    whole = findings_for([root], target)
    single = findings_for([target], target)
    folder = findings_for([root / "orders"], target)
    assert single == whole
    assert folder == whole
    # The runs agree on something real: the task is found, and acks_late reached it.
    codes = {code for code, *_ in whole}
    assert "CEL201" in codes, whole
    assert "CEL205" not in codes, whole


def test_django_project_findings(tmp_path):
    root = write(tmp_path, PROJECTS["django-namespace"])
    target = root / TARGET
    assert [(code, line) for code, line, *_ in findings_for([target], target)] == [
        ("CEL201", 5),
    ]


def test_single_file_with_other_files_named_in_any_order(tmp_path):
    root = write(tmp_path, PROJECTS["django-namespace"])
    target = root / TARGET
    expected = findings_for([root], target)
    assert findings_for([root / "proj" / "settings.py", target], target) == expected
    assert findings_for([target, root / "proj" / "celery.py"], target) == expected


def test_single_file_from_another_working_directory(tmp_path, monkeypatch):
    (tmp_path / "shop").mkdir()
    root = write(tmp_path / "shop", PROJECTS["django-namespace"])
    target = root / TARGET
    expected = findings_for([root], target)
    monkeypatch.chdir(root / "orders")
    assert findings_for(["tasks.py"], target) == expected
    monkeypatch.chdir(tmp_path)
    assert findings_for([Path("shop") / TARGET], target) == expected


# ----------------------------------------------------------------------------- the command line
def test_cli_exit_codes_single_file_and_project(tmp_path, capsys):
    root = write(tmp_path, PROJECTS["django-namespace"])
    target = root / TARGET
    # acks_late comes from the Django settings: clean for CEL205, on one file or the project.
    assert main([str(target), "--select", "CEL205"]) == 0
    assert main([str(root), "--select", "CEL205"]) == 0
    capsys.readouterr()
    # The time limits are missing on charge: exit code 1, the finding printed with its place.
    assert main([str(target), "--select", "CEL201"]) == 1
    out = capsys.readouterr().out
    assert f"{TARGET}:5:1: CEL201 task 'orders.tasks.charge' has no time limit" in out.replace("\\", "/")
    assert main([str(target), "--select", "CEL201", "--exit-zero"]) == 0


def test_cli_json_single_file_equals_project(tmp_path, capsys):
    root = write(tmp_path, PROJECTS["alias-without-celery-mention"])
    target = root / TARGET
    assert main([str(target), "--format", "json"]) == 1
    single = json.loads(capsys.readouterr().out)["findings"]
    assert main([str(root), "--format", "json"]) == 1
    whole = json.loads(capsys.readouterr().out)["findings"]
    key = ("code", "line", "column", "message")

    def pick(found):
        return sorted(
            tuple(f[k] for k in key) for f in found if f["path"].replace("\\", "/").endswith(TARGET)
        )

    assert pick(single) == pick(whole)
    assert {f["code"] for f in single} == {"CEL201"}
