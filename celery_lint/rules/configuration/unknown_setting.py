from __future__ import annotations

from ...project.configuration import (
    PRECONF_FORMS,
    ConfigIndex,
    closest_setting,
    is_extension_setting,
    looks_like_setting,
    namespace_mismatch,
    visible_setting,
)
from ...project.model import ConfigWrite
from ...project.values import Known
from ..base import Invalid, Rule, RuleOption, Valid

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)
DJANGO_NO_NAMESPACE_PY = DJANGO_CELERY_PY.replace(", namespace='CELERY'", "")


class UnknownSetting(Rule):
    """
    ## What it does
    Checks for configuration keys that are not settings of the installed Celery, in
    every configuration form, and names the closest real setting. The names come from
    Celery's own tables (`celery.app.defaults`), not from the documentation, whose
    rename table is wrong in 22 places: `CELERYD_TIME_LIMIT`, `CELERY_RESULT_EXPIRES`
    (without a namespace) or `CELERY_EAGER_PROPAGATES` are ignored by Celery.

    To stay precise, a key is reported only when it reads as an attempt at a Celery
    setting and is close to one:
    - lowercase keys starting like Celery's (`task_`, `worker_`, `broker_`, `result_`,
      `beat_`, ...), outside Django settings;
    - uppercase keys starting with `CELERY`, `BROKER_` (and `RESULT_` outside Django),
      or with the app's namespace prefix; other Django settings are never candidates;
    - and a Celery setting is at least 75% similar (`difflib`), in the same style: new
      names for lowercase keys, old names for uppercase keys, `CELERY_<NEW_NAME>` under
      a namespace;
    - and the key reads as that setting misspelt or with a word left out, never as
      another name: `CELERY_RESULT_BACKEND_POOL_SIZE` is not offered `CELERY_RESULT_BACKEND`,
      whose value the rename would overwrite.

    Settings Celery reads by name without declaring them in `celery.app.defaults`
    (`result_backend_thread_safe`, `cassandra_secure_bundle_path`, `firestore_project`,
    `gcs_threadpool_maxsize`, `override_backends`, `CELERY_DB_REUSE_MAX` of the Django
    fixup: found in the installed Celery's source) are settings too.

    Not reported: keys that some project code reads itself (`settings.CELERY_MY_FLAG`,
    `app.conf.my_option`), settings of known Celery extensions (`CELERY_EMAIL_*`,
    `CELERY_HAYSTACK_*`, `CELERY_MONGODB_SCHEDULER_*`, `CELERY_REDBEAT_*`, `redbeat_*`,
    `CELERY_SINGLETON_*`, `singleton_*`, `CELERY_ONCE*`), names listed in
    `extension-settings`, and real setting names the app misses only because of the
    namespace (that is CEL606).

    ## Why is this bad?
    Celery stores unknown keys and never reads them. A misspelled time limit or a name
    copied from the wrong docs table leaves Celery's default in force, with no warning.

    ## Example
    ```python
    CELERYD_TIME_LIMIT = 300  # ignored: Celery's old name is CELERYD_TASK_TIME_LIMIT
    ```

    ## Use instead
    ```python
    CELERYD_TASK_TIME_LIMIT = 300  # or task_time_limit, or CELERY_TASK_TIME_LIMIT under the namespace
    ```

    ## Options
    - `extension-settings`: names of settings that belong to Celery extensions or to the
      project and are read from the Celery configuration; an entry ending in `*` is a
      prefix (`["CELERY_MYAPP_*", "my_extension_option"]`).

    ## References
    - Celery, *Configuration and defaults*
    - Celery source: `celery/app/defaults.py`
    """

    CODE = "CEL601"
    NAME = "unknown-setting"
    MESSAGE = "`{key}` is not a Celery setting ({where}), so Celery ignores it"
    FIX_TITLE = "did you mean `{hint}`?"
    SKIP_TEST_CODE = True
    OPTIONS = (
        RuleOption(
            "extension-settings",
            list,
            [],
            "Configuration keys of Celery extensions or of the project (a trailing `*` makes a prefix).",
        ),
    )

    VALID = [
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(task_acks_late=True, CELERYD_TASK_TIME_LIMIT=300)\n",
            note="new and old names",
        ),
        Valid(
            "DEBUG = True\nDATABASES = {}\nSECRET_KEY = 'x'\nCACHE_TTL = 30\nCELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="non-Celery names in Django settings without the namespace prefix",
        ),
        Valid(
            "CELERY_EMAIL_TASK_CONFIG = {'queue': 'mail'}\nCELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="a known extension (django-celery-email)",
        ),
        Valid(
            "CELERY_MYAPP_CHUNK_SIZE = 100\nCELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={
                "proj/celery.py": DJANGO_CELERY_PY,
                "pyproject.toml": "[tool.celery-lint]\nextension-settings = ['CELERY_MYAPP_*']\n",
            },
            note="extension settings listed in [tool.celery-lint]",
        ),
        Valid(
            "CELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            note="a real setting the app misses because of the namespace: CEL606",
        ),
        Valid(
            "CELERY_STATS_PUBLICATION_DELAY = 60\nCELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={
                "proj/celery.py": DJANGO_CELERY_PY,
                "proj/stats.py": "from django.conf import settings\nDELAY = settings.CELERY_STATS_PUBLICATION_DELAY\n",
            },
            note="the project reads the name itself",
        ),
        Valid(
            "import os\nONE_HOUR = 3600\nredis_host = os.environ['REDIS_HOST']\nbroker_url = f'redis://{redis_host}:6379/0'\n"
            "result_expires = ONE_HOUR\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            note="helper constants in a configuration module",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(redbeat_redis_url='redis://redis:6379/2')\n",
            note="celery-redbeat",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.CELERYD_TIME_LIMIT = 300\n",
            path="tests/test_app.py",
            note="test code",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    result_backend_thread_safe=True,\n"
            "    gcs_threadpool_maxsize=4,\n    firestore_project='jobs',\n    override_backends={'db': 'proj.backends:DB'},\n)\n",
            note="settings Celery reads with conf.get() but does not declare in celery.app.defaults",
        ),
        Valid(
            "CELERY_RESULT_BACKEND_THREAD_SAFE = True\nCELERY_CASSANDRA_SECURE_BUNDLE_PATH = '/etc/bundle.zip'\nCELERY_DB_REUSE_MAX = 10\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="the same under the namespace, and the Django fixup's CELERY_DB_REUSE_MAX",
        ),
        Valid(
            "CELERY_RESULT_BACKEND_POOL_SIZE = 4\nCELERY_WORKER_CONCURRENCY_MAX = 8\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="another name, not a misspelling: renaming it would overwrite a different setting",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.result_backend_thread_safes = True\n",
            line=3,
            column=1,
            message_contains="did you mean `result_backend_thread_safe`",
            note="a misspelt undeclared setting",
        ),
        Invalid(
            "# The docs list CELERYD_TIME_LIMIT; Celery does not know it.\nCELERYD_TIME_LIMIT = 300\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=2,
            column=1,
            note="a comment naming the key is not a read",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.CELERYD_TIME_LIMIT = 300\n",
            line=3,
            column=1,
            message_contains="CELERYD_TASK_TIME_LIMIT",
            note="the docs' wrong old name",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    task_acks_lte=True,\n)\n",
            line=4,
            column=5,
            message_contains="task_acks_late",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_soft_timelimit=60)\n",
            line=2,
            column=22,
            message_contains="task_soft_time_limit",
            note="Celery() keyword",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf['worker_prefetch_multiplyer'] = 1\n",
            line=3,
            column=1,
            message_contains="worker_prefetch_multiplier",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\nCELERY_TASK_TIMELIMIT = 300\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=2,
            column=1,
            message_contains="CELERY_TASK_TIME_LIMIT",
            note="Django settings with the namespace",
        ),
        Invalid(
            "CELERYD_TIME_LIMIT = 300\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=1,
            column=1,
            message_contains="CELERY_TASK_TIME_LIMIT",
            note="the docs' name under the namespace",
        ),
        Invalid(
            "CELERY_SOFT_TIME_LIMIT = 7200\nBROKER_URL = 'redis://redis:6379/0'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            line=1,
            column=1,
            message_contains="CELERYD_TASK_SOFT_TIME_LIMIT",
            note="Django settings without a namespace",
        ),
        Invalid(
            "task_serializer = 'json'\nresult_expire = 3600\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=2,
            column=1,
            message_contains="result_expires",
            note="config module",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    CELERY_EAGER_PROPAGATES = True\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            column=5,
            message_contains="CELERY_EAGER_PROPAGATES_EXCEPTIONS",
            note="configuration class, another docs name",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\nCELERY_WORKER_PREFETCH_MULTIPLYER = 1\n",
            path="config/settings/base.py",
            files={
                "proj/celery.py": (
                    "import os\nfrom celery import Celery\n"
                    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', os.environ['SETTINGS'])\n"
                    "app = Celery('proj')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n"
                )
            },
            line=2,
            column=1,
            message_contains="CELERY_WORKER_PREFETCH_MULTIPLIER",
            note="a settings module no app is tied to, in a project whose app reads Django settings",
        ),
    ]

    def check(self) -> None:
        index = self.project.configuration()
        extra = [*(self.context.options.get("extension-settings") or []), *self.context.extension_settings]
        for write in index.naming_writes(self.context.summary):
            hint = _unknown_hint(index, write)
            if hint is None or is_extension_setting(write.key, extra) or index.read_elsewhere(write.key):
                continue
            self.report(write.node, self.message(key=write.key, where=write.form, hint=hint))


def _unknown_hint(index: ConfigIndex, write: ConfigWrite) -> str | None:
    """The closest setting when ``write.key`` is an unknown name meant for Celery, else None."""
    catalogue = index.catalogue
    key = write.key
    django = index.is_django_write(write)
    namespace = index.namespace_of(write)
    if isinstance(namespace, Known):
        candidates: list[str | None] = [namespace.value]
    elif write.form in PRECONF_FORMS and not index.owners.get(id(write.node)):
        candidates = [None, "CELERY"]  # ``sender.conf``: unknown under any namespace
    else:
        return None
    for ns in candidates:
        if django and key.islower():
            return None
        if visible_setting(catalogue, key, ns) is not None or catalogue.read_undeclared(key, ns):
            return None
        if namespace_mismatch(catalogue, key, ns, django) is not None:
            return None
    ns = candidates[0]
    if not looks_like_setting(catalogue, key, ns, django):
        return None
    return closest_setting(catalogue, key, ns)
