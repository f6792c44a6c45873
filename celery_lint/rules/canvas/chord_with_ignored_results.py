from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.callsites import CHAIN, CHORD, GROUP, CallSites, code_of, keyword, method_of, positional
from ...project.values import Known, Origin, Resolved, Unknown
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

if TYPE_CHECKING:
    from ...api import TaskView
    from ...context import FileContext

TASKS = (
    "from celery import shared_task\n\n"
    "@shared_task(ignore_result=True)\ndef fetch(url):\n    return url\n\n"
    "@shared_task\ndef keep(url):\n    return url\n\n"
    "@shared_task\ndef merge(results):\n    return results\n"
)
CRAWL = {"crawl/__init__.py": "", "crawl/tasks.py": TASKS}
HEAD = "from celery import chord, group\nfrom crawl.tasks import fetch, keep, merge\n\n"
JOBS = "from proj.celery import app\n\n@app.task\ndef fetch(u):\n    return u\n\n@app.task\ndef merge(r):\n    return r\n"
JOBS_KEEP = JOBS.replace("@app.task\ndef fetch", "@app.task(ignore_result=False)\ndef fetch")
USE_JOBS = (
    "from celery import chord\nfrom jobs import fetch, merge\n\nchord([fetch.s(1)], body=merge.s())()\n"
)
DJANGO_CELERY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


def _project(celery_py: str, jobs: str = JOBS, **extra: str) -> dict[str, str]:
    return {"proj/__init__.py": "", "proj/celery.py": celery_py, "jobs.py": jobs, **extra}


class ChordWithIgnoredResults(Rule):
    """
    ## What it does
    Checks for chords whose header tasks have an effective `ignore_result` of true:
    `chord(header)(callback)`, `chord(header, body)`, a group piped into a task
    (`group(...) | task.s()`) and a group followed by a task in `chain(...)` (Celery
    turns both into chords). The header's tasks are resolved from `t.s(...)`,
    `t.si(...)`, `t.signature(...)` and `.set(ignore_result=...)`, with the option
    taken in Celery's precedence order (per-signature option, decorator, base class,
    `task_ignore_result`). When any header member cannot be resolved the rule stays
    silent.

    ## Why is this bad?
    The chord callback runs when every header result has been stored. Header tasks
    that ignore their results store nothing, so on backends that count stored results
    (`chord_unlock` polling: SQLAlchemy/Django database, ...) the callback never fires
    and the chord hangs in `PENDING`. Celery's documentation requires header tasks not
    to ignore their results, whatever the backend.

    ## Example
    ```python
    @shared_task(ignore_result=True)
    def fetch(url): ...

    chord(fetch.s(u) for u in urls)(merge.s())
    ```

    ## Use instead
    ```python
    @shared_task(ignore_result=False)
    def fetch(url): ...

    chord(fetch.s(u) for u in urls)(merge.s())
    ```
    or `fetch.s(u).set(ignore_result=False)` for the chord's members only.

    ## References
    - Celery, *Canvas*: chords ("tasks used within a chord must not ignore their results")
    """

    CODE = "CEL707"
    NAME = "chord-with-ignored-results"
    SKIP_TEST_CODE = True
    MESSAGE = "chord header task '{task}' ignores its result ({origin}): the chord callback waits for results that are never stored and may never run"
    FIX_TITLE = "set `ignore_result=False` on the header tasks"

    VALID = [
        Valid(
            USE_JOBS,
            files=_project(
                DJANGO_CELERY, JOBS_KEEP, **{"proj/settings.py": "CELERY_TASK_IGNORE_RESULT = True\n"}
            ),
            note="the task overrides the setting",
        ),
        Valid(
            USE_JOBS,
            files=_project(DJANGO_CELERY, **{"proj/settings.py": "task_ignore_result = True\n"}),
            note="Django does not expose lowercase settings",
        ),
        Valid(
            USE_JOBS,
            files=_project(
                "import os\nfrom celery import Celery\napp = Celery('proj')\napp.conf.task_ignore_result = os.environ['IGNORE']\n"
            ),
            note="a computed setting is unknown",
        ),
        Valid(HEAD + "chord(keep.s(u) for u in urls)(merge.s())\n", files=CRAWL, note="results kept"),
        Valid(
            HEAD + "chord([keep.s(1), other.s(2)])(merge.s())\n",
            files=CRAWL,
            note="a header member that cannot be resolved",
        ),
        Valid(
            HEAD + "chord([fetch.s(u).set(ignore_result=False) for u in urls], merge.s())\n",
            files=CRAWL,
            note="overridden per signature",
        ),
        Valid(HEAD + "group(fetch.s(u) for u in urls).apply_async()\n", files=CRAWL, note="a plain group"),
        Valid(
            HEAD + "chord(keep.s(u) for u in urls)(fetch.s())\n",
            files=CRAWL,
            note="the callback may ignore its result",
        ),
        Valid(
            "from itertools import chain\nfrom celery import group\nfrom crawl.tasks import fetch, merge\n\nchain(group(fetch.s(1)), merge.s())\n",
            files=CRAWL,
            note="itertools.chain",
        ),
        Valid(
            HEAD + "def run(header):\n    chord(header)(merge.s())\n",
            files=CRAWL,
            note="a header the analyzer cannot see",
        ),
    ]
    INVALID = [
        Invalid(
            HEAD + "chord(fetch.s(u) for u in urls)(merge.s())\n",
            files=CRAWL,
            line=4,
            column=1,
            message_contains="ignore_result on the decorator",
            note="chord(header)(callback), generator header",
        ),
        Invalid(
            HEAD + "chord([keep.s(1), fetch.si(2)], merge.s()).delay()\n",
            files=CRAWL,
            line=4,
            column=1,
            note="chord(header, body)",
        ),
        Invalid(
            HEAD
            + "def run(urls):\n    header = group(fetch.s(u) for u in urls)\n    return (header | merge.s()).delay()\n",
            files=CRAWL,
            line=6,
            column=13,
            note="group | task, through a local name",
        ),
        Invalid(
            "from celery import chain, group\nfrom crawl import tasks\n\nchain(tasks.keep.s(0), group(tasks.fetch.s(1), tasks.fetch.s(2)), tasks.merge.s())()\n",
            files=CRAWL,
            line=4,
            column=1,
            note="chain(group, task), tasks through a module",
        ),
        Invalid(
            HEAD + "chord([keep.s(1).set(ignore_result=True)])(merge.s())\n",
            files=CRAWL,
            line=4,
            column=1,
            message_contains=".set(ignore_result=True)",
            note="ignored per signature",
        ),
        Invalid(
            USE_JOBS,
            files=_project(
                "from celery import Celery\napp = Celery('proj', backend='db+sqlite://')\napp.conf.task_ignore_result = True\n"
            ),
            line=4,
            column=1,
            message_contains="task_ignore_result in proj/celery.py",
            note="conf.x = ...",
        ),
        Invalid(
            USE_JOBS,
            files=_project(
                "from celery import Celery\napp = Celery('proj')\napp.conf.update(task_ignore_result=True)\n"
            ),
            line=4,
            column=1,
            message_contains="task_ignore_result",
            note="conf.update(...)",
        ),
        Invalid(
            USE_JOBS,
            files=_project(
                "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig')\n",
                **{"proj/celeryconfig.py": "result_backend = 'redis://'\ntask_ignore_result = True\n"},
            ),
            line=4,
            column=1,
            message_contains="task_ignore_result",
            note="config_from_object(module)",
        ),
        Invalid(
            USE_JOBS,
            files=_project(
                "from celery import Celery\n\nclass Config:\n    task_ignore_result = True\n\napp = Celery('proj')\napp.config_from_object(Config)\n"
            ),
            line=4,
            column=1,
            message_contains="task_ignore_result",
            note="config_from_object(class)",
        ),
        Invalid(
            USE_JOBS,
            files=_project(DJANGO_CELERY, **{"proj/settings.py": "CELERY_TASK_IGNORE_RESULT = True\n"}),
            line=4,
            column=1,
            message_contains="CELERY_TASK_IGNORE_RESULT",
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            USE_JOBS,
            files=_project(DJANGO_CELERY, **{"proj/settings.py": "CELERY_IGNORE_RESULT = True\n"}),
            line=4,
            column=1,
            note="an old name is still honoured when the namespaced name is absent",
        ),
        Invalid(
            "import celery\nfrom crawl.tasks import fetch, merge\n\nheader = celery.group([fetch.s(1)])\nflow = header | merge.s()\n",
            files=CRAWL,
            line=5,
            column=8,
            note="module-level group | task with `import celery`",
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.sites = CallSites(context)

    # -- forms ----------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self.sites.names_in(func, CHORD):
            header = keyword(node, "header")
            given = positional(node)
            expr = header.value if header is not None else (given[0].value if given else None)
            if expr is not None:
                self._check(node, self._members(expr))
        elif self.sites.names_in(func, CHAIN):
            steps = [a.value for a in positional(node) if not a.star]
            if len(steps) == 1 and isinstance(steps[0], (cst.List, cst.Tuple)):
                steps = [e.value for e in steps[0].elements if isinstance(e, cst.Element)]
            for step in steps[:-1]:
                if self._is_group(step):
                    self._check(node, self._members(step))

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if not isinstance(node.operator, cst.BitOr):
            return
        left = node.left
        while isinstance(left, cst.BinaryOperation) and isinstance(left.operator, cst.BitOr):
            left = left.right
        if self._is_group(left) and self.sites.is_signature(node.right):
            self._check(node, self._members(left))

    # -- header members ---------------------------------------------------------------------
    def _is_group(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, cst.Name) and not self.context.function_stack:
            value = self._module_value(expr.value)
            return value is not None and self.sites.is_group(value)
        return self.sites.is_group(expr)

    def _module_value(self, name: str) -> cst.BaseExpression | None:
        bindings = self.context.summary.bindings.get(name)
        if bindings is None or len(bindings) != 1:
            return None
        return bindings[0].value

    def _members(self, expr: cst.BaseExpression, depth: int = 0) -> list[cst.BaseExpression] | None:
        """The header's members, or None when the header cannot be listed."""
        if depth > 8:
            return None
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            members: list[cst.BaseExpression] = []
            for element in expr.elements:
                if not isinstance(element, cst.Element):
                    return None
                members.append(element.value)
            return members
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            return [expr.elt]
        if isinstance(expr, cst.Call) and self.sites.names_in(expr.func, GROUP):
            args = positional(expr)
            if any(a.star for a in args) or keyword(expr, "tasks") is not None:
                return None
            if len(args) == 1 and isinstance(
                args[0].value, (cst.List, cst.Tuple, cst.Set, cst.ListComp, cst.GeneratorExp, cst.SetComp)
            ):
                return self._members(args[0].value, depth + 1)
            return [a.value for a in args]
        if isinstance(expr, cst.Name):
            values = (
                self.sites.local_values(expr.value)
                if self.context.function_stack
                else [v for v in [self._module_value(expr.value)] if v is not None]
            )
            if values is not None and len(values) == 1:
                return self._members(values[0], depth + 1)
        return None

    def _ignores(self, expr: cst.BaseExpression) -> tuple[Resolved, str | None]:
        """Whether one header member ignores its result, and the task's label."""
        if not isinstance(expr, cst.Call) or not isinstance(expr.func, cst.Attribute):
            return Unknown("not a signature"), None
        method = method_of(expr)
        receiver = expr.func.value
        if method in ("set", "signature", "subtask"):
            option = keyword(expr, "ignore_result")
            if method != "set" and keyword(expr, "options") is not None:
                return Unknown("options"), None
            if option is not None:
                inner_label = self._ignores(receiver)[1] if method == "set" else self._label(receiver)
                evaluated = self.project.value_of(option.value)
                if not isinstance(evaluated, Known):
                    return Unknown("computed ignore_result"), inner_label
                value = evaluated.value
                return Known(bool(value), Origin(f"`.{method}(ignore_result={value!r})`")), inner_label
            if method == "set":
                return self._ignores(receiver)
        elif method not in ("s", "si"):
            return Unknown("not a signature"), None
        task = self._task(receiver)
        if task is None:
            return Unknown("unknown task"), None
        return task.option("ignore_result"), task.label

    def _label(self, receiver: cst.BaseExpression) -> str | None:
        task = self._task(receiver)
        return task.label if task is not None else None

    def _task(self, expr: cst.BaseExpression) -> TaskView | None:
        """The project task ``expr`` names (``add``, ``tasks.add``); None for local names."""
        if self.sites.is_local(expr):
            return None
        return self.project.task_for_expression(expr)

    def _check(self, node: cst.CSTNode, members: list[cst.BaseExpression] | None) -> None:
        if not members:
            return
        culprit: tuple[Known, str] | None = None
        for member in members:
            value, label = self._ignores(member)
            if not isinstance(value, Known):
                return
            if value.value and culprit is None:
                culprit = (value, label or code_of(member, 40))
        if culprit is not None:
            known, label = culprit
            origin = str(known.origin)
            if known.origin.path and known.origin.path not in origin:
                origin = f"{origin} in {known.origin.path}"
            self.report(node, self.message(task=label, origin=origin))
