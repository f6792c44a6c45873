from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...project.model import App, ConfigWrite, ProjectModel
from ...project.values import Known
from ...project.walk import children
from ...settings_catalogue import SettingsCatalogue
from ..base import Invalid, Rule, Valid
from ._config import SYNTHETIC_FORMS, index_for

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

# App attributes that do not read the configuration when used at import time.
LAZY_APP_ATTRIBUTES = frozenset(
    {
        "task",
        "shared_task",
        "config_from_object",
        "autodiscover_tasks",
        "on_after_configure",
        "on_after_finalize",
        "on_configure",
        "on_init",
        "add_periodic_task",
        "steps",
        "user_options",
        "set_current",
        "set_default",
        "main",
    }
)


def mixing_errors(catalogue: SettingsCatalogue, certain: set[str], possible: set[str]) -> dict[str, str]:
    """Keys Celery rejects whatever the uncertain keys turn out to be, each with its rename.

    ``certain`` keys are surely in the checked key set, ``possible`` (a superset) may be.
    This is Celery's ``detect_settings`` (``celery/app/utils.py``) over every key set in
    between: keys are new (lowercase names of ``DEFAULTS``) or old (the old-name map);
    with more old keys than new the new keys are errors, else the old keys are; a key
    whose other name is also given is not an error.
    """
    new_certain = {k for k in certain if k in catalogue.defaults}
    old_certain = {k for k in certain if k in catalogue.old_to_new}
    new_possible = {k for k in possible if k in catalogue.defaults}
    old_possible = {k for k in possible if k in catalogue.old_to_new}
    errors: dict[str, str] = {}
    if new_certain and len(new_certain) >= len(old_possible):
        # New style surely wins: every old key is an error unless its new name is given too.
        for key in old_certain:
            target = catalogue.old_to_new[key]
            if target not in possible:
                errors[key] = target
    elif len(old_certain) > len(new_possible):
        # Old style surely wins: every new key is an error unless its old name is given too.
        for key in new_certain:
            old = catalogue.new_to_old.get(key)
            if old is not None and old not in possible:
                errors[key] = old
    return errors


@dataclass
class _Finding:
    key: str
    rename: str
    counts: str
    where: str


@dataclass
class _Analysis:
    by_node: dict[int, list[_Finding]] = field(default_factory=dict)


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
        analysis = _analysis(self.context.model)
        path = str(self.context.file.path)
        for write in _writes_in_file(self.context.model, path):
            for finding in analysis.by_node.get(id(write.node), []):
                if finding.key != write.key:
                    continue
                self.report(
                    write.node,
                    self.MESSAGE.format(
                        key=finding.key, counts=finding.counts, where=finding.where, rename=finding.rename
                    ),
                )


def _writes_in_file(model: ProjectModel, path: str) -> Iterator[ConfigWrite]:
    seen: set[tuple[int, str]] = set()
    for app in model.apps:
        writes = list(app.preconf)
        if app.source is not None:
            for found in app.source.writes.values():
                writes.extend(found)
        for write in writes:
            if write.value is None or str(write.summary.file.path) != path:
                continue
            if (id(write.node), write.key) not in seen:
                seen.add((id(write.node), write.key))
                yield write


def _analysis(model: ProjectModel) -> _Analysis:
    def compute() -> _Analysis:
        analysis = _Analysis()
        for app in model.apps:
            if not app.is_test:
                _analyse_app(model, app, analysis)
        return analysis

    return model.memo("mixed-setting-styles", compute)


def _analyse_app(model: ProjectModel, app: App, analysis: _Analysis) -> None:
    index = index_for(model)
    catalogue = model.catalogue
    namespace = index.app_namespace(app)
    if not isinstance(namespace, Known) or namespace.value:
        return  # unknown, or a namespace: Celery never checks prefixed configurations
    certain: set[str] = set()
    possible: set[str] = set()
    writes_by_key: dict[str, list[ConfigWrite]] = {}
    source = app.source
    if source is not None:
        if source.opaque:
            return
        where = ""
        for key, writes in source.writes.items():
            real = [w for w in writes if w.form not in SYNTHETIC_FORMS]
            if not real:
                continue
            possible.add(key)
            if len(real) == len(writes):
                certain.add(key)
            writes_by_key.setdefault(key, []).extend(w for w in real if w.value is not None)
            if not where and real:
                form = real[0].form
                kind, _, label = form.partition(" ")
                if kind in ("class", "dict"):
                    where = f"configuration {kind} `{label}`"
                else:
                    where = f"{form} `{source.description}`"
    else:
        if _other_config_source(app):
            return
        if any(not reason.startswith("Celery(**") for reason in app.preconf_opaque):
            return
        where = f"the configuration of app `{app.label}` (written before it is first read)"
        auto = {
            (w.setting or w.key) if w.key in ("broker", "backend") else w.key
            for w in app.preconf
            if w.form == "Celery()"
        }
        candidates = [w for w in app.preconf if w.form != "Celery()"]
        order = _write_order(app, {id(w.node) for w in candidates})
        checked = [w for w in candidates if id(w.node) not in order.never]
        for write in checked:
            possible.add(write.key)
            if id(write.node) in order.certain and write.key not in auto:
                certain.add(write.key)
            writes_by_key.setdefault(write.key, []).append(write)
    errors = mixing_errors(catalogue, certain, possible)
    old = len([k for k in certain if k in catalogue.old_to_new])
    new = len([k for k in certain if k in catalogue.defaults])
    counts = f"{old} old, {new} new"
    for key, rename in errors.items():
        for write in writes_by_key.get(key, []):
            findings = analysis.by_node.setdefault(id(write.node), [])
            finding = _Finding(key, rename, counts, where)
            if finding not in findings:
                findings.append(finding)


def _other_config_source(app: App) -> bool:
    """A configuration module chosen outside the code: the env var, or a custom loader."""
    data = app.summary.file.read() or b""
    if b"CELERY_CONFIG_MODULE" in data or b"config_from_envvar" in data:
        return True
    call = app.call
    return call is not None and any(a.keyword is not None and a.keyword.value == "loader" for a in call.args)


# --------------------------------------------------------------------------- import-time order
@dataclass
class _Order:
    """Which conf writes of the app's module run at import time before or after the first
    read of ``app.conf`` (Celery checks the keys written before it)."""

    certain: set[int] = field(default_factory=set)
    """Surely run, and before anything may read the configuration."""
    never: set[int] = field(default_factory=set)
    """Run (if at all) after a read that surely happened: never checked."""


def _write_order(app: App, write_nodes: set[int]) -> _Order:
    order = _Order()
    name = app.name
    maybe_read = False
    surely_read = False

    def read_at(node: cst.CSTNode, sure: bool) -> None:
        nonlocal maybe_read, surely_read
        if _reads_app(node, name):
            maybe_read = True
            surely_read = surely_read or sure

    def writes_at(node: cst.CSTNode, uncertain: bool) -> None:
        ids = _ids_within(node, write_nodes)
        if surely_read:
            order.never.update(ids)
        elif not uncertain and not maybe_read:
            order.certain.update(ids)

    def statements(body: Sequence[cst.CSTNode], uncertain: bool) -> None:
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                statements(list(stmt.body), uncertain)
            elif isinstance(stmt, cst.BaseSmallStatement):
                read_at(stmt, not uncertain)  # the right-hand side runs before the store
                writes_at(stmt, uncertain)
            elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                continue  # runs later, or in a class body: not followed
            elif isinstance(stmt, cst.If):
                branch(stmt, uncertain)
            elif isinstance(stmt, (cst.For, cst.While)):
                read_at(stmt.iter if isinstance(stmt, cst.For) else stmt.test, not uncertain)
                block(stmt.body, True)
                if stmt.orelse is not None:
                    block(stmt.orelse.body, True)
            elif isinstance(stmt, cst.With):
                for item in stmt.items:
                    read_at(item, not uncertain)
                block(stmt.body, uncertain)
            elif isinstance(stmt, cst.Try):
                block(stmt.body, uncertain)
                for handler in stmt.handlers:
                    block(handler.body, True)
                if stmt.orelse is not None:
                    block(stmt.orelse.body, True)
                if stmt.finalbody is not None:
                    block(stmt.finalbody.body, uncertain)
            else:
                read_at(stmt, False)

    def branch(stmt: cst.If, uncertain: bool) -> None:
        read_at(stmt.test, not uncertain)
        block(stmt.body, True)
        orelse = stmt.orelse
        if isinstance(orelse, cst.If):
            branch(orelse, True)
        elif isinstance(orelse, cst.Else):
            block(orelse.body, True)

    def block(suite: cst.BaseSuite, uncertain: bool) -> None:
        if isinstance(suite, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            statements(list(suite.body), uncertain)

    statements(list(app.summary.tree.body), False)
    return order


def _ids_within(node: cst.CSTNode, wanted: set[int]) -> set[int]:
    found: set[int] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in wanted:
            found.add(id(current))
        stack.extend(children(current))
    return found


def _reads_app(node: cst.CSTNode, name: str) -> bool:
    """Whether running ``node`` may read the app's configuration (and so finalize it)."""
    stack: list[tuple[cst.CSTNode, tuple[cst.CSTNode, ...]]] = [(node, ())]
    while stack:
        current, parents = stack.pop()
        if isinstance(current, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            continue
        if isinstance(current, cst.Name) and current.value == name and _is_read(current, parents):
            return True
        trail = (*parents[-3:], current)
        for child in children(current):
            stack.append((child, trail))
    return False


def _is_read(name: cst.Name, parents: tuple[cst.CSTNode, ...]) -> bool:
    parent = parents[-1] if parents else None
    if parent is None or isinstance(parent, (cst.AssignTarget, cst.Decorator, cst.Assign)):
        return False  # ``app = Celery()``, ``alias = app``, ``@app.task``
    if not isinstance(parent, cst.Attribute) or parent.value is not name:
        return True  # passed somewhere: assume it may be read
    attr = parent.attr.value
    above = parents[-2] if len(parents) >= 2 else None
    if attr in LAZY_APP_ATTRIBUTES:
        if attr == "config_from_object" and isinstance(above, cst.Call):
            return any(a.keyword is not None and a.keyword.value == "force" for a in above.args)
        return False
    if attr != "conf":
        return True
    top = parents[-3] if len(parents) >= 3 else None
    if isinstance(above, cst.Attribute) and above.value is parent:
        if above.attr.value in ("update", "setdefault") and isinstance(top, cst.Call) and top.func is above:
            return False
        return not isinstance(top, cst.AssignTarget)
    if isinstance(above, cst.Subscript) and above.value is parent:
        return not isinstance(top, cst.AssignTarget)
    return True
