"""S14 of the real-world shapes (fixtures/shapes/s14_generic_classes) through
``celery-lint tasks``: since Celery 5.5 ``Celery`` and ``Task`` take type parameters, and a
parametrised class is still that class. ``Celery[T]("proj")`` makes an app, ``class
LedgerTask(Task[P, R])`` is a task class, ``class LedgerCelery(Celery[T])`` is an app class.
The options the model reports are checked against what the real Celery makes of the project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from celery_oracle import run_oracle
from conftest import Project, copy_clean, run_cli

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "shapes" / "s14_generic_classes"
OPTIONS = ["time_limit", "soft_time_limit", "acks_late", "max_retries", "queue"]


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_clean(FIXTURE, tmp_path_factory.mktemp("s14") / "ledger_project")


@pytest.fixture(scope="module")
def tasks(ledger: Path) -> dict[str, Any]:
    run = run_cli("tasks", "--format", "json", "--option", ",".join(OPTIONS), cwd=ledger)
    assert run.returncode == 0, run
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def option(data: dict[str, Any], task: str, name: str) -> tuple[Any, ...]:
    [entry] = [t for t in data["tasks"] if t["name"] == task]
    found = entry["options"][name]
    source = found["source"]
    return (found["value"], source["kind"], source["path"], source["line"])


def test_parametrised_celery_classes_called_are_apps(tasks: dict[str, Any]) -> None:
    apps = {(a["name"], a["path"], a["line"]) for a in tasks["apps"]}
    assert apps == {
        ("app", "ledger/base.py", 29),  # Celery[LedgerTask[Any, Any]]("ledger", ...)
        ("reports", "ledger/base.py", 30),  # celery.Celery[Any]("reports")
        ("audit", "ledger/base.py", 32),  # LedgerCelery[AuditTask]("audit")
    }
    apps_of = {t["name"]: t["apps"] for t in tasks["tasks"]}
    assert apps_of.pop("ledger.rebuild")  # class-based: Rebuild(LedgerTask[Any, Any])
    assert apps_of == {
        "ledger.tasks.post_entry": ["app"],
        "ledger.tasks.monthly_report": ["reports"],
        "ledger.tasks.reconcile": ["audit"],
    }
    # LedgerCelery.__init__ writes self.conf: every LedgerCelery app is configured there.
    [audit] = [a for a in tasks["apps"] if a["name"] == "audit"]
    assert audit["config_sources"] == [{"path": "ledger/base.py", "line": 25, "kind": "conf attribute"}]


def test_options_come_from_generic_task_and_app_classes(tasks: dict[str, Any]) -> None:
    base = "ledger/base.py"
    # task_cls=LedgerTask, a Task[P, R]: its class attributes are every task's defaults.
    assert option(tasks, "ledger.tasks.post_entry", "acks_late") == (True, "base", base, 14)
    assert option(tasks, "ledger.tasks.post_entry", "time_limit") == (120, "base", base, 15)
    # base=AuditTask, a LedgerTask[Any, Any]: its own attribute, then its base's.
    assert option(tasks, "ledger.tasks.monthly_report", "max_retries") == (8, "base", base, 19)
    assert option(tasks, "ledger.tasks.monthly_report", "time_limit") == (120, "base", base, 15)
    assert option(tasks, "ledger.tasks.monthly_report", "soft_time_limit") == (30, "setting", base, 31)
    # LedgerCelery[AuditTask]("audit"): its tasks' class is Task, the decorator sets the queue.
    assert option(tasks, "ledger.tasks.reconcile", "queue") == (
        "audit-slow",
        "decorator",
        "ledger/tasks.py",
        16,
    )
    assert option(tasks, "ledger.tasks.reconcile", "acks_late") == (False, "default", None, None)
    assert option(tasks, "ledger.tasks.reconcile", "max_retries") == (3, "default", None, None)
    # A class-based task on a parametrised base: its own attribute, then LedgerTask's.
    assert option(tasks, "ledger.rebuild", "soft_time_limit") == (100, "class", "ledger/tasks.py", 24)
    assert option(tasks, "ledger.rebuild", "time_limit") == (120, "base", base, 15)


def test_the_values_are_what_celery_makes_of_the_project(ledger: Path, tasks: dict[str, Any]) -> None:
    [live] = run_oracle(
        [
            {
                "root": str(ledger),
                "app_module": "ledger.base",
                "app_attr": "app",
                "other_apps": [["ledger.base", "reports"], ["ledger.base", "audit"]],
                "task_modules": ["ledger.tasks"],
                "options": OPTIONS,
                "settings": ["task_default_queue"],
            }
        ]
    )
    assert "error" not in live, live.get("error")
    # (Celery also adds each ``@app.task`` task to every other app of the process.)
    assert {t["name"] for t in tasks["tasks"]} == set().union(*live["tasks"].values())
    for task in tasks["tasks"]:
        reported = {name: value["value"] for name, value in task["options"].items()}
        registered = [app for app in task["apps"] if task["name"] in live["tasks"][app]]
        assert registered, task["name"]
        for app in registered:
            assert reported == live["tasks"][app][task["name"]], (task["name"], app)


def test_other_parametrised_classes_make_no_app(project: Project) -> None:
    project.write(
        "proj/celery.py",
        "from typing import Generic, TypeVar\n"
        "from celery import Celery\n"
        "T = TypeVar('T')\n"
        "class Box(Generic[T]):\n"
        "    def __init__(self, name: str) -> None:\n"
        "        self.name = name\n"
        "box = Box[int]('proj')\n"
        "app = Celery('proj')\n",
    )
    run = project.run("tasks", "--format", "json")
    assert [a["name"] for a in run.json["apps"]] == ["app"], run


def test_a_parametrised_class_given_as_a_value_names_no_class(project: Project) -> None:
    # Celery derives a task's class from ``base=`` and ``task_cls`` with type(), which
    # does not resolve ``Reliable[Any, Any]``: Celery raises TypeError, nothing is known.
    project.write(
        "proj/celery.py",
        "from typing import Any\n"
        "from celery import Celery, Task\n"
        "class Reliable(Task[Any, Any]):\n"
        "    acks_late = True\n"
        "app = Celery('proj')\n"
        "other = Celery('other', task_cls=Reliable[Any, Any])\n"
        "@app.task(base=Reliable[Any, Any])\n"
        "def sync():\n"
        "    pass\n"
        "@other.task\n"
        "def push():\n"
        "    pass\n",
    )
    run = project.run("tasks", "--format", "json", "--option", "acks_late")
    unknown = {t["name"]: t["options"]["acks_late"]["unknown"] for t in run.json["tasks"]}
    assert unknown == {
        "proj.celery.sync": "the base class cannot be analysed",
        "proj.celery.push": "the base class cannot be analysed",
    }


APP_WITH_OWN_TASK_CLASS = """\
from celery import Celery


class ShopCelery(Celery):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._patch_task()

    def _patch_task(self):
        class ShopTask(self.Task):
            time_limit = 30

            def apply_async(s, args=None, kwargs=None, **options):
                return super().apply_async(args=args, kwargs=kwargs, **options)

        self.Task = ShopTask


app = ShopCelery("shop")


@app.task
def refund(order):
    return order


def cancel(pk):
    order = Order.objects.get(pk=pk)
    refund.delay(order)
"""


def test_an_app_class_that_replaces_its_task_class_in_a_method(project: Project) -> None:
    """``self.Task = ShopTask`` in a method ``__init__`` calls (seen in indico): every task
    of the app derives from a class the analyzer does not follow. Real Celery gives the
    task that class's ``time_limit``; the model must not claim Celery's default, and the
    rules that rest on the task's class stay silent."""
    project.write("shop/__init__.py", "")
    project.write("shop/worker.py", APP_WITH_OWN_TASK_CLASS)
    [live] = run_oracle(
        [
            {
                "root": str(project.root),
                "app_module": "shop.worker",
                "app_attr": "app",
                "other_apps": [],
                "task_modules": ["shop.worker"],
                "options": ["time_limit"],
                "settings": [],
            }
        ]
    )
    assert "error" not in live, live.get("error")
    assert live["tasks"]["app"]["shop.worker.refund"] == {"time_limit": 30}, live
    listed = run_cli("tasks", "--format", "json", "--option", "time_limit", cwd=project.root)
    [task] = json.loads(listed.stdout)["tasks"]
    assert task["options"]["time_limit"]["source"]["kind"] == "unknown", task
    run = project.run(".", "--select", "CEL201,CEL504")
    assert run.codes_in("shop/worker.py") == set(), run
    # Without the replacement, the same task has no time limit and is sent the object.
    project.write("shop/worker.py", APP_WITH_OWN_TASK_CLASS.replace("        self.Task = ShopTask\n", ""))
    run = project.run(".", "--select", "CEL201,CEL504")
    assert run.codes_in("shop/worker.py") == {"CEL201", "CEL504"}, run
