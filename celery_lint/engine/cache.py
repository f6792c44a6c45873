"""The result cache in ``.celery_lint_cache/``, shared by the CLI, the flake8 plugin
(:mod:`.one_file`) and the pytest gate.

A file's findings depend on the whole project model, so a cached result is reused only
when, besides the file's own content, nothing the model was built from has changed:
the same set of Python files, the same content for every file the model parsed, the
same rule selection and options, and the same celery-lint and Celery code.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..project.setting_search import data_file_digests
from ..settings_catalogue import load_catalogue
from ..types import Kind, Violation
from ..version import __version__
from .cache_schema import valid_content
from .cache_store import (
    CACHE_DIR,
    UnsafeFolder,
    ensure_gitignore,
    machine_secret,
    names_in,
    open_folder,
    read_regular,
    remove,
    seal,
    unseal,
    warn,
    write_atomic,
)

if TYPE_CHECKING:
    from ..config import Settings
    from ..project.files import SourceFile
    from ..project.model import ProjectModel
    from ..project.modules import ModuleIndex
    from ..rules.base import Rule
    from .linter import Engine

CACHE_FORMAT = 8
"""3: a finding records its kind. 5: what each file holds for the run's summary (apps,
tasks) and the project's figures. 6: sealed with the user's secret, named by the root.
7: a model that read the whole repository records every file and data file it read; a
named file's findings are kept beside the folder walk's, not over them. 8: a file's findings
that a ``# noqa`` silenced are kept too (flake8 applies ``# noqa`` itself)."""


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def resolved_root(root: Path) -> Path:
    try:
        return root.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(root))


def code_fingerprint(rules: Sequence[type[Rule]]) -> str:
    """Changes whenever celery-lint's own source changes (a development install too), or
    the code of a rule pack: every module of its package, and for a pack of the project
    (``plugins = [...]``) also the modules beside it and those it imported from there."""
    digest = hashlib.blake2b(digest_size=16)
    package = Path(__file__).parent.parent
    paths = set(package.rglob("*.py"))
    for folder in _pack_folders(rules):
        paths.update(folder.rglob("*.py") if folder.is_dir() else [folder])
    for path in sorted(paths):
        try:
            st = path.stat()
        except OSError:
            continue
        digest.update(f"{path}:{':'.join(map(str, _stat_key(st)))}".encode())
    return digest.hexdigest()


def _stat_key(st: os.stat_result) -> list[int]:
    """What says a file is unchanged without reading it: size and mtime, and also the
    inode's change time and number, which no program can set back (an edit that keeps the
    size and restores the mtime, as ``touch -d`` or an archive does, gave stale results)."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


_INSTALLED = ("site-packages", "dist-packages")


def _pack_folders(rules: Sequence[type[Rule]]) -> set[Path]:
    """The code of the rule packs among ``rules``: folders (walked) and single files. An
    installed pack counts by its rule modules (an upgrade rewrites them); a pack from
    source (the project's own, an editable install) by every module of its package, the
    modules beside it and the modules it imported from there."""
    out: set[Path] = set()
    bases: set[Path] = set()
    own = __name__.split(".")[0]
    for rule in rules:
        top_name = rule.__module__.split(".")[0]
        source = getattr(sys.modules.get(rule.__module__), "__file__", None)
        if top_name == own or not source:
            continue
        out.add(Path(source))
        top = sys.modules.get(top_name)
        top_source = getattr(top, "__file__", None)
        if not top_source or any(part in _INSTALLED for part in Path(top_source).parts):
            continue
        path = Path(top_source)
        if getattr(top, "__path__", None) is not None and path.name == "__init__.py":
            out.add(path.parent)  # the whole package: helper modules imported later too
            bases.add(path.parent.parent)
        else:
            bases.add(path.parent)
    for base in bases:
        out.update(base.glob("*.py"))
        prefix = str(base) + os.sep
        for module in list(sys.modules.values()):
            module_source = getattr(module, "__file__", None)
            if isinstance(module_source, str) and module_source.startswith(prefix):
                out.add(Path(module_source))
    return out


def run_key(
    root: Path,
    codes: list[str],
    options: dict[str, Any],
    exclude: list[str],
    use_prefilter: bool,
    rules: Sequence[type[Rule]],
) -> str:
    """What every cached finding depends on besides the files; ``rules``: every rule of the run."""
    payload = {
        "format": CACHE_FORMAT,
        "root": str(resolved_root(root)),
        "version": __version__,
        "code": code_fingerprint(rules),
        "celery": load_catalogue().celery_version,
        "codes": sorted(codes),
        "options": options,
        "exclude": sorted(exclude),
        "prefilter": use_prefilter,
    }
    return content_hash(json.dumps(payload, sort_keys=True, default=str).encode())


def project_key(root: Path, engine: Engine, settings: Settings, use_prefilter: bool) -> str:
    """The run key of a project's entry: the rules ``engine`` runs and the project's
    ``[tool.celery-lint]`` options, exclusions and deployment settings."""
    return run_key(
        root,
        engine.codes,
        {**settings.options, "deployment-settings": settings.deployment},
        settings.exclude,
        use_prefilter,
        engine.known_rules,
    )


class ResultCache:
    """Findings per file, valid for one run key and one model fingerprint.

    The results kept are always those of the model recorded with them: a run that rebuilds
    the model from changed inputs drops every result of the earlier model, so a later run
    never serves a finding the current model did not produce."""

    def __init__(self, root: Path, key: str, cache_dir: Path | None = None, *, kind: str = "results") -> None:
        """``kind``: what the file names start with; each kind keeps one entry a project
        (``results``: the CLI's, which the other front ends share)."""
        self.root = root
        self.key = key
        self.kind = kind
        # Each project has its own files, named by its resolved root: projects can share a
        # --cache-dir, and a project's files are never another project's.
        self.prefix = f"{kind}-{content_hash(os.fsencode(resolved_root(root)))[:16]}-"
        self.shared = cache_dir is not None
        self.folder = Path(os.path.realpath(cache_dir)) if cache_dir is not None else root / CACHE_DIR
        self.name = f"{self.prefix}{key}.json"
        self.path = self.folder / self.name
        self.secret = machine_secret()
        self.usable = self.secret is not None
        self.model_files: dict[str, str] = {}
        self.all_files: list[str] = []
        self.patterns: list[str] = []
        self.results: dict[str, dict[str, Any]] = {}
        # Findings for files the user named (checked more, see ``lookup``), kept apart so a
        # one-file run (pre-commit) does not replace what the folder walk cached.
        self.named_results: dict[str, dict[str, Any]] = {}
        # For a model that read the whole repository: the hash of each configuration file
        # it read (relative to the root); None when the model did not.
        self.data_files: dict[str, str] | None = None
        self.project: dict[str, Any] | None = None
        """The project's figures (see :mod:`celery_lint.project.census`), valid with the model."""
        # relpath -> [size, mtime_ns, content hash] as last seen: a file whose size and
        # modification time are unchanged is not read again to be hashed (git's index does
        # the same). Files modified within a few seconds of being seen are not recorded, so
        # a change inside the file system's timestamp resolution is never missed.
        self.stats: dict[str, list[Any]] = {}
        self._seen: dict[str, list[Any]] = {}
        # Files modified after this (less a margin for coarse timestamps) may have been read
        # before their last change: their stat is not recorded.
        self._trusted_before = time.time_ns() - 2_000_000_000
        if self.usable:
            self._load()

    def _refuse(self, problem: str) -> None:
        self.usable = False
        warn(f"{problem}: the result cache is not used")

    def _load(self) -> None:
        assert self.secret is not None
        try:
            with open_folder(self.folder, create=False) as fd:
                data = read_regular(fd, self.name)
        except UnsafeFolder as exc:
            self._refuse(str(exc))
            return
        except (OSError, NotImplementedError):
            return  # no cache yet (or no safe way to read it here)
        payload = unseal(self.secret, data) if data is not None else None
        if payload is None:
            return  # not written by this user on this machine: rebuilt
        try:
            content = json.loads(payload)
        except (ValueError, RecursionError):
            content = None
        if not valid_content(content, self.key):
            return
        assert isinstance(content, dict)
        self.model_files = content["model_files"]
        self.all_files = content["all_files"]
        self.patterns = content["patterns"]
        self.results = content["results"]
        self.named_results = content["named_results"]
        self.data_files = content["data_files"]
        self.project = content["project"]
        self.stats = content["stats"]

    def _unchanged_since_seen(self, file: SourceFile) -> str | None:
        """The content hash recorded for ``file`` if its size and mtime are unchanged."""
        try:
            st = os.stat(file.path)
        except OSError:
            return None
        known = self.stats.get(file.relpath)
        stat = _stat_key(st)
        if isinstance(known, list) and len(known) == 5 and known[:4] == stat and isinstance(known[4], str):
            self._seen[file.relpath] = known
            return known[4]
        return None

    def hash_of(self, file: SourceFile) -> str | None:
        """The file's content hash, read and computed only when its stat changed."""
        known = self._unchanged_since_seen(file)
        if known is not None:
            return known
        data = self._read_seen(file)
        return content_hash(data) if data is not None else None

    def learned_stats(self) -> bool:
        """Whether files were read whose stat the entry does not hold yet (saving it spares
        the next run reading them)."""
        recent = self._trusted_before
        return any(stat[1] < recent and self.stats.get(rel) != stat for rel, stat in self._seen.items())

    def _read_seen(self, file: SourceFile) -> bytes | None:
        """The file's content; its stat is recorded with it (taken first: a change while
        it is read makes the next run read it again)."""
        try:
            st = os.stat(file.path)
        except OSError:
            st = None
        data = file.read()
        if data is not None and st is not None:
            self._seen[file.relpath] = [*_stat_key(st), content_hash(data)]
        return data

    def model_unchanged(self, model: ModuleIndex) -> bool:
        """True when the model would be built from exactly the cached inputs; ``model``:
        the project's files, unparsed (an unbuilt model, or its bare file index)."""
        if not self.model_files:
            return False
        if self.data_files is not None and self.data_files != data_file_digests(model.root):
            return False
        files = model.files
        if sorted(f.relpath for f in files.values()) != self.all_files:
            return False
        by_relpath = {f.relpath: f for f in files.values()}
        patterns = [p.encode("latin-1") for p in self.patterns]
        for relpath, file in by_relpath.items():
            cached = self.model_files.get(relpath)
            if cached is not None:
                if cached != self.hash_of(file):
                    return False
                continue
            if file.is_test or self._unchanged_since_seen(file) is not None:
                # Unchanged since a run found it holds none of the patterns (the model's
                # build parses every file that does): it is not read again.
                continue
            data = self._read_seen(file)
            if data is not None and any(pattern in data for pattern in patterns):
                return False
        return True

    def remember_model(self, model: ProjectModel, *, keep_previous: bool = False) -> None:
        """Record what the model was built from. ``keep_previous``: the model inputs were
        unchanged, so files an earlier run parsed on demand (a constant's module, say) stay
        recorded even though this partial run did not need them."""
        self.all_files = sorted(f.relpath for f in model.files.values())
        self.patterns = sorted(p.decode("latin-1") for p in model.patterns)
        if not keep_previous:
            # A new model: what earlier models produced is no longer known to hold.
            self.model_files = {}
            self.results = {}
            self.named_results = {}
        whole = model.depends_on_whole_repository()
        # Findings that rest on every file of the repository (a setting no file names is
        # unset, an import anywhere binds a task to an app) hold while no Python file (their
        # list is recorded too) and no configuration file changes: all are recorded.
        # What the search read when it ran, else what it would read now (it may run later,
        # in a -j worker): only a change from these makes the next run rebuild.
        self.data_files = {**data_file_digests(model.root), **model.data_files_read} if whole else None
        for file in model.files.values() if whole else model.parsed_files():
            digest = self.hash_of(file)
            if digest is not None:
                self.model_files[file.relpath] = digest

    def _entries(self, named: bool) -> dict[str, dict[str, Any]]:
        return self.named_results if named else self.results

    def lookup(self, file: SourceFile, named: bool = False) -> list[dict[str, Any]] | None:
        """Cached findings; a file the user names is checked more (syntax errors even where
        the prefilter skips it), so a result from a folder walk does not answer for it."""
        entry = self._entries(named).get(file.relpath)
        if entry is None or bool(entry.get("named")) != named or entry.get("hash") != self.hash_of(file):
            return None
        violations = entry.get("violations")
        if not isinstance(entry.get("census"), dict):
            return None
        return violations if isinstance(violations, list) else None

    def lookup_before_noqa(self, file: SourceFile, named: bool = False) -> list[dict[str, Any]] | None:
        """Cached findings with those a ``# noqa`` silenced (as flake8, which applies
        ``# noqa`` itself, wants them); None where :meth:`lookup` has none."""
        violations = self.lookup(file, named)
        silenced = self._entries(named)[file.relpath].get("suppressed") if violations is not None else None
        return [*violations, *silenced] if violations is not None and isinstance(silenced, list) else None

    def census(self, file: SourceFile, named: bool = False) -> dict[str, Any] | None:
        """What the file held for the run's summary when its findings were cached."""
        entry = self._entries(named).get(file.relpath)
        census = entry.get("census") if entry is not None else None
        return census if isinstance(census, dict) else None

    def store(
        self,
        file: SourceFile,
        violations: list[Violation],
        root_relative: list[str],
        named: bool = False,
        census: dict[str, Any] | None = None,
        suppressed: Sequence[Violation] = (),
    ) -> None:
        """``census``: what the file holds for the run's summary (apps, tasks);
        ``suppressed``: its findings a ``# noqa`` silenced."""
        digest = self.hash_of(file)
        if digest is None:
            return
        self._entries(named)[file.relpath] = {
            "hash": digest,
            "named": named,
            "violations": [
                {**asdict(v), "path": rel} for v, rel in zip(violations, root_relative, strict=True)
            ],
            "suppressed": [{**asdict(v), "path": file.relpath} for v in suppressed],
            "census": census if census is not None else {"apps": 0, "tasks": []},
        }

    def save(self) -> None:
        if not self.usable or self.secret is None:
            return
        recent = self._trusted_before
        stats = {**self.stats, **self._seen}
        listed = set(self.all_files)
        payload = {
            "key": self.key,
            "model_files": self.model_files,
            "all_files": self.all_files,
            "patterns": self.patterns,
            "results": self.results,
            "named_results": self.named_results,
            "data_files": self.data_files,
            "project": self.project,
            "stats": {
                rel: stat
                for rel, stat in stats.items()
                if (
                    rel in self.results
                    or rel in self.named_results
                    or rel in self.model_files
                    or rel in listed
                )
                and stat[1] < recent
            },
        }
        data = seal(self.secret, json.dumps(payload).encode("utf-8"))
        try:
            with open_folder(self.folder, create=True) as fd:
                if not self.shared and not ensure_gitignore(fd):
                    self._refuse(f"{self.folder / '.gitignore'} is not a file of this user")
                    return
                for name in names_in(fd):
                    # A project's own folder holds only its results; a shared one, others' too.
                    mine = name.startswith(self.prefix) or not self.shared
                    stale = name.startswith(f"{self.kind}-") and name.endswith(".json") and name != self.name
                    if mine and stale:
                        remove(fd, name)
                write_atomic(fd, self.name, data)
        except UnsafeFolder as exc:
            self._refuse(str(exc))
        except (OSError, NotImplementedError):
            pass  # a read-only project only loses the speed-up


def violations_from_cache(entries: list[dict[str, Any]], display: str) -> list[Violation]:
    return [
        Violation(**{**entry, "path": display, "kind": Kind(entry.get("kind", Kind.FINDING))})
        for entry in entries
    ]
