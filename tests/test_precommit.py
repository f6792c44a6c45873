"""The pre-commit hooks of .pre-commit-hooks.yaml, run by the real pre-commit.

pre-commit builds a virtualenv and pip-installs this repository into it, so these tests
take tens of seconds each; every pre-commit call has a timeout so the file cannot hang.

Which code gets installed: ``pre-commit try-repo PATH`` installs the repository's HEAD
plus, through a temporary commit, its staged and modified *tracked* files (``git add -u``);
files git does not track yet (a new module) are left out. So the hooks are tried from a
snapshot: one commit of the working tree as it is on disk, every file git does not ignore
(``hook_repo``). try-repo always installs into a throw-away store of its own (it ignores
PRE_COMMIT_HOME); the tests that install once and reuse the environment use
``pre-commit run`` with a config naming the snapshot, under a PRE_COMMIT_HOME shared by
the module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BARE_TASK, CLEAN_TASK

ROOT = Path(__file__).resolve().parent.parent
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
TIMEOUT = 240

pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists() or shutil.which("git") is None, reason="needs pre-commit next to python, and git"
)

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
    )
    assert proc.returncode == 0, f"git {' '.join(args)}\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@dataclass(repr=False)
class PreCommitRun:
    returncode: int
    output: str
    args: list[str]

    def __repr__(self) -> str:
        return f"$ pre-commit {' '.join(self.args)}\n[exit {self.returncode}]\n{self.output}"


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def pre_commit(*args: str, cwd: Path, home: Path) -> PreCommitRun:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PRE_COMMIT", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "VIRTUAL_ENV"))
    }
    env.update(GIT_IDENTITY)
    env["PRE_COMMIT_HOME"] = str(home)
    env["PRE_COMMIT_COLOR"] = "never"
    proc = subprocess.run(
        [str(PRE_COMMIT), *args, "--color", "never"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )
    return PreCommitRun(proc.returncode, proc.stdout, list(args))


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One commit holding the repository's working tree (tracked, modified and untracked
    files; what .gitignore ignores stays out)."""
    snapshot = tmp_path_factory.mktemp("hook-repo")
    git("init", "-q", cwd=snapshot)
    work_tree = {"GIT_DIR": str(snapshot / ".git"), "GIT_WORK_TREE": str(ROOT)}
    git("add", "-A", cwd=ROOT, env=work_tree)
    git("commit", "-q", "--no-verify", "-m", "snapshot of the working tree", cwd=ROOT, env=work_tree)
    git("reset", "-q", "--hard", cwd=snapshot)
    assert (snapshot / ".pre-commit-hooks.yaml").is_file()
    assert (snapshot / "celery_lint" / "cli.py").is_file()
    return snapshot


def user_repo(root: Path, files: dict[str, str]) -> Path:
    """A git repository with a small project, committed."""
    root.mkdir(parents=True)
    git("init", "-q", cwd=root)
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "1"\n', "utf-8")
    for relpath, content in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, "utf-8")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "init", cwd=root)
    return root


PICKLE_TASK = """\
from celery import shared_task


@shared_task(time_limit=60, soft_time_limit=50, acks_late=True, ignore_result=True, serializer="pickle")
def export(rows):
    return len(rows)
"""


def test_try_repo_check_hook_fails_on_findings(
    tmp_path: Path, hook_repo: Path, pre_commit_home: Path
) -> None:
    repo = user_repo(tmp_path / "shop", {"app/__init__.py": "", "app/tasks.py": BARE_TASK})
    run = pre_commit("try-repo", str(hook_repo), "celery-lint", "--all-files", cwd=repo, home=pre_commit_home)
    assert run.returncode == 1, run
    assert "Traceback" not in run.output, run
    assert "celery-lint" in run.output and "Failed" in run.output, run
    assert "app/tasks.py:4:1: CEL201 " in run.output, run


def test_try_repo_fix_hook_fixes_and_fails_on_what_is_left(
    tmp_path: Path, hook_repo: Path, pre_commit_home: Path
) -> None:
    repo = user_repo(
        tmp_path / "shop",
        {"app/__init__.py": "", "app/tasks.py": BARE_TASK, "app/export.py": PICKLE_TASK},
    )
    run = pre_commit(
        "try-repo", str(hook_repo), "celery-lint-fix", "--all-files", cwd=repo, home=pre_commit_home
    )
    assert run.returncode == 1, run
    assert "Traceback" not in run.output, run
    assert "celery-lint (fix)" in run.output and "Failed" in run.output, run
    # The unsafe-only finding is reported; the safe fix (CEL103) is applied in place.
    assert "app/tasks.py:4:1: CEL201 " in run.output, run
    assert "CEL103" not in run.output, run
    assert 'serializer="json"' in (repo / "app" / "export.py").read_text("utf-8")
    assert (repo / "app" / "tasks.py").read_text("utf-8") == BARE_TASK


def test_try_repo_clean_project_passes(tmp_path: Path, hook_repo: Path, pre_commit_home: Path) -> None:
    """Without a hook id try-repo runs every hook of the manifest: both pass."""
    repo = user_repo(tmp_path / "shop", {"app/__init__.py": "", "app/tasks.py": CLEAN_TASK})
    run = pre_commit("try-repo", str(hook_repo), "--all-files", cwd=repo, home=pre_commit_home)
    assert run.returncode == 0, run
    assert "Traceback" not in run.output, run
    passed = [line for line in run.output.splitlines() if line.endswith("Passed")]
    assert len(passed) == 2, run
    assert (repo / "app" / "tasks.py").read_text("utf-8") == CLEAN_TASK


# --------------------------------------------------------------------------- one environment
CELERY_MODULE = """\
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")

app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
"""

SETTINGS = """\
INSTALLED_APPS = ["orders"]
CELERY_BROKER_URL = "redis://localhost:6379/0"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ACKS_LATE = True
"""

ORDER_TASKS = """\
from celery import shared_task


@shared_task(time_limit=60, soft_time_limit=50, ignore_result=True)
def ship(order_id):
    return order_id
"""


def _config(hook_repo: Path) -> str:
    rev = git("rev-parse", "HEAD", cwd=hook_repo).strip()
    return f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n      - id: celery-lint\n"


def test_changed_file_sees_project_settings(tmp_path: Path, hook_repo: Path, pre_commit_home: Path) -> None:
    """pre-commit passes only the changed file; the global CELERY_TASK_ACKS_LATE = True in
    the (unchanged) settings still silences CEL205. Removing it makes CEL205 fire. The
    hook environment is installed by the first run and reused by the second."""
    repo = user_repo(
        tmp_path / "shop",
        {
            "proj/__init__.py": "",
            "proj/celery.py": CELERY_MODULE,
            "proj/settings.py": SETTINGS,
            "orders/__init__.py": "",
            "orders/tasks.py": ORDER_TASKS,
        },
    )
    (repo / ".pre-commit-config.yaml").write_text(_config(hook_repo), "utf-8")
    git("add", ".pre-commit-config.yaml", cwd=repo)
    git("commit", "-q", "-m", "hooks", cwd=repo)
    home = pre_commit_home / "shared"
    run = pre_commit("run", "celery-lint", "--files", "orders/tasks.py", cwd=repo, home=home)
    assert run.returncode == 0, run
    assert "Installing environment" in run.output, run

    settings = repo / "proj" / "settings.py"
    settings.write_text(SETTINGS.replace("CELERY_TASK_ACKS_LATE = True\n", ""), "utf-8")
    git("commit", "-q", "-am", "early acks", cwd=repo)
    again = pre_commit("run", "celery-lint", "--files", "orders/tasks.py", cwd=repo, home=home)
    assert again.returncode == 1, again
    assert "orders/tasks.py:5:1: CEL205 " in again.output, again
    assert "Installing environment" not in again.output, "the environment is reused"
