from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixes import Fix, replace
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ..serialization.unsafe_serializer_option import SIGNATURE_CALLS
from ..support import method_name
from ._triggers import called

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

_APP = "from celery import Celery\n\napp = Celery('proj', broker='memory://')\n\n\n@app.task\ndef add(x, y=0):\n    return x + y\n\n\n"

_SIGNATURE_NAMES = frozenset(name.rpartition(".")[2] for name in SIGNATURE_CALLS)

# Where each call takes ``args`` and ``kwargs`` when they are passed by position.
_POSITIONS = {"apply_async": (0, 1), "send_task": (1, 2), "signature": (1, 2)}


class TaskArgsNotASequence(Rule):
    """
    ## What it does
    Checks for the arguments of a task message given in the wrong shape: `args=` of
    `apply_async`, `send_task` or `celery.signature(...)` given a string, bytes, a dict
    or a set literal, or one value in parentheses (`args=(user_id)`, which is not a
    tuple), and `kwargs=` given a list, tuple, set, string or number literal. Only calls
    on a project task, on a Celery app and Celery's own `signature` are checked, and
    only literals: a name or a call whose type is unknown is left alone. Test code is
    not checked (a test that sends such a message fails by itself).

    ## Why is this bad?
    `apply_async` and `send_task` refuse anything but a list or tuple of positional
    arguments and a mapping of keyword arguments: the call raises `TypeError` (`task
    args must be a list or tuple` when the message is built, or the task's signature
    check first) and nothing is sent, in production, while tests that call the task
    function directly pass. `signature(...)` is worse: it calls `tuple(args)`, so
    `args="abc"` silently becomes `('a', 'b', 'c')` and a dict becomes its keys.

    ## Example
    ```python
    send_welcome.apply_async(args=(user_id))
    ```

    ## Use instead
    ```python
    send_welcome.apply_async(args=(user_id,))
    ```

    ## Fix safety
    Unsafe (`--fix --unsafe-fixes`): the fix adds the comma of a one-element tuple,
    `args=(user_id)` -> `args=(user_id,)`; if `user_id` was already a list or tuple of
    arguments the call worked and the fix changes what the task receives. Other shapes
    have no fix: only the author knows what the task should receive.

    ## References
    - Celery, *Calling tasks*: `apply_async(args, kwargs, ...)`
    """

    CODE = "CEL804"
    NAME = "task-args-not-a-sequence"
    MESSAGE = "the `{keyword}` of `{call}` is {what}: {effect}"
    FIX_TITLE = "{advice}"
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Make it a one-element tuple"
    SKIP_TEST_CODE = True
    TRIGGERS = (b"apply_async", b"send_task", b"ignature(")
    REQUIRES = TRIGGERS
    # A file that never mentions Celery: ``signature(``/``Signature(`` only as a whole name.
    TRIGGERS_WITH = (b"apply_async", b"send_task", *called(b"signature", b"Signature"))

    VALID = [
        Valid(_APP + "add.apply_async(args=(1,), kwargs={'y': 2})\nadd.apply_async([1, 2])\n"),
        Valid(
            _APP
            + "def ids():\n    return [1]\n\nvalues = ids()\nadd.apply_async(args=values, kwargs=dict(y=2))\n",
            note="names and calls whose type is unknown",
        ),
        Valid(
            _APP + "values = [1, 2]\nadd.apply_async(args=(values))\n",
            note="a parenthesised name known to hold a list",
        ),
        Valid(
            _APP + "app.send_task('proj.ping', args='', kwargs=[])\n",
            note="empty: Celery reads them as no arguments",
        ),
        Valid(
            "class Pool:\n    def apply_async(self, func, args=()):\n        return func(*args)\n\n"
            "Pool().apply_async(print, args='abc')\n",
            note="not a Celery task: a thread pool's `apply_async`",
        ),
        Valid(_APP + "app.send_task('proj.add', args=[1], kwargs={'y': 2})\n"),
    ]
    INVALID = [
        Invalid(
            _APP + "add.apply_async(args=(5))\n",
            line=11,
            column=17,
            fixed=_APP + "add.apply_async(args=(5,))\n",
        ),
        Invalid(_APP + "add.apply_async(args='ab')\n", line=11, column=17, message_contains="a string"),
        Invalid(_APP + "add.apply_async(args={'x': 1})\n", line=11, column=17, message_contains="a dict"),
        Invalid(_APP + "add.apply_async({1, 2})\n", line=11, column=17, message_contains="a set"),
        Invalid(_APP + "add.apply_async(args=(1,), kwargs=[('y', 2)])\n", line=11, column=28),
        Invalid(
            _APP + "app.send_task('tasks.add', args=b'ab')\n", line=11, column=28, message_contains="bytes"
        ),
        Invalid(
            _APP + "from celery import signature\n\nsig = signature('tasks.add', args='12')\n",
            line=13,
            column=30,
            message_contains="tuple(args)",
        ),
        Invalid(
            _APP
            + "from celery import signature as make_signature\n\nsig = make_signature('tasks.add', args='12')\n",
            line=13,
            column=35,
            note="Celery's `signature` under an alias",
        ),
        Invalid(
            _APP + "from celery import canvas\n\nsig = canvas.signature('tasks.add', args='12')\n",
            line=13,
            column=37,
            note="`signature` of `celery.canvas`",
        ),
    ]

    def _may_name_signature(self, func: cst.BaseExpression) -> bool:
        """Cheap test before resolving the name: ``x.signature``, or a name the module
        imports (an alias) or that a star import may bring in."""
        if isinstance(func, cst.Attribute):
            return func.attr.value in _SIGNATURE_NAMES
        return isinstance(func, cst.Name) and (
            func.value in _SIGNATURE_NAMES or func.value in self.context.summary.imports
        )

    def visit_Call(self, node: cst.Call) -> None:
        project = self.project
        method = method_name(node)
        call: str | None = None
        receiver = node.func.value if isinstance(node.func, cst.Attribute) else None
        if method == "apply_async" and receiver is not None and project.task_for_expression(receiver):
            call = "apply_async"
        elif method == "send_task" and receiver is not None and project.app_for_expression(receiver):
            call = "send_task"
        elif self._may_name_signature(node.func) and project.qualified_name(node.func) in SIGNATURE_CALLS:
            call = "signature"
        if call is None:
            return
        positional = [arg for arg in node.args if arg.keyword is None]
        if any(arg.star for arg in node.args if arg.keyword is None):
            positional = []  # ``*parts``: the positions cannot be known
        args_at, kwargs_at = _POSITIONS[call]
        for keyword, position, check in (("args", args_at, self._args), ("kwargs", kwargs_at, self._kwargs)):
            for arg in node.args:
                named = arg.keyword is not None and arg.keyword.value == keyword
                placed = arg.keyword is None and position < len(positional) and positional[position] is arg
                if named or placed:
                    check(arg, call)

    def _args(self, arg: cst.Arg, call: str) -> None:
        value = arg.value
        what = _not_a_sequence(value)
        fix: Fix | None = None
        if what is None and value.lpar and not isinstance(value, (cst.Tuple, cst.GeneratorExp)):
            known = self.project.value_of(value)
            if isinstance(known, Known) and isinstance(known.value, (list, tuple)):
                return
            if isinstance(value, (cst.List, cst.ListComp)):
                return
            what = "one value in parentheses, not a tuple"
            bare = value.with_changes(lpar=[], rpar=[])
            tuple_ = cst.Tuple([cst.Element(bare, comma=cst.Comma())])
            fix = replace(value, tuple_, self.AUTOFIX_TITLE or "", lambda _again: tuple_)
        if what is None:
            return
        if call == "signature":
            effect = "`signature` stores `tuple(args)`, so the task gets its elements one by one"
        else:
            effect = f"`{call}` raises `TypeError` and sends nothing"
        advice = (
            "write `(value,)` for one argument"
            if fix is not None
            else "pass a list or tuple of the arguments"
        )
        self.report(
            arg, self.message(keyword="args", call=call, what=what, effect=effect, advice=advice), fix=fix
        )

    def _kwargs(self, arg: cst.Arg, call: str) -> None:
        what = _not_a_mapping(arg.value)
        if what is None:
            return
        if call == "signature":
            effect = "the task cannot be called with it"
        else:
            effect = f"`{call}` raises `TypeError` and sends nothing"
        self.report(
            arg,
            self.message(
                keyword="kwargs",
                call=call,
                what=what,
                effect=effect,
                advice="pass a dict of keyword arguments",
            ),
        )


def _string_kind(value: cst.BaseExpression) -> str | None:
    if isinstance(value, cst.SimpleString):
        if not value.evaluated_value:
            return None
        return "bytes" if isinstance(value.evaluated_value, bytes) else "a string"
    if isinstance(value, (cst.ConcatenatedString, cst.FormattedString)):
        return "a string"
    return None


def _not_a_sequence(value: cst.BaseExpression) -> str | None:
    """What a literal ``args=`` value is when it is not a list or tuple (and not empty)."""
    if isinstance(value, (cst.Dict, cst.DictComp)):
        return "a dict" if not isinstance(value, cst.Dict) or value.elements else None
    if isinstance(value, (cst.Set, cst.SetComp)):
        return "a set"
    return _string_kind(value)


def _not_a_mapping(value: cst.BaseExpression) -> str | None:
    """What a literal ``kwargs=`` value is when it is not a mapping (and not empty)."""
    if isinstance(value, (cst.List, cst.Tuple)):
        if not value.elements:
            return None
        return "a list" if isinstance(value, cst.List) else "a tuple"
    if isinstance(value, (cst.ListComp, cst.GeneratorExp)):
        return "a list"
    if isinstance(value, (cst.Set, cst.SetComp)):
        return "a set"
    if isinstance(value, (cst.Integer, cst.Float)):
        return "a number"
    return _string_kind(value)
