"""The result cache (``.celery_lint_cache/``) and ``-j``, seen from the command line.

The cache's promise: a cached run prints exactly what a ``--no-cache`` run prints on the
same files, whatever was edited in between. ``-j N``'s promise: the same bytes as ``-j 1``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BARE_TASK, LEFTOVERS, Project, Run, run_cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CACHE = ".celery_lint_cache"


def copy_fixture(name: str, dest: Path) -> Path:
    target = dest / Path(name).name
    shutil.copytree(FIXTURES / name, target, ignore=LEFTOVERS)
    return target


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return copy_fixture("django_shop", tmp_path)


def cached(cwd: Path, *args: str) -> Run:
    run = run_cli(*args, cwd=cwd)
    assert run.returncode in (0, 1), run
    return run


def uncached(cwd: Path, *args: str) -> Run:
    run = run_cli("--no-cache", *args, cwd=cwd)
    assert run.returncode in (0, 1), run
    return run


def assert_same(cached_run: Run, fresh_run: Run) -> None:
    assert (cached_run.returncode, cached_run.stdout) == (fresh_run.returncode, fresh_run.stdout), (
        f"the cached run differs from a --no-cache run\n--- cached\n{cached_run!r}\n--- fresh\n{fresh_run!r}"
    )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")


def git(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --------------------------------------------------------------------------- the folder
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_first_run_creates_a_git_ignored_cache_folder(project: Project) -> None:
    project.write("app/tasks.py", BARE_TASK)
    assert git("init", "-q", cwd=project.root).returncode == 0
    run = project.run(".")
    assert run.returncode == 1, run
    folder = project.root / CACHE
    assert folder.is_dir()
    gitignore = folder / ".gitignore"
    assert gitignore.is_file()
    assert "*" in [line.strip() for line in gitignore.read_text("utf-8").splitlines()]
    contents = [p for p in folder.iterdir()]
    assert len(contents) >= 2, contents
    # git sees nothing of the folder: not the results, not its own .gitignore.
    status = git("status", "--porcelain", "--untracked-files=all", cwd=project.root)
    assert status.returncode == 0, status.stderr
    assert CACHE not in status.stdout, status.stdout
    assert "app/tasks.py" in status.stdout
    for path in contents:
        ignored = git("check-ignore", "-q", str(path.relative_to(project.root)), cwd=project.root)
        assert ignored.returncode == 0, f"{path.name} is not ignored by git"


def test_second_run_gives_identical_output(shop: Path) -> None:
    first = cached(shop, ".")
    assert (shop / CACHE).is_dir()
    second = cached(shop, ".")
    assert (second.returncode, second.stdout, second.stderr) == (first.returncode, first.stdout, first.stderr)
    assert_same(second, uncached(shop, "."))


def test_no_cache_never_creates_the_folder(shop: Path) -> None:
    for args in (["."], ["--format", "json", "-j", "2", "."], ["--select", "CEL201", "orders/tasks.py"]):
        uncached(shop, *args)
    assert not (shop / CACHE).exists()


# --------------------------------------------------------------------------- invalidation
def test_settings_edit_changes_findings_of_an_untouched_file(shop: Path) -> None:
    """CELERY_TASK_ACKS_LATE = True in the settings (read through namespace="CELERY")
    silences CEL205 in orders/tasks.py, which is not edited."""
    before = cached(shop, ".")
    assert ("orders/tasks.py", 88, 1, "CEL205") in before.findings
    tasks_before = (shop / "orders" / "tasks.py").read_bytes()
    edit(
        shop / "shop" / "settings" / "base.py",
        "CELERY_TASK_SOFT_TIME_LIMIT = 50\n",
        "CELERY_TASK_SOFT_TIME_LIMIT = 50\nCELERY_TASK_ACKS_LATE = True\n",
    )
    after = cached(shop, ".")
    assert "CEL205" not in {code for _, _, _, code in after.findings}, after
    assert (shop / "orders" / "tasks.py").read_bytes() == tasks_before
    assert_same(after, uncached(shop, "."))
    # And back: the finding returns.
    edit(shop / "shop" / "settings" / "base.py", "CELERY_TASK_ACKS_LATE = True\n", "")
    assert_same(cached(shop, "."), before)


def test_task_edit_changes_its_findings(shop: Path) -> None:
    before = cached(shop, ".")
    assert ("orders/tasks.py", 88, 1, "CEL201") in before.findings
    edit(
        shop / "orders" / "tasks.py",
        "@shared_task(ignore_result=True)\ndef purge_abandoned_carts",
        "@shared_task(ignore_result=True, time_limit=600)\ndef purge_abandoned_carts",
    )
    after = cached(shop, ".")
    assert ("orders/tasks.py", 88, 1, "CEL201") not in after.findings, after
    assert ("orders/tasks.py", 88, 1, "CEL205") in after.findings, after
    assert_same(after, uncached(shop, "."))
    # Only one file named: the cache answers for it the same way.
    assert_same(cached(shop, "orders/tasks.py"), uncached(shop, "orders/tasks.py"))


LIMITED_TASK = """\
from celery import shared_task

from app.limits import TIME_LIMIT


@shared_task(time_limit=TIME_LIMIT, soft_time_limit=30, acks_late=True, ignore_result=True)
def limited():
    pass
"""


def test_edit_of_an_imported_constant_after_an_incremental_run(project: Project) -> None:
    """app/limits.py holds no Celery code, but the model reads TIME_LIMIT from it.

    Run 1 lints everything; run 2 re-lints only an edited unrelated module; then
    TIME_LIMIT changes. Run 3 must see the new value in the untouched tasks file.
    """
    project.write("app/__init__.py", "")
    project.write("app/limits.py", "TIME_LIMIT = None\n")
    project.write("app/other.py", "X = 1\n")
    project.write("app/tasks.py", LIMITED_TASK)
    first = cached(project.root, ".")
    assert [f[3] for f in first.findings] == ["CEL201"], first
    # Editing limits.py right away is noticed.
    project.write("app/limits.py", "TIME_LIMIT = 60\n")
    assert_same(cached(project.root, "."), uncached(project.root, "."))
    project.write("app/limits.py", "TIME_LIMIT = None\n")
    assert_same(cached(project.root, "."), first)
    # An edit elsewhere, then the constant.
    project.write("app/other.py", "X = 2\n")
    assert_same(cached(project.root, "."), first)
    project.write("app/limits.py", "TIME_LIMIT = 60\n")
    fresh = uncached(project.root, ".")
    assert fresh.findings == [], fresh
    assert_same(cached(project.root, "."), fresh)


def test_edit_of_an_imported_constant_after_a_parallel_run(project: Project) -> None:
    """The same dependency, first linted with -j 2 (enough files for two processes): only
    a worker reads app/limits.py. Editing it must still reach the cached tasks file."""
    project.write("app/__init__.py", "")
    project.write("app/limits.py", "TIME_LIMIT = None\n")
    project.write("app/tasks.py", LIMITED_TASK)
    for index in range(6):
        project.write(f"app/plain{index}.py", f"X = {index}\n")
    first = run_cli("-j", "2", ".", cwd=project.root, timeout=120)
    assert [f[3] for f in first.findings] == ["CEL201"], first
    project.write("app/limits.py", "TIME_LIMIT = 60\n")
    fresh = uncached(project.root, ".")
    assert fresh.findings == [], fresh
    assert_same(run_cli("-j", "2", ".", cwd=project.root, timeout=120), fresh)


def test_named_unparsable_file_after_a_whole_project_run(project: Project) -> None:
    """A file the user names is reported as CEL900 when it cannot be parsed (even where a
    folder walk skips it). A cached folder run must not answer for the named file."""
    project.write("app/__init__.py", "")
    project.write("app/tasks.py", BARE_TASK)
    project.write("app/util.py", "def f(:\n    pass\n")
    fresh = uncached(project.root, "app/util.py")
    assert [f[3] for f in fresh.findings] == ["CEL900"], fresh
    cached(project.root, ".")
    assert_same(cached(project.root, "app/util.py"), fresh)


def test_changing_the_selection_does_not_reuse_other_results(shop: Path) -> None:
    fresh: dict[tuple[str, ...], Run] = {}
    for args in (
        ("--select", "CEL201"),
        ("--select", "CEL205"),
        ("--select", "CEL201"),
        ("--extend-select", "CEL710", "--ignore", "CEL201"),
    ):
        if args not in fresh:
            fresh[args] = uncached(shop, *args, ".")
        assert_same(cached(shop, *args, "."), fresh[args])


# --------------------------------------------------------------------------- -j
def generated_project(project: Project, packages: int = 10) -> Project:
    """About 40 Python files: an app, settings, and per package tasks, models, helpers."""
    project.write("proj/__init__.py", "from .celery import app\n")
    project.write(
        "proj/celery.py",
        'from celery import Celery\n\napp = Celery("proj")\napp.config_from_object("proj.celeryconfig")\n',
    )
    project.write(
        "proj/celeryconfig.py",
        'broker_url = "redis://localhost:6379/0"\n'
        'result_backend = "redis://localhost:6379/1"\n'
        "task_soft_time_limit = 50\n"
        'accept_content = ["json", "pickle"]\n',
    )
    # Read on demand through an import: no Celery code in it.
    project.write("proj/limits.py", "HARD = 120\nNONE = None\n")
    for index in range(packages):
        package = f"pkg{index}"
        project.write(f"{package}/__init__.py", "")
        project.write(f"{package}/models.py", f"class Thing{index}:\n    count = {index}\n")
        project.write(f"{package}/helpers.py", f"def double(x):\n    return 2 * x + {index}\n")
        project.write(
            f"{package}/tasks.py",
            "from celery import shared_task\n"
            "from django.db.models import F\n"
            "\n"
            "from proj.celery import app\n"
            "from proj.limits import HARD, NONE\n"
            "\n"
            f"from .models import Thing{index}\n"
            "\n\n"
            f"@app.task(time_limit={'HARD' if index % 2 else 'NONE'}, acks_late=True)\n"
            f"def step_{index}(pk):\n"
            f"    Thing{index}.objects.filter(pk=pk).update(count=F('count') + 1)\n"
            "\n\n"
            "@shared_task\n"
            f"def bare_{index}():\n"
            "    pass\n"
            "\n\n"
            f"@shared_task(serializer='pickle', time_limit=HARD, ignore_result=True)\n"
            f"def export_{index}(rows):\n"
            "    return len(rows)\n",
        )
    return project


def test_parallel_output_is_byte_identical_on_the_shop(shop: Path) -> None:
    for fmt in ("text", "json"):
        serial = uncached(shop, "--format", fmt, "-j", "1", ".")
        parallel = run_cli("--no-cache", "--format", fmt, "-j", "2", ".", cwd=shop, timeout=120)
        assert (parallel.returncode, parallel.stdout, parallel.stderr) == (
            serial.returncode,
            serial.stdout,
            serial.stderr,
        ), f"--- -j 1\n{serial!r}\n--- -j 2\n{parallel!r}"


def test_parallel_output_is_byte_identical_on_40_files(project: Project) -> None:
    generated_project(project)
    serial = uncached(project.root, "-j", "1", ".")
    # The summary line, then hint lines (many tasks without a time limit share one app).
    (summary,) = [line for line in serial.lines if "files checked" in line]
    assert "(44 files checked; 1 app, 30 tasks)" in summary, serial
    assert len({f[0] for f in serial.findings}) >= 10, serial
    # pkg*/tasks.py read HARD/NONE from proj/limits.py, which only a worker parses.
    assert ("pkg0/tasks.py", 11, 1, "CEL201") in serial.findings, serial
    assert ("pkg1/tasks.py", 11, 1, "CEL201") not in serial.findings, serial
    parallel = run_cli("--no-cache", "-j", "2", ".", cwd=project.root, timeout=120)
    assert (parallel.returncode, parallel.stdout, parallel.stderr) == (
        serial.returncode,
        serial.stdout,
        serial.stderr,
    )
    # With the cache: the first parallel run fills it, the second reads it.
    for _ in range(2):
        with_cache = run_cli("-j", "2", ".", cwd=project.root, timeout=120)
        assert_same(with_cache, serial)


def test_jobs_zero_and_auto_are_accepted(shop: Path) -> None:
    serial = uncached(shop, ".")
    for value in ("0", "auto"):
        assert_same(run_cli("--no-cache", "-j", value, ".", cwd=shop, timeout=120), serial)


@pytest.mark.parametrize("value", ["-1", "abc", "1.5"])
def test_bad_job_counts_are_usage_errors(project: Project, value: str) -> None:
    project.write("app/tasks.py", BARE_TASK)
    run = project.run("--no-cache", "-j", value, ".")
    assert run.returncode == 2, run
    assert run.stdout == ""
    assert run.stderr_lines[-1].startswith("celery-lint: error: "), run
    assert "-j" in run.stderr_lines[-1] or "jobs" in run.stderr_lines[-1], run


def test_same_size_edit_of_an_old_file_is_seen(project: Project) -> None:
    """Unchanged size and modification time let the cache skip reading a file; an edit that
    keeps the size still changes the time, and the file is read and checked again."""
    limited = "from celery import shared_task\n\n\n@shared_task(time_limit=600)\ndef f():\n    pass\n"
    unlimited = limited.replace("time_limit=600", "tame_limit=600")
    assert len(unlimited) == len(limited)
    path = project.write("tasks.py", limited)
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))
    first = cached(project.root, ".", "--select", "CEL201")
    assert first.findings == [], first
    [results] = (project.root / ".celery_lint_cache").glob("results-*.json")
    # (The file's first line seals it: see test_cache_safety.py.)
    stats = json.loads(results.read_text("utf-8").partition("\n")[2])["stats"]
    assert "tasks.py" in stats  # trusted next time by its stat
    path.write_text(unlimited, "utf-8")
    os.utime(path, (hour_ago + 1, hour_ago + 1))
    second = cached(project.root, ".", "--select", "CEL201")
    assert [f[3] for f in second.findings] == ["CEL201"], second
    assert_same(second, uncached(project.root, ".", "--select", "CEL201"))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_setting_named_outside_the_parsed_modules_is_seen_after_a_cached_run(
    tmp_path: Path, jobs: str
) -> None:
    """An app that also reads configuration the repository cannot show (a runtime mapping):
    its unset settings are unset only while no file of the repository names them, so a
    file the model never parses (a YAML file, a module that never mentions Celery) changes
    the findings, and a cached run must see that."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "__init__.py").write_text("")
    (tmp_path / "proj" / "worker.py").write_text(
        "import json\nfrom celery import Celery\n\n"
        "app = Celery('proj', broker_connection_retry_on_startup=True)\n"
        "app.conf.update(json.load(open('/etc/proj/celery.json')))\n\n\n"
        "@app.task(acks_late=True)\ndef refresh(feed_id):\n    return feed_id\n"
    )
    before = cached(tmp_path, ".", "-j", jobs)
    assert ("proj/worker.py", 9, 1, "CEL201") in before.findings, before
    assert_same(cached(tmp_path, ".", "-j", jobs), before)
    (tmp_path / "deploy.yaml").write_text("task_time_limit: 300\n")
    after = cached(tmp_path, ".", "-j", jobs)
    assert "CEL201" not in {code for _, _, _, code in after.findings}, after
    assert_same(after, uncached(tmp_path, ".", "-j", jobs))
    (tmp_path / "deploy.yaml").unlink()
    (tmp_path / "proj" / "limits.py").write_text("TASK_TIME_LIMIT = 300\n")
    assert_same(cached(tmp_path, ".", "-j", jobs), uncached(tmp_path, ".", "-j", jobs))
