from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.limits import (
    is_number,
    seconds,
    visibility_timeout,
)
from ...project.retries import has_splat, is_self_retry, keyword
from ...project.scan import dotted_name
from ...project.scopes import local_names, names_in
from ...project.values import Known, Resolved
from ..base import Invalid, Rule, Valid
from ..support import method_name

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...api import TaskView

REDIS_APP = "from celery import Celery\napp = Celery('proj', broker='redis://localhost:6379/0')\n"
SQS_APP = "from celery import Celery\napp = Celery('proj', broker='sqs://')\n"
DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)
SEND_METHODS = frozenset({"apply_async", "apply_async_on_commit", "send_task"})
NOW_FUNCTIONS = frozenset({"now", "utcnow"})
WAITING = "the unacked message is redelivered while it waits and the task runs more than once"
RUNNING = "a run that lasts longer is redelivered to another worker while it still runs"


def _on_signature(call: cst.Call) -> bool:
    """``x.s(...).set(...)`` / ``x.si(...).set(...)`` / ``x.signature(...).set(...)``."""
    receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
    return (
        isinstance(receiver, cst.Call)
        and isinstance(receiver.func, cst.Attribute)
        and receiver.func.attr.value in ("s", "si", "signature", "subtask")
    )


def _is_literal(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, (cst.Integer, cst.Float))


class BeyondVisibilityTimeout(Rule):
    """
    ## What it does
    Checks for countdowns, ETAs and late-ack time limits longer than the visibility
    timeout of a Redis or SQS broker. The broker comes from a known `broker_url`; the
    timeout is `visibility_timeout` in `broker_transport_options`, else kombu's default
    (one hour for Redis, 30 minutes for SQS, read from the installed kombu). Flagged:

    - a statically known `countdown=` or `eta=now() + timedelta(...)` given to
      `apply_async`, `send_task`, a signature's `.set()` or `self.retry()`, and the
      `default_retry_delay` a `self.retry()` without them falls back to;
    - the hard `time_limit` of a task with late acknowledgement.

    Other brokers, unknown brokers and unknown timeouts are never flagged.

    ## Why is this bad?
    Redis and SQS hand a message to a worker and take it back when it has not been
    acknowledged within the visibility timeout. A message waiting for its ETA stays
    unacknowledged in the worker, so after the timeout it is delivered again, to this or
    another worker, and again after the next timeout: the task runs several times. A
    late-ack task running past the timeout is redelivered while it still runs.

    ## Example
    ```python
    app = Celery("proj", broker="redis://redis:6379/0")

    send_reminder.apply_async((user_id,), countdown=3 * 3600)
    ```

    ## Use instead
    ```python
    app = Celery("proj", broker="redis://redis:6379/0")
    app.conf.broker_transport_options = {"visibility_timeout": 4 * 3600}

    send_reminder.apply_async((user_id,), countdown=3 * 3600)
    ```
    or keep long delays out of the broker (a database row that beat picks up).

    ## References
    - Celery, *Using Redis*: visibility timeout; *Using Amazon SQS*: visibility timeout
    - Celery, *Calling tasks*: ETA and countdown
    """

    CODE = "CEL209"
    NAME = "beyond-visibility-timeout"
    MESSAGE = "{what} is longer than the {timeout}: {effect}"
    FIX_TITLE = "raise `visibility_timeout` in `broker_transport_options` above it"
    SKIP_TEST_CODE = True
    TRIGGERS = (b"countdown", b"eta=")
    TRIGGERS_WITH = (b"apply_async", b"send_task", b"retry", b".set(")

    VALID = [
        Valid(REDIS_APP + "\n@app.task\ndef f():\n    pass\n\nf.apply_async(countdown=600)\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj', broker='amqp://guest@rabbit//')\n\n@app.task\ndef f():\n    pass\n\nf.apply_async(countdown=86400)\n",
            note="other brokers",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj', broker=os.environ['BROKER_URL'])\n\n@app.task\ndef f():\n    pass\n\nf.apply_async(countdown=86400)\n",
            note="unknown broker",
        ),
        Valid(
            REDIS_APP
            + "app.conf.broker_transport_options = {'visibility_timeout': 43200}\n\n@app.task\ndef f():\n    pass\n\nf.apply_async(countdown=7200)\n",
            note="a raised visibility timeout",
        ),
        Valid(
            "from orders.tasks import remind\n\nremind.apply_async(countdown=7200)\n",
            path="orders/views.py",
            files={
                "orders/tasks.py": "from celery import shared_task\n\n@shared_task\ndef remind():\n    pass\n",
                "proj/settings.py": "CELERY_BROKER_URL = 'redis://redis:6379/0'\nCELERY_BROKER_TRANSPORT_OPTIONS = {'visibility_timeout': 10800}\n",
                "proj/celery.py": DJANGO_CELERY_PY,
            },
            note="a raised visibility timeout in Django settings",
        ),
        Valid(
            REDIS_APP + "\n@app.task\ndef f(delay):\n    f.apply_async(countdown=delay)\n",
            note="a computed countdown",
        ),
        Valid(
            REDIS_APP
            + "DELAY = 7200\n\n@app.task\ndef f():\n    DELAY = 60\n    f.apply_async(countdown=DELAY)\n",
            note="a local name shadowing a module constant",
        ),
        Valid(
            REDIS_APP + "\n@app.task(acks_late=True, time_limit=1800)\ndef f():\n    pass\n",
            note="late ack within the timeout",
        ),
        Valid(
            REDIS_APP + "\n@app.task(time_limit=7200)\ndef f():\n    pass\n",
            note="early ack: a long run is not redelivered",
        ),
        Valid(
            SQS_APP + "\n@app.task\ndef f():\n    pass\n\nf.apply_async(countdown=1200)\n",
            note="SQS: below kombu's 1800 s",
        ),
        Valid(
            REDIS_APP
            + "opts = load()\napp.conf.broker_transport_options = opts\n\n@app.task\ndef f():\n    pass\n\nf.apply_async(countdown=7200)\n",
            note="transport options unknown",
        ),
        Valid(
            REDIS_APP
            + "\n@app.task(bind=True)\ndef f(self):\n    raise self.retry(countdown=60 * 2 ** self.request.retries)\n",
            note="a computed retry delay",
        ),
    ]
    INVALID = [
        Invalid(
            REDIS_APP + "\n@app.task\ndef f():\n    pass\n\nf.apply_async(args=(1,), countdown=7200)\n",
            line=8,
            column=26,
            message_contains="Redis visibility timeout of 3600 s (kombu's default",
        ),
        Invalid(
            SQS_APP + "\n@app.task\ndef f():\n    pass\n\nf.apply_async(countdown=2400)\n",
            line=8,
            column=15,
            message_contains="SQS visibility timeout of 1800 s",
        ),
        Invalid(
            REDIS_APP
            + "from datetime import datetime, timedelta, timezone\n\n@app.task\ndef f():\n    pass\n\nf.apply_async(eta=datetime.now(timezone.utc) + timedelta(hours=2))\n",
            line=9,
            column=15,
            message_contains="eta",
        ),
        Invalid(
            REDIS_APP
            + "\n@app.task(bind=True)\ndef f(self):\n    try:\n        work()\n    except IOError as exc:\n        raise self.retry(exc=exc, countdown=2 * 3600)\n",
            line=9,
            column=35,
        ),
        Invalid(
            REDIS_APP
            + "\n@app.task(bind=True, default_retry_delay=5400)\ndef f(self):\n    raise self.retry()\n",
            line=6,
            column=11,
            message_contains="default_retry_delay",
        ),
        Invalid(
            REDIS_APP
            + "app.conf.broker_transport_options = {'visibility_timeout': 600}\n\n@app.task\ndef f():\n    pass\n\nf.s().set(countdown=900).delay()\n",
            line=9,
            column=11,
            message_contains="visibility timeout of 600 s (broker_transport_options in tasks.py)",
            note="a lowered visibility timeout; signature options",
        ),
        Invalid(
            "from orders.tasks import remind\n\nremind.apply_async(countdown=7200)\n",
            path="orders/views.py",
            files={
                "orders/tasks.py": "from celery import shared_task\n\n@shared_task\ndef remind():\n    pass\n",
                "proj/settings.py": "CELERY_BROKER_URL = 'rediss://cache.example.com:6380/0'\n",
                "proj/celery.py": DJANGO_CELERY_PY,
            },
            line=3,
            column=20,
            note="Django settings with the CELERY namespace; a module that never mentions Celery",
        ),
        Invalid(
            REDIS_APP + "\n@app.task(\n    acks_late=True,\n    time_limit=7200,\n)\ndef f():\n    pass\n",
            line=6,
            column=5,
            message_contains="acknowledges late",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import LongTask\n\n@shared_task(base=LongTask)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass LongTask(Task):\n    acks_late = True\n    time_limit = 5000\n",
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
                "proj/celeryconfig.py": "broker_url = 'redis://localhost'\n",
            },
            line=5,
            column=1,
            note="base class in another module, broker from a config module",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    broker_url='redis://localhost',\n    task_acks_late=True,\n    task_time_limit=4 * 3600,\n)\n\n@app.task\ndef f():\n    pass\n",
            line=6,
            column=5,
            note="from the configuration: once, at task_time_limit",
        ),
    ]

    def __init__(self, context: object) -> None:
        super().__init__(context)  # type: ignore[arg-type]
        self._locals: dict[int, set[str]] = {}

    # ------------------------------------------------------------------ late-ack time limits
    def check(self) -> None:
        project = self.project
        reported: set[int] = set()
        for app in project.apps():
            if app.is_test:
                continue
            hard = app.setting("task_time_limit")
            node = project.node_in_file(hard)
            acks = app.setting("task_acks_late")
            if node is None or id(node) in reported or not (isinstance(acks, Known) and acks.value):
                continue
            assert isinstance(hard, Known)
            if self._late_ack_limit(node, app.setting, hard, acks, "every task"):
                reported.add(id(node))
        for task in project.tasks():
            acks = task.option("acks_late")
            if not (isinstance(acks, Known) and acks.value):
                continue
            hard = task.option("time_limit")
            if not isinstance(hard, Known):
                continue
            if task.option_from_configuration("time_limit") and task.option_from_configuration("acks_late"):
                continue  # reported at the configuration
            node = task.option_site(hard)
            if node is task.node:
                node = task.option_site(acks)
            self._late_ack_limit(node, task.setting, hard, acks, f"task '{task.label}'")

    def _late_ack_limit(
        self, node: cst.CSTNode, setting_of: Callable[[str], Resolved], hard: Known, acks: Known, subject: str
    ) -> bool:
        if not is_number(hard.value) or hard.value <= 0:
            return False
        timeout = visibility_timeout(setting_of)
        if timeout is None or hard.value <= timeout[0]:
            return False
        what = f"the time limit {seconds(hard.value)} ({hard.origin}) of {subject}, which acknowledges late ({acks.origin}),"
        self.report(node, self.message(what=what, timeout=timeout[1], effect=RUNNING))
        return True

    # ------------------------------------------------------------------ countdown and eta
    def visit_Call(self, node: cst.Call) -> None:
        method = method_name(node)
        if method is None:
            return
        project = self.project
        task = project.current_task()
        setting_of: Callable[[str], Resolved]
        if method in SEND_METHODS or (method == "set" and _on_signature(node)):
            receiver = self._receiver(node)
            setting_of = receiver.setting if receiver is not None else project.setting
        elif method == "retry" and task is not None and is_self_retry(node, task.bound_parameter):
            setting_of = task.setting
        else:
            return
        found = self._delay(node, method, task)
        if found is None:
            return
        target, delay, what = found
        timeout = visibility_timeout(setting_of)
        if timeout is None or delay <= timeout[0]:
            return
        self.report(target, self.message(what=what, timeout=timeout[1], effect=WAITING))

    def _receiver(self, call: cst.Call) -> TaskView | None:
        """The project task a send call is made on (``add.apply_async``, ``add.s().set``)."""
        receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
        while isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute):
            receiver = receiver.func.value  # ``t.s(...).set(...)``
        if receiver is None:
            return None
        return self.project.task_for_expression(receiver)

    def _delay(
        self, call: cst.Call, method: str, task: TaskView | None
    ) -> tuple[cst.CSTNode, float, str] | None:
        """The statically known delay of a send or retry call: (node, seconds, description)."""
        countdown = keyword(call, "countdown")
        eta = keyword(call, "eta")
        if countdown is not None:
            value = self._number(countdown.value)
            if value is None:
                return None
            code = self._code(countdown.value)
            shown = (
                f"`countdown={code}`"
                if _is_literal(countdown.value)
                else f"`countdown={code}` ({seconds(value)})"
            )
            return countdown, value, shown
        if eta is not None:
            offset = self._eta_offset(eta.value)
            if offset is None:
                return None
            return eta, offset, f"`eta` {seconds(offset)} ahead"
        if method == "retry" and task is not None and not has_splat(call):
            delay = task.option("default_retry_delay")
            if self._configured_number(delay):
                assert isinstance(delay, Known)
                return (
                    call,
                    delay.value,
                    f"the retry delay `default_retry_delay` {seconds(delay.value)} ({delay.origin})",
                )
        return None

    @staticmethod
    def _configured_number(value: Resolved) -> bool:
        return isinstance(value, Known) and not value.origin.default and is_number(value.value)

    @staticmethod
    def _code(expr: cst.BaseExpression) -> str:
        return cst.Module([]).code_for_node(expr)

    def _number(self, expr: cst.BaseExpression) -> float | None:
        stack = self.context.function_stack
        if stack:
            function = stack[-1]
            key = id(function)
            if key not in self._locals:
                self._locals[key] = local_names(function)
            if names_in(expr) & self._locals[key]:
                return None
        value = self.project.value_of(expr)
        if not isinstance(value, Known):
            return None
        return value.value if is_number(value.value) else None

    def _eta_offset(self, expr: cst.BaseExpression) -> float | None:
        """``now() + timedelta(...)`` (either order): the offset in seconds."""
        if not isinstance(expr, cst.BinaryOperation) or not isinstance(expr.operator, cst.Add):
            return None
        for now, delta in ((expr.left, expr.right), (expr.right, expr.left)):
            if isinstance(now, cst.Call):
                dotted = dotted_name(now.func)
                if dotted is not None and dotted.rpartition(".")[2] in NOW_FUNCTIONS:
                    return self._number(delta)
        return None
