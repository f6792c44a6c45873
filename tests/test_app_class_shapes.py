"""S5, S6 and S12 of the real-world shapes as a user sees them through ``celery-lint tasks``:
``self.conf`` writes of the app's Celery subclass, task factories that are methods of it,
and options from ``**dict`` splats. Each value's source shows where the model found it;
what the analyzer cannot follow is unknown, never guessed."""

from __future__ import annotations

import json
from typing import Any

from conftest import Project

OPTIONS = "time_limit,soft_time_limit,acks_late,ignore_result,max_retries,queue,serializer,rate_limit"


def tasks_json(project: Project) -> dict[str, Any]:
    run = project.run("tasks", "--format", "json", "--option", OPTIONS)
    assert run.returncode == 0, run
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def option(data: dict[str, Any], task: str | None, name: str, line: int | None = None) -> tuple[Any, ...]:
    found = [t for t in data["tasks"] if t["name"] == task and (line is None or t["line"] == line)]
    assert len(found) == 1, data["tasks"]
    entry = found[0]["options"][name]
    if entry["unknown"] is not None:
        return ("unknown", entry["unknown"])
    source = entry["source"]
    return (entry["value"], source["kind"], source["path"], source["line"])


def test_splats_are_known_key_by_key_with_their_sources(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", "from celery import Celery\napp = Celery('proj')\n")
    project.write(
        "proj/presets.py",
        'LIMITS = {"time_limit": 60, "soft_time_limit": 50}\n'
        'RETRY = {"max_retries": 4}\n'
        'ONE = {**RETRY, "queue": "slow"}\n'
        "SAFE = dict(acks_late=True, **LIMITS)\n",
    )
    project.write(
        "proj/tasks.py",
        "import os\n"
        "from proj.celery import app\n"
        "from proj import presets\n"
        "from proj.presets import LIMITS, ONE\n"
        "\n"
        "@app.task(**LIMITS, **ONE, max_retries=2)\n"
        "def reindex():\n"
        "    pass\n"
        "\n"
        "@app.task(**presets.SAFE)\n"
        "def archive():\n"
        "    pass\n"
        "\n"
        "@app.task(**{**LIMITS, 'time_limit': 90})\n"
        "def purge():\n"
        "    pass\n"
        "\n"
        "@app.task(**LIMITS, **dict(os.environ))\n"
        "def opaque():\n"
        "    pass\n",
    )
    data = tasks_json(project)
    assert option(data, "proj.tasks.reindex", "time_limit") == (60, "decorator", "proj/presets.py", 1)
    assert option(data, "proj.tasks.reindex", "queue") == ("slow", "decorator", "proj/presets.py", 3)
    # An explicit keyword after the splats wins, as in the call Python makes.
    assert option(data, "proj.tasks.reindex", "max_retries") == (2, "decorator", "proj/tasks.py", 6)
    assert option(data, "proj.tasks.archive", "acks_late") == (True, "decorator", "proj/presets.py", 4)
    assert option(data, "proj.tasks.archive", "soft_time_limit")[:3] == (50, "decorator", "proj/presets.py")
    assert option(data, "proj.tasks.purge", "time_limit") == (90, "decorator", "proj/tasks.py", 14)
    # One splat the analyzer cannot read makes every other option unknown and says which
    # (the known splat's keys stay known: Python refuses a keyword given twice).
    assert option(data, None, "acks_late") == (
        "unknown",
        "options are passed with **dict(os.environ) in proj/tasks.py",
    )
    assert option(data, None, "time_limit") == (60, "decorator", "proj/presets.py", 1)

    run = project.run("--select", "CEL201,CEL205", "proj/tasks.py")
    # Limits known through the splats: no CEL201; acks_late known unset on reindex and purge.
    assert [(line, code) for _, line, _, code in run.findings] == [(7, "CEL205"), (15, "CEL205")]


def test_self_conf_writes_of_the_app_class(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write(
        "proj/base.py",
        "from celery import Celery\n"
        "\n"
        "class BaseCelery(Celery):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        self.conf['task_acks_late'] = True\n"
        "        self.setup()\n"
        "\n"
        "    def setup(self):\n"
        "        self.conf.update(task_soft_time_limit=250)\n"
        "\n"
        "    def init_app(self, settings):\n"
        "        self.conf.task_time_limit = 300\n"
        "        self.conf.task_default_rate_limit = settings\n"
        "\n"
        "    def later(self):\n"
        "        self.conf.task_ignore_result = True\n"
        "\n"
        "    def unused(self):\n"
        "        self.conf.task_serializer = 'pickle'\n"
        "\n"
        "settings = '10/m'\n",
    )
    project.write(
        "proj/celery.py",
        "from proj.base import BaseCelery\n"
        "\n"
        "class ProjCelery(BaseCelery):\n"
        "    pass\n"
        "\n"
        "app = ProjCelery('proj')\n"
        "app.init_app({})\n"
        "\n"
        "def create_app():\n"
        "    app.later()\n",
    )
    project.write("proj/tasks.py", "from proj.celery import app\n\n@app.task\ndef refresh():\n    pass\n")
    data = tasks_json(project)
    task = "proj.tasks.refresh"
    assert option(data, task, "acks_late") == (True, "setting", "proj/base.py", 6)
    assert option(data, task, "soft_time_limit") == (250, "setting", "proj/base.py", 10)
    # A method the module calls on the app: it runs.
    assert option(data, task, "time_limit") == (300, "setting", "proj/base.py", 13)
    # A value read from the method's parameter is computed (not the module's 'settings').
    assert option(data, task, "rate_limit")[0] == "unknown"
    # A method only a function calls may or may not run: unknown, not guessed.
    assert option(data, task, "ignore_result") == (
        "unknown",
        "task_ignore_result is set conditionally in proj/base.py",
    )
    # A method nothing calls never configures the app.
    assert option(data, task, "serializer") == ("json", "default", None, None)
    sources = {(s["path"], s["line"]) for s in data["apps"][0]["config_sources"]}
    assert {("proj/base.py", 6), ("proj/base.py", 10)} <= sources


def test_conditional_self_conf_write_is_unknown(project: Project) -> None:
    project.write(
        "app.py",
        "import os\n"
        "from celery import Celery\n"
        "\n"
        "class ProjCelery(Celery):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        if os.environ.get('LATE'):\n"
        "            self.conf.task_acks_late = True\n"
        "\n"
        "app = ProjCelery('proj')\n"
        "\n"
        "@app.task\n"
        "def refresh():\n"
        "    pass\n",
    )
    data = tasks_json(project)
    assert option(data, "app.refresh", "acks_late") == (
        "unknown",
        "task_acks_late is set conditionally in app.py",
    )
    run = project.run("--select", "CEL205", ".")
    assert run.findings == []


def test_app_method_factories_and_wrapper_option_changes(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write(
        "proj/celery.py",
        "import os\n"
        "from celery import Celery, shared_task\n"
        "\n"
        "class ProjCelery(Celery):\n"
        "    def scheduled(self, *args, **opts):\n"
        "        def wrap(fn):\n"
        "            opts.pop('every', None)\n"
        "            opts.setdefault('ignore_result', True)\n"
        "            if os.environ.get('SLOW'):\n"
        "                opts['queue'] = 'slow'\n"
        "            return self.task(fn, *args, **opts)\n"
        "        return wrap\n"
        "\n"
        "app = ProjCelery('proj')\n"
        "\n"
        "def job(**options):\n"
        "    options.setdefault('acks_late', True)\n"
        "    options['time_limit'] = 60\n"
        "    return shared_task(**options)\n",
    )
    project.write(
        "proj/jobs.py",
        "from proj.celery import app, job\n"
        "\n"
        "@app.scheduled(name='cleanup', every=3600, ignore_result=False)\n"
        "def cleanup():\n"
        "    pass\n"
        "\n"
        "@app.scheduled(name='rotate')\n"
        "def rotate():\n"
        "    pass\n"
        "\n"
        "@job(acks_late=False, time_limit=5)\n"
        "def pull():\n"
        "    pass\n",
    )
    data = tasks_json(project)
    # The caller's explicit option beats the factory's setdefault default.
    assert option(data, "cleanup", "ignore_result") == (False, "decorator", "proj/jobs.py", 3)
    assert option(data, "rotate", "ignore_result") == (True, "decorator", "proj/celery.py", 8)
    assert option(data, "rotate", "queue") == ("unknown", "queue may be changed inside scheduled")
    # A plain wrapper's assignment beats the caller; its setdefault does not.
    assert option(data, "proj.jobs.pull", "acks_late") == (False, "decorator", "proj/jobs.py", 11)
    assert option(data, "proj.jobs.pull", "time_limit") == (60, "decorator", "proj/celery.py", 18)


def test_config_from_object_in_the_app_class(project: Project) -> None:
    """``self.config_from_object(...)`` in ``__init__`` loads its module for every instance;
    one in a method the project calls with its own argument cannot be followed."""
    project.write("proj/__init__.py", "")
    project.write(
        "proj/celery.py",
        "from celery import Celery\n"
        "\n"
        "class ProjCelery(Celery):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        self.config_from_object('proj.settings')\n"
        "\n"
        "class LateCelery(Celery):\n"
        "    def setup(self, settings):\n"
        "        self.config_from_object(settings)\n"
        "\n"
        "app = ProjCelery('proj')\n"
        "late = LateCelery('late')\n"
        "late.setup('proj.settings')\n",
    )
    project.write(
        "proj/settings.py",
        "task_acks_late = True\ntask_time_limit = 300\ntask_serializer = 'pickle'\n",
    )
    project.write(
        "proj/tasks.py",
        "from proj.celery import app, late\n"
        "\n"
        "@app.task\n"
        "def work():\n"
        "    pass\n"
        "\n"
        "@late.task\n"
        "def later():\n"
        "    pass\n",
    )
    data = tasks_json(project)
    assert option(data, "proj.tasks.work", "acks_late") == (True, "setting", "proj/settings.py", 1)
    assert option(data, "proj.tasks.work", "time_limit") == (300, "setting", "proj/settings.py", 2)
    assert option(data, "proj.tasks.later", "acks_late")[0] == "unknown"
    run = project.run("--format", "json")
    found = {(f["code"], f["path"], f["line"]) for f in json.loads(run.stdout)["findings"]}
    assert ("CEL101", "proj/settings.py", 3) in found
    assert not {code for code, path, _ in found if path == "proj/tasks.py"} - {"CEL202"}
