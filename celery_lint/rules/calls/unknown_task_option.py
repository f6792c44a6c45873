from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixes import Fix, replace
from ...project.walk import Walker
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst

    from ...project.unread_options import UnreadOption
else:
    from ..._lazy_libcst import cst

_SHARED = "from celery import shared_task\n\n"


class UnknownTaskOption(Rule):
    """
    ## What it does
    Checks for a keyword of a task decorator (`@shared_task`, `@app.task`, a project
    wrapper or alias of them) that the installed Celery never reads for a task: a typo
    such as `ignore_results` or `acks_lately`, or a key of a message's `retry_policy`
    (`interval_start`, `interval_step`, `interval_max`) given to the task. A class
    attribute of a project task class that misspells a real option is checked too.
    Options the project itself reads are left alone: a read by a task class of the
    task's chain (`self.option`, `getattr(self, "option")`), by the bound task body, or a
    keyword a project wrapper takes, pops or reads. The set of real options comes from
    the installed Celery: the `Task` class's settings, what the decorator and the
    autoretry wrapper take, and the options of `apply_async` and `send_task`. Test
    code is not checked.

    ## Why is this bad?
    Celery copies every keyword it does not know onto the task class and never looks
    at it again: no error, no warning. `@shared_task(ignore_results=True)` still stores
    every result, `acks_lately=True` still acknowledges before the task runs, and
    `interval_start=1` on the task leaves the publish retries at their defaults.

    ## Example
    ```python
    @shared_task(ignore_results=True, interval_start=1)
    def ping(): ...
    ```

    ## Use instead
    ```python
    @shared_task(ignore_result=True)
    def ping(): ...

    ping.apply_async(retry_policy={"interval_start": 1})
    ```

    ## Fix safety
    Unsafe (`--fix --unsafe-fixes`): renaming the keyword to the option it misspells
    turns the option on, which changes what the task does (results no longer stored,
    messages acknowledged late). The fix is offered only when one real option is
    clearly the closest and the call does not give it already.

    ## References
    - Celery, *Tasks*: list of options
    - Celery, *Calling tasks*: message sending retry
    """

    CODE = "CEL801"
    NAME = "unknown-task-option"
    SKIP_TEST_CODE = True
    MESSAGE = "task option `{option}` is not read by Celery{reason}: it is stored on {tasks} and ignored"
    FIX_TITLE = "{advice}"
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Rename the option to the one it misspells"

    VALID = [
        Valid(
            _SHARED + "@shared_task(ignore_result=True, acks_late=True, time_limit=30)\ndef f():\n    pass\n"
        ),
        Valid(
            _SHARED + "@shared_task(autoretry_for=(OSError,), retry_backoff=True, retry_jitter=False,"
            " retry_kwargs={'max_retries': 5}, dont_autoretry_for=(KeyError,), typing=False)\ndef f():\n"
            "    pass\n",
            note="options the autoretry wrapper and the Task class read",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\n\n@app.task(bind=True, name='p.f', shared=False,"
            " lazy=False, queue='low', routing_key='low', priority=3, expires=60, rate_limit='1/s')\n"
            "def f(self):\n    pass\n",
            note="what Celery.task and _task_from_fun take, and what apply_async sends",
        ),
        Valid(
            _SHARED + "@shared_task(countdown=5, retry_policy={'max_retries': 3})\ndef f():\n    pass\n",
            note="options of apply_async: not this rule's finding",
        ),
        Valid(
            "from celery import Task, shared_task\n\nclass AuditedTask(Task):\n"
            "    def before_start(self, task_id, args, kwargs):\n        if self.audit_log:\n"
            "            print(task_id)\n\n@shared_task(base=AuditedTask, audit_log=True)\ndef f():\n    pass\n",
            note="an option read by the project base class",
        ),
        Valid(
            "from celery import shared_task\n\ndef tracked_task(**options):\n"
            "    metric = options.pop('metric_name', None)\n    return shared_task(**options)\n\n"
            "@tracked_task(metric_name='sync', ignore_result=True)\ndef f():\n    pass\n",
            note="an option a project wrapper consumes",
        ),
        Valid(
            "from celery import shared_task\n\ndef tracked_task(metric_name=None, **options):\n"
            "    return shared_task(**options)\n\n@tracked_task(metric_name='sync')\ndef f():\n    pass\n",
            note="a wrapper parameter",
        ),
        Valid(
            _SHARED + "def task_options():\n    return {'ignore_results': True}\n\n"
            "@shared_task(**task_options())\ndef f():\n    pass\n",
            note="`**options` splats: what they pass cannot be known",
        ),
        Valid(
            _SHARED + "@shared_task(bind=True, cache_key='k')\ndef f(self):\n    return self.cache_key\n",
            note="read by the bound task body",
        ),
        Valid(
            "from celery import Celery, Task\n\nclass ContextTask(Task):\n    route = None\n\n"
            "app = Celery('proj', task_cls=ContextTask)\n\n@app.task(route='low.sync')\ndef f():\n    pass\n",
            note="an attribute the app's task class declares and its tasks set",
        ),
        Valid(
            "from celery import Celery\n\napp = Celery('proj')\n\ndef router(name, args, kwargs, options, task=None, **kw):\n"
            "    return {'queue': task.lane} if task is not None else None\n\n"
            "@app.task(lane='low')\ndef f():\n    pass\n",
            note="read from the task object elsewhere in the project (a task router)",
        ),
        Valid(
            _SHARED + "def drop_media(self, exc, task_id, args, kwargs, einfo):\n    print(args)\n\n"
            "@shared_task(on_failure=drop_media)\ndef f(media_id):\n    pass\n",
            note="a handler of Task (`on_failure`) given as an option replaces the method Celery calls",
        ),
        Valid(
            "from celery import Task\n\nclass ReportTask(Task):\n    report_format = 'pdf'\n\n"
            "    def run(self):\n        return 1\n",
            note="a class attribute that misspells no option: the class's own state",
        ),
    ]
    INVALID = [
        Invalid(
            _SHARED + "@shared_task(ignore_results=True)\ndef f():\n    pass\n",
            line=3,
            column=14,
            message_contains="did you mean `ignore_result`",
            fixed=_SHARED + "@shared_task(ignore_result=True)\ndef f():\n    pass\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\n\n@app.task(acks_lately=True, time_limits=30)\n"
            "def f():\n    pass\n",
            findings=((4, 11), (4, 29)),
            fixed="from celery import Celery\napp = Celery('proj')\n\n@app.task(acks_late=True, time_limit=30)\n"
            "def f():\n    pass\n",
        ),
        Invalid(
            _SHARED
            + "@shared_task(autoretry_for=(OSError,), interval_start=1, interval_step=2, interval_max=10)\n"
            "def f():\n    pass\n",
            findings=((3, 40), (3, 58), (3, 75)),
            message_contains="retry_policy",
            note="publish retry-policy keys given to the task",
        ),
        Invalid(
            "from celery import shared_task\n\nretry_task = shared_task(autoretry_for=(OSError,), interval_start=1)\n\n"
            "@retry_task\ndef f():\n    pass\n\n@retry_task\ndef g():\n    pass\n",
            line=3,
            column=52,
            note="an alias: reported once, where the keyword is written",
        ),
        Invalid(
            _SHARED + "@shared_task(ignore_results=True, ignore_result=False)\ndef f():\n    pass\n",
            line=3,
            column=14,
            note="the real option is given too: no fix",
        ),
        Invalid(
            "from celery import Task\n\nclass QuietTask(Task):\n    ignore_results = True\n",
            line=4,
            column=5,
            fixed="from celery import Task\n\nclass QuietTask(Task):\n    ignore_result = True\n",
            note="a task class attribute that misspells an option",
        ),
    ]

    def _message(self, option: UnreadOption) -> tuple[str, str]:
        if option.retry_policy_key:
            reason = " for a task (it is a key of a message's `retry_policy`)"
            advice = f"pass it per call, `apply_async(retry_policy={{'{option.name}': ...}})`"
        elif option.closest is not None:
            reason = f" (did you mean `{option.closest}`?)"
            advice = f"write `{option.closest}`"
        else:
            reason = ""
            advice = "remove it, or read it in the task's base class"
        return reason, advice

    def _rename(self, name: cst.Name, closest: str) -> Fix:
        """``name`` -> ``closest``: the keyword or attribute spelled as the real option."""
        return replace(name, cst.Name(closest), self.AUTOFIX_TITLE or "", lambda _again: cst.Name(closest))

    def _report(self, node: cst.CSTNode, option: UnreadOption, fix: Fix | None) -> None:
        reason, advice = self._message(option)
        tasks = sorted(set(option.tasks))
        where = tasks[0] if len(tasks) == 1 else f"{len(tasks)} tasks"
        self.report(
            node, self.message(option=option.name, reason=reason, tasks=where, advice=advice), fix=fix
        )

    def check(self) -> None:
        unread = self.project.unread_task_options()
        if not unread:
            return  # most files: no walk at all
        sites = _OptionSites(unread)
        sites.walk(self.context.tree)
        for node, given, option in sites.found:
            name = node.keyword if isinstance(node, cst.Arg) else _target(node)
            fix = None
            if (
                isinstance(name, cst.Name)
                and option.closest is not None
                and not option.retry_policy_key
                and option.closest not in given
            ):
                fix = self._rename(name, option.closest)
            self._report(node, option, fix)


def _target(node: cst.CSTNode) -> cst.BaseExpression | None:
    if isinstance(node, cst.Assign) and len(node.targets) == 1:
        return node.targets[0].target
    return node.target if isinstance(node, cst.AnnAssign) else None


class _OptionSites(Walker):
    """Where the unread options of a file are written: decorator keywords (with the
    other keywords of their call) and class attribute assignments."""

    def __init__(self, unread: dict[int, UnreadOption]) -> None:
        self.unread = unread
        self.found: list[tuple[cst.CSTNode, frozenset[str], UnreadOption]] = []

    def visit_Call(self, node: cst.Call) -> None:
        given = frozenset(arg.keyword.value for arg in node.args if arg.keyword is not None)
        for arg in node.args:
            option = self.unread.get(id(arg.value)) if arg.keyword is not None else None
            if option is not None:
                self.found.append((arg, given, option))

    def visit_Assign(self, node: cst.Assign) -> None:
        self._statement(node)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._statement(node)

    def _statement(self, node: cst.Assign | cst.AnnAssign) -> None:
        option = self.unread.get(id(node))
        if option is not None:
            self.found.append((node, frozenset(), option))
