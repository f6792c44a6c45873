"""Smaller rule gaps found on real projects (S13), through the real CLI: task hooks checked
as task code, ``method_decorator(atomic)``, ``max_retries=None`` bounded by the retry()
calls, settings Celery reads without declaring them, the eager fallback, an explicit
``ignore_result=False`` and the wording of messages."""

from __future__ import annotations

import re
from pathlib import Path

import celery
from celery.app import defaults as celery_defaults
from celery.app.utils import Settings
from conftest import Project

DJANGO_CELERY_PY = """\
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.broker_connection_retry_on_startup = True
"""

# A task every other rule is happy with, to keep the runs about one rule.
OPTIONS = "time_limit=60, soft_time_limit=50, acks_late=True, ignore_result=True"


def codes(run, path: str) -> list[tuple[int, str]]:
    return sorted((line, code) for p, line, _, code in run.findings if p == path)


# ----------------------------------------------------------------------- CEL601: undeclared settings
def undeclared_reads() -> set[str]:
    """Names the installed Celery reads from an app's configuration with ``conf.get('x')`` or
    ``conf['x']`` that ``celery.app.defaults`` does not declare (a plain text search of
    Celery's source, independent of the analyzer's own reading)."""
    declared = set(celery_defaults.DEFAULTS) | set(celery_defaults._TO_NEW_KEY) | set(dir(Settings))
    read = re.compile(r"""\b_?conf\.get\(\s*['"](\w+)['"]|\b_?conf\[['"](\w+)['"]\](?!\s*=[^=])""")
    names: set[str] = set()
    root = Path(celery.__file__).parent
    for path in root.rglob("*.py"):
        if "tests" in path.relative_to(root).parts:
            continue
        for match in read.finditer(path.read_text("utf-8")):
            names.add(match[1] or match[2])
    return names - declared


def test_undeclared_settings_are_found_in_the_installed_celery() -> None:
    names = undeclared_reads()
    source = "\n".join(p.read_text("utf-8") for p in Path(celery.__file__).parent.rglob("*.py"))
    for name in (
        "result_backend_thread_safe",
        "cassandra_secure_bundle_path",
        "firestore_project",
        "gcs_threadpool_maxsize",
        "override_backends",
    ):
        if f"'{name}'" in source:
            assert name in names


def test_settings_celery_reads_without_declaring_them_are_not_unknown(project: Project) -> None:
    names = sorted(undeclared_reads())
    assert names
    lowercase = [name for name in names if name.islower()]
    project.write("proj/__init__.py", "")
    project.write(
        "proj/worker.py",
        "from celery import Celery\n\napp = Celery('worker')\napp.conf.update(\n"
        + "".join(f"    {name}=1,\n" for name in lowercase)
        + ")\n",
    )
    project.write("proj/celery.py", DJANGO_CELERY_PY)
    project.write(
        "proj/settings.py",
        "".join(f"CELERY_{name.upper()} = 1\n" for name in lowercase)
        + "".join(f"{name} = 1\n" for name in names if name.isupper()),
    )
    run = project.run("--select", "CEL601,CEL606", ".")
    assert run.findings == [], run


def test_a_misspelt_undeclared_setting_gets_its_name(project: Project) -> None:
    project.write(
        "proj/celery.py",
        "from celery import Celery\n\napp = Celery('proj')\napp.conf.result_backend_thread_safes = True\n",
    )
    run = project.run("--select", "CEL601", ".")
    assert codes(run, "proj/celery.py") == [(4, "CEL601")]
    assert "did you mean `result_backend_thread_safe`?" in run.stdout


def test_no_hint_renames_a_key_into_another_setting(project: Project) -> None:
    """``CELERY_<SETTING>_BACKUP`` names something else: suggesting ``CELERY_<SETTING>``
    would overwrite that setting."""
    settings = sorted(
        name
        for name in celery_defaults.DEFAULTS
        if name.startswith(("task_", "worker_", "broker_", "result_", "beat_"))
    )
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", DJANGO_CELERY_PY)
    project.write(
        "proj/settings.py",
        "".join(f"CELERY_{name.upper()}_BACKUP = 1\n" for name in settings)
        + "CELERY_RESULT_BACKEND_POOL_SIZE = 4\nCELERY_FIRESTORE_PROJECT_ID = 'p'\n"
        + "CELERY_TASK_ACKS_LTE = True\n",
    )
    run = project.run("--select", "CEL601", ".")
    lines = len(settings) + 3
    assert codes(run, "proj/settings.py") == [(lines, "CEL601")], run
    assert "did you mean `CELERY_TASK_ACKS_LATE`?" in run.stdout


# ----------------------------------------------------------------------- CEL605: the eager fallback
def test_eager_mode_computed_from_the_broker_is_a_fallback(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", DJANGO_CELERY_PY)
    project.write(
        "proj/settings.py",
        "import os\n"
        "\n"
        "CELERY_BROKER_URL = ''\n"
        "BROKER_URL = None\n"
        "try:\n"
        "    from .local_settings import *\n"
        "except ImportError:\n"
        "    pass\n"
        "CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL\n"
        "CELERY_TASK_ALWAYS_EAGER = not BROKER_URL\n"
        "CELERY_TASK_ALWAYS_EAGER = not os.environ.get('BROKER', '')\n"
        "CELERY_TASK_ALWAYS_EAGER = True\n",
    )
    run = project.run("--select", "CEL605", ".")
    assert codes(run, "proj/settings.py") == [(12, "CEL605")], run


# ----------------------------------------------------------------------- CEL501: a chosen result
def test_an_explicit_ignore_result_false_keeps_the_result(project: Project) -> None:
    project.write(
        "proj/celery.py",
        "from celery import Celery\n\n"
        "app = Celery('proj', backend='redis://redis:6379/1')\n"
        "app.conf.task_ignore_result = True\n",
    )
    project.write(
        "proj/tasks.py",
        "from proj.celery import app\n\n\n"
        "@app.task(ignore_result=False)\ndef kept(pk):\n    print(pk)\n\n\n"
        "@app.task\ndef fire(pk):\n    print(pk)\n",
    )
    project.write(
        "other/worker.py",
        "from celery import Celery\n\napp = Celery('other', backend='redis://redis:6379/1')\n\n\n"
        "@app.task\ndef stored(pk):\n    print(pk)\n",
    )
    (project.root / "other" / "pyproject.toml").write_text("", encoding="utf-8")
    run = project.run("--select", "CEL501", ".", "other")
    assert codes(run, "proj/tasks.py") == []
    assert codes(run, "other/worker.py") == [(7, "CEL501")], run


# ----------------------------------------------------------------------- CEL401/402: task hooks
HOOKS_TASKS = f"""\
from celery import Celery, Task
from celery.result import AsyncResult
from django.db.models import F


class Counted(Task):
    def __call__(self, *args, **kwargs):
        Stats.objects.filter(pk=1).update(runs=F("runs") + 1)
        return super().__call__(*args, **kwargs)


class Audited(Task):
    def before_start(self, task_id, args, kwargs):
        AsyncResult(kwargs["parent"]).get()

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        job = Job.objects.get(pk=args[0])
        job.retries += 1
        job.save()


class Export(Audited):
    {OPTIONS.replace(", ", chr(10) + "    ")}

    def on_success(self, retval, task_id, args, kwargs):
        report = Report.objects.get(pk=args[0])
        report.exports += 1
        report.save()

    def run(self, pk):
        return pk


class Unused(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job = Job.objects.get(pk=args[0])
        job.failures += 1


app = Celery("proj", task_cls=Counted)
app.conf.broker_connection_retry_on_startup = True


@app.task(base=Audited, {OPTIONS})
def sync(pk, parent=None):
    return pk
"""


def test_task_hooks_are_checked_as_task_code(project: Project) -> None:
    project.write("proj/tasks.py", HOOKS_TASKS)
    run = project.run("--select", "CEL401,CEL402", ".")
    assert codes(run, "proj/tasks.py") == [
        (8, "CEL401"),  # __call__ of the app's task_cls
        (14, "CEL402"),  # before_start of the base= class
        (18, "CEL401"),  # on_retry of the base= class
        (30, "CEL401"),  # on_success of a class-based task
    ], run
    assert "in the `before_start` hook of task class `Audited` (task 'proj.tasks." in run.stdout
    # ``Unused`` is a Task subclass no task uses: its hook runs for nobody.


def test_hooks_are_visible_to_the_single_file_run(project: Project) -> None:
    project.write("proj/base.py", HOOKS_TASKS.split("\n\n\nclass Export")[0] + "\n")
    project.write(
        "proj/tasks.py",
        f"from celery import shared_task\n\nfrom proj.base import Audited\n\n\n"
        f"@shared_task(base=Audited, {OPTIONS})\ndef sync(pk, parent=None):\n    return pk\n",
    )
    run = project.run("--select", "CEL401,CEL402", "proj/base.py")
    assert codes(run, "proj/base.py") == [(14, "CEL402"), (18, "CEL401")], run


# ----------------------------------------------------------------------- CEL304: bounded by the calls
def test_max_retries_none_bounded_by_every_retry_call(project: Project) -> None:
    project.write(
        "proj/tasks.py",
        "from celery import shared_task\n\n\n"
        "def helper(task):\n    raise task.retry()\n\n\n"
        "@shared_task(bind=True, max_retries=None)\ndef bounded(self, pk):\n"
        "    try:\n        return pk\n    except IOError as exc:\n"
        "        raise self.retry(exc=exc, max_retries=5)\n\n\n"
        "@shared_task(bind=True, max_retries=None)\ndef unbounded(self, pk):\n"
        "    try:\n        return pk\n    except IOError as exc:\n        raise self.retry(exc=exc)\n\n\n"
        "@shared_task(bind=True, max_retries=None, autoretry_for=(IOError,))\ndef auto(self, pk):\n"
        "    raise self.retry(max_retries=5)\n\n\n"
        "@shared_task(bind=True, max_retries=None)\ndef handed_on(self, pk):\n"
        "    helper(self)\n    raise self.retry(max_retries=5)\n",
    )
    run = project.run("--select", "CEL304", ".")
    assert codes(run, "proj/tasks.py") == [(16, "CEL304"), (24, "CEL304"), (29, "CEL304")], run


# ----------------------------------------------------------------------- CEL403: method_decorator
def test_method_decorator_atomic_runs_the_method_in_a_transaction(project: Project) -> None:
    project.write(
        "proj/tasks.py",
        f"from celery import shared_task\n\n\n@shared_task({OPTIONS})\ndef charge(pk):\n    return pk\n",
    )
    project.write(
        "proj/views.py",
        "from django.contrib.auth.decorators import login_required\n"
        "from django.db import transaction\n"
        "from django.utils.decorators import method_decorator\n"
        "from django.views import View\n"
        "\n"
        "from proj.tasks import charge\n"
        "\n"
        "\n"
        "class One(View):\n"
        "    @method_decorator(transaction.atomic)\n"
        "    def post(self, request, pk):\n"
        "        charge.delay(pk)\n"
        "\n"
        "    @method_decorator([login_required, transaction.atomic(using='default')])\n"
        "    def put(self, request, pk):\n"
        "        charge.delay(pk)\n"
        "\n"
        "    @method_decorator(login_required)\n"
        "    def get(self, request, pk):\n"
        "        charge.delay(pk)\n"
        "\n"
        "\n"
        "@method_decorator(transaction.atomic, name='post')\n"
        "class Two(View):\n"
        "    def post(self, request, pk):\n"
        "        charge.delay(pk)\n"
        "\n"
        "    def get(self, request, pk):\n"
        "        charge.delay(pk)\n"
        "\n"
        "\n"
        "@method_decorator(transaction.atomic, name='dispatch')\n"
        "class Three(View):\n"
        "    def patch(self, request, pk):\n"
        "        charge.delay(pk)\n"
        "\n"
        "    def helper(self, pk):\n"
        "        charge.delay(pk)\n",
    )
    run = project.run("--select", "CEL403", ".")
    assert codes(run, "proj/views.py") == [(12, "CEL403"), (16, "CEL403"), (26, "CEL403"), (35, "CEL403")], (
        run
    )
    assert "on class Two" in run.stdout


# ----------------------------------------------------------------------- messages
def test_where_a_missing_option_was_looked_for_reads_neither_nor(project: Project) -> None:
    project.write(
        "proj/celery.py",
        "from celery import Celery, Task\n\napp = Celery('proj')\n\n\nclass Base(Task):\n    pass\n\n\n"
        "@app.task(base=Base)\ndef f():\n    pass\n",
    )
    run = project.run("--select", "CEL201,CEL205", ".")
    assert (
        "(neither on the task, its base class Base, nor `task_time_limit` in proj/celery.py)" in run.stdout
    ), run
    assert "(neither on the task, its base class Base, nor `task_acks_late` in proj/celery.py)" in run.stdout
    assert ", or " not in run.stdout


def test_no_app_found_is_said_so(project: Project) -> None:
    project.write("jobs.py", "from celery import shared_task\n\n\n@shared_task\ndef f():\n    pass\n")
    run = project.run("--select", "CEL201", ".")
    assert "(neither on the task nor `task_time_limit`; no Celery app was found)" in run.stdout, run
    assert "any Celery configuration" not in run.stdout


def test_src_layout_names_apps_by_their_import_path(project: Project) -> None:
    project.config("[project]\nname = 'shop'\n")
    project.write("src/shop/__init__.py", "")
    project.write(
        "src/shop/celery_app.py",
        "from celery import Celery\n\n\nclass ShopCelery(Celery):\n    def task_cls(self):\n        return None\n\n\n"
        "app = ShopCelery('shop')\n",
    )
    project.write("src/shop/tasks.py", "from shop.celery_app import app\n\n\n@app.task\ndef f():\n    pass\n")
    lint = project.run("--select", "CEL604", ".")
    assert "app `shop.celery_app.app`" in lint.stdout, lint
    inventory = project.run("tasks", "--format", "json", ".")
    text = project.run("tasks", ".")
    assert "shop.celery_app.app" in inventory.stdout + text.stdout, inventory
    for run in (lint, inventory, text):
        assert "src.shop" not in run.stdout, run
