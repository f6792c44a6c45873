from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from ...project.callsites import SIGNATURE, CallSites, positional
from ...project.tasknames import KNOWN_PACKAGES_OPTION, from_known_package, known_packages
from ..base import Invalid, Rule, Valid
from ._task_call_cases import NO_CELERY_HEAD, REEXPORTED_SIGNATURE, calls_project
from ._triggers import called

if TYPE_CHECKING:
    import libcst as cst

    from ...context import FileContext
else:
    from ..._lazy_libcst import cst

HEAD = "from celery import signature\n\nfrom proj.celery import app\n\n\n"


class UnknownTaskName(Rule):
    """
    ## What it does
    Checks task names written as literals where Celery looks a task up by name:
    `app.send_task("pkg.mod.name")`, `signature("pkg.mod.name")` and
    `app.tasks["pkg.mod.name"]`. A name that starts with a module or package of the
    project (`proj.tasks.`) but names no task the project defines is flagged, with the
    closest task name.

    Tasks are known by their explicit `name=` or their automatic `<module>.<function>`
    name, under every module name a file is imported as. The rule stays silent for names
    outside the project's modules (tasks of other services), for computed names, and
    when the project's task list cannot be completed: a task whose name cannot be
    resolved (a computed `name=`, an unknown wrapper) or tasks registered at run time
    (`app.register_task`, `app.tasks.register`).

    ## Why is this bad?
    `send_task` publishes the message without checking the name; the worker logs
    "Received unregistered task" and drops it, so the job silently never runs. A
    signature by name fails only when it is applied, and `app.tasks[name]` raises
    `NotRegistered`. The usual cause is a renamed task or a moved module.

    ## Example
    ```python
    app.send_task("proj.tasks.send_report", args=(day,))  # proj/tasks.py defines send_daily_report
    ```

    ## Use instead
    ```python
    app.send_task("proj.tasks.send_daily_report", args=(day,))
    ```

    ## References
    - Celery, *Calling Tasks*: `send_task`
    - Celery, *Tasks*: names
    """

    CODE = "CEL803"
    NAME = "unknown-task-name"
    MESSAGE = "'{name}' names no task of this project, though `{module}` is one of its modules: {consequence}"
    FIX_TITLE = "{fix}"
    SKIP_TEST_CODE = True
    TRIGGERS = (b"send_task(", b"signature(", b".tasks[")
    REQUIRES = TRIGGERS
    # A file that never mentions Celery: ``signature(`` only as a whole name.
    TRIGGERS_WITH = (b"send_task(", b".tasks[", *called(b"signature"))

    VALID = [
        Valid(
            HEAD
            + "def run():\n    app.send_task('proj.tasks.add', args=(1, 2))\n"
            + "    signature('proj.billing.charge', args=(1,))\n    return app.tasks['proj.tasks.total']\n",
            path="proj/views.py",
            files=calls_project(),
            note="automatic and explicit names (`proj.billing` is a module, the task is in proj/tasks.py)",
        ),
        Valid(
            HEAD + "def run():\n    app.send_task('reports.tasks.build', args=(1,))\n",
            path="proj/views.py",
            files=calls_project(),
            note="a task of another service: not a module of this project",
        ),
        Valid(
            HEAD + "def run(name='add'):\n    app.send_task(f'proj.tasks.{name}', args=(1, 2))\n",
            path="proj/views.py",
            files=calls_project(),
            note="a computed name",
        ),
        Valid(
            HEAD + "def run():\n    app.send_task('proj.tasks.cleanup')\n",
            path="proj/views.py",
            files=calls_project(
                **{
                    "proj/jobs.py": "import os\n\nfrom celery import shared_task\n\n\n"
                    "@shared_task(name=os.environ.get('CLEANUP_TASK', 'proj.tasks.cleanup'))\n"
                    "def cleanup():\n    return 0\n"
                }
            ),
            note="a task's name is computed: the task list cannot be completed",
        ),
        Valid(
            HEAD + "def run():\n    app.send_task('proj.tasks.report')\n",
            path="proj/views.py",
            files=calls_project(
                **{
                    "proj/reports.py": "from proj.celery import app\n\n\n"
                    "def report():\n    return 0\n\n\n"
                    "app.tasks.register(app.task(name='proj.tasks.' + report.__name__)(report))\n"
                }
            ),
            note="tasks registered at run time",
        ),
        Valid(
            HEAD + "def run():\n    app.send_task('celery.backend_cleanup')\n",
            path="proj/views.py",
            files=calls_project(),
            note="Celery's own tasks (`known-task-packages` of CEL701)",
        ),
        Valid(
            HEAD + "def run():\n    app.send_task('proj.tasks.ad')\n",
            path="tests/test_views.py",
            files=calls_project(),
            note="test code",
        ),
    ]
    INVALID = [
        Invalid(
            HEAD + "def run():\n    app.send_task('proj.tasks.ad', args=(1, 2))\n",
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=19,
            message_contains="did you mean 'proj.tasks.add'?",
            note="send_task",
        ),
        Invalid(
            HEAD + "def run():\n    signature('proj.tasks.sum_all', args=([1, 2],)).delay()\n",
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=15,
            note="signature by name",
        ),
        Invalid(
            HEAD + "def run():\n    return app.tasks['proj.billing.charge_card']\n",
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=22,
            message_contains="did you mean 'proj.billing.charge'?",
            note="app.tasks lookup",
        ),
        Invalid(
            NO_CELERY_HEAD + "def run():\n    signature('proj.tasks.ad', args=(1, 2)).delay()\n",
            path="proj/views.py",
            files=calls_project(**REEXPORTED_SIGNATURE),
            line=5,
            column=15,
            message_contains="did you mean 'proj.tasks.add'?",
            note="a file that never mentions Celery, `signature` from a project module",
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.sites = CallSites(context)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        given = positional(node)
        if not given or given[0].star:
            return
        if (isinstance(func, cst.Attribute) and func.attr.value == "send_task") or self.sites.names_in(
            func, SIGNATURE
        ):
            self._check(given[0].value, "the worker drops the message as unregistered")

    def visit_Subscript(self, node: cst.Subscript) -> None:
        value = node.value
        if not (isinstance(value, cst.Attribute) and value.attr.value == "tasks") or len(node.slice) != 1:
            return
        index = node.slice[0].slice
        if isinstance(index, cst.Index) and self.project.app_for_expression(value.value) is not None:
            self._check(index.value, "`app.tasks[...]` raises NotRegistered")

    def _check(self, expr: cst.BaseExpression, consequence: str) -> None:
        if not isinstance(expr, cst.SimpleString):
            return
        name = expr.evaluated_value
        if not isinstance(name, str):
            return
        view = self.project
        prefixes = known_packages(self.context.options.get(KNOWN_PACKAGES_OPTION))
        if from_known_package(name, prefixes):
            return
        module = view.project_module_prefix(name)
        if module is None or not view.task_list_complete or view.tasks_named(name):
            return
        self.report(
            expr,
            self.message(
                name=name, module=module, consequence=consequence, fix=_fix(name, view.task_names())
            ),
        )


def _fix(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else "fix the name or give the task that `name=`"
