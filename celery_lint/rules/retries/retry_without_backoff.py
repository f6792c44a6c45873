from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.limits import seconds
from ...project.retries import (
    has_splat,
    is_self_retry,
    keyword,
)
from ...project.scopes import local_names, names_in
from ...project.values import Known
from ...project.walk import Walker
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

if TYPE_CHECKING:
    from ...api import TaskView

HEAD = "from celery import shared_task\n\n@shared_task(bind=True)\ndef f(self):\n    try:\n        work()\n    except IOError as exc:\n"


def _is_none(expr: cst.BaseExpression) -> bool:
    return isinstance(expr, cst.Name) and expr.value == "None"


class _UsesRetries(Walker):
    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names
        self.found = False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if node.attr.value == "retries":
            self.found = True
        return not self.found

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names:
            self.found = True


def uses_retries(expr: cst.CSTNode, dependents: set[str]) -> bool:
    """``expr`` reads a ``.retries`` attribute (``self.request.retries``) or a local name
    computed from one."""
    finder = _UsesRetries(dependents)
    finder.walk(expr)
    return finder.found


class _Assignments(Walker):
    """(target names, value) of every binding in a function body, nested scopes excluded."""

    def __init__(self, root: cst.FunctionDef) -> None:
        super().__init__()
        self.root = root
        self.pairs: list[tuple[set[str], cst.CSTNode]] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node is self.root

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self.pairs.append((names_in(target.target), node.value))

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.pairs.append((names_in(node.target), node.value))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.pairs.append((names_in(node.target), node.value))

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.pairs.append((names_in(node.target), node.value))

    def visit_For(self, node: cst.For) -> None:
        self.pairs.append((names_in(node.target), node.iter))


def retry_dependents(function: cst.FunctionDef) -> set[str]:
    """Local names whose value is computed, directly or not, from ``.retries``."""
    finder = _Assignments(function)
    finder.walk(function)
    dependents: set[str] = set()
    changed = True
    while changed:
        changed = False
        for targets, value in finder.pairs:
            if not targets <= dependents and uses_retries(value, dependents):
                dependents |= targets
                changed = True
    return dependents


class RetryWithoutBackoff(Rule):
    """
    ## What it does
    Checks for `self.retry(...)` in bound tasks (`bind=True`, or class-based tasks) whose
    delay does not grow with the retry count: no `countdown`/`eta` (Celery then waits
    `default_retry_delay`, 180 s by default, every time) or a constant `countdown`. A
    `countdown` that uses `self.request.retries`, directly or through a local name
    computed from it, is fine; so are delays the analyzer cannot evaluate, and retries limited to a single attempt (`max_retries` of 0 or 1 in
    the call or on the task), where there is no series of delays to grow.

    ## Why is this bad?
    A task retries because a dependency is failing: a rate-limited API, a database
    failover, a service that is down. Retrying at a fixed pace keeps the pressure on
    while it recovers, and every task that failed at the same moment retries at the
    same moment again. An exponential delay gives the dependency room and spreads the
    retries out.

    ## Example
    ```python
    @app.task(bind=True, max_retries=5)
    def fetch(self, url):
        try:
            return get(url)
        except ConnectionError as exc:
            raise self.retry(exc=exc, countdown=10)
    ```

    ## Use instead
    ```python
    @app.task(bind=True, max_retries=5)
    def fetch(self, url):
        try:
            return get(url)
        except ConnectionError as exc:
            raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries))
    ```

    ## References
    - Celery, *Tasks*: retrying, `Task.retry`, `default_retry_delay`
    """

    CODE = "CEL301"
    NAME = "retry-without-backoff"
    MESSAGE = "`{call}` in task '{task}' waits {delay} before every attempt: the failing dependency is retried at a fixed pace"
    FIX_TITLE = "compute `countdown` from `{self_name}.request.retries` (e.g. `countdown=min(600, 2 ** {self_name}.request.retries)`)"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(HEAD + "        raise self.retry(exc=exc, countdown=2 ** self.request.retries)\n"),
        Valid(
            HEAD
            + "        delay = backoff_base * (self.request.retries + 1)\n        jittered = delay + random.random()\n        raise self.retry(exc=exc, countdown=jittered)\n",
            note="a delay computed from the retry count through local names",
        ),
        Valid(
            HEAD + "        raise self.retry(exc=exc, countdown=random.randint(10, 60))\n",
            note="unknown delay",
        ),
        Valid(
            HEAD + "        raise self.retry(exc=exc, countdown=compute_delay(self))\n", note="unknown delay"
        ),
        Valid(
            HEAD + "        raise self.retry(exc=exc, eta=next_window())\n",
            note="an explicit eta",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(job):\n    job.retry()\n",
            note="not bound: an unrelated .retry()",
        ),
        Valid(HEAD + "        raise self.retry(exc=exc, **RETRY_OPTIONS)\n", note="options in a splat"),
        Valid(
            "from celery import shared_task\nfrom proj.base import DynamicDelay\n\n@shared_task(bind=True, base=DynamicDelay)\ndef f(self):\n    raise self.retry()\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass DynamicDelay(Task):\n    @property\n    def default_retry_delay(self):\n        return 2 ** self.request.retries\n"
            },
            note="default_retry_delay computed by the base class",
        ),
        Valid(
            HEAD + "        raise self.retry(exc=exc, countdown=5, max_retries=1)\n",
            note="a single retry: no series of delays to grow",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(bind=True, retry_backoff=True)\ndef f(self):\n    raise self.retry(countdown=30)\n",
            line=5,
            column=22,
            note="retry_backoff only shapes autoretry_for retries; a manual retry waits its own countdown",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import BackoffTask\n\n@shared_task(bind=True, base=BackoffTask)\ndef f(self):\n    raise self.retry()\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass BackoffTask(Task):\n    retry_backoff = 5\n"
            },
            line=6,
            column=11,
            note="retry_backoff on a base class does not change default_retry_delay",
        ),
        Invalid(
            HEAD + "        raise self.retry(exc=exc)\n",
            line=8,
            column=15,
            message_contains="180 s (Celery's default)",
        ),
        Invalid(
            HEAD + "        raise self.retry(exc=exc, countdown=60)\n",
            line=8,
            column=35,
            message_contains="60 s",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(bind=True, default_retry_delay=30)\ndef f(task):\n    task.retry(countdown=None)\n",
            line=5,
            column=5,
            message_contains="default_retry_delay on the decorator",
            note="a first parameter not named self",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\nRETRY_DELAY = 120\n\nclass Sync(app.Task):\n    def run(self):\n        self.retry(countdown=RETRY_DELAY)\n",
            line=7,
            column=20,
            note="class-based task; a module constant",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import SlowRetry\n\n@shared_task(bind=True, base=SlowRetry)\ndef f(self):\n    raise self.retry()\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass SlowRetry(Task):\n    default_retry_delay = 300\n"
            },
            line=6,
            column=11,
            message_contains="class SlowRetry",
            note="base class in another module",
        ),
        Invalid(
            "from proj.celery import app\n\n@app.task(bind=True, retry_backoff=False)\ndef f(self):\n    raise self.retry(countdown=5)\n",
            files={"proj/celery.py": "from celery import Celery\napp = Celery('proj')\n"},
            line=5,
            column=22,
            note="retry_backoff=False",
        ),
    ]

    def __init__(self, context: object) -> None:
        super().__init__(context)  # type: ignore[arg-type]
        self._facts: dict[int, tuple[str | None, set[str], set[str]]] = {}

    def _task_facts(self, task: TaskView) -> tuple[str | None, set[str], set[str]]:
        """The bound name of the task instance, retry-dependent locals, all locals."""
        key = id(task.node)
        if key not in self._facts:
            self_name = task.bound_parameter
            body = task.body
            if self_name is None or body is None:
                self._facts[key] = (None, set(), set())
            else:
                self._facts[key] = (self_name, retry_dependents(body), local_names(body))
        return self._facts[key]

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "retry"):
            return
        task = self.project.current_task()
        if task is None:
            return
        self_name, dependents, locals_ = self._task_facts(task)
        if not is_self_retry(node, self_name) or has_splat(node):
            return
        if sum(1 for arg in node.args if arg.keyword is None) >= 5:
            return  # eta/countdown given positionally: too unusual to guess
        limit = task.retry_limit(node)
        if limit is not None and limit <= 1:
            return  # no retry, or a single one: there is no series of delays to grow
        # ``retry_backoff`` is read only by the autoretry wrapper (celery/app/autoretry.py);
        # ``Task.retry()`` waits the given countdown or ``default_retry_delay`` whatever it says.
        eta = keyword(node, "eta")
        if eta is not None and not _is_none(eta.value):
            return
        countdown = keyword(node, "countdown")
        target: cst.CSTNode = node
        if countdown is not None and not _is_none(countdown.value):
            if uses_retries(countdown.value, dependents) or names_in(countdown.value) & locals_:
                return
            evaluated = self.project.value_of(countdown.value)
            if not isinstance(evaluated, Known):
                return
            value = evaluated.value
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                return
            delay = f"a constant {seconds(value)}"
            target = countdown
        else:
            default = task.option("default_retry_delay")
            if not isinstance(default, Known) or not isinstance(default.value, (int, float)):
                return
            delay = f"`default_retry_delay` {seconds(default.value)} ({default.origin})"
        assert self_name is not None
        self.report(
            target,
            self.message(
                call=f"{self_name}.retry()",
                task=task.label,
                delay=delay,
                self_name=self_name,
            ),
        )
