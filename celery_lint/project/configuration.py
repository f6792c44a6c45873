"""What the configuration rules share: which app owns a write, the namespace it is read
with, how Celery reads a key under that namespace, and a few precision gates.

Everything here is computed once per project model (``index_for``) from the model's
public API; the setting names come from the installed Celery through the model's
catalogue, never from a copied table.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..settings_catalogue import SettingsCatalogue
from .model import App, ConfigWrite, ProjectModel, config_writes_in
from .scan import ModuleSummary
from .values import Known, Origin, Resolved, Unknown
from .walk import Walker, children

if TYPE_CHECKING:
    import libcst as cst
else:
    from .._lazy_libcst import cst

# Forms of ConfigWrite.form, grouped by where the key goes.
PRECONF_FORMS = frozenset(
    {"Celery()", "changes", "conf.update", "conf attribute", "conf item", "conf.setdefault"}
)
UNLINKED_SETTINGS_FORMS = frozenset({"settings module"})
SYNTHETIC_FORMS = frozenset({"missing", "conditional"})

# Settings of Celery extensions that live next to Celery's own (Django and app.conf).
BUILTIN_EXTENSION_SETTINGS = (
    "CELERY_EMAIL_*",  # django-celery-email
    "CELERY_HAYSTACK_*",  # celery-haystack
    "CELERY_MONGODB_SCHEDULER_*",  # celerybeat-mongo
    "mongodb_scheduler_*",
    "CELERY_REDBEAT_*",  # celery-redbeat (through a Django namespace)
    "redbeat_*",
    "CELERY_SINGLETON_*",  # celery-singleton
    "singleton_*",
    "CELERY_ONCE*",  # celery-once
    "ONCE",
)

# New-name prefixes no other library uses: an unprefixed ``TASK_ROUTES`` under a namespace
# is a Celery setting gone astray, while ``REDIS_HOST`` or ``DATABASE_URL`` is usually the
# project's own.
CELERY_ONLY_PREFIXES = ("task_", "worker_", "beat_", "result_", "broker_", "event_")

HINT_CUTOFF = 0.75
"""How close (difflib ratio) a key must be to a Celery setting to count as a misspelling."""

_ENV_GETTERS = frozenset({"getenv", "env", "config"})
_ENV_METHODS = frozenset({"get", "setdefault", "pop", "str", "bool", "int", "float", "list", "json", "url"})
_SKIPPED_TOKENS = frozenset(
    {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
)
_DJANGO_CONFIG_STEMS = ("celeryconfig", "celery_config", "celeryconf")


# --------------------------------------------------------------------------- names
def visible_setting(catalogue: SettingsCatalogue, key: str, namespace: str | None) -> str | None:
    """The new name Celery reads ``key`` as, with ``namespace`` (None: no namespace).

    With a namespace Celery looks up ``<NS>_<NEW_UPPER>``, then the bare new name, then
    the old name (``celery/utils/collections.py`` ``ConfigurationView._to_keys``); without
    one, the new and the old names.
    """
    if key in catalogue.defaults:
        return key
    if key in catalogue.old_to_new:
        return catalogue.old_to_new[key]
    if namespace:
        return catalogue.namespaced(key, namespace)
    return None


def prefixed(namespace: str, new: str) -> str:
    return f"{namespace}_{new.upper()}" if namespace.isupper() else f"{namespace}_{new}"


@dataclass(frozen=True)
class Mismatch:
    """A key the app cannot see only because of how it is prefixed."""

    setting: str  # the new name the key was meant for
    rename: str  # the name the app would see
    reason: str


def namespace_mismatch(
    catalogue: SettingsCatalogue, key: str, namespace: str | None, django: bool
) -> Mismatch | None:
    """Why a key is invisible when a namespace (or its absence) is the only problem."""
    if django and key.islower():
        # Django exposes only uppercase settings.
        if key in catalogue.defaults and key.startswith(CELERY_ONLY_PREFIXES):
            rename = prefixed(namespace, key) if namespace else catalogue.new_to_old.get(key, key.upper())
            return Mismatch(key, rename, "Django only exposes uppercase settings")
        return None
    if visible_setting(catalogue, key, namespace) is not None:
        return None
    if key.startswith("CELERY_") and namespace != "CELERY":
        meant = catalogue.namespaced(key, "CELERY")
        if meant is not None:
            if namespace:
                rename = prefixed(namespace, meant)
                reason = f"the app reads settings with `namespace='{namespace}'`"
            elif django:
                # Django settings are uppercase: without a namespace only the old names work.
                rename = catalogue.new_to_old.get(meant, meant)
                reason = "the app reads settings without `namespace='CELERY'`"
            else:
                rename = meant
                reason = "the app reads settings without `namespace='CELERY'`"
            return Mismatch(meant, rename, reason)
    if (
        namespace
        and key.isupper()
        and key.lower() in catalogue.defaults
        and key.lower().startswith(CELERY_ONLY_PREFIXES)
    ):
        return Mismatch(
            key.lower(),
            prefixed(namespace, key.lower()),
            f"under `namespace='{namespace}'` Celery looks for the prefixed name",
        )
    return None


def new_prefixes(catalogue: SettingsCatalogue) -> frozenset[str]:
    """``task_``, ``worker_``, ``broker_``, ...: how Celery's new names start."""
    return frozenset(name.split("_")[0] + "_" for name in catalogue.defaults if "_" in name)


def old_prefixes(catalogue: SettingsCatalogue) -> frozenset[str]:
    """``CELERY``, ``BROKER_``, ``CASSANDRA_``, ...: how Celery's old names start."""
    return frozenset(name.split("_")[0] + "_" for name in catalogue.old_to_new if "_" in name) | {"CELERY"}


def looks_like_setting(catalogue: SettingsCatalogue, key: str, namespace: str | None, django: bool) -> bool:
    """Whether ``key`` reads as an attempt at a Celery setting (not a helper or a Django setting)."""
    if not key or key.startswith("_"):
        return False
    if key.islower():
        return not django and "_" in key and key.startswith(tuple(new_prefixes(catalogue)))
    if not key.isupper():
        return False
    if namespace and key.startswith(namespace.upper() + "_"):
        return True
    if django:
        # Django settings hold every app's names: only Celery's own prefixes are candidates.
        return key.startswith(("CELERY", "BROKER_"))
    return key.startswith(tuple(old_prefixes(catalogue)))


def closest_setting(catalogue: SettingsCatalogue, key: str, namespace: str | None) -> str | None:
    """The known name closest to ``key`` in the same style, or None when nothing is close.

    Only a misspelling of a name is suggested: a key that adds or swaps a word
    (``result_backend_thread_safe``, ``firestore_project``) names another thing, and
    renaming it to ``result_backend`` or ``gcs_project`` would overwrite a different
    setting. Settings Celery reads without declaring them count as names too.
    """
    undeclared = list(catalogue.undeclared)
    if key.islower():
        pool = [*catalogue.defaults, *(name for name in undeclared if name.islower())]
        found = difflib.get_close_matches(key, pool, n=1, cutoff=HINT_CUTOFF)
        return found[0] if found and misspelling(key, found[0]) else None
    if namespace:
        spelled = {prefixed(namespace, new): new for new in [*catalogue.defaults, *undeclared]}
        pool = [*spelled, *catalogue.old_to_new]
        found = difflib.get_close_matches(key, pool, n=1, cutoff=HINT_CUTOFF)
        if not found or not misspelling(key, found[0]):
            return None
        # Under a namespace the prefixed spelling is the one to suggest.
        new = spelled.get(found[0]) or catalogue.old_to_new[found[0]]
        return prefixed(namespace, new)
    pool = [*catalogue.old_to_new, *(name for name in undeclared if name.isupper())]
    found = difflib.get_close_matches(key, pool, n=1, cutoff=HINT_CUTOFF)
    return found[0] if found and misspelling(key, found[0]) else None


def misspelling(key: str, name: str) -> bool:
    """Whether ``key`` reads as ``name`` misspelt (``task_acks_lte``, ``TASK_TIMELIMIT``,
    ``DB_TABLE_NAMES`` for ``DB_TABLENAMES``) or with a word left out (``CELERYD_TIME_LIMIT``
    for ``CELERYD_TASK_TIME_LIMIT``), rather than as another name (``worker_concurrency_max``):
    every word of the key is close to a word of ``name``, or the key spells ``name``'s
    letters with its words joined or split and at most one letter more."""
    key_words = [word for word in key.lower().split("_") if word]
    words = [word for word in name.lower().split("_") if word]
    if all(
        any(difflib.SequenceMatcher(None, word, other).ratio() >= HINT_CUTOFF for other in words)
        for word in key_words
    ):
        return True
    joined, other = "".join(key_words), "".join(words)
    return len(joined) <= len(other) + 1 and difflib.SequenceMatcher(None, joined, other).ratio() >= 0.9


def is_extension_setting(key: str, extra: Iterable[str]) -> bool:
    for pattern in (*BUILTIN_EXTENSION_SETTINGS, *extra):
        if pattern.endswith("*"):
            if key.startswith(pattern[:-1]):
                return True
        elif key == pattern:
            return True
    return False


# --------------------------------------------------------------------------- reads of a name
def _reads_name(text: str, key: str) -> bool:
    """Whether ``text`` reads ``key`` (see ``ConfigIndex.read_elsewhere``)."""
    try:
        tokens = [
            t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type not in _SKIPPED_TOKENS
        ]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return True  # cannot tell: assume the project uses it
    for index, token in enumerate(tokens):
        if key not in token.string:
            continue
        after = tokens[index + 1].string if index + 1 < len(tokens) else ""
        before = [t.string for t in tokens[max(0, index - 4) : index]]
        if token.type == tokenize.NAME and token.string == key:
            statement_start = not token.line[: token.start[1]].strip()
            if after == "=" or (after == ":" and statement_start):
                continue  # ``KEY = ...``, ``conf.KEY = ...``, ``f(KEY=...)``, ``KEY: int = ...``
            if before and before[-1] in ("def", "class", "global", "nonlocal", "del"):
                continue
            return True
        if token.type != tokenize.STRING:
            continue
        value = _string_value(token.string)
        if value is None:
            # An f-string (or bytes) naming it: ``f"redis://{REDIS_HOST}"``.
            if re.search(r"(?<![A-Za-z0-9_])" + re.escape(key) + r"(?![A-Za-z0-9_])", token.string):
                return True
            continue
        if value == key:
            following = tokens[index + 2].string if index + 2 < len(tokens) else ""
            if after == ":" or (after == "]" and following == "="):
                continue  # ``{"KEY": ...}``, ``conf["KEY"] = ...``
            if _environment_name(before):
                continue  # ``os.environ.get("KEY")``: an environment variable of the same name
            if before and before[-1] == "(" and len(before) >= 2 and before[-2] == "setdefault":
                continue
            return True
    return False


def _string_value(literal: str) -> object:
    if literal[:1] in "fFbB" or literal[:2].lower() in ("rf", "fr", "rb", "br"):
        return None
    try:
        return ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return None


def _environment_name(before: list[str]) -> bool:
    """``os.environ.get(``, ``os.environ[``, ``os.getenv(``, ``env(``, ``env.str(``, ``config(``."""
    if not before or before[-1] not in ("(", "["):
        return False
    if before[-1] == "[":
        return len(before) >= 2 and before[-2] == "environ"
    if len(before) >= 2 and before[-2] in _ENV_GETTERS:
        return True
    return (
        len(before) >= 4
        and before[-2] in _ENV_METHODS
        and before[-3] == "."
        and before[-4] in ("environ", "env")
    )


# --------------------------------------------------------------------------- test configuration
class _TestRegions(Walker):
    """Nodes inside a class named like a test configuration or under an ``if`` about tests."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.inside: set[int] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if _test_region(node):
            self.depth += 1
        if self.depth:
            self.inside.add(id(node))
        return True

    def on_leave(self, node: cst.CSTNode) -> None:
        if _test_region(node):
            self.depth -= 1


def _test_region(node: cst.CSTNode) -> bool:
    if isinstance(node, cst.ClassDef):
        return "test" in node.name.value.lower()
    return isinstance(node, cst.If) and _mentions_test(node.test)


def _mentions_test(expr: cst.BaseExpression) -> bool:
    """``if TESTING:``, ``if "test" in sys.argv:``, ``if settings.IS_TEST:`` (iterative: no
    recursion on a huge condition)."""
    stack: list[cst.CSTNode] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Name) and "test" in node.value.lower():
            return True
        if isinstance(node, cst.SimpleString) and "test" in node.value.lower():
            return True
        stack.extend(children(node))
    return False


def depends_on_broker(write: ConfigWrite) -> bool:
    """A value computed from whether a broker is configured: ``not CELERY_BROKER_URL``,
    ``BROKER_URL is None``, ``not env("BROKER")``, ``"BROKER_URL" not in os.environ``. A
    fallback for a process started without a broker (a developer machine, a one-off
    script), not a switch that is always on. A bare name or literal is not computed."""
    value = write.value
    if value is None or isinstance(value, (cst.Name, cst.Attribute, cst.BaseNumber, cst.BaseString)):
        return False
    stack: list[cst.CSTNode] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Name, cst.SimpleString)) and "broker" in node.value.lower():
            return True
        stack.extend(children(node))
    return False


# --------------------------------------------------------------------------- the index
@dataclass
class ConfigIndex:
    model: ProjectModel
    owners: dict[int, list[App]] = field(default_factory=dict)
    _reads: dict[str, bool] = field(default_factory=dict)
    _test_regions: dict[int, set[int]] = field(default_factory=dict)
    _django_ns: Resolved | None = None
    _writes: dict[int, list[ConfigWrite]] = field(default_factory=dict)
    _naming: dict[int, list[ConfigWrite]] = field(default_factory=dict)
    lowercase_django: dict[str, list[ConfigWrite]] = field(default_factory=dict)
    """Lowercase names in Django settings modules (invisible to Celery), by file path."""

    def __post_init__(self) -> None:
        for app in self.model.apps:
            for write in app.preconf:
                self._own(write, app)
            if app.source is not None:
                for writes in app.source.writes.values():
                    for write in writes:
                        if write.value is not None:
                            self._own(write, app)
                if app.source.django:
                    self._collect_lowercase(app)

    def _collect_lowercase(self, app: App) -> None:
        seen: set[int] = set()
        for module in self.django_settings_modules_of(app):
            flat, _ = self.model.flatten_module(module)
            for key, writes in flat.items():
                if not key.islower() or key not in self.catalogue.defaults:
                    continue
                for write in writes:
                    if write.value is None or id(write.node) in seen:
                        continue
                    seen.add(id(write.node))
                    lowered = ConfigWrite(
                        key, None, write.value, write.summary, write.node, "Django settings", None
                    )
                    self._own(lowered, app)
                    self.lowercase_django.setdefault(str(write.summary.file.path), []).append(lowered)

    def _own(self, write: ConfigWrite, app: App) -> None:
        apps = self.owners.setdefault(id(write.node), [])
        if app not in apps:
            apps.append(app)

    @property
    def catalogue(self) -> SettingsCatalogue:
        return self.model.catalogue

    # -- namespaces -------------------------------------------------------------------
    def app_namespace(self, app: App) -> Resolved:
        """The prefix the app reads its settings with (``Known(None)``: none)."""
        if any("namespace" in reason for reason in app.preconf_opaque):
            return Unknown("namespace is computed")
        source = app.source
        if source is not None:
            if source.opaque and "namespace" in source.opaque:
                return Unknown(source.opaque)
            if source.opaque and source.description.startswith("config_from_object"):
                # config_from_object(**...), a computed object, or calls in several modules.
                return Unknown(source.opaque)
            if source.namespace:
                return Known(source.namespace)
        return Known(app.namespace or None)

    def namespace_of(self, write: ConfigWrite) -> Resolved:
        """The namespace the owning apps read ``write`` with; Unknown when not tied to an app
        or when apps disagree. Unlinked Django-style settings modules get the project's."""
        apps = self.owners.get(id(write.node))
        if not apps:
            if write.form in UNLINKED_SETTINGS_FORMS and self.is_django_settings_file(write.summary):
                return self.project_django_namespace()
            return Unknown("not tied to an app")
        found = [self.app_namespace(app) for app in apps]
        first = found[0]
        if isinstance(first, Unknown) or any(
            isinstance(other, Unknown) or other.value != first.value for other in found[1:]
        ):
            return Unknown("apps read it with different namespaces")
        return first

    def is_django_write(self, write: ConfigWrite) -> bool:
        if write.form == "Django settings":
            return True
        return write.form in UNLINKED_SETTINGS_FORMS and self.is_django_settings_file(write.summary)

    def project_django_namespace(self) -> Resolved:
        """The namespace every production app that reads Django settings uses."""
        if self._django_ns is None:
            values: set[str | None] = set()
            unknown = False
            for app in self.model.apps:
                if app.is_test or app.source is None or not app.source.django:
                    continue
                ns = self.app_namespace(app)
                if isinstance(ns, Unknown):
                    unknown = True
                else:
                    values.add(ns.value)
            if unknown or len(values) != 1:
                self._django_ns = Unknown("the project's Django namespace is not known")
            else:
                self._django_ns = Known(values.pop())
        return self._django_ns

    def is_django_settings_file(self, summary: ModuleSummary) -> bool:
        """An unlinked settings module of a project whose apps read Django settings."""
        if summary.file.path.stem in _DJANGO_CONFIG_STEMS:
            return False
        return isinstance(self.project_django_namespace(), Known)

    # -- precision gates -------------------------------------------------------------
    def read_elsewhere(self, key: str) -> bool:
        """True when some project code reads ``key`` (``settings.KEY``, ``conf.KEY``,
        ``getattr(settings, "KEY")``, ``config["KEY"]``, ``from settings import KEY``): the
        project uses the name itself. Assignments, keyword arguments, dict keys, comments,
        prose and environment-variable names are not reads."""
        cached = self._reads.get(key)
        if cached is not None:
            return cached
        needle = key.encode()
        found = False
        for file in list(self.model.files.values()):
            data = file.read()
            if not data or needle not in data:
                continue
            text = file.text
            if text is None or _reads_name(text, key):
                found = True
                break
        self._reads[key] = found
        return found

    def in_test_config(self, write: ConfigWrite) -> bool:
        """A write in a class named like a test configuration or under ``if ...test...:``."""
        summary = write.summary
        regions = self._test_regions.get(id(summary))
        if regions is None:
            walker = _TestRegions()
            walker.walk(summary.tree)
            regions = walker.inside
            self._test_regions[id(summary)] = regions
        return id(write.node) in regions or (
            write.form.startswith("settings class") and "test" in write.form.lower()
        )

    # -- writes ----------------------------------------------------------------------
    def writes_in(self, summary: ModuleSummary) -> list[ConfigWrite]:
        """Every configuration write in the module, value-bearing ones only."""
        cached = self._writes.get(id(summary))
        if cached is None:
            cached = [
                w
                for w in config_writes_in(self.model, summary.file)
                if w.value is not None and w.form not in SYNTHETIC_FORMS
            ]
            self._writes[id(summary)] = cached
        return cached

    def unlinked_settings_writes(self, summary: ModuleSummary) -> list[ConfigWrite]:
        """Module-level assignments of an unlinked Django settings module, every key (the
        model's own view keeps only names that are Celery settings)."""
        if summary.is_test or not self.is_django_settings_file(summary):
            return []
        path = str(summary.file.path)
        if path in self.model.config_modules:
            return []
        linked = any(self.owners.get(id(w.node)) for w in self.writes_in(summary))
        if linked:
            return []
        flat, _ = self.model.flatten_module(summary)
        found: list[ConfigWrite] = []
        for key, writes in flat.items():
            for write in writes:
                if write.value is None or str(write.summary.file.path) != path:
                    continue
                found.append(
                    ConfigWrite(key, None, write.value, write.summary, write.node, "settings module")
                )
        return found

    def naming_writes(self, summary: ModuleSummary) -> list[ConfigWrite]:
        """The writes whose key (not value) the naming rules judge: every configuration
        write, every name of an unlinked Django settings module, and lowercase names of
        linked Django settings modules. Flask-style settings classes no app is tied to
        are left out: how their keys reach Celery is the project's own code."""
        cached = self._naming.get(id(summary))
        if cached is not None:
            return cached
        found: dict[tuple[int, str], ConfigWrite] = {}
        writes = [
            *self.writes_in(summary),
            *self.unlinked_settings_writes(summary),
            *self.lowercase_django.get(str(summary.file.path), []),
        ]
        for write in writes:
            if write.form.startswith("settings class"):
                continue
            found.setdefault((id(write.node), write.key), write)
        self._naming[id(summary)] = list(found.values())
        return self._naming[id(summary)]

    def django_settings_modules_of(self, app: App) -> list[ModuleSummary]:
        """The Django settings modules an app reads (empty when unknown)."""
        source = app.source
        if source is None or not source.django or not app.source_ops:
            return []
        ops = [(s, op) for s, op in app.source_ops if not s.is_test] or app.source_ops
        names = self.model.django_settings_modules(ops[-1][0])
        if not names:
            return []
        found = []
        for name in names:
            module = self.model.module_summary(name)
            if module is None:
                return []
            found.append(module)
        return found

    # -- values, for the rules that read the configuration through the index -------------
    def app_setting(self, app: App, name: str) -> Resolved:
        """The effective value of setting ``name`` (new spelling) for ``app``."""
        return self.model.setting(app, name)

    def write_value(self, write: ConfigWrite) -> Resolved:
        """The value ``write`` gives, evaluated where it is written."""
        return write.resolved(self.model)

    def value_at(self, summary: ModuleSummary, expr: cst.BaseExpression, origin: Origin) -> Resolved:
        """The static value of ``expr`` in ``summary``'s module, Known with ``origin``."""
        return self.model.value_of(summary, expr, origin)

    def module_settings(self, summary: ModuleSummary) -> tuple[dict[str, list[ConfigWrite]], str | None]:
        """Module-level settings in effect at the end of the module (star imports followed),
        and why they cannot all be known, if so."""
        return self.model.flatten_module(summary)


def index_for(model: ProjectModel) -> ConfigIndex:
    return model.memo("config-index", lambda: ConfigIndex(model))


def effective_setting(index: ConfigIndex, write: ConfigWrite) -> str | None:
    """The setting Celery really gives this write's value to, or None (ignored or unknown)."""
    catalogue = index.catalogue
    key = write.key
    django = index.is_django_write(write)
    if django and key.islower():
        return None
    namespace = index.namespace_of(write)
    if isinstance(namespace, Known):
        return visible_setting(catalogue, key, namespace.value)
    if write.form in UNLINKED_SETTINGS_FORMS or write.form.startswith("settings class"):
        return write.setting  # the model's reading: a Django-style CELERY namespace
    plain = visible_setting(catalogue, key, None)
    return plain if plain == visible_setting(catalogue, key, "CELERY") else None


def meant_setting(index: ConfigIndex, write: ConfigWrite) -> str | None:
    """The setting a write was meant for under any reading (for rules about the value itself,
    which is a problem whether or not Celery sees it)."""
    catalogue = index.catalogue
    return (
        write.setting
        or visible_setting(catalogue, write.key, None)
        or catalogue.namespaced(write.key, "CELERY")
        or (catalogue.namespaced(write.key, write.namespace) if write.namespace else None)
    )
