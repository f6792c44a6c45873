from __future__ import annotations

import keyword as python_keyword
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...fixes import Fix, replace
from ...project.callsites import (
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
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

if TYPE_CHECKING:
    from ...context import FileContext

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

    ## Fix safety
    Safe: the code cannot have worked as written. The fix turns `t.delay(args)` into
    `t.s(args)` (the same arguments, untouched), and `t.apply_async((a, b), {'k': v})`
    (or `args=`/`kwargs=`) into `t.s(a, b, k=v)` when the arguments are a literal tuple or
    list and a literal dict with plain string keys and no other option is given (with
    `countdown=`, `queue=` and the like the right signature is `t.signature(...)` or
    `t.s(...).set(...)`, which is left to you). A result reached through a variable
    (`first = t.delay(); chain(first, ...)`) is not fixed: the variable may be used
    elsewhere.

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
    FIX_SAFETY = "safe"
    AUTOFIX_TITLE = "Use a signature (`.s(...)`)"

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
        Invalid(
            HEAD + "chain(add.delay(1, 2), add.s(3)).apply_async()\n",
            line=4,
            column=7,
            note="chain member",
            fixed=HEAD + "chain(add.s(1, 2), add.s(3)).apply_async()\n",
        ),
        Invalid(
            HEAD + "group([add.delay(i, i) for i in range(3)])\n",
            line=4,
            column=8,
            note="group list member",
            fixed=HEAD + "group([add.s(i, i) for i in range(3)])\n",
        ),
        Invalid(
            HEAD + "group(add.apply_async((i, i)) for i in range(3))\n",
            line=4,
            column=7,
            note="generator member",
            fixed=HEAD + "group(add.s(i, i) for i in range(3))\n",
        ),
        Invalid(
            HEAD + "chord([add.s(1, 1)])(tsum.delay())\n",
            line=4,
            column=22,
            note="chord callback",
            fixed=HEAD + "chord([add.s(1, 1)])(tsum.s())\n",
        ),
        Invalid(
            HEAD + "chord([add.s(1, 1)], body=tsum.delay())\n",
            line=4,
            column=27,
            note="chord body",
            fixed=HEAD + "chord([add.s(1, 1)], body=tsum.s())\n",
        ),
        Invalid(
            HEAD + "flow = add.delay(1, 2) | add.s(3)\n",
            line=4,
            column=8,
            note="left of `|`",
            fixed=HEAD + "flow = add.s(1, 2) | add.s(3)\n",
        ),
        Invalid(
            HEAD + "flow = add.s(1, 2) | add.s(3) | tsum.delay()\n",
            line=4,
            column=33,
            note="right of `|`",
            fixed=HEAD + "flow = add.s(1, 2) | add.s(3) | tsum.s()\n",
        ),
        Invalid(
            HEAD + "add.apply_async((1, 2), link=tsum.delay())\n",
            line=4,
            column=30,
            note="link=",
            fixed=HEAD + "add.apply_async((1, 2), link=tsum.s())\n",
        ),
        Invalid(
            HEAD + "add.apply_async((1, 2), link_error=[tsum.delay()])\n",
            line=4,
            column=37,
            note="link_error list",
            fixed=HEAD + "add.apply_async((1, 2), link_error=[tsum.s()])\n",
        ),
        Invalid(
            HEAD + "add.s(1, 2).on_error(tsum.delay()).delay()\n",
            line=4,
            column=22,
            note=".on_error()",
            fixed=HEAD + "add.s(1, 2).on_error(tsum.s()).delay()\n",
        ),
        Invalid(
            "import celery\nfrom celery.canvas import chain as flow\n\ndef run(task):\n    first = task.delay(1)\n    return flow(first, task.s(2))\n",
            line=6,
            column=17,
            message_contains="`task.delay(1)`",
            note="an unknown receiver, through a local name and an import alias: no fix",
        ),
        Invalid(
            "import celery\n\ncelery.group(add.delay(1), add.delay(2)).apply_async()\n",
            findings=((3, 14), (3, 28)),
            note="`import celery`",
            fixed="import celery\n\ncelery.group(add.s(1), add.s(2)).apply_async()\n",
        ),
        Invalid(
            HEAD + "chain(add.apply_async((1,), {'y': 2}), tsum.apply_async(args=[[1, 2]]))()\n",
            findings=((4, 7), (4, 40)),
            note="apply_async with literal args and kwargs",
            fixed=HEAD + "chain(add.s(1, y=2), tsum.s([1, 2]))()\n",
        ),
        Invalid(
            HEAD + "chain(add.apply_async((1, 2), countdown=10), tsum.s())()\n",
            line=4,
            column=7,
            note="apply_async with other options: no fix",
        ),
        Invalid(
            HEAD + "chain(add.apply_async(args, kwargs), tsum.s())()\n",
            line=4,
            column=7,
            note="apply_async with computed args: no fix",
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
            self.report(
                expr,
                self.message(call=code_of(call), where=where, fix=self._fix(call)),
                fix=self._edit(call) if call is expr else None,
            )

    def _edit(self, call: cst.Call) -> Fix | None:
        """``t.delay(...)`` -> ``t.s(...)``; ``t.apply_async((a,), {'k': v})`` -> ``t.s(a, k=v)``."""
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        title = self.AUTOFIX_TITLE or ""
        if func.attr.value == "delay":
            return replace(func.attr, cst.Name("s"), title)
        if func.attr.value == "apply_async":
            args = _signature_arguments(call)
            if args is None:
                return None
            return replace(
                call, call.with_changes(func=func.with_changes(attr=cst.Name("s")), args=args), title
            )
        return None

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


def _signature_arguments(call: cst.Call) -> list[cst.Arg] | None:
    """The arguments of ``t.s(...)`` equal to ``t.apply_async(args, kwargs)``: only for a
    literal tuple or list of args and a literal dict of kwargs with identifier keys, and
    no other option; None otherwise."""
    given = positional(call)
    if len(given) > 2 or any(a.star for a in call.args):
        return None
    if any(a.keyword is not None and a.keyword.value not in ("args", "kwargs") for a in call.args):
        return None
    if "#" in code_of(call, 10_000):
        return None  # a comment inside would be lost
    args = keyword(call, "args")
    kwargs = keyword(call, "kwargs")
    if (args is not None and given) or (kwargs is not None and len(given) > 1):
        return None
    args_expr = args.value if args is not None else (given[0].value if given else None)
    kwargs_expr = kwargs.value if kwargs is not None else (given[1].value if len(given) > 1 else None)
    values: list[tuple[str | None, cst.BaseExpression]] = []
    if args_expr is not None:
        if not isinstance(args_expr, (cst.Tuple, cst.List)):
            return None
        for element in args_expr.elements:
            if not isinstance(element, cst.Element):
                return None
            values.append((None, element.value))
    if kwargs_expr is not None:
        if not isinstance(kwargs_expr, cst.Dict):
            return None
        seen: set[str] = set()
        for item in kwargs_expr.elements:
            if not isinstance(item, cst.DictElement) or not isinstance(item.key, cst.SimpleString):
                return None
            key = item.key.evaluated_value
            if (
                not isinstance(key, str)
                or not key.isidentifier()
                or python_keyword.iskeyword(key)
                or key in seen
            ):
                return None
            seen.add(key)
            values.append((key, item.value))
    no_space = cst.SimpleWhitespace("")
    out = []
    for index, (name, value) in enumerate(values):
        comma: cst.Comma | cst.MaybeSentinel = (
            cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            if index < len(values) - 1
            else cst.MaybeSentinel.DEFAULT
        )
        if name is None:
            out.append(cst.Arg(value=value, comma=comma))
        else:
            out.append(
                cst.Arg(
                    value=value,
                    keyword=cst.Name(name),
                    equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space),
                    comma=comma,
                )
            )
    return out
