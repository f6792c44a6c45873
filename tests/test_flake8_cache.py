"""The flake8 plugin and the pytest gate share the CLI's result cache (issue #16).

An editor runs flake8 on the file it saves, one process per save: the plugin answers from
the cache entry of the file's project while nothing that entry depends on has changed,
and on a miss writes the entry ``celery-lint FILE`` would write. Every flake8 run is the
real flake8 in a subprocess, on a copy of ``fixtures/django_shop``; what it prints must be
what the plugin prints without the cache (``--celery-lint-no-cache``), byte for byte.

Where a test must know that an answer came from the cache, it marks the findings stored
in the entry (the entry sealed again with the user's secret, as this user's own runs
would write it): a run that answers from the entry prints the mark.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import LEFTOVERS, Run, run_cli
from test_cache_safety import edit_cache, user_secret
from test_flake8_plugin import FLAKE8_FORMAT, Flake8Run, flake8

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CACHE = ".celery_lint_cache"
TASKS = "orders/tasks.py"
ARGS = ("--select", "CEL,E9")
MARK = " [from the cache]"
FINDING_CODE = re.compile(r"[\t ]CEL\d{3}[\t ]")


@pytest.fixture(autouse=True)
def user_cache_home(user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The subprocesses inherit a temporary user cache home (the secret lives there)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    monkeypatch.delenv("CELERY_LINT_CACHE_DIR", raising=False)
    return user_cache_dir


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "django_shop", tmp_path / "django_shop", ignore=LEFTOVERS))


def entries(root: Path) -> list[Path]:
    """The result entries (not the plugin's record of the project's selection)."""
    return sorted(p for p in (root / CACHE).glob("*.json") if not p.name.startswith("flake8-selection-"))


def uncached(root: Path, *args: str) -> Flake8Run:
    return flake8(*ARGS, "--celery-lint-no-cache", *args, cwd=root)


def cached(root: Path, *args: str) -> Flake8Run:
    return flake8(*ARGS, *args, cwd=root)


def same(first: Flake8Run | Run, second: Flake8Run | Run) -> bool:
    return (first.returncode, first.stdout) == (second.returncode, second.stdout)


def mark_findings(entry: Path, home: Path, relpath: str) -> None:
    """Append MARK to the message of every finding the entry holds for ``relpath``."""

    def change(content: dict[str, Any]) -> None:
        for results in (content["results"], content["named_results"]):
            for found in results.get(relpath, {}).get("violations", []) + results.get(relpath, {}).get(
                "suppressed", []
            ):
                found["message"] += MARK

    edit_cache(entry, change, user_secret(home))


def cel_lines(run: Flake8Run | Run) -> list[str]:
    """The finding lines (flake8's, the CLI's, the pytest gate's)."""
    return [line for line in run.stdout.splitlines() if FINDING_CODE.search(line)]


def marked(run: Flake8Run | Run, reference: Flake8Run | Run) -> bool:
    """``run`` printed ``reference``'s findings, each with the mark of the cache."""
    lines = cel_lines(run)
    return (
        bool(lines)
        and all(MARK in line for line in lines)
        and [line.replace(MARK, "") for line in lines] == cel_lines(reference)
    )


# --------------------------------------------------------------------------- same answers
def test_cold_and_warm_runs_print_what_the_uncached_plugin_prints(shop: Path) -> None:
    reference = uncached(shop, TASKS)
    assert {"CEL201", "CEL205", "CEL401"} <= reference.codes(), reference
    assert not (shop / CACHE).exists(), "--celery-lint-no-cache wrote a cache"
    cold = cached(shop, TASKS)
    assert len(entries(shop)) == 1, "the first run keeps no entry"
    warm = cached(shop, TASKS)
    assert same(cold, reference), cold
    assert same(warm, reference), warm


def test_noqa_is_flakes8s_to_apply_also_from_the_cache(shop: Path) -> None:
    """The entry keeps the findings a ``# noqa`` silenced: ``--disable-noqa`` shows them."""
    reference = uncached(shop, "--disable-noqa", TASKS)
    assert any(line.split("\t")[1:4] == ["102", "1", "CEL201"] for line in reference.stdout.splitlines())
    cached(shop, TASKS)
    assert same(cached(shop, "--disable-noqa", TASKS), reference)
    assert same(cached(shop, TASKS), uncached(shop, TASKS))


def test_a_warm_run_answers_from_the_entry(shop: Path, user_cache_home: Path) -> None:
    cold = cached(shop, TASKS)
    [entry] = entries(shop)
    mark_findings(entry, user_cache_home, TASKS)
    warm = cached(shop, TASKS)
    assert marked(warm, cold), warm
    # Without the cache, the entry is neither read nor written.
    before = entry.read_bytes()
    assert same(uncached(shop, TASKS), cold)
    assert entry.read_bytes() == before


def test_whole_project_and_parallel_runs(shop: Path) -> None:
    reference = uncached(shop, "-j", "1", ".")
    for _ in range(2):  # cold, then warm
        assert same(cached(shop, "-j", "2", "."), reference)
    assert same(cached(shop, "-j", "1", "."), reference)


# --------------------------------------------------------------------------- never stale
def test_an_edited_task_module_is_checked_again(shop: Path) -> None:
    cached(shop, TASKS)
    before = cached(shop, TASKS)
    tasks = shop / TASKS
    tasks.write_text(
        tasks.read_text("utf-8").replace(
            "@shared_task(ignore_result=True)\ndef purge_abandoned_carts",
            "@shared_task(ignore_result=True, acks_late=True)\ndef purge_abandoned_carts",
        ),
        "utf-8",
    )
    after = cached(shop, TASKS)
    assert same(after, uncached(shop, TASKS))
    assert not same(after, before)
    assert same(cached(shop, TASKS), after)


def test_an_edited_settings_module_is_read_again(shop: Path) -> None:
    """The task module is unchanged; the settings its findings depend on are not."""
    before = cached(shop, TASKS)
    assert "CEL205" in before.codes()
    settings = shop / "shop" / "settings" / "base.py"
    settings.write_text(settings.read_text("utf-8") + "\nCELERY_TASK_ACKS_LATE = True\n", "utf-8")
    after = cached(shop, TASKS)
    assert "CEL205" not in after.codes(), after
    assert same(after, uncached(shop, TASKS))


def test_an_added_module_is_seen(shop: Path) -> None:
    """A module that no run has seen configures the app: the task module is unchanged."""
    assert "CEL205" in cached(shop, TASKS).codes()
    (shop / "shop" / "late.py").write_text(
        "from shop.celery import app\n\napp.conf.task_acks_late = True\n", "utf-8"
    )
    after = cached(shop, TASKS)
    assert "CEL205" not in after.codes(), after
    assert same(after, uncached(shop, TASKS))


def test_a_file_flake8_reads_otherwise_than_it_is_stored_is_never_cached(shop: Path) -> None:
    """flake8 reads with universal newlines: a file with CRLF line ends is not the text on
    disk, which the entry's findings were computed from. Such a file is checked as without
    the cache, and nothing the process found is written."""
    crlf = shop / "orders" / "crlf_tasks.py"
    crlf.write_bytes(b"from celery import shared_task\r\n\r\n\r\n@shared_task\r\ndef bare():\r\n    pass\r\n")
    reference = uncached(shop, "orders/crlf_tasks.py")
    assert {"CEL201", "CEL205"} <= reference.codes()
    for _ in range(2):
        assert same(cached(shop, "orders/crlf_tasks.py"), reference)
        assert entries(shop) == []


# --------------------------------------------------------------------------- shared with the CLI
def test_the_cli_then_flake8_share_the_entry(shop: Path, user_cache_home: Path) -> None:
    run_cli(".", cwd=shop)
    [entry] = entries(shop)
    mark_findings(entry, user_cache_home, TASKS)
    warm = cached(shop, TASKS)
    assert marked(warm, uncached(shop, TASKS)), warm
    assert entries(shop) == [entry]


def test_flake8_then_the_cli_share_the_entry(shop: Path, user_cache_home: Path) -> None:
    cached(shop, TASKS)
    assert same(run_cli(TASKS, cwd=shop), run_cli("--no-cache", TASKS, cwd=shop))
    [entry] = entries(shop)
    mark_findings(entry, user_cache_home, TASKS)
    assert marked(run_cli(TASKS, cwd=shop), run_cli("--no-cache", TASKS, cwd=shop))


def test_rules_outside_the_projects_selection_keep_an_entry_of_their_own(shop: Path) -> None:
    """The project ignores CEL205 and flake8 names an opt-in rule: the CLI's entry has
    neither, so the plugin keeps its own beside it, and both keep answering."""
    config = shop / "pyproject.toml"
    config.write_text(config.read_text("utf-8") + 'ignore = ["CEL205"]\n', "utf-8")
    for args in ((TASKS,), ("--extend-select", "CEL206", TASKS)):
        reference = uncached(shop, *args)
        assert "CEL205" in reference.codes()
        run_cli(".", cwd=shop)
        assert same(cached(shop, *args), reference)
        assert same(run_cli(".", cwd=shop), run_cli("--no-cache", ".", cwd=shop))
        assert same(cached(shop, *args), reference)
        assert [p.name.split("-")[0] for p in entries(shop)] == ["flake8", "results"]


def test_the_cache_folder_of_the_environment_is_used(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "kept-elsewhere"
    monkeypatch.setenv("CELERY_LINT_CACHE_DIR", str(elsewhere))
    reference = uncached(shop, TASKS)
    assert same(cached(shop, TASKS), reference)
    assert same(cached(shop, TASKS), reference)
    assert not (shop / CACHE).exists()
    assert len(list(elsewhere.glob("results-*.json"))) == 1


# --------------------------------------------------------------------------- the remembered selection
REPORT_RULE_IMPORTS = (
    "import sys\n"
    "from flake8.main.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "rules = sorted(name for name in sys.modules if name.startswith('celery_lint.rules.'))\n"
    "sys.stderr.write(f'rule modules imported: {len(rules)}\\n')\n"
    "sys.exit(status)\n"
)


def rule_modules_imported(root: Path, *args: str) -> tuple[Flake8Run, int]:
    """flake8 run as :func:`cached` runs it, and how many rule modules its process imported."""
    argv = [
        sys.executable,
        "-c",
        REPORT_RULE_IMPORTS,
        "--isolated",
        f"--format={FLAKE8_FORMAT}",
        *ARGS,
        *args,
    ]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.run(
        argv, cwd=root, capture_output=True, text=True, encoding="utf-8", timeout=120, env=env
    )
    *rest, last = proc.stderr.splitlines()
    count = int(last.rpartition(": ")[2])
    return Flake8Run(proc.returncode, proc.stdout, "\n".join(rest), argv[3:]), count


def test_a_warm_run_answers_without_importing_the_rules(shop: Path) -> None:
    """An editor's flake8 on an unchanged project: the plugin remembers the rule codes and
    the project's selection, so the answer comes from the entry with no rule imported."""
    reference = uncached(shop, TASKS)
    cached(shop, TASKS)
    warm, imported = rule_modules_imported(shop, TASKS)
    assert same(warm, reference), warm
    assert imported == 0
    # A miss (the task module edited) takes the long way, rules and all.
    tasks = shop / TASKS
    tasks.write_text(tasks.read_text("utf-8") + "\n# edited\n", "utf-8")
    edited, imported = rule_modules_imported(shop, TASKS)
    assert same(edited, uncached(shop, TASKS)), edited
    assert imported > 0
    again, imported = rule_modules_imported(shop, TASKS)
    assert same(again, edited) and imported == 0


def test_a_changed_configuration_is_not_answered_by_the_remembered_selection(
    shop: Path, user_cache_home: Path
) -> None:
    """The entry's key comes from ``[tool.celery-lint]``: a project whose deployment now
    acknowledges late must not be answered from the entry of the one that did not."""
    cached(shop, TASKS)
    [entry] = entries(shop)
    mark_findings(entry, user_cache_home, TASKS)
    assert marked(cached(shop, TASKS), uncached(shop, TASKS))
    config = shop / "pyproject.toml"
    config.write_text(
        config.read_text("utf-8") + "deployment-settings = { task_acks_late = true }\n", "utf-8"
    )
    after = cached(shop, TASKS)
    assert MARK not in after.stdout, after
    assert "CEL205" not in after.codes() and "CEL201" in after.codes(), after
    assert same(after, uncached(shop, TASKS))
    assert same(cached(shop, TASKS), after)


EDIT_WHILE_READ = """
import celery_lint.config as config

_read = config.read_pyproject


def read_then_edit(path):
    section = _read(path)
    with open(path, "a", encoding="utf-8") as file:
        file.write("deployment-settings = { task_acks_late = true }\\n")
    config.read_pyproject = _read
    return section


config.read_pyproject = read_then_edit
"""


def test_a_configuration_edited_while_it_is_read_is_not_remembered_for_the_new_content(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user saves pyproject.toml while flake8 runs: the selection made from the old
    content must not be remembered as that of the new one."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(EDIT_WHILE_READ, "utf-8")
    with monkeypatch.context() as during:
        during.setenv("PYTHONPATH", str(hook))
        cached(shop, TASKS)
    assert "task_acks_late = true" in (shop / "pyproject.toml").read_text("utf-8")
    after = cached(shop, TASKS)
    assert "CEL205" not in after.codes() and "CEL201" in after.codes(), after
    assert same(after, uncached(shop, TASKS))


def test_a_run_without_the_cache_writes_nothing(
    shop: Path, user_cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--celery-lint-no-cache`` keeps the user's cache folder as it was: no secret and no
    record of the rule codes are made, and nothing beside the project either."""
    fresh = tmp_path / "fresh-home"
    shutil.copytree(user_cache_home, fresh, ignore=shutil.ignore_patterns("secret", "rule-codes.json"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(fresh))
    user_cache_home = fresh
    uncached(shop, TASKS)
    uncached(shop)
    assert not (user_cache_home / "celery-lint" / "secret").exists()
    assert not (user_cache_home / "celery-lint" / "rule-codes.json").exists()
    assert not (shop / CACHE).exists()
    cached(shop, TASKS)
    assert (user_cache_home / "celery-lint" / "rule-codes.json").is_file()


def test_each_selection_on_flake8s_command_line_is_remembered_apart(shop: Path) -> None:
    """An opt-in rule named on the command line runs: the selection remembered for a run
    that did not name it does not answer for one that does, nor the other way round."""
    plain = uncached(shop, TASKS)
    with_opt_in = uncached(shop, "--extend-select", "CEL206", TASKS)
    assert "CEL206" in with_opt_in.codes() and "CEL206" not in plain.codes()
    for _ in range(2):
        assert same(cached(shop, TASKS), plain)
        assert same(cached(shop, "--extend-select", "CEL206", TASKS), with_opt_in)


def _selection_record(shop: Path, home: Path) -> Path:
    [record] = (shop / CACHE).glob("flake8-selection-*.json")
    return record


def _rule_codes_record(shop: Path, home: Path) -> Path:
    return home / "celery-lint" / "rule-codes.json"


def _junk(record: Path) -> None:
    record.write_bytes(b"\x00junk")


@pytest.mark.parametrize("record", [_selection_record, _rule_codes_record])
@pytest.mark.parametrize("corrupt", [_junk, Path.unlink])
def test_a_broken_record_of_the_selection_is_made_again(
    shop: Path, user_cache_home: Path, record: Callable[[Path, Path], Path], corrupt: Callable[[Path], Any]
) -> None:
    reference = uncached(shop, TASKS)
    cached(shop, TASKS)
    corrupt(record(shop, user_cache_home))
    again, imported = rule_modules_imported(shop, TASKS)
    assert same(again, reference) and again.stderr == "", again
    assert imported > 0, "a broken record answered"
    warm, imported = rule_modules_imported(shop, TASKS)
    assert same(warm, reference) and imported == 0, "the record was not made again"


# --------------------------------------------------------------------------- broken caches
def _garbage(entry: Path, home: Path) -> None:
    entry.write_bytes(b"\x00not a cache\xff")


def _cut_short(entry: Path, home: Path) -> None:
    entry.write_bytes(entry.read_bytes()[:200])


def _unsealed(entry: Path, home: Path) -> None:
    edit_cache(entry, lambda content: None, None)


def _wrong_types(entry: Path, home: Path) -> None:
    def change(content: dict[str, Any]) -> None:
        for found in content["named_results"].values():
            found["suppressed"] = "none"

    edit_cache(entry, change, user_secret(home))


def _emptied_folder(entry: Path, home: Path) -> None:
    entry.unlink()


@pytest.mark.parametrize("corrupt", [_garbage, _cut_short, _unsealed, _wrong_types, _emptied_folder])
def test_a_broken_entry_is_rebuilt_in_silence(
    shop: Path, user_cache_home: Path, corrupt: Callable[[Path, Path], None]
) -> None:
    reference = uncached(shop, TASKS)
    cached(shop, TASKS)
    [entry] = entries(shop)
    corrupt(entry, user_cache_home)
    again = cached(shop, TASKS)
    assert same(again, reference)
    assert again.stderr == "", again
    [rebuilt] = entries(shop)
    mark_findings(rebuilt, user_cache_home, TASKS)
    assert marked(cached(shop, TASKS), reference)


# --------------------------------------------------------------------------- the pytest gate
pytest_plugins = ["pytester"]
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")
BARE_TASK = "from celery import shared_task\n\n\n@shared_task\ndef bare():\n    pass\n"


def test_the_pytest_gate_shares_the_entry(pytester: pytest.Pytester, user_cache_home: Path) -> None:
    pytester.makepyprojecttoml("")
    pytester.makepyfile(tasks=BARE_TASK)
    reference = pytester.runpytest(*QUIET, "--celery-lint", "--celery-lint-no-cache")
    reference.assert_outcomes(failed=1)
    assert not (pytester.path / CACHE).exists(), "--celery-lint-no-cache wrote a cache"
    pytester.runpytest(*QUIET, "--celery-lint").assert_outcomes(failed=1)
    [entry] = entries(pytester.path)
    mark_findings(entry, user_cache_home, "tasks.py")
    warm = pytester.runpytest(*QUIET, "--celery-lint")
    warm.assert_outcomes(failed=1)
    # The failure report, not pytest's short summary (which repeats the message, cut or whole
    # depending on the terminal width).
    report = warm.outlines[: next(i for i, line in enumerate(warm.outlines) if "short test summary" in line)]
    found = [line for line in report if FINDING_CODE.search(line)]
    assert len(found) == 2 and all(MARK in line for line in found), warm.outlines
    # The CLI's run on the same file reads the same entry.
    assert all(MARK in line for line in run_cli("tasks.py", cwd=pytester.path).finding_lines)
    again = pytester.runpytest(*QUIET, "--celery-lint", "--celery-lint-no-cache")
    assert MARK not in again.stdout.str()
