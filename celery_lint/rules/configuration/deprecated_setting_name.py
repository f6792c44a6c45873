from __future__ import annotations

from typing import TYPE_CHECKING

from ...fixes import Fix, replace, string_like
from ...project.configuration import SYNTHETIC_FORMS, ConfigIndex, effective_setting, prefixed
from ...project.model import App, ConfigWrite
from ...project.setting_styles import other_config_source
from ...project.values import Known
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

    ## Fix safety
    Safe: the fix renames the key where it is written and keeps its form: a keyword
    stays a keyword, a dict key or `app.conf["..."]` key keeps its quotes, an
    assignment in a configuration module, class or Django settings module stays an
    assignment. The new name is the lowercase one, or `CELERY_<NEW_NAME>` in Django
    settings read with `namespace='CELERY'`. Celery reads both names the same way, so
    nothing changes, and nothing is renamed where it could:

    - a configuration Celery checks for mixed styles (no namespace: the
      `config_from_object` source, or without one the `app.conf` writes) is renamed
      all at once or not at all: only when every old name in it can be renamed in the
      same file, so the fix never leaves old and new names mixed (CEL602);
    - a name the project reads itself (`settings.CELERY_ALWAYS_EAGER`,
      `getattr(conf, "BROKER_URL")`) is left alone, and so is one whose new name is
      already given (remove the old one by hand), one in Django settings read without a
      namespace (the fix would have to add it in the app), and one not tied to an app.

    ## References
    - Celery, *Configuration and defaults*: new lowercase settings
    - Celery source: `celery/app/defaults.py`, `celery/app/utils.py`
    """

    CODE = "CEL603"
    NAME = "deprecated-setting-name"
    MESSAGE = "`{key}` is the old name of `{new}` ({where}), which Celery 6 drops: {advice}"
    DEFAULT = False
    SKIP_TEST_CODE = True
    FIX_SAFETY = "safe"
    AUTOFIX_TITLE = "Rename to the new setting name"

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
            column=1,
            message_contains="`task_acks_late`",
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.task_acks_late = True\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', BROKER_URL='redis://redis:6379/0')\n",
            line=2,
            column=22,
            message_contains="broker_url",
            note="Celery() keyword",
            fixed="from celery import Celery\napp = Celery('proj', broker_url='redis://redis:6379/0')\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update({'CELERYBEAT_SCHEDULE': {}})\n",
            line=3,
            column=18,
            message_contains="beat_schedule",
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.update({'beat_schedule': {}})\n",
        ),
        Invalid(
            "CELERY_TASK_ACKS_LATE = True\nCELERYD_PREFETCH_MULTIPLIER = 1\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=2,
            column=1,
            message_contains="CELERY_WORKER_PREFETCH_MULTIPLIER",
            note="Django settings with the namespace",
            fixed="CELERY_TASK_ACKS_LATE = True\nCELERY_WORKER_PREFETCH_MULTIPLIER = 1\n",
        ),
        Invalid(
            "BROKER_URL = 'redis://redis:6379/0'\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_NO_NAMESPACE_PY},
            line=1,
            column=1,
            message_contains="namespace='CELERY'",
            note="Django settings without a namespace: the app must change too, no fix",
        ),
        Invalid(
            "CELERY_ALWAYS_EAGER = False\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            column=1,
            message_contains="task_always_eager",
            note="config module",
            fixed="task_always_eager = False\n",
        ),
        Invalid(
            "CELERY_ACKS_LATE = True\nCELERY_TASK_ACKS_LATE = True\n",
            path="proj/settings.py",
            files={"proj/celery.py": DJANGO_CELERY_PY},
            line=1,
            column=1,
            message_contains="remove it, `CELERY_TASK_ACKS_LATE` already sets `task_acks_late`",
            note="both names of one setting: no fix",
        ),
        Invalid(
            "from celery import Celery\n\nclass Config:\n    CELERYD_TASK_TIME_LIMIT = 300\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
            line=4,
            column=5,
            note="configuration class",
            fixed="from celery import Celery\n\nclass Config:\n    task_time_limit = 300\n\n"
            "app = Celery('proj')\napp.config_from_object(Config)\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    CELERY_ACKS_LATE=True,\n    BROKER_URL='redis://redis',\n)\napp.conf['CELERYD_CONCURRENCY'] = 4\n",
            findings=((4, 5), (5, 5), (7, 1)),
            note="every old name of the configuration at once: no mixed styles",
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    task_acks_late=True,\n    broker_url='redis://redis',\n)\napp.conf['worker_concurrency'] = 4\n",
        ),
        Invalid(
            "CELERY_ALWAYS_EAGER = False\nBROKER_URL = 'redis://redis'\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n",
                "proj/health.py": "import celeryconfig\n\nprint(celeryconfig.BROKER_URL)\n",
            },
            findings=((1, 1), (2, 1)),
            note="BROKER_URL is read by the project, so renaming only the other would mix styles: no fix",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.setdefault('CELERY_ACKS_LATE', True)\n",
            line=3,
            column=1,
            note="setdefault",
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.setdefault('task_acks_late', True)\n",
        ),
    ]

    def check(self) -> None:
        index = self.project.configuration()
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
                fix = None
                if new not in modern:
                    fix = _rename_fix(index, write, writes, self.AUTOFIX_TITLE or "")
                self.report(
                    write.node,
                    self.message(key=write.key, new=new, where=write.form, advice=advice),
                    fix=fix,
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


# --------------------------------------------------------------------------- the fix
def _rename_fix(index: ConfigIndex, write: ConfigWrite, in_file: list[ConfigWrite], title: str) -> Fix | None:
    """The rename of ``write``'s key, when it changes nothing Celery sees (see the docs)."""
    target = _target(index, write)
    if target is None:
        return None
    renamable = {id(w.node) for w in in_file if w.key in index.catalogue.old_to_new and _target(index, w)}
    for app in index.owners.get(id(write.node), []):
        if target in {w.key for w in _all_writes(app)}:
            return None  # the new name is given elsewhere: which value wins could change
        known, scope = _configuration(index, app)
        if not known:
            return None
        if not any(w.node is write.node for w in scope):
            continue  # a namespace, or writes Celery does not check for mixed styles
        given = {w.key for w in scope}
        for other in scope:
            new = index.catalogue.old_to_new.get(other.key)
            if new is None or new in given:
                continue  # a new name, or an old one given with its new name too: no error
            if id(other.node) not in renamable:
                return None  # it would stay old while this one becomes new
    node = _key_node(write)
    if node is None:
        return None
    if isinstance(node, cst.SimpleString):
        return replace(node, string_like(node, target), title)
    return replace(node, cst.Name(target), title)


def _target(index: ConfigIndex, write: ConfigWrite) -> str | None:
    """The name the fix gives ``write``, before looking at the rest of its configuration."""
    catalogue = index.catalogue
    new = catalogue.old_to_new.get(write.key)
    if new is None or _advice(index, write) is None:
        return None
    namespace = index.namespace_of(write)
    if not isinstance(namespace, Known):
        return None
    if index.is_django_write(write):
        if not namespace.value:
            return None  # the app must read the settings with a namespace first
        target = prefixed(namespace.value, new)
    else:
        target = new
    if index.read_elsewhere(write.key) or _key_node(write) is None:
        return None
    if isinstance(write.node, cst.Arg) and not target.isidentifier():
        return None
    return target


def _all_writes(app: App) -> list[ConfigWrite]:
    writes = list(app.preconf)
    if app.source is not None:
        for found in app.source.writes.values():
            writes.extend(found)
    return [w for w in writes if w.value is not None and w.form not in SYNTHETIC_FORMS]


def _configuration(index: ConfigIndex, app: App) -> tuple[bool, list[ConfigWrite]]:
    """The writes Celery checks together for mixed styles (``detect_settings``): the
    ``config_from_object`` source, else the ``app.conf`` writes (not the ``Celery(...)``
    keywords); none under a namespace (never checked). False when the analyzer cannot
    see them all."""
    namespace = index.app_namespace(app)
    if not isinstance(namespace, Known):
        return False, []
    if namespace.value:
        return True, []
    if app.source is not None:
        if app.source.opaque or app.source.runtime:
            return False, []
        return True, [
            w
            for found in app.source.writes.values()
            for w in found
            if w.value is not None and w.form not in SYNTHETIC_FORMS
        ]
    if app.preconf_opaque or app.runtime_sources or other_config_source(app):
        return False, []
    return True, [w for w in app.preconf if w.form != "Celery()" and w.value is not None]


def _key_node(write: ConfigWrite) -> cst.Name | cst.SimpleString | None:
    """The node that spells the key of ``write``, in any configuration form."""
    node = write.node
    key = write.key
    if isinstance(node, cst.Arg):
        return node.keyword if node.keyword is not None and node.keyword.value == key else None
    if isinstance(node, cst.DictElement):
        found = node.key
        return found if isinstance(found, cst.SimpleString) and found.evaluated_value == key else None
    if isinstance(node, cst.Call):  # app.conf.setdefault("KEY", value)
        first = node.args[0].value if node.args else None
        return first if isinstance(first, cst.SimpleString) and first.evaluated_value == key else None
    targets: list[cst.BaseExpression] = []
    if isinstance(node, cst.Assign):
        targets = [t.target for t in node.targets]
    elif isinstance(node, cst.AnnAssign):
        targets = [node.target]
    for target in targets:
        if isinstance(target, cst.Name) and target.value == key:
            return target
        if isinstance(target, cst.Attribute) and target.attr.value == key:
            return target.attr
        if isinstance(target, cst.Subscript) and len(target.slice) == 1:
            index = target.slice[0].slice
            if (
                isinstance(index, cst.Index)
                and isinstance(index.value, cst.SimpleString)
                and index.value.evaluated_value == key
            ):
                return index.value
    return None
