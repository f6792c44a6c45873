from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...project.callsites import CallSites, code_of
from ...project.helper_texts import Reach
from ..base import Invalid, Rule, Valid
from ..following import Following

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

FOLLOW = Reach(re.compile(rb"\bsleep\b"))

if TYPE_CHECKING:
    from ...context import FileContext

SLEEP = frozenset({"time.sleep"})


class SleepInTask(Rule):
    """
    ## What it does
    Checks for `time.sleep(...)` in task bodies (imported as `import time`, `import time
    as t` or `from time import sleep`).

    Project functions a task calls are checked too, up to three calls deep (not a
    function the task only passes along, nor one it cannot resolve). Such a finding is
    reported at the task's call that leads to it, once a call, naming the place and the
    way there (``in shop/polling.py:8, called from task 'shop.tasks.publish' via
    wait_until_stored()``).

    ## Why is this bad?
    A sleeping task holds a worker slot (a whole process on the prefork pool) while
    doing nothing, and counts against its time limits. Polling loops and fixed waits
    for another system to catch up starve the queue behind them.

    ## Example
    ```python
    @shared_task
    def publish(report_id):
        while not storage.exists(report_id):
            time.sleep(10)
        upload(report_id)
    ```

    ## Use instead
    ```python
    @shared_task(bind=True, max_retries=30)
    def publish(self, report_id):
        if not storage.exists(report_id):
            raise self.retry(countdown=10)
        upload(report_id)
    ```
    or schedule the work later with `apply_async(countdown=...)`.

    ## References
    - Celery, *Tasks*: retrying; *Calling tasks*: ETA and countdown
    """

    CODE = "CEL404"
    NAME = "sleep-in-task"
    DEFAULT = False
    SKIP_TEST_CODE = True
    MESSAGE = (
        "`{call}` in {where} holds a worker slot while doing nothing: retry later with "
        "`self.retry(countdown=...)` or schedule the work with `apply_async(countdown=...)`"
    )

    VALID = [
        Valid("import time\n\ndef helper():\n    time.sleep(1)\n", note="not in a task"),
        Valid(
            "import asyncio\nfrom celery import shared_task\n\n@shared_task\ndef f():\n    asyncio.sleep(1)\n",
            note="another sleep",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(time):\n    time.sleep(1)\n",
            note="a parameter named time",
        ),
        Valid(
            "from celery import shared_task\nfrom gevent import sleep\n\n@shared_task\ndef f():\n    sleep(0)\n",
            note="a cooperative yield",
        ),
        Valid(
            "from celery import shared_task\nfrom backoff_helpers import pause\n\n@shared_task\ndef f(wait):\n    wait(5)\n    pause(5)\n",
            note="callees the analyzer cannot resolve, or outside the project",
        ),
    ]
    INVALID = [
        Invalid(
            "import time\nfrom celery import shared_task\n\n@shared_task\ndef f():\n    time.sleep(5)\n",
            line=6,
            column=5,
        ),
        Invalid(
            "from time import sleep\nfrom celery import shared_task\n\n@shared_task\ndef f():\n    for _ in range(3):\n        sleep(5)\n",
            line=7,
            column=9,
            note="from time import sleep",
        ),
        Invalid(
            "import time as t\nfrom celery import Celery\napp = Celery('proj')\n\n@app.task(bind=True)\ndef f(self):\n    t.sleep(1)\n",
            line=7,
            column=5,
            note="import alias",
        ),
        Invalid(
            "import time\nfrom celery import Task\n\nclass Poll(Task):\n    def run(self):\n        time.sleep(2)\n",
            line=6,
            column=9,
            note="class-based task",
        ),
        Invalid(
            "from celery import shared_task\nfrom shop import polling\n\n@shared_task\ndef publish(report_id):\n    polling.wait_until_stored(report_id)\n",
            files={
                "shop/__init__.py": "",
                "shop/polling.py": "import time\n\ndef wait_until_stored(report_id):\n    while not stored(report_id):\n        time.sleep(10)\n",
            },
            line=6,
            column=5,
            message_contains="`time.sleep(10)` in shop/polling.py:5, called from task 'tasks.publish' via wait_until_stored()",
            note="through a helper of another module: reported at the task's call",
        ),
    ]

    def __init__(self, context: FileContext) -> None:
        super().__init__(context)
        self.sites = CallSites(context)
        self.following = Following(self, FOLLOW)

    def visit_Call(self, node: cst.Call) -> None:
        task = self.project.current_task()
        if task is None:
            return
        self.following.report_through(node, "call")
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else None
        if isinstance(func, cst.Name):
            name = func.value
        if name != "sleep" or not self.sites.names_in(func, SLEEP):
            return
        if not self.following.found(node, call=code_of(node)):
            self.report(node, self.message(call=code_of(node), where=f"task '{task.label}'"))
