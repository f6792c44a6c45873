from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import libcst as cst

from ..base import Invalid, Rule, Valid
from ._callsites import (
    CANVAS,
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

if TYPE_CHECKING:
    from ...engine import FileContext

LINK_KEYWORDS = ("link", "link_error")
LINK_METHODS = frozenset({"link", "link_error", "on_error"})
HEAD = "from celery import chain, chord, group\nfrom proj.tasks import add, tsum\n\n"


class ResultInsteadOfSignature(Rule):
    """
    ## What it does
    Checks for canvases built from `t.delay(...)` or `t.apply_async(...)` instead of
    signatures: members of `chain(...)`, `group(...)`, `chord(...)` (header and body,
    also `chord(header)(t.delay())`), either side of `|` between signatures, and
    callbacks given as `link=`/`link_error=` or to `.link()`/`.link_error()`/`.on_error()`.
    `chain`, `group` and `chord` are resolved through the imports (`celery.chain`,
    `celery.canvas.group`, aliases), so `itertools.chain` is left alone. The finding is
    certain whatever the receiver of `.delay()` is: the call has already sent a message.

    ## Why is this bad?
    `.delay()` and `.apply_async()` send the task immediately and return an
    `AsyncResult`. The task runs at once, outside the workflow (no ordering, no
    result passing, no callback), and the canvas receives a result object instead of
    a signature, which fails (`TypeError`, or an `AsyncResult` serialized as a task) or
    silently does the wrong thing.

    ## Example
    ```python
    chain(fetch.delay(url), parse.delay()).apply_async()
    ```

    ## Use instead
    ```python
    chain(fetch.s(url), parse.s()).apply_async()
    ```

    ## References
    - Celery, *Canvas: Designing Work-flows*: signatures
    """

    CODE = "CEL708"
    NAME = "result-instead-of-signature"
    SKIP_TEST_CODE = True
    MESSAGE = (
        "`{call}` in {where} sends the task now and hands the canvas an AsyncResult, not a signature: "
        "use `{fix}`"
    )

    VALID = [
        Valid(HEAD + "chain(add.s(1, 2), add.s(3)).delay()\n", note="signatures"),
        Valid(HEAD + "group(add.s(i, i) for i in range(3)).apply_async()\n"),
        Valid(HEAD + "chord([add.s(1, 1), add.si(2, 2)])(tsum.s())\n"),
        Valid(
            "from itertools import chain\nfrom proj.tasks import add\n\nresults = list(chain([add.delay(1, 1)], [add.delay(2, 2)]))\n",
            note="itertools.chain",
        ),
        Valid(HEAD + "add.apply_async((1, 2), link=tsum.s(), link_error=tsum.si())\n"),
        Valid(
            "from multiprocessing import Pool\nfrom celery import group\n\ndef f(pool):\n    return group([pool.apply_async(len, ([],))])\n",
            note="a process pool's apply_async (not Celery's)",
        ),
        Valid("flags = add.delay(1) or 0 | 4\n", note="`|` without a signature"),
    ]
    INVALID = [
        Invalid(HEAD + "chain(add.delay(1, 2), add.s(3)).apply_async()\n", line=4, note="chain member"),
        Invalid(HEAD + "group([add.delay(i, i) for i in range(3)])\n", line=4, note="group list member"),
        Invalid(HEAD + "group(add.apply_async((i, i)) for i in range(3))\n", line=4, note="generator member"),
        Invalid(HEAD + "chord([add.s(1, 1)])(tsum.delay())\n", line=4, note="chord callback"),
        Invalid(HEAD + "chord([add.s(1, 1)], body=tsum.delay())\n", line=4, note="chord body"),
        Invalid(HEAD + "flow = add.delay(1, 2) | add.s(3)\n", line=4, note="left of `|`"),
        Invalid(HEAD + "flow = add.s(1, 2) | add.s(3) | tsum.delay()\n", line=4, note="right of `|`"),
        Invalid(HEAD + "add.apply_async((1, 2), link=tsum.delay())\n", line=4, note="link="),
        Invalid(
            HEAD + "add.apply_async((1, 2), link_error=[tsum.delay()])\n", line=4, note="link_error list"
        ),
        Invalid(HEAD + "add.s(1, 2).on_error(tsum.delay()).delay()\n", line=4, note=".on_error()"),
        Invalid(
            "import celery\nfrom celery.canvas import chain as flow\n\ndef run(task):\n    first = task.delay(1)\n    return flow(first, task.s(2))\n",
            line=6,
            message_contains="`task.delay(1)`",
            note="an unknown receiver, through a local name and an import alias",
        ),
        Invalid(
            "import celery\n\ncelery.group(add.delay(1), add.delay(2)).apply_async()\n",
            line=3,
            note="`import celery`",
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.sites = CallSites(context)
        self._reported: set[int] = set()

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        is_canvas = self.sites.names_in(func, CANVAS)
        is_signature = not is_canvas and self.sites.names_in(func, SIGNATURE)
        if is_canvas:
            kind = self._canvas_kind(func)
            members = [a.value for a in positional(node) if not a.star]
            members += [
                a.value
                for a in node.args
                if a.keyword is not None and a.keyword.value in ("header", "body", "tasks")
            ]
            for member in members:
                for element in canvas_elements(member):
                    self._check(element, f"`{kind}(...)`")
        elif isinstance(func, cst.Call) and self.sites.names_in(func.func, CHORD):
            given = positional(node)
            body = keyword(node, "body")
            callback = body.value if body is not None else (given[0].value if given else None)
            if callback is not None:
                self._check(callback, "the chord callback")
        method = method_of(node)
        if (
            (method == "apply_async" and self.sites.is_enqueue_call(node))
            or is_signature
            or (method == "set" and self.sites.is_signature(node))
        ):
            for name in LINK_KEYWORDS:
                arg = keyword(node, name)
                if arg is not None:
                    for element in canvas_elements(arg.value):
                        self._check(element, f"`{name}=`")
        if (
            method in LINK_METHODS
            and node.args
            and isinstance(func, cst.Attribute)
            and self.sites.is_signature(func.value)
        ):
            for element in canvas_elements(node.args[0].value):
                self._check(element, f"`.{method}()`")

    def _canvas_kind(self, func: cst.BaseExpression) -> str:
        for table, kind in ((GROUP, "group"), (CHORD, "chord")):
            if self.sites.names_in(func, table):
                return kind
        return "chain"

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.BitOr):
            return
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if self.sites.is_signature(other) or self.sites.is_enqueue(other):
                self._check(side, "a `|` chain")

    def _check(self, expr: cst.BaseExpression, where: str) -> None:
        for call in self._enqueues(expr):
            if id(call) in self._reported:
                continue
            self._reported.add(id(call))
            self.report(expr, self.MESSAGE.format(call=code_of(call), where=where, fix=self._fix(call)))

    def _enqueues(self, expr: cst.BaseExpression) -> Iterator[cst.Call]:
        if isinstance(expr, cst.Call):
            if self.sites.is_enqueue_call(expr):
                yield expr
        elif isinstance(expr, cst.Name) and self.sites.is_enqueue(expr):
            values = self.sites.local_values(expr.value) or []
            for value in values:
                if isinstance(value, cst.Call):
                    yield value

    @staticmethod
    def _fix(call: cst.Call) -> str:
        assert isinstance(call.func, cst.Attribute)
        receiver = code_of(call.func.value, 1000)
        if call.func.attr.value == "delay":
            full = code_of(call, 1000)
            prefix = code_of(call.func, 1000)
            text = f"{receiver}.s{full[len(prefix) :]}" if full.startswith(prefix) else f"{receiver}.s(...)"
        else:
            text = _signature_of_apply_async(receiver, call)
        return text if len(text) <= 60 else text[:57] + "..."


def _signature_of_apply_async(receiver: str, call: cst.Call) -> str:
    """``t.apply_async((1,), {'k': 2}, countdown=3)`` -> ``t.s(1, k=2).set(countdown=3)``."""
    given = positional(call)
    args = keyword(call, "args")
    kwargs = keyword(call, "kwargs")
    args_expr = args.value if args is not None else (given[0].value if given else None)
    kwargs_expr = kwargs.value if kwargs is not None else (given[1].value if len(given) > 1 else None)
    parts: list[str] = []
    if isinstance(args_expr, (cst.Tuple, cst.List)):
        for element in args_expr.elements:
            if not isinstance(element, cst.Element):
                return f"{receiver}.signature(args, kwargs, **options)"
            parts.append(code_of(element.value, 1000))
    elif args_expr is not None:
        return f"{receiver}.signature(args, kwargs, **options)"
    if isinstance(kwargs_expr, cst.Dict):
        for item in kwargs_expr.elements:
            key = (
                item.key.evaluated_value
                if isinstance(item, cst.DictElement) and isinstance(item.key, cst.SimpleString)
                else None
            )
            if not isinstance(item, cst.DictElement) or not isinstance(key, str) or not key.isidentifier():
                return f"{receiver}.signature(args, kwargs, **options)"
            parts.append(f"{key}={code_of(item.value, 1000)}")
    elif kwargs_expr is not None:
        return f"{receiver}.signature(args, kwargs, **options)"
    options = [
        code_of(a, 1000).rstrip(", ")
        for a in call.args
        if a.keyword is not None and a.keyword.value not in ("args", "kwargs")
    ]
    text = f"{receiver}.s({', '.join(parts)})"
    return f"{text}.set({', '.join(options)})" if options else text
