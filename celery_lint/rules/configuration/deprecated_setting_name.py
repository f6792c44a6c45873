from __future__ import annotations

from ...project.model import ConfigWrite
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ._config import ConfigIndex, effective_setting, index_for, prefixed

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)
DJANGO_NO_NAMESPACE_PY = DJANGO_CELERY_PY.replace(", namespace='CELERY'", "")


class DeprecatedSettingName(Rule):
    """
    ## What it does
    Checks for old uppercase setting names (`CELERY_ACKS_LATE`, `BROKER_URL`,
    `CELERYD_PREFETCH_MULTIPLIER`, `CELERYBEAT_SCHEDULE`) in any configuration form, and
    names the new one: the lowercase name, or `CELERY_<NEW_NAME>` in Django settings read
    with `namespace='CELERY'`. The old and new names come from the installed Celery
    (`celery.app.defaults`).

    Under a namespace, a name that is both an old name and the namespaced form of the
    new one (`CELERY_TASK_SERIALIZER`, `CELERY_RESULT_BACKEND`) is the right spelling
    and is not reported. Rename all the old names of one configuration at once: a
    configuration that mixes both styles fails at startup (CEL602).

    ## Why is this bad?
    Celery 5 still reads the old names but warns that support ends in Celery 6, and a
    configuration that mixes both styles can fail to start (CEL602). The old names
    also differ from the documentation in many places, which invites typos (CEL601).

    ## Example
    ```python
    CELERY_ACKS_LATE = True
    CELERYD_PREFETCH_MULTIPLIER = 1
    ```

    ## Use instead
    ```python
    CELERY_TASK_ACKS_LATE = True  # with namespace="CELERY"
    CELERY_WORKER_PREFETCH_MULTIPLIER = 1
    ```

    ## References
    - Celery, *Configuration and defaults*: new lowercase settings
    - Celery source: `celery/app/defaults.py`, `celery/app/utils.py`
    """

    CODE = "CEL603"
    NAME = "deprecated-setting-name"
    MESSAGE = "`{key}` is the old name of `{new}` ({where}), which Celery 6 drops: {advice}"
    DEFAULT = False
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import Celery\napp = Celery('proj', task_acks_late=True)\napp.conf.update(broker_url='redis://redis')\n",
            note="new names",
        ),
        Valid(
            "CELERY_TASK_SERIALIZER = 'json'\nCELERY_RESULT_BACKEND = 'redis://redis:6379/1'\nCELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="namespaced names that are also old names",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.CELERY_ACKS_LATE = True\n",
            path="tests/conftest.py",
            note="test code",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.CELERY_ACKS_LATE = True\n",
            line=3,
            message_contains="`task_acks_late`",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', BROKER_URL='redis://redis:6379/0')\n",
            line=2,
            message_contains="broker_url",
            note="Celery() keyword",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update({'CELERYBEAT_SCHEDULE': {}})\n",
            line=3,
            message_contains="beat_schedule",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 1\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=2,
            message_contains="CELERY_WORKER_PREFETCH_MULTIPLIER",
            note="Django settings with the namespace",
        ),
        Invalid(
            "BROKER_URL = 'redis://redis:6379/0'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            line=1,
            message_contains="namespace='CELERY'",
            note="Django settings without a namespace",
        ),
        Invalid(
            "CELERY_ALWAYS_EAGER = False\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            message_contains="task_always_eager",
            note="config module",
        ),
        Invalid(
            "CELERY_ACKS_LATE = True\nCELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=1,
            message_contains="remove it, `CELERY_TASK_ACKS_LATE` already sets `task_acks_late`",
            note="both names of one setting",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    CELERYD_TASK_TIME_LIMIT = 300\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            note="configuration class",
        ),
    ]

    def check(self) -> None:
        index = index_for(self.context.model)
        writes = index.naming_writes(self.context.summary)
        # Settings this module already gives under a name that is not an old one.
        modern: dict[str, str] = {}
        for write in writes:
            setting = effective_setting(index, write)
            if setting is not None and (
                write.key not in index.catalogue.old_to_new or _advice(index, write) is None
            ):
                modern.setdefault(setting, write.key)
        for write in writes:
            advice = _advice(index, write)
            if advice is not None:
                new = index.catalogue.old_to_new[write.key]
                if new in modern:
                    advice = f"remove it, `{modern[new]}` already sets `{new}` here"
                self.report(
                    write.node, self.MESSAGE.format(key=write.key, new=new, where=write.form, advice=advice)
                )


def _advice(index: ConfigIndex, write: ConfigWrite) -> str | None:
    catalogue = index.catalogue
    key = write.key
    new = catalogue.old_to_new.get(key)
    if new is None:
        return None
    django = index.is_django_write(write)
    namespace = index.namespace_of(write)
    if isinstance(namespace, Known):
        ns = namespace.value
    elif key.startswith("CELERY_") and catalogue.namespaced(key, "CELERY") is not None:
        return None  # the namespaced name too, if the app reads with namespace='CELERY'
    else:
        ns = None
    if ns and key == prefixed(ns, new):
        return None
    if django:
        if ns:
            return f"rename it `{prefixed(ns, new)}`"
        spelled = prefixed("CELERY", new)
        if spelled == key:
            return "read the settings with `namespace='CELERY'`, where this name is the new one"
        return f"read the settings with `namespace='CELERY'` and rename it `{spelled}`"
    return f"rename it `{new}`"
