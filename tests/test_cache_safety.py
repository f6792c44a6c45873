"""The result cache never answers wrongly and is never a way in (issue #14).

- a cached finding is used only while every input of the model it came from is unchanged,
  also after a run on one named file (what pre-commit does);
- a local rule pack's helper modules are code the findings depend on;
- a cache that arrived with the checkout (committed, copied from another root, written by
  another user) is not trusted: the run rebuilds it and reports what is there;
- a malformed cache file is rebuilt, never a traceback;
- nothing is written or deleted through a symbolic link, in or as the cache folder;
- ``--cache-dir`` / ``CELERY_LINT_CACHE_DIR`` keep the cache outside the project.

Runs are in-process (``celery_lint.cli.main``); where a rule pack is imported, its modules
are forgotten between runs, as a new process would not have them. The user's cache home
(``XDG_CACHE_HOME``) is a temporary folder in every test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import BARE_TASK, LEFTOVERS, Project, Run

from celery_lint.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CACHE = ".celery_lint_cache"
HEADER = b"celery-lint-cache "


@pytest.fixture(autouse=True)
def user_cache_home(user_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = user_cache_dir
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv("CELERY_LINT_CACHE_DIR", raising=False)
    return home


@pytest.fixture
def lint(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``celery-lint ARGS`` in ``cwd``, in this process."""

    def run(cwd: Path, *args: str) -> Run:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        result = Run(code, out, err, list(args))
        assert "Traceback" not in err, result
        return result

    return run


def same_output(first: Run, second: Run) -> bool:
    return (first.returncode, first.stdout) == (second.returncode, second.stdout)


def results_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("results-*.json"))


def edit_cache(path: Path, change: Callable[[dict[str, Any]], None], secret: bytes | None) -> None:
    """Rewrite a cache file after ``change``: sealed again with ``secret`` (the format's first
    line is ``celery-lint-cache <keyed blake2b of the rest>``), or kept unsealed with None."""
    data = path.read_bytes()
    sealed = data.startswith(HEADER)
    payload = data.partition(b"\n")[2] if sealed else data
    content = json.loads(payload)
    change(content)
    payload = json.dumps(content).encode()
    if sealed and secret is not None:
        mac = hashlib.blake2b(payload, key=secret, digest_size=32).hexdigest().encode()
        data = HEADER + mac + b"\n" + payload
    elif sealed:
        data = HEADER + b"0" * 64 + b"\n" + payload
    else:
        data = payload
    path.write_bytes(data)


def user_secret(home: Path) -> bytes | None:
    path = home / "celery-lint" / "secret"
    return path.read_bytes() if path.is_file() else None


def no_findings(content: dict[str, Any]) -> None:
    for entry in content["results"].values():
        entry["violations"] = []


# --------------------------------------------------------------------------- stale results
def test_a_named_file_run_leaves_no_stale_results(tmp_path: Path, lint: Callable[..., Run]) -> None:
    """The setting is added (a folder run caches findings without CEL201), removed, one file
    is named (as pre-commit does), then the folder again: every task lacks a time limit."""
    shop = tmp_path / "django_shop"
    shutil.copytree(FIXTURES / "django_shop", shop, ignore=LEFTOVERS)
    settings = shop / "shop" / "settings" / "base.py"
    original = settings.read_text("utf-8")
    fresh = lint(shop, "--no-cache", ".")
    expected = [f for f in fresh.findings if f[3] == "CEL201"]
    assert len(expected) == 4, fresh
    settings.write_text(original + "\nCELERY_TASK_TIME_LIMIT = 600\n", "utf-8")
    assert "CEL201" not in {f[3] for f in lint(shop, ".").findings}
    settings.write_text(original, "utf-8")
    lint(shop, "shop/settings/base.py")
    for _ in range(2):
        again = lint(shop, ".")
        assert [f for f in again.findings if f[3] == "CEL201"] == expected, again
        assert same_output(again, fresh)


def test_an_edit_that_keeps_size_and_mtime_is_seen(tmp_path: Path, lint: Callable[..., Run]) -> None:
    """#14 review: an edit of the same size whose mtime is set back (``touch -d``, an
    archive, a sync tool) was taken as unchanged: the cached run kept 4 CEL201 findings
    where a fresh run has none. The inode's change time cannot be set back."""
    shop = tmp_path / "django_shop"
    shutil.copytree(FIXTURES / "django_shop", shop, ignore=LEFTOVERS)
    settings = shop / "shop" / "settings" / "base.py"
    original = settings.read_text("utf-8")
    old = "CELERY_TASK_SOFT_TIME_LIMIT = 50"
    new = "CELERY_TASK_TIME_LIMIT      = 50"
    assert old in original and len(old) == len(new)
    before = settings.stat()
    past = before.st_mtime_ns - 10_000_000_000
    os.utime(settings, ns=(past, past))  # older than the cache's racy-file window
    first = lint(shop, ".")
    assert len([f for f in first.findings if f[3] == "CEL201"]) == 4, first
    settings.write_text(original.replace(old, new), "utf-8")
    os.utime(settings, ns=(past, past))
    assert settings.stat().st_size == before.st_size
    fresh = lint(shop, "--no-cache", ".")
    assert "CEL201" not in {f[3] for f in fresh.findings}, fresh
    assert same_output(lint(shop, "."), fresh)


# --------------------------------------------------------------------------- rule pack code
PACK_INIT = """\
from celery_lint import hookimpl


@hookimpl
def celery_lint_rules():
    from .rule import NoQueue

    return [NoQueue]
"""

PACK_RULE = """\
from celery_lint import Invalid, Rule, Valid
from celery_lint.api import Known

from {helper} import EXPECTED


class NoQueue(Rule):
    \"\"\"
    ## What it does
    Checks that tasks use the house queue.

    ## Why is this bad?
    Other queues have no workers.

    ## Example
    ```python
    @shared_task(queue="elsewhere")
    def job(): ...
    ```

    ## Use instead
    ```python
    @shared_task(queue="house")
    def job(): ...
    ```
    \"\"\"

    CODE = "HSE101"
    NAME = "house-queue"
    MESSAGE = "task runs on {{queue}}, not {{expected}}"
    VALID = [Valid("from celery import shared_task\\n\\n@shared_task\\ndef job():\\n    pass\\n")]
    INVALID = [
        Invalid(
            "from celery import shared_task\\n\\n@shared_task(queue='x')\\ndef job():\\n    pass\\n",
            line=4,
            column=1,
        )
    ]

    def check(self):
        for task in self.project.tasks():
            queue = task.option("queue")
            if isinstance(queue, Known) and queue.value is not None and queue.value != EXPECTED:
                self.report(task.node, self.MESSAGE.format(queue=queue.value, expected=EXPECTED))
"""

QUEUED_TASK = "from celery import shared_task\n\n\n@shared_task(queue='house')\ndef job():\n    pass\n"


def forget_modules(*names: str) -> None:
    """What a new process would not have: the pack's modules imported by an earlier run."""
    for name in [m for m in sys.modules if m.split(".")[0] in names]:
        del sys.modules[name]


@pytest.mark.parametrize("helper", ["house_rules.constants", "house_constants"])
def test_a_local_rule_pack_helper_module_change_is_seen(
    project: Project, lint: Callable[..., Run], helper: str
) -> None:
    """The pack's rule imports its expected queue from a helper module: in the pack's package,
    or a module beside it at the project root."""
    project.config('[tool.celery-lint]\nplugins = ["house_rules"]\n')
    project.write("house_rules/__init__.py", PACK_INIT)
    project.write("house_rules/rule.py", PACK_RULE.format(helper=helper))
    helper_file = project.write(helper.replace(".", "/") + ".py", "EXPECTED = 'house'\n")
    project.write("app/tasks.py", QUEUED_TASK)
    args = ("--select", "HSE101", ".")
    try:
        first = lint(project.root, *args)
        assert (first.returncode, first.findings) == (0, []), first
        helper_file.write_text("EXPECTED = 'villa'  # changed\n", "utf-8")
        forget_modules("house_rules", "house_constants")
        cached = lint(project.root, *args)
        assert [f[3] for f in cached.findings] == ["HSE101"], cached
        forget_modules("house_rules", "house_constants")
        assert same_output(cached, lint(project.root, "--no-cache", *args))
    finally:
        forget_modules("house_rules", "house_constants")


# --------------------------------------------------------------------------- trust
def test_a_committed_cache_with_no_findings_is_not_trusted(
    project: Project, lint: Callable[..., Run], user_cache_home: Path
) -> None:
    """Someone commits a cache whose entries hold no findings: it cannot carry this user's
    seal, so the run rebuilds and reports the findings."""
    project.write("app/tasks.py", BARE_TASK)
    first = lint(project.root, ".")
    assert first.returncode == 1, first
    [results] = results_files(project.root / CACHE)
    edit_cache(results, no_findings, secret=None)
    again = lint(project.root, ".")
    assert same_output(again, first), again


def test_a_cache_sealed_by_another_user_is_not_trusted(
    tmp_path: Path,
    project: Project,
    lint: Callable[..., Run],
    user_cache_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attacker's own celery-lint sealed the file with the attacker's secret."""
    project.write("app/tasks.py", BARE_TASK)
    first = lint(project.root, ".")
    [results] = results_files(project.root / CACHE)
    edit_cache(results, no_findings, secret=user_secret(user_cache_home))
    # (With this user's secret the edited file would be trusted: the seal is what decides.)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-user"))
    again = lint(project.root, ".")
    assert same_output(again, first), again


def test_a_cache_copied_from_another_root_is_not_used(tmp_path: Path, lint: Callable[..., Run]) -> None:
    """The key holds the project's resolved root: a cache of the same project elsewhere (a
    copy, another checkout) answers nothing here, even sealed by the same user."""
    one = Project(tmp_path / "one")
    one.write("app/tasks.py", BARE_TASK)
    first = lint(one.root, ".")
    assert first.returncode == 1, first
    [results] = results_files(one.root / CACHE)
    secret = user_secret(Path(os.environ["XDG_CACHE_HOME"]))
    edit_cache(results, no_findings, secret=secret)
    two = tmp_path / "two"
    shutil.copytree(one.root, two, symlinks=True)
    again = lint(two, ".")
    assert same_output(again, first), again


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to give files away")
def test_a_cache_file_of_another_user_is_not_trusted(
    project: Project, lint: Callable[..., Run], user_cache_home: Path
) -> None:
    project.write("app/tasks.py", BARE_TASK)
    first = lint(project.root, ".")
    [results] = results_files(project.root / CACHE)
    edit_cache(results, no_findings, secret=user_secret(user_cache_home))
    os.chown(results, 4242, 4242)
    assert same_output(lint(project.root, "."), first)


# --------------------------------------------------------------------------- malformed
def _set(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(content: dict[str, Any]) -> None:
        target: Any = content
        for step in path[:-1]:
            target = target[step] if step != "*" else next(iter(target.values()))
        if path[-1] == "*":
            target[next(iter(target))] = value
        else:
            target[path[-1]] = value

    return change


MALFORMED = {
    "entry-a-list": _set("results", "*", value=[1, 2]),
    "violations-a-string": _set("results", "*", "violations", value="none"),
    "violation-missing-fields": _set("results", "*", "violations", value=[{"code": "CEL201"}]),
    "violation-bad-kind": _set(
        "results",
        "*",
        "violations",
        value=[{"path": "a", "line": 1, "column": 1, "code": "X", "message": "m", "kind": 7}],
    ),
    "census-tasks-wrong": _set("results", "*", "census", value={"apps": 0, "tasks": [[1]]}),
    "model-files-a-list": _set("model_files", value=["app/tasks.py"]),
    "all-files-numbers": _set("all_files", value=[1, 2]),
    "stats-short": _set("stats", value={"app/tasks.py": [1]}),
    "project-a-string": _set("project", value="x"),
    "patterns-wide": _set("patterns", value=["\u20ac"]),
    "results-null": _set("results", value=None),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_cache_entry_is_rebuilt_without_a_traceback(
    project: Project, lint: Callable[..., Run], user_cache_home: Path, name: str
) -> None:
    """The key is right and the seal too (a file this user's celery-lint could have left
    half-written by a bug): every field read is checked, and the run rebuilds."""
    project.write("app/tasks.py", BARE_TASK)
    project.write("app/other.py", "X = 1\n")
    first = lint(project.root, ".")
    assert first.returncode == 1, first
    [results] = results_files(project.root / CACHE)
    edit_cache(results, MALFORMED[name], secret=user_secret(user_cache_home))
    for _ in range(2):
        again = lint(project.root, ".")
        assert same_output(again, first), again
        assert again.stderr == first.stderr


# --------------------------------------------------------------------------- symbolic links
def test_a_symlinked_cache_folder_is_not_used(tmp_path: Path, lint: Callable[..., Run]) -> None:
    """``.celery_lint_cache`` committed as a link to another folder: nothing there is
    deleted or written; the run is right, with one warning line."""
    project = Project(tmp_path / "proj")
    project.write("app/tasks.py", BARE_TASK)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "results-precious.json").write_text("keep me\n")
    (project.root / CACHE).symlink_to(elsewhere, target_is_directory=True)
    fresh = lint(project.root, "--no-cache", ".")
    for _ in range(2):
        run = lint(project.root, ".")
        assert same_output(run, fresh), run
        assert [line for line in run.stderr_lines if "cache" in line] == [
            f"celery-lint: warning: {project.root / CACHE} is a symbolic link: the result cache is not used"
        ], run
    assert sorted(p.name for p in elsewhere.iterdir()) == ["results-precious.json"]
    assert (elsewhere / "results-precious.json").read_text() == "keep me\n"


def test_a_dangling_gitignore_link_creates_no_file(tmp_path: Path, lint: Callable[..., Run]) -> None:
    project = Project(tmp_path / "proj")
    project.write("app/tasks.py", BARE_TASK)
    (project.root / CACHE).mkdir()
    victim = tmp_path / "victim.txt"
    (project.root / CACHE / ".gitignore").symlink_to(victim)
    fresh = lint(project.root, "--no-cache", ".")
    run = lint(project.root, ".")
    assert same_output(run, fresh), run
    assert not victim.exists() and not victim.is_symlink()
    assert results_files(project.root / CACHE) == []  # the folder is not used at all
    assert len([line for line in run.stderr_lines if "cache" in line]) == 1, run


def test_a_results_file_link_is_neither_read_nor_written_through(
    tmp_path: Path, lint: Callable[..., Run]
) -> None:
    project = Project(tmp_path / "proj")
    project.write("app/tasks.py", BARE_TASK)
    first = lint(project.root, ".")
    [results] = results_files(project.root / CACHE)
    victim = tmp_path / "victim.json"
    victim.write_bytes(results.read_bytes())
    edit_cache(victim, no_findings, secret=user_secret(Path(os.environ["XDG_CACHE_HOME"])))
    before = victim.read_bytes()
    results.unlink()
    results.symlink_to(victim)
    run = lint(project.root, ".")
    assert same_output(run, first), run
    assert victim.read_bytes() == before
    assert not results.is_symlink()  # replaced by a file of its own


# --------------------------------------------------------------------------- --cache-dir
def test_cache_dir_keeps_the_project_clean_and_projects_apart(
    tmp_path: Path, lint: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared-cache"
    one = Project(tmp_path / "one")
    one.write("app/tasks.py", BARE_TASK)
    two = Project(tmp_path / "two")
    two.write("app/tasks.py", BARE_TASK.replace("bare", "other"))
    first_one = lint(one.root, "--cache-dir", str(shared), ".")
    monkeypatch.setenv("CELERY_LINT_CACHE_DIR", str(shared))
    first_two = lint(two.root, ".")
    assert len(results_files(shared)) == 2  # one each, neither removed the other's
    assert not (one.root / CACHE).exists() and not (two.root / CACHE).exists()
    # The cache answers (an entry emptied with this user's seal is served as it is) ...
    for results in results_files(shared):
        edit_cache(results, no_findings, secret=user_secret(Path(os.environ["XDG_CACHE_HOME"])))
    assert lint(one.root, ".").findings == []
    # ... and each project is still checked with its own entry.
    assert lint(two.root, "--no-cache", ".").stdout == first_two.stdout
    assert first_one.returncode == first_two.returncode == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_the_results_file_does_not_hang(tmp_path: Path, lint: Callable[..., Run]) -> None:
    project = Project(tmp_path / "proj")
    project.write("app/tasks.py", BARE_TASK)
    first = lint(project.root, ".")
    [results] = results_files(project.root / CACHE)
    results.unlink()
    os.mkfifo(results)
    assert same_output(lint(project.root, "."), first)
    assert results.is_file()  # replaced by a results file


# --------------------------------------------------------------------------- whole repository
# An app that reads configuration at run time: a setting no file of the repository names
# keeps Celery's default, so CEL201's finding rests on every file and configuration file.
RUNTIME_APP = 'import os\n\nfrom celery import Celery\n\napp = Celery("proj")\napp.conf.update(os.environ.get("CONF"))\n'
APP_TASK = "from proj.celery import app\n\n\n@app.task\ndef bare():\n    pass\n"


def runtime_project(project: Project) -> Project:
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", RUNTIME_APP)
    project.write("proj/tasks.py", APP_TASK)
    project.write("proj/util.py", "LIMIT = 5\n")
    return project


def codes(run: Run) -> set[str]:
    return {f[3] for f in run.findings}


def serve_empty(root: Path, home: Path) -> None:
    """Empty every cached finding (sealed as this user's): a run that prints none was
    answered from the cache."""

    def empty_both(content: dict[str, Any]) -> None:
        for entries in (content["results"], content["named_results"]):
            for entry in entries.values():
                entry["violations"] = []

    for results in results_files(root / CACHE):
        edit_cache(results, empty_both, secret=user_secret(home))


def test_a_runtime_configuration_project_is_served_from_the_cache(
    project: Project, lint: Callable[..., Run], user_cache_home: Path
) -> None:
    runtime_project(project)
    first = lint(project.root, ".")
    assert "CEL201" in codes(first), first
    serve_empty(project.root, user_cache_home)
    assert lint(project.root, ".").findings == []


@pytest.mark.parametrize(
    ("relpath", "content"),
    [
        ("proj/util.py", 'LIMIT = 5\nNAME = "task_time_limit"\n'),  # an edited file names it
        ("proj/names.py", "CELERY_TASK_TIME_LIMIT = 60\n"),  # a new file names it
        ("deploy/celery.yaml", "task_time_limit: 60\n"),  # a configuration file names it
    ],
)
def test_a_file_that_names_the_setting_invalidates_the_cache(
    project: Project, lint: Callable[..., Run], user_cache_home: Path, relpath: str, content: str
) -> None:
    runtime_project(project)
    assert "CEL201" in codes(lint(project.root, "."))
    project.write(relpath, content)
    fresh = lint(project.root, "--no-cache", ".")
    assert "CEL201" not in codes(fresh), fresh
    assert same_output(lint(project.root, "."), fresh)


def test_any_edit_of_a_runtime_configuration_project_rebuilds(
    project: Project, lint: Callable[..., Run], user_cache_home: Path
) -> None:
    """An edit that names no setting still changes an input of the search: rebuilt."""
    runtime_project(project)
    first = lint(project.root, ".")
    serve_empty(project.root, user_cache_home)
    project.write("proj/util.py", "LIMIT = 6\n")
    assert same_output(lint(project.root, "."), first)


def test_a_one_file_run_keeps_the_whole_project_entry(
    project: Project, lint: Callable[..., Run], user_cache_home: Path
) -> None:
    """pre-commit names one file: its findings are cached beside the folder walk's, and the
    next folder run is still answered from the cache."""
    runtime_project(project)
    lint(project.root, ".")
    serve_empty(project.root, user_cache_home)
    named = lint(project.root, "proj/tasks.py")
    assert "CEL201" in codes(named), named  # a named file is checked more: its own entry
    assert lint(project.root, ".").findings == []
    serve_empty(project.root, user_cache_home)
    assert lint(project.root, "proj/tasks.py").findings == []  # the named entry answers now
