from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.limits import is_number, seconds
from ...project.values import Known, Resolved
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


def _limit(value: Resolved) -> float | None:
    """A limit that is in force: a positive number (``None``/``0`` mean no limit)."""
    if isinstance(value, Known) and is_number(value.value) and value.value > 0:
        return value.value  # type: ignore[no-any-return]
    return None


class SoftLimitNotBelowHard(Rule):
    """
    ## What it does
    Checks for tasks whose effective `soft_time_limit` is not below their effective
    `time_limit`. Both must be known and set; they may come from the task decorator,
    its base classes, the app's task class, `task_annotations` or the
    `task_soft_time_limit`/`task_time_limit` settings. When both come from the app
    configuration the finding is reported once, at the soft limit's setting.

    ## Why is this bad?
    A soft limit above the hard one makes `apply_async()` raise
    `ValueError('soft_time_limit must be less than or equal to time_limit')` at publish
    time: the task can never be sent (Celery checks the task's attributes, which the
    configuration fills in). Equal limits are accepted, but the hard kill then comes at
    the same moment as `SoftTimeLimitExceeded`, so the task never gets the time to clean
    up that the soft limit exists for.

    ## Example
    ```python
    @app.task(time_limit=60, soft_time_limit=90)
    def render(report_id): ...
    ```

    ## Use instead
    ```python
    @app.task(time_limit=90, soft_time_limit=60)
    def render(report_id): ...
    ```

    ## References
    - Celery, *Tasks*: `time_limit`, `soft_time_limit`
    - Celery source: `Task.apply_async` (`celery/app/task.py`)
    """

    CODE = "CEL203"
    NAME = "soft-limit-not-below-hard"
    MESSAGE = "{subject}soft time limit {soft} ({soft_origin}) is {relation} the hard limit {hard} ({hard_origin}): {effect}"
    FIX_TITLE = "set `soft_time_limit` below `time_limit`"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import shared_task\n\n@shared_task(time_limit=60, soft_time_limit=50)\ndef f():\n    pass\n"
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(soft_time_limit=50)\ndef f():\n    pass\n",
            note="no hard limit",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(time_limit=60, soft_time_limit=LIMITS['soft'])\ndef f():\n    pass\n",
            note="unknown values",
        ),
        Valid(
            "from celery import shared_task\nimport os\n\n@shared_task(time_limit=60, soft_time_limit=int(os.environ['SOFT']))\ndef f():\n    pass\n",
            note="computed from the environment",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(task_time_limit=300, task_soft_time_limit=270)\n\n@app.task(soft_time_limit=200)\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_soft_time_limit = 600\n\n@app.task(soft_time_limit=100, time_limit=120)\ndef f():\n    pass\n",
            note="the task overrides the configured soft limit",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(time_limit=0, soft_time_limit=30)\ndef f():\n    pass\n",
            note="0 means no hard limit: Celery does not compare",
        ),
        Valid(
            "from celery import shared_task\nfrom vendor.tasks import VendorTask\n\n@shared_task(base=VendorTask, soft_time_limit=90)\ndef f():\n    pass\n",
            note="the hard limit may come from an unanalysed base class",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
            path="orders/tasks.py",
            files={
                "proj/settings.py": "CELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_SOFT_TIME_LIMIT = 240\n",
                "proj/celery.py": DJANGO_CELERY_PY,
            },
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(time_limit=60, soft_time_limit=90)\ndef f():\n    pass\n",
            line=3,
            column=29,
            message_contains="ValueError",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(\n    time_limit=60,\n    soft_time_limit=60,\n)\ndef f():\n    pass\n",
            line=5,
            column=5,
            message_contains="equal to",
            note="equal limits leave no time to clean up",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 60\n\n@app.task(soft_time_limit=120)\ndef f():\n    pass\n",
            line=5,
            column=11,
            message_contains="task_time_limit in tasks.py",
            note="soft on the task, hard from conf attribute",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import LimitedTask\n\n@shared_task(base=LimitedTask, soft_time_limit=200)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass LimitedTask(Task):\n    time_limit = 120\n"
            },
            line=4,
            column=32,
            message_contains="class LimitedTask",
            note="base class in another module",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_time_limit=60, task_soft_time_limit=90)\n",
            line=2,
            column=42,
            note="both in Celery() keyword arguments: reported once at the soft limit",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    task_time_limit=60,\n    task_soft_time_limit=60,\n)\n\n@app.task\ndef f():\n    pass\n",
            line=5,
            column=5,
            note="conf.update",
        ),
        Invalid(
            "CELERYD_TASK_TIME_LIMIT = 60\nCELERYD_TASK_SOFT_TIME_LIMIT = 120\n",
            path="proj/celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n"
            },
            line=2,
            column=1,
            note="old names in a config module",
        ),
        Invalid(
            "CELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_SOFT_TIME_LIMIT = 600\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=2,
            column=1,
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(soft_time_limit=400)\ndef f():\n    pass\n",
            path="orders/tasks.py",
            files={"proj/settings.py": "CELERY_TASK_TIME_LIMIT = 300\n", "proj/celery.py": DJANGO_CELERY_PY},
            line=3,
            column=14,
            message_contains="CELERY_TASK_TIME_LIMIT in proj/settings.py",
        ),
        Invalid(
            "from celery import Celery, Task\n\nclass Base(Task):\n    soft_time_limit = 90\n    time_limit = 60\n\napp = Celery('proj', task_cls=Base)\n\n@app.task\ndef f():\n    pass\n",
            line=10,
            column=1,
            note="the app's task_cls",
        ),
    ]

    def check(self) -> None:
        project = self.project
        reported: set[int] = set()
        for app in project.apps():
            if app.is_test:
                continue
            soft = app.setting("task_soft_time_limit")
            hard = app.setting("task_time_limit")
            node = project.node_in_file(soft)
            if (
                node is not None
                and id(node) not in reported
                and self._compare(node, "configured ", soft, hard)
            ):
                reported.add(id(node))
        for task in project.tasks():
            soft = task.option("soft_time_limit")
            hard = task.option("time_limit")
            if task.option_from_configuration("soft_time_limit") and task.option_from_configuration(
                "time_limit"
            ):
                continue  # reported at the configuration
            node = task.option_site(soft)
            if node is task.node:
                node = task.option_site(hard)
            self._compare(node, f"task '{task.label}': ", soft, hard)

    def _compare(self, node: cst.CSTNode, subject: str, soft: Resolved, hard: Resolved) -> bool:
        soft_value, hard_value = _limit(soft), _limit(hard)
        if soft_value is None or hard_value is None or soft_value < hard_value:
            return False
        assert isinstance(soft, Known) and isinstance(hard, Known)
        if soft_value > hard_value:
            relation, effect = "above", "`apply_async()` raises ValueError, the task cannot be sent"
        else:
            relation, effect = "equal to", "the hard kill comes with the soft exception, no time to clean up"
        self.report(
            node,
            self.message(
                subject=subject,
                soft=seconds(soft_value),
                soft_origin=soft.origin,
                relation=relation,
                hard=seconds(hard_value),
                hard_origin=hard.origin,
                effect=effect,
            ),
        )
        return True
