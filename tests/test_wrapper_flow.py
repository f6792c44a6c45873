"""Project task wrappers that rename or compute option keys, and wrappers that call other
wrappers, as a user sees them through ``celery-lint tasks`` and the lint run. What the
model claims is checked against the live task objects of the real Celery."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from conftest import Project

OPTIONS = "time_limit,soft_time_limit,acks_late,ignore_result,queue"

WORKER = """\
from celery import Celery, Task


class ContextTask(Task):
    abstract = True


class JobTask(ContextTask):
    abstract = True


celery = Celery("proj", task_cls=ContextTask)
celery.conf.update(task_ignore_result=True)


def task(*args, **kwargs):
    for arg in "queue", "routing_key":
        if arg in kwargs:
            kwargs["default_{0}".format(arg)] = kwargs.pop(arg)
    return celery.task(*args, **kwargs)


def job(name, **kwargs):
    return task(name=name, base=JobTask, bind=True, **kwargs)


def renamed(**opts):
    for key in ("limit",):
        opts[f"time_{key}"] = opts.pop(key)
    opts["soft_%s" % "time_limit"] = 10
    return celery.task(**opts)
"""

JOBS = """\
from proj.worker import job, renamed, task


@task
def plain(x):
    return x


@task(queue="low", time_limit=60)
def routed(x):
    return x


@task(acks_late=True, time_limit=30, soft_time_limit=20)
def careful(x):
    return x


@job("purge-all", acks_late=True)
def purge(self):
    pass


@renamed(limit=90)
def limited():
    pass
"""


def tasks_json(project: Project) -> dict[str, Any]:
    run = project.run("tasks", "--format", "json", "--option", OPTIONS)
    assert run.returncode == 0, run
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["name"]: task["options"] for task in data["tasks"]}


def live_options(project: Project) -> dict[str, dict[str, Any]]:
    script = (
        "import json\n"
        "from proj.worker import celery\n"
        "import proj.jobs\n"
        f"names = {OPTIONS.split(',')!r}\n"
        "print(json.dumps({n: {o: getattr(t, o, None) for o in names}\n"
        "    for n, t in celery.tasks.items() if not n.startswith('celery.')}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=project.root, capture_output=True, text=True, check=True
    )
    live: dict[str, dict[str, Any]] = json.loads(completed.stdout)
    return live


def write(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/worker.py", WORKER)
    project.write("proj/jobs.py", JOBS)


def test_renamed_and_computed_keys_keep_every_other_option_known(project: Project) -> None:
    write(project)
    options = by_name(tasks_json(project))
    live = live_options(project)
    assert set(options) == set(live)
    unknown = {
        (name, key) for name, opts in options.items() for key, entry in opts.items() if entry["unknown"]
    }
    # Only the option the loop may rename is unknown, and only where the caller gave it.
    assert unknown == {("proj.jobs.routed", "queue")}
    for name, opts in options.items():
        for key, entry in opts.items():
            if entry["unknown"] is None:
                assert entry["value"] == live[name][key], (name, key)
    assert options["proj.jobs.limited"]["time_limit"]["value"] == 90
    assert options["proj.jobs.limited"]["soft_time_limit"]["value"] == 10


def test_a_wrapper_calling_a_wrapper_passes_its_options_through(project: Project) -> None:
    write(project)
    options = by_name(tasks_json(project))
    purge = options["purge-all"]
    assert purge["acks_late"]["value"] is True
    assert purge["acks_late"]["source"]["path"] == "proj/jobs.py"
    assert purge["ignore_result"]["value"] is True
    assert purge["ignore_result"]["source"]["path"] == "proj/worker.py"


def test_the_lint_run_reports_what_the_wrappers_leave_unset(project: Project) -> None:
    write(project)
    run = project.run("--select", "CEL201,CEL202,CEL205", "--format", "json")
    found = {
        (f["code"], f["line"]) for f in json.loads(run.stdout)["findings"] if f["path"] == "proj/jobs.py"
    }
    assert found == {
        ("CEL201", 5),
        ("CEL205", 5),
        ("CEL202", 10),
        ("CEL205", 10),
        ("CEL201", 20),
        ("CEL205", 25),
    }


def test_a_key_that_cannot_be_computed_still_makes_the_options_unknown(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write(
        "proj/worker.py",
        "import os\n"
        "from celery import Celery\n"
        "celery = Celery('proj')\n"
        "\n"
        "def task(**kwargs):\n"
        "    for arg in os.environ.get('RENAME', '').split():\n"
        "        kwargs['x_' + arg] = kwargs.pop(arg)\n"
        "    return celery.task(**kwargs)\n",
    )
    project.write(
        "proj/jobs.py", "from proj.worker import task\n\n@task(time_limit=5)\ndef one():\n    pass\n"
    )
    (task,) = tasks_json(project)["tasks"]
    assert (task["path"], task["line"]) == ("proj/jobs.py", 4)
    assert task["options"]["time_limit"]["unknown"] == (
        "task changes its options: kwargs[...] is written with a computed key"
    )
    run = project.run("--select", "CEL201,CEL202,CEL205")
    assert run.returncode == 0, run


def test_a_nested_function_with_its_own_kwargs_does_not_hide_the_wrapper_options(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write(
        "proj/worker.py",
        "from celery import Celery\n"
        "celery = Celery('proj')\n"
        "\n"
        "def connect(signal, *args, **kwargs):\n"
        "    by_id = kwargs.pop('by_id', False)\n"
        "\n"
        "    def wrapper(func):\n"
        "        t = celery.task(func, *args, **kwargs)\n"
        "\n"
        "        def call_task(item, **kwargs):\n"
        "            t.delay(item.pk if by_id else item, **kwargs)\n"
        "\n"
        "        signal.connect(call_task)\n"
        "        return t\n"
        "\n"
        "    return wrapper\n",
    )
    project.write(
        "proj/jobs.py",
        "from proj.worker import connect\n\n@connect(object(), by_id=True, time_limit=9)\ndef on_save(item):\n    pass\n",
    )
    options = by_name(tasks_json(project))
    assert options["proj.jobs.on_save"]["time_limit"]["value"] == 9
    assert all(entry["unknown"] is None for entry in options["proj.jobs.on_save"].values())


def test_messages_name_the_decorator_for_options_written_there(project: Project) -> None:
    """An option written in the task's own ``@wrapper(...)`` call is on the decorator; one
    the wrapper supplies is on the wrapper."""
    project.write("proj/__init__.py", "")
    project.write(
        "proj/wrappers.py",
        "from celery import shared_task\n"
        "\n"
        "def retry_task(*args, **kwargs):\n"
        "    return shared_task(*args, **kwargs)\n"
        "\n"
        "def catch_all(**kwargs):\n"
        "    kwargs['autoretry_for'] = (Exception,)\n"
        "    return shared_task(**kwargs)\n",
    )
    project.write(
        "proj/jobs.py",
        "from proj.wrappers import catch_all, retry_task\n"
        "\n"
        "@retry_task(autoretry_for=(Exception,), max_retries=3)\n"
        "def mine():\n"
        "    pass\n"
        "\n"
        "@catch_all(max_retries=3)\n"
        "def theirs():\n"
        "    pass\n",
    )
    run = project.run("--select", "CEL303", "--format", "json")
    messages = {f["line"]: f["message"] for f in json.loads(run.stdout)["findings"]}
    assert "(autoretry_for on the decorator)" in messages[3]
    assert "(autoretry_for on the wrapper catch_all (proj/wrappers.py))" in messages[8]


CLASS_DECORATOR = """\
from celery import Celery, shared_task

celery = Celery("proj")


class retryable_task:
    \"\"\"Stores the task options; applies them when it decorates.\"\"\"

    def __init__(self, *args, **kwargs):
        self.task_args = args
        self.task_kwargs = kwargs

    def __call__(self, f):
        def inner(*args, **kwargs):
            return f(*args, **kwargs)

        return shared_task(*self.task_args, **self.task_kwargs)(inner)
"""


def test_a_class_decorator_that_stores_its_options(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/worker.py", CLASS_DECORATOR)
    project.write(
        "proj/jobs.py",
        "from proj.worker import retryable_task\n\n"
        "@retryable_task(name='store', time_limit=30, acks_late=True)\ndef store(x):\n    return x\n",
    )
    options = by_name(tasks_json(project))
    live = live_options(project)
    assert set(options) == set(live) == {"store"}
    for key, entry in options["store"].items():
        assert entry["unknown"] is None, key
        assert entry["value"] == live["store"][key], key
