from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.values import Known, Unknown
from ...project.walk import own_returns
from ..base import Invalid, Rule, Valid
from ..support import task_options_fix

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst


def returns_nothing(body: cst.FunctionDef) -> bool:
    returns = own_returns(body)
    return not returns.generator and all(
        value is None or (isinstance(value, cst.Name) and value.value == "None") for value in returns.values
    )


class ResultNotIgnored(Rule):
    """
    ## What it does
    Checks for tasks that never return a value (no `return <value>`, not a generator)
    while their effective `ignore_result` is false and a result backend is configured
    (or cannot be ruled out). Only Celery's default keeps the result unasked: a task
    that says `ignore_result=False` itself (on its decorator, its class or a project
    base class, or in `task_annotations`), or a configuration that sets
    `task_ignore_result = False`, has chosen to keep results and is not flagged. Nor is
    a task whose result the project's code may read: it runs in a `group` or `chord`
    (a chord's callback waits on its header's results), its caller picks the task id
    (`apply_async(task_id=...)`), or the `AsyncResult` of `delay()`/`apply_async()` is
    kept rather than dropped.

    ## Why is this bad?
    Celery stores every task's state and `None` result in the backend unless told not
    to: one write per task run, kept for `result_expires` (a day by default). For
    fire-and-forget tasks that is load on Redis or the database for data no one reads.

    ## Example
    ```python
    @shared_task
    def send_welcome_email(user_id):
        mail.send(user_id)
    ```

    ## Use instead
    ```python
    @shared_task(ignore_result=True)
    def send_welcome_email(user_id):
        mail.send(user_id)
    ```

    ## Fix safety
    Unsafe: code that waits on the result (`.get()`, chords, `AsyncResult.state`) stops
    working. The fix adds `ignore_result=True` where the task declares its options: a
    keyword of `@app.task`/`@shared_task` (a bare decorator becomes a call), of a project
    wrapper that passes `**kwargs` on to `shared_task`, of the call form `app.task(func)`,
    or a class attribute of a class-based task; no fix where the decorator cannot take
    the keyword (see CEL201).

    ## References
    - Celery, *Tasks*: `ignore_result`; *Canvas*: chords need results
    """

    CODE = "CEL501"
    NAME = "result-not-ignored"
    MESSAGE = "task '{task}' returns nothing but its result is stored{backend}: set `ignore_result=True`"
    SKIP_TEST_CODE = True
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Add `ignore_result=True` to the task decorator"

    VALID = [
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task(ignore_result=True)\ndef f():\n    print('hi')\n",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f():\n    return 42\n",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\n\n@app.task\ndef f():\n    print('hi')\n",
            note="no result backend configured",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost', task_ignore_result=True)\n\n@app.task\ndef f():\n    print('hi')\n",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f():\n    yield 1\n",
            note="a generator",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost', task_ignore_result=True)\n\n@app.task(ignore_result=False)\ndef f():\n    print('hi')\n",
            note="an explicit ignore_result=False keeps the result on purpose",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\nclass Tracked(app.Task):\n    ignore_result = False\n\n@app.task(base=Tracked)\ndef f():\n    print('hi')\n",
            note="a project base class that keeps results on purpose",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost', task_ignore_result=False)\n\n@app.task\ndef f():\n    print('hi')\n",
            note="the configuration keeps results on purpose",
        ),
        Valid(
            "from celery import Celery, chord\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f(n):\n    print(n)\n\n@app.task\ndef done(results):\n    return len(results)\n\ndef run():\n    chord(f.s(n) for n in range(3))(done.s())\n",
            note="a chord header: the callback waits on its results",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f(n):\n    print(n)\n\ndef run(job):\n    f.apply_async(args=[job.id], task_id=job.task_id)\n",
            note="the caller keeps the task id to look the result up",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f(n):\n    print(n)\n\ndef run(job):\n    result = f.delay(job.id)\n    job.result_id = result.id\n",
            note="the AsyncResult is kept",
        ),
        Valid(
            "from celery import Celery, group\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f(n):\n    print(n)\n\ndef run():\n    job = group(f.s(n) for n in range(3))\n    results = job.apply_async()\n    results.save()\n",
            note="a group whose result is kept",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery, group\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f(n):\n    print(n)\n\ndef run():\n    job = group(f.s(n) for n in range(3))\n    job.apply_async()\n",
            line=5,
            column=1,
            note="a group applied by a bare statement drops its results",
            fixed="from celery import Celery, group\napp = Celery('proj', backend='redis://localhost')\n\n@app.task(ignore_result=True)\ndef f(n):\n    print(n)\n\ndef run():\n    job = group(f.s(n) for n in range(3))\n    job.apply_async()\n",
        ),
        Invalid(
            "from celery import Celery\nfrom django.db import transaction\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f(n):\n    print(n)\n\ndef run():\n    transaction.on_commit(lambda: f.delay(1))\n",
            line=6,
            column=1,
            note="enqueued on commit: the lambda's AsyncResult is dropped",
            fixed="from celery import Celery\nfrom django.db import transaction\napp = Celery('proj', backend='redis://localhost')\n\n@app.task(ignore_result=True)\ndef f(n):\n    print(n)\n\ndef run():\n    transaction.on_commit(lambda: f.delay(1))\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f():\n    print('hi')\n",
            line=5,
            column=1,
            fixed="from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task(ignore_result=True)\ndef f():\n    print('hi')\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task\ndef f(n):\n    print(n)\n\ndef run():\n    f.delay(1)\n",
            line=5,
            column=1,
            note="enqueued and its AsyncResult dropped",
            fixed="from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task(ignore_result=True)\ndef f(n):\n    print(n)\n\ndef run():\n    f.delay(1)\n",
        ),
        Invalid(
            "import os\nfrom celery import Celery\napp = Celery('proj', backend=os.environ['RESULT_URL'])\n\n@app.task\ndef f():\n    return None\n",
            line=6,
            column=1,
            note="backend unknown counts as configured",
            fixed="import os\nfrom celery import Celery\napp = Celery('proj', backend=os.environ['RESULT_URL'])\n\n@app.task(ignore_result=True)\ndef f():\n    return None\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task(\n    bind=True,\n    acks_late=True,  # redelivered\n)\ndef f(self):\n    print('hi')\n",
            line=8,
            column=1,
            note="a decorator over several lines, with a comment",
            fixed="from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\n@app.task(\n    bind=True,\n    acks_late=True,  # redelivered\n    ignore_result=True,\n)\ndef f(self):\n    print('hi')\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\nclass Notify(app.Task):\n    name = 'notify'\n\n    def run(self):\n        print('hi')\n",
            line=4,
            column=1,
            note="class-based task",
            fixed="from celery import Celery\napp = Celery('proj', backend='redis://localhost')\n\nclass Notify(app.Task):\n    name = 'notify'\n    ignore_result = True\n\n    def run(self):\n        print('hi')\n",
        ),
        Invalid(
            "from celery import Celery\nfrom proj.decorators import fire_and_forget\napp = Celery('proj', backend='redis://localhost')\n\n@fire_and_forget\ndef f():\n    print('hi')\n",
            files={
                "proj/decorators.py": "from celery import shared_task\nfire_and_forget = shared_task(acks_late=True)\n"
            },
            line=6,
            column=1,
            note="a module-level alias takes only the function: no fix",
        ),
    ]

    def check(self) -> None:
        project = self.project
        for task in project.tasks():
            if task.body is None or not returns_nothing(task.body):
                continue
            ignore = task.option("ignore_result")
            if not isinstance(ignore, Known) or ignore.value:
                continue
            if not ignore.origin.default:
                # ``ignore_result=False`` written for this task, or ``task_ignore_result =
                # False`` in the configuration: keeping results is a choice.
                continue
            if task.result_may_be_read:
                continue
            backend = task.setting("result_backend")
            if isinstance(backend, Known) and not backend.value:
                continue
            where = f" (result backend: {backend.origin})" if isinstance(backend, Known) else ""
            if isinstance(backend, Unknown):
                where = " (a result backend may be configured)"
            self.report(
                task.node,
                self.message(task=task.label, backend=where),
                fix=task_options_fix(
                    project, task, [("ignore_result", cst.Name("True"))], self.AUTOFIX_TITLE or ""
                ),
            )
