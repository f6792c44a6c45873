"""Old and new setting names mixed in one configuration, as Celery's ``detect_settings``
sees it: which keys of an app's configuration it checks together (the
``config_from_object`` source, else the ``app.conf`` writes that surely run before the
configuration is first read at import time), and which keys it rejects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..settings_catalogue import SettingsCatalogue
from .configuration import SYNTHETIC_FORMS, index_for
from .entities import App, ConfigWrite
from .values import Known
from .walk import children

if TYPE_CHECKING:
    import libcst as cst

    from .model import ProjectModel
else:
    from .._lazy_libcst import cst

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
class StyleFinding:
    key: str
    rename: str
    counts: str
    where: str


@dataclass
class _Analysis:
    by_node: dict[int, list[StyleFinding]] = field(default_factory=dict)


def mixed_style_findings(model: ProjectModel, path: str) -> list[tuple[ConfigWrite, StyleFinding]]:
    """The writes of the file at ``path`` that make Celery reject its configuration, each
    with what is wrong (computed once per project model)."""
    analysis = _analysis(model)
    found: list[tuple[ConfigWrite, StyleFinding]] = []
    for write in _writes_in_file(model, path):
        for finding in analysis.by_node.get(id(write.node), []):
            if finding.key == write.key:
                found.append((write, finding))
    return found


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
        if source.opaque or source.runtime:
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
        if other_config_source(app):
            return
        if app.runtime_sources or any(not reason.startswith("Celery(**") for reason in app.preconf_opaque):
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
            finding = StyleFinding(key, rename, counts, where)
            if finding not in findings:
                findings.append(finding)


def other_config_source(app: App) -> bool:
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
