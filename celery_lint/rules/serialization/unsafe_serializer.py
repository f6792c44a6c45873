from __future__ import annotations

import libcst as cst

from ...fixes import replace, string_like
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ..support import config_writes, is_pickle

SERIALIZER_SETTINGS = frozenset({"task_serializer", "result_serializer", "event_serializer"})


class UnsafeSerializer(Rule):
    """
    ## What it does
    Checks for `task_serializer`, `result_serializer` or `event_serializer` set to
    `pickle`, in every configuration form: `Celery(...)` keyword arguments,
    `app.conf.update(...)`, `app.conf.x = ...`, `app.conf["x"] = ...`, modules and
    classes given to `config_from_object`, Django settings and old uppercase names.

    ## Why is this bad?
    A pickle message is code: whoever can write to the broker can run anything on the
    workers (and on clients that read pickled results). JSON is Celery's default and
    carries everything a task should take.

    ## Example
    ```python
    app.conf.task_serializer = "pickle"
    ```

    ## Use instead
    ```python
    app.conf.task_serializer = "json"
    ```

    ## Fix safety
    Replacing `pickle` with `json` changes what the task may be given: arguments that
    only pickle could carry fail at publish time.

    ## References
    - Celery, *Security*: serializers
    """

    CODE = "CEL101"
    NAME = "unsafe-serializer"
    MESSAGE = "`{key}` is set to `pickle` ({form}): any broker writer can run code on workers; use `json`"
    SKIP_TEST_CODE = True
    FIX_SAFETY = "safe"
    FIX_TITLE = "Use `json`"

    VALID = [
        Valid("from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'json'\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj', task_serializer='yaml')\n",
            note="kombu loads yaml with safe_load",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(result_serializer='msgpack', event_serializer='auth')\n"
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'pickle'\n",
            path="tests/test_celery.py",
            note="test code",
        ),
        Valid(
            "import pickle\ndata = pickle.dumps({'a': 1})\nserializer = 'pickle'\n", note="not configuration"
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'pickle'\n", line=3
        ),
        Invalid("from celery import Celery\napp = Celery('proj', task_serializer='pickle')\n", line=2),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    result_serializer='pickle',\n)\n",
            line=4,
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf['event_serializer'] = 'pickle'\n",
            line=3,
        ),
        Invalid(
            "CELERY_TASK_SERIALIZER = 'pickle'\n",
            path="proj/settings.py",
            files={
                "proj/celery.py": (
                    "import os\nfrom celery import Celery\n"
                    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
                    "app = Celery('proj')\n"
                    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
                ),
            },
            line=1,
            note="Django settings",
        ),
        Invalid(
            "task_serializer = 'pickle'\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    CELERY_RESULT_SERIALIZER = 'pickle'\n\napp = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            note="old name in a configuration class",
        ),
        Invalid(
            "from celery import Celery\nSERIALIZER = 'pickle'\napp = Celery('proj')\napp.conf.task_serializer = SERIALIZER\n",
            line=4,
            note="value through a module constant",
        ),
    ]

    def check(self) -> None:
        for write in config_writes(self.context):
            if write.setting not in SERIALIZER_SETTINGS or write.value is None:
                continue
            value = write.resolved(self.context.model)
            if isinstance(value, Known) and is_pickle(value.value):
                fix = None
                if isinstance(write.value, cst.SimpleString):
                    fix = replace(write.value, string_like(write.value, "json"), self.FIX_TITLE or "")
                self.report(write.node, self.MESSAGE.format(key=write.key, form=write.form), fix=fix)
