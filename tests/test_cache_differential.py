"""Differential test of the result cache: random edits and runs, each cached run compared
with a ``--no-cache`` run of the same command on the same files.

A small project (an app configured from a settings module, a task base class, a constants
module, task modules, a nested project under ``services/``) is edited at random: settings
set and unset, the base class's options, a constant, task modules added and removed, the
project's ``[tool.celery-lint]``, the nested project appearing and disappearing. After each
edit one command runs: the whole folder, a named file (as pre-commit does), a sub-folder,
the nested project; a few steps use ``-j 2`` (a process: workers are forked).

The flake8 plugin shares the cache (#16): a second test runs the real flake8 on one file
after each edit (with the plugin's cache and with ``--celery-lint-no-cache``), between CLI
runs that read and write the same entries.

Seeded (deterministic). ``CELERY_LINT_CACHE_FUZZ=N`` runs N sequences instead of the
default (``CELERY_LINT_CACHE_FUZZ_FLAKE8=N`` for flake8's); ``CELERY_LINT_CACHE_FUZZ_SEED``
changes the seed. A failure prints the sequence's steps so far, which replays it.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
from pathlib import Path

import pytest
from conftest import Run, copy_clean, run_cli
from test_flake8_plugin import Flake8Run, flake8

from celery_lint.cli import main

SEQUENCES = int(os.environ.get("CELERY_LINT_CACHE_FUZZ", "16"))
FLAKE8_SEQUENCES = int(os.environ.get("CELERY_LINT_CACHE_FUZZ_FLAKE8", "3"))
FLAKE8_STEPS = 6
STEPS = 12
SEED = int(os.environ.get("CELERY_LINT_CACHE_FUZZ_SEED", "14"))
JOBS_SEQUENCES = 2
"""The last step of the first sequences runs ``-j 2`` (in a process: workers are forked)."""

SELECT = "CEL201,CEL202,CEL205,CEL206,CEL101,CEL103,CEL900"


class Tree:
    """The project as a set of switches; :meth:`write` writes only the files that change."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state: dict[str, object] = {
            "time_limit": False,
            "acks_late": False,
            "serializer": False,
            "base_limit": False,
            "base_acks": False,
            "constant": "60",
            "extras": frozenset(),
            "config": "",
            "nested": True,
            "nested_limit": False,
            "noqa": False,
        }
        self.written: dict[str, str] = {}

    def files(self) -> dict[str, str]:
        s = self.state
        settings = ["BROKER = 'redis://'\n"]
        if s["time_limit"]:
            settings.append("CELERY_TASK_TIME_LIMIT = 300\n")
        if s["acks_late"]:
            settings.append("CELERY_TASK_ACKS_LATE = True\n")
        if s["serializer"]:
            settings.append("CELERY_TASK_SERIALIZER = 'pickle'\n")
        base = ["from celery import Task\n\n\nclass BaseTask(Task):\n"]
        base.append("    time_limit = 120\n" if s["base_limit"] else "    pass\n")
        if s["base_acks"]:
            base.append("    acks_late = True\n")
        out = {
            "pyproject.toml": str(s["config"]),
            "proj/__init__.py": "from .celery import app\n\n__all__ = ['app']\n",
            "proj/celery.py": (
                "from celery import Celery\n\n"
                "app = Celery('proj')\n"
                "app.config_from_object('proj.settings', namespace='CELERY')\n"
                "app.autodiscover_tasks()\n"
            ),
            "proj/settings.py": "".join(settings),
            "proj/base.py": "".join(base),
            "proj/constants.py": f"LIMIT = {s['constant']}\n",
            "proj/tasks.py": (
                "from celery import shared_task\n\n"
                "from .base import BaseTask\nfrom .constants import LIMIT\n\n\n"
                "@shared_task(base=BaseTask)\ndef one(x):\n    return x\n\n\n"
                "@shared_task(time_limit=LIMIT)\ndef two(x):\n    return x\n\n\n"
                "@shared_task\ndef three(x):"
                + ("  # noqa: CEL201\n" if s["noqa"] else "\n")
                + "    return x\n"
            ),
            "proj/util.py": "def helper():\n    return 1\n",
        }
        for name in sorted(s["extras"]):  # type: ignore[call-overload]
            out[f"proj/{name}.py"] = (
                "from celery import shared_task\n\nfrom .base import BaseTask\n\n\n"
                f"@shared_task(base=BaseTask)\ndef {name}_task():\n    pass\n"
            )
        if s["nested"]:
            out["services/svc/pyproject.toml"] = ""
        out["services/svc/worker.py"] = (
            "from celery import Celery\n\napp = Celery('svc')\n\n\n"
            + ("@app.task(time_limit=30)\n" if s["nested_limit"] else "@app.task\n")
            + "def ping():\n    return 'pong'\n"
        )
        return out

    def write(self) -> None:
        wanted = self.files()
        for relpath in set(self.written) - set(wanted):
            (self.root / relpath).unlink()
            del self.written[relpath]
        for relpath, text in wanted.items():
            if self.written.get(relpath) != text:
                path = self.root / relpath
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, "utf-8")
                self.written[relpath] = text

    def edit(self, rng: random.Random) -> str:
        s = self.state
        choice = rng.choice(
            [
                "time_limit",
                "acks_late",
                "serializer",
                "base_limit",
                "base_acks",
                "constant",
                "extra",
                "extra",
                "config",
                "nested",
                "nested_limit",
                "noqa",
                "touch",
            ]
        )
        if choice == "constant":
            s["constant"] = rng.choice(["60", "None", "90", "'x'"])
        elif choice == "extra":
            name = rng.choice(["extra_a", "extra_b", "extra_c"])
            s["extras"] = frozenset(s["extras"]) ^ {name}  # type: ignore[arg-type]
        elif choice == "config":
            s["config"] = rng.choice(
                [
                    "",
                    "[tool.celery-lint]\nexclude = ['proj/extra_a.py']\n",
                    "[tool.celery-lint]\ndeployment-settings = { task_acks_late = true }\n",
                    "[tool.celery-lint]\nper-file-ignores = { 'proj/tasks.py' = ['CEL205'] }\n",
                ]
            )
        elif choice == "touch":
            # Same content, new modification time: must change nothing.
            path = self.root / "proj" / "settings.py"
            os.utime(path, None)
            return "touch proj/settings.py"
        else:
            s[choice] = not s[choice]
        self.write()
        return f"{choice} -> {s[choice if choice != 'extra' else 'extras']!r}"

    def command(self, rng: random.Random) -> list[str]:
        existing = sorted(p for p in self.written if p.endswith(".py"))
        target = rng.choice(
            [
                ".",
                ".",
                ".",
                "proj",
                "services/svc",
                rng.choice(existing),
                rng.choice(existing),
                "proj/tasks.py",
            ]
        )
        extra = rng.choice([[], [], ["--format", "json"]])
        return ["--select", SELECT, *extra, target]


def run_in_process(cwd: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> Run:
    old = os.getcwd()
    os.chdir(cwd)
    try:
        capsys.readouterr()
        code = main(args)
        out, err = capsys.readouterr()
    finally:
        os.chdir(old)
    run = Run(code, out, err, args)
    assert "Traceback" not in err, run
    return run


def assert_same(cached: Run | Flake8Run, fresh: Run | Flake8Run, where: str, history: list[str]) -> None:
    assert (cached.returncode, cached.stdout) == (fresh.returncode, fresh.stdout), (
        f"{where}: the cached run differs\n"
        + "\n".join(history)
        + f"\n--- cached\n{cached!r}\n--- fresh\n{fresh!r}"
    )


def test_cached_runs_match_uncached_runs(
    tmp_path: Path, user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    monkeypatch.delenv("CELERY_LINT_CACHE_DIR", raising=False)
    rng = random.Random(SEED)
    compared = with_jobs = 0
    shared = tmp_path / "shared-cache"
    for sequence in range(SEQUENCES):
        root = tmp_path / f"seq{sequence}"
        root.mkdir()
        tree = Tree(root)
        tree.write()
        # Some sequences keep their cache in a folder all of them share (--cache-dir).
        cache_args = rng.choice([[], [], ["--cache-dir", str(shared)]])
        history: list[str] = []
        for step in range(STEPS):
            if step:  # the first run is on the project as made
                for _ in range(rng.choice([0, 1, 1, 2])):
                    history.append(tree.edit(rng))
            args = [*cache_args, *tree.command(rng)]
            if sequence < JOBS_SEQUENCES and step == STEPS - 1:
                args = ["-j", "2", *args[:-1], "."]
                with_jobs += 1
                cached = run_cli(*args, cwd=root)
                fresh = run_cli("--no-cache", *args, cwd=root)
            else:
                cached = run_in_process(root, args, capsys)
                fresh = run_in_process(root, ["--no-cache", *args], capsys)
            history.append(f"$ celery-lint {' '.join(args)}")
            compared += 1
            assert_same(cached, fresh, f"sequence {sequence} (seed {SEED}), step {step}", history)
    with capsys.disabled():
        print(
            f"cache differential: {SEQUENCES} sequences, {compared} cached runs compared "
            f"({with_jobs} with -j 2), 0 mismatches"
        )


# --------------------------------------------------------------------------- module summaries
STORE_LOG = "celery_lint.engine.summary_store"
STORE_LINE = re.compile(r"(\d+) modules loaded, (\d+) parsed, (\d+) saved")


def store_counts(caplog: pytest.LogCaptureFixture) -> tuple[int, int, int]:
    """Modules loaded from the summary store, parsed and saved, over the runs logged since
    the last call (every project of them)."""
    totals = [0, 0, 0]
    for record in caplog.records:
        match = STORE_LINE.search(record.getMessage()) if record.name == STORE_LOG else None
        if match:
            totals = [t + int(n) for t, n in zip(totals, match.groups(), strict=True)]
    caplog.clear()
    return totals[0], totals[1], totals[2]


def forget_results(tree: Path) -> None:
    """Remove every result cache file under ``tree``, keeping the summary stores: the next
    run builds each model again, from the summaries."""
    for results in tree.rglob(".celery_lint_cache/results-*.json"):
        results.unlink()


def _fixtures_with_summaries(
    tmp_path: Path, user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Path:
    """A copy of the fixtures in a repository of their own (``.parent``), each project's
    cache in its copy, with the summary store's counts logged for :func:`store_counts`."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    monkeypatch.delenv("CELERY_LINT_CACHE_DIR", raising=False)
    caplog.set_level(logging.DEBUG, logger=STORE_LOG)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "pyproject.toml").write_text("", "utf-8")
    return copy_clean(Path(__file__).resolve().parent.parent / "fixtures", repo / "fixtures")


def test_runs_from_module_summaries_match_uncached_runs(
    tmp_path: Path, user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every fixture project, as ``--format json``: a run that parses and saves every
    module's summary (cold), then a run that builds the model from the saved summaries
    (warm: the result cache removed), each byte-identical to a ``--no-cache`` run; the warm
    run parses no module (but those with a syntax error). Then the whole fixtures tree (several projects) and django_shop
    with ``-j 2`` (workers forked per project and per file), cold and warm."""
    from test_fixtures import PROJECTS

    fixtures = _fixtures_with_summaries(tmp_path, user_cache_dir, monkeypatch, caplog)
    repo = fixtures.parent
    loaded_total = 0
    for name in PROJECTS:
        folder = fixtures / name
        args = ["--format", "json", "."]
        fresh = run_cli("--no-cache", *args, cwd=folder)
        assert store_counts(caplog) == (0, 0, 0), f"{name}: --no-cache used the summary store"
        cold = run_cli(*args, cwd=folder)
        loaded, parsed, saved = store_counts(caplog)
        assert loaded == 0 and saved <= parsed, name
        forget_results(repo)  # (S11 has no marker: its root is the copy's)
        warm = run_cli(*args, cwd=folder)
        # Only a module that could not be parsed (no summary) is parsed again.
        assert store_counts(caplog) == (saved, parsed - saved, 0), f"{name}: a module was parsed again"
        loaded_total += saved
        for run in (cold, warm):
            assert (run.returncode, run.stdout, run.stderr) == (
                fresh.returncode,
                fresh.stdout,
                fresh.stderr,
            ), f"{name}\n--- with summaries\n{run!r}\n--- fresh\n{fresh!r}"
    assert loaded_total > 50
    for folder, target in ((repo, "fixtures"), (fixtures / "django_shop", ".")):
        for cache in folder.rglob(".celery_lint_cache"):
            shutil.rmtree(cache)
        args = ["-j", "2", "--format", "json", target]
        fresh = run_cli("--no-cache", *args, cwd=folder)
        cold = run_cli(*args, cwd=folder)
        assert list(folder.rglob(".celery_lint_cache/summaries/*.summary")), "-j 2 saved no summary"
        forget_results(folder)
        warm = run_cli(*args, cwd=folder)
        for run in (cold, warm):
            assert (run.returncode, run.stdout) == (fresh.returncode, fresh.stdout), (
                f"{target} -j 2\n--- with summaries\n{run!r}\n--- fresh\n{fresh!r}"
            )


def test_the_task_listing_uses_and_keeps_module_summaries(
    tmp_path: Path, user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``celery-lint tasks`` builds its model from the summaries lint runs keep, and keeps
    those it parses: every fixture project lists the same with ``--no-cache``, when it saves
    the summaries, and from them; a lint run after it parses nothing again."""
    from test_fixtures import PROJECTS

    fixtures = _fixtures_with_summaries(tmp_path, user_cache_dir, monkeypatch, caplog)
    loaded_total = 0
    for name in PROJECTS:
        folder = fixtures / name
        fresh = run_cli("tasks", "--no-cache", "--format", "json", cwd=folder)
        assert store_counts(caplog) == (0, 0, 0), f"{name}: tasks --no-cache used the summary store"
        cold = run_cli("tasks", "--format", "json", cwd=folder)
        loaded, parsed, saved = store_counts(caplog)
        assert loaded == 0 and saved <= parsed, name
        warm = run_cli("tasks", "--format", "json", cwd=folder)
        assert store_counts(caplog) == (saved, parsed - saved, 0), f"{name}: a module was parsed again"
        for run in (cold, warm):
            assert (run.returncode, run.stdout, run.stderr) == (
                fresh.returncode,
                fresh.stdout,
                fresh.stderr,
            ), name
        run_cli("--format", "json", ".", cwd=folder)
        lint_loaded, _, _ = store_counts(caplog)
        assert lint_loaded >= saved, f"{name}: the lint run parsed modules the listing kept"
        loaded_total += saved
    assert loaded_total > 50
    elsewhere = tmp_path / "elsewhere"
    run_cli("tasks", "--cache-dir", elsewhere, cwd=fixtures / "django_shop")
    assert list(elsewhere.glob("summaries/*.summary")), "--cache-dir was not used"


# --------------------------------------------------------------------------- the setting search
def _names_setting(tokens: frozenset[str], name: str, old: str | None) -> bool:
    """The match of ``names_setting_anywhere`` for one file's words."""
    upper = name.upper()
    if name in tokens or upper in tokens or (old is not None and old in tokens):
        return True
    return any(token.endswith("_" + upper) for token in tokens if token.isupper())


UTF7_SOURCE = b"# -*- coding: utf-7 -*-\nX = '+AFQ-ASK+AF8-TIME+AF8-LIMIT'\n"  # TASK_TIME_LIMIT


def test_the_byte_pre_check_never_skips_a_file_that_names_a_setting() -> None:
    """Before a file is tokenized, the search asks whether its bytes hold a spelling of the
    setting; on every fixture file and every setting name, skipping on that answer gives
    the search's result (the devcorpus run: 1,418,364 pairs, 0 differences)."""
    from celery_lint.project.setting_search import code_tokens, spells_words_as_ascii
    from celery_lint.settings_catalogue import load_catalogue

    catalogue = load_catalogue()
    names = sorted(set(catalogue.defaults))
    sources = [p.read_bytes() for p in sorted((Path(__file__).parent.parent / "fixtures").rglob("*.py"))]
    sources.append(UTF7_SOURCE)
    checked = 0
    for data in sources:
        tokens = code_tokens(data)
        for name in names:
            old = catalogue.new_to_old.get(name)
            spellings = [s.encode("ascii") for s in (name, name.upper(), old) if s is not None]
            if not any(s in data for s in spellings) and spells_words_as_ascii(data):
                assert not _names_setting(tokens, name, old), name
                checked += 1
    assert checked > 1000
    assert _names_setting(code_tokens(UTF7_SOURCE), "task_time_limit", None)
    assert not spells_words_as_ascii(UTF7_SOURCE)  # so that file is tokenized


FLAKE8_ARGS = (
    ("--select", "CEL,E9"),
    ("--select", "CEL,E9"),
    ("--select", "CEL", "--disable-noqa"),
    # An opt-in rule the project's selection leaves out: the plugin's own entry.
    ("--select", "CEL,E9", "--extend-select", "CEL206"),
)


def test_flake8_runs_match_uncached_runs(
    tmp_path: Path, user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    monkeypatch.delenv("CELERY_LINT_CACHE_DIR", raising=False)
    rng = random.Random(SEED + 1)
    compared = 0
    for sequence in range(FLAKE8_SEQUENCES):
        root = tmp_path / f"seq{sequence}"
        root.mkdir()
        tree = Tree(root)
        tree.write()
        history: list[str] = []
        for step in range(FLAKE8_STEPS):
            if step:
                for _ in range(rng.choice([0, 1, 1, 2])):
                    history.append(tree.edit(rng))
            if rng.random() < 0.4:  # the CLI reads and writes the same entries in between
                args = tree.command(rng)
                history.append(f"$ celery-lint {' '.join(args)}")
                run_in_process(root, args, capsys)
            target = rng.choice(["proj/tasks.py", "proj/tasks.py", "proj/settings.py", "proj/celery.py"])
            args = [*rng.choice(FLAKE8_ARGS), target]
            history.append(f"$ flake8 {' '.join(args)}")
            cached = flake8(*args, cwd=root)
            fresh = flake8("--celery-lint-no-cache", *args, cwd=root)
            compared += 1
            assert_same(cached, fresh, f"sequence {sequence} (seed {SEED + 1}), step {step}", history)
    with capsys.disabled():
        print(
            f"cache differential (flake8): {FLAKE8_SEQUENCES} sequences, {compared} runs compared, 0 mismatches"
        )
