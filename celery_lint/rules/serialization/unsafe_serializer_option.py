from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixes import Fix, replace, string_like
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ..support import is_pickle, method_name
from .unsafe_serializer import accepts_json

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

# Calls whose keyword arguments (or ``options={...}``) are message options.
OPTION_METHODS = frozenset({"apply_async", "send_task", "signature", "subtask", "set", "retry"})
SIGNATURE_CALLS = frozenset(
    {"celery.signature", "celery.Signature", "celery.canvas.signature", "celery.canvas.Signature"}
)


class UnsafeSerializerOption(Rule):
    """
    ## What it does
    Checks for `serializer='pickle'` given to one task or one message: in a task
    decorator (or a project wrapper around it), as a class attribute of a task base
    class, and in `apply_async`, `send_task`, `signature(...)`, `.set(...)`,
    `options={...}` and `.options[...]`.

    ## Why is this bad?
    A per-task or per-call serializer beats the global one, so a single
    `serializer='pickle'` reopens the code-execution hole that a JSON configuration
    closed, and makes the workers that accept it vulnerable.

    ## Example
    ```python
    @shared_task(serializer="pickle")
    def export(report): ...
    ```

    ## Use instead
    ```python
    @shared_task(serializer="json")
    def export(report_id): ...
    ```

    ## Fix safety
    Unsafe (`--fix --unsafe-fixes`): switching from pickle to JSON changes what the task
    can be sent (arguments and results that only pickle could carry, such as datetimes,
    sets or model instances, fail at publish time), and messages of the task already
    queued in pickle are rejected once the workers stop accepting it. The fix replaces
    the string `'pickle'` with `'json'` where it is written (the keyword, the `options`
    entry or the class attribute), in the same quotes. A value given through a name or computed is left alone, and so is every
    finding while the workers' `accept_content` does not surely admit JSON (CEL102's
    fix comes first).

    ## References
    - Celery, *Calling tasks*: serializers
    """

    CODE = "CEL103"
    NAME = "unsafe-serializer-option"
    SKIP_TEST_CODE = True
    MESSAGE = "`serializer='pickle'` {where}: pickle messages run code on workers"
    FIX_TITLE = "use `json` and pass ids"
    TRIGGERS = (b"serializer=", b"serializer'", b'serializer"')
    TRIGGERS_WITH = (
        b"apply_async",
        b"send_task",
        b"retry",
        b".set(",
        b"signature",
        b"subtask",
        b".s(",
        b".si(",
        b"options",
    )
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Use `json`"

    VALID = [
        Valid("from celery import shared_task\n\n@shared_task(serializer='json')\ndef f(x):\n    return x\n"),
        Valid("from proj.tasks import add\nadd.apply_async((1, 2), serializer='msgpack')\n"),
        Valid(
            "import pickle\nblob = pickle.dumps(1)\nstore.set(key, blob, serializer='pickle')\n",
            note="`.set()` that is not a signature: a cache client with no Celery in sight",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import shared_task\n\n@shared_task(serializer='pickle')\ndef f(x):\n    return x\n",
            line=3,
            column=14,
            fixed="from celery import shared_task\n\n@shared_task(serializer='json')\ndef f(x):\n    return x\n",
        ),
        Invalid(
            "from proj.tasks import add\nadd.apply_async((1, 2), serializer='pickle')\n",
            line=2,
            column=25,
            fixed="from proj.tasks import add\nadd.apply_async((1, 2), serializer='json')\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.send_task('proj.add', args=(1,), serializer=\"pickle\")\n",
            line=3,
            column=38,
            fixed="from celery import Celery\napp = Celery('proj')\napp.send_task('proj.add', args=(1,), serializer=\"json\")\n",
        ),
        Invalid(
            "from celery import signature\nsig = signature('proj.add', args=(1,), options={'serializer': 'pickle'})\n",
            line=2,
            column=49,
            fixed="from celery import signature\nsig = signature('proj.add', args=(1,), options={'serializer': 'json'})\n",
        ),
        Invalid(
            "from proj.tasks import add\nsig = add.s(1).set(serializer='pickle')\n",
            line=2,
            column=20,
            fixed="from proj.tasks import add\nsig = add.s(1).set(serializer='json')\n",
        ),
        Invalid(
            "from celery import Task\n\nclass PickledTask(Task):\n    serializer = 'pickle'\n",
            line=4,
            column=5,
            note="base class attribute",
            fixed="from celery import Task\n\nclass PickledTask(Task):\n    serializer = 'json'\n",
        ),
        Invalid(
            "from proj.tasks import add\nsig = add.s(1)\nsig.options['serializer'] = 'pickle'\n",
            line=3,
            column=1,
            fixed="from proj.tasks import add\nsig = add.s(1)\nsig.options['serializer'] = 'json'\n",
        ),
        Invalid(
            "from celery import shared_task\nPICKLE = 'pickle'\n\n@shared_task(serializer=PICKLE)\ndef f(x):\n    return x\n",
            line=4,
            column=14,
            note="through a name: no fix",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', accept_content=['pickle'])\n\n@app.task(serializer='pickle')\ndef f(x):\n    return x\n",
            line=4,
            column=11,
            note="workers that accept only pickle would reject json: no fix",
        ),
    ]

    def _pickle_value(self, expr: cst.BaseExpression) -> bool:
        value = self.project.value_of(expr)
        return isinstance(value, Known) and is_pickle(value.value)

    def _fix(self, value: cst.BaseExpression) -> Fix | None:
        """``'pickle'`` -> ``'json'`` when the workers surely accept JSON."""
        if not isinstance(value, cst.SimpleString) or not is_pickle(value.evaluated_value):
            return None
        if not accepts_json(self.project.default_apps()):
            return None
        return replace(value, string_like(value, "json"), self.AUTOFIX_TITLE or "")

    def _celery_file(self) -> bool:
        return self.project.file_is_analysed

    def visit_Call(self, node: cst.Call) -> None:
        project = self.project
        method = method_name(node)
        where: str | None = None
        if method in OPTION_METHODS and (method != "set" or self._celery_file() or _on_signature(node)):
            where = (
                f"in `{method}()`"
                if method in ("apply_async", "send_task", "retry")
                else "in the signature options"
            )
        elif project.qualified_name(node.func) in SIGNATURE_CALLS:
            where = "in the signature options"
        else:
            if project.task_decorator_kind(node.func) in ("base", "wrapper"):
                where = "on the task"
        if where is None:
            return
        for arg in node.args:
            if arg.keyword is None:
                continue
            if arg.keyword.value == "serializer" and self._pickle_value(arg.value):
                self.report(arg, self.message(where=where), fix=self._fix(arg.value))
            elif arg.keyword.value == "options" and isinstance(arg.value, cst.Dict):
                for element in arg.value.elements:
                    if (
                        isinstance(element, cst.DictElement)
                        and isinstance(element.key, cst.SimpleString)
                        and element.key.evaluated_value == "serializer"
                        and self._pickle_value(element.value)
                    ):
                        self.report(
                            element,
                            self.message(where="in the signature options"),
                            fix=self._fix(element.value),
                        )

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not self.project.is_task_class(node):
            return
        body = node.body
        if not isinstance(body, cst.IndentedBlock):
            return
        for statement in body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                continue
            for small in statement.body:
                if (
                    isinstance(small, cst.Assign)
                    and any(
                        isinstance(t.target, cst.Name) and t.target.value == "serializer"
                        for t in small.targets
                    )
                    and self._pickle_value(small.value)
                ):
                    self.report(
                        small,
                        self.message(where=f"on task class {node.name.value}"),
                        fix=self._fix(small.value),
                    )

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            sub = target.target
            if (
                isinstance(sub, cst.Subscript)
                and isinstance(sub.value, cst.Attribute)
                and sub.value.attr.value == "options"
                and len(sub.slice) == 1
                and isinstance(sub.slice[0].slice, cst.Index)
                and isinstance(sub.slice[0].slice.value, cst.SimpleString)
                and sub.slice[0].slice.value.evaluated_value == "serializer"
                and self._pickle_value(node.value)
            ):
                self.report(node, self.message(where="in the signature options"), fix=self._fix(node.value))


def _on_signature(call: cst.Call) -> bool:
    """``x.s(...).set(...)`` / ``x.si(...).set(...)`` / ``x.signature(...).set(...)``."""
    receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
    return (
        isinstance(receiver, cst.Call)
        and isinstance(receiver.func, cst.Attribute)
        and receiver.func.attr.value in ("s", "si", "signature", "subtask")
    )
