from __future__ import annotations

from ...project.configuration import depends_on_broker, effective_setting
from ...project.values import Known
from ..base import Invalid, Rule, Valid

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)
DJANGO_NO_NAMESPACE_PY = DJANGO_CELERY_PY.replace(", namespace='CELERY'", "")


class EagerModeInConfig(Rule):
    """
    ## What it does
    Checks for `task_always_eager` set to true outside test code, in any configuration
    form that Celery really reads: `task_always_eager`, the old `CELERY_ALWAYS_EAGER`,
    and `CELERY_TASK_ALWAYS_EAGER` under `namespace='CELERY'`. (Without the namespace
    `CELERY_TASK_ALWAYS_EAGER` is ignored by Celery: that is CEL606.)

    Test code is skipped: test files, `*test*` settings modules, configuration classes
    named like `TestingConfig`, and assignments under an `if` whose condition mentions
    tests (`if "test" in sys.argv:`, `if TESTING:`). A value computed from whether a
    broker is configured (`CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL`,
    `= BROKER_URL is None`, `= not env("BROKER")`) is a deliberate fallback for a
    process started without a broker, not a switch that is always on: it is not flagged.

    ## Why is this bad?
    In eager mode `delay()` runs the task in the caller's process and thread: no
    broker, no worker, no retries across processes, no time limits, and a web request
    that waits for every task. Left on in production it silently turns background work
    into foreground work.

    ## Example
    ```python
    CELERY_TASK_ALWAYS_EAGER = True
    ```

    ## Use instead
    ```python
    # production settings: leave it unset; in tests only:
    @pytest.fixture(autouse=True)
    def eager(settings):
        settings.CELERY_TASK_ALWAYS_EAGER = True
    ```

    ## References
    - Celery, *Configuration*: `task_always_eager`
    - Celery, *Testing with Celery*
    """

    CODE = "CEL605"
    NAME = "eager-mode-in-config"
    MESSAGE = "`{key}` turns on eager mode ({where}): tasks run inline in the caller, without a worker"
    FIX_TITLE = "enable it only in test settings"
    SKIP_TEST_CODE = True

    VALID = [
        Valid("from celery import Celery\napp = Celery('proj')\napp.conf.task_always_eager = False\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_always_eager = True\n",
            path="tests/conftest.py",
            note="test code",
        ),
        Valid(
            "CELERY_TASK_ALWAYS_EAGER = True\n",
            path="proj/settings_test.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="test settings module",
        ),
        Valid(
            "import sys\nCELERY_TASK_ACKS_LATE = True\nif 'test' in sys.argv:\n    CELERY_TASK_ALWAYS_EAGER = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="under a condition about tests",
        ),
        Valid(
            "class Config:\n    CELERY_BROKER_URL = 'redis://redis'\n\nclass TestingConfig(Config):\n    CELERY_TASK_ALWAYS_EAGER = True\n",
            path="app/settings.py",
            note="a configuration class for tests",
        ),
        Valid(
            "CELERY_TASK_ALWAYS_EAGER = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            note="ignored by Celery without the namespace (CEL606, not eager)",
        ),
        Valid(
            "import os\nCELERY_TASK_ALWAYS_EAGER = os.environ.get('EAGER') == '1'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="computed",
        ),
        Valid(
            "CELERY_BROKER_URL = None\ntry:\n    from .local_settings import *\nexcept ImportError:\n    pass\nCELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="eager only when no broker is configured: a fallback, not always on",
        ),
        Valid(
            "BROKER_URL = ''\nCELERY_TASK_ALWAYS_EAGER = not BROKER_URL\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="the old broker name, empty in the repository",
        ),
        Valid(
            "import environ\nenv = environ.Env()\nCELERY_TASK_ALWAYS_EAGER = not env('BROKER', default='')\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="the broker read from the environment",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.task_always_eager = True\n",
            line=3,
            column=1,
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_always_eager=True)\n", line=2, column=22
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(CELERY_ALWAYS_EAGER=True)\n",
            line=3,
            column=17,
            note="old name",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\nCELERY_TASK_ALWAYS_EAGER = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=2,
            column=1,
            note="Django settings with the namespace",
        ),
        Invalid(
            "CELERY_ALWAYS_EAGER = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            line=1,
            column=1,
            note="old name in Django settings without a namespace",
        ),
        Invalid(
            "task_always_eager = True\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            column=1,
            note="config module",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    task_always_eager = True\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            column=5,
            note="configuration class",
        ),
        Invalid(
            "DEBUG = True\nCELERY_TASK_ALWAYS_EAGER = DEBUG\n",
            path="config/settings/base.py",
            line=2,
            column=1,
            note="a settings module no app is tied to",
        ),
    ]

    def check(self) -> None:
        project = self.project
        index = project.configuration()
        for write in index.writes_in(self.context.summary):
            if effective_setting(index, write) != "task_always_eager" or index.in_test_config(write):
                continue
            if depends_on_broker(write):
                continue
            value = project.write_value(write)
            if isinstance(value, Known) and isinstance(value.value, (bool, int)) and value.value:
                self.report(write.node, self.message(key=write.key, where=write.form))
