from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.beat import BeatEntry
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ..support import method_name
from ._cases import CELERYCONFIG_APP, DJANGO_CELERY, project

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

QUEUES_APP = (
    "from celery import Celery\nfrom kombu import Queue\n"
    "app = Celery('proj')\n"
    "app.conf.task_queues = (Queue('default'), Queue('mail'))\n"
)
SEND_METHODS = frozenset({"apply_async", "send_task", "signature", "subtask", "set", "retry"})
SIGNATURE_CALLS = frozenset(
    {"celery.signature", "celery.Signature", "celery.canvas.signature", "celery.canvas.Signature"}
)


class UndeclaredQueue(Rule):
    """
    ## What it does
    Checks, when the project defines `task_queues`, for tasks sent to a queue that
    `task_queues` does not list: `queue=` on a task decorator or a task base class,
    `queue=` in `apply_async`, `send_task`, `signature(...)` and `.set(...)`, a
    `task_routes` route (`{"queue": "q"}` or a bare `"q"`), and `options={"queue": ...}`
    of a beat entry. It is silent when `task_queues` is not defined (Celery then
    declares queues on demand) or cannot be read, and for queues that a launcher file
    of the project (Procfile, shell script, compose file, ...) gives a worker with
    `-Q`/`--queues`.

    ## Why is this bad?
    With `task_create_missing_queues=False` publishing to the queue raises
    `QueueNotFound`. With the default `True`, the client declares the queue when it
    publishes, but a worker started without `-Q` consumes only the queues in
    `task_queues` (`Queues._default_consume_from`, `celery/app/amqp.py`), so the
    messages pile up unseen until someone starts a worker with `-Q <name>`. Either way
    the usual cause is a typo or a queue that was renamed in one place only.

    ## Example
    ```python
    app.conf.task_queues = (Queue("default"), Queue("mail"))

    @app.task(queue="emails")
    def send_welcome(user_id): ...
    ```

    ## Use instead
    ```python
    app.conf.task_queues = (Queue("default"), Queue("mail"))

    @app.task(queue="mail")
    def send_welcome(user_id): ...
    ```

    ## References
    - Celery, *Routing Tasks*: `task_queues`, `task_create_missing_queues`
    """

    CODE = "CEL706"
    NAME = "undeclared-queue"
    MESSAGE = "queue '{queue}' {where} is not in `task_queues` ({origin}): {consequence}"
    FIX_TITLE = "declare it or fix the name"
    SKIP_TEST_CODE = True
    TRIGGERS = (b".apply_async(",)
    TRIGGERS_WITH = (b"queue",)

    VALID = [
        Valid(
            "from proj.celery import app\n\n\n@app.task(queue='mail')\ndef send(user_id):\n    return user_id\n",
            path="proj/tasks.py",
            files={"proj/__init__.py": "", "proj/celery.py": QUEUES_APP},
        ),
        Valid(
            "from celery import shared_task\n\n\n@shared_task(queue='emails')\ndef send(user_id):\n    return user_id\n",
            path="proj/tasks.py",
            files={
                "proj/__init__.py": "",
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\n",
            },
            note="no task_queues defined: Celery declares queues on demand",
        ),
        Valid(
            "from proj.tasks import send\n\nsend.apply_async((1,), queue='mail')\nsend.apply_async((1,), queue=QUEUE)\n",
            path="proj/views.py",
            files=project(**{"proj/celery.py": QUEUES_APP}),
        ),
        Valid(
            "from proj.tasks import send\n\nsend.apply_async((1,), queue='emails')\n",
            path="proj/views.py",
            files=project(
                **{
                    "proj/celery.py": QUEUES_APP.replace(
                        "(Queue('default'), Queue('mail'))", "(Queue('default'), *EXTRA)"
                    )
                }
            ),
            note="task_queues cannot be read completely",
        ),
        Valid(
            "from proj.tasks import send\n\nsend.apply_async((1,), queue='emails')\n",
            path="tests/test_views.py",
            files=project(**{"proj/celery.py": QUEUES_APP}),
            note="test code",
        ),
        Valid(
            "from proj.tasks import add\n\nadd.apply_async((1, 2), queue='reports')\n",
            path="proj/views.py",
            files=project(
                **{
                    "proj/celery.py": QUEUES_APP,
                    "docker-compose.yml": "services:\n  reports:\n    command: celery -A proj worker -Q reports,default\n",
                }
            ),
            note="a worker is started with -Q for the queue",
        ),
        Valid(
            QUEUES_APP
            + "app.conf.task_routes = {'proj.tasks.add': {'queue': 'mail'}, 'proj.tasks.*': 'default'}\n",
            path="proj/celery.py",
            files=project(),
        ),
    ]
    INVALID = [
        Invalid(
            "from proj.celery import app\n\n\n@app.task(queue='emails')\ndef send(user_id):\n    return user_id\n",
            path="proj/tasks.py",
            files={"proj/__init__.py": "", "proj/celery.py": QUEUES_APP},
            line=4,
            column=17,
            message_contains="-Q emails",
            note="decorator",
        ),
        Invalid(
            "from proj.tasks import add\n\nadd.apply_async((1, 2), queue='maths')\n",
            path="proj/views.py",
            files=project(**{"proj/celery.py": QUEUES_APP}),
            line=3,
            column=25,
        ),
        Invalid(
            "from celery import Celery\nfrom kombu import Queue\napp = Celery('proj')\n"
            "app.conf.update(task_queues=[Queue('default')], task_routes={'proj.tasks.*': {'queue': 'math'}})\n",
            path="proj/celery.py",
            files=project(),
            line=4,
            column=79,
            note="conf.update",
        ),
        Invalid(
            "from proj.celery import app\n\napp.send_task('proj.tasks.add', (1, 2), queue='maths')\n",
            path="proj/views.py",
            files=project(**{"proj/celery.py": QUEUES_APP}),
            line=3,
            column=41,
        ),
        Invalid(
            QUEUES_APP + "app.conf.task_routes = {'proj.tasks.add': {'queue': 'maths'}}\n",
            path="proj/celery.py",
            files=project(),
            line=5,
            column=44,
            note="route",
        ),
        Invalid(
            "from kombu import Queue\n\nCELERY_TASK_QUEUES = [Queue('default'), Queue('mail')]\n"
            "CELERY_TASK_CREATE_MISSING_QUEUES = False\n"
            "CELERY_TASK_ROUTES = {'proj.tasks.add': 'maths'}\n",
            path="proj/settings.py",
            files=project(**{"proj/celery.py": DJANGO_CELERY}),
            line=5,
            column=41,
            message_contains="QueueNotFound",
            note="Django settings, bare queue name, missing queues not created",
        ),
        Invalid(
            "from kombu import Queue\n\ntask_queues = [Queue('default')]\n"
            "beat_schedule = {'add': {'task': 'proj.tasks.add', 'schedule': 60, 'options': {'queue': 'periodic'}}}\n",
            path="celeryconfig.py",
            files=project(**{"proj/celery.py": CELERYCONFIG_APP}),
            line=4,
            column=80,
            note="beat entry options in a celeryconfig module",
        ),
        Invalid(
            "from celery import Task\n\n\nclass MailTask(Task):\n    queue = 'emails'\n",
            path="proj/base.py",
            files=project(
                **{
                    "proj/celery.py": QUEUES_APP,
                    "proj/mail.py": "from celery import shared_task\nfrom proj.base import MailTask\n\n\n@shared_task(base=MailTask)\ndef send(user_id):\n    return user_id\n",
                }
            ),
            line=5,
            column=5,
            note="base class attribute, reported where it is written",
        ),
    ]

    def check(self) -> None:
        view = self.project
        declared = view.declared_queues()
        if not isinstance(declared, Known) or declared.value is None:
            return
        for node, queue, where in view.task_queue_sites():
            self._flag(node, queue, where)
        for route in view.routes():
            found = view.route_queue(route.value)
            if found is not None:
                self._flag(found[1], found[0], f"in the route for '{route.pattern or '...'}'")
        for entry in view.beat_entries():
            self._entry_queue(entry)

    def _entry_queue(self, entry: BeatEntry) -> None:
        view = self.project
        where = f"in beat entry '{entry.name or '...'}'"
        if entry.form == "beat_schedule":
            options = entry.fields.get("options")
            if options is not None:
                found = view.route_queue(options[0])
                if found is not None:
                    self._flag(found[1], found[0], where)
        elif entry.call is not None:
            for arg in entry.call.args:
                if arg.keyword is not None and arg.keyword.value == "queue":
                    self._flag_expr(arg, arg.value, where)
                elif arg.keyword is not None and arg.keyword.value == "options":
                    found = view.route_queue(arg.value)
                    if found is not None:
                        self._flag(found[1], found[0], where)

    def _flag_expr(self, node: cst.CSTNode, expr: cst.BaseExpression, where: str) -> None:
        value = self.project.value_of(expr)
        if isinstance(value, Known) and isinstance(value.value, str):
            self._flag(node, value.value, where)

    def _flag(self, node: cst.CSTNode, queue: str, where: str) -> None:
        view = self.project
        declared = view.declared_queues()
        if not isinstance(declared, Known) or not isinstance(declared.value, set) or queue in declared.value:
            return
        if queue in view.launcher_queues():
            return  # a worker is started with -Q for it
        create = view.setting("task_create_missing_queues")
        if isinstance(create, Known) and create.value is False:
            consequence = f"publishing raises QueueNotFound ({create.origin})"
        else:
            consequence = (
                f"Celery creates it on publish but no worker consumes it unless started with `-Q {queue}`"
            )
        self.report(
            node,
            self.message(queue=queue, where=where, origin=declared.origin, consequence=consequence),
        )

    def visit_Call(self, node: cst.Call) -> None:
        view = self.project
        declared = view.declared_queues()
        if not isinstance(declared, Known) or declared.value is None:
            return
        method = method_name(node)
        if method in SEND_METHODS:
            if method in ("set", "signature", "subtask") and not view.file_is_analysed:
                return
            where = f"in `{method}()`"
        elif view.qualified_name(node.func) in SIGNATURE_CALLS:
            where = "in the signature"
        else:
            return
        for arg in node.args:
            if arg.keyword is None:
                continue
            if arg.keyword.value == "queue":
                self._flag_expr(arg, arg.value, where)
            elif arg.keyword.value == "options":
                found = view.route_queue(arg.value)
                if found is not None:
                    self._flag(found[1], found[0], where)
