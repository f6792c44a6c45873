"""Which project a file belongs to (shapes S10 and S11), as the command line shows it.

A project's root is the nearest folder with a marker (``pyproject.toml``, ``setup.cfg``,
``.git``, or a ``setup.py`` that calls setuptools' ``setup()``), never a package folder;
without a marker, the current directory when the file is under it, else the parent of the
outermost package holding the file. The fixtures shapes/s10_wizard_setup and
shapes/s11_no_marker show both shapes on every front end (tests/test_shapes.py); here the
forms of ``setup.py`` and the folders a run starts from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Project, Run, run_cli

CELERY_PY = """\
from celery import Celery

app = Celery("proj")
app.conf.broker_connection_retry_on_startup = True
app.conf.task_time_limit = 300
"""

SHARED_TASK = """\
from celery import shared_task


@shared_task
def ping():
    return 0
"""

# Forms of a packaging script: each makes its folder a project of its own.
PACKAGING_SCRIPTS = {
    "from-import": "from setuptools import setup\n\nsetup(name='lib')\n",
    "module": "import setuptools\n\nsetuptools.setup(name='lib')\n",
    "alias": "from distutils.core import setup as make\n\nmake(name='lib')\n",
    "dotted-module": "import distutils.core\n\ndistutils.core.setup(name='lib')\n",
    "star": "from setuptools import *\n\nsetup(name='lib')\n",
    "fallback": "try:\n    from setuptools import setup\nexcept ImportError:\n    from distutils.core import setup\n\nsetup(name='lib')\n",
    "in-main": "import setuptools as st\n\n\ndef main():\n    st.setup(name='lib')\n\n\nif __name__ == '__main__':\n    main()\n",
    "python-2": "from setuptools import setup\n\nprint 'building'\nsetup(name='lib')\n",
}

# Files named setup.py that are not packaging scripts: no project of their own.
OTHER_SETUP_SCRIPTS = {
    "wizard-view": "def setup(request):\n    return {'step': 'done'}\n\n\ndef restart(request):\n    return setup(request)\n",
    "django-setup": "import django\n\ndjango.setup()\n",
    "own-import": "from .wizard import setup\n\nsetup()\n",
    "no-call": "from setuptools import setup\n",
}


def inventory(run: Run) -> dict[str, Any]:
    assert run.returncode == 0, run
    data: dict[str, Any] = json.loads(run.stdout)
    return data


def time_limit_of(data: dict[str, Any], name: str) -> object:
    (task,) = [t for t in data["tasks"] if t["name"] == name or t["name"].endswith("." + name)]
    return task["options"]["time_limit"]["value"]


def nested(project: Project, folder: str, marker: str, content: str, module: str = "lib_tasks") -> None:
    """proj/ with its app (task_time_limit 300) and ``folder`` with ``marker`` and a shared task."""
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", CELERY_PY)
    project.write(f"{folder}/{marker}", content)
    project.write(f"{folder}/{module}.py", SHARED_TASK)


def test_a_packaging_setup_py_starts_a_project(project: Project) -> None:
    """Each vendor/<form>/ is a project of its own: its shared task does not see proj's app."""
    for form, content in PACKAGING_SCRIPTS.items():
        form = form.replace("-", "_")
        nested(project, f"vendor/{form}", "setup.py", content, f"{form}_tasks")
    data = inventory(project.run("tasks", "--format", "json"))
    limits = {form: time_limit_of(data, f"{form.replace('-', '_')}_tasks.ping") for form in PACKAGING_SCRIPTS}
    assert limits == dict.fromkeys(PACKAGING_SCRIPTS)


@pytest.mark.parametrize("package", [False, True], ids=["plain-folder", "package"])
def test_a_setup_py_that_is_no_packaging_script_splits_nothing(project: Project, package: bool) -> None:
    """scripts/<form>/ (or the package proj/<form>/) stays in the project: proj's app
    configuration reaches its shared task."""
    for form, content in OTHER_SETUP_SCRIPTS.items():
        form = form.replace("-", "_")
        folder = f"proj/{form}" if package else f"scripts/{form}"
        if package:
            project.write(f"{folder}/__init__.py", "")
        nested(project, folder, "setup.py", content, f"{form}_tasks")
    data = inventory(project.run("tasks", "--format", "json"))
    limits = {
        form: time_limit_of(data, f"{form.replace('-', '_')}_tasks.ping") for form in OTHER_SETUP_SCRIPTS
    }
    assert limits == dict.fromkeys(OTHER_SETUP_SCRIPTS, 300)


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.cfg", "setup.py"])
def test_no_marker_in_a_package_folder_splits_the_project(project: Project, marker: str) -> None:
    content = PACKAGING_SCRIPTS["from-import"] if marker == "setup.py" else ""
    project.write("proj/plugins/__init__.py", "")
    nested(project, "proj/plugins", marker, content)
    whole = inventory(project.run("tasks", "--format", "json"))
    assert time_limit_of(whole, "lib_tasks.ping") == 300
    # Named alone, the file is still in the enclosing project.
    alone = inventory(project.run("tasks", "--format", "json", "proj/plugins/lib_tasks.py"))
    assert time_limit_of(alone, "lib_tasks.ping") == 300


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.cfg"])
def test_a_marker_in_a_plain_folder_starts_a_project(project: Project, marker: str) -> None:
    nested(project, "services/lib", marker, "")
    data = inventory(project.run("tasks", "--format", "json"))
    assert time_limit_of(data, "lib_tasks.ping") is None


# ------------------------------------------------------------------ S11: no marker at all

JOBS_PY = """\
from shop.celery import app


@app.task
def export_orders(day):
    return day
"""


@pytest.fixture
def unmarked(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """shop/ (a package with its app and a task) in a folder with no marker above it."""
    request.getfixturevalue("unmarked_fixtures_copy")  # skips where /tmp is inside a project
    root = tmp_path / "context"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("", "utf-8")
    (root / "shop" / "celery.py").write_text(
        CELERY_PY.replace("task_time_limit = 300", "task_acks_late = True"), "utf-8"
    )
    (root / "shop" / "jobs.py").write_text(JOBS_PY, "utf-8")
    (tmp_path / "elsewhere").mkdir()
    return root


def findings(run: Run) -> list[tuple[str, int, str]]:
    assert run.returncode == 1, run
    return [(Path(path).as_posix(), line, code) for path, line, _, code in run.findings]


def test_without_a_marker_a_file_alone_is_linted_in_the_current_directory(unmarked: Path) -> None:
    """``celery-lint shop/jobs.py`` models what ``celery-lint .`` does: the task, its app's
    configuration (late acknowledgement), one CEL201."""
    whole = run_cli("--no-cache", "--select", "CEL201,CEL205", ".", cwd=unmarked)
    alone = run_cli("--no-cache", "--select", "CEL201,CEL205", "shop/jobs.py", cwd=unmarked)
    assert findings(whole) == findings(alone) == [("shop/jobs.py", 5, "CEL201")]
    assert "shop/celery.py" in alone.stdout


def test_without_a_marker_from_outside_the_root_is_the_outermost_package_parent(unmarked: Path) -> None:
    run = run_cli(
        "--no-cache",
        "--select",
        "CEL201,CEL205",
        unmarked / "shop" / "jobs.py",
        cwd=unmarked.parent / "elsewhere",
    )
    assert [(line, code) for _, line, code in findings(run)] == [(5, "CEL201")]
    data = inventory(
        run_cli("tasks", "--format", "json", unmarked / "shop" / "jobs.py", cwd=unmarked.parent / "elsewhere")
    )
    assert [t["name"] for t in data["tasks"]] == ["shop.jobs.export_orders"]
    assert data["tasks"][0]["options"]["acks_late"]["value"] is True


def test_without_a_marker_the_filesystem_root_is_never_the_project(unmarked: Path) -> None:
    """Run from ``/`` (a container's default working directory), a file with no marker
    above it is linted in its package's project, not with everything on the machine."""
    run = run_cli(
        "--no-cache",
        "--select",
        "CEL201,CEL205",
        unmarked / "shop" / "jobs.py",
        cwd=Path(unmarked.anchor),
        timeout=60,
    )
    assert [(line, code) for _, line, code in findings(run)] == [(5, "CEL201")]
    assert "task 'shop.jobs.export_orders'" in run.stdout
