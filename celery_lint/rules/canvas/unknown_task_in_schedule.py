from __future__ import annotations

import difflib

from ...project.beat import entry_label
from ...project.tasknames import (
    DEFAULT_KNOWN_PACKAGES,
    KNOWN_PACKAGES_OPTION,
    from_known_package,
    known_packages,
)
from ..base import Invalid, Rule, RuleOption, Valid
from ._cases import CELERYCONFIG_APP, DJANGO_CELERY, PLAIN_CELERY, project

ON_CONFIGURE = (
    "from celery import Celery, signature\n"
    "app = Celery('proj')\n\n\n"
    "@app.on_after_configure.connect\n"
    "def setup_periodic_tasks(sender, **kwargs):\n"
    "    sender.add_periodic_task(60.0, {sig}, name='every minute')\n"
)


class UnknownTaskInSchedule(Rule):
    """
    ## What it does
    Checks for beat entries whose `task` names no task of the analysed project: the
    `task` of a `beat_schedule` entry (in every configuration form, Django settings and
    later `SCHEDULE["x"] = {...}` additions included) and `signature("name")` given to
    `add_periodic_task`.

    A task without `name=` is registered as `<module>.<function>`, after the name Python
    imports its module under. Because that name depends on `sys.path`, a schedule name
    also counts as known when its module part and the task's module path end the same
    way (`orders.tasks.charge` matches `charge` in `backend/orders/tasks.py`). The rule
    stays silent when some task's name cannot be resolved, for computed names, for
    names from packages outside the project, and for names under `known-task-packages`.

    ## Why is this bad?
    Beat sends the message all the same; the worker finds no such task, logs
    "Received unregistered task" and drops it. The job silently never runs, usually
    after a rename or a module move.

    ## Example
    ```python
    app.conf.beat_schedule = {
        "nightly-report": {"task": "reports.tasks.send_report", "schedule": crontab(minute=0, hour=2)},
    }
    # reports/tasks.py defines send_daily_report
    ```

    ## Use instead
    ```python
    app.conf.beat_schedule = {
        "nightly-report": {"task": "reports.tasks.send_daily_report", "schedule": crontab(minute=0, hour=2)},
    }
    ```

    ## Options
    - `known-task-packages`: name prefixes of tasks defined outside the project
      (default `["celery."]`, for Celery's built-in `celery.backend_cleanup`).

    ## References
    - Celery, *Periodic Tasks*: entries
    - Celery, *Tasks*: names
    """

    CODE = "CEL701"
    NAME = "unknown-task-in-schedule"
    MESSAGE = "beat entry '{entry}' runs task '{task}', which is not a task of this project: workers drop it as unregistered"
    FIX_TITLE = "{fix}"
    SKIP_TEST_CODE = True
    OPTIONS = (
        RuleOption(
            KNOWN_PACKAGES_OPTION,
            list,
            DEFAULT_KNOWN_PACKAGES,
            "Task name prefixes defined outside the project (CEL701, CEL705).",
        ),
    )

    VALID = [
        Valid(
            PLAIN_CELERY
            + "app.conf.beat_schedule = {'add-every-30s': {'task': 'proj.tasks.add', 'schedule': 30.0, 'args': (1, 2)}}\n",
            path="proj/celery.py",
            files=project(),
        ),
        Valid(
            PLAIN_CELERY
            + "app.conf.beat_schedule = {'cleanup': {'task': 'celery.backend_cleanup', 'schedule': 3600}}\n",
            path="proj/celery.py",
            files=project(),
            note="Celery's built-in task (known-task-packages)",
        ),
        Valid(
            "import os\n"
            + PLAIN_CELERY
            + "app.conf.beat_schedule = {'job': {'task': os.environ['JOB_TASK'], 'schedule': 60}}\n",
            path="proj/celery.py",
            files=project(),
            note="computed name",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.beat_schedule = {'job': {'task': 'proj.tasks.other', 'schedule': 60}}\n",
            path="proj/celery.py",
            files=project(
                **{
                    "proj/jobs.py": "import os\nfrom celery import shared_task\n\n\n@shared_task(name=os.environ['NAME'])\ndef other():\n    pass\n"
                }
            ),
            note="a task whose name is unknown could be the one",
        ),
        Valid(
            PLAIN_CELERY
            + "app.conf.beat_schedule = {'add': {'task': 'shop.orders.tasks.charge', 'schedule': 60}}\n",
            path="orders/celery.py",
            files={
                "orders/__init__.py": "",
                "orders/tasks.py": "from celery import shared_task\n\n\n@shared_task\ndef charge(order_id):\n    return order_id\n",
            },
            note="the analysed root sits inside the package: module paths end the same way",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.beat_schedule = {'add': {'task': 'tasks.add', 'schedule': 60}}\n",
            path="proj/celery.py",
            files=project(),
            note="the worker runs from inside proj/: the module is imported as `tasks`",
        ),
        Valid(
            PLAIN_CELERY
            + "app.conf.beat_schedule = {'clean': {'task': 'django_celery_results.tasks.cleanup', 'schedule': 60}}\n",
            path="proj/celery.py",
            files=project(),
            note="a task of an installed package outside the project",
        ),
        Valid(
            ON_CONFIGURE.format(sig="add.s(1, 2)").replace(
                "from celery import Celery, signature\n",
                "from celery import Celery, signature\nfrom proj.tasks import add\n",
            ),
            path="proj/celery.py",
            files=project(),
            note="add_periodic_task with a task signature",
        ),
        Valid(
            ON_CONFIGURE.format(sig="add.si(1, 2).set(queue='q')").replace(
                "from celery import Celery, signature\n",
                "from celery import Celery, signature\nfrom proj.tasks import add\n",
            ),
            path="proj/celery.py",
            files=project(),
            note="signature with options",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.beat_schedule = {'add': {'task': 'proj.tasks.ad', 'schedule': 60}}\n",
            path="tests/test_beat.py",
            files=project(),
            note="test code",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.beat_schedule = {'add': {'task': 'orders.charge', 'schedule': 60}}\n",
            path="proj/celery.py",
            files=project(
                **{
                    "proj/orders.py": "from celery import shared_task\n\n\n@shared_task(name='orders.charge')\ndef charge(order_id):\n    return order_id\n"
                }
            ),
            note="explicit task name",
        ),
    ]
    INVALID = [
        Invalid(
            PLAIN_CELERY
            + "app.conf.beat_schedule = {\n    'add-every-30s': {'task': 'proj.tasks.ad', 'schedule': 30.0},\n}\n",
            path="proj/celery.py",
            files=project(),
            line=4,
            column=23,
            message_contains="'proj.tasks.add'",
            note="conf attribute; hint names the closest task",
        ),
        Invalid(
            PLAIN_CELERY
            + "app.conf.update(\n    beat_schedule={\n        'sum': {'task': 'proj.tasks.sum', 'schedule': 30.0},\n    },\n)\n",
            path="proj/celery.py",
            files=project(),
            line=5,
            column=17,
            note="conf.update",
        ),
        Invalid(
            "from celery.schedules import crontab\n\nCELERY_BEAT_SCHEDULE = {\n    'nightly': {'task': 'proj.tasks.nightly', 'schedule': crontab(minute=0, hour=2)},\n}\n",
            path="proj/settings.py",
            files=project(**{"proj/celery.py": DJANGO_CELERY}),
            line=4,
            column=17,
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            "beat_schedule = {\n    'sub': {'task': 'proj.tasks.sub', 'schedule': 10},\n}\n",
            path="celeryconfig.py",
            files=project(**{"proj/celery.py": CELERYCONFIG_APP}),
            line=2,
            column=13,
            note="celeryconfig module",
        ),
        Invalid(
            "from celery import Celery\n\n\nclass Config:\n    beat_schedule = {\n        'sub': {'task': 'proj.tasks.sub', 'schedule': 10},\n    }\n\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            path="proj/celery.py",
            files=project(),
            line=6,
            column=17,
            note="configuration class",
        ),
        Invalid(
            ON_CONFIGURE.format(sig="sender.signature('proj.tasks.gone', args=(1,))"),
            path="proj/celery.py",
            files=project(),
            line=7,
            column=53,
            note="the signal's sender builds the signature",
        ),
        Invalid(
            ON_CONFIGURE.format(sig="signature('proj.tasks.missing')"),
            path="proj/celery.py",
            files=project(),
            line=7,
            column=46,
            note="add_periodic_task in on_after_configure.connect",
        ),
        Invalid(
            "import os\nCELERY_BEAT_SCHEDULE = {}\nif os.environ.get('FEATURE'):\n    CELERY_BEAT_SCHEDULE['feature'] = {'task': 'proj.tasks.feature', 'schedule': 60}\n",
            path="proj/settings.py",
            files=project(**{"proj/celery.py": DJANGO_CELERY}),
            line=4,
            column=40,
            note="an entry added under an if",
        ),
        Invalid(
            PLAIN_CELERY + "app.conf.beat_schedule = {'add': {'task': 'orders.charg', 'schedule': 60}}\n",
            path="proj/celery.py",
            files=project(
                **{
                    "proj/orders.py": "from celery import shared_task\n\n\n@shared_task(name='orders.charge')\ndef charge(order_id):\n    return order_id\n"
                }
            ),
            line=3,
            column=35,
            message_contains="'orders.charge'",
            note="explicit task names",
        ),
        Invalid(
            "CELERY_BEAT_SCHEDULE = {\n    'sessions': {'task': 'clear_sessions', 'schedule': 3600},\n}\n",
            path="proj/settings.py",
            files=project(
                **{
                    "proj/celery.py": (
                        "import os\nfrom celery import Celery\n"
                        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
                        "app = Celery('proj')\napp.config_from_object('django.conf:settings')\n"
                        "app.conf.beat_schedule = app.conf.CELERY_BEAT_SCHEDULE\n"
                    ),
                }
            ),
            line=2,
            column=18,
            note="schedule copied from Django settings without the namespace",
        ),
    ]

    def check(self) -> None:
        view = self.project
        entries = view.beat_entries()
        if not entries or not view.has_tasks or not view.all_task_names_known:
            return
        prefixes = known_packages(self.context.options.get(KNOWN_PACKAGES_OPTION))
        for entry in entries:
            scheduled = view.scheduled_task(entry)
            if scheduled is None or scheduled.name is None or scheduled.tasks:
                continue
            name = scheduled.name
            if from_known_package(name, prefixes) or view.outside_project(name):
                continue
            self.report(
                scheduled.node,
                self.message(entry=entry_label(entry), task=name, fix=_fix(name, view.task_names())),
            )


def _fix(name: str, names: list[str]) -> str:
    last = name.rpartition(".")[2]
    for candidate in difflib.get_close_matches(name, names, n=5, cutoff=0.75):
        other = candidate.rpartition(".")[2]
        if other == last or difflib.SequenceMatcher(None, last, other).ratio() >= 0.75:
            return f"did you mean '{candidate}'?"
    return "fix the name or give the task that `name=`"
