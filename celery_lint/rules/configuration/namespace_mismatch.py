from __future__ import annotations

from ...project.configuration import PRECONF_FORMS, effective_setting, namespace_mismatch
from ...project.values import Known
from ..base import Invalid, Rule, Valid

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)
DJANGO_NO_NAMESPACE_PY = DJANGO_CELERY_PY.replace(", namespace='CELERY'", "")


class NamespaceMismatch(Rule):
    """
    ## What it does
    Checks for settings the app cannot see because of how they are prefixed:

    - `CELERY_`-prefixed names (`CELERY_TASK_ACKS_LATE`, `CELERY_BROKER_URL`) read
      without `namespace='CELERY'`: Django settings, configuration modules, classes
      and dicts given to `config_from_object`, and `app.conf.update(...)`. Names that
      are themselves old Celery names (`CELERY_TASK_SERIALIZER`, `CELERY_RESULT_BACKEND`)
      still work and are not reported.
    - unprefixed uppercase names (`TASK_ACKS_LATE`) under a namespace: Celery looks for
      `CELERY_TASK_ACKS_LATE`, the lowercase new name or the old name, never this one.
    - lowercase names (`broker_url`) in a Django settings module: Django only exposes
      uppercase settings.

    The last two cases only cover names of the `task_`, `worker_`, `beat_`, `result_`,
    `broker_` and `event_` families: `REDIS_HOST` or `DATABASE_URL` (also Celery names)
    are far more often the project's own settings. Settings modules no app is tied to
    (a computed `DJANGO_SETTINGS_MODULE`) are checked with the namespace every Django
    app of the project uses.

    A name some project code reads itself (`settings.CELERY_BEAT_SCHEDULE`,
    `app.conf.CELERY_X`) is not reported: the project forwards it on its own.

    ## Why is this bad?
    Celery ignores these names silently. The project believes it has late acks, a time
    limit or a broker URL, and runs on Celery's defaults instead.

    ## Example
    ```python
    # proj/celery.py
    app.config_from_object("django.conf:settings")
    # proj/settings.py
    CELERY_TASK_ACKS_LATE = True
    ```

    ## Use instead
    ```python
    # proj/celery.py
    app.config_from_object("django.conf:settings", namespace="CELERY")
    # proj/settings.py
    CELERY_TASK_ACKS_LATE = True
    ```

    ## References
    - Celery, *First steps with Django*: the `CELERY_` namespace
    - Celery source: `celery/utils/collections.py` (`ConfigurationView._to_keys`)
    """

    CODE = "CEL606"
    NAME = "namespace-mismatch"
    MESSAGE = "`{key}` is never read by the app ({where}): {reason}"
    FIX_TITLE = "{fix}"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "CELERY_TASK_ACKS_LATE = True\nCELERY_BROKER_URL = 'redis://redis:6379/0'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="prefixed names under namespace='CELERY'",
        ),
        Valid(
            "CELERY_TASK_SERIALIZER = 'json'\nCELERY_RESULT_BACKEND = 'redis://redis:6379/1'\nBROKER_URL = 'redis://redis:6379/0'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            note="old names work without a namespace, even CELERY_-prefixed ones",
        ),
        Valid(
            "BROKER_URL = 'redis://redis:6379/0'\nCELERY_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 1\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="old names are still honoured under a namespace",
        ),
        Valid(
            "DEBUG = True\nDATABASES = {}\nbase_dir = '/srv'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="Django's own settings and lowercase helpers",
        ),
        Valid(
            "import os\nREDIS_HOST = os.getenv('REDIS_HOST')\nREDIS_PASSWORD = os.getenv('REDIS_PASSWORD')\n"
            "CELERY_BROKER_URL = f'redis://:{REDIS_PASSWORD}@{REDIS_HOST}:6379/0'\nDATABASE_URL = 'sqlite:///db'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="the project's own REDIS_HOST and DATABASE_URL, though redis_host and database_url are Celery names",
        ),
        Valid(
            "CELERY_BEAT_SCHEDULE = {}\n",
            path="proj/settings.py",
            files={
                "proj/celery.py": DJANGO_NO_NAMESPACE_PY
                + "app.conf.beat_schedule = app.conf.CELERY_BEAT_SCHEDULE\n"
            },
            note="the project forwards the name itself",
        ),
        Valid(
            "from celery import Celery\n\nclass Config:\n    task_acks_late = True\n\n"
            "app = Celery('proj')\napp.config_from_object(Config, namespace='CELERY')\n",
            note="bare new names are read under a namespace outside Django",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', namespace='CELERY')\napp.conf.update(CELERY_TASK_ACKS_LATE=True)\n",
            note="conf.update under the app's namespace",
        ),
        Valid(
            "from flask import Flask\nfrom celery import Celery\nflask_app = Flask(__name__)\n"
            "flask_app.config['CELERY_TASK_ACKS_LATE'] = True\ncelery = Celery('proj')\ncelery.conf.update(flask_app.config)\n",
            note="Flask config passed whole: opaque",
        ),
        Valid(
            "CELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings_test.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            note="test code",
        ),
    ]
    INVALID = [
        Invalid(
            "CELERY_WORKER_PREFETCH_MULTIPLIER = 1\nCELERYD_PREFETCH_MULTIPLIER = 1\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            line=1,
            column=1,
            message_contains="remove it, `CELERYD_PREFETCH_MULTIPLIER` already sets",
            note="the old name next to it does the work",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            line=1,
            column=1,
            message_contains="namespace='CELERY'",
            note="Django settings read without a namespace",
        ),
        Invalid(
            "CELERY_BROKER_URL = 'redis://redis:6379/0'\nCELERY_TASK_SERIALIZER = 'json'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            line=1,
            column=1,
            message_contains="BROKER_URL",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(CELERY_TASK_TIME_LIMIT=300)\n",
            line=3,
            column=17,
            message_contains="task_time_limit",
            note="conf.update without a namespace",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    CELERY_TASK_ACKS_LATE = True\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            column=5,
            note="Flask-style configuration class without a namespace",
        ),
        Invalid(
            "TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=1,
            column=1,
            message_contains="CELERY_TASK_ACKS_LATE",
            note="unprefixed uppercase name under namespace='CELERY'",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\nbroker_url = 'redis://redis:6379/0'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=2,
            column=1,
            message_contains="uppercase",
            note="lowercase name in Django settings",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY.replace("'CELERY'", "'TASKS'")},
            line=1,
            column=1,
            message_contains="TASKS_TASK_ACKS_LATE",
            note="another namespace",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\n",
            path="config/settings/base.py",
            files={
                "proj/celery.py": (
                    "import os\nfrom celery import Celery\n"
                    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', os.environ['SETTINGS'])\n"
                    "app = Celery('proj')\napp.config_from_object('django.conf:settings')\n"
                )
            },
            line=1,
            column=1,
            note="a settings module no app is tied to, in a project whose app reads Django settings without a namespace",
        ),
    ]

    def check(self) -> None:
        index = self.project.configuration()
        catalogue = index.catalogue
        writes = index.naming_writes(self.context.summary)
        # Settings this module does give the app, under a name it sees.
        seen: dict[str, str] = {}
        for write in writes:
            setting = effective_setting(index, write)
            if setting is not None:
                seen.setdefault(setting, write.key)
        for write in writes:
            namespace = index.namespace_of(write)
            if not isinstance(namespace, Known):
                continue
            django = index.is_django_write(write)
            mismatch = namespace_mismatch(catalogue, write.key, namespace.value, django)
            if mismatch is None or index.read_elsewhere(write.key):
                continue
            if write.form in PRECONF_FORMS and not django:
                fix = f"rename it `{mismatch.setting}`"
            elif write.key.startswith("CELERY_") and not namespace.value:
                fix = (
                    f"read the settings with `namespace='CELERY'`, or rename it `{mismatch.rename}`"
                    if mismatch.rename != write.key
                    else "read the settings with `namespace='CELERY'`"
                )
            else:
                fix = f"rename it `{mismatch.rename}`"
            if mismatch.setting in seen:
                fix = f"remove it, `{seen[mismatch.setting]}` already sets `{mismatch.setting}` here"
            self.report(
                write.node,
                self.message(key=write.key, where=write.form, reason=mismatch.reason, fix=fix),
            )
