"""The pre-commit hooks of .pre-commit-hooks.yaml, run by the real pre-commit.

pre-commit builds a virtualenv and pip-installs this repository into it, which takes tens
of seconds: every test here shares one installed environment (``pre_commit_home``, for the
session), through a ``.pre-commit-config.yaml`` naming a snapshot of the repository at a
fixed revision (``hook_repo``: one commit of the working tree as it is on disk, every file
git does not ignore, so that modules git does not track yet are in). Under xdist a test
file runs in one process (``--dist loadfile``), so the environment is installed once: the
example rule pack's pre-commit test is here for that reason. Every pre-commit call has a
timeout so the file cannot hang.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import BARE_TASK, CLEAN_TASK, PRE_COMMIT, Run, git, hooks_config, pre_commit
from test_rule_packs import LOCAL_CONFIG, PAYMENTS, make_project, of

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.skipif(
        not PRE_COMMIT.exists() or shutil.which("git") is None,
        reason="needs pre-commit next to python, and git",
    ),
    pytest.mark.slow,
]


def user_repo(root: Path, files: dict[str, str], hooks: str) -> Path:
    """A git repository with a small project and the pre-commit configuration ``hooks``, committed."""
    root.mkdir(parents=True)
    git("init", "-q", cwd=root)
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\nversion = "1"\n', "utf-8")
    (root / ".pre-commit-config.yaml").write_text(hooks, "utf-8")
    for relpath, content in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, "utf-8")
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "init", cwd=root)
    return root


APP_WITHOUT_RETRY_SETTING = """\
from celery import Celery

app = Celery("shop", broker_url="redis://localhost")
"""


def test_check_hook_fails_on_findings(tmp_path: Path, hook_repo: Path, pre_commit_home: Path) -> None:
    repo = user_repo(
        tmp_path / "shop",
        {"app/__init__.py": "", "app/tasks.py": BARE_TASK},
        hooks_config(hook_repo, "celery-lint"),
    )
    run = pre_commit("run", "--all-files", cwd=repo, home=pre_commit_home)
    assert run.returncode == 1, run
    assert "Traceback" not in run.output, run
    assert "celery-lint" in run.output and "Failed" in run.output, run
    assert "app/tasks.py:4:1: CEL201 " in run.output, run


def test_fix_hook_fixes_and_fails_on_what_is_left(
    tmp_path: Path, hook_repo: Path, pre_commit_home: Path
) -> None:
    repo = user_repo(
        tmp_path / "shop",
        {"app/__init__.py": "", "app/tasks.py": BARE_TASK, "app/celery.py": APP_WITHOUT_RETRY_SETTING},
        hooks_config(hook_repo, "celery-lint-fix"),
    )
    run = pre_commit("run", "--all-files", cwd=repo, home=pre_commit_home)
    assert run.returncode == 1, run
    assert "Traceback" not in run.output, run
    assert "celery-lint (fix)" in run.output and "Failed" in run.output, run
    # The finding with an unsafe fix only is reported; the safe fix (CEL604) is applied in place.
    assert "app/tasks.py:4:1: CEL201 " in run.output, run
    assert "CEL604" not in run.output, run
    assert "broker_connection_retry_on_startup=True" in (repo / "app" / "celery.py").read_text("utf-8")
    assert (repo / "app" / "tasks.py").read_text("utf-8") == BARE_TASK


def test_every_hook_passes_on_a_clean_project(tmp_path: Path, hook_repo: Path, pre_commit_home: Path) -> None:
    manifest = (ROOT / ".pre-commit-hooks.yaml").read_text("utf-8")
    hook_ids = re.findall(r"^- id: (\S+)$", manifest, re.MULTILINE)
    assert sorted(hook_ids) == ["celery-lint", "celery-lint-fix"]
    repo = user_repo(
        tmp_path / "shop",
        {"app/__init__.py": "", "app/tasks.py": CLEAN_TASK},
        hooks_config(hook_repo, *hook_ids),
    )
    run = pre_commit("run", "--all-files", cwd=repo, home=pre_commit_home)
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


def test_changed_file_sees_project_settings(tmp_path: Path, hook_repo: Path, pre_commit_home: Path) -> None:
    """pre-commit passes only the changed file; the global CELERY_TASK_ACKS_LATE = True in
    the (unchanged) settings still silences CEL205. Removing it makes CEL205 fire."""
    repo = user_repo(
        tmp_path / "shop",
        {
            "proj/__init__.py": "",
            "proj/celery.py": CELERY_MODULE,
            "proj/settings.py": SETTINGS,
            "orders/__init__.py": "",
            "orders/tasks.py": ORDER_TASKS,
        },
        hooks_config(hook_repo, "celery-lint"),
    )
    home = pre_commit_home
    run = pre_commit("run", "celery-lint", "--files", "orders/tasks.py", cwd=repo, home=home)
    assert run.returncode == 0, run

    settings = repo / "proj" / "settings.py"
    settings.write_text(SETTINGS.replace("CELERY_TASK_ACKS_LATE = True\n", ""), "utf-8")
    git("commit", "-q", "-am", "early acks", cwd=repo)
    again = pre_commit("run", "celery-lint", "--files", "orders/tasks.py", cwd=repo, home=home)
    assert again.returncode == 1, again
    assert "orders/tasks.py:5:1: CEL205 " in again.output, again
    assert "Installing environment" not in again.output, "the environment is reused"


# --------------------------------------------------------------------------- a rule pack
@pytest.fixture(scope="module")
def pack_pre_commit_run(
    tmp_path_factory: pytest.TempPathFactory, hook_repo: Path, pre_commit_home: Path
) -> Run:
    """One ``pre-commit run --all-files`` of the celery-lint hook on a git repository that
    holds the example rule pack as a local pack (the hook's environment installs only
    celery-lint; test_rule_packs.py has the pack's other tests).

    The hook runs plain ``celery-lint``, so the project turns the pack on with
    ``extend-select`` (see test_default_pack_rule_runs_without_select for why)."""
    base = tmp_path_factory.mktemp("pre-commit")
    repo = make_project(base / "repo", LOCAL_CONFIG + 'extend-select = ["ACM"]\n', local_pack=True)
    (repo / ".pre-commit-config.yaml").write_text(hooks_config(hook_repo, "celery-lint"), "utf-8")
    git("init", "-q", cwd=repo)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "init", cwd=repo)
    run = pre_commit("run", "--all-files", cwd=repo, home=pre_commit_home)
    result = Run(run.returncode, run.output, "", ["pre-commit", *run.args])
    assert "Traceback" not in result.stdout, result
    return result


def test_pack_rule_fires_in_pre_commit(pack_pre_commit_run: Run) -> None:
    run = pack_pre_commit_run
    assert run.returncode == 1, run
    assert re.search(r"^celery-lint\.+Failed$", run.stdout, re.MULTILINE), run
    assert "celery-lint: error" not in run.stdout + run.stderr, run
    assert of(run, "ACM101") == {(PAYMENTS, 4)}, run


def test_noqa_works_in_pre_commit(pack_pre_commit_run: Run) -> None:
    run = pack_pre_commit_run
    # Line 12 was linted (its CEL201 is there) but its noqa comment for ACM101 held.
    assert (PAYMENTS, 12) in of(run, "CEL201"), run
    assert (PAYMENTS, 12) not in of(run, "ACM101"), run
