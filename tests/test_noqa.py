"""``# noqa`` with flake8's semantics.

Three layers: the comment grammar (NoqaIndex against flake8's own regex and
``Violation.is_inline_ignored``), the logical-line mapping (NoqaIndex against flake8's
``FileProcessor`` on real files), and what a user sees from the CLI.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SELECT, Project, Run, run_cli
from flake8 import defaults as flake8_defaults
from flake8.processor import FileProcessor
from flake8.violation import Violation as Flake8Violation

from celery_lint import noqa as celery_noqa
from celery_lint.noqa import NoqaIndex

FLAKE8_OPTIONS = argparse.Namespace(
    hang_closing=False,
    indent_size=4,
    max_line_length=79,
    max_doc_length=None,
    verbose=0,
    disable_noqa=False,
    stdin_display_name="stdin",
)


def flake8_processor(path: Path) -> FileProcessor:
    return FileProcessor(str(path), FLAKE8_OPTIONS)


def flake8_suppresses(path: Path, line: int, code: str) -> bool:
    """What flake8 itself decides for a finding ``code`` reported on ``line`` of ``path``."""
    processor = flake8_processor(path)
    if processor.should_ignore_file():
        return True
    physical = processor.noqa_line_for(line)
    return Flake8Violation(code, str(path), line, 1, "message", physical).is_inline_ignored(False)


# --------------------------------------------------------------------------- the comment grammar
def test_same_expressions_as_flake8() -> None:
    assert celery_noqa.NOQA_INLINE.pattern == flake8_defaults.NOQA_INLINE_REGEXP.pattern
    assert celery_noqa.NOQA_INLINE.flags == flake8_defaults.NOQA_INLINE_REGEXP.flags
    assert celery_noqa.NOQA_FILE.pattern == flake8_defaults.NOQA_FILE.pattern
    assert celery_noqa.NOQA_FILE.flags == flake8_defaults.NOQA_FILE.flags


COMMENTS = [
    "# noqa",
    "# NOQA",
    "# NoQA",
    "#noqa",
    "# noqa:CEL201",
    "# noqa: CEL201",
    "# noqa:  CEL201",
    "# noqa : CEL201",
    "# noqa:CEL2",
    "# noqa: CEL",
    "# noqa: CEL20",
    "# noqa: CEL2015",
    "# NOQA: CEL101,CEL205",
    "# noqa: CEL101, CEL205",
    "# noqa: CEL101 CEL205",
    "# noqa:CEL101,,CEL201",
    "# noqa: cel201",
    "# noqa: Cel201",
    "# noqa: E501",
    "# noqa: E501,CEL2",
    "# noqa:CEL201 because the worker is killed by the platform",
    "# noqa - CEL201",
    "# noqa:,CEL201",
    "# type: ignore  # noqa: CEL201",
    "# pragma: no cover # NOQA:CEL201",
    "# not noqa",
    "# noqa-CEL201",
    "# no qa: CEL201",
    "# flake8: noqa: CEL201",
]
CODES = ["CEL201", "CEL205", "CEL101", "CEL103", "E501"]


@pytest.mark.parametrize("comment", COMMENTS)
def test_comment_grammar_matches_flake8(comment: str) -> None:
    line = f"def f():  {comment}\n"
    index = NoqaIndex(line)
    for code in CODES:
        expected = Flake8Violation(code, "x.py", 1, 1, "message", line).is_inline_ignored(False)
        assert index.suppresses(1, code) == expected, (comment, code)


def test_comment_inside_a_string_counts_like_flake8() -> None:
    line = 'def f(marker="# noqa: CEL201"):\n'
    expected = Flake8Violation("CEL201", "x.py", 1, 1, "message", line).is_inline_ignored(False)
    assert expected is True
    assert NoqaIndex(line).suppresses(1, "CEL201") is True
    assert NoqaIndex(line).suppresses(1, "CEL202") is False


FILE_LEVEL = [
    "# flake8: noqa\n",
    "# flake8:noqa\n",
    "# flake8=noqa\n",
    "# FLAKE8: NOQA\n",
    "    # flake8: noqa\n",
    "#flake8: noqa\n",
    "# flake8 noqa\n",
    "x = 1  # flake8: noqa\n",
    "# flake8: noqa: CEL201\n",
    "# flake8: noqa because generated\n",
]


@pytest.mark.parametrize("comment", FILE_LEVEL)
def test_file_level_noqa_matches_flake8(tmp_path: Path, comment: str) -> None:
    text = "from celery import shared_task\n" + comment + "\n@shared_task\ndef f():\n    pass\n"
    path = tmp_path / "mod.py"
    path.write_text(text, encoding="utf-8")
    expected = flake8_processor(path).should_ignore_file()
    assert NoqaIndex(text).file_disabled == expected
    assert NoqaIndex(text).suppresses(5, "CEL201") == flake8_suppresses(path, 5, "CEL201")


# --------------------------------------------------------------------------- logical lines
LOGICAL_TEXTS = {
    "multi-line call": (
        "from proj.tasks import add\n"
        "add.apply_async(\n"
        "    (1, 2),\n"
        "    serializer='pickle',\n"
        ")  # noqa: CEL103\n"
        "add.apply_async((1,), serializer='pickle')\n"
    ),
    "multi-line def": (
        "from celery import shared_task\n@shared_task\ndef f(\n    a,\n    b,\n):  # noqa: CEL201\n    pass\n"
    ),
    "decorator is its own logical line": (
        "from celery import shared_task\n"
        "@shared_task(  # noqa: CEL201\n"
        "    bind=True,\n"
        ")\n"
        "def f(self):\n"
        "    pass\n"
    ),
    "triple-quoted string": (
        "from celery import Celery\n"
        "app = Celery('proj')\n"
        "app.conf.task_serializer = {'a': '''\n"
        "text\n"
        "'''}['a'] or 'pickle'  # noqa: CEL101\n"
        "x = 1\n"
    ),
    "backslash continuation": (
        "from celery import shared_task\n@shared_task\ndef f(a, \\\n      b):  # noqa: CEL201\n    pass\n"
    ),
    "comment lines": (
        "# noqa: CEL201\n"
        "from celery import shared_task\n"
        "\n"
        "# a comment  # noqa\n"
        "@shared_task\n"
        "def f():\n"
        "    pass  # noqa: CEL201\n"
    ),
    "form feed": (
        "from celery import shared_task\n"
        "\x0c\n"
        "@shared_task  # noqa: CEL201\n"
        "def f():  # noqa: CEL205\n"
        "    pass\n"
        "\x0c\n"
        "@shared_task\n"
        "def g():  # noqa: CEL201\n"
        "    pass\n"
    ),
    "form feed in a comment": (
        "from celery import shared_task  # page\x0cbreak\n@shared_task\ndef f():  # noqa: CEL201\n    pass\n"
    ),
    "unicode line separator in a string": (
        "from celery import shared_task\n"
        "LABEL = 'a\u2028b\x1cc\x85d'\n"
        "@shared_task\n"
        "def f():  # noqa: CEL201\n"
        "    pass\n"
    ),
    "crlf": (
        "from celery import shared_task\r\n"
        "@shared_task\r\n"
        "def f(\r\n"
        "    a,\r\n"
        "):  # noqa: CEL201\r\n"
        "    pass\r\n"
    ),
    "tokenize error": (
        "from celery import shared_task\n@shared_task\ndef f():  # noqa: CEL201\n    x = (1,\n"
    ),
}


@pytest.mark.parametrize("name", list(LOGICAL_TEXTS))
def test_logical_line_mapping_matches_flake8(tmp_path: Path, name: str) -> None:
    text = LOGICAL_TEXTS[name]
    path = tmp_path / "mod.py"
    path.write_bytes(text.encode("utf-8"))
    physical_lines = text.count("\n") + 1
    mismatches = []
    for line in range(1, physical_lines + 1):
        for code in ("CEL201", "CEL205", "CEL101", "CEL103"):
            ours = NoqaIndex(text).suppresses(line, code)
            theirs = flake8_suppresses(path, line, code)
            if ours != theirs:
                mismatches.append(f"line {line} {code}: celery-lint {ours}, flake8 {theirs}")
    assert not mismatches, "\n".join(mismatches)


# --------------------------------------------------------------------------- the CLI
@dataclass
class Case:
    content: str | bytes
    raw: set[tuple[int, str]]
    """What the file gives without any suppression."""
    expected: set[tuple[int, str]]
    """What is left after flake8's noqa rules."""


TASK = "from celery import shared_task\n\n@shared_task\ndef f():{comment}\n    pass\n"
# A bare task: CEL201 (no limit at all, so no CEL202: one finding per cause) and CEL205.
BARE = {(4, "CEL201"), (4, "CEL205")}


def _task(comment: str) -> str:
    return TASK.format(comment=f"  {comment}" if comment else "")


CASES: dict[str, Case] = {
    "none": Case(_task(""), BARE, BARE),
    "blanket": Case(_task("# noqa"), BARE, set()),
    "one code": Case(_task("# noqa: CEL201"), BARE, {(4, "CEL205")}),
    "prefix": Case(_task("# noqa:CEL2"), BARE, set()),
    "prefix CEL20": Case(_task("# noqa: CEL20"), BARE, set()),
    "two codes upper NOQA": Case(_task("# NOQA: CEL101,CEL205"), BARE, {(4, "CEL201")}),
    "space separated": Case(_task("# noqa: CEL103 CEL205"), BARE, {(4, "CEL201")}),
    "another code": Case(_task("# noqa: CEL101"), BARE, BARE),
    "another tool": Case(_task("# noqa: E501"), BARE, BARE),
    "lower-case code": Case(_task("# noqa: cel201"), BARE, BARE),
    "with a reason": Case(_task("# noqa: CEL201,CEL205 -- killed by the platform"), BARE, set()),
    "on the decorator": Case(
        "from celery import shared_task\n\n@shared_task  # noqa\ndef f():\n    pass\n", BARE, BARE
    ),
    "on the body": Case(
        "from celery import shared_task\n\n@shared_task\ndef f():\n    pass  # noqa\n", BARE, BARE
    ),
    # flake8 joins physical lines only through multi-line tokens (strings) and backslash
    # continuations: inside brackets every line ends in an NL token and stands alone.
    "multi-line def, noqa on the last line": Case(
        "from celery import shared_task\n\n@shared_task\ndef f(\n    a,\n    b,\n):  # noqa: CEL201\n    pass\n",
        BARE,
        BARE,
    ),
    "multi-line def, noqa on the def line": Case(
        "from celery import shared_task\n\n@shared_task\ndef f(  # noqa: CEL201\n    a,\n):\n    pass\n",
        BARE,
        {(4, "CEL205")},
    ),
    "multi-line decorator, noqa inside it": Case(
        "from celery import shared_task\n\n@shared_task(\n    bind=True,  # noqa: CEL201\n)\ndef f(self):\n    pass\n",
        {(6, "CEL201"), (6, "CEL205")},
        {(6, "CEL201"), (6, "CEL205")},
    ),
    "multi-line call, noqa on another line": Case(
        "from proj.tasks import add\n\nadd.apply_async(\n    (1, 2),\n    serializer='pickle',\n)  # noqa: CEL103\n"
        "add.apply_async(  # noqa: CEL1\n    (1,),\n    serializer='pickle',\n)\n",
        {(5, "CEL103"), (9, "CEL103")},
        {(5, "CEL103"), (9, "CEL103")},
    ),
    "multi-line call, noqa on the keyword's line": Case(
        "from proj.tasks import add\n\nadd.apply_async(\n    (1, 2),\n    serializer='pickle',  # noqa: CEL103\n)\n",
        {(5, "CEL103")},
        set(),
    ),
    "string spanning lines joins them": Case(
        'from proj.tasks import add\n\nadd.apply_async((1,), serializer=\'pickle\', headers={\'note\': """\nlong note\n"""})  # noqa: CEL103\n'
        'add.apply_async((1,), serializer=\'pickle\', headers={\'note\': """\nlong note\n"""})\n',
        {(3, "CEL103"), (6, "CEL103")},
        {(6, "CEL103")},
    ),
    "backslash continuation joins lines": Case(
        "from proj.tasks import add\n\nREADY = True\nadd.apply_async((1,), serializer='pickle') \\\n    if READY else None  # noqa: CEL103\n",
        {(4, "CEL103")},
        set(),
    ),
    "backslash continuation in a def": Case(
        "from celery import shared_task\n\n@shared_task\ndef f(a, \\\n      b):  # noqa: CEL2\n    pass\n",
        BARE,
        set(),
    ),
    "multi-line conf.update": Case(
        "from celery import Celery\napp = Celery('proj')\napp.conf.update(\n    task_serializer='pickle',  # NOQA:CEL101\n"
        "    result_serializer='pickle',\n)  # NOQA:CEL101\n",
        {(4, "CEL101"), (5, "CEL101")},
        {(5, "CEL101")},
    ),
    "noqa text inside a string on the logical line": Case(
        "from celery import shared_task\n\n@shared_task\ndef f(marker='# noqa: CEL201'):\n    pass\n",
        BARE,
        {(4, "CEL205")},
    ),
    "flake8 file-level": Case("# flake8: noqa\n" + _task(""), {(5, c) for _, c in BARE}, set()),
    "flake8 file-level, indented": Case(_task("") + "    # FLAKE8: NOQA\n", BARE, set()),
    "flake8 noqa after code is not file-level": Case(
        "import os  # flake8: noqa\n" + _task(""), {(5, c) for _, c in BARE}, {(5, c) for _, c in BARE}
    ),
    "form feed before the task": Case(
        "from celery import shared_task\n\x0c\n@shared_task\ndef f():  # noqa: CEL201\n    pass\n",
        BARE,
        {(4, "CEL205")},
    ),
    "form feed, noqa on the decorator": Case(
        "from celery import shared_task\n\x0c\n@shared_task  # noqa\ndef f():\n    pass\n",
        BARE,
        BARE,
    ),
    "unicode line separator in a string before the task": Case(
        "from celery import shared_task\nLABEL = 'a\u2028b'\n@shared_task\ndef f():  # noqa: CEL201\n    pass\n",
        BARE,
        {(4, "CEL205")},
    ),
    "crlf": Case(
        _task("# noqa: CEL201").replace("\n", "\r\n").encode(),
        BARE,
        {(4, "CEL205")},
    ),
    "crlf backslash continuation": Case(
        b"from celery import shared_task\r\n\r\n@shared_task\r\ndef f(a, \\\r\n      b):  # noqa: CEL2\r\n    pass\r\n",
        BARE,
        set(),
    ),
}


def _module(name: str) -> str:
    return "case_" + "".join(c if c.isalnum() else "_" for c in name.lower()) + ".py"


@pytest.fixture(scope="module")
def noqa_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    """Every case is a module of one project; the CLI runs once over all of them."""
    root = tmp_path_factory.mktemp("noqa_project")
    project = Project(root)
    for name, case in CASES.items():
        project.write(_module(name), case.content)
    return root, run_cli("--format", "json", "--select", SELECT, cwd=root)


@pytest.mark.parametrize("name", list(CASES))
def test_expected_cases_agree_with_flake8(tmp_path: Path, name: str) -> None:
    """The expectations below are flake8's verdicts on the unsuppressed findings."""
    case = CASES[name]
    path = tmp_path / "mod.py"
    path.write_bytes(case.content if isinstance(case.content, bytes) else case.content.encode())
    kept = {(line, code) for line, code in case.raw if not flake8_suppresses(path, line, code)}
    assert kept == case.expected


@pytest.mark.parametrize("name", list(CASES))
def test_cli_noqa(noqa_run: tuple[Path, Run], name: str) -> None:
    _root, run = noqa_run
    assert run.returncode == 1, run
    path = _module(name)
    found = {(f["line"], f["code"]) for f in run.json["findings"] if f["path"] == path}
    assert found == CASES[name].expected, run


def test_noqa_does_not_hide_other_lines(project: Project) -> None:
    project.write(
        "tasks.py",
        "from celery import shared_task\n\n@shared_task\ndef f():  # noqa\n    pass\n\n@shared_task\ndef g():\n    pass\n",
    )
    run = project.run("--select", SELECT)
    assert run.at("tasks.py") == [(8, 1, "CEL201"), (8, 1, "CEL205")], run


def test_noqa_in_settings_module(project: Project) -> None:
    project.write("proj/__init__.py", "")
    project.write(
        "proj/celery.py",
        "import os\nfrom celery import Celery\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
        "app = Celery('proj')\n"
        "app.config_from_object('django.conf:settings', namespace='CELERY')\n",
    )
    project.write(
        "proj/settings.py",
        "CELERY_TASK_SERIALIZER = 'pickle'  # NOQA: CEL101,CEL205\n"
        "CELERY_RESULT_SERIALIZER = 'pickle'  # noqa: CEL102\n"
        "CELERY_EVENT_SERIALIZER = 'pickle'  # noqa:CEL1\n",
    )
    run = project.run("--select", "CEL101")
    assert run.at(os.path.join("proj", "settings.py")) == [(2, 1, "CEL101")], run


def test_flake8_end_to_end_keeps_bracketed_lines_apart(tmp_path: Path) -> None:
    """The reference behaviour, from flake8 itself: a noqa after the closing bracket does not
    reach a long line inside the brackets; inside a multi-line string it does."""
    long = "a" * 90
    path = tmp_path / "e501.py"
    path.write_text(
        f'x = dict(\n    a="{long}",\n)  # noqa: E501\ny = """\n{long}\n"""  # noqa: E501\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "E501", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    reported = [line.split(":")[1] for line in proc.stdout.splitlines()]
    assert reported == ["2"], proc.stdout + proc.stderr
    text = path.read_text(encoding="utf-8")
    assert NoqaIndex(text).suppresses(2, "E501") is False
    assert NoqaIndex(text).suppresses(5, "E501") is True
