from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...project.callsites import CallSites, code_of, is_literal, keyword
from ...project.helper_texts import Reach
from ..base import Invalid, Rule, Valid
from ..following import Following

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

# A wait on a Celery result, as text: the result is made in the same function, so both
# are in the same module.
FOLLOW = Reach(
    re.compile(
        rb"(?s)\A(?=.*?(?:\.delay\(|apply_async\(|AsyncResult|send_task\(|GroupResult|\b(?:group|chord)\())"
        rb"(?=.*?\.(?:get|wait|join|join_native|collect)\()"
    ),
    depth=0,
)

if TYPE_CHECKING:
    from ...context import FileContext

WAIT_METHODS = frozenset({"get", "wait", "join", "join_native", "collect"})
ALLOW_JOIN = frozenset({"celery.result.allow_join_result"})

TASKS_PY = "from celery import shared_task\n\n@shared_task\ndef add(x, y):\n    return x + y\n"


class BlockingResultInTask(Rule):
    """
    ## What it does
    Checks for task bodies that wait on another task: `.get()`, `.wait()`,
    `.join()`, `.join_native()` or `.collect()` on the result of `delay()`,
    `apply_async()`, `send_task()`, `AsyncResult(...)`, `GroupResult.restore(...)` or an applied group,
    chain or chord (`group(...)()`, `group(...).apply_async()`, `chord(header)(callback)`),
    directly (`add.delay(1, 2).get()`) or through a local name bound to such a call (or a
    loop over a list of them). `.get()` on anything that is not provably a Celery result
    (dicts, querysets, caches) is not flagged. The hook methods of a task's project
    classes (`before_start`, `on_success`, `on_failure`, `on_retry`, `after_return`,
    `__call__`) run in the worker around every execution and are checked as task code.

    Project functions a task calls are checked too, up to three calls deep (not a
    function the task only passes along, nor one it cannot resolve). Such a finding is
    reported at the task's call that leads to it, once a call, naming the place and the
    way there (``in shop/waiting.py:12, called from task 'shop.tasks.total' via
    price_of()``); a call inside `with allow_join_result():` in the task is not followed.

    ## Why is this bad?
    A worker process that blocks on another task's result holds its slot while the
    other task waits in the queue; with every slot blocked the worker deadlocks. Celery
    therefore raises `RuntimeError("Never call result.get() within a task!")` on the
    prefork, solo and threads pools and in eager mode (the check runs even when the
    result is already ready); on gevent/eventlet the wait silently ties up the greenlet.

    `.get(disable_sync_subtasks=False)` and code inside `with allow_join_result():` are
    deliberate opt-outs and are not flagged.

    ## Example
    ```python
    @shared_task
    def total(order_id):
        price = fetch_price.delay(order_id).get()
        return price * 2
    ```

    ## Use instead
    ```python
    @shared_task
    def double(price):
        return price * 2

    chain(fetch_price.s(order_id), double.s()).delay()
    ```

    ## References
    - Celery, *Tasks*: "Avoid launching synchronous subtasks"
    - `celery/result.py`: `assert_will_not_block()`
    """

    CODE = "CEL402"
    NAME = "blocking-result-in-task"
    SKIP_TEST_CODE = True
    MESSAGE = "`{call}` in {where} waits on another task's result: Celery raises RuntimeError in a worker (or the worker deadlocks)"
    FIX_TITLE = "chain the next step with `chain()`/`link=` instead"

    VALID = [
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(data):\n    return data.get('id')\n",
            note="`.get()` on a dict",
        ),
        Valid(
            "from celery import shared_task\nfrom django.core.cache import cache\n\n@shared_task\ndef f(pk):\n    order = Order.objects.get(pk=pk)\n    return cache.get(f'order:{order.pk}')\n",
            note="querysets and caches",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(x):\n    result = add.delay(x, 1)\n    return result.get(disable_sync_subtasks=False)\n",
            files={"add.py": TASKS_PY},
            note="deliberate opt-out",
        ),
        Valid(
            "import celery\nfrom celery.result import allow_join_result as joinable\n\n@celery.shared_task\ndef f(x):\n    with joinable():\n        res = add.delay(x, 1)\n        return res.get()\n",
            note="the opt-out under an import alias",
        ),
        Valid(
            "from celery import shared_task\nfrom celery.result import allow_join_result\n\n@shared_task\ndef f(x):\n    with allow_join_result():\n        return add.delay(x, 1).get()\n",
            note="deliberate opt-out",
        ),
        Valid(
            "from proj.tasks import add\n\ndef view(request):\n    return add.delay(1, 2).get(timeout=5)\n",
            note="not in a task (a view may wait)",
        ),
        Valid(
            "from multiprocessing import Pool\nfrom celery import shared_task\n\n@shared_task\ndef f(items):\n    with Pool(4) as workers:\n        result = workers.apply_async(len, (items,))\n        return result.get()\n",
            note="a multiprocessing pool's AsyncResult",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(x):\n    result = add.delay(x, 1)\n    result = {'id': result.id}\n    return result.get('id')\n",
            note="the name is rebound to a dict",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(x):\n    def later():\n        return add.delay(x).get()\n    return later\n",
            note="a nested function is not run by the task body itself",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(x):\n    return add.s(x, 1)().get('total')\n",
            note="calling a plain signature runs the task in-process and returns its value",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(rows):\n    return [r.get('id') for r in rows]\n",
            note="a comprehension over data",
        ),
        Valid(
            "from celery.result import AsyncResult\n\nclass Monitor:\n    def on_success(self, task_id):\n        return AsyncResult(task_id).get()\n",
            note="a hook-named method of a class no task uses",
        ),
        Valid(
            "from celery import shared_task\nfrom celery.result import allow_join_result\n\ndef price_of(x):\n    return add.delay(x, 1).get()\n\n@shared_task\ndef f(x):\n    with allow_join_result():\n        return price_of(x)\n",
            files={"add.py": TASKS_PY},
            note="the task allows the wait around the helper's call",
        ),
        Valid(
            "from celery import shared_task\nfrom pricing import price_of\n\n@shared_task\ndef f(x, wait):\n    wait(x)\n    return price_of(x)\n",
            note="callees the analyzer cannot resolve, or outside the project",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(x):\n    return add.delay(x, 1).get()\n",
            line=5,
            column=12,
            note="direct",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(x):\n    result = add.apply_async((x, 1), countdown=1)\n    total = result.get(timeout=10)\n    return total\n",
            line=6,
            column=13,
            note="through a local name",
        ),
        Invalid(
            "from celery import shared_task\nfrom celery.result import AsyncResult\n\n@shared_task\ndef f(task_id):\n    return AsyncResult(task_id).get()\n",
            line=6,
            column=12,
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\n@app.task(bind=True)\ndef f(self, task_id):\n    res = self.app.AsyncResult(task_id)\n    res.wait()\n",
            line=7,
            column=5,
        ),
        Invalid(
            "from celery import group, shared_task\n\n@shared_task\ndef f(items):\n    job = group(add.s(i, i) for i in items)()\n    return sum(job.join())\n",
            line=6,
            column=16,
            note="an applied group",
        ),
        Invalid(
            "import celery\n\n@celery.shared_task\ndef f(items):\n    return celery.group([add.s(i, i) for i in items]).apply_async().get()\n",
            line=5,
            column=12,
        ),
        Invalid(
            "from celery import chord as ch, shared_task\n\n@shared_task\ndef f(items):\n    res = ch([add.s(i, i) for i in items])(tsum.s())\n    return res.get()\n",
            line=6,
            column=12,
            note="a chord under an import alias",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(items):\n    results = [add.delay(i, i) for i in items]\n    for r in results:\n        r.get()\n",
            line=7,
            column=9,
            note="a loop over a list of results",
        ),
        Invalid(
            "from celery import shared_task\nfrom orders.tasks import add\n\n@shared_task\ndef f(x):\n    return add.s(x, 1).delay().collect()\n",
            files={"orders/__init__.py": "", "orders/tasks.py": TASKS_PY},
            path="billing/tasks.py",
            line=6,
            column=12,
            note="a task from another module, through a signature",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(items):\n    results = [add.delay(i, i) for i in items]\n    return [r.get() for r in results]\n",
            line=6,
            column=13,
            note="a comprehension over a list of results",
        ),
        Invalid(
            "from celery import Task\n\nclass Report(Task):\n    def run(self, x):\n        res = add.delay(x)\n        return res.get()\n",
            line=6,
            column=16,
            note="class-based task",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\n@app.task\ndef f(x):\n    res = app.send_task('proj.add', args=(x, 1))\n    return res.get(timeout=5)\n",
            line=7,
            column=12,
            note="send_task returns an AsyncResult",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(x):\n    return add.delay(x).get(disable_sync_subtasks=True)\n",
            line=5,
            column=12,
            note="explicit default",
        ),
        Invalid(
            "from celery import Task, shared_task\nfrom celery.result import AsyncResult\n\nclass Audited(Task):\n    def after_return(self, status, retval, task_id, args, kwargs, einfo):\n        AsyncResult(kwargs['parent']).get()\n\n@shared_task(base=Audited)\ndef f(parent):\n    return parent\n",
            line=6,
            column=9,
            message_contains="in the `after_return` hook of task class `Audited`",
            note="a hook of the task's base class runs in the worker",
        ),
        Invalid(
            "from celery import shared_task\nfrom shop.waiting import price_of\n\n@shared_task\ndef total(x):\n    return price_of(x) * 2\n",
            files={
                "shop/__init__.py": "",
                "shop/waiting.py": "from celery.result import AsyncResult\n\ndef price_of(task_id):\n    return AsyncResult(task_id).get()\n",
            },
            line=6,
            column=12,
            message_contains="`AsyncResult(task_id).get()` in shop/waiting.py:4, called from task 'tasks.total' via price_of()",
            note="through a helper of another module: reported at the task's call",
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.sites = CallSites(context)
        self._allowed: list[cst.With] = []
        self._comprehensions: list[tuple[cst.CSTNode, dict[str, cst.BaseExpression]]] = []
        self.following = Following(self, FOLLOW)

    def _allows_join(self, node: cst.With) -> bool:
        for item in node.items:
            expr = item.item
            func = expr.func if isinstance(expr, cst.Call) else expr
            if isinstance(func, cst.Name) and func.value == "allow_join_result":
                return True
            if isinstance(func, cst.Attribute) and func.attr.value == "allow_join_result":
                return True
            if self.sites.names_in(func, ALLOW_JOIN):
                return True
        return False

    def visit_With(self, node: cst.With) -> None:
        if self._allows_join(node):
            self._allowed.append(node)

    def leave_With(self, original_node: cst.With) -> None:
        if self._allowed and self._allowed[-1] is original_node:
            self._allowed.pop()

    def _enter_comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp
    ) -> None:
        targets: dict[str, cst.BaseExpression] = {}
        comp: cst.CompFor | None = node.for_in
        while comp is not None:
            if isinstance(comp.target, cst.Name):
                targets[comp.target.value] = comp.iter
            comp = comp.inner_for_in
        self._comprehensions.append((node, targets))

    def _leave_comprehension(self, node: cst.CSTNode) -> None:
        if self._comprehensions and self._comprehensions[-1][0] is node:
            self._comprehensions.pop()

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._enter_comprehension(node)

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._leave_comprehension(original_node)

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._enter_comprehension(node)

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self._leave_comprehension(original_node)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._enter_comprehension(node)

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self._leave_comprehension(original_node)

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._enter_comprehension(node)

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self._leave_comprehension(original_node)

    def _waits_on_result(self, receiver: cst.BaseExpression) -> bool:
        if isinstance(receiver, cst.Name):
            for _node, targets in reversed(self._comprehensions):
                if receiver.value in targets:
                    return self.sites.iterates_results(targets[receiver.value])
        return self.sites.is_result(receiver)

    def _where(self) -> str | None:
        task = self.project.current_task()
        if task is not None:
            return f"task '{task.label}'"
        hook = self.project.current_hook()
        return hook.label if hook is not None else None

    def visit_Call(self, node: cst.Call) -> None:
        if self._allowed:
            return
        where = self._where()
        if where is None:
            return
        self.following.report_through(node, "call")
        func = node.func
        if not isinstance(func, cst.Attribute) or func.attr.value not in WAIT_METHODS:
            return
        opt_out = keyword(node, "disable_sync_subtasks")
        if opt_out is not None and not is_literal(opt_out.value, "True"):
            return
        if not self._waits_on_result(func.value):
            return
        if not self.following.found(node, call=code_of(node)):
            self.report(node, self.message(call=code_of(node), where=where))
