from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...project.model import ValueSym
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ..limits._limits import option_node
from ..support import task_label
from ._retry import BROAD, autoretry_never_retries, autoretry_option, exception_name

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

if TYPE_CHECKING:
    from ...project.model import ProjectModel
    from ...project.scan import ModuleSummary


def summary_at(model: ProjectModel, relpath: str | None) -> ModuleSummary | None:
    """The parsed module at ``relpath`` (an :class:`Origin` path)."""
    if relpath is None:
        return None
    for file in model.files.values():
        if file.relpath == relpath:
            return model.summary_for(file)
    return None


def origin_expression(node: object) -> cst.BaseExpression | None:
    """The value expression behind an option's origin node (an expression or an assignment)."""
    if isinstance(node, (cst.Assign, cst.AnnAssign)):
        return node.value
    if isinstance(node, cst.BaseExpression):
        return node
    return None


def exception_elements(
    model: ProjectModel, summary: ModuleSummary, expr: cst.BaseExpression, depth: int = 0
) -> Iterator[tuple[ModuleSummary, cst.BaseExpression]]:
    """The class expressions of an ``autoretry_for`` value: tuple or list elements,
    ``A + B`` concatenations and module-level constants followed across modules."""
    if depth > 8:
        return
    if isinstance(expr, (cst.Tuple, cst.List, cst.Set)):
        for element in expr.elements:
            if isinstance(element, cst.Element):
                yield summary, element.value
    elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        yield from exception_elements(model, summary, expr.left, depth + 1)
        yield from exception_elements(model, summary, expr.right, depth + 1)
    elif isinstance(expr, (cst.Name, cst.Attribute)):
        symbol = model.symbol_of(summary, expr)
        if isinstance(symbol, ValueSym) and symbol.expr is not None:
            yield from exception_elements(model, symbol.summary, symbol.expr, depth + 1)


class BroadAutoretry(Rule):
    """
    ## What it does
    Checks for `autoretry_for` containing the builtin `Exception` or `BaseException`.
    The effective value is read on the decorator, a base class or the app's task class,
    with constants followed across modules. A task whose `max_retries` is 0 never
    retries and is not flagged.

    ## Why is this bad?
    `autoretry_for` is for transient failures: a timeout, a dropped connection, a
    throttled API. Retrying on `Exception` also retries bugs (`TypeError`, `KeyError`,
    a failed validation) that fail the same way every time: the task burns its retries,
    delays the real error by minutes and, with side effects before the failure, repeats
    them on each attempt.

    ## Example
    ```python
    @app.task(autoretry_for=(Exception,), retry_backoff=True)
    def sync_contact(contact_id): ...
    ```

    ## Use instead
    ```python
    @app.task(autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True)
    def sync_contact(contact_id): ...
    ```

    ## References
    - Celery, *Tasks*: automatic retry for known exceptions
    """

    CODE = "CEL303"
    NAME = "broad-autoretry"
    MESSAGE = "task '{task}' retries on `{name}` ({origin}): bugs are retried like transient failures; list the transient exceptions instead"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True)\ndef f():\n    pass\n",
            note="specific exception types",
        ),
        Valid(
            "from celery import shared_task\nfrom requests.exceptions import RequestException\n\n@shared_task(autoretry_for=(RequestException,), retry_backoff=True)\ndef f():\n    pass\n",
        ),
        Valid(
            "from celery import shared_task\nfrom proj.errors import Exception\n\n@shared_task(autoretry_for=(Exception,), retry_backoff=True)\ndef f():\n    pass\n",
            files={"proj/errors.py": "class Exception(RuntimeError):\n    pass\n"},
            note="a project class named Exception",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=RETRYABLE)\ndef f():\n    pass\n",
            note="unknown",
        ),
        Valid("from celery import shared_task\n\n@shared_task\ndef f():\n    pass\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_annotations = {'*': {'autoretry_for': (Exception,)}}\n\n@app.task(autoretry_for=(IOError,))\ndef f():\n    pass\n",
            note="the decorator's autoretry_for beats task_annotations (Celery reads the decorator options first)",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(Exception,), max_retries=0)\ndef f():\n    pass\n",
            note="max_retries=0: retry() re-raises before sending anything, nothing is retried",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.config_from_object('deploy.settings')\n\n@app.task(autoretry_for=(Exception,), retry_backoff=True)\ndef f():\n    pass\n",
            line=5,
            column=11,
            note="configuration (and so task_annotations) unknown: the decorator option still wins",
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(autoretry_for=(Exception,), retry_backoff=True)\ndef f():\n    pass\n",
            line=3,
            column=14,
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task(\n    retry_backoff=True,\n    autoretry_for=[IOError, BaseException],\n)\ndef f():\n    pass\n",
            line=5,
            column=5,
            message_contains="BaseException",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.base import CatchAll\n\n@shared_task(base=CatchAll)\ndef f():\n    pass\n",
            files={
                "proj/base.py": "from celery import Task\n\nclass CatchAll(Task):\n    autoretry_for = (Exception,)\n    retry_backoff = True\n"
            },
            line=5,
            column=1,
            message_contains="class CatchAll",
            note="base class in another module",
        ),
        Invalid(
            "from celery import shared_task\nfrom proj.retrying import RETRYABLE\n\n@shared_task(autoretry_for=RETRYABLE + (IOError,), retry_backoff=True)\ndef f():\n    pass\n",
            files={"proj/retrying.py": "import builtins\nRETRYABLE = (builtins.Exception,)\n"},
            line=4,
            column=14,
            note="a constant from another module",
        ),
        Invalid(
            "from proj.decorators import retry_task\n\n@retry_task\ndef f():\n    pass\n",
            files={
                "proj/decorators.py": "from proj.celery import app\nretry_task = app.task(autoretry_for=(Exception,), retry_backoff=True)\n",
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\n",
            },
            line=4,
            column=1,
            message_contains="the decorator retry_task (proj/decorators.py)",
            note="a module-level alias of app.task(...) in another module",
        ),
    ]

    def check(self) -> None:
        model = self.context.model
        for task in model.tasks_in(self.context.file):
            value = autoretry_option(model, task, "autoretry_for")
            if not isinstance(value, Known) or value.origin.node is None:
                continue
            if autoretry_never_retries(model, task):
                continue
            expr = origin_expression(value.origin.node)
            summary = summary_at(model, value.origin.path)
            if expr is None or summary is None:
                continue
            for where, element in exception_elements(model, summary, expr):
                name = exception_name(model, where, element)
                if name in BROAD:
                    self.report(
                        option_node(task, value),
                        self.MESSAGE.format(
                            task=task_label(model, task),
                            name=name.rpartition(".")[2],
                            origin=value.origin,
                        ),
                    )
                    break
