from __future__ import annotations

from collections.abc import Iterable

from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ..support import config_writes, is_pickle

ACCEPT_SETTINGS = frozenset({"accept_content", "result_accept_content"})


class UnsafeAcceptContent(Rule):
    """
    ## What it does
    Checks for `accept_content` or `result_accept_content` lists that admit pickle
    (`'pickle'` or `'application/x-python-serialize'`), in any configuration form.

    ## Why is this bad?
    The accept list is what a worker agrees to deserialize. Even when every producer
    sends JSON, a worker that accepts pickle runs whatever pickle a broker writer sends.
    Celery also refuses to start a worker as root with pickle accepted.

    ## Example
    ```python
    app.conf.accept_content = ["json", "pickle"]
    ```

    ## Use instead
    ```python
    app.conf.accept_content = ["json"]
    ```

    ## References
    - Celery, *Configuration*: `accept_content`
    """

    CODE = "CEL102"
    NAME = "unsafe-accept-content"
    MESSAGE = (
        "`{key}` accepts pickle ({form}): workers will deserialize code from the broker; accept only `json`"
    )
    SKIP_TEST_CODE = True

    VALID = [
        Valid("from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = ['json']\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj', accept_content=['json', 'msgpack', 'yaml'])\n"
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.result_accept_content = ('application/json',)\n"
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = ['json', 'pickle']\n",
            line=3,
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_serializer='json', accept_content={'application/x-python-serialize'})\n",
            line=2,
            note="even when the serializers are json",
        ),
        Invalid(
            "CELERY_ACCEPT_CONTENT = ['pickle', 'json']\n",
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
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update({'result_accept_content': ['pickle']})\n",
            line=3,
        ),
    ]

    def check(self) -> None:
        for write in config_writes(self.context):
            if write.setting not in ACCEPT_SETTINGS or write.value is None:
                continue
            value = write.resolved(self.context.model)
            if not isinstance(value, Known):
                continue
            items: Iterable[object]
            if isinstance(value.value, str):
                items = [value.value]
            elif isinstance(value.value, (list, tuple, frozenset, set)):
                items = value.value
            else:
                continue
            if any(is_pickle(item) for item in items):
                self.report(write.node, self.MESSAGE.format(key=write.key, form=write.form))
