from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...project.helper_texts import Reach
from ...project.walk import Walker, own_returns
from ..base import Invalid, Rule, Valid
from ..following import Following

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

# What a relative update looks like as text: ``x.f += n``, ``d[k] -= n``, ``x.f = x.f + n``,
# ``f=F('f') + n``.
FOLLOW = Reach(
    re.compile(
        rb"(?:\.\w+|\])\s*(?:[-+*/]|//)=|\.(\w+)\s*=\s*[\w.]+\.\1\s*[-+*]"
        rb"|=\s*(?:\w+\.)?F\(\s*['\"]\w+['\"]\s*\)\s*[-+]|=\s*[\w.]+\s*[-+]\s*(?:\w+\.)?F\("
    )
)

# Calls that build a plain in-memory container: updates to it are local state.
CONTAINER_FACTORIES = frozenset(
    {
        "dict",
        "list",
        "set",
        "Counter",
        "defaultdict",
        "OrderedDict",
        "deque",
        "collections.Counter",
        "collections.defaultdict",
        "collections.OrderedDict",
        "collections.deque",
    }
)
F_EXPRESSIONS = frozenset({"django.db.models.F", "django.db.models.expressions.F"})
# Calls that return a fresh copy: updates to it stay in memory.
COPY_CALLS = frozenset({"copy", "deepcopy"})
# Queryset writes that return how many rows they changed (``delete()``: a (count, by model) pair).
ROW_COUNTING_WRITES = frozenset({"delete", "update"})


def _root_name(expr: cst.BaseExpression) -> str | None:
    node = expr
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        node = node.value
    return node.value if isinstance(node, cst.Name) else None


def _entry_of_own_kwargs(target: cst.BaseExpression, function: cst.FunctionDef) -> bool:
    """``kwargs["roles"] += [...]`` in ``def f(**kwargs)``: Python makes the ``**`` dict anew
    for each call, so rebinding one of its entries stores nothing (an object held by an
    entry, ``kwargs["user"].points``, is another matter)."""
    star = function.params.star_kwarg
    return (
        star is not None
        and isinstance(target, cst.Subscript)
        and isinstance(target.value, cst.Name)
        and target.value.value == star.name.value
    )


def _entry_of(value: cst.BaseExpression | None, containers: set[str]) -> bool:
    """``combined.get(key)``, ``combined[key]`` or ``combined.setdefault(key, {})`` of a
    container the function made: an entry of in-memory state, like the container itself."""
    if isinstance(value, cst.Subscript):
        holder: cst.BaseExpression = value.value
    elif (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value in ("get", "setdefault", "pop")
    ):
        holder = value.func.value
    else:
        return False
    return isinstance(holder, cst.Name) and holder.value in containers


def _is_container(value: cst.BaseExpression | None) -> bool:
    if isinstance(value, (cst.Dict, cst.List, cst.Set, cst.Tuple, cst.DictComp, cst.ListComp, cst.SetComp)):
        return True
    if isinstance(value, cst.Call):
        func = value.func
        name = (
            func.value
            if isinstance(func, cst.Name)
            else (f"collections.{func.attr.value}" if isinstance(func, cst.Attribute) else None)
        )
        if name in CONTAINER_FACTORIES:
            return True
        last = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if last in COPY_CALLS:
            return True
        # ``d.setdefault(key, {})``: a value of a dict of in-memory containers.
        return last == "setdefault" and len(value.args) == 2 and _is_container(value.args[1].value)
    return False


def _container_factories(functions: dict[str, cst.FunctionDef], rebound: Iterable[str]) -> set[str]:
    """The module's undecorated functions whose every ``return`` gives a new container
    (``def _empty_stats(): return {'total': 0, ...}``): what a call of one binds is in-memory
    state, like a literal. A name the module also binds otherwise is not one of them."""
    other = set(rebound)
    factories = set()
    for name, function in functions.items():
        if name in other or function.decorators:
            continue
        returns = own_returns(function)
        if returns.values and not returns.generator and all(_is_container(v) for v in returns.values):
            factories.add(name)
    return factories


def _made_by(value: cst.BaseExpression | None, factories: set[str]) -> bool:
    return isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in factories


def _is_constant(value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(value, cst.UnaryOperation):
        return _is_constant(value.expression)
    return isinstance(value, (cst.Dict, cst.List, cst.Set, cst.Tuple)) and not value.children


def _counts_rows(value: cst.BaseExpression | None) -> bool:
    """``qs.delete()``, ``qs.update(...)``, ``qs.delete()[0]``: how many rows this very call changed."""
    if isinstance(value, cst.Subscript):
        value = value.value
    return (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value in ROW_COUNTING_WRITES
    )


# Calls that record a run under a key and say whether this run made the record.
RECORDING_CALLS = frozenset({"get_or_create", "update_or_create"})


def _only_exits(body: cst.BaseSuite) -> bool:
    """The block only returns or raises."""
    lines = body.body if isinstance(body, cst.IndentedBlock) else (body,)
    smalls = [
        small
        for line in lines
        for small in (
            line.body if isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) else [line]
        )
    ]
    return (
        bool(smalls)
        and all(isinstance(small, (cst.Return, cst.Raise, cst.Pass)) for small in smalls)
        and any(isinstance(small, (cst.Return, cst.Raise)) for small in smalls)
    )


def _is_existence_check(test: cst.BaseExpression) -> bool:
    """``<queryset>.exists()`` (parentheses aside)."""
    return (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Attribute)
        and test.func.attr.value == "exists"
        and not test.args
    )


def idempotency_guards(function: cst.FunctionDef, names: _LocalContainers) -> list[cst.If]:
    """Statements of the function's own block that end a run which was done before:
    ``if <queryset>.exists(): return`` (the check may be bound to a name first) and ``if
    not created: return`` after a ``get_or_create``/``update_or_create``. What follows them
    runs once per key. ``names``: what the function binds (walked from ``function``)."""
    body = function.body
    if not isinstance(body, cst.IndentedBlock):
        return []
    guards: list[cst.If] = []
    for statement in body.body:
        if (
            not isinstance(statement, cst.If)
            or statement.orelse is not None
            or not _only_exits(statement.body)
        ):
            continue
        test = statement.test
        if _is_existence_check(test):
            guards.append(statement)
            continue
        negated = isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not)
        name = test.expression if isinstance(test, cst.UnaryOperation) and negated else test
        if not isinstance(name, cst.Name):
            continue
        table = names.created if negated else names.exists
        if table.get(name.value, False):
            guards.append(statement)
    return guards


class _LocalContainers(Walker):
    """Names a function binds to in-memory containers (their updates are not persisted),
    targets it resets to a constant (``di.count = 0``: an accumulator each run starts
    afresh), names bound to the number of rows a write of its own changed, and the names
    an idempotency guard may test: the ``created`` flag of ``obj, created =
    X.objects.get_or_create(...)`` and a bound ``<queryset>.exists()`` (each only when every
    binding of the name is one)."""

    def __init__(self, factories: set[str]) -> None:
        super().__init__()
        self.factories = factories
        """The module's functions that return a new container (:func:`_container_factories`)."""
        self.names: set[str] = set()
        self.reset: dict[str, list[tuple[int, int]]] = {}
        """Target text -> (position, block) of each constant assignment to it."""
        self.places: dict[int, tuple[int, tuple[int, ...]]] = {}
        """``id`` of each assignment -> its position in the function and enclosing blocks."""
        self.blocks: list[int] = []
        self.row_counts: dict[str, bool] = {}
        self.created: dict[str, bool] = {}
        self.exists: dict[str, bool] = {}

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.blocks.append(id(node))

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        self.blocks.pop()

    def reset_before(self, text: str, node: cst.CSTNode) -> bool:
        """``text`` is set to a constant before ``node``, in a block that encloses it (not
        in an ``if`` branch that excludes it)."""
        place = self.places.get(id(node))
        if place is None:
            return False
        position, blocks = place
        return any(at < position and block in blocks for at, block in self.reset.get(text, ()))

    def _place(self, node: cst.CSTNode) -> int:
        position = len(self.places)
        self.places[id(node)] = position, tuple(self.blocks)
        return position

    def visit_Assign(self, node: cst.Assign) -> None:
        position = self._place(node)
        self._guard_names(node)
        if self._fresh(node.value):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.names.add(target.target.value)
        for target in node.targets:
            if isinstance(target.target, (cst.Attribute, cst.Subscript)) and _is_constant(node.value):
                text = cst.Module([]).code_for_node(target.target)
                self.reset.setdefault(text, []).append((position, self.blocks[-1] if self.blocks else 0))
            if isinstance(target.target, cst.Name):
                self._count(target.target.value, _counts_rows(node.value))
            elif isinstance(target.target, cst.Tuple) and target.target.elements:
                # ``deleted, _ = qs.delete()``
                first = target.target.elements[0].value
                if isinstance(first, cst.Name):
                    delete = isinstance(node.value, cst.Call) and _counts_rows(node.value)
                    self._count(first.value, delete)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        # ``if info := combined.get(key):``
        if isinstance(node.target, cst.Name) and self._fresh(node.value):
            self.names.add(node.target.value)

    def _fresh(self, value: cst.BaseExpression | None) -> bool:
        """``value`` is an in-memory container the function made, or an entry of one."""
        return _is_container(value) or _entry_of(value, self.names) or _made_by(value, self.factories)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._place(node)
        if isinstance(node.target, cst.Name):
            self._count(node.target.value, False)
            self.created[node.target.value] = self.exists[node.target.value] = False

    def _guard_names(self, node: cst.Assign) -> None:
        value = node.value
        recording = (
            isinstance(value, cst.Call)
            and isinstance(value.func, cst.Attribute)
            and value.func.attr.value in RECORDING_CALLS
        )
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                name = target.target.value
                self.exists[name] = self.exists.get(name, True) and _is_existence_check(value)
                self.created[name] = False
            elif isinstance(target.target, (cst.Tuple, cst.List)):
                elements = target.target.elements
                for index, element in enumerate(elements):
                    if isinstance(element.value, cst.Name):
                        name = element.value.value
                        flag = recording and len(elements) == 2 and index == 1
                        self.created[name] = self.created.get(name, True) and flag
                        self.exists[name] = False

    def _count(self, name: str, counts: bool) -> None:
        self.row_counts[name] = self.row_counts.get(name, True) and counts

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and _is_container(node.value):
            self.names.add(node.target.value)


class NonIdempotentUpdate(Rule):
    """
    ## What it does
    Checks task bodies for relative updates of an object's state: an augmented
    assignment (`+=`, `-=`, ...) on an attribute or item (`order.total += amount`,
    `stock["left"] -= 1`), `x.f = x.f + n`, and Django `F("f") + n` updates. The hook
    methods of a task's project classes (`before_start`, `on_success`, `on_failure`,
    `on_retry`, `after_return`, `__call__` of a class-based task, its `base=` class or
    the app's `task_cls`) run on every execution too and are checked as task code.

    Project functions a task calls are checked too, up to three calls deep (`bump(order)`,
    `stats.bump(order)`, `self.bump()` in a method, `Counter().bump()`; not a function
    the task only passes along, nor one it cannot resolve). Such a finding is reported at
    the task's call that leads to it, once a call, naming the place and the way there:
    ``relative update `order.views` in shop/stats.py:40, called from task
    'shop.tasks.count' via bump()``; `# noqa` goes on that call.

    Not flagged: updates of in-memory containers (literals, `dict()`, copies, values
    of `d.setdefault(k, {})`), a target reset to a constant earlier in the function (an
    accumulator each run starts afresh), a change by the number of rows a `delete()`
    or `update()` of the same function changed (a second run changes none), and code after
    an idempotency guard at the top of its function: `if <queryset>.exists(): return`, or
    `if not created: return` after `obj, created = X.objects.get_or_create(...)` (a
    redelivery stops there; a guard in a function on the way from the task counts too).

    ## Why is this bad?
    Celery delivers a message at least once: with late acknowledgement, retries and
    redelivery after a lost worker, a task runs again with the same arguments. A
    relative update then applies twice (the balance is charged twice, the counter
    counts double). An absolute write (`order.total = computed_total`) gives the same
    result however often it runs.

    ## Example
    ```python
    @shared_task(acks_late=True)
    def add_points(user_id, points):
        user = User.objects.get(pk=user_id)
        user.points += points
        user.save()
    ```

    ## Use instead
    ```python
    @shared_task(acks_late=True)
    def add_points(user_id, points, grant_id):
        Grant.objects.get_or_create(id=grant_id, defaults={"user_id": user_id, "points": points})
        User.objects.filter(pk=user_id).update(points=Grant.objects.filter(user_id=user_id).aggregate(Sum("points"))["points__sum"])
    ```
    Record each change under an idempotency key, then derive totals from the records.

    ## References
    - Celery, *Tasks*: idempotence and `acks_late`
    """

    CODE = "CEL401"
    NAME = "non-idempotent-update"
    SKIP_TEST_CODE = True
    MESSAGE = "relative update `{target}` in {where}: a redelivered or retried message applies it twice"
    FIX_TITLE = "write absolute values or guard with an idempotency key"

    VALID = [
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(items):\n    count = 0\n    for item in items:\n        count += 1\n    return count\n",
            note="counters on plain local names",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(items):\n    totals = {}\n    for item in items:\n        totals[item] = totals.get(item, 0)\n        totals[item] += 1\n    return totals\n",
            note="a local dict",
        ),
        Valid("def helper(order):\n    order.total += 1\n", note="not in a task"),
        Valid(
            "from celery import shared_task\nfrom django.db.models import Avg, F\n\n@shared_task\ndef f():\n    Order.objects.aggregate(d=Avg(F('shipped_at') - F('created_at')))\n    return Order.objects.filter(due__lt=F('created_at') + F('grace')).count()\n",
            note="F() arithmetic that reads, not a write-back",
        ),
        Valid(
            "from celery import shared_task\nfrom django.db.models import F\n\n@shared_task\ndef f(pk):\n    Order.objects.filter(pk=pk).update(total=F('subtotal') + 5)\n",
            note="another field: an absolute write",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(order_id, total):\n    order = Order.objects.get(pk=order_id)\n    order.total = total\n    order.save()\n",
        ),
        Valid(
            "class Listener:\n    def on_failure(self, exc, job):\n        job.failures += 1\n",
            note="a hook-named method of a class no task uses",
        ),
        Valid(
            "from celery import Task, shared_task\n\nclass Tracked(Task):\n    def on_failure(self, exc, task_id, args, kwargs, einfo):\n        self.failures += 1\n\n@shared_task(base=Tracked)\ndef f(pk):\n    return pk\n",
            note="a hook updating the task instance's own in-memory state",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(order, bump):\n    bump(order)\n",
            note="a callee the analyzer cannot resolve (a parameter)",
        ),
        Valid(
            "from celery import shared_task\nfrom counters import bump\n\n@shared_task\ndef f(order):\n    bump(order)\n",
            note="a function outside the project",
        ),
        Valid(
            "from celery import shared_task\n\ndef tally(points):\n    for point in points:\n        point.seen = 0\n        point.seen += point.weight\n    return points\n\n@shared_task\ndef f(points):\n    return len(tally(points))\n",
            note="an accumulator reset to a constant first, in a helper",
        ),
        Valid(
            "from celery import shared_task\nfrom django.db.models import F\n\ndef untag(tag, ids):\n    removed, _ = Link.objects.filter(tag=tag, item__in=ids).delete()\n    Tag.objects.filter(pk=tag.pk).update(count=F('count') - removed)\n\n@shared_task\ndef f(tag, ids):\n    untag(tag, ids)\n",
            note="a change by the rows this run deleted: a second run deletes none",
        ),
        Valid(
            "from copy import deepcopy\nfrom celery import shared_task\n\ndef limits_for(base):\n    limits = deepcopy(base)\n    limits['storage'] += 10\n    return limits\n\n@shared_task\ndef f(base):\n    return limits_for(base)\n",
            note="a copy is in-memory state",
        ),
        Valid(
            "from celery import shared_task\n\ndef bump(order):\n    order.views += 1\n\n@shared_task\ndef f(orders):\n    return list(map(bump, orders))\n",
            note="a function the task passes along is not followed",
        ),
        Valid(
            "from celery import shared_task\nfrom django.db.models import F\n\n@shared_task\ndef f(user_id, post_id):\n    if Notification.objects.filter(user_id=user_id, post_id=post_id).exists():\n        return\n    Notification.objects.create(user_id=user_id, post_id=post_id)\n    User.objects.filter(pk=user_id).update(unread=F('unread') + 1)\n",
            note="after an existence check that ends a run done before",
        ),
        Valid(
            "from celery import shared_task\n\ndef notify(user, post):\n    user.unread += 1\n    user.save()\n\ndef notify_once(user, post):\n    if Notification.objects.filter(user=user, post=post).exists():\n        return\n    Notification.objects.create(user=user, post=post)\n    notify(user, post)\n\n@shared_task\ndef f(user, post):\n    notify_once(user, post)\n",
            note="a guard in a function on the way from the task",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(user, post):\n    already = Notification.objects.filter(user=user, post=post).exists()\n    if already:\n        return  # notified before\n    Notification.objects.create(user=user, post=post)\n    user.unread += 1\n    user.save()\n",
            note="the existence check bound to a name first",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(user_id, points, grant_id):\n    grant, created = Grant.objects.get_or_create(key=grant_id, defaults={'points': points})\n    if not created:\n        return\n    user = User.objects.get(pk=user_id)\n    user.points += points\n    user.save()\n",
            note="after an idempotency key recorded with get_or_create",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(**kwargs):\n    kwargs['roles'] += ['owner']\n    Certificate.objects.create(**kwargs)\n",
            note="an entry of the call's own **kwargs dict",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(rows):\n    combined = {}\n"
            "    for key, n in rows:\n        if info := combined.get(key):\n            info['count'] += n\n"
            "        else:\n            combined[key] = {'count': n}\n    return combined\n",
            note="an entry read from a container the task made",
        ),
        Valid(
            "from celery import shared_task\n\ndef _empty_counts():\n    return {'sent': 0, 'failed': 0}\n\n"
            "@shared_task\ndef f(ids):\n    counts = _empty_counts()\n    for i in ids:\n"
            "        counts['sent'] += 1\n    return counts\n",
            note="a container made by a function of the module that returns a new one",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\ndef _counter(pk):\n    if pk is None:\n        return {}\n"
            "    return Counter.objects.get(pk=pk)\n\n@shared_task\ndef f(pk):\n    counter = _counter(pk)\n"
            "    counter.total += 1\n    counter.save()\n",
            line=11,
            column=5,
            note="a function that may return a stored row",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(user_id, points):\n    user = User.objects.get(pk=user_id)\n    user.points += points\n    user.save()\n",
            line=6,
            column=5,
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(**kwargs):\n    kwargs['user'].points += 1\n    kwargs['user'].save()\n",
            line=5,
            column=5,
            note="an object an entry of **kwargs holds",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(order_id):\n    order = Order.objects.get(pk=order_id)\n    order.total = order.total + 10\n",
            line=6,
            column=5,
        ),
        Invalid(
            "from celery import shared_task\nfrom django.db.models import F\n\n@shared_task\ndef f(pk):\n    Stock.objects.filter(pk=pk).update(left=F('left') - 1)\n",
            line=6,
            column=40,
        ),
        Invalid(
            "from celery import shared_task\nfrom django.db.models import F\n\n@shared_task\ndef f(pk):\n    invitation = Invitation.objects.get(pk=pk)\n    invitation.attempt = F('attempt') + 1\n    invitation.save()\n",
            line=7,
            column=5,
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(profile):\n    profile.data['visits'] += 1\n",
            line=5,
            column=5,
        ),
        Invalid(
            "from celery import Task, shared_task\n\nclass Tracked(Task):\n    def on_failure(self, exc, task_id, args, kwargs, einfo):\n        job = Job.objects.get(pk=args[0])\n        job.failures += 1\n        job.save()\n\n@shared_task(base=Tracked)\ndef f(pk):\n    return pk\n",
            line=6,
            column=9,
            message_contains="the `on_failure` hook of task class `Tracked` (task 'tasks.f')",
            note="a hook of the task's base class runs on every execution",
        ),
        Invalid(
            "from celery import Celery, Task\nfrom django.db.models import F\n\nclass Counted(Task):\n    def __call__(self, *args, **kwargs):\n        Stats.objects.filter(pk=1).update(runs=F('runs') + 1)\n        return super().__call__(*args, **kwargs)\n\napp = Celery('proj', task_cls=Counted)\n\n@app.task\ndef f(pk):\n    return pk\n",
            line=6,
            column=43,
            note="`__call__` of the app's task_cls",
        ),
        Invalid(
            "from celery import shared_task\nfrom shop.stats import bump\n\n@shared_task\ndef count(order_id):\n    order = Order.objects.get(pk=order_id)\n    bump(order)\n",
            files={
                "shop/__init__.py": "",
                "shop/stats.py": "def bump(order):\n    add_view(order)\n\ndef add_view(order):\n    order.views += 1\n    order.save()\n",
            },
            line=7,
            column=5,
            message_contains="`order.views` in shop/stats.py:5, called from task 'tasks.count' via bump() -> add_view()",
            note="through a helper of another module, two calls deep: reported at the task's call",
        ),
        Invalid(
            "from celery import shared_task\nfrom django.db.models import F\n\nclass Stock:\n    def take(self, pk):\n        self.save_left(pk)\n\n    def save_left(self, pk):\n        Item.objects.filter(pk=pk).update(left=F('left') - 1)\n\n@shared_task\ndef f(pk):\n    Stock().take(pk)\n",
            line=13,
            column=5,
            message_contains="via Stock.take() -> Stock.save_left()",
            note="methods when the receiver's class is known",
        ),
        Invalid(
            "from celery import shared_task\nfrom django.db.models import F\n\n@shared_task\ndef f(pk, n):\n    code = Code.objects.get(pk=pk)\n    if code.used < n:\n        code.used = 0\n    else:\n        code.used = F('used') - n\n    code.save()\n",
            line=10,
            column=9,
            note="a reset in another branch does not make the update start afresh",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(user_id, post_id):\n    if not Post.objects.filter(pk=post_id).exists():\n        return\n    user = User.objects.get(pk=user_id)\n    user.posts += 1\n    user.save()\n",
            line=8,
            column=5,
            note="returning when something is missing guards nothing: it is there on a redelivery too",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(user_id, post_id):\n    user = User.objects.get(pk=user_id)\n    user.posts += 1\n    user.save()\n    if Notification.objects.filter(user_id=user_id, post_id=post_id).exists():\n        return\n    Notification.objects.create(user_id=user_id, post_id=post_id)\n",
            line=6,
            column=5,
            note="a guard after the update does not guard it",
        ),
    ]

    def __init__(self, context: object) -> None:
        super().__init__(context)  # type: ignore[arg-type]
        self._containers: dict[int, set[str]] = {}
        self._locals: dict[int, _LocalContainers] = {}
        self._factories: set[str] | None = None
        self._guards: dict[int, list[int]] = {}
        self.following = Following(self, FOLLOW)

    def _task_code(self) -> tuple[str, cst.FunctionDef] | None:
        """Where the visit is: a task's body, a hook method of a task class (Celery runs
        both on every delivery) or a function a task calls; with the function to look for
        local containers in (the innermost one: nested functions are not task code)."""
        task = self.project.current_task()
        if task is not None and self.context.function_stack:
            return f"task '{task.label}'", self.context.function_stack[-1]
        hook = self.project.current_hook()
        if hook is not None:
            return hook.label, hook.node
        return None

    def _local_facts(self, function: cst.FunctionDef) -> _LocalContainers:
        key = id(function)
        if key not in self._locals:
            if self._factories is None:
                summary = self.context.summary
                self._factories = _container_factories(
                    summary.functions, [*summary.bindings, *summary.classes]
                )
            finder = self._locals[key] = _LocalContainers(self._factories)
            finder.walk(function)
        return self._locals[key]

    def _skipped_roots(self, function: cst.FunctionDef) -> set[str]:
        key = id(function)
        if key not in self._containers:
            finder = self._local_facts(function)
            module_level = {
                name
                for name, bindings in self.context.summary.bindings.items()
                if all(_is_container(b.value) for b in bindings)
            }
            self._containers[key] = finder.names | module_level | {"self", "cls"}
        return self._containers[key]

    def _flag(self, node: cst.CSTNode, target: cst.BaseExpression) -> None:
        code = self._task_code()
        if code is None:
            return
        root = _root_name(target)
        if root is None or root in self._skipped_roots(code[1]) or _entry_of_own_kwargs(target, code[1]):
            return
        text = cst.Module([]).code_for_node(target)
        if self._local_facts(code[1]).reset_before(text, node) or self._guarded(node, code[1]):
            return
        if not self.following.found(node, target=text):
            self.report(node, self.message(target=text, where=code[0]))

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if (
            isinstance(node.target, (cst.Attribute, cst.Subscript))
            and self._task_code() is not None
            and not self._rows_changed(node.value)
        ):
            self._flag(node, node.target)

    def _guarded(self, node: cst.CSTNode, function: cst.FunctionDef) -> bool:
        """``node`` comes after an idempotency guard of ``function``'s own block."""
        key = id(function)
        if key not in self._guards:
            guards = idempotency_guards(function, self._local_facts(function))
            self._guards[key] = [self.project.line_of(guard) for guard in guards]
        lines = self._guards[key]
        return bool(lines) and self.project.line_of(node) > min(lines)

    def _rows_changed(self, expr: cst.BaseExpression) -> bool:
        """``expr`` is a name bound only to how many rows a ``delete()``/``update()`` of the
        same function changed: a second run changes none, so adds nothing."""
        stack = self.context.function_stack
        if not isinstance(expr, cst.Name) or not stack:
            return False
        return self._local_facts(stack[-1]).row_counts.get(expr.value, False)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.value, cst.BinaryOperation):
            return
        target = node.targets[0].target
        if not isinstance(target, (cst.Attribute, cst.Subscript)):
            return
        if not isinstance(node.value.operator, (cst.Add, cst.Subtract, cst.Multiply)):
            return
        if (
            node.value.left.deep_equals(target)
            or node.value.right.deep_equals(target)
            or (isinstance(target, cst.Attribute) and self._self_relative_f(node.value, target.attr.value))
        ):
            self._flag(node, target)

    def visit_Call(self, node: cst.Call) -> None:
        """``qs.update(left=F("left") - 1)``: the field is written from its own old value."""
        code = self._task_code()
        if code is None or self._guarded(node, code[1]):
            return
        self.following.report_through(node, "target")
        if not (isinstance(node.func, cst.Attribute) and node.func.attr.value == "update"):
            return
        for arg in node.args:
            if arg.keyword is not None and self._self_relative_f(arg.value, arg.keyword.value):
                text = f"{arg.keyword.value}={cst.Module([]).code_for_node(arg.value)}"
                if not self.following.found(arg, target=text):
                    self.report(arg, self.message(target=text, where=code[0]))

    def _self_relative_f(self, value: cst.BaseExpression, field: str) -> bool:
        """``F("field") + n`` / ``n - F("field")``, where the other side is not another F()."""
        if not isinstance(value, cst.BinaryOperation) or not isinstance(
            value.operator, (cst.Add, cst.Subtract)
        ):
            return False
        sides = (value.left, value.right)
        f_fields = [self._f_field(side) for side in sides]
        relative = (
            f_fields.count(field) == 1 and all(f is None or f == field for f in f_fields) and None in f_fields
        )
        return relative and not any(
            f is None and self._rows_changed(side) for f, side in zip(f_fields, sides, strict=True)
        )

    def _f_field(self, expr: cst.BaseExpression) -> str | None:
        if not isinstance(expr, cst.Call) or not expr.args:
            return None
        qualname = self.project.qualified_name(expr.func)
        first = expr.args[0].value
        if qualname in F_EXPRESSIONS and isinstance(first, cst.SimpleString):
            value = first.evaluated_value
            return value if isinstance(value, str) else None
        return None
