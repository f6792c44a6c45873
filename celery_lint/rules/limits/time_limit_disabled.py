from __future__ import annotations

from ...project.limits import is_number, seconds
from ...project.values import Known
from ..base import Invalid, Rule, Valid

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)
LIMITS = (("time_limit", "task_time_limit"), ("soft_time_limit", "task_soft_time_limit"))


class TimeLimitDisabled(Rule):
    """
    ## What it does
    Checks for tasks that set `time_limit=0` or `soft_time_limit=0` while the
    configuration sets a global limit (`task_time_limit` / `task_soft_time_limit`). The
    `0` may be on the decorator (reported at the keyword), a base class or the app's
    task class.

    An explicit `None` is not flagged: Celery copies the app setting into every task
    attribute that is `None` when the task is bound, so `time_limit=None` keeps the
    global limit.

    ## Why is this bad?
    `0` is meant as "no limit", but it does not do that reliably. The worker hands the
    pool `time_limit or task.time_limit`, and the prefork pool (the default) replaces a
    falsy timeout with its own, which is the global `task_time_limit`: the task is still
    killed at the global limit. The gevent pool keeps the `0` and drops the limit. The
    same code thus behaves differently per pool, and on neither does it express a
    deliberate bound. A task that needs more time should say how much.

    ## Example
    ```python
    app.conf.task_time_limit = 300

    @app.task(time_limit=0)
    def rebuild_search_index(): ...
    ```

    ## Use instead
    ```python
    app.conf.task_time_limit = 300

    @app.task(time_limit=3600, soft_time_limit=3500)
    def rebuild_search_index(): ...
    ```

    ## References
    - Celery, *Workers guide*: time limits
    - Celery source: `Request.execute_using_pool` (`celery/worker/request.py`),
      `Pool.apply_async` (`billiard/pool.py`), `TaskPool.on_apply`
      (`celery/concurrency/gevent.py`)
    """

    CODE = "CEL204"
    NAME = "time-limit-disabled"
    MESSAGE = "task '{task}' sets `{option}=0` ({origin}) against the global `{setting}` of {limit} ({setting_origin}): the prefork pool still applies the global limit, gevent drops it"
    FIX_TITLE = "set an explicit `{option}` instead"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 300\n\n@app.task(time_limit=None)\ndef f():\n    pass\n",
            note="an explicit None takes the app setting: not an override",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(time_limit=0)\ndef f():\n    pass\n",
            note="no global limit to override",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 300\n\n@app.task(time_limit=3600)\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 300\n\n@app.task(soft_time_limit=0)\ndef f():\n    pass\n",
            note="soft 0 while only a hard global limit exists",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = int(os.environ['LIMIT'])\n\n@app.task(time_limit=0)\ndef f():\n    pass\n",
            note="global limit unknown",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 300\napp.conf.task_annotations = {'tasks.f': {'time_limit': 600}}\n\n@app.task(time_limit=0)\ndef f():\n    pass\n",
            note="task_annotations beat the decorator",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 300\n\n@app.task(\n    bind=True,\n    time_limit=0,\n)\ndef f(self):\n    pass\n",
            line=7,
            column=5,
            message_contains="task_time_limit in tasks.py",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_soft_time_limit=240)\n\n@app.task(soft_time_limit=0)\ndef f():\n    pass\n",
            line=4,
            column=11,
            note="soft limit, Celery() keyword argument",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(time_limit=0)\ndef f():\n    pass\n",
            path="orders/tasks.py",
            files={"proj/settings.py": "CELERY_TASK_TIME_LIMIT = 300\n", "proj/celery.py": DJANGO_CELERY_PY},
            line=3,
            column=14,
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import Unlimited\n\n@shared_task(base=Unlimited)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass Unlimited(Task):\n    time_limit = 0\n",
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
                "proj/celeryconfig.py": "task_time_limit = 600\n",
            },
            line=5,
            column=1,
            message_contains="class Unlimited",
            note="base class in another module, config module",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(task_time_limit=300)\n\nclass Export(app.Task):\n    name = 'export'\n    time_limit = 0\n\n    def run(self):\n        pass\n",
            line=7,
            column=5,
            note="class-based task: at the attribute",
        ),
    ]

    def check(self) -> None:
        for task in self.project.tasks():
            for option, setting in LIMITS:
                value = task.option(option)
                if not isinstance(value, Known) or not is_number(value.value) or value.value != 0:
                    continue
                if task.option_from_configuration(option):
                    continue
                limit = task.setting(setting)
                if not isinstance(limit, Known) or not is_number(limit.value) or limit.value <= 0:
                    continue
                self.report(
                    task.option_site(value),
                    self.message(
                        task=task.label,
                        option=option,
                        origin=value.origin,
                        setting=setting,
                        limit=seconds(limit.value),
                        setting_origin=limit.origin,
                    ),
                )
