"""The first layer of the project model: the project's files, their import names, their
parsed summaries, and the byte-level prefilter that decides which files are parsed."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .files import SourceFile, iter_python_files, module_name_for
from .literals import literal_alternation
from .roots import ProjectRoots
from .scan import ModuleSummary, scan_module

_T = TypeVar("_T")

CELERY_MENTION = (b"celery", b"Celery", b"CELERY")

# Up to this many prefilter patterns are searched one by one; more go into one regex.
_SUBSTRING_SEARCH_LIMIT = 12


def pattern_matcher(patterns: Iterable[bytes]) -> Callable[[bytes], bool]:
    """A test of whether bytes hold any of ``patterns``."""
    ordered = sorted(patterns, key=lambda p: (-len(p), p))  # the most telling first
    if len(ordered) <= _SUBSTRING_SEARCH_LIMIT:
        # A few substring searches (memchr-fast) beat one regex alternation by ~5x.
        return lambda data: any(pattern in data for pattern in ordered)
    search = re.compile(literal_alternation(ordered)).search
    return lambda data: search(data) is not None


class SummaryStore(Protocol):
    """Module summaries kept between runs, by content (the front ends pass one in: the
    engine's ``summary_store``). Only files read from disk are looked up or saved."""

    def load(self, file: SourceFile) -> ModuleSummary | None:
        """The summary of ``file``'s bytes an earlier run saved, or None."""

    def save(self, summary: ModuleSummary) -> None:
        """Keep ``summary`` (of its file's bytes) for later runs."""


def dotted_identifiers(name: str) -> bool:
    """Whether ``name`` is a dotted name Python can import (no hyphen, no leading dot)."""
    return all(part.isidentifier() for part in name.split("."))


def _runs_django(manage_py: Path) -> bool:
    try:
        with open(manage_py, "rb") as handle:
            return b"django" in handle.read(65536).lower()
    except OSError:
        return False


def _celery_api_name(name: str) -> bool:
    """``celery`` and ``celery.*`` are Celery's API whatever the tree holds: a top-level
    ``celery/`` package in the project (a vendored copy, Celery's own repository) must not
    turn ``from celery import Celery, shared_task`` into project code."""
    return name == "celery" or name.startswith("celery.")


class ModuleIndex:
    """Files by path and by module name, parsed on demand, and the prefilter patterns."""

    def __init__(
        self,
        root: Path,
        exclude: Iterable[str] = (),
        use_prefilter: bool = True,
        discovered: Iterable[Path] | None = None,
    ) -> None:
        """``discovered``: the project's files when the caller already walked the project
        exactly as the model would (same folder, same exclusions), to save a second walk."""
        self.root = root
        self.use_prefilter = use_prefilter
        self.files: dict[Path, SourceFile] = {}
        self._by_module: dict[str, SourceFile] = {}
        # Files added but not yet given their import names (a warm run never needs them).
        self._unindexed: list[SourceFile] = []
        self._root_prefix = os.path.join(str(root), "")
        self._init_cache: dict[Path, bool] = {}
        self._external_cache: dict[str, bool] = {}
        self._source_root_list: list[Path] | None = None
        self._summaries: dict[str, ModuleSummary | None] = {}
        self.summary_store: SummaryStore | None = None
        """Where summaries of earlier runs are looked up before a module is parsed."""
        # Modules that forked -j workers parsed: the result cache depends on them too.
        self._parsed_elsewhere: dict[str, SourceFile] = {}
        # Projects nested under this root (their own marker) are modelled separately.
        if discovered is not None:
            for path in discovered:
                self.add_file(path)
        else:
            roots = ProjectRoots(Path(os.path.abspath(root)))
            for path in iter_python_files(root, exclude):
                if roots.owner(path) == roots.top:
                    self.add_file(path)
        self.patterns: set[bytes] = set(CELERY_MENTION)
        self._matcher: Callable[[bytes], bool] = pattern_matcher(self.patterns)
        self._matcher_size = len(self.patterns)
        self._prefilter_answers: dict[str, tuple[bytes, bool, int]] = {}
        self._memo: dict[Any, Any] = {}
        # Set when a finding came to depend on files the model did not parse (every module's
        # names, configuration files): the result cache must not trust its parsed inputs alone.
        self.read_whole_repository = False
        # path -> digest of each configuration file the setting search read (settings.py).
        self.data_files_read: dict[str, str] = {}

    # ------------------------------------------------------------------ files
    @property
    def by_module(self) -> dict[str, SourceFile]:
        """Every module name (and import alias) -> its file."""
        if self._unindexed:
            self._index_files()
        return self._by_module

    @by_module.setter
    def by_module(self, value: dict[str, SourceFile]) -> None:
        self._unindexed = []
        self._by_module = value

    def add_file(self, path: Path) -> SourceFile:
        text_path = os.path.abspath(path)
        if not isinstance(path, Path) or text_path != str(path):
            path = Path(text_path)
        existing = self.files.get(path)
        if existing is not None:
            return existing
        if text_path.startswith(self._root_prefix):
            relpath = text_path[len(self._root_prefix) :]
        else:
            try:
                relpath = str(path.relative_to(self.root))
            except ValueError:
                relpath = path.name
        module = module_name_for(relpath)
        file = SourceFile(path, relpath, module, is_package=path.name == "__init__.py")
        self.files[path] = file
        self._unindexed.append(file)
        return file

    def _index_files(self) -> None:
        pending, self._unindexed = self._unindexed, []
        for file in pending:
            if file.module and not _celery_api_name(file.module):
                self._by_module.setdefault(file.module, file)
            aliases = self._importable_names(file.path)
            for alias in aliases:
                if alias != file.module:
                    self._by_module.setdefault(alias, file)
            # The first name a worker can import the module by (no hyphen, no hidden folder).
            file.import_name = (
                next((a for a in aliases if dotted_identifiers(a)), aliases[0]) if aliases else file.module
            )

    def _importable_names(self, path: Path) -> list[str]:
        """Names the file is imported under from the folders that act as ``sys.path`` entries.

        A Django project under ``backend/`` imports ``apps.orders.tasks``, not
        ``backend.apps.orders.tasks``. Names that would shadow an installed or standard
        package (a ``proj/celery.py`` in a folder without ``__init__.py``) are not used.
        """
        names: list[str] = []
        parts: list[str] = [path.stem] if path.name != "__init__.py" else []
        folder = path.parent
        while folder != self.root and self.root in folder.parents:
            if not self._has_init(folder):
                break
            parts.insert(0, folder.name)
            folder = folder.parent
        for source_root in self._source_roots():
            if source_root in path.parents and source_root != self.root:
                rel = path.relative_to(source_root)
                names.append(module_name_for(str(rel)))
        if len(parts) > 1 and folder != self.root:
            # Only files inside a package: a lone module in a plain folder is not importable by name.
            names.append(".".join(parts))
        return [n for n in names if n and not self._shadows_external(n)]

    def _has_init(self, folder: Path) -> bool:
        known = self._init_cache.get(folder)
        if known is None:
            known = os.path.isfile(folder / "__init__.py")
            self._init_cache[folder] = known
        return known

    def _source_roots(self) -> list[Path]:
        """``src/``, and each folder holding a Django ``manage.py``: Django runs from there,
        so the project imports its modules by names relative to it. Another ``manage.py``
        (a Flask or click command-line module inside a package, as in lemur) says nothing
        of the import path."""
        if self._source_root_list is None:
            roots = [self.root / "src"] if (self.root / "src").is_dir() else []
            for pattern in ("*/manage.py", "*/*/manage.py"):
                for candidate in self.root.glob(pattern):
                    if _runs_django(candidate):
                        roots.append(candidate.parent)
            self._source_root_list = roots
        return self._source_root_list

    def _shadows_external(self, name: str) -> bool:
        top = name.split(".")[0]
        cached = self._external_cache.get(top)
        if cached is None:
            import importlib.util
            import sys

            cached = top in sys.stdlib_module_names or top in ("celery", "kombu", "django", "flask")
            if not cached:
                try:
                    spec = importlib.util.find_spec(top)
                except (ImportError, ValueError):
                    spec = None
                origin = spec.origin if spec is not None else None
                locations = list(spec.submodule_search_locations or []) if spec is not None else []
                paths = [p for p in [origin, *locations] if p]
                cached = spec is not None and not any(str(self.root) in str(p) for p in paths)
            self._external_cache[top] = cached
        return cached

    def module_names_by_path(self) -> dict[str, set[str]]:
        """File path to every dotted name the file is known under: its module name, the
        names it is imported under from source roots, and its aliases."""
        names: dict[str, set[str]] = {}
        for name, file in self.by_module.items():
            names.setdefault(str(file.path), set()).add(name)
        for file in self.files.values():
            bucket = names.setdefault(str(file.path), set())
            for candidate in (file.module, file.import_name):
                if candidate:
                    bucket.add(candidate)
        return names

    def find_module(self, name: str) -> SourceFile | None:
        return self.by_module.get(name)

    def summary_for(self, file: SourceFile) -> ModuleSummary | None:
        key = str(file.path)
        if key not in self._summaries:
            self._summaries[key] = self._summarise(file)
        return self._summaries[key]

    def _summarise(self, file: SourceFile) -> ModuleSummary | None:
        """The file's summary: kept from an earlier run of the same bytes (its tree becomes
        the file's), else parsed and scanned here (and kept for later runs)."""
        store = self.summary_store
        if store is None or file.in_memory or file.parsed:
            return scan_module(file)
        summary = store.load(file)
        if summary is not None:
            file.adopt_tree(summary.tree)
            return summary
        summary = scan_module(file)
        if summary is not None:
            store.save(summary)
        return summary

    def module_summary(self, name: str) -> ModuleSummary | None:
        file = self.find_module(name)
        return self.summary_for(file) if file is not None else None

    def parsed_summaries(self) -> Iterator[ModuleSummary]:
        for summary in list(self._summaries.values()):
            if summary is not None:
                yield summary

    def note_parsed_elsewhere(self, file: SourceFile) -> None:
        """Record that another process (a -j worker) parsed ``file`` for this model."""
        self._parsed_elsewhere.setdefault(str(file.path), file)

    def parsed_files(self) -> list[SourceFile]:
        """Every module this model's findings may depend on, parsed here or in a worker."""
        files = {str(s.file.path): s.file for s in self.parsed_summaries()}
        for key, file in self._parsed_elsewhere.items():
            files.setdefault(key, file)
        return list(files.values())

    def memo(self, key: Any, compute: Callable[[], _T]) -> _T:
        """Compute a project-wide fact once per built model (rules ask for them per file)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[no-any-return]

    def needs_analysis(self, file: SourceFile) -> bool:
        """Whether the prefilter would parse this file for the model."""
        data = file.read()
        if data is None:
            return False
        if not self.use_prefilter:
            return True
        # Asked again and again while classes are resolved (nautobot: 2,497 calls for 700
        # files). Patterns are only ever added: a match stays a match, and a miss holds until
        # the set grows. Keyed by the bytes object too, so content put in its place is searched.
        key = str(file.path)
        known = self._prefilter_answers.get(key)
        if known is not None and known[0] is data and (known[1] or known[2] == len(self.patterns)):
            return known[1]
        matched = self._matches(data)
        self._prefilter_answers[key] = (data, matched, len(self.patterns))
        return matched

    def _matches(self, data: bytes) -> bool:
        """Whether ``data`` holds any prefilter pattern."""
        if self._matcher_size != len(self.patterns):  # patterns are only ever added
            self._matcher_size = len(self.patterns)
            self._matcher = pattern_matcher(self.patterns)
        return self._matcher(data)
