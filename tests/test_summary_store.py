"""The store of module summaries (``.celery_lint_cache/summaries``): a module whose bytes
did not change is loaded, not parsed; the store is never read when anyone but this user
could have written it, and a bad entry only means the module is parsed again.

The refusal tests plant an entry whose unpickling makes a folder (what an attacker's entry
would do, harmlessly) and check that no run ever unpickles it; a control shows that the
same entry in a sound store is unpickled, so each refusal is what stops it.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import LEFTOVERS, Run, run_cli
from test_cache_differential import STORE_LOG, store_counts

from celery_lint.engine import summary_store
from celery_lint.engine.summary_store import SummaryStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
IS_ROOT = hasattr(os, "getuid") and os.getuid() == 0
ANOTHER_USER = 4242


@pytest.fixture(autouse=True)
def user_cache_home(
    user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    monkeypatch.delenv("CELERY_LINT_CACHE_DIR", raising=False)
    caplog.set_level(logging.DEBUG, logger=STORE_LOG)
    return user_cache_dir


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "django_shop", tmp_path / "django_shop", ignore=LEFTOVERS))


def lint(root: Path, *args: str) -> Run:
    return run_cli("--format", "json", *args, ".", cwd=root)


def store_of(root: Path) -> Path:
    return root / ".celery_lint_cache" / "summaries"


def entries(root: Path) -> list[Path]:
    return sorted(store_of(root).glob("*.summary"))


def forget_results(root: Path) -> None:
    for results in (root / ".celery_lint_cache").glob("results-*.json"):
        results.unlink()


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == STORE_LOG and "not used" in r.getMessage()]


class _MakesFolder:
    """Unpickled, it makes a folder: the stand-in for an attacker's code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return os.mkdir, (str(self.path),)


def plant(root: Path, marker: Path) -> int:
    """Replace every entry of the store by one that makes ``marker`` when unpickled, sealed
    with the store's own key (as celery-lint seals it)."""
    store = SummaryStore(root / ".celery_lint_cache", in_project=True)
    blob = zlib.compress(pickle.dumps(_MakesFolder(marker)))
    names = [entry.name for entry in entries(root)]
    for name in names:
        assert store.write_entry(name, blob)
    return len(names)


# --------------------------------------------------------------------------- what is parsed
def test_an_edited_module_is_parsed_again_and_the_others_are_loaded(
    shop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = lint(shop)
    _, parsed, saved = store_counts(caplog)
    assert saved == parsed > 5
    settings = shop / "shop" / "settings" / "base.py"
    settings.write_text(settings.read_text("utf-8") + "CELERY_TASK_TIME_LIMIT = 300\n", "utf-8")
    edited = lint(shop)
    # The edited module's old summary is not used: it is parsed, and its new summary saved.
    assert store_counts(caplog) == (saved - 1, 1, 1)
    fresh = lint(shop, "--no-cache")
    assert (edited.returncode, edited.stdout) == (fresh.returncode, fresh.stdout)
    assert edited.stdout != first.stdout  # (the global time limit silences findings)
    forget_results(shop)
    caplog.clear()
    again = lint(shop)
    assert store_counts(caplog) == (saved, 0, 0)
    assert again.stdout == fresh.stdout


def test_a_one_file_run_after_an_edit_parses_that_file_alone(
    shop: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What pre-commit does after a warm run: the edited file is parsed, every other module
    the model reads is loaded."""
    lint(shop)
    store_counts(caplog)
    tasks = shop / "payments" / "tasks.py"
    tasks.write_text(tasks.read_text("utf-8") + "# edited\n", "utf-8")
    run = run_cli("--format", "json", "payments/tasks.py", cwd=shop)
    loaded, parsed, saved = store_counts(caplog)
    assert (parsed, saved) == (1, 1) and loaded > 5
    fresh = run_cli("--no-cache", "--format", "json", "payments/tasks.py", cwd=shop)
    assert (run.returncode, run.stdout) == (fresh.returncode, fresh.stdout)


def test_content_given_in_memory_is_neither_looked_up_nor_kept(shop: Path) -> None:
    """A fix's new text, an editor's buffer: the store holds summaries of files on disk."""
    from celery_lint.project.model import ProjectModel

    lint(shop)
    store = SummaryStore(shop / ".celery_lint_cache", in_project=True)
    model = ProjectModel(shop, summaries=store)
    file = model.add_file(shop / "payments" / "tasks.py")
    file.set_text((file.text or "") + "X = 1\n")
    before = {entry.name for entry in entries(shop)}
    summary = model.summary_for(file)
    assert summary is not None and "X" in summary.bindings
    assert (store.loaded, store.parsed, store.saved) == (0, 0, 0)
    assert {entry.name for entry in entries(shop)} == before
    same = model.summary_for(model.add_file(shop / "payments" / "gateway.py"))
    assert same is not None and store.loaded == 1


def test_no_cache_never_reads_or_writes_the_store(shop: Path, caplog: pytest.LogCaptureFixture) -> None:
    lint(shop)
    marker = shop.parent / "unpickled"
    plant(shop, marker)
    before = _age_entries(shop)
    caplog.clear()
    for args in (["--no-cache"], ["--no-cache", "-j", "2"]):
        lint(shop, *args)
    assert store_counts(caplog) == (0, 0, 0)
    assert {entry.name for entry in entries(shop)} == before
    assert _touched_since(shop, 1_000_000_001) == 0
    assert not marker.exists()


def test_a_module_with_a_syntax_error_is_not_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = Path(shutil.copytree(FIXTURES / "broken_module", tmp_path / "broken", ignore=LEFTOVERS))
    first = lint(root)
    loaded, parsed, saved = store_counts(caplog)
    assert (loaded, parsed - saved) == (0, 1)
    forget_results(root)
    second = lint(root)
    assert store_counts(caplog) == (saved, 1, 0)
    assert "CEL900" in second.stdout and second.stdout == first.stdout


def _node_ids(tree: Any) -> set[int]:
    found: set[int] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        found.add(id(node))
        stack.extend(node.children)
    return found


def test_every_fixture_module_loads_as_it_was_parsed() -> None:
    """A loaded module is the parsed one: the same tree, node for node, and the same source
    when printed (its whitespace, comments and operators are shared between modules)."""
    from celery_lint.project.files import SourceFile
    from celery_lint.project.scan import ModuleSummary, scan_module

    checked = 0
    for path in sorted(FIXTURES.rglob("*.py")):
        file = SourceFile(path=path, relpath=path.name, module=path.stem, is_package=False)
        summary = scan_module(file)
        if summary is None:
            continue
        blob = summary_store._pickled(summary)
        assert blob is not None, path
        again = SourceFile(path=path, relpath=path.name, module=path.stem, is_package=False)
        loaded = summary_store._unpickled(again, blob)
        assert isinstance(loaded, ModuleSummary), path
        assert loaded.tree.deep_equals(summary.tree), path
        assert loaded.tree.bytes == path.read_bytes(), path
        # The summary's nodes are the loaded tree's own, as the rules compare them by identity.
        in_tree = _node_ids(loaded.tree)
        kept = [*loaded.functions.values(), *loaded.classes.values(), *loaded.decorated, *loaded.all_classes]
        kept += [node for node, _ in loaded.ordered]
        assert all(id(node) in in_tree for node in kept), path
        checked += 1
    assert checked > 100


# --------------------------------------------------------------------------- refusals
def _group_writable_folder(root: Path) -> None:
    store_of(root).chmod(0o770)


def _world_writable_folder(root: Path) -> None:
    store_of(root).chmod(0o703)


def _folder_of_another_user(root: Path) -> None:
    os.chown(store_of(root), ANOTHER_USER, ANOTHER_USER)


def _entries_group_writable(root: Path) -> None:
    for entry in entries(root):
        entry.chmod(0o664)


def _entries_of_another_user(root: Path) -> None:
    for entry in entries(root):
        os.chown(entry, ANOTHER_USER, ANOTHER_USER)


def _key_readable_by_others(root: Path) -> None:
    (store_of(root) / "key").chmod(0o644)


def _key_of_another_user(root: Path) -> None:
    os.chown(store_of(root) / "key", ANOTHER_USER, ANOTHER_USER)


def _folder_is_a_symbolic_link(root: Path) -> None:
    elsewhere = root.parent / "elsewhere"
    store_of(root).rename(elsewhere)
    store_of(root).symlink_to(elsewhere, target_is_directory=True)


UNSAFE: dict[str, Callable[[Path], None]] = {
    "the store folder is writable by its group": _group_writable_folder,
    "the store folder is writable by others": _world_writable_folder,
    "the store folder is another user's": _folder_of_another_user,
    "an entry is writable by its group": _entries_group_writable,
    "an entry is another user's": _entries_of_another_user,
    "the key file is readable by others": _key_readable_by_others,
    "the key file is another user's": _key_of_another_user,
    "the store folder is a symbolic link": _folder_is_a_symbolic_link,
}
NEEDS_ROOT = {
    "the store folder is another user's",
    "an entry is another user's",
    "the key file is another user's",
}


def test_a_planted_entry_in_a_sound_store_is_unpickled(shop: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The control of the refusal tests: a sealed entry is read. Its content is not a
    summary, so the module is parsed instead and the findings are right."""
    fresh = lint(shop, "--no-cache")
    lint(shop)
    marker = shop.parent / "unpickled"
    planted = plant(shop, marker)
    forget_results(shop)
    caplog.clear()
    run = lint(shop)
    assert marker.is_dir()
    assert store_counts(caplog)[:2] == (0, planted)
    assert (run.returncode, run.stdout) == (fresh.returncode, fresh.stdout)


@pytest.mark.parametrize("unsafe", sorted(UNSAFE))
def test_an_unsafe_store_is_not_read(shop: Path, caplog: pytest.LogCaptureFixture, unsafe: str) -> None:
    if unsafe in NEEDS_ROOT and not IS_ROOT:
        pytest.skip("needs root to give files away")
    fresh = lint(shop, "--no-cache")
    lint(shop)
    marker = shop.parent / "unpickled"
    plant(shop, marker)
    UNSAFE[unsafe](shop)
    forget_results(shop)
    caplog.clear()
    run = lint(shop)
    assert not marker.exists(), unsafe
    assert (run.returncode, run.stdout, run.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    # Said once, at debug level: the run itself is quiet about it.
    assert len(refusals(caplog)) == 1, caplog.records


@pytest.mark.parametrize("forger", ["the store's key alone", "another user's secret"])
def test_an_entry_whose_mac_does_not_verify_is_discarded(
    shop: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, forger: str
) -> None:
    """A store brought by an archive carries its key file, but not the user's secret: an
    entry sealed with the key alone (or under another user's secret) is deleted unread."""
    fresh = lint(shop, "--no-cache")
    lint(shop)
    marker = shop.parent / "unpickled"
    if forger == "another user's secret":
        own_home = os.environ["XDG_CACHE_HOME"]
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-home"))
        plant(shop, marker)
        monkeypatch.setenv("XDG_CACHE_HOME", own_home)
    else:
        key = (store_of(shop) / "key").read_bytes()
        blob = zlib.compress(pickle.dumps(_MakesFolder(marker)))
        for entry in entries(shop):
            entry.write_bytes(summary_store._tag(key, entry.name, blob) + blob)
    planted = len(entries(shop))
    forget_results(shop)
    caplog.clear()
    run = lint(shop)
    assert not marker.exists()
    assert (run.returncode, run.stdout) == (fresh.returncode, fresh.stdout)
    # Every entry was discarded and written again from the parse.
    assert store_counts(caplog) == (0, planted, planted)


@pytest.mark.parametrize("damage", ["cut short", "not a summary", "empty"])
def test_a_damaged_entry_falls_back_to_parsing_silently(
    shop: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    fresh = lint(shop, "--no-cache")
    lint(shop)
    store = SummaryStore(shop / ".celery_lint_cache", in_project=True)
    for entry in entries(shop):
        if damage == "cut short":
            entry.write_bytes(entry.read_bytes()[:200])
        elif damage == "not a summary":  # sealed, but garbage inside
            assert store.write_entry(entry.name, zlib.compress(b"garbage")[:-3])
        else:
            entry.write_bytes(b"")
    forget_results(shop)
    caplog.clear()
    run = lint(shop)
    assert (run.returncode, run.stdout, run.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    loaded, parsed, _ = store_counts(caplog)
    assert loaded == 0 and parsed > 5
    assert refusals(caplog) == []


def test_the_store_is_kept_under_its_size_limit(
    shop: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit, the entries used longest ago go (down to three quarters of it)."""
    lint(shop)
    store_of(shop).joinpath("old.summary").write_bytes(b"x" * 50_000)
    os.utime(store_of(shop) / "old.summary", (1_000_000_000, 1_000_000_000))
    kept = sum(entry.stat().st_size for entry in entries(shop)) - 50_000
    monkeypatch.setattr(summary_store, "MAX_STORE_BYTES", kept + 10_000)
    settings = shop / "shop" / "settings" / "base.py"
    settings.write_text(settings.read_text("utf-8") + "X = 1\n", "utf-8")
    lint(shop)
    assert not (store_of(shop) / "old.summary").exists()
    assert len(entries(shop)) > 5


# --------------------------------------------------------------------------- other front ends
def _touched_since(root: Path, moment: float) -> int:
    return sum(entry.stat().st_mtime > moment for entry in entries(root))


def _age_entries(root: Path) -> set[str]:
    for entry in entries(root):
        os.utime(entry, (1_000_000_000, 1_000_000_000))
    return {entry.name for entry in entries(root)}


def _subprocess(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


def test_flake8_on_one_file_loads_what_the_command_saved(shop: Path) -> None:
    lint(shop)
    forget_results(shop)  # else flake8 answers from the result cache, with no model at all
    before = _age_entries(shop)
    proc = _subprocess(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "CEL", "payments/tasks.py"], shop
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "CEL" in proc.stdout, proc.stdout
    # Every module flake8's model needed was loaded (its entry used), none parsed and saved.
    assert {entry.name for entry in entries(shop)} == before
    assert _touched_since(shop, 1_000_000_001) >= 5


def test_flake8_keeps_summaries_for_the_next_run(shop: Path) -> None:
    proc = _subprocess(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "CEL", "payments/tasks.py"], shop
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(entries(shop)) >= 5


def test_the_pytest_gate_loads_what_the_command_saved(shop: Path) -> None:
    lint(shop)
    forget_results(shop)
    before = _age_entries(shop)
    proc = _subprocess(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:python",
            "--celery-lint",
            ".",
        ],
        shop,
    )
    assert "celery-lint finding" in proc.stdout, proc.stdout + proc.stderr
    assert {entry.name for entry in entries(shop)} == before
    assert _touched_since(shop, 1_000_000_001) >= 5
