from __future__ import annotations

from typing import TYPE_CHECKING

from ...project.configuration import ConfigIndex, effective_setting, visible_setting
from ...project.model import App, ConfigWrite
from ...project.scan import dotted_name
from ...project.values import CELERY_DEFAULT, Known
from ..base import Invalid, Rule, Valid

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

DJANGO_CELERY_PY = (
    "import os\nfrom celery import Celery\n"
    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
    "app = Celery('proj')\n"
    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
)
_MAYBE_NONE_GETTERS = frozenset({"os.environ.get", "environ.get", "os.getenv", "getenv"})


def _never(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


class ResultsNeverExpire(Rule):
    """
    ## What it does
    Checks for `result_expires` (old name `CELERY_TASK_RESULT_EXPIRES`, Django
    `CELERY_RESULT_EXPIRES`) set to `None` or `0` while a result backend is configured,
    in any configuration form.

    An unset `result_expires` is fine: Celery keeps results for one day. A result
    backend given as a class path (`"proj.backends.JobResultBackend"`) is not reported:
    such a backend may keep results on purpose (as job history) and prune them itself.

    ## Why is this bad?
    `None` and `0` mean results are never deleted. Every task result stays in Redis
    (keys without a TTL), in the database table, or on disk, until the backend runs out
    of memory or space.

    ## Example
    ```python
    app.conf.update(result_backend="redis://redis:6379/1", result_expires=None)
    ```

    ## Use instead
    ```python
    app.conf.update(result_backend="redis://redis:6379/1", result_expires=3600)
    ```

    ## References
    - Celery, *Configuration*: `result_expires`
    """

    CODE = "CEL503"
    NAME = "results-never-expire"
    MESSAGE = "`{key}` is `{value}`, so results never expire ({backend}): the backend grows until it is full"
    FIX_TITLE = "set it to a number of seconds or a timedelta"
    SKIP_TEST_CODE = True

    VALID = [
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://redis:6379/1')\napp.conf.result_expires = 3600\n",
            note="positive value",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://redis:6379/1')\n",
            note="unset: Celery's one day",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.result_expires = None\n",
            note="no result backend configured",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj', backend=os.environ.get('RESULT_BACKEND'))\n"
            "app.conf.result_expires = None\n",
            note="a backend that may be None",
        ),
        Valid(
            "import os\nfrom celery import Celery\napp = Celery('proj', backend='redis://redis:6379/1')\n"
            "app.conf.result_expires = int(os.environ['RESULT_TTL'])\n",
            note="computed value",
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj', backend='redis://redis:6379/1')\napp.conf.result_expires = None\n",
            path="tests/conftest.py",
            note="test code",
        ),
        Valid(
            "CELERY_RESULT_BACKEND = 'proj.backends.JobHistoryBackend'\nCELERY_RESULT_EXPIRES = None\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            note="a custom backend class may keep results on purpose",
        ),
        Valid(
            "CELERY_RESULT_BACKEND = 'redis://redis:6379/1'\nCELERY_RESULT_EXPIRES = None\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY.replace(", namespace='CELERY'", "")},
            note="CELERY_RESULT_EXPIRES without a namespace is ignored by Celery (CEL606)",
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj', backend='redis://redis:6379/1')\napp.conf.result_expires = None\n",
            line=3,
            column=1,
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', backend='redis://redis:6379/1', result_expires=0)\n",
            line=2,
            column=54,
            note="Celery() keyword, zero",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    result_backend='db+sqlite:///results.db',\n    result_expires=None,\n)\n",
            line=5,
            column=5,
        ),
        Invalid(
            "CELERY_RESULT_BACKEND = 'django-db'\nCELERY_RESULT_EXPIRES = None\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=2,
            column=1,
            note="Django settings with the CELERY namespace",
        ),
        Invalid(
            "import os\nCELERY_RESULT_BACKEND = os.environ['RESULT_BACKEND']\nCELERY_RESULT_EXPIRES = 0\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=3,
            column=1,
            note="a backend read from the environment is still a backend",
        ),
        Invalid(
            "result_backend = 'redis://redis:6379/1'\nresult_expires = None\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=2,
            column=1,
            note="config module",
        ),
        Invalid(
            "from datetime import timedelta\nfrom celery import Celery\n\nclass Config:\n"
            "    CELERY_RESULT_BACKEND = 'redis://redis:6379/1'\n    CELERY_TASK_RESULT_EXPIRES = timedelta(0)\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=6,
            column=5,
            note="old name, timedelta(0), configuration class",
        ),
        Invalid(
            "CELERY_RESULT_BACKEND = 'redis://redis:6379/1'\nCELERY_RESULT_EXPIRES = None\n",
            path="config/settings/base.py",
            line=2,
            column=1,
            note="a settings module no app is tied to",
        ),
    ]

    def check(self) -> None:
        index = self.project.configuration()
        for write in index.writes_in(self.context.summary):
            if effective_setting(index, write) != "result_expires":
                continue
            value = index.write_value(write)
            if not isinstance(value, Known) or not _never(value.value):
                continue
            backend = _backend(index, write)
            if backend is None:
                continue
            shown = "None" if value.value is None else "0"
            self.report(write.node, self.message(key=write.key, value=shown, backend=backend))


def _backend(index: ConfigIndex, write: ConfigWrite) -> str | None:
    """Where the result backend of the write's configuration is set, when one surely is."""
    apps = index.owners.get(id(write.node))
    if apps:
        places = [_app_backend(index, app) for app in apps]
        if any(place is None for place in places):
            return None
        return str(places[0])
    # Not tied to an app: the backend must be set in the same module (star imports followed).
    namespace = index.namespace_of(write)
    ns = namespace.value if isinstance(namespace, Known) else "CELERY"
    flat, _ = index.module_settings(write.summary)
    for key, writes in flat.items():
        if visible_setting(index.catalogue, key, ns) != "result_backend":
            continue
        real = [w for w in writes if w.value is not None]
        if real and len(real) == len(writes) and all(_surely_set(index, w) for w in real):
            return f"result backend `{key}` in {writes[0].summary.file.relpath}"
    return None


def _app_backend(index: ConfigIndex, app: App) -> str | None:
    value = index.app_setting(app, "result_backend")
    if isinstance(value, Known):
        if not value.value or _custom_backend(value.value):
            return None
        return f"result backend set by {value.origin}"
    # Unknown value: still a backend when some write surely gives it a string.
    writes = [w for w in app.preconf if w.setting == "result_backend"]
    source = app.source
    namespace = index.app_namespace(app)
    if source is not None and isinstance(namespace, Known):
        for key, found in source.writes.items():
            if visible_setting(index.catalogue, key, namespace.value) == "result_backend":
                writes.extend(found)
    surely = [w for w in writes if w.value is not None and _surely_set(index, w)]
    if surely and len(surely) == len([w for w in writes if w.value is not None]):
        first = surely[0]
        return f"result backend `{first.key}` in {first.summary.file.relpath}"
    return None


def _custom_backend(value: object) -> bool:
    """A backend class path (``"proj.backends.JobBackend"``): it may keep results on purpose
    and manage their retention itself."""
    return isinstance(value, str) and "://" not in value and ("." in value or ":" in value)


def _surely_set(index: ConfigIndex, write: ConfigWrite) -> bool:
    """The value is some non-empty setting: a literal string, or a lookup that cannot be None."""
    value = index.write_value(write)
    if isinstance(value, Known):
        return bool(value.value) and not _custom_backend(value.value)
    expr = write.value
    if expr is None or (isinstance(expr, cst.Name) and expr.value == "None"):
        return False
    if isinstance(expr, cst.Call) and dotted_name(expr.func) in _MAYBE_NONE_GETTERS:
        # os.environ.get("X") may be None; with a literal fallback it is that fallback.
        positional = [a for a in expr.args if a.keyword is None and not a.star]
        default = positional[1].value if len(positional) >= 2 else None
        for arg in expr.args:
            if arg.keyword is not None and arg.keyword.value == "default":
                default = arg.value
        if default is None:
            return False
        fallback = index.value_at(write.summary, default, CELERY_DEFAULT)
        return isinstance(fallback, Known) and bool(fallback.value)
    return True
