"""What lets the flake8 plugin answer a file from the result cache before any rule is imported.

An editor runs flake8 once a save, and most saves leave the project model's inputs as they
were: the answer is in the CLI's result cache (:mod:`.one_file`). Finding it takes the
cache entry's key, which comes from the rules and the project's validated settings, and
importing the rules costs about as much as flake8 itself. So the plugin remembers what
they gave, each record sealed with the user's secret like the cache:

- **the rule codes** (and which are opt-in, for flake8's default ignore list), in the
  user's cache folder, by celery-lint's version and code: flake8 asks for them before it
  reads any file;
- **each project's selection**: the cache entry's key and kind and the codes the plugin
  runs, beside the project's cache, by everything they were computed from (the project's
  ``pyproject.toml``, the codes named on flake8's command line, celery-lint's code, the
  installed Celery).

A rule pack (installed, or the project's own ``plugins``) turns both off: its code and its
hooks are outside what these keys cover. Anything else that does not match is a miss, and
the plugin takes the long way, which writes the records again when the cache is on. Only
writing makes the user's secret: a run with ``--celery-lint-no-cache`` leaves no file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..project.modules import ModuleIndex
from ..settings_catalogue import installed_celery_version
from ..types import Violation
from ..version import PROJECT_NAME, __version__
from .cache import ResultCache, code_fingerprint, content_hash, resolved_root, violations_from_cache
from .cache_store import (
    CACHE_DIR,
    UnsafeFolder,
    ensure_gitignore,
    existing_secret,
    machine_secret,
    open_folder,
    read_regular,
    seal,
    unseal,
    user_cache_home,
    write_atomic,
)

if TYPE_CHECKING:
    from ..registry import RuleRegistry
    from ..rules.base import Rule

RULE_CODES = "rule-codes.json"
"""The record of the rule codes, in the user's cache folder."""

SELECTION = "flake8-selection"
"""How the name of a project's selection record starts, in its cache folder."""


@dataclass(frozen=True)
class RuleCodes:
    """Every rule code of the installed celery-lint, and those of its opt-in rules."""

    codes: tuple[str, ...]
    opt_in: tuple[str, ...]


def _packs_installed() -> bool:
    try:
        return bool(entry_points(group=PROJECT_NAME))
    except Exception:  # the installed packs could not be listed: the registry says why
        return True


@cache
def _code_key() -> str | None:
    """celery-lint's version and code, or None when a rule pack is installed (looked at
    once a process: the codes and each project's selection are read in the same run)."""
    if _packs_installed():
        return None
    return content_hash(f"{__version__}:{code_fingerprint(())}".encode())


def _read_sealed(folder: Path, name: str) -> dict[str, Any] | None:
    # Reading makes no secret: a run that writes no cache (--celery-lint-no-cache) leaves
    # nothing behind.
    secret = existing_secret()
    if secret is None:
        return None
    try:
        with open_folder(folder, create=False) as fd:
            data = read_regular(fd, name)
    except (UnsafeFolder, OSError, NotImplementedError):
        return None
    payload = unseal(secret, data) if data is not None else None
    if payload is None:
        return None
    try:
        content = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    return content if isinstance(content, dict) else None


def _write_sealed(folder: Path, name: str, content: dict[str, Any], *, own_folder: bool) -> None:
    """``own_folder``: a project's own cache folder, which gets its ``.gitignore``."""
    secret = machine_secret()
    if secret is None:
        return
    try:
        with open_folder(folder, create=True) as fd:
            if own_folder and not ensure_gitignore(fd):
                return
            write_atomic(fd, name, seal(secret, json.dumps(content).encode("utf-8")))
    except (UnsafeFolder, OSError, NotImplementedError):
        pass  # a read-only folder only loses the speed-up


def _strings(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def known_rule_codes() -> RuleCodes | None:
    """The rule codes as recorded for this celery-lint, or None (record them then)."""
    folder, key = user_cache_home(), _code_key()
    if folder is None or key is None:
        return None
    content = _read_sealed(folder, RULE_CODES)
    if content is None or content.get("key") != key:
        return None
    codes, opt_in = _strings(content.get("codes")), _strings(content.get("opt_in"))
    if codes is None or opt_in is None:
        return None
    return RuleCodes(codes, opt_in)


def remember_rule_codes(registry: RuleRegistry) -> None:
    """Record the codes of the registry's rules, when they are the built-in ones alone."""
    folder, key = user_cache_home(), _code_key()
    if folder is None or key is None or not registry.builtin_only:
        return
    rules = registry.rules
    content = {
        "key": key,
        "codes": [rule.CODE for rule in rules],
        "opt_in": [rule.CODE for rule in rules if not rule.DEFAULT],
    }
    _write_sealed(folder, RULE_CODES, content, own_folder=False)


UNREADABLE = "unreadable"
"""What :func:`config_digest` gives for a ``pyproject.toml`` that could not be read."""


def config_digest(root: Path) -> str | None:
    """The hash of the project's ``pyproject.toml`` as it is now; None when there is none,
    :data:`UNREADABLE` when it cannot be read. Taken before the settings are read, so a
    selection is recorded only for the bytes it was computed from."""
    try:
        return content_hash((root / "pyproject.toml").read_bytes())
    except FileNotFoundError:
        return None
    except OSError:
        return UNREADABLE


def _selection_key(root: Path, named: Collection[str], config: str | None) -> str | None:
    """Everything a project's selection was computed from; None with a rule pack installed
    or an unreadable ``pyproject.toml``."""
    code = _code_key()
    if code is None or config == UNREADABLE:
        return None
    parts = [str(resolved_root(root)), config, sorted(named), code, installed_celery_version()]
    return content_hash(json.dumps(parts).encode())


def _selection_place(root: Path, cache_dir: Path | None) -> tuple[Path, str]:
    folder = Path(os.path.realpath(cache_dir)) if cache_dir is not None else root / CACHE_DIR
    return folder, f"{SELECTION}-{content_hash(os.fsencode(resolved_root(root)))[:16]}.json"


@dataclass(frozen=True)
class Selection:
    """A project's cache entry as the flake8 plugin reads it, with the rules it runs."""

    key: str
    """The entry's run key (:func:`.cache.project_key`)."""
    kind: str
    codes: frozenset[str]
    """The codes the plugin runs."""
    exclude: tuple[str, ...]
    """The project's ``exclude`` and ``extend-exclude``: the files the model walks."""


def remember_selection(
    root: Path, named: Collection[str], cache_dir: Path | None, selection: Selection, config: str | None
) -> None:
    """Record ``selection``, made by the long way for a project without rule packs of its own
    from the ``pyproject.toml`` whose :func:`config_digest` was ``config``. Nothing is
    recorded when the file changed since: the selection may be that of either content."""
    if config_digest(root) != config:
        return
    key = _selection_key(root, named, config)
    if key is None:
        return
    folder, name = _selection_place(root, cache_dir)
    content = {
        "key": key,
        "run_key": selection.key,
        "kind": selection.kind,
        "codes": sorted(selection.codes),
        "exclude": list(selection.exclude),
    }
    _write_sealed(folder, name, content, own_folder=cache_dir is None)


def remembered_selection(root: Path, named: Collection[str], cache_dir: Path | None) -> Selection | None:
    """The selection recorded for the project at ``root`` and these named codes, while
    nothing it was computed from changed; None otherwise."""
    key = _selection_key(root, named, config_digest(root))
    if key is None:
        return None
    content = _read_sealed(*_selection_place(root, cache_dir))
    if content is None or content.get("key") != key:
        return None
    run_key, kind = content.get("run_key"), content.get("kind")
    codes, exclude = _strings(content.get("codes")), _strings(content.get("exclude"))
    if not isinstance(run_key, str) or not isinstance(kind, str) or codes is None or exclude is None:
        return None
    return Selection(run_key, kind, frozenset(codes), exclude)


class CachedAnswers:
    """One project's findings from its cache entry, while nothing the entry depends on changed."""

    def __init__(self, cache: ResultCache, codes: Collection[str], probe: ModuleIndex) -> None:
        """``codes``: the rules whose findings are given; ``probe``: the project's files,
        unparsed, as the model would be built from them."""
        self.cache = cache
        self.codes = frozenset(codes)
        self.probe = probe
        self.unchanged: bool | None = None
        """Whether the model would be built from what the entry records (None: not checked yet)."""

    @classmethod
    def for_selection(cls, root: Path, selection: Selection, cache_dir: Path | None) -> CachedAnswers:
        cache = ResultCache(root, selection.key, cache_dir, kind=selection.kind)
        return cls(cache, selection.codes, ModuleIndex(root, selection.exclude))

    def lookup(self, path: Path, text: str, display: str) -> list[Violation] | None:
        """The findings of the file at ``path`` (``# noqa`` not applied), named ``display``;
        None on a miss, or when ``text`` (what flake8 read) is not the file's content."""
        if not self.cache.usable:
            return None
        known = len(self.probe.files)
        file = self.probe.add_file(path)
        if len(self.probe.files) != known:
            # A file the model's walk leaves out (excluded): the model of a run that names it
            # has one more file, so the entry is checked again.
            self.unchanged = None
        if file.text != text:
            return None
        if self.unchanged is None:
            self.unchanged = self.cache.model_unchanged(self.probe)
        if not self.unchanged:
            return None
        # A file's entry from a walk (``celery-lint .``) answers too: only CEL900 lines,
        # which the plugin leaves to flake8, tell it from a named file's.
        for named in (True, False):
            found = self.cache.lookup_before_noqa(file, named)
            if found is not None:
                return self.only_ours(violations_from_cache(found, display))
        return None

    def only_ours(self, violations: Iterable[Violation]) -> list[Violation]:
        """The plugin's rules only (never CEL900 or CEL901), in the order the engine gives."""
        return sorted(v for v in violations if v.code in self.codes)


def selection_of(rules: Sequence[type[Rule]], key: str, kind: str, exclude: Iterable[str]) -> Selection:
    return Selection(key, kind, frozenset(rule.CODE for rule in rules), tuple(exclude))
