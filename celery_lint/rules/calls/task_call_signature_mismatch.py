from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.callsites import (
    CHAIN,
    CHORD,
    GROUP,
    SIGNATURE,
    CallSites,
    canvas_elements,
    code_of,
    keyword,
    method_of,
    positional,
)
from ..base import Invalid, Rule, Valid
from ..support import task_named_by
from ._task_call_cases import CALLER_HEAD, NO_CELERY_HEAD, REEXPORTED_SIGNATURE, calls_project
from ._triggers import called

if TYPE_CHECKING:
    import libcst as cst

    from ...api import TaskView
    from ...context import FileContext
else:
    from ..._lazy_libcst import cst

SIGNATURE_BUILDERS = frozenset({"s", "si", "signature", "subtask"})
ARGUMENT_METHODS = frozenset({"delay", "apply_async"}) | SIGNATURE_BUILDERS
CANVAS_NAMES = frozenset(qualname.rpartition(".")[2] for qualname in CHAIN | CHORD | GROUP | SIGNATURE)
WRAPPERS = frozenset({"set", "on_error", "clone"})
"""Methods of a signature that return it (or a copy) with the same arguments."""


def _views(body: str) -> str:
    return CALLER_HEAD + "def run():\n" + body


class _Arguments:
    """The arguments a call gives the task: positional count and keyword names."""

    def __init__(self, given: int, keywords: list[str], immutable: bool) -> None:
        self.given = given
        self.keywords = keywords
        self.immutable = immutable


class TaskCallSignatureMismatch(Rule):
    """
    ## What it does
    Checks calls of the project's tasks whose arguments the task function cannot bind:
    `.delay(...)`, `.apply_async(args=..., kwargs=...)`, and signatures (`.s(...)`,
    `.si(...)`, `.signature(...)`, `signature("name", args=..., kwargs=...)`). Arguments
    are bound as Python binds them: too many or too few positional arguments, a keyword
    the function has no parameter for, or one parameter given twice.

    It counts what Celery adds: a bound task (`bind=True`) receives the task itself as
    first parameter, and a mutable signature that is a chain link (`chain(a.s(), b.s())`,
    `a.s() | b.s()`), a `link=` callback or a chord body receives the parent's result as
    its first argument (not `.si()` or `immutable=True`). A signature built elsewhere may
    get its missing arguments later, so it is only flagged for arguments it can never
    take.

    The rule stays silent when the call passes `*args`/`**kwargs`, when the task takes
    `*args`/`**kwargs`, and when the signature is not surely the task's: another
    decorator on the function, a project wrapper, a task class that overrides
    `__call__`, `run` or `apply_async`, an unknown base class, a dynamic task.

    ## Why is this bad?
    `delay` and `apply_async` check the arguments before sending (`Task.typing`) and
    raise `TypeError` in the caller, often in a request handler or a rarely taken
    branch. A signature is not checked when it is built: the worker fails with
    `TypeError` when it runs it, after the earlier steps of the chain have done their
    work, and the rest of the workflow never runs.

    ## Example
    ```python
    @shared_task
    def add(x, y):
        return x + y

    chain(add.s(1, 2), add.s(3, 4))()  # the second link gets 3 arguments
    ```

    ## Use instead
    ```python
    chain(add.s(1, 2), add.s(3))()  # add(3, 3)
    chain(add.s(1, 2), add.si(3, 4))()  # or ignore the parent's result
    ```

    ## References
    - Celery, *Tasks*: `Task.typing`
    - Celery, *Canvas*: chains, callbacks and immutable signatures
    """

    CODE = "CEL802"
    NAME = "task-call-signature-mismatch"
    MESSAGE = "{problem}{added}: {consequence}"
    FIX_TITLE = "pass the arguments `{signature}` takes{hint}"
    SKIP_TEST_CODE = True
    TRIGGERS = (b".delay(", b".apply_async(", b".s(", b".si(", b"signature(", b".subtask(")
    REQUIRES = TRIGGERS
    # A file that never mentions Celery: ``signature(`` only as a whole name.
    TRIGGERS_WITH = (b".delay(", b".apply_async(", b".s(", b".si(", b".subtask(", *called(b"signature"))

    VALID = [
        Valid(
            _views(
                "    add.delay(1, 2)\n    send_welcome.delay(1, lang='fr')\n"
                "    add.apply_async((1, 2), countdown=1)\n    add.apply_async(args=[1], kwargs={'y': 2})\n"
            ),
            path="proj/views.py",
            files=calls_project(),
            note="arguments the tasks take",
        ),
        Valid(
            _views(
                "    numbers = (1, 2)\n    options = {'lang': 'fr'}\n    add.delay(*numbers)\n    send_welcome.delay(1, **options)\n"
            ),
            path="proj/views.py",
            files=calls_project(),
            note="`*args`/`**kwargs` in the call",
        ),
        Valid(
            _views("    anything.delay(1, 2, 3, colour='red')\n    anything.s(1).delay(2)\n"),
            path="proj/views.py",
            files=calls_project(),
            note="`*args`/`**kwargs` in the task",
        ),
        Valid(
            _views("    refresh.delay(7)\n    refresh.apply_async(kwargs={'account_id': 7})\n"),
            path="proj/views.py",
            files=calls_project(),
            note="a bound task: Celery passes `self`",
        ),
        Valid(
            _views("    later = add.s(1)\n    later.delay(2)\n    send_welcome.s(lang='fr').delay(1)\n"),
            path="proj/views.py",
            files=calls_project(),
            note="partial signatures completed later",
        ),
        Valid(
            _views(
                "    chain(add.s(1, 2), add.s(3), add.si(4, 5))()\n"
                "    (add.s(1, 2) | add.s(3) | send_welcome.s())()\n"
                "    add.apply_async((1, 2), link=add.s(3))\n"
                "    add.apply_async((1, 2), link=add.signature((3, 4), immutable=True))\n"
            ),
            path="proj/views.py",
            files=calls_project(),
            note="chain links and callbacks get the parent's result (not immutable ones)",
        ),
        Valid(
            _views(
                "    chord([add.s(1, 2), add.s(3, 4)])(total.s())\n    group(add.s(1, 2), add.s(3, 4))()\n"
            ),
            path="proj/views.py",
            files=calls_project(),
            note="a chord body gets the header's results; group members are called as given",
        ),
        Valid(
            _views(
                "    signature('proj.tasks.add', args=(1, 2)).delay()\n    signature('other.tasks.add', args=(1, 2, 3))\n"
            ),
            path="proj/views.py",
            files=calls_project(),
            note="signature by name; a name outside the project",
        ),
        Valid(
            "import functools\n\nfrom celery import shared_task\n\n\n"
            "def with_tenant(function):\n    @functools.wraps(function)\n"
            "    def wrapper(tenant, *args, **kwargs):\n        return function(*args, **kwargs)\n\n    return wrapper\n\n\n"
            "@shared_task\n@with_tenant\ndef rebuild(index):\n    return index\n\n\n"
            "def run():\n    rebuild.delay('acme', 'users')\n",
            path="proj/jobs.py",
            files=calls_project(),
            note="another decorator changes the signature: unknown",
        ),
        Valid(
            "def run():\n    from proj.tasks import add\n\n    add.delay(1, 2)\n\n\n"
            "def other(add=None):\n    from proj.tasks import refresh as add\n\n    add.delay(1)\n",
            path="proj/views.py",
            files=calls_project(),
            note="tasks imported inside the function",
        ),
        Valid(
            "from proj import tasks\n\n\ndef run(name='anything'):\n    getattr(tasks, name).delay(1, 2, 3)\n",
            path="proj/views.py",
            files=calls_project(),
            note="a dynamic task",
        ),
        Valid(
            "from celery import shared_task\n\n\n@shared_task\ndef add(x, y, z):\n    return x + y + z\n\n\n"
            "def run():\n    add.delay(1, 2, 3)\n",
            path="proj/other.py",
            files=calls_project(),
            note="a task with the same name in another module: the one in scope",
        ),
        Valid(
            _views("    add.delay(1, 2, 3)\n"),
            path="tests/test_views.py",
            files=calls_project(),
            note="test code (a test may expect the TypeError)",
        ),
    ]
    INVALID = [
        Invalid(
            _views("    send_welcome.delay(1, 'fr')\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=5,
            message_contains="send_welcome(user_id, *, lang='en') takes 1 positional argument but 2 were given",
            note="too many positional arguments",
        ),
        Invalid(
            _views("    send_welcome.delay(1, language='fr')\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=5,
            message_contains="unexpected keyword argument 'language'",
            note="an unknown keyword",
        ),
        Invalid(
            _views("    add.delay(1)\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=5,
            message_contains="missing 1 required positional argument: 'y'",
            note="too few",
        ),
        Invalid(
            _views("    add.apply_async(args=(1,), kwargs={'x': 2})\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=5,
            message_contains="multiple values for argument 'x'",
            note="apply_async args and kwargs",
        ),
        Invalid(
            _views("    refresh.delay(7, 8)\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=5,
            message_contains="refresh(account_id) takes 1 positional argument but 2 were given",
            note="a bound task: `self` is not an argument of the call",
        ),
        Invalid(
            _views("    chain(add.s(1, 2), add.s(3, 4))()\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=24,
            message_contains="takes 2 positional arguments but 3 were given (the parent's result comes first)",
            note="a chain link gets the parent's result",
        ),
        Invalid(
            _views("    (add.s(1, 2) | send_welcome.s(5))()\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=20,
            note="a `|` chain",
        ),
        Invalid(
            _views("    add.apply_async((1, 2), link=add.s(3, 4))\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=34,
            note="a `link=` callback",
        ),
        Invalid(
            _views("    chord([add.s(1, 2), add.s(3, 4)])(add.s(5, 6))\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=39,
            note="a chord body gets the header's results",
        ),
        Invalid(
            _views("    chain([add.s(1, 2), add.si(3)])()\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=25,
            message_contains="missing 1 required positional argument: 'y'",
            note="an immutable link gets nothing more; `chain([...])`",
        ),
        Invalid(
            _views("    later = add.s(1, 2, 3)\n    later.delay()\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=13,
            note="a partial signature may miss arguments, never have too many",
        ),
        Invalid(
            _views("    signature('proj.tasks.add', args=(1,), kwargs={'lang': 'fr'}).delay(2)\n"),
            path="proj/views.py",
            files=calls_project(),
            line=7,
            column=5,
            message_contains="unexpected keyword argument 'lang'",
            note="signature by name",
        ),
        Invalid(
            NO_CELERY_HEAD + "def run():\n    signature('proj.tasks.add', args=(1, 2, 3)).delay()\n",
            path="proj/views.py",
            files=calls_project(**REEXPORTED_SIGNATURE),
            line=5,
            column=5,
            message_contains="add(x, y) takes 2 positional arguments but 3 were given",
            note="a file that never mentions Celery, `signature` from a project module",
        ),
        Invalid(
            "def run():\n    from .tasks import add\n\n    add.delay(1)\n",
            path="proj/views.py",
            files=calls_project(),
            line=4,
            column=5,
            message_contains="add(x, y) is missing 1 required positional argument: 'y'",
            note="a task imported inside the function",
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.sites = CallSites(context)
        self._linked: set[int] = set()

    # -- where Celery adds the parent's result ------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        canvas = self._canvas_kind(func)
        if canvas == "chain":
            given = positional(node)
            links: list[cst.BaseExpression] = [arg.value for arg in given]
            if len(given) == 1 and isinstance(given[0].value, (cst.List, cst.Tuple)):
                elements = given[0].value.elements  # ``chain([a, b])``: one list of tasks
                links = (
                    [e.value for e in elements] if all(isinstance(e, cst.Element) for e in elements) else []
                )
            if not any(arg.star for arg in given):
                for member in links[1:]:
                    self._link(member)
        elif canvas == "chord":
            body = keyword(node, "body")
            given = positional(node)
            if body is None and len(given) > 1 and not any(arg.star for arg in given[:2]):
                body = given[1]
            if body is not None:
                self._link(body.value)
        elif isinstance(func, cst.Call) and self._canvas_kind(func.func) == "chord":
            given = positional(node)
            body = keyword(node, "body") or (given[0] if given and not given[0].star else None)
            if body is not None:
                self._link(body.value)
        method = method_of(node)
        if method in ("apply_async", "signature", "subtask", "set") or canvas == "signature":
            link = keyword(node, "link")
            if link is not None:
                for element in canvas_elements(link.value):
                    self._link(element)
        if (
            method == "link"
            and node.args
            and isinstance(func, cst.Attribute)
            and self.sites.is_signature(func.value)
        ):
            self._link(node.args[0].value)
        if method in ARGUMENT_METHODS:
            self._check_method_call(node, method)
        elif canvas == "signature":
            self._check_signature_by_name(node)

    def _canvas_kind(self, func: cst.BaseExpression) -> str | None:
        """``chain``, ``chord``, ``group`` or ``signature`` when ``func`` names Celery's."""
        if isinstance(func, cst.Attribute):
            last = func.attr.value
        elif isinstance(func, cst.Name):
            last = func.value
        else:
            return None
        # Cheap test first: the name as written, or a name the module imports (an alias).
        if last not in CANVAS_NAMES and not (
            isinstance(func, cst.Name) and last in self.context.summary.imports
        ):
            return None
        for table, kind in ((CHAIN, "chain"), (CHORD, "chord"), (GROUP, "group"), (SIGNATURE, "signature")):
            if self.sites.names_in(func, table):
                return kind
        return None

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.BitOr) and self.sites.is_signature(node.left):
            self._link(node.right)

    def _link(self, expr: cst.BaseExpression) -> None:
        """``expr`` is called with the parent's result first (when mutable)."""
        while isinstance(expr, cst.Call) and method_of(expr) in WRAPPERS:
            if keyword(expr, "immutable") is not None:
                return  # ``.set(immutable=...)`` decides it: not followed
            assert isinstance(expr.func, cst.Attribute)
            expr = expr.func.value
        if not isinstance(expr, cst.Call):
            return
        if method_of(expr) in SIGNATURE_BUILDERS or self._canvas_kind(expr.func) == "signature":
            self._linked.add(id(expr))
        elif self._canvas_kind(expr.func) == "group":
            given = positional(expr)
            if len(given) == 1 and not given[0].star:
                for element in canvas_elements(given[0].value):
                    self._link(element)
            elif not any(arg.star for arg in given):
                for arg in given:
                    self._link(arg.value)

    # -- the calls ------------------------------------------------------------------------
    def _check_method_call(self, node: cst.Call, method: str) -> None:
        assert isinstance(node.func, cst.Attribute)
        task = self._task(node.func.value)
        if task is None:
            return
        if method in ("delay", "s", "si"):
            arguments = _direct(node, immutable=method == "si")
        else:
            arguments = _packed(node, first=0)
        if arguments is not None:
            self._bind(node, task, arguments, complete=method in ("delay", "apply_async"))

    def _task(self, receiver: cst.BaseExpression) -> TaskView | None:
        """The project task ``receiver`` names, a task imported inside the function too."""
        return task_named_by(self.project, self.sites, receiver)

    def _check_signature_by_name(self, node: cst.Call) -> None:
        given = positional(node)
        name = given[0].value if given and not given[0].star else None
        if not isinstance(name, cst.SimpleString) or not isinstance(name.evaluated_value, str):
            return
        tasks = self.project.tasks_named(name.evaluated_value)
        arguments = _packed(node, first=1)
        if len(tasks) == 1 and arguments is not None:
            self._bind(node, tasks[0], arguments, complete=False)

    def _bind(self, node: cst.Call, task: TaskView, arguments: _Arguments, *, complete: bool) -> None:
        signature = task.call_signature
        if signature is None:
            return
        linked = id(node) in self._linked
        given = arguments.given
        added = ""
        if linked:
            complete = True
            if not arguments.immutable:
                given += 1
                added = " (the parent's result comes first)"
        problem = signature.problem(given, arguments.keywords, complete)
        if problem is None:
            return
        method = method_of(node)
        sent = method in ("delay", "apply_async")
        consequence = (
            "Celery raises TypeError when the task is sent"
            if sent
            else "the worker fails with TypeError when it runs the task"
        )
        hint = (
            ""
            if complete or sent
            else " (a partial signature may leave arguments for later, never take more)"
        )
        self.report(
            node,
            self.message(
                problem=problem,
                added=added,
                consequence=consequence,
                signature=signature.text,
                hint=hint,
                call=code_of(node),
            ),
        )


def _direct(call: cst.Call, *, immutable: bool) -> _Arguments | None:
    """``t.delay(1, k=2)``: the call's own arguments; None with ``*``/``**``."""
    if any(arg.star for arg in call.args):
        return None
    keywords = [arg.keyword.value for arg in call.args if arg.keyword is not None]
    return _Arguments(len(positional(call)), keywords, immutable)


def _packed(call: cst.Call, *, first: int) -> _Arguments | None:
    """``apply_async(args, kwargs, **options)`` and ``signature(args, kwargs, ...,
    immutable=...)``: literal ``args``/``kwargs`` (positional from index ``first``)."""
    if any(arg.star for arg in call.args):
        return None
    given = positional(call)[first:]
    args_arg = keyword(call, "args")
    kwargs_arg = keyword(call, "kwargs")
    args = args_arg.value if args_arg is not None else (given[0].value if given else None)
    kwargs = kwargs_arg.value if kwargs_arg is not None else (given[1].value if len(given) > 1 else None)
    count = _sequence_length(args)
    names = _mapping_keys(kwargs)
    immutable_arg = keyword(call, "immutable")
    immutable = False
    if immutable_arg is not None:
        value = immutable_arg.value
        if not isinstance(value, cst.Name) or value.value not in ("True", "False"):
            return None
        immutable = value.value == "True"
    if count is None or names is None:
        return None
    return _Arguments(count, names, immutable)


def _sequence_length(expr: cst.BaseExpression | None) -> int | None:
    if expr is None or (isinstance(expr, cst.Name) and expr.value == "None"):
        return 0
    if isinstance(expr, (cst.Tuple, cst.List)) and all(isinstance(e, cst.Element) for e in expr.elements):
        return len(expr.elements)
    return None


def _mapping_keys(expr: cst.BaseExpression | None) -> list[str] | None:
    if expr is None or (isinstance(expr, cst.Name) and expr.value == "None"):
        return []
    names: list[str] = []
    if isinstance(expr, cst.Dict):
        for element in expr.elements:
            if not isinstance(element, cst.DictElement) or not isinstance(element.key, cst.SimpleString):
                return None
            key = element.key.evaluated_value
            if not isinstance(key, str):
                return None
            if key not in names:  # a repeated key: the last one wins
                names.append(key)
        return names
    if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "dict":
        if any(arg.keyword is None for arg in expr.args):
            return None
        return [arg.keyword.value for arg in expr.args if arg.keyword is not None]
    return None
