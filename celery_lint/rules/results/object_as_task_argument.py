from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...project.callsites import CallSites, code_of, is_literal, keyword, method_of, positional
from ..base import Invalid, Rule, Valid
from ..support import task_named_by

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

if TYPE_CHECKING:
    from ...context import FileContext

ORDERS_TASKS = "from celery import shared_task\n\n@shared_task\ndef charge(order_id):\n    return order_id\n"
ORDERS = {"orders/__init__.py": "", "orders/tasks.py": ORDERS_TASKS}
HEAD = "from orders.tasks import charge\n\n"
REQUEST_TYPES = ("Request", "HttpRequest", "WSGIRequest", "ASGIRequest")


class ObjectAsTaskArgument(Rule):
    """
    ## What it does
    Checks for task calls (`.delay(...)`, `.apply_async(...)`, and `.s(...)`/`.si(...)`
    of a project task) given an object where an id belongs: the Django `request`
    (a parameter of a non-task function), `request.user`, `self.request`, `self` in a
    method, or a local name bound from an ORM fetch (`Model.objects.get(...)`,
    `get_object_or_404(...)`, `self.get_object()`, `qs.first()`/`.last()`/`.latest()`,
    `Model.objects.create(...)`, the object of `Model.objects.get_or_create(...)`).
    For `apply_async` it looks inside `args=(...)`/`[...]` and `kwargs={...}`.
    Ids, primitives and attributes such as `obj.pk`/`obj.id` are not flagged, nor
    calls of a task whose class overrides `apply_async` or `delay` (or is unknown): such a
    class may send references in the objects' place.

    ## Why is this bad?
    The message carries a snapshot of the object taken when the task was sent: by the
    time a worker runs it (after a queue, a retry or a redelivery) the row may have
    changed or gone, and the task acts on stale data. With the default JSON serializer
    the call fails with `EncodeError` (`kombu.exceptions.EncodeError: Object of type
    User is not JSON serializable`); with pickle it ships whole objects (and requests)
    through the broker.

    ## Example
    ```python
    def checkout(request, pk):
        order = get_object_or_404(Order, pk=pk)
        send_receipt.delay(order, request.user)
    ```

    ## Use instead
    ```python
    def checkout(request, pk):
        order = get_object_or_404(Order, pk=pk)
        send_receipt.delay(order.pk, request.user.pk)
    ```
    and fetch the rows inside the task.

    ## References
    - Celery, *Tasks*: "State" (pass ids, not objects)
    """

    CODE = "CEL504"
    NAME = "object-as-task-argument"
    SKIP_TEST_CODE = True
    TRIGGERS = (b".delay(", b".apply_async(", b".s(", b".si(")
    MESSAGE = "`{arg}` passed to `{callee}` is {what}: the message carries a stale snapshot (or fails to serialize as JSON)"
    FIX_TITLE = "{fix}"

    VALID = [
        Valid(
            "from celery import Task, shared_task\n\n"
            "class ModelRefTask(Task):\n"
            "    def apply_async(self, args=None, kwargs=None, **options):\n"
            "        return super().apply_async(to_refs(args), to_refs(kwargs), **options)\n\n"
            "@shared_task(base=ModelRefTask)\n"
            "def charge(order):\n    return order.pk\n\n"
            "def view(request, pk):\n    order = Order.objects.get(pk=pk)\n    charge.delay(order)\n",
            path="orders/tasks.py",
            note="a task class that sends references in the objects' place",
        ),
        Valid(
            "def view(request, pk):\n    from orders.tasks import charge\n\n"
            "    order = Order.objects.get(pk=pk)\n    charge.delay(order)\n",
            files={
                "orders/__init__.py": "",
                "orders/tasks.py": "from celery import Task, shared_task\n\n"
                "class ModelRefTask(Task):\n"
                "    def delay(self, *args, **kwargs):\n"
                "        return super().delay(*to_refs(args), **kwargs)\n\n"
                "@shared_task(base=ModelRefTask)\n"
                "def charge(order):\n    return order.pk\n",
            },
            path="orders/views.py",
            note="the same, the task imported inside the function",
        ),
        Valid(
            HEAD
            + "def view(request, pk):\n    order = Order.objects.get(pk=pk)\n    charge.delay(order.pk, request.user.id, 'x', 3)\n",
            files=ORDERS,
            path="orders/views.py",
            note="ids and primitives",
        ),
        Valid(
            HEAD
            + "def view(request, pk):\n    order = Order.objects.values('id', 'total').get(pk=pk)\n    first = Order.objects.values_list('id', flat=True).first()\n    charge.delay(order, first)\n",
            files=ORDERS,
            path="orders/views.py",
            note="values() gives plain data",
        ),
        Valid(
            HEAD
            + "def view(request, pk):\n    order = Order.objects.get(pk=pk)\n    order = order.pk\n    charge.delay(order)\n",
            files=ORDERS,
            path="orders/views.py",
            note="rebound to the id",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef relay(request):\n    forward.delay(request)\n",
            note="a task's own `request` parameter holds message data",
        ),
        Valid(
            "def handle(payload):\n    rows = payload.first()\n    signature = helper.s(rows)\n    return signature\n",
            note="`.s()` of something that is not a project task",
        ),
        Valid(
            "from multiprocessing.pool import ThreadPool\n\nclass Sync:\n    def run(self):\n        with ThreadPool(2) as pool:\n            pool.apply_async(work, args=(self,))\n",
            note="a thread pool",
        ),
        Valid(
            HEAD + "def view(request: dict, pk):\n    charge.delay(request)\n",
            files=ORDERS,
            path="orders/views.py",
            note="a parameter annotated as something else",
        ),
    ]
    INVALID = [
        Invalid(
            HEAD + "def view(request, pk):\n    charge.delay(request)\n",
            files=ORDERS,
            path="orders/views.py",
            line=4,
            column=18,
            note="request",
        ),
        Invalid(
            HEAD + "def view(request, pk):\n    charge.delay(pk, user=request.user)\n",
            files=ORDERS,
            path="orders/views.py",
            line=4,
            column=27,
            note="request.user as a keyword",
        ),
        Invalid(
            HEAD
            + "class Order:\n    def save(self):\n        charge.apply_async(args=(self,), countdown=3)\n",
            files=ORDERS,
            path="orders/models.py",
            line=5,
            column=34,
            note="self in apply_async args=",
        ),
        Invalid(
            HEAD
            + "def view(request, pk):\n    order = Order.objects.select_related('user').get(pk=pk)\n    charge.delay(order)\n",
            files=ORDERS,
            path="orders/views.py",
            line=5,
            column=18,
            note="objects.get",
        ),
        Invalid(
            "from django.shortcuts import get_object_or_404\n"
            + HEAD
            + "def view(request, pk):\n    order = get_object_or_404(Order, pk=pk)\n    charge.apply_async((order,))\n",
            files=ORDERS,
            path="orders/views.py",
            line=6,
            column=25,
            note="get_object_or_404, positional args tuple",
        ),
        Invalid(
            HEAD
            + "def view(request):\n    order = Order.objects.filter(open=True).first()\n    charge.apply_async(kwargs={'order': order})\n",
            files=ORDERS,
            path="orders/views.py",
            line=5,
            column=41,
            note=".first(), kwargs dict",
        ),
        Invalid(
            HEAD
            + "def view(request):\n    order = Order.objects.create(total=1)\n    return charge.s(order)\n",
            files=ORDERS,
            path="orders/views.py",
            line=5,
            column=21,
            note=".create(), .s() of a project task",
        ),
        Invalid(
            "from orders import tasks as t\n\ndef view(request):\n    order, created = Order.objects.get_or_create(total=1)\n    return t.charge.si(order)\n",
            files=ORDERS,
            path="orders/views.py",
            line=5,
            column=24,
            note="get_or_create unpacked, .si() through a module alias",
        ),
        Invalid(
            HEAD
            + "class OrderView:\n    def post(self, request, *args, **kwargs):\n        charge.delay(self.get_object())\n        charge.delay(self.request.user)\n",
            files=ORDERS,
            path="orders/views.py",
            findings=((5, 22), (6, 22)),
            note="self.get_object() directly",
        ),
        Invalid(
            HEAD + "def view(request):\n    user = request.user\n    charge.delay(user)\n",
            files=ORDERS,
            path="orders/views.py",
            line=5,
            column=18,
            note="a name bound to request.user",
        ),
        Invalid(
            HEAD + "def view(request, pk):\n    charge.delay(Order.objects.get(pk=pk))\n",
            files=ORDERS,
            path="orders/views.py",
            line=4,
            column=18,
            note="a fetch passed directly",
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.sites = CallSites(context)

    def visit_Call(self, node: cst.Call) -> None:
        method = method_of(node)
        if method not in ("delay", "apply_async", "s", "si"):
            return
        assert isinstance(node.func, cst.Attribute)
        receiver = node.func.value
        if method in ("s", "si") and self.sites.task(receiver) is None:
            return
        if method == "apply_async" and self.sites.pool_like(receiver):
            return
        task = task_named_by(self.project, self.sites, receiver)
        if task is not None and not task.sends_arguments_as_given:
            return  # its class may send references in the objects' place
        callee = f"{code_of(receiver, 40)}.{method}()"
        for arg in self._arguments(node, method):
            what = self._describe(arg)
            if what is None:
                continue
            description, fix = what
            self.report(arg, self.message(arg=code_of(arg, 40), callee=callee, what=description, fix=fix))

    @staticmethod
    def _arguments(node: cst.Call, method: str) -> Iterator[cst.BaseExpression]:
        if method != "apply_async":
            for arg in node.args:
                if not arg.star:
                    yield arg.value
            return
        given = positional(node)
        args = keyword(node, "args")
        kwargs = keyword(node, "kwargs")
        args_expr = args.value if args is not None else (given[0].value if given else None)
        kwargs_expr = kwargs.value if kwargs is not None else (given[1].value if len(given) > 1 else None)
        if isinstance(args_expr, (cst.Tuple, cst.List)):
            for element in args_expr.elements:
                if isinstance(element, cst.Element):
                    yield element.value
        if isinstance(kwargs_expr, cst.Dict):
            for item in kwargs_expr.elements:
                if isinstance(item, cst.DictElement):
                    yield item.value

    def _describe(self, arg: cst.BaseExpression) -> tuple[str, str] | None:
        """What object ``arg`` is, and what to pass instead; None for ids and unknowns."""
        text = code_of(arg, 40)
        id_fix = f"pass its id (`{text}.pk`) and fetch the row in the task"
        if isinstance(arg, cst.Name):
            if arg.value == "self" and self._is_self(arg.value):
                scope = self.sites.owner("self")
                if scope is not None and self.sites.is_task_body(scope.node):
                    return "the task instance (`self`)", "pass the values the task needs (ids, strings)"
                return "the object itself (`self`)", id_fix
            if self._is_request(arg):
                return "the HTTP request", "pass the values the task needs (ids, strings)"
            bound = self.sites.orm_bound(arg.value)
            if bound is not None:
                return f"a model instance from `{code_of(bound, 40)}`", id_fix
            values = self.sites.local_values(arg.value)
            if values and all(self._is_request_user(v) for v in values):
                return "the request's user object", id_fix
            return None
        if self._is_request_user(arg):
            return "the request's user object", id_fix
        if self._is_request(arg):
            scope = self.sites.owner("self")
            if scope is not None and self.sites.is_task_body(scope.node):
                return "the task's request context", "pass the values the task needs (ids, strings)"
            return "the HTTP request", "pass the values the task needs (ids, strings)"
        if self.sites.orm_fetch(arg):
            return "a model instance", "pass the id and fetch the row in the task"
        return None

    def _is_self(self, name: str) -> bool:
        scope = self.sites.owner(name)
        return scope is not None and scope.first_param == name and name in scope.params

    def _is_request(self, expr: cst.BaseExpression) -> bool:
        """``request`` (a parameter of a function that is not a task) or ``self.request``."""
        if isinstance(expr, cst.Attribute):
            return (
                expr.attr.value == "request"
                and isinstance(expr.value, cst.Name)
                and expr.value.value == "self"
                and self._is_self("self")
            )
        if not is_literal(expr, "request"):
            return False
        scope = self.sites.owner("request")
        if scope is None or "request" not in scope.params or "request" in scope.bindings:
            return False
        if self.sites.is_task_body(scope.node):
            return False
        annotation = scope.params["request"].annotation
        if annotation is not None:
            written = code_of(annotation.annotation, 200)
            return any(written.endswith(t) for t in REQUEST_TYPES)
        return True

    def _is_request_user(self, expr: cst.BaseExpression) -> bool:
        return isinstance(expr, cst.Attribute) and expr.attr.value == "user" and self._is_request(expr.value)
