"""The flake8 front end: ``flake8 --select CEL``.

flake8 calls the plugin once per file, in several processes with ``-j``. The project
model is built lazily, once per process and project root, and shared by every file the
process checks. flake8 applies ``# noqa`` and ``--select``/``--ignore`` itself; opt-in
rules join its default ignore list, so ``--extend-select CEL206`` turns one on.

What the plugin keeps between files belongs to one :class:`Flake8Session`, made when
flake8 hands the plugin its options (once per run and process).

The plugin shares the CLI's result cache (:mod:`celery_lint.engine.one_file`): a file
whose project is unchanged since a run that checked it is answered without building the
model, and a process that built it writes what it found when it exits, for the next
flake8 or CLI run. ``--celery-lint-no-cache`` turns that off; ``CELERY_LINT_CACHE_DIR``
moves the cache, as for the CLI.

A project that cannot be (fully) checked must not pass as a clean one: a configuration
error (nothing of the project was checked) or a rule pack that could not be loaded gives
every file of the project a CEL900 error line at line 0, which no ``# noqa`` comment
reaches. When flake8's selection would drop CEL900 (``--select CEL201``), the run stops
with flake8's "critical error" and exit code 1 instead.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .interrupts import raise_if_interrupted
from .project.discovery import real_path
from .project.files import display_path
from .types import Kind, Violation
from .version import __version__

if TYPE_CHECKING:
    from .config import Settings
    from .engine import Engine
    from .engine.one_file import OneFileCache
    from .engine.remembered import CachedAnswers
    from .project.model import ProjectModel
    from .registry import RuleRegistry

    _FailureBase = Exception
else:
    try:  # flake8 prints an ExecutionError as a critical error and exits 1
        from flake8.exceptions import ExecutionError as _FailureBase
    except ImportError:  # pragma: no cover - flake8 is a dependency
        _FailureBase = Exception

ERROR_CODE = "CEL900"
"""The code of the error lines: the project could not be (fully) checked."""


class CeleryLintRunFailed(_FailureBase):
    """The project cannot be checked and flake8's selection would hide its error lines."""


class CeleryLintChecker:
    """flake8 plugin entry point (``CEL`` in ``flake8.extension``)."""

    name = "celery-lint"
    version = __version__
    _session: ClassVar[Flake8Session | None] = None
    _registry: ClassVar[RuleRegistry | None] = None
    _codes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, tree: Any, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, option_manager: Any) -> None:
        from .engine.remembered import known_rule_codes

        # Every flake8 run loads the plugin: the codes are remembered, not read from the
        # rules, which are imported only when a file is linted (see engine.remembered).
        known = known_rule_codes()
        if known is not None:
            cls._codes = known.codes
            option_manager.extend_default_ignore(list(known.opt_in))
        else:
            from .registry import RuleRegistry

            # Kept for the run's session: each catalogue of the rules costs its checks again.
            registry = cls._registry = RuleRegistry()
            # Recorded once the options say the cache is on (parse_options).
            rules = registry.rules
            cls._codes = tuple(r.CODE for r in rules)
            option_manager.extend_default_ignore([r.CODE for r in rules if not r.DEFAULT])
            # Installed rule packs' default rules run like the built-in ones, without a --select.
            prefixes = sorted({r.CODE[:-3] for r in rules if r.DEFAULT and not r.CODE.startswith("CEL")})
            if prefixes:
                option_manager.extend_default_select(prefixes)
        option_manager.add_option(
            "--celery-lint-no-cache",
            action="store_true",
            parse_from_config=True,
            help="celery-lint: do not read or write the result cache the CLI keeps",
        )

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        # flake8 lets an explicit --select beat its default ignore list, so ``--select CEL``
        # alone would turn every opt-in rule on; an opt-in rule runs only when named in full.
        named = [*(getattr(options, "select", None) or []), *(getattr(options, "extend_select", None) or [])]
        session = cls._session = Flake8Session({code.strip().upper() for code in named}, cls._registry)
        session.use_cache = not getattr(options, "celery_lint_no_cache", False)
        if session.use_cache and cls._registry is not None:
            from .engine.remembered import remember_rule_codes

            remember_rule_codes(cls._registry)
        cls._registry = None
        shown = _decider(options)
        # The run stops on an error only where the user asked for some of celery-lint's
        # codes: flake8 runs every installed plugin, also in runs that select none of them.
        session.errors_shown = shown(ERROR_CODE) or not any(
            shown(code) for code in cls._codes if code != ERROR_CODE
        )

    def run(self) -> Iterator[tuple[int, int, str, type[CeleryLintChecker]]]:
        if self.filename in ("stdin", "-") or not self.filename.endswith(".py"):
            return
        session = type(self)._session
        if session is None:  # flake8 always passes options first; a bare caller may not
            session = type(self)._session = Flake8Session(None)
        # Folders resolved through symbolic links, as every front end does (the project's
        # root is too): a file reached through a symlinked folder is the same module.
        try:
            for violation in session.check(real_path(self.filename), "".join(self.lines)):
                yield (violation.line, violation.column - 1, f"{violation.code} {violation.text}", type(self))
        except Exception as exc:  # Ctrl-C that a library's clean-up turned into an error stays Ctrl-C
            raise_if_interrupted(exc)
            raise


class Flake8Session:
    """The plugin's state for one flake8 run in one process: the rule packs, each
    project's root, model and engine, and the projects whose configuration error was shown."""

    def __init__(self, named: set[str] | None, registry: RuleRegistry | None = None) -> None:
        """``registry``: a fresh one with the installed rule packs (made when None)."""
        self.named = named
        """Codes named by --select/--extend-select (None: every rule runs)."""
        self.errors_shown = True
        """Whether flake8's selection shows CEL900 lines (or no celery-lint code at all);
        when not, an error stops the run."""
        self.use_cache = False
        """Whether the result cache is read and written (flake8 turns it on by default)."""
        self._registry = registry
        self._roots: dict[Path, Path] = {}
        self._remembered: dict[Path, CachedAnswers | None] = {}
        self._analyses: dict[Path, _Project | str] = {}
        self._pack_errors: dict[Path, list[str]] = {}
        self._saves_at_exit = False

    @property
    def registry(self) -> RuleRegistry:
        """The rule packs, loaded when a file is first checked the long way."""
        if self._registry is None:
            from .registry import RuleRegistry

            self._registry = RuleRegistry()
        return self._registry

    def check(self, path: Path, text: str) -> Iterator[Violation]:
        """The findings for the file at ``path`` with the content flake8 read, ``# noqa`` not applied."""
        root = self.root_of(path.parent)
        found = self._remembered_answer(root, path, text)
        if found is not None:
            yield from found
            return
        analysis = self.analysis_for(root)
        if isinstance(analysis, str):
            # Nothing of the project was checked: every file says so.
            yield self._error(path, f"celery-lint could not check this project: {analysis}")
            return
        for error in self._pack_errors.get(root, []):
            # The other rules ran, these did not: every file says so too.
            yield self._error(path, f"celery-lint: {error}")
        # A local pack's rules may import the pack's modules while they check.
        with self.registry.importable():
            cache = analysis.cache
            if cache is not None:
                found = cache.lookup(path, text)
                if found is None:
                    found = cache.lint(self.model_of(root, analysis), path, text)
                if found is not None:
                    yield from found
                    return
            model = self.model_of(root, analysis)
            file = model.add_file(path)
            if file.data is None or file.text != text:
                file.set_text(text)
            yield from analysis.engine.lint_file(model, file, parse_errors=False, apply_noqa=False)

    def _error(self, path: Path, text: str) -> Violation:
        """An error line for ``path``: at line 0, where no ``# noqa`` comment can silence it."""
        if not self.errors_shown:
            raise CeleryLintRunFailed(f"{path}: {text} (select {ERROR_CODE} to see it as an error line)")
        return Violation(str(path), 0, 1, ERROR_CODE, text, kind=Kind.CONFIG_ERROR)

    def _remembered_answer(self, root: Path, path: Path, text: str) -> list[Violation] | None:
        """The file's findings from the result cache through the project's remembered
        selection (no rule imported); None when that cannot answer, or once the long way
        was taken for the project (its answers then come from there)."""
        if not self.use_cache or self.named is None or root in self._analyses:
            return None
        if root not in self._remembered:
            from .engine.cache_store import chosen_cache_dir
            from .engine.remembered import CachedAnswers, remembered_selection

            cache_dir = chosen_cache_dir(None)
            selection = remembered_selection(root, self.named, cache_dir)
            self._remembered[root] = (
                CachedAnswers.for_selection(root, selection, cache_dir) if selection else None
            )
        answers = self._remembered[root]
        return answers.lookup(path, text, display_path(path)) if answers is not None else None

    def root_of(self, folder: Path) -> Path:
        """The project root of files in ``folder``, by the rule every front end follows
        (:mod:`celery_lint.project.roots`): the nearest project marker, else the current
        directory when the file is under it (the CLI's root for ``celery-lint .``), else the
        parent of the outermost package holding the file."""
        root = self._roots.get(folder)
        if root is None:
            from .project.roots import find_project_root

            root = self._roots[folder] = find_project_root(folder)
        return root

    def analysis_for(self, root: Path) -> _Project | str:
        """A project's settings, rules and cache, made once (the model is built when a file
        needs it); the error text when its configuration cannot be used."""
        known = self._analyses.get(root)
        if known is not None:
            return known
        # Imported on the first Python file: flake8 loads this module for every run, with
        # or without CEL selected.
        from .config import ConfigError
        from .engine import Engine, check_project_selectors, project_settings
        from .engine.cache_store import chosen_cache_dir
        from .engine.one_file import OneFileCache
        from .engine.remembered import config_digest

        # The file as it is before it is read: the selection is remembered for these bytes.
        config = config_digest(root) if self.use_cache and self.named is not None else None
        with self.registry.importable():
            try:
                settings = project_settings(self.registry, root, None)
                # flake8 does the selecting, but a selector the CLI refuses is still an error.
                check_project_selectors(self.registry, settings)
            except ConfigError as exc:
                sys.stderr.write(f"celery-lint: error: {exc}\n")
                self._analyses[root] = str(exc)
                return str(exc)
            self._pack_errors[root] = self.registry.errors_for(settings.plugins)
            for error in self._pack_errors[root]:
                sys.stderr.write(f"celery-lint: error: {error}\n")
        # flake8 does the selecting, so every rule runs. CEL900 is left to flake8's E999, and
        # CEL901 to flake8 itself: only flake8 knows which of its noqa comments were used.
        # Opt-in rules are reported only when named in full, so only those run. Another
        # project's local pack (loaded earlier in this process) does not apply here.
        named = self.named
        foreign = self.registry.foreign_packs(settings.plugins)
        pack_of = self.registry.pack_of
        chosen = [
            r
            for r in self.registry.rules
            if r.CODE not in ("CEL900", "CEL901")
            and (named is None or r.DEFAULT or r.CODE in named)
            and pack_of.get(r.CODE) not in foreign
        ]
        engine = Engine(
            chosen,
            settings.options,
            known_rules=self.registry.rules,
            extension_settings=self.registry.extension_settings,
        )
        cache = None
        if self.use_cache:
            with self.registry.importable():
                cache = OneFileCache(
                    root, settings, self.registry, chosen, chosen_cache_dir(None), self.named, config
                )
            self._save_at_exit()
        project = self._analyses[root] = _Project(settings, engine, cache)
        return project

    def model_of(self, root: Path, project: _Project) -> ProjectModel:
        """The project's model, built on first use and kept for the process."""
        if project.model is None:
            from .engine.summary_store import summary_store_for
            from .project.model import ProjectModel

            settings = project.settings
            # Summaries of unchanged modules are loaded, not parsed (an editor runs flake8 on
            # each save); --celery-lint-no-cache turns them off with the result cache.
            store = summary_store_for(root) if self.use_cache else None
            project.model = _built_model(
                ProjectModel(root, settings.exclude, deployment=settings.deployment, summaries=store)
            )
        return project.model

    def _save_at_exit(self) -> None:
        """Write what the process learned to the cache when it exits: once, whatever the
        number of files it checks (flake8's -j workers exit through multiprocessing, which
        runs these hooks, but not ``atexit``'s)."""
        if self._saves_at_exit:
            return
        self._saves_at_exit = True
        from multiprocessing.util import Finalize

        Finalize(None, self._save, exitpriority=10)

    def _save(self) -> None:
        for project in self._analyses.values():
            if not isinstance(project, str) and project.cache is not None:
                project.cache.save()


@dataclass
class _Project:
    """What the plugin knows of one project root in this process."""

    settings: Settings
    engine: Engine
    """The rules the plugin runs (flake8 does the selecting)."""
    cache: OneFileCache | None
    model: ProjectModel | None = None


def _decider(options: argparse.Namespace) -> Callable[[str], bool]:
    """Whether flake8's --select/--ignore (and their extend- forms) let a code through."""
    try:
        from flake8.style_guide import Decision, DecisionEngine

        engine = DecisionEngine(options)
        selected = Decision.Selected
        engine.decision_for(ERROR_CODE)
    except Exception:  # another flake8, or options made by hand: assume every code is shown
        return lambda code: True
    return lambda code: bool(engine.decision_for(code) is selected)


def _built_model(model: ProjectModel) -> ProjectModel:
    # Building allocates millions of nodes that all stay alive; with the cycle collector
    # on, its full collections would walk them again and again (the CLI runs with it off).
    collecting = gc.isenabled()
    gc.disable()
    try:
        model.build()
    finally:
        # The model lives as long as the flake8 process: keep later collections off it too.
        gc.freeze()
        if collecting:
            gc.enable()
    return model
