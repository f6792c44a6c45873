from __future__ import annotations

from ..base import Invalid, Rule, Valid

APP = "from celery import Celery\napp = Celery('proj'{args})\n{extra}"
JOBS = "from celery import shared_task\n\n\n@shared_task\ndef cleanup():\n    pass\n\n\n@shared_task\ndef rebuild():\n    pass\n"
DJANGO = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
    "app.autodiscover_tasks()\n"
)


def _app(args: str = "", extra: str = "") -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": APP.format(args=args, extra=extra)}


class UnregisteredTaskModule(Rule):
    """
    ## What it does
    Checks for modules that define tasks but that no worker imports: not the app's
    module, not named by `include=` or the `include`/`imports` settings, not found by
    `autodiscover_tasks()` (each listed package and its `tasks` module; with no
    packages under Django, every installed app), not imported by Django's start-up
    (apps, `models`, `admin`), nor imported, directly or through other modules, by
    any of those. `-A`/`-I` arguments in launcher files (Procfile, shell scripts,
    compose files) count as roots.

    The analysis errs towards "reached": any import anywhere in a reached module
    counts (also inside functions), every package of a Django project counts as an
    installed app, and a module whose dotted name appears in a string anywhere in the
    project counts as configured.

    ## Why is this bad?
    A task exists for a worker only once its module has been imported. Callers that
    import the function can still `delay()` it, but the worker answers "Received
    unregistered task" and drops the message: the code works in tests and eager mode
    and fails in production.

    ## Example
    ```python
    # proj/celery.py
    app = Celery("proj", include=["proj.tasks"])
    # proj/jobs.py defines @shared_task cleanup(), imported by nothing the worker loads
    ```

    ## Use instead
    ```python
    app = Celery("proj", include=["proj.tasks", "proj.jobs"])
    ```
    or move the tasks into a `tasks.py` of an autodiscovered package.

    ## References
    - Celery, *Application*: `include`, `autodiscover_tasks`
    - Celery, *Configuration*: `imports`, `include`
    """

    CODE = "CEL713"
    NAME = "unregistered-task-module"
    MESSAGE = "module '{module}' defines tasks that no worker imports (not in `include`/`imports`, not found by `autodiscover_tasks`, imported by nothing that is): workers reject them as unregistered"
    FIX_TITLE = "add the module to `include`"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(JOBS, path="proj/jobs.py", files=_app(", include=['proj.jobs']")),
        Valid(
            JOBS,
            path="proj/jobs.py",
            files=_app(extra="app.conf.imports = ('proj.jobs',)\n"),
            note="imports setting",
        ),
        Valid(
            JOBS,
            path="proj/jobs/tasks.py",
            files={**_app(extra="app.autodiscover_tasks(['proj.jobs'])\n"), "proj/jobs/__init__.py": ""},
            note="autodiscover of a package",
        ),
        Valid(
            JOBS,
            path="orders/tasks.py",
            files={
                "proj/__init__.py": "",
                "proj/celery.py": DJANGO,
                "proj/settings.py": "",
                "orders/__init__.py": "",
            },
            note="Django autodiscovery of every installed app",
        ),
        Valid(
            JOBS,
            path="orders/signals.py",
            files={
                "proj/__init__.py": "",
                "proj/celery.py": DJANGO,
                "proj/settings.py": "",
                "orders/__init__.py": "",
                "orders/apps.py": "from django.apps import AppConfig\n\n\nclass OrdersConfig(AppConfig):\n    name = 'orders'\n\n    def ready(self):\n        from . import signals  # noqa: F401\n",
            },
            note="imported by AppConfig.ready()",
        ),
        Valid(
            JOBS,
            path="proj/jobs.py",
            files={**_app(", include=['proj.tasks']"), "proj/tasks.py": "from proj.jobs import cleanup\n"},
            note="imported by an included module",
        ),
        Valid(
            JOBS + "\n\napp = Celery('proj')\n",
            path="proj/jobs.py",
            files={"proj/__init__.py": ""},
            note="the module defines the app",
        ),
        Valid(
            JOBS,
            path="proj/jobs.py",
            files={**_app(), "Procfile": "worker: celery -A proj.jobs worker -l info\n"},
            note="the worker is started with -A on this module",
        ),
        Valid(
            JOBS,
            path="proj/jobs.py",
            files={
                **_app(extra="import os\napp.conf.imports = os.environ['IMPORTS'].split(',')\n"),
                "proj/settings.py": "IMPORTS = ['proj.jobs']\n",
            },
            note="the module name appears in a string",
        ),
        Valid(JOBS, path="lib/jobs.py", files={"lib/__init__.py": ""}, note="no Celery app in the project"),
        Valid(JOBS, path="tests/test_jobs.py", files=_app(), note="test code"),
    ]
    INVALID = [
        Invalid(JOBS, path="proj/jobs.py", files=_app(", include=['proj.tasks']"), line=5, column=1),
        Invalid(
            JOBS,
            path="proj/jobs/emails.py",
            files={**_app(extra="app.autodiscover_tasks(['proj.jobs'])\n"), "proj/jobs/__init__.py": ""},
            line=5,
            column=1,
            note="autodiscover only imports the package and its tasks module",
        ),
        Invalid(
            JOBS,
            path="orders/tasks/emails.py",
            files={
                "proj/__init__.py": "",
                "proj/celery.py": DJANGO,
                "proj/settings.py": "",
                "orders/__init__.py": "",
                "orders/tasks/__init__.py": "",
            },
            line=5,
            column=1,
            note="a tasks/ package whose __init__ imports nothing",
        ),
        Invalid(
            JOBS,
            path="proj/jobs.py",
            files={**_app(), "proj/views.py": "def index():\n    return 'ok'\n"},
            line=5,
            column=1,
            note="no include at all",
        ),
    ]

    def check(self) -> None:
        project = self.project
        tasks = project.tasks()
        if not tasks or not project.tasks_unreached:
            return
        self.report(tasks[0].node, self.message(module=project.module))
