"""Every example of ``docs/pytest.md`` (and of the README's section on the plugin) runs,
exactly as written, and passes (#15).

The page shows the project its examples test (the ``python`` blocks whose files are under
``proj/``) and the ini options (the ``ini`` block). Each other ``python`` block is one
pytest run (pytester, in process) in a folder holding that project, that ``pytest.ini`` and
the block's files: a ``# name.py`` line at the start of a line begins a file; a block
without one is ``test_example.py``. Every test of the run must pass, and at least one must
run. The project's broker is a Redis no test can reach: an example that publishes past the
fixtures fails.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from celery_pytester import forget_shared_tasks  # noqa: F401 (an autouse fixture)

pytest_plugins = ["pytester"]
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:celery")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "pytest.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
FILE_HEADER = re.compile(r"^# ([\w/]+\.py)\b.*\n", re.M)


def _blocks(lang: str, text: str | None = None) -> list[tuple[int, str]]:
    """The fenced blocks of the page (or ``text``) in ``lang``: (line of the fence, code)."""
    if text is None:
        text = DOCS.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, match.start()) + 1, match[2])
        for match in BLOCK.finditer(text)
        if match[1] == lang
    ]


def _files(code: str) -> dict[str, str]:
    """A block's files, by the ``# name.py`` lines that begin them."""
    headers = list(FILE_HEADER.finditer(code))
    if not headers:
        return {"test_example.py": code}
    assert not code[: headers[0].start()].strip(), f"code before the first file name:\n{code}"
    ends = [header.start() for header in headers[1:]] + [len(code)]
    return {header[1]: code[header.end() : end] for header, end in zip(headers, ends, strict=True)}


def _split() -> tuple[dict[str, str], list[tuple[int, dict[str, str]]]]:
    project: dict[str, str] = {}
    examples = []
    for line, code in _blocks("python"):
        files = _files(code)
        if all(name.startswith("proj/") for name in files):
            project.update(files)
        else:
            assert not any(name.startswith("proj/") for name in files), f"line {line}: project and test files"
            examples.append((line, files))
    return project, examples


def _readme_examples() -> list[tuple[str, dict[str, str]]]:
    """The examples of the README's section on the plugin (against the same project)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("\n### pytest\n") :]
    section = section[: section.index("\n### ", 1)]
    return [(f"README-{n}", _files(code)) for n, (_, code) in enumerate(_blocks("python", section))]


PROJECT, EXAMPLES = _split()
ALL_EXAMPLES: list[tuple[str, dict[str, str]]] = [
    *((f"line{line}", files) for line, files in EXAMPLES),
    *_readme_examples(),
]


def test_the_page_shows_its_project_and_ini_options() -> None:
    assert {"proj/__init__.py", "proj/celery.py", "proj/tasks.py"} <= set(PROJECT)
    [(_, ini)] = _blocks("ini")
    assert "celery_lint_app = proj.celery:app" in ini
    assert len(EXAMPLES) >= 10
    assert any(where.startswith("README") for where, _ in ALL_EXAMPLES)


@pytest.mark.parametrize(("where", "files"), ALL_EXAMPLES, ids=[where for where, _ in ALL_EXAMPLES])
def test_example_runs_as_written(pytester: pytest.Pytester, where: str, files: dict[str, str]) -> None:
    [(_, ini)] = _blocks("ini")
    pytester.makefile(".ini", pytest=ini)
    for name, code in {**PROJECT, **files}.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    pytester.syspathinsert()
    result = pytester.runpytest(*QUIET, "-rA")
    outcomes = result.parseoutcomes()
    ran = {key: value for key, value in outcomes.items() if key not in ("warnings", "warning")}
    listing = "\n".join(f"# {name}\n{textwrap.indent(code, '    ')}" for name, code in files.items())
    assert set(ran) == {"passed"} and result.ret == 0, f"{where}:\n{listing}\n{result.stdout.str()}"
