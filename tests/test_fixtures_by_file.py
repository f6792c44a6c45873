"""The sample projects under ``fixtures/`` named file by file, as pre-commit names them:
each file with expectations gives exactly its own findings (the whole project is still
modelled), and the files without expectations are clean. Kept apart from
test_fixtures.py so that the two halves run in parallel (the suite distributes by file)."""

from __future__ import annotations

import pytest
from test_fixtures import FIXTURES, PROJECTS, describe, expected_in, project_copy, python_files, run_cli


def _files_with_expectations() -> list[tuple[str, str]]:
    cases = []
    for name in PROJECTS:
        project = FIXTURES / name
        for path in python_files(project):
            if expected_in(project, path):
                cases.append((name, path.relative_to(project).as_posix()))
    return cases


@pytest.mark.parametrize(("name", "relpath"), _files_with_expectations())
def test_single_file_matches_whole_project(name: str, relpath: str, request: pytest.FixtureRequest) -> None:
    """Linting one file still sees the whole project: the same findings for that file."""
    project = project_copy(name, request)
    code, got, _ = run_cli(project, relpath)
    expected = expected_in(project, project / relpath)
    assert got == expected, describe(expected, got)
    assert code == 1


@pytest.mark.parametrize("name", PROJECTS)
def test_files_without_expectations_are_clean(name: str, request: pytest.FixtureRequest) -> None:
    """The good part of each project, named file by file, has no findings."""
    project = project_copy(name, request)
    clean = [
        path.relative_to(project).as_posix()
        for path in python_files(project)
        if not expected_in(project, path)
    ]
    assert clean
    code, got, summary = run_cli(project, *clean)
    assert got == set(), describe(set(), got)
    assert summary["files_checked"] == len(clean)
    assert code == 0
