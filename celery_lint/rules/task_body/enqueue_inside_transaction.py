from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...project.callsites import CallSites, code_of
from ...project.transactions import ATOMIC, METHOD_DECORATOR, decorated_methods, method_decorated
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

if TYPE_CHECKING:
    from ...context import FileContext


VIEWS_HEAD = "from django.db import transaction\nfrom orders.tasks import charge\n\n"
ORDERS_TASKS = "from celery import shared_task\n\n@shared_task\ndef charge(order_id):\n    return order_id\n"
ORDERS = {"orders/__init__.py": "", "orders/tasks.py": ORDERS_TASKS}


@dataclass
class _Block:
    node: cst.CSTNode
    depth: int
    where: str


class EnqueueInsideTransaction(Rule):
    """
    ## What it does
    Checks for `.delay(...)` and `.apply_async(...)` calls lexically inside a Django
    transaction: in a `with transaction.atomic():` block (also `with atomic():` and
    `with transaction.atomic(using=...)`) or in a function decorated
    `@transaction.atomic` / `@atomic(...)`, including a project `@contextmanager` that
    yields inside `transaction.atomic()` (used as `with wrapper():` or `@wrapper()`), and
    a view method under Django's `@method_decorator(atomic)` (also in a list of
    decorators) or named by `@method_decorator(atomic, name="post")` on its class
    (`name="dispatch"` covers the HTTP handlers `get`, `post`, ... that `dispatch` calls). It
    applies to any code (views, models, services, tasks). Calls inside a `lambda` or nested function (such as
    `transaction.on_commit(lambda: t.delay(...))`) run later and are not flagged, nor
    are `delay_on_commit()` and `apply_async_on_commit()`.

    Any `.delay()` counts: it is Celery's (and django-rq's) enqueue method, and
    restricting the rule to tasks it can resolve would miss tasks imported from other
    packages, signatures and task objects passed around. `.apply_async()` counts unless
    the receiver is a `multiprocessing`/`billiard` pool. Not flagged: tasks whose project
    base class already defers `delay`/`apply_async` with `on_commit`, and read-only
    transactions on a replica (`atomic(using=...)` naming a replica).

    ## Why is this bad?
    The message reaches the broker at once, while the rows it refers to are only
    visible after the commit. A fast worker looks up the new order and gets
    `DoesNotExist` or stale data; if the transaction rolls back the task runs for a
    change that never happened.

    ## Example
    ```python
    with transaction.atomic():
        order = Order.objects.create(...)
        send_confirmation.delay(order.pk)
    ```

    ## Use instead
    ```python
    with transaction.atomic():
        order = Order.objects.create(...)
        send_confirmation.delay_on_commit(order.pk)
        # or: transaction.on_commit(lambda: send_confirmation.delay(order.pk))
    ```

    ## References
    - Celery, *First steps with Django*: "Trigger tasks at the end of the database transaction"
    - Django, *Database transactions*: `transaction.on_commit()`
    """

    CODE = "CEL403"
    NAME = "enqueue-inside-transaction"
    SKIP_TEST_CODE = True
    TRIGGERS = (b"atomic",)
    TRIGGERS_WITH = (b".delay", b".apply_async")
    MESSAGE = "`{call}` inside {where} publishes the task before the transaction commits: the worker may read missing or rolled-back rows"
    FIX_TITLE = "use `delay_on_commit()`/`apply_async_on_commit()` or `transaction.on_commit(lambda: ...)`"

    VALID = [
        Valid(
            VIEWS_HEAD
            + "def view(request, pk):\n    with transaction.atomic():\n        order = Order.objects.create(pk=pk)\n        transaction.on_commit(lambda: charge.delay(order.pk))\n",
            files=ORDERS,
            path="orders/views.py",
            note="on_commit(lambda)",
        ),
        Valid(
            "from functools import partial\n"
            + VIEWS_HEAD
            + "@transaction.atomic\ndef view(request, pk):\n    transaction.on_commit(partial(charge.delay, pk))\n",
            files=ORDERS,
            path="orders/views.py",
            note="on_commit(partial)",
        ),
        Valid(
            VIEWS_HEAD
            + "def view(request, pk):\n    with transaction.atomic():\n        charge.delay_on_commit(pk)\n        charge.apply_async_on_commit((pk,))\n",
            files=ORDERS,
            path="orders/views.py",
            note="delay_on_commit, apply_async_on_commit",
        ),
        Valid(
            VIEWS_HEAD
            + "def view(request, pk):\n    with transaction.atomic():\n        Order.objects.create(pk=pk)\n    charge.delay(pk)\n",
            files=ORDERS,
            path="orders/views.py",
            note="after the block",
        ),
        Valid(
            VIEWS_HEAD
            + "def view(request, pk):\n    with transaction.atomic():\n        def later():\n            charge.delay(pk)\n        transaction.on_commit(later)\n",
            files=ORDERS,
            path="orders/views.py",
            note="a nested function run at commit",
        ),
        Valid(
            "from multiprocessing import Pool\nfrom django.db import transaction\n\ndef work(items):\n    with transaction.atomic(), Pool(2) as pool:\n        pool.apply_async(len, (items,))\n",
            note="a process pool's apply_async",
        ),
        Valid(
            "from django.db import transaction\nfrom orders.tasks import charge\n\ndef view(pk):\n    with transaction.atomic():\n        charge.delay(pk)\n",
            files={
                "orders/__init__.py": "",
                "orders/base.py": "from celery import Task\nfrom django.db import transaction\n\nclass CommitTask(Task):\n    def apply_async(self, *args, **kwargs):\n        transaction.on_commit(lambda: super(CommitTask, self).apply_async(*args, **kwargs))\n",
                "orders/tasks.py": "from celery import shared_task\nfrom orders.base import CommitTask\n\n@shared_task(base=CommitTask)\ndef charge(order_id):\n    return order_id\n",
            },
            path="orders/views.py",
            note="a project base class that defers apply_async to the commit",
        ),
        Valid(
            "from django.conf import settings\nfrom django.db import transaction\nfrom orders.tasks import charge\n\ndef view(pk):\n    with transaction.atomic(using=settings.DATABASE_CONNECTION_REPLICA_NAME):\n        charge.delay(pk)\n",
            files=ORDERS,
            path="orders/views.py",
            note="a read-only transaction on a replica",
        ),
        Valid(
            "from orders.tracing import traced\nfrom orders.tasks import charge\n\ndef view(pk):\n    with traced():\n        charge.delay(pk)\n",
            files={
                **ORDERS,
                "orders/tracing.py": "from contextlib import contextmanager\nfrom django.db import transaction\n\n@contextmanager\ndef traced():\n    with transaction.atomic():\n        pass\n    yield\n",
            },
            path="orders/views.py",
            note="a context manager that yields after its transaction",
        ),
        Valid(
            "from contextlib import nullcontext as atomic\nfrom orders.tasks import charge\n\ndef view(pk):\n    with atomic():\n        charge.delay(pk)\n",
            files=ORDERS,
            note="an `atomic` that is not Django's",
        ),
        Valid(
            "from django.contrib.auth.decorators import login_required\nfrom django.db import transaction\nfrom django.utils.decorators import method_decorator\nfrom django.views import View\nfrom orders.tasks import charge\n\n"
            "@method_decorator(transaction.atomic, name='post')\nclass Checkout(View):\n    @method_decorator(login_required)\n    def get(self, request, pk):\n        charge.delay(pk)\n",
            files=ORDERS,
            path="orders/views.py",
            note="method_decorator of another decorator; the class form names another method",
        ),
    ]
    INVALID = [
        Invalid(
            "from orders.tracing import traced_atomic\nfrom orders.tasks import charge\n\ndef view(pk):\n    with traced_atomic():\n        charge.delay(pk)\n",
            files={
                **ORDERS,
                "orders/tracing.py": "from contextlib import contextmanager\nfrom django.db import transaction\n\n@contextmanager\ndef traced_atomic():\n    with transaction.atomic():\n        yield\n",
            },
            path="orders/views.py",
            line=6,
            column=9,
            note="a project context manager wrapping transaction.atomic(), in another module",
        ),
        Invalid(
            "from orders.tracing import traced_atomic\nfrom orders.tasks import charge\n\nclass Mutation:\n    @classmethod\n    @traced_atomic()\n    def perform(cls, pk):\n        charge.delay(pk)\n",
            files={
                **ORDERS,
                "orders/tracing.py": "from contextlib import contextmanager\nfrom django.db import transaction\n\n@contextmanager\ndef traced_atomic():\n    with transaction.atomic():\n        yield\n",
            },
            path="orders/views.py",
            line=8,
            column=9,
            note="the wrapper used as a decorator (context managers from @contextmanager are decorators too)",
        ),
        Invalid(
            VIEWS_HEAD
            + "def view(request, pk):\n    with transaction.atomic():\n        order = Order.objects.create(pk=pk)\n        charge.delay(order.pk)\n",
            files=ORDERS,
            path="orders/views.py",
            line=7,
            column=9,
            note="with transaction.atomic()",
        ),
        Invalid(
            VIEWS_HEAD
            + "@transaction.atomic\ndef view(request, pk):\n    charge.apply_async((pk,), countdown=5)\n",
            files=ORDERS,
            path="orders/views.py",
            line=6,
            column=5,
            note="@transaction.atomic",
        ),
        Invalid(
            "from django.db.transaction import atomic\nfrom orders.tasks import charge\n\n@atomic(using='default')\ndef view(request, pk):\n    charge.delay(pk)\n",
            files=ORDERS,
            path="orders/views.py",
            line=6,
            column=5,
            note="@atomic(...) imported",
        ),
        Invalid(
            "from django.db import transaction as tx\nfrom orders import tasks\n\nclass Order:\n    def save(self):\n        with tx.atomic(durable=True):\n            super().save()\n            tasks.charge.delay(self.pk)\n",
            files=ORDERS,
            path="orders/models.py",
            line=8,
            column=13,
            note="an import alias, a model method",
        ),
        Invalid(
            "from django.db.transaction import atomic\n\ndef view(request, pk, task):\n    with atomic():\n        task.delay(pk)\n",
            path="views.py",
            line=5,
            column=9,
            note="a receiver the analyzer cannot resolve",
        ),
        Invalid(
            VIEWS_HEAD
            + "def view(request, pks):\n    with transaction.atomic():\n        for pk in pks:\n            transaction.on_commit(charge.delay(pk))\n",
            files=ORDERS,
            path="orders/views.py",
            line=7,
            column=35,
            note="on_commit given the result of delay(): it has already been sent",
        ),
        Invalid(
            "from django.db.transaction import atomic\nfrom django.utils.decorators import method_decorator\nfrom django.views import View\nfrom orders.tasks import charge\n\n"
            "class Checkout(View):\n    @method_decorator(atomic)\n    def post(self, request, pk):\n        charge.delay(pk)\n",
            files=ORDERS,
            path="orders/views.py",
            line=9,
            column=9,
            note="@method_decorator(atomic) on a view method",
        ),
        Invalid(
            "from django.db import transaction\nfrom django.utils.decorators import method_decorator\nfrom django.views import View\nfrom orders.tasks import charge\n\n"
            "@method_decorator(transaction.atomic, name='post')\nclass Checkout(View):\n    def post(self, request, pk):\n        charge.delay(pk)\n",
            files=ORDERS,
            path="orders/views.py",
            line=9,
            column=9,
            message_contains="on class Checkout",
            note="the class form names the method",
        ),
        Invalid(
            "from django.db import transaction\nfrom django.utils.decorators import method_decorator\nfrom django.views.generic import FormView\nfrom orders.tasks import charge\n\n"
            "@method_decorator([transaction.atomic], name='dispatch')\nclass Checkout(FormView):\n    def post(self, request, pk):\n        charge.delay(pk)\n",
            files=ORDERS,
            path="orders/views.py",
            line=9,
            column=9,
            note="a list of decorators on dispatch, which calls the handler",
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.sites = CallSites(context)
        self._blocks: list[_Block] = []
        self._lambdas = 0
        self._wrappers: dict[int, bool] = {}
        self._class_atomic: dict[int, str] = {}

    def _depth(self) -> int:
        return len(self.context.function_stack) + self._lambdas

    def _is_atomic(self, expr: cst.BaseExpression) -> bool:
        func = expr.func if isinstance(expr, cst.Call) else expr
        if isinstance(expr, cst.Call) and self._on_replica(expr):
            return False
        return self.sites.names_in(func, ATOMIC)

    @staticmethod
    def _on_replica(call: cst.Call) -> bool:
        """``atomic(using=REPLICA)``: a read-only transaction on a replica holds no writes."""
        using = next((a for a in call.args if a.keyword is not None and a.keyword.value == "using"), None)
        if using is None and call.args and call.args[0].keyword is None:
            using = call.args[0]
        return using is not None and "replica" in code_of(using.value, 200).lower()

    def _atomic_wrapper(self, expr: cst.BaseExpression) -> bool:
        """A project ``@contextmanager`` that yields inside ``transaction.atomic()``."""
        if not isinstance(expr, cst.Call) or self.sites.is_local(expr.func):
            return False
        return self.project.is_atomic_wrapper(expr.func)

    def visit_With(self, node: cst.With) -> None:
        for item in node.items:
            if self._is_atomic(item.item):
                self._blocks.append(_Block(node, self._depth(), f"`with {code_of(item.item, 40)}`"))
                return
            if self._atomic_wrapper(item.item):
                where = f"`with {code_of(item.item, 40)}` (a transaction.atomic() wrapper)"
                self._blocks.append(_Block(node, self._depth(), where))
                return

    def leave_With(self, original_node: cst.With) -> None:
        if self._blocks and self._blocks[-1].node is original_node:
            self._blocks.pop()

    def _method_atomic(self, expr: cst.BaseExpression) -> bool:
        """``method_decorator(atomic)``, ``method_decorator([atomic, login_required])``."""
        if not isinstance(expr, cst.Call) or not self.sites.names_in(expr.func, METHOD_DECORATOR):
            return False
        return any(self._is_atomic(d) or self._atomic_wrapper(d) for d in method_decorated(expr))

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        for decorator in node.decorators:
            expr = decorator.decorator
            if isinstance(expr, cst.Call) and self._method_atomic(expr):
                where = f"(decorated `@{code_of(expr, 60)}` on class {node.name.value})"
                for method in decorated_methods(expr, node):
                    self._class_atomic.setdefault(id(method), where)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for decorator in node.decorators:
            expr = decorator.decorator
            if self._is_atomic(expr) or self._atomic_wrapper(expr) or self._method_atomic(expr):
                where = f"`{node.name.value}()` (decorated `@{code_of(expr, 40)}`)"
                self._blocks.append(_Block(node, self._depth(), where))
                return
        by_class = self._class_atomic.get(id(node))
        if by_class is not None:
            self._blocks.append(_Block(node, self._depth(), f"`{node.name.value}()` {by_class}"))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        if self._blocks and self._blocks[-1].node is original_node:
            self._blocks.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._lambdas += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self._lambdas -= 1

    def visit_Call(self, node: cst.Call) -> None:
        if not self._blocks or self._blocks[-1].depth != self._depth():
            return
        if not self.sites.is_enqueue_call(node):
            return
        assert isinstance(node.func, cst.Attribute)
        receiver = node.func.value
        task = None if self.sites.is_local(receiver) else self.project.task_for_expression(receiver)
        if task is not None and task.defers_to_commit:
            return
        self.report(node, self.message(call=code_of(node), where=self._blocks[-1].where))
