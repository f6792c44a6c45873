"""The result cache for a front end that checks one file per call: the flake8 plugin.

An editor runs flake8 on the file it saves, one process per save, so the plugin shares the
CLI's cache instead of building the project model every time. The entry it reads and writes
is the one ``celery-lint FILE`` reads and writes (:class:`~.cache.ResultCache`: the same key,
the same checks, so any change to a file the entry depends on makes it miss). A hit answers
without building the model; on a miss the file is linted with the CLI's rules once the
model is built, so what is stored is what ``celery-lint FILE`` would store.

flake8 applies ``# noqa`` itself (and other plugins may look at what it silenced), so it is
given every finding, those a ``# noqa`` silenced too: the entry keeps them apart. When
flake8 runs a rule the CLI's selection leaves out (an opt-in rule named on flake8's command
line, a rule the project's ``ignore`` turns off), the CLI's entry cannot answer: the plugin
keeps an entry of its own beside it, with the rules it runs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ..config import Settings
from ..project.census import file_census, project_facts
from ..project.files import display_path
from ..project.model import ProjectModel
from ..registry import RuleRegistry
from ..rules.base import Rule
from ..types import Violation
from .cache import ResultCache, project_key
from .linter import Engine
from .remembered import CachedAnswers, remember_selection, selection_of
from .selection import engine_for

OWN_ENTRY = "flake8-results"
"""How the names of the plugin's own entries start (the CLI's start with ``results``)."""


class OneFileCache:
    """The cache entry of one project, as the flake8 plugin uses it in one process."""

    def __init__(
        self,
        root: Path,
        settings: Settings,
        registry: RuleRegistry,
        rules: Sequence[type[Rule]],
        cache_dir: Path | None,
        named: Collection[str] | None = None,
        config: str | None = None,
    ) -> None:
        """``rules``: those the plugin runs; ``cache_dir``: as the CLI's ``--cache-dir``;
        ``named``: the codes named on flake8's command line, when ``rules`` were chosen by
        them (the selection is then remembered, see :mod:`.remembered`); ``config``: the
        :func:`.remembered.config_digest` of the project taken before ``settings`` were read."""
        self.codes = frozenset(rule.CODE for rule in rules)
        # The project's own selection, as a run of ``celery-lint FILE`` makes it.
        shared = engine_for(registry, settings, None, (), ())
        kind = "results"
        if not self.codes <= set(shared.codes):
            kind = OWN_ENTRY
            shared = Engine(
                rules,
                settings.options,
                known_rules=registry.rules,
                extension_settings=registry.extension_settings,
            )
        self.engine = shared
        # flake8 has no --no-prefilter: the plugin's model always prefilters.
        self.cache = ResultCache(root, project_key(root, shared, settings, True), cache_dir, kind=kind)
        # Unbuilt: the files the model would be built from, to check the entry against.
        self._probe = ProjectModel(root, settings.exclude, deployment=settings.deployment)
        self.answers = CachedAnswers(self.cache, self.codes, self._probe)
        self._model: ProjectModel | None = None
        self._pending: list[tuple[Any, list[Violation], list[Violation], dict[str, Any]]] = []
        self._targets: dict[int, tuple[str, str] | None] = {}
        self._model_altered = False
        if named is not None and self.cache.usable and registry.builtin_only and not settings.plugins:
            selection = selection_of(rules, self.cache.key, kind, settings.exclude)
            remember_selection(root, named, cache_dir, selection, config)

    def lookup(self, path: Path, text: str) -> list[Violation] | None:
        """The findings of the file at ``path`` (``# noqa`` not applied) from the cache;
        None on a miss, or when ``text`` (what flake8 read) is not the file's content."""
        return self.answers.lookup(path, text, display_path(path))

    def lint(self, model: ProjectModel, path: Path, text: str) -> list[Violation] | None:
        """On a miss, with the project's model built: the file's findings as :meth:`lookup`
        gives them, kept for :meth:`save`. None when ``text`` is not the file's content:
        the caller then puts that text into the model, which no longer matches the files
        on disk, so nothing of this process is saved."""
        if not self.cache.usable:
            return None
        file = model.add_file(path)
        if file.text != text:
            self._model_altered = True
            return None
        silenced: list[Violation] = []
        found = self.engine.lint_file(model, file, named=True, suppressed=silenced)
        self._model = model
        self._pending.append((file, found, silenced, file_census(model, file, self._targets)))
        return self.answers.only_ours([*found, *silenced])

    def save(self) -> None:
        """Write what :meth:`lint` found, with what the model was built from; after hits
        alone, the stats of files the check read, so the next run need not read them."""
        model, pending = self._model, self._pending
        if self._model_altered:
            return
        unchanged = self.answers.unchanged
        if model is None or not pending:
            if unchanged and self.cache.learned_stats():
                self.cache.save()
            return
        self._pending = []
        cache = self.cache
        if unchanged is None:
            unchanged = self.answers.unchanged = cache.model_unchanged(self._probe)
        cache.remember_model(model, keep_previous=unchanged)
        cache.project = project_facts(model)
        for file, found, silenced, census in pending:
            cache.store(file, found, [file.relpath] * len(found), True, census, silenced)
        cache.save()
