from __future__ import annotations

from ..base import Invalid, Rule, Valid


class MixedSettingStyles(Rule):
    """
    ## What it does
    Checks for configurations that mix old (`CELERY_ACKS_LATE`, `BROKER_URL`) and new
    (`task_acks_late`, `broker_url`) setting names in the way that makes Celery raise
    `ImproperlyConfigured` when the configuration is first read. It follows Celery's own
    algorithm (`celery/app/utils.py`, `detect_settings`):

    - the keys checked are those of the `config_from_object` source (module, class,
      dict, Django settings) when there is one; only without a source are the keys
      written before the first read checked: `app.conf.update(...)`, `app.conf.x = `,
      `app.conf["x"] = `, `app.conf.setdefault(...)`, `Celery(changes={...})`;
    - `Celery(...)` keyword arguments are never checked, and neither is any
      configuration read with a namespace;
    - the majority style wins (a tie goes to the new style); each key of the other
      style is reported at its write with the rename Celery asks for, unless the same
      setting is also given under its other name.

    Writes that may happen after the configuration is read (in functions, in other
    modules, after a statement that reads `app.conf`) or only under a condition count
    only when the outcome does not depend on them.

    ## Why is this bad?
    The worker and every producer fail at start-up with "Cannot mix new and old setting
    keys". Because the check runs on first read, the error appears far from the line
    that caused it, often only in production where another settings module is used.

    ## Example
    ```python
    app.conf.update(CELERY_TASK_SERIALIZER="json", task_acks_late=True)
    ```

    ## Use instead
    ```python
    app.conf.update(task_serializer="json", task_acks_late=True)
    ```

    ## References
    - Celery, *Configuration and defaults*: new lowercase settings
    - Celery source: `celery/app/utils.py` (`detect_settings`)
    """

    CODE = "CEL602"
    NAME = "mixed-setting-styles"
    MESSAGE = (
        "{where} mixes old and new setting names ({counts}), so Celery raises ImproperlyConfigured "
        "when it is read: rename `{key}` to `{rename}`"
    )
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import Celery\napp = Celery('proj', CELERY_ACKS_LATE=True, task_serializer='json')\n",
            note="Celery(...) keyword arguments are not checked",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(CELERY_TASK_SERIALIZER='json', task_serializer='json')\n",
            note="both names of the same setting",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(CELERY_ACKS_LATE=True, BROKER_URL='redis://redis')\n",
            note="only old names",
        ),
        Valid(
            "from celery import Celery\n\nclass Config:\n    CELERY_ACKS_LATE = True\n    task_serializer = 'json'\n\n"
            "app = Celery('proj')\napp.config_from_object(Config, namespace='CELERY')\n",
            note="namespaced configs are never checked",
        ),
        Valid(
            "from celery import Celery\n\nclass Config:\n    task_serializer = 'json'\n    task_acks_late = True\n\n"
            "app = Celery('proj')\napp.conf.update(CELERY_ACKS_LATE=True)\napp.config_from_object(Config)\n",
            note="with a config source only the source is checked",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'json'\n"
            "print(app.conf.task_serializer)\napp.conf.CELERY_ACKS_LATE = True\n",
            note="a write after the first read is never checked",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'json'\n\n"
            "def configure():\n    app.conf.CELERY_ACKS_LATE = True\n",
            note="a write in a function may run after the first read",
        ),
        Valid(
            "CELERY_TASK_ACKS_LATE = True\nBROKER_URL = 'redis://redis'\nCELERYD_PREFETCH_MULTIPLIER = 1\n",
            path="proj/settings.py",
            files={
                "proj/celery.py": (
                    "import os\nfrom celery import Celery\n"
                    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
                    "app = Celery('proj')\n"
                    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
                )
            },
            note="Django settings under a namespace",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(CELERY_TASK_SERIALIZER='json', task_acks_late=True)\n",
            path="tests/test_config.py",
            note="test code",
        ),
        Valid(
            "from celery import Celery\nfrom proj.extra import EXTRA\napp = Celery('proj')\n"
            "app.conf.update(CELERY_TASK_SERIALIZER='json', task_acks_late=True)\napp.conf.update(EXTRA)\n",
            note="computed keys could change the majority",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    CELERY_TASK_SERIALIZER='json',\n    task_acks_late=True,\n)\n",
            line=4,
            column=5,
            message_contains="rename `CELERY_TASK_SERIALIZER` to `task_serializer`",
            note="1 old + 1 new: new wins the tie",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    CELERY_TASK_SERIALIZER='json',\n    CELERY_ACKS_LATE=True,\n    task_time_limit=60,\n)\n",
            line=6,
            column=5,
            message_contains="rename `task_time_limit` to `CELERYD_TASK_TIME_LIMIT`",
            note="2 old + 1 new: old wins",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', changes={'CELERY_ACKS_LATE': True, 'task_serializer': 'json'})\n",
            line=2,
            column=31,
            note="Celery(changes=...) is checked",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'json'\napp.conf.CELERY_ACKS_LATE = True\n",
            line=4,
            column=1,
            note="conf attributes before the first read",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf['CELERY_TASK_SERIALIZER'] = 'json'\napp.conf['task_acks_late'] = True\n",
            line=3,
            column=1,
            note="conf items",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.setdefault('task_serializer', 'json')\napp.conf.setdefault('CELERY_ACKS_LATE', True)\n",
            line=4,
            column=1,
            note="setdefault",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(BROKER_URL='redis://redis', task_serializer='json')\n",
            line=3,
            column=17,
            message_contains="`broker_url`",
            note="BROKER_URL counts as old",
        ),
        Invalid(
            "CELERY_TASK_SERIALIZER = 'json'\ntask_acks_late = True\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            column=1,
            note="config module",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    CELERY_TASK_SERIALIZER = 'json'\n    CELERY_ACKS_LATE = True\n    task_time_limit = 60\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=6,
            column=5,
            note="class, old majority",
        ),
        Invalid(
            "from celery import Celery\nCONFIG = {'CELERY_ACKS_LATE': True, 'task_serializer': 'json'}\n"
            "app = Celery('proj')\napp.config_from_object(CONFIG)\n",
            line=2,
            column=11,
            note="dict source",
        ),
    ]

    def check(self) -> None:
        for write, finding in self.project.mixed_setting_styles():
            self.report(
                write.node,
                self.message(
                    key=finding.key, counts=finding.counts, where=finding.where, rename=finding.rename
                ),
            )
