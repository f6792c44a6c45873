"""The real-world shape projects (fixtures/shapes/sNN_*) on the other front ends.

tests/test_fixtures.py checks every project's ``# expect:`` comments on the command line.
Here each shape project must give exactly the same findings through

- flake8 on the whole project (``flake8 --select CEL``),
- flake8 file by file: each file passed alone, from the project's root (what an editor
  or pre-commit does); the union is the expectations,
- the pytest lint gate (``pytest --celery-lint``): a failing item for each file with
  findings, naming exactly that file's expected codes and lines, and no other failure.

The projects are discovered: a shape added to fixtures/shapes/ is covered at once. They run
on a copy with no project marker above it, so that a shape with no marker of its own (S11)
gets the root a user's checkout would: the folder the tools run from. To keep the suite
fast the runs are batched: one flake8 process for the projects with a marker and one per
project without (their root is the current directory), one process that calls flake8 once
per file, and pytest runs grouped the same way.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_fixtures import (
    FIXTURES,
    PROJECTS,
    Finding,
    describe,
    expected_findings,
    expected_in,
    has_own_marker,
    python_files,
)

SHAPES = [name for name in PROJECTS if name.startswith("shapes/")]

# One finding a line, fields separated by tabs (messages contain ':' and ',').
FLAKE8_FORMAT = "%(path)s\t%(row)d\t%(col)d\t%(code)s\t%(text)s"
FINDING_LINE = re.compile(r"^(?P<path>\S.*?):(?P<line>\d+):(?P<column>\d+): (?P<code>[A-Z]+[0-9]+) ")

# Calls flake8 (its command-line entry point) once per file, each from its project's root
# and with nothing kept between runs (flake8 hands the plugin new options, so it starts a
# new session): the same as one ``flake8`` process per file, without the start-up costs.
FILE_BY_FILE = textwrap.dedent(
    """
    import json, os, sys, tempfile
    from flake8.main import cli

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, (root, relpath) in enumerate(json.loads(sys.stdin.read())):
            os.chdir(root)
            report = os.path.join(tmp, f"{index}.txt")
            argv = ["--isolated", "--select", "CEL", "--jobs", "1", f"--format={FORMAT}",
                    f"--output-file={report}", relpath]
            code = cli.main(argv)
            with open(report, encoding="utf-8") as handle:
                runs.append([root, relpath, code, handle.read()])
    print(json.dumps(runs))
    """
).replace("{FORMAT}", FLAKE8_FORMAT.replace("\t", "\\t"))


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run(argv: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        argv,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        env=environment(),
    )
    shown = f"$ {' '.join(argv)}\n--- stdout\n{completed.stdout}--- stderr\n{completed.stderr}"
    assert "Traceback" not in completed.stderr, shown
    assert "celery-lint: error" not in completed.stderr, shown
    return completed


def flake8_findings(output: str) -> Iterator[tuple[str, Finding]]:
    """(the path as printed, finding) of each line of flake8 output in FLAKE8_FORMAT."""
    for line in output.splitlines():
        path, row, _, code, _ = line.split("\t", 4)
        yield Path(os.path.normpath(path)).as_posix(), ("", int(row), code)


@dataclass
class GateItem:
    """One failing ``celery-lint`` item of a pytest run: its findings as its text names them."""

    findings: set[tuple[str, int, str]] = field(default_factory=set)
    text: str = ""


@dataclass
class ShapeRuns:
    """What each front end reported for each shape project, run once for the module."""

    copy: Path
    whole: dict[str, set[Finding]] = field(default_factory=dict)
    by_file: dict[str, set[Finding]] = field(default_factory=dict)
    by_file_runs: dict[str, dict[str, set[Finding]]] = field(default_factory=dict)
    gate: dict[str, list[GateItem]] = field(default_factory=dict)
    """The failing items of each project."""
    gate_items: int = 0
    gate_failing: int = 0


def groups(copy: Path) -> list[tuple[Path, list[str]]]:
    """(folder to run from, projects to name) for each batch: the projects with a marker
    of their own together, each one without a marker alone, from its own folder."""
    marked = [name for name in SHAPES if has_own_marker(name)]
    batches = [(copy / "shapes", [Path(name).name for name in marked])] if marked else []
    batches += [(copy / name, ["."]) for name in SHAPES if not has_own_marker(name)]
    return batches


def project_of(copy: Path, cwd: Path, printed: str) -> tuple[str, str]:
    """(shape project, path relative to it) of a path printed by a run from ``cwd``."""
    absolute = (cwd / printed).resolve()
    relative = absolute.relative_to(copy.resolve()).as_posix()
    for name in SHAPES:
        if relative.startswith(name + "/"):
            return name, relative[len(name) + 1 :]
    raise AssertionError(f"{printed} (run from {cwd}) is in no shape project")


def flake8_whole(runs: ShapeRuns) -> None:
    for cwd, names in groups(runs.copy):
        completed = run(
            [
                sys.executable,
                "-m",
                "flake8",
                "--isolated",
                "--select",
                "CEL",
                f"--format={FLAKE8_FORMAT}",
                *names,
            ],
            cwd,
        )
        assert completed.returncode in (0, 1), completed.stderr
        for printed, (_, line, code) in flake8_findings(completed.stdout):
            name, relpath = project_of(runs.copy, cwd, printed)
            runs.whole.setdefault(name, set()).add((relpath, line, code))


def flake8_file_by_file(runs: ShapeRuns) -> None:
    jobs = [
        [str(runs.copy / name), path.relative_to(runs.copy / name).as_posix()]
        for name in SHAPES
        for path in python_files(runs.copy / name)
    ]
    completed = run([sys.executable, "-c", FILE_BY_FILE], runs.copy, stdin=json.dumps(jobs))
    assert completed.returncode == 0, completed.stderr
    for root, relpath, code, output in json.loads(completed.stdout):
        name = Path(root).relative_to(runs.copy).as_posix()
        found = {(printed, line, rule) for printed, (_, line, rule) in flake8_findings(output)}
        assert code == (1 if found else 0), (relpath, output)
        runs.by_file_runs.setdefault(name, {})[relpath] = found
        runs.by_file.setdefault(name, set()).update(found)


def pytest_gate(runs: ShapeRuns, report_dir: Path) -> None:
    for index, (cwd, names) in enumerate(groups(runs.copy)):
        report = report_dir / f"gate-{index}.xml"
        # No Python test collection: the gate's items only, no fixture code imported.
        completed = run(
            [
                sys.executable,
                "-m",
                "pytest",
                "--celery-lint",
                "-p",
                "no:python",
                "-p",
                "no:cacheprovider",
                "-q",
                f"--junitxml={report}",
                *([] if names == ["."] else names),
            ],
            cwd,
        )
        assert completed.returncode in (0, 1), completed.stdout + completed.stderr
        for case in ElementTree.parse(report).getroot().iter("testcase"):
            assert case.get("name") == "celery-lint", ElementTree.tostring(case)
            failure = case.find("failure")
            problem = case.find("error")
            assert problem is None, ElementTree.tostring(case)
            runs.gate_items += 1
            if failure is None:
                continue
            runs.gate_failing += 1
            item = GateItem(text=failure.text or "")
            paths = set()
            for line in item.text.splitlines():
                match = FINDING_LINE.match(line)
                if match:
                    name, relpath = project_of(runs.copy, cwd, match["path"])
                    paths.add(name)
                    item.findings.add((relpath, int(match["line"]), match["code"]))
            assert len(paths) == 1, f"a failing item whose text names no project, or several:\n{item.text}"
            runs.gate.setdefault(paths.pop(), []).append(item)


@pytest.fixture(scope="module")
def shape_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ShapeRuns:
    copy: Path = request.getfixturevalue("unmarked_fixtures_copy")
    runs = ShapeRuns(copy)
    flake8_whole(runs)
    flake8_file_by_file(runs)
    pytest_gate(runs, tmp_path_factory.mktemp("gate"))
    return runs


def test_every_shape_is_a_project() -> None:
    """Every folder of fixtures/shapes/ is linted here (and in test_fixtures.py)."""
    folders = {f"shapes/{p.name}" for p in (FIXTURES / "shapes").iterdir() if p.is_dir()}
    assert set(SHAPES) == folders
    assert not has_own_marker("shapes/s11_no_marker"), "S11 must have no marker of its own"


@pytest.mark.parametrize("name", SHAPES)
def test_flake8_whole_project(name: str, shape_runs: ShapeRuns) -> None:
    expected = expected_findings(FIXTURES / name)
    got = shape_runs.whole.get(name, set())
    assert got == expected, describe(expected, got)


@pytest.mark.parametrize("name", SHAPES)
def test_flake8_file_by_file(name: str, shape_runs: ShapeRuns) -> None:
    project = FIXTURES / name
    runs = shape_runs.by_file_runs[name]
    assert set(runs) == {p.relative_to(project).as_posix() for p in python_files(project)}
    for relpath, found in runs.items():
        # Each run reports the file it was given, and only it.
        expected = expected_in(project, project / relpath)
        assert found == expected, f"flake8 {relpath} (alone):\n" + describe(expected, found)
    expected = expected_findings(project)
    got = shape_runs.by_file[name]
    assert got == expected, describe(expected, got)


@pytest.mark.parametrize("name", SHAPES)
def test_pytest_gate(name: str, shape_runs: ShapeRuns) -> None:
    project = FIXTURES / name
    failing = shape_runs.gate.get(name, [])
    expected_files = {path for path, _, _ in expected_findings(project)}
    by_file: dict[str, GateItem] = {}
    for item in failing:
        files = {path for path, _, _ in item.findings}
        assert len(files) == 1, f"an item whose failure names no file, or several:\n{item.text}"
        (path,) = files
        assert path not in by_file, f"two failing items for {path}"
        by_file[path] = item
    assert set(by_file) == expected_files, f"failing items: {sorted(by_file)}"
    for path, item in by_file.items():
        expected = expected_in(project, project / path)
        assert item.findings == expected, f"{path}:\n{describe(expected, item.findings)}\n{item.text}"


def test_pytest_gate_collects_every_file(shape_runs: ShapeRuns) -> None:
    """One item per Python file of the shape projects; only the files with findings fail."""
    assert shape_runs.gate_items == sum(len(python_files(FIXTURES / name)) for name in SHAPES)
    with_findings = {(name, path) for name in SHAPES for path, _, _ in expected_findings(FIXTURES / name)}
    assert shape_runs.gate_failing == len(with_findings)
