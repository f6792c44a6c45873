from __future__ import annotations

from ...project.tasknames import (
    KNOWN_PACKAGES_OPTION,
    from_known_package,
    known_packages,
)
from ..base import Invalid, Rule, Valid
from ._cases import CELERYCONFIG_APP, DJANGO_CELERY, PLAIN_CELERY, project


class UnknownTaskInRoutes(Rule):
    """
    ## What it does
    Checks `task_routes` (every configuration form) for keys that match no task of
    the analysed project: an exact task name no task has, or a glob such as
    `"proj.tasks.*"` (matched the way Celery matches it, with `fnmatch`) that matches
    none. It reads the dict form, lists of dicts and lists of `(pattern, route)`
    pairs; router functions, router class names and compiled regexes are skipped.

    Default task names depend on the module's import name, so a key also counts as
    matching when it matches the task under any name its module is known by, or with
    leading package components dropped on either side. The rule is silent when some
    task's name cannot be resolved, and for names under the `known-task-packages`
    option of CEL701 (default `["celery."]`) or from packages outside the project.

    ## Why is this bad?
    A route that matches nothing is silently ignored: the tasks it was meant for go
    to the default queue, where the workers sized for them (more memory, a dedicated
    pool, a priority lane) never see them. It is the usual leftover of a renamed
    module or task.

    ## Example
    ```python
    app.conf.task_routes = {"proj.task.send_email": {"queue": "email"}}
    ```

    ## Use instead
    ```python
    app.conf.task_routes = {"proj.tasks.send_email": {"queue": "email"}}
    ```

    ## References
    - Celery, *Routing Tasks*: `task_routes`
    """

    CODE = "CEL705"
    NAME = "unknown-task-in-routes"
    MESSAGE = "`task_routes` {kind} '{pattern}' matches no task of this project: the route never applies (a renamed task now goes to the default queue)"
    FIX_TITLE = "fix or remove the {kind}"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            PLAIN_CELERY + "app.conf.task_routes = {'proj.tasks.add': {'queue': 'math'}}\n",
            path="proj/celery.py",
            files=project(),
        ),
        Valid(
            PLAIN_CELERY
            + "app.conf.task_routes = {'proj.tasks.*': {'queue': 'math'}, 'proj.*': 'default'}\n",
            path="proj/celery.py",
            files=project(),
            note="globs",
        ),
        Valid(
            PLAIN_CELERY
            + "app.conf.task_routes = ([('proj.tasks.*', {'queue': 'math'}), ('celery.*', {'queue': 'internal'})],)\n",
            path="proj/celery.py",
            files=project(),
            note="list of pairs; Celery's own tasks",
        ),
        Valid(
            "import re\n"
            + PLAIN_CELERY
            + "app.conf.task_routes = {re.compile(r'proj\\.(jobs|tasks)\\..*'): {'queue': 'math'}}\n",
            path="proj/celery.py",
            files=project(),
            note="compiled regex keys are skipped",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.task_routes = ('proj.routers.MyRouter', route_task)\n",
            path="proj/celery.py",
            files=project(),
            note="router classes and functions",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.task_routes = {'proj.tasks.other': {'queue': 'math'}}\n",
            path="proj/celery.py",
            files=project(
                **{
                    "proj/jobs.py": "import os\nfrom celery import shared_task\n\n\n@shared_task(name=os.environ['NAME'])\ndef other():\n    pass\n"
                }
            ),
            note="a task whose name is unknown",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.task_routes = {'tasks.add': {'queue': 'math'}}\n",
            path="proj/celery.py",
            files=project(),
            note="module imported from inside proj/",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.task_routes = {'django_celery_beat.*': {'queue': 'beat'}}\n",
            path="proj/celery.py",
            files=project(),
            note="another package's tasks",
        ),
        Valid(
            PLAIN_CELERY + "app.conf.task_routes = {'proj.tasks.nope': {'queue': 'math'}}\n",
            path="tests/test_routes.py",
            files=project(),
            note="test code",
        ),
    ]
    INVALID = [
        Invalid(
            PLAIN_CELERY + "app.conf.task_routes = {\n    'proj.tasks.ad': {'queue': 'math'},\n}\n",
            path="proj/celery.py",
            files=project(),
            line=4,
            column=5,
            message_contains="'proj.tasks.ad'",
        ),
        Invalid(
            PLAIN_CELERY + "app.conf.task_routes = {'proj.jobs.*': {'queue': 'jobs'}}\n",
            path="proj/celery.py",
            files=project(),
            line=3,
            column=25,
            message_contains="pattern",
            note="glob",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_routes={'proj.task.add': 'math'})\n",
            path="proj/celery.py",
            files=project(),
            line=2,
            column=35,
            note="Celery() keyword",
        ),
        Invalid(
            PLAIN_CELERY
            + "app.conf.update(task_routes=[{'proj.tasks.add': 'math'}, {'proj.tasks.sub': 'math'}])\n",
            path="proj/celery.py",
            files=project(),
            line=3,
            column=59,
            note="list of dicts in conf.update",
        ),
        Invalid(
            PLAIN_CELERY
            + "app.conf.task_routes = ([\n    ('proj.tasks.*', {'queue': 'math'}),\n    ('proj.mail.*', {'queue': 'mail'}),\n],)\n",
            path="proj/celery.py",
            files=project(),
            line=5,
            column=6,
            note="list of pairs",
        ),
        Invalid(
            "CELERY_TASK_ROUTES = {\n    'proj.tasks.mul': {'queue': 'math'},\n}\n",
            path="proj/settings.py",
            files=project(**{"proj/celery.py": DJANGO_CELERY}),
            line=2,
            column=5,
            note="Django settings",
        ),
        Invalid(
            "task_routes = {'proj.tasks.div': {'queue': 'math'}}\n",
            path="celeryconfig.py",
            files=project(**{"proj/celery.py": CELERYCONFIG_APP}),
            line=1,
            column=16,
            note="celeryconfig module",
        ),
    ]

    def check(self) -> None:
        view = self.project
        routes = view.routes()
        if not routes or not view.has_tasks or not view.all_task_names_known:
            return
        prefixes = known_packages(self.context.options.get(KNOWN_PACKAGES_OPTION))
        for route in routes:
            pattern = route.pattern
            if pattern is None or from_known_package(pattern, prefixes) or view.outside_project(pattern):
                continue
            if "*" in pattern:
                if view.tasks_matching(pattern):
                    continue
                kind = "pattern"
            else:
                if view.tasks_named(pattern):
                    continue
                kind = "key"
            self.report(route.key_node, self.message(kind=kind, pattern=pattern))
