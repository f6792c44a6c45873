from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...project.limits import is_number
from ...project.values import Known
from ..base import Invalid, RuleOption, Valid
from ..support import has_hard_limit
from ._task_option import UnsetTaskOptionRule

if TYPE_CHECKING:
    from ...api import TaskView


class MissingSoftTimeLimit(UnsetTaskOptionRule):
    """
    ## What it does
    Checks for tasks that have a hard `time_limit` but whose effective `soft_time_limit`
    is unset: not on the task, its base classes or the app's task class, and no
    `task_soft_time_limit` in the configuration. A task with neither limit is CEL201's
    finding alone (one finding per cause).

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
    Unsafe: the task starts receiving an exception it may not expect. The fix adds
    `soft_time_limit=<default-soft-time-limit>` (270 s unless configured) where the task
    declares its options, in the same places as CEL201's fix (decorator keyword, wrapper
    that passes `**kwargs` on, call form, class attribute). When the task's hard limit is
    not above that value, the soft limit is set 10% below it, so that it still fires first
    (CEL203); no fix when the hard limit is 1 s or less.

    ## References
    - Celery, *Tasks*: `soft_time_limit`
    """

    CODE = "CEL202"
    NAME = "missing-soft-time-limit"
    MESSAGE = "task '{task}' has no soft time limit ({where}): it cannot clean up before it is killed"
    FIX_TITLE = "set `soft_time_limit`"
    OPTION = "soft_time_limit"
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Add `soft_time_limit=` to the task decorator"
    OPTIONS = (
        RuleOption("default-soft-time-limit", int, 270, "Seconds an autofix uses for `soft_time_limit`."),
    )

    VALID = [
        Valid("from celery import shared_task\n\n@shared_task(soft_time_limit=50)\ndef f():\n    pass\n"),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
            note="no limit at all: CEL201's finding (one finding per cause)",
        ),
        Valid(
            "from celery import Task\n\nclass Export(Task):\n    def run(self):\n        pass\n",
            note="class-based task with no limit at all: CEL201's finding",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(time_limit=0)\ndef f():\n    pass\n",
            note="an explicit `time_limit=0`: no hard limit, CEL204's business",
        ),
        Valid(
            "from celery import shared_task\nfrom proj.limits import compute_limit\n\n@shared_task(time_limit=compute_limit())\ndef f():\n    pass\n",
            note="a hard limit the analyzer cannot read: unknown, so silent",
        ),
        Valid(
            "from celery import Celery\nfrom proj.config import options\napp = Celery('proj')\napp.conf.update(options)\n\n@app.task\ndef f():\n    pass\n",
            note="configuration the analyzer cannot read: the hard limit is unknown",
        ),
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
            "from celery import shared_task\n\n@shared_task(time_limit=600)\ndef f():\n    pass\n",
            line=4,
            column=1,
            fixed="from celery import shared_task\n\n@shared_task(time_limit=600, soft_time_limit=270)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(time_limit=60)\ndef f():\n    pass\n",
            line=4,
            column=1,
            note="a hard limit below the default: the soft limit goes 10% below it",
            fixed="from celery import shared_task\n\n@shared_task(time_limit=60, soft_time_limit=54)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 60\n\n@app.task\ndef f():\n    pass\n",
            line=6,
            column=1,
            note="the hard limit from the configuration",
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 60\n\n@app.task(soft_time_limit=54)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(time_limit=1)\ndef f():\n    pass\n",
            line=4,
            column=1,
            note="no room below a one-second hard limit: no fix",
        ),
        Invalid(
            "from celery import Task\n\nclass Export(Task):\n    time_limit = 300\n\n    def run(self):\n        pass\n",
            line=3,
            column=1,
            note="class-based task",
            fixed="from celery import Task\n\nclass Export(Task):\n    time_limit = 300\n    soft_time_limit = 270\n\n    def run(self):\n        pass\n",
        ),
    ]

    def concerns(self, task: TaskView) -> bool:
        # Without a hard limit the task has no time limit at all: one cause, CEL201's finding.
        return has_hard_limit(task)

    def fix_value(self, task: TaskView) -> Any:
        limit = self.context.options.get("default-soft-time-limit", 270)
        if not is_number(limit) or limit <= 0:
            return None
        effective = task.option("time_limit")
        # concerns() holds: the hard limit is a known positive number.
        hard: Any = effective.value if isinstance(effective, Known) else None
        if is_number(hard) and 0 < hard <= limit:
            # Keep the soft limit below the hard one (CEL203).
            limit = hard - max(1, hard // 10)
            return limit if limit > 0 else None
        return limit
