from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixes import Fix, add_keywords, literal, replace
from ...project.values import Known
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    from ...api import AppView

SETTING = "broker_connection_retry_on_startup"

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)


class ConnectionRetryOnStartupUnset(Rule):
    """
    ## What it does
    Checks for Celery apps whose configuration never sets
    `broker_connection_retry_on_startup`: not in `Celery(...)`, not through `app.conf`,
    and not in the module, class or Django settings given to `config_from_object`.
    The finding is reported once per app, at its `Celery(...)` construction. Apps whose
    configuration the repository gives in a form that cannot be read (a module name from
    the environment, a computed `conf.update(...)`, a settings module outside the project)
    are not reported, and neither are apps in test code. Configuration only the running
    process has (`conf.update(flask_app.config)`, an optional local settings file that is
    not in the repository) counts as setting nothing the repository does not name: the
    message names that source, and `deployment-settings` in `[tool.celery-lint]` states
    what the deployment sets.

    ## Why is this bad?
    Unset, the first broker connection falls back to `broker_connection_retry`; Celery
    5 warns about that fallback (`CPendingDeprecationWarning`; 5.7 warns only when
    `broker_connection_retry` is off) and Celery 6 drops it: start-up retries will
    depend on this setting alone. Setting it explicitly keeps a worker started before
    the broker is up behaving the same across the upgrade.

    ## Example
    ```python
    app = Celery("proj", broker="amqp://mq//")
    ```

    ## Use instead
    ```python
    app = Celery("proj", broker="amqp://mq//")
    app.conf.broker_connection_retry_on_startup = True
    ```

    ## Fix safety
    Safe: the fix adds `broker_connection_retry_on_startup=<value>` as a keyword of the
    app's `Celery(...)` call, where the finding is, with the value Celery 5 uses today:
    that of `broker_connection_retry` (`True` unless the project turns it off), so that
    nothing changes until Celery 6. The `Celery(...)` call is the one place every
    configuration form shares: a keyword there is read whatever the configuration source
    (module, class, Django settings) and namespace, never counts in Celery's old/new
    naming check (CEL602), and holds for every settings module the app may load. No fix
    when `broker_connection_retry` cannot be read or the call takes `**kwargs`.

    ## References
    - Celery, *Configuration*: `broker_connection_retry_on_startup`
    - Celery source: `celery/worker/consumer/consumer.py`
    """

    CODE = "CEL604"
    NAME = "connection-retry-on-startup-unset"
    MESSAGE = "app `{app}` never sets `broker_connection_retry_on_startup` ({where}): Celery 5 falls back to `broker_connection_retry` and Celery 6 will not"
    FIX_TITLE = "set it explicitly (`True` keeps retrying at start-up)"
    SKIP_TEST_CODE = True
    FIX_SAFETY = "safe"
    AUTOFIX_TITLE = "Set `broker_connection_retry_on_startup` in `Celery(...)`"

    VALID = [
        Valid("from celery import Celery\napp = Celery('proj', broker_connection_retry_on_startup=True)\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.broker_connection_retry_on_startup = False\n"
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(BROKER_CONNECTION_RETRY_ON_STARTUP=True)\n",
            note="old name",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\n",
            path="tests/conftest.py",
            note="test code",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\napp.config_from_object(os.environ['CELERY_CONFIG'])\n",
            note="configuration from the environment: unknown",
        ),
        Valid(
            DJANGO_CELERY_PY,
            path="proj/celery.py",
            files={"proj/settings.py": "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True\n"},
            note="Django settings with the namespace",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n",
            path="proj/celery.py",
            files={"celeryconfig.py": "broker_connection_retry_on_startup = True\n"},
            note="config module",
        ),
        Valid(
            "from celery import Celery\n\nclass Config:\n    BROKER_CONNECTION_RETRY_ON_STARTUP = True\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            note="configuration class, old name",
        ),
        Valid(
            "from celery import Celery\nfrom proj.defaults import OPTIONS\napp = Celery('proj', **OPTIONS)\n",
            note="computed keyword arguments",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj', broker='amqp://mq//')\n",
            line=2,
            column=7,
            fixed="from celery import Celery\napp = Celery('proj', broker='amqp://mq//', broker_connection_retry_on_startup=True)\n",
        ),
        Invalid(
            "from celery import Celery\n\napp = Celery(\n    'proj',\n    broker='amqp://mq//',\n)\napp.conf.task_acks_late = True\n",
            line=3,
            column=7,
            message_contains="`tasks.app`",
            fixed="from celery import Celery\n\napp = Celery(\n    'proj',\n    broker='amqp://mq//',\n    broker_connection_retry_on_startup=True,\n)\napp.conf.task_acks_late = True\n",
        ),
        Invalid(
            DJANGO_CELERY_PY,
            path="proj/celery.py",
            files={"proj/settings.py": "CELERY_BROKER_URL = 'amqp://mq//'\n"},
            line=4,
            column=7,
            message_contains="proj.settings",
            note="Django settings that lack it",
            fixed=DJANGO_CELERY_PY.replace(
                "Celery('proj')", "Celery('proj', broker_connection_retry_on_startup=True)"
            ),
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n",
            path="proj/celery.py",
            files={"celeryconfig.py": "broker_url = 'amqp://mq//'\nbroker_connection_retry = False\n"},
            line=2,
            column=7,
            note="config module that lacks it and turns retries off: the fix keeps them off",
            fixed="from celery import Celery\napp = Celery('proj', broker_connection_retry_on_startup=False)\napp.config_from_object('celeryconfig')\n",
        ),
        Invalid(
            DJANGO_CELERY_PY.replace(", namespace='CELERY'", ""),
            path="proj/celery.py",
            files={"proj/settings.py": "CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True\n"},
            line=4,
            column=7,
            note="set under a name the app cannot see (no namespace)",
            fixed=DJANGO_CELERY_PY.replace(", namespace='CELERY'", "").replace(
                "Celery('proj')", "Celery('proj', broker_connection_retry_on_startup=True)"
            ),
        ),
        Invalid(
            "import os\nfrom celery import Celery\napp = Celery('proj')\napp.conf.broker_connection_retry = os.environ.get('RETRY') == '1'\n",
            line=3,
            column=7,
            note="broker_connection_retry is computed: no fix",
        ),
    ]

    def check(self) -> None:
        project = self.project
        for app in project.apps():
            if app.is_test or not app.in_checked_file:
                continue
            value = app.setting(SETTING)
            if isinstance(value, Known) and value.origin.default:
                self.report(
                    app.call if app.call is not None else app.node,
                    self.message(app=app.label, where=_where(app)),
                    fix=self._fix(app),
                )

    def _fix(self, app: AppView) -> Fix | None:
        call = app.call
        if call is None or any(a.star for a in call.args):
            return None
        retry = app.setting("broker_connection_retry")
        if not isinstance(retry, Known) or not isinstance(retry.value, bool):
            return None
        fixed = add_keywords(call, [(SETTING, literal(retry.value))])
        return replace(call, fixed, self.AUTOFIX_TITLE or "")


def _where(app: AppView) -> str:
    places = ["not in `Celery(...)`", "`app.conf`"]
    if app.config_from_object is not None:
        places.append(app.config_from_object)
    where = ", ".join(places[:-1]) + " or " + places[-1]
    if app.runtime_sources:
        # The finding assumes what the repository does not show leaves it unset.
        where += f"; {', '.join(sorted(app.runtime_sources))} may add settings at run time"
    return where
