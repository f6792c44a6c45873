from __future__ import annotations

from ..base import Invalid, RuleOption, Valid
from ._task_option import UnsetTaskOptionRule


class MissingSoftTimeLimit(UnsetTaskOptionRule):
    """
    ## What it does
    Checks for tasks whose effective `soft_time_limit` is unset: not on the task, its
    base classes or the app's task class, and no `task_soft_time_limit` in the
    configuration.

    ## Why is this bad?
    The soft limit raises `SoftTimeLimitExceeded` inside the task, which gives it a
    chance to release locks, roll back and record progress before the hard limit kills
    the process without any cleanup.

    ## Example
    ```python
    @app.task(time_limit=300)
    def render(report_id): ...
    ```

    ## Use instead
    ```python
    @app.task(time_limit=300, soft_time_limit=270)
    def render(report_id): ...
    ```

    ## Options
    - `default-soft-time-limit`: the `soft_time_limit` an autofix inserts (seconds).

    ## Fix safety
    Unsafe: the task starts receiving an exception it may not expect.

    ## References
    - Celery, *Tasks*: `soft_time_limit`
    """

    CODE = "CEL202"
    NAME = "missing-soft-time-limit"
    MESSAGE = "task '{task}' has no soft time limit ({where}): it cannot clean up before it is killed; set `soft_time_limit`"
    OPTION = "soft_time_limit"
    FIX_SAFETY = "unsafe"
    FIX_TITLE = "Add `soft_time_limit=` to the task decorator"
    OPTIONS = (
        RuleOption("default-soft-time-limit", int, 270, "Seconds an autofix uses for `soft_time_limit`."),
    )

    VALID = [
        Valid("from celery import shared_task\n\n@shared_task(soft_time_limit=50)\ndef f():\n    pass\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj', task_soft_time_limit=30)\n\n@app.task\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import Celery, Task\n\nclass Base(Task):\n    soft_time_limit = 10\n\napp = Celery('proj', task_cls=Base)\n\n@app.task\ndef f():\n    pass\n",
            note="the app's task_cls",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n\n@app.task\ndef f():\n    pass\n",
            files={"proj/celeryconfig.py": "CELERYD_TASK_SOFT_TIME_LIMIT = 20\n"},
            note="old name in a config module",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(time_limit=60)\ndef f():\n    pass\n", line=4
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 60\n\n@app.task\ndef f():\n    pass\n",
            line=6,
        ),
    ]
