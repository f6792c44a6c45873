from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...project.limits import is_number
from ...project.values import Known
from ..base import Invalid, RuleOption, Valid
from ..support import unset_by_default
from ._task_option import UnsetTaskOptionRule

if TYPE_CHECKING:
    from ...api import TaskView

CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


class MissingTimeLimit(UnsetTaskOptionRule):
    """
    ## What it does
    Checks for tasks whose effective hard `time_limit` is unset: not on the task, not on
    its base class chain or the app's task class, and no `task_time_limit` in the app
    configuration. When the soft limit is unset too, the message says neither is set and
    this is the only finding for the task (CEL202 is for a hard limit without a soft one).

    ## Why is this bad?
    Without a hard limit a task stuck on a network call or a lock holds its worker
    process forever. Enough of them and the worker stops consuming while the queue
    grows. The hard limit kills and replaces the process.

    ## Example
    ```python
    @shared_task
    def sync_inventory(): ...
    ```

    ## Use instead
    ```python
    @shared_task(time_limit=300, soft_time_limit=270)
    def sync_inventory(): ...
    ```
    or set `task_time_limit` once in the configuration.

    ## Options
    - `default-time-limit`: the `time_limit` an autofix inserts (seconds).

    ## Fix safety
    Unsafe: a task that legitimately runs longer than the limit is killed. The fix adds
    `time_limit=<default-time-limit>` (300 s unless configured) where the task declares
    its options: a keyword of `@app.task`/`@shared_task` (an import alias too; a bare
    `@shared_task` becomes `@shared_task(time_limit=300)`), of a project wrapper that
    passes `**kwargs` on to `shared_task`, of the call form `app.task(func)`, or a class
    attribute of a class-based task (after its docstring and leading attributes). When the
    task already has a `soft_time_limit` at or above that value, the limit is set 10%
    above it, so that the soft limit still fires first. When neither limit is set, the fix
    adds `soft_time_limit=<default-soft-time-limit>` too (CEL202's option: 270 s unless
    configured, 10% below the hard limit when that is not above it). There is no fix for a decorator
    made by `shared_task(...)` at module level (`retry_task = shared_task(...)`, which takes
    only the function), a wrapper used bare or one that does not pass the keyword on, or
    a decorator called with `**options`.

    ## References
    - Celery, *Workers guide*: time limits
    """

    CODE = "CEL201"
    NAME = "missing-time-limit"
    MESSAGE = "task '{task}' has no time limit{neither} ({where}): a hung call holds a worker forever"
    FIX_TITLE = "set {limits}"
    OPTION = "time_limit"
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Add `time_limit=` (and `soft_time_limit=` when neither is set) to the task decorator"
    OPTIONS = (RuleOption("default-time-limit", int, 300, "Seconds an autofix uses for `time_limit`."),)

    VALID = [
        Valid("from celery import shared_task\n\n@shared_task(time_limit=60)\ndef f():\n    pass\n"),
        Valid(
            "from celery import shared_task\n\n@shared_task(time_limit=0)\ndef f():\n    pass\n",
            note="explicit 0 is CEL204's business",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_time_limit = 600\n\n@app.task\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import shared_task\nfrom proj.base import LimitedTask\n\n@shared_task(base=LimitedTask)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass LimitedTask(Task):\n    time_limit = 120\n"
            },
            note="base class in another module",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
            files={"proj/settings.py": "CELERY_TASK_TIME_LIMIT = 300\n", "proj/celery.py": CELERY_PY},
            note="Django setting",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(**OPTIONS)\ndef f():\n    pass\n",
            note="a splat: unknown",
        ),
        Valid(
            "from celery import Celery\nfrom proj.config import options\napp = Celery('proj')\napp.conf.update(options)\n\n@app.task\ndef f():\n    pass\n",
            note="configuration the analyzer cannot read",
        ),
        Valid("from invoke import task\n\n@task\ndef build(c):\n    pass\n", note="not a Celery task"),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
            line=4,
            column=1,
            message_contains="neither on the task nor `task_time_limit`; no Celery app was found",
            fixed="from celery import shared_task\n\n@shared_task(time_limit=300, soft_time_limit=270)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\n@app.task\ndef f():\n    pass\n",
            line=5,
            column=1,
            message_contains="neither `time_limit` nor `soft_time_limit`",
            note="neither limit: one finding (CEL202 stays silent), and the fix sets both",
            fixed="from celery import Celery\napp = Celery('proj')\n\n@app.task(time_limit=300, soft_time_limit=270)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(soft_time_limit=60)\ndef f():\n    pass\n",
            line=4,
            column=1,
            message_contains="has no time limit (neither on the task nor",
            note="a soft limit but no hard one: the message does not say neither, the fix sets `time_limit` only",
            fixed="from celery import shared_task\n\n@shared_task(soft_time_limit=60, time_limit=300)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_soft_time_limit = 60\n\n@app.task\ndef f():\n    pass\n",
            line=6,
            column=1,
            note="the soft limit from the configuration: the fix sets `time_limit` only",
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.task_soft_time_limit = 60\n\n@app.task(time_limit=300)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\n@app.task(bind=True)\ndef f(self):\n    pass\n",
            line=5,
            column=1,
            fixed="from celery import Celery\napp = Celery('proj')\n\n@app.task(bind=True, time_limit=300, soft_time_limit=270)\ndef f(self):\n    pass\n",
        ),
        Invalid(
            "from celery import shared_task as task\n\n@task(acks_late=True)\ndef f():\n    pass\n",
            line=4,
            column=1,
            note="import alias",
            fixed="from celery import shared_task as task\n\n@task(acks_late=True, time_limit=300, soft_time_limit=270)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from proj.decorators import retry_task\n\n@retry_task\ndef f():\n    pass\n",
            files={
                "proj/decorators.py": "from celery import shared_task\nretry_task = shared_task(max_retries=5)\n"
            },
            line=4,
            column=1,
            note="module-level alias in another module: it takes only the function, so no fix",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\nclass Export(app.Task):\n    name = 'export'\n\n    def run(self):\n        pass\n",
            line=4,
            column=1,
            note="class-based task",
            fixed="from celery import Celery\napp = Celery('proj')\n\nclass Export(app.Task):\n    name = 'export'\n    time_limit = 300\n    soft_time_limit = 270\n\n    def run(self):\n        pass\n",
        ),
        Invalid(
            'from celery import Celery\napp = Celery(\'proj\')\n\nclass Export(app.Task):\n    """Export."""\n\n    def run(self):\n        pass\n',
            line=4,
            column=1,
            note="class-based task with a docstring only",
            fixed='from celery import Celery\napp = Celery(\'proj\')\n\nclass Export(app.Task):\n    """Export."""\n    time_limit = 300\n    soft_time_limit = 270\n\n    def run(self):\n        pass\n',
        ),
        Invalid(
            "from celery import Task\n\nclass Export(Task):\n    def run(self):\n        pass\n",
            line=3,
            column=1,
            note="class-based task that starts with its method",
            fixed="from celery import Task\n\nclass Export(Task):\n    time_limit = 300\n    soft_time_limit = 270\n\n    def run(self):\n        pass\n",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n",
            files={
                "proj/settings.py": "CELERYD_TIME_LIMIT = 300\n",
                "proj/celery.py": CELERY_PY.replace(", namespace='CELERY'", ""),
            },
            line=4,
            column=1,
            note="the docs' old name CELERYD_TIME_LIMIT is ignored by Celery",
            fixed="from celery import shared_task\n\n@shared_task(time_limit=300, soft_time_limit=270)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(\n    bind=True,\n    soft_time_limit=600,\n)\ndef f(self):\n    pass\n",
            line=7,
            column=1,
            note="a soft limit above the default: the hard limit goes 10% above it",
            fixed="from celery import shared_task\n\n@shared_task(\n    bind=True,\n    soft_time_limit=600,\n    time_limit=660,\n)\ndef f(self):\n    pass\n",
        ),
        Invalid(
            "from proj.base import make_task\n\n@make_task(queue='q')\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import shared_task\n\ndef make_task(**kwargs):\n    return shared_task(acks_late=True, **kwargs)\n"
            },
            line=4,
            column=1,
            note="a project wrapper that passes **kwargs on",
            fixed="from proj.base import make_task\n\n@make_task(queue='q', time_limit=300, soft_time_limit=270)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from proj.base import make_task\n\n@make_task(queue='q')\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import shared_task\n\ndef make_task(queue):\n    return shared_task(queue=queue)\n"
            },
            line=4,
            column=1,
            note="a wrapper that takes no other option: no fix",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\ndef _add(x, y):\n    return x + y\n\nadd = app.task(_add)\n",
            line=4,
            column=1,
            note="the call form",
            fixed="from celery import Celery\napp = Celery('proj')\n\ndef _add(x, y):\n    return x + y\n\nadd = app.task(_add, time_limit=300, soft_time_limit=270)\n",
        ),
    ]

    def details(self, task: TaskView) -> dict[str, str]:
        if unset_by_default(task.option("soft_time_limit")):
            return {
                "neither": ": neither `time_limit` nor `soft_time_limit`",
                "limits": "`time_limit` and `soft_time_limit`",
            }
        return {"neither": "", "limits": "`time_limit`"}

    def fix_value(self, task: TaskView) -> Any:
        limit = self.context.options.get("default-time-limit", 300)
        if not is_number(limit) or limit <= 0:
            return None
        soft = task.option("soft_time_limit")
        if isinstance(soft, Known) and is_number(soft.value) and soft.value >= limit:
            # Keep the soft limit below the hard one (CEL203).
            return soft.value + max(1, soft.value // 10)
        return limit

    def fix_options(self, task: TaskView) -> list[tuple[str, Any]]:
        hard = self.fix_value(task)
        if hard is None:
            return []
        if not unset_by_default(task.option("soft_time_limit")):
            return [("time_limit", hard)]
        # Neither limit: one fix sets both, the soft one below the hard one (CEL203).
        soft = self.context.options.get("default-soft-time-limit", 270)
        if not is_number(soft) or soft <= 0 or soft >= hard:
            soft = hard - max(1, hard // 10)
        return [("time_limit", hard), ("soft_time_limit", soft)] if soft > 0 else [("time_limit", hard)]
