from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixes import replace, string_like
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ..support import is_pickle

if TYPE_CHECKING:
    import libcst as cst

    from ...api import AppView, ProjectView
    from ...project.entities import ConfigWrite
else:
    from ..._lazy_libcst import cst

JSON_NAMES = frozenset({"json", "application/json"})
# The accept list that must admit the new serializer (event receivers always accept json).
ACCEPT_FOR = {"task_serializer": "accept_content", "result_serializer": "result_accept_content"}

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
    Unsafe (`--fix --unsafe-fixes`): switching from pickle to JSON changes what the
    project can send (arguments and results that only pickle could carry, such as
    datetimes, sets or model instances, fail at publish time) and workers running the
    new accept list (CEL102's fix) reject the pickle messages already queued: let the
    queues drain before the switch. The fix replaces
    the string `'pickle'` with `'json'` where it is written, in the same configuration
    form and quotes. A value given through a name (`SERIALIZER = 'pickle'`, used
    elsewhere too) or computed is left alone, and so is a serializer whose accept list
    (`accept_content`, `result_accept_content`) does not admit JSON or cannot be read:
    the workers would reject every message. CEL102's fix puts `json` in place of
    `pickle` in those lists; the serializer is fixed once they accept it.

    ## References
    - Celery, *Security*: serializers
    """

    CODE = "CEL101"
    NAME = "unsafe-serializer"
    MESSAGE = "`{key}` is set to `pickle` ({form}): any broker writer can run code on workers"
    FIX_TITLE = "use `json`"
    SKIP_TEST_CODE = True
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Use `json`"

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
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'pickle'\n",
            line=3,
            column=1,
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'json'\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_serializer='pickle')\n",
            line=2,
            column=22,
            fixed="from celery import Celery\napp = Celery('proj', task_serializer='json')\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    result_serializer='pickle',\n)\n",
            line=4,
            column=5,
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    result_serializer='json',\n)\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf['event_serializer'] = \"pickle\"\n",
            line=3,
            column=1,
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf['event_serializer'] = \"json\"\n",
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
            column=1,
            note="Django settings",
            fixed="CELERY_TASK_SERIALIZER = 'json'\n",
        ),
        Invalid(
            "task_serializer = 'pickle'\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            column=1,
            fixed="task_serializer = 'json'\n",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    CELERY_RESULT_SERIALIZER = 'pickle'\n\napp = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            column=5,
            note="old name in a configuration class",
            fixed="from celery import Celery\n\nclass Config:\n    CELERY_RESULT_SERIALIZER = 'json'\n\napp = Celery('proj')\napp.config_from_object(Config)\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', changes={'task_serializer': 'PICKLE'})\n",
            line=2,
            column=31,
            note="a dict of changes, any case",
            fixed="from celery import Celery\napp = Celery('proj', changes={'task_serializer': 'json'})\n",
        ),
        Invalid(
            "from celery import Celery\nSERIALIZER = 'pickle'\napp = Celery('proj')\napp.conf.task_serializer = SERIALIZER\n",
            line=4,
            column=1,
            note="value through a module constant, which other code may use: no fix",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', accept_content=['pickle'])\napp.conf.task_serializer = 'pickle'\n",
            line=3,
            column=1,
            note="workers that accept only pickle would reject json: no fix until CEL102's",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', accept_content=['json', 'pickle'])\napp.conf.result_serializer = 'pickle'\n",
            line=3,
            column=1,
            note="result_accept_content unset: accept_content applies",
            fixed="from celery import Celery\napp = Celery('proj', accept_content=['json', 'pickle'])\napp.conf.result_serializer = 'json'\n",
        ),
    ]

    def check(self) -> None:
        project = self.project
        for write in project.config_writes():
            if write.setting not in SERIALIZER_SETTINGS or write.value is None:
                continue
            value = project.write_value(write)
            if isinstance(value, Known) and is_pickle(value.value):
                fix = None
                if isinstance(write.value, cst.SimpleString) and _json_accepted(project, write):
                    fix = replace(write.value, string_like(write.value, "json"), self.AUTOFIX_TITLE or "")
                self.report(write.node, self.message(key=write.key, form=write.form), fix=fix)


def _json_accepted(project: ProjectView, write: ConfigWrite) -> bool:
    """Whether every app the write configures accepts JSON for what it serializes."""
    accept = ACCEPT_FOR.get(write.setting or "")
    if accept is None:
        return True
    return accepts_json(project.apps_configured_by(write), accept)


def accepts_json(apps: list[AppView], accept: str = "accept_content") -> bool:
    """Whether the accept list ``accept`` of every app surely admits JSON."""
    for app in apps:
        value = app.setting(accept)
        if accept == "result_accept_content" and isinstance(value, Known) and value.value is None:
            value = app.setting("accept_content")
        if not isinstance(value, Known):
            return False
        items = [value.value] if isinstance(value.value, str) else value.value
        if not isinstance(items, (list, tuple, set, frozenset)):
            return False
        if not any(isinstance(i, str) and i.strip().lower() in JSON_NAMES for i in items):
            return False
    return True
