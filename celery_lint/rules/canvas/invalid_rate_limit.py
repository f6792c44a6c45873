from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...project.values import UNKNOWN_ELEMENT, Known
from ..base import Invalid, Rule, Valid
from ._cases import DJANGO_CELERY

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

STARTUP = "the worker fails to start"
CONTROL = "every worker replies with an error and keeps the old limit"
TASK = "from celery import shared_task\n\n\n@shared_task(rate_limit={rate})\ndef f():\n    pass\n"


def rate_problem(value: Any) -> str | None:
    """Why Celery's own rate parser (``celery.utils.time.rate``) rejects ``value``, or None."""
    if value is None or value is UNKNOWN_ELEMENT:
        return None
    from celery.utils.time import rate

    try:
        rate(value)
    except KeyError as exc:
        return f"unknown unit {exc}"
    except Exception as exc:  # whatever Celery's parser raises, the worker raises too
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


class InvalidRateLimit(Rule):
    """
    ## What it does
    Checks for `rate_limit` values the installed Celery cannot parse, judged by
    Celery's own parser (`celery.utils.time.rate`): in a task decorator, as a task
    base class attribute, in `task_default_rate_limit` (every configuration form), in
    `task_annotations` entries and in `app.control.rate_limit(...)`. Valid forms are
    a number (per second), `"N"`, `"N/s"`, `"N/m"` and `"N/h"`, with `N` possibly
    fractional.

    ## Why is this bad?
    Nothing checks the value when the task is defined. The worker parses it when it
    sets up the task's token bucket at start-up: `rate_limit="10/d"` raises
    `KeyError: 'd'` and the worker exits. There is no per-day unit.

    ## Example
    ```python
    @shared_task(rate_limit="100/d")
    def send_digest(user_id): ...
    ```

    ## Use instead
    ```python
    @shared_task(rate_limit="4/h")
    def send_digest(user_id): ...
    ```

    ## References
    - Celery, *Tasks*: `Task.rate_limit`
    - `celery.utils.time.rate`
    """

    CODE = "CEL704"
    # rate_limit=, 'rate_limit' annotations, task_default_rate_limit and CELERY_*RATE_LIMIT.
    REQUIRES = (b"rate_limit", b"RATE_LIMIT")
    NAME = "invalid-rate-limit"
    MESSAGE = "`rate_limit={value!r}` {where} is not a rate Celery can parse ({problem}): {consequence}"
    FIX_TITLE = "use 'N/s', 'N/m' or 'N/h'"

    VALID = [
        Valid(TASK.format(rate="'100/m'")),
        Valid(TASK.format(rate="'10/s'")),
        Valid(TASK.format(rate="'1/h'")),
        Valid(TASK.format(rate="'0.5/s'")),
        Valid(TASK.format(rate="10")),
        Valid(TASK.format(rate="2.5")),
        Valid(TASK.format(rate="None")),
        Valid(TASK.format(rate="'20'"), note="per second"),
        Valid(TASK.format(rate="LIMIT"), note="unknown value"),
        Valid("from celery import Celery\napp = Celery('proj')\napp.conf.task_default_rate_limit = '50/m'\n"),
        Valid(
            "import requests\nrequests.get('https://example.com', params={'rate_limit': '10/d'})\n",
            note="not Celery",
        ),
    ]
    INVALID = [
        Invalid(TASK.format(rate="'10/d'"), line=4, column=14, message_contains="unknown unit 'd'"),
        Invalid(TASK.format(rate="'1/min'"), line=4, column=14),
        Invalid(TASK.format(rate="'abc'"), line=4, column=14),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\n\n@app.task(bind=True, rate_limit='5/day')\ndef f(self):\n    pass\n",
            line=5,
            column=22,
        ),
        Invalid(
            "from celery import Task\n\n\nclass Throttled(Task):\n    rate_limit = '10/d'\n",
            line=5,
            column=5,
            note="base class attribute",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_default_rate_limit = '100/d'\n",
            line=3,
            column=1,
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_default_rate_limit='1/ m')\n",
            line=2,
            column=22,
        ),
        Invalid(
            "task_default_rate_limit = '2/day'\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            column=1,
            note="celeryconfig module",
        ),
        Invalid(
            "CELERY_TASK_DEFAULT_RATE_LIMIT = '10/d'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY},
            line=1,
            column=1,
            note="Django settings",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_annotations = {\n    'proj.tasks.add': {'rate_limit': '10/d'},\n}\n",
            line=4,
            column=24,
            note="task_annotations",
        ),
        Invalid(
            "from proj.celery import app\n\napp.control.rate_limit('proj.tasks.add', '10/d')\n",
            files={"proj/celery.py": "from celery import Celery\napp = Celery('proj')\n"},
            line=3,
            column=42,
            note="remote control",
        ),
    ]

    def _check(
        self, node: cst.CSTNode, expr: cst.BaseExpression, where: str, consequence: str = STARTUP
    ) -> None:
        value = self.project.value_of(expr)
        if isinstance(value, Known):
            self._report(node, value.value, where, consequence)

    def _report(self, node: cst.CSTNode, value: Any, where: str, consequence: str = STARTUP) -> None:
        problem = rate_problem(value)
        if problem is not None:
            self.report(
                node, self.message(value=value, where=where, problem=problem, consequence=consequence)
            )

    def check(self) -> None:
        if self.context.is_test:
            return
        project = self.project
        for write in project.config_writes():
            if write.value is None:
                continue
            if write.setting == "task_default_rate_limit":
                value = project.write_value(write)
                if isinstance(value, Known):
                    self._report(write.node, value.value, f"in `{write.key}`")
            elif write.setting == "task_annotations":
                self._annotations(write.value, write.node, write.key)

    def _annotations(self, expr: cst.BaseExpression, node: cst.CSTNode, key: str) -> None:
        """``{'name' or '*': {'rate_limit': ...}}``, a dict or a list of dicts."""
        if isinstance(expr, (cst.List, cst.Tuple)):
            for item in expr.elements:
                self._annotations(item.value, node, key)
            return
        if not isinstance(expr, cst.Dict):
            return
        for element in expr.elements:
            if not isinstance(element, cst.DictElement) or not isinstance(element.value, cst.Dict):
                continue
            for inner in element.value.elements:
                if (
                    isinstance(inner, cst.DictElement)
                    and isinstance(inner.key, cst.SimpleString)
                    and inner.key.evaluated_value == "rate_limit"
                ):
                    self._check(inner, inner.value, f"in `{key}`")

    def visit_Call(self, node: cst.Call) -> None:
        project = self.project
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "rate_limit":
            owner = func.value
            if (
                isinstance(owner, cst.Attribute)
                and owner.attr.value == "control"
                and project.app_for_expression(owner.value)
            ):
                positional = [a for a in node.args if a.keyword is None and not a.star]
                for arg in node.args:
                    if arg.keyword is not None and arg.keyword.value == "rate_limit":
                        self._check(arg, arg.value, "in `control.rate_limit()`", CONTROL)
                if len(positional) >= 2:
                    self._check(positional[1], positional[1].value, "in `control.rate_limit()`", CONTROL)
            return
        if not any(a.keyword is not None and a.keyword.value == "rate_limit" for a in node.args):
            return
        if project.task_decorator_kind(func) not in ("base", "wrapper"):
            return
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "rate_limit":
                self._check(arg, arg.value, "on the task")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        body = node.body
        if not isinstance(body, cst.IndentedBlock):
            return
        assigns: list[tuple[cst.CSTNode, cst.BaseExpression]] = []
        for statement in body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if (
                    isinstance(small, cst.Assign)
                    and any(
                        isinstance(t.target, cst.Name) and t.target.value == "rate_limit"
                        for t in small.targets
                    )
                ) or (
                    isinstance(small, cst.AnnAssign)
                    and isinstance(small.target, cst.Name)
                    and small.target.value == "rate_limit"
                ):
                    value = small.value
                    if value is not None:
                        assigns.append((small, value))
        if not assigns or not self.project.is_task_class(node):
            return
        for statement_node, value in assigns:
            self._check(statement_node, value, f"on task class {node.name.value}")
