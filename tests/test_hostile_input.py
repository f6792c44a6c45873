"""Hostile input that tests/test_bad_input.py and tests/test_cli.py leave out.

Every case ends the same way: a clear message (a CEL900 finding or one error line on
stderr), the other files still checked, no traceback, no hang. Cases marked ``xfail``
are known failures today (strict: they turn into errors once fixed, so the mark goes).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BARE_TASK, SELECT, TASK_CODES, Project, Run, run_cli

PICKLE_CONF = "from celery import Celery\n\napp = Celery('proj')\napp.conf.task_serializer = 'pickle'\n"


def _assert_good_file_still_checked(run: Run, path: str = "good.py") -> None:
    assert {code for line, _, code in run.at(path) if code in TASK_CODES} == set(TASK_CODES), run


def _cel900_message(run: Run, path: str) -> str:
    lines = [line for line in run.finding_lines if line.startswith(f"{path}:") and " CEL900 " in line]
    assert len(lines) == 1, run
    return lines[0]


def _flake8(project: Project, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "flake8", *args],
        cwd=project.root,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        env=env,
    )


# --------------------------------------------------------------------------- encodings
def test_bom_with_a_conflicting_coding_cookie(project: Project) -> None:
    """CPython refuses a UTF-8 BOM followed by a latin-1 cookie; so does celery-lint."""
    project.write("conflict.py", b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nimport celery\n")
    project.write("good.py", BARE_TASK)
    run = project.run("--select", SELECT)
    assert run.returncode == 1 and run.error_lines == [], run
    assert "encoding problem" in _cel900_message(run, "conflict.py"), run
    _assert_good_file_still_checked(run)


def test_bom_with_a_utf8_cookie_is_fine(project: Project) -> None:
    project.write("both.py", b"\xef\xbb\xbf# -*- coding: utf-8 -*-\n" + BARE_TASK.encode())
    run = project.run("--select", SELECT)
    assert run.codes_in("both.py") == TASK_CODES, run
    assert {line for line, _, _ in run.at("both.py")} == {5}, run


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        pytest.param("cp1252", "prix en \u20ac", id="cp1252"),
        pytest.param("shift_jis", "\u30bf\u30b9\u30af", id="shift_jis"),
        pytest.param("euc_jp", "\u65e5\u672c", id="euc_jp"),
        pytest.param("koi8_r", "\u0437\u0430\u0434\u0430\u0447\u0430", id="koi8_r"),
    ],
)
def test_non_utf8_coding_cookies(project: Project, encoding: str, text: str) -> None:
    """Legacy encodings decode through their cookie (on line 1 or 2); positions count
    characters, not bytes."""
    source = f"#!/usr/bin/env python\n# -*- coding: {encoding} -*-\nLABEL = '{text}'; " + (
        "from proj.tasks import add; add.apply_async((1,), serializer='pickle')\n" + BARE_TASK
    )
    project.write("legacy.py", source.encode(encoding))
    run = project.run("--select", SELECT, "--format", "json")
    assert run.returncode == 1, run
    found = {(f["line"], f["column"], f["code"]) for f in run.json["findings"]}
    assert (3, source.splitlines()[2].index("serializer=") + 1, "CEL103") in found, run
    assert {(line, code) for line, _, code in found if code in TASK_CODES} == {(7, c) for c in TASK_CODES}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(b"# coding: no-such-codec\nimport celery\n", "unknown encoding", id="unknown codec"),
        pytest.param(
            b"# coding: ascii\nimport celery\nX = '\xe9'\n", "ascii", id="bytes outside the cookie's codec"
        ),
        pytest.param(b"import celery\n# caf\xe9 in a comment\n", "decode", id="invalid utf-8 in a comment"),
    ],
)
def test_undecodable_files_are_cel900_with_the_reason(
    project: Project, content: bytes, expected: str
) -> None:
    project.write("bad.py", content)
    project.write("good.py", BARE_TASK)
    run = project.run("--select", SELECT)
    assert run.returncode == 1 and run.error_lines == [], run
    message = _cel900_message(run, "bad.py")
    assert "cannot decode" in message and expected in message, run
    _assert_good_file_still_checked(run)


def test_undecodable_file_that_never_mentions_celery(project: Project) -> None:
    """Walked or named, a file celery-lint cannot decode is reported, never skipped silently."""
    project.write("plain.py", b"X = '\xff'\n")
    project.write("good.py", BARE_TASK)
    for args in ((), ("plain.py", "good.py")):
        run = project.run("--select", SELECT, *args)
        assert run.returncode == 1, run
        assert "cannot decode" in _cel900_message(run, "plain.py"), run
        _assert_good_file_still_checked(run)


# --------------------------------------------------------------------------- line endings, form feeds
def test_old_mac_line_endings(project: Project) -> None:
    """Lone carriage returns end lines for CPython; positions follow them."""
    project.write("cr.py", ("import celery\n\n" + BARE_TASK).replace("\n", "\r").encode())
    project.write("lf.py", ("import celery\n\n" + BARE_TASK).encode())
    run = project.run("--select", SELECT)
    assert run.returncode == 1, run
    assert run.at("cr.py") == run.at("lf.py") == [(6, 1, code) for code in sorted(TASK_CODES)], run


def test_mixed_line_endings(project: Project) -> None:
    lines = [
        "import celery\r\n",
        "\n",
        "from celery import shared_task\r",
        "\r\n",
        "@shared_task\n",
        "def bare():\r\n",
        "    pass\n",
    ]
    project.write("mixed.py", "".join(lines).encode())
    run = project.run("--select", SELECT)
    assert "CEL900" not in run.stdout, run
    assert run.codes_in("mixed.py") == TASK_CODES, run


def test_form_feeds_in_indentation(project: Project) -> None:
    """A form feed resets CPython's column count: at the start of an indented line, and
    after the indentation of a line, where it makes the line start at column 0."""
    plain = "import celery\nif True:\n    x = 1\n    y = 2\n" + BARE_TASK
    project.write("plain.py", plain)
    project.write("ff.py", plain.replace("    x = 1", "\x0c    x = 1").replace("    y = 2", "    \x0cy = 2"))
    run = project.run("--select", SELECT)
    assert "CEL900" not in run.stdout, run
    assert run.at("ff.py") == run.at("plain.py") and run.codes_in("ff.py") == TASK_CODES, run


# --------------------------------------------------------------------------- size
def test_five_megabyte_file_is_reported_not_parsed(project: Project) -> None:
    """A 5 MB generated module that mentions Celery: CEL900 saying it is too large, quickly,
    and the rest of the project is checked. One that never mentions Celery costs nothing."""
    block = "".join(f"VALUE_{i} = {{'queue': 'celery', 'n': {i}}}\n" for i in range(1000))
    project.write("generated_celery.py", "# celery routes\n" + block * 160)
    project.write("generated_plain.py", block.replace("celery", "other") * 160)
    project.write("good.py", BARE_TASK)
    assert (project.root / "generated_celery.py").stat().st_size > 5_000_000
    start = time.monotonic()
    run = project.run("--select", SELECT, timeout=120)
    elapsed = time.monotonic() - start
    assert run.returncode == 1, run
    assert "too large" in _cel900_message(run, "generated_celery.py"), run
    assert run.codes_in("generated_plain.py") == set(), run
    _assert_good_file_still_checked(run)
    assert elapsed < 20, f"{elapsed:.1f}s"


def test_file_over_the_read_limit_is_not_read(project: Project) -> None:
    """A 21 MiB (sparse) file: reported from its size alone."""
    with open(project.root / "huge.py", "wb") as handle:
        handle.truncate(21 * 1024 * 1024)
    project.write("good.py", BARE_TASK)
    start = time.monotonic()
    run = project.run("--select", SELECT)
    assert time.monotonic() - start < 20
    assert "too large" in _cel900_message(run, "huge.py"), run
    _assert_good_file_still_checked(run)


# --------------------------------------------------------------------------- nesting
DEEP_VALID = {
    "dict nested 150 deep in app.conf.update": "app.conf.update(task_routes="
    + "{'a': " * 150
    + "'q'"
    + "}" * 150
    + ")\n",
    "calls nested 150 deep in a task option": "@app.task(time_limit="
    + "int(" * 150
    + "1"
    + ")" * 150
    + ")\ndef f():\n    pass\n",
    "99 nested if blocks": "".join(" " * i + "if app:\n" for i in range(99)) + " " * 99 + "pass\n",
    "1000 nested lambdas as a setting": "app.conf.task_routes = " + "lambda: " * 1000 + "None\n",
    "20 nested task functions": "".join(
        " " * (4 * i) + "@app.task\n" + " " * (4 * i) + f"def f{i}():\n" for i in range(20)
    )
    + " " * 80
    + "pass\n",
    "500-term + chain as the broker URL": "app.conf.broker_url = " + " + ".join(["'x'"] * 500) + "\n",
    "20000-item accept_content list": "app.conf.accept_content = [" + ", ".join(["'json'"] * 20000) + "]\n",
}


@pytest.mark.parametrize("body", list(DEEP_VALID.values()), ids=list(DEEP_VALID))
def test_deep_but_valid_code_is_analysed(project: Project, body: str) -> None:
    source = "from celery import Celery\n\napp = Celery('proj')\n" + body
    compile(source, "deep.py", "exec")  # CPython accepts it
    project.write("deep.py", source)
    project.write("good.py", BARE_TASK)
    start = time.monotonic()
    run = project.run("--select", SELECT, timeout=120)
    elapsed = time.monotonic() - start
    assert "CEL900" not in run.codes_in("deep.py"), run
    _assert_good_file_still_checked(run)
    assert elapsed < 15, f"{elapsed:.1f}s"


def test_too_many_indentation_levels_is_cel900(project: Project) -> None:
    """CPython allows 99 nested blocks, not 100."""
    source = "import celery\n" + "".join(" " * i + "if x:\n" for i in range(100)) + " " * 100 + "pass\n"
    project.write("deep.py", source)
    project.write("good.py", BARE_TASK)
    run = project.run("--select", SELECT)
    assert "indentation" in _cel900_message(run, "deep.py"), run
    _assert_good_file_still_checked(run)


def _chain_project(project: Project, body: str) -> str:
    source = "from celery import Celery\n\napp = Celery('proj')\n" + body
    project.write("chain.py", source)
    project.write("good.py", BARE_TASK)
    return source


def test_long_subscript_chain_takes_under_five_seconds(project: Project) -> None:
    """LibCST's parse time grows with the square of a chain's length (2500 chained
    subscripts: some 15 s; CPython: milliseconds). CPython accepts the file, so it is no
    CEL900: the analysis is skipped, with one error line that says why."""
    source = _chain_project(project, "app.conf.beat_schedule = settings" + "[0]" * 2500 + "\n")
    compile(source, "chain.py", "exec")  # valid for CPython
    start = time.monotonic()
    run = project.run("--select", SELECT, timeout=120)
    elapsed = time.monotonic() - start
    _assert_good_file_still_checked(run)
    assert elapsed < 5, f"{elapsed:.1f}s for {len(source)} bytes"
    assert run.returncode == 2 and run.codes_in("chain.py") == set(), run
    assert run.error_lines == [
        "celery-lint: error: chain.py: analysis skipped: the chain of 2500 subscripts, calls and "
        "attribute accesses at line 4 would take too long to parse (CPython accepts the file)"
    ], run


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("app.conf.broker_url = " + " + ".join(["'x'"] * 20000) + "\n", id="on one line"),
        pytest.param(
            "app.conf.broker_url = (\n    " + "\n    + ".join(["'x'"] * 20000) + "\n)\n", id="one term a line"
        ),
    ],
)
def test_chain_cpython_rejects_is_cel900_quickly(project: Project, body: str) -> None:
    """A 20000-term + chain, which CPython rejects at once, would keep LibCST busy for
    minutes: CPython is asked first."""
    source = _chain_project(project, body)
    with pytest.raises((RecursionError, SyntaxError, MemoryError)):
        compile(source, "chain.py", "exec")
    run = project.run("--select", SELECT, timeout=20)
    assert run.codes_in("chain.py") == {"CEL900"}, run
    assert "CPython cannot compile it" in _cel900_message(run, "chain.py"), run
    _assert_good_file_still_checked(run)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            "app.conf.beat_schedule = (settings" + "\n    .get('a', {})" * 700 + ")\n",
            id="method chain, one call a line",
        ),
        pytest.param(
            "app.conf.beat_schedule = settings"
            + ("[" + ", ".join(f"k{i}" for i in range(40)) + "]") * 400
            + "\n",
            id="400 subscripts of 40 names each",
        ),
    ],
)
def test_other_long_chains_are_skipped_quickly(project: Project, body: str) -> None:
    source = _chain_project(project, body)
    compile(source, "chain.py", "exec")  # valid for CPython
    start = time.monotonic()
    run = project.run("--select", SELECT, timeout=120)
    elapsed = time.monotonic() - start
    assert run.returncode == 2 and run.codes_in("chain.py") == set(), run
    assert len(run.error_lines) == 1 and "chain.py: analysis skipped: the chain of" in run.stderr, run
    _assert_good_file_still_checked(run)
    assert elapsed < 5, f"{elapsed:.1f}s"


def test_screened_file_does_not_print_cpython_warnings(project: Project) -> None:
    """Asking CPython about a file (here: for its long line) leaves its warnings unsaid."""
    project.write("warns.py", "import celery\n\nif celery is 1:\n    X = '" + "x" * 2000 + "'\n")
    project.write("good.py", BARE_TASK)
    run = project.run("--select", SELECT)
    assert run.returncode == 1 and run.error_lines == [], run
    _assert_good_file_still_checked(run)


# --------------------------------------------------------------------------- the file tree
def test_symlink_loop_named_on_the_command_line(project: Project) -> None:
    os.symlink("b.py", project.root / "a.py")
    os.symlink("a.py", project.root / "b.py")
    os.symlink("nowhere.py", project.root / "dangling.py")
    project.write("good.py", BARE_TASK)
    run = project.run("--select", SELECT, "a.py", "dangling.py", "good.py")
    assert run.returncode in (1, 2), run
    assert "symbolic links" in _cel900_message(run, "a.py"), run
    assert "dangling.py" in run.stdout + run.stderr, run
    _assert_good_file_still_checked(run)


def test_symlink_to_a_folder_named_like_a_module(project: Project) -> None:
    project.write("real/inner.py", BARE_TASK)
    os.symlink("real", project.root / "link.py")
    run = project.run("--select", SELECT, "link.py")
    assert run.returncode == 1 and run.error_lines == [], run
    assert run.codes_in(os.path.join("link.py", "inner.py")) == TASK_CODES, run


def test_directory_named_like_a_module_with_fix(project: Project) -> None:
    (project.root / "x.py").mkdir()
    project.write("x.py/conf.py", PICKLE_CONF)
    project.write("good.py", BARE_TASK)
    run = project.run("--diff", "--unsafe-fixes", "--select", "CEL101")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run
    assert "+app.conf.task_serializer = 'json'" in run.stdout, run
    run = project.run("--fix", "--unsafe-fixes", "--select", "CEL101")
    assert run.returncode == 0, run
    assert "'json'" in (project.root / "x.py" / "conf.py").read_text()


def test_unreadable_file_as_root_too(project: Project) -> None:
    """A UNIX socket named like a module cannot be opened, even by root (ENXIO): the
    stand-in for an unreadable file where ``chmod 000`` does not stop the reader."""
    sock = socket.socket(socket.AF_UNIX)
    path = project.root / "sock.py"
    if len(str(path)) > 100:
        pytest.skip("socket path too long")
    sock.bind(str(path))
    try:
        project.write("good.py", BARE_TASK)
        for args in ((), ("sock.py", "good.py")):
            run = project.run("--select", SELECT, *args)
            assert run.returncode in (1, 2), run
            assert "cannot read" in _cel900_message(run, "sock.py"), run
            _assert_good_file_still_checked(run)
    finally:
        sock.close()


def test_fifo_named_like_a_module_does_not_hang(project: Project) -> None:
    """Reading a FIFO would wait for a writer forever: walked or named, it is not read."""
    os.mkfifo(project.root / "pipe.py")
    project.write("good.py", BARE_TASK)
    for args in ((), ("pipe.py", "good.py")):
        run = project.run("--select", SELECT, *args, timeout=15)
        assert run.returncode == 1, run
        assert "named pipe, not a regular file" in _cel900_message(run, "pipe.py"), run
        _assert_good_file_still_checked(run)


def test_fifo_named_like_a_launcher_does_not_hang(project: Project) -> None:
    """The registration rule reads Procfiles and compose files for ``-A``/``-I`` options; a
    FIFO with such a name is skipped, not waited on."""
    os.mkfifo(project.root / "Procfile")
    project.write("good.py", BARE_TASK)
    run = project.run("--select", "ALL", timeout=30)
    assert run.returncode == 1, run
    _assert_good_file_still_checked(run)


# --------------------------------------------------------------------------- pyproject.toml
@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        pytest.param("tool = 3\n", "[tool] must be a table", id="tool is not a table"),
        pytest.param("[tool]\ncelery-lint = 5\n", "must be a table", id="section is not a table"),
        pytest.param("[tool.celery-lint]\nexclude = 5\n", "'exclude'", id="exclude is a number"),
        pytest.param("[tool.celery-lint]\nselect = [1, 2]\n", "'select'", id="select holds numbers"),
        pytest.param(
            '[tool.celery-lint]\nper-file-ignores = { "legacy/*" = "CEL201" }\n',
            "per-file-ignores",
            id="per-file-ignores value is a string",
        ),
        pytest.param(
            '[tool.celery-lint]\nper-file-ignores = { "legacy/*" = ["NOPE"] }\n',
            "NOPE",
            id="per-file-ignores names an unknown code",
        ),
        pytest.param(
            "[tool.celery-lint]\ndefault-time-limit = 1e400\n", "default-time-limit", id="infinite limit"
        ),
        pytest.param(
            "[tool.celery-lint]\ndefault-time-limit = true\n", "default-time-limit", id="boolean limit"
        ),
        pytest.param(
            '[tool.celery-lint]\nselect = ["CEL201"]\nselect = ["CEL202"]\n',
            "invalid TOML",
            id="duplicate key",
        ),
        pytest.param('\ufeff[tool.celery-lint]\nselect = ["CEL201"]\n', "TOML", id="byte order mark"),
    ],
)
def test_bad_configuration_is_one_error_line(project: Project, toml: str, expected: str) -> None:
    project.write("good.py", BARE_TASK)
    project.config(toml)
    run = project.run()
    assert run.returncode == 2, run
    assert run.stdout == "", run
    assert len(run.stderr_lines) == 1 and expected in run.stderr and "pyproject.toml" in run.stderr, run


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"[tool.celery-lint]\n# caf\xe9\nselect = ['CEL201']\n", id="invalid utf-8"),
        pytest.param(b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", id="5000 nested arrays"),
        pytest.param(b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000 + b"\n", id="3000 nested inline tables"),
    ],
)
def test_undecodable_or_deep_pyproject_is_one_error_line(project: Project, content: bytes) -> None:
    project.write("good.py", BARE_TASK)
    (project.root / "pyproject.toml").write_bytes(content)
    run = project.run(allow_traceback=True)
    assert "Traceback" not in run.stderr, run
    assert run.returncode == 2 and len(run.stderr_lines) == 1 and "pyproject.toml" in run.stderr, run


def test_pyproject_that_is_a_directory(project: Project) -> None:
    """A folder named pyproject.toml still marks the root; there is no configuration to read."""
    (project.root / "pyproject.toml").unlink()
    (project.root / "pyproject.toml").mkdir()
    project.write("good.py", BARE_TASK)
    run = project.run("--select", SELECT)
    assert run.returncode == 1, run
    _assert_good_file_still_checked(run)


def test_config_option_naming_a_directory(project: Project) -> None:
    project.write("good.py", BARE_TASK)
    (project.root / "cfg.toml").mkdir()
    run = project.run("--config", "cfg.toml")
    assert run.returncode == 2 and len(run.stderr_lines) == 1 and "cfg.toml" in run.stderr, run


def test_flake8_with_bad_configuration_reports_it_and_goes_on(project: Project) -> None:
    """flake8 keeps its own checks; the plugin says what is wrong and checks nothing."""
    project.write("good.py", BARE_TASK + "import os\n")
    project.config('[tool.celery-lint]\nselect = "CEL201"\n')
    proc = _flake8(project, "--select", "CEL,F401", "good.py")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "'select'" in proc.stderr and "pyproject.toml" in proc.stderr, proc.stderr
    assert "F401" in proc.stdout, proc.stdout


def test_flake8_with_undecodable_configuration(project: Project) -> None:
    project.write("good.py", BARE_TASK + "import os\n")
    (project.root / "pyproject.toml").write_bytes(b"[tool.celery-lint]\n# caf\xe9\n")
    proc = _flake8(project, "--select", "CEL,F401", "good.py")
    assert "Traceback" not in proc.stderr and "PluginExecutionFailed" not in proc.stderr, proc.stderr
    assert "F401" in proc.stdout, proc.stdout
    assert "CEL900 celery-lint could not check this project" in proc.stdout, proc.stdout
    assert "pyproject.toml" in proc.stderr and "UTF-8" in proc.stderr, proc.stderr


def test_flake8_on_hostile_files(project: Project) -> None:
    """The plugin on the files above: flake8's own E902/E999 for what it cannot read, the
    plugin's findings for the rest, never a plugin failure."""
    project.write("good.py", BARE_TASK)
    project.write("bom.py", b"\xef\xbb\xbf" + BARE_TASK.encode())
    project.write("cr.py", BARE_TASK.replace("\n", "\r").encode())
    project.write("latin.py", b"# -*- coding: latin-1 -*-\nX = '\xe9'\n" + BARE_TASK.encode())
    project.write("bad.py", b"import celery\nX = '\xff'\n")
    project.write("nul.py", b"import celery\nX = 1\x00\n")
    project.write("deep.py", "import celery\nX = " + "(" * 300 + "1" + ")" * 300 + "\n")
    proc = _flake8(project, "--select", "CEL,E9", ".")
    assert "Traceback" not in proc.stderr and "PluginExecutionFailed" not in proc.stderr, proc.stderr
    by_file: dict[str, set[str]] = {}
    for line in proc.stdout.splitlines():
        path, _, _, rest = line.split(":", 3)
        by_file.setdefault(os.path.basename(path), set()).add(rest.split()[0])
    for name in ("good.py", "bom.py", "cr.py", "latin.py"):
        assert by_file.get(name, set()) >= TASK_CODES, (name, proc.stdout)
    for name in ("nul.py", "deep.py"):
        assert by_file.get(name) and all(c.startswith("E9") for c in by_file[name]), (name, proc.stdout)
    # flake8 reads undecodable files as latin-1 (and so parses this one): no finding at all.
    assert by_file.get("bad.py", set()) == set(), proc.stdout


def test_valid_python_libcst_cannot_parse_is_no_cel900(project: Project) -> None:
    """A parenthesised annotated target is valid Python that LibCST's grammar refuses: the
    file is not a syntax error (no CEL900), its analysis is skipped with one error line."""
    source = _chain_project(project, "(limit): int = 5\n")
    compile(source, "chain.py", "exec")  # valid for CPython
    run = project.run("--select", SELECT)
    _assert_good_file_still_checked(run)
    assert run.returncode == 2 and run.codes_in("chain.py") == set(), run
    assert run.error_lines == [
        "celery-lint: error: chain.py: analysis skipped: LibCST cannot parse line 4 (CPython accepts the file)"
    ], run


def _rewrite_sources(root: Path, change: Callable[[bytes], bytes]) -> None:
    for path in root.rglob("*.py"):
        path.write_bytes(change(path.read_bytes()))


def _form_feed_before_top_level_lines(data: bytes) -> bytes:
    return re.sub(rb"(?m)^(?=[A-Za-z_])", b"\x0c", data)


@pytest.mark.parametrize("name", ["shapes/s09_config_by_content"])
@pytest.mark.parametrize(
    "change",
    [lambda data: data.replace(b"\n", b"\r"), _form_feed_before_top_level_lines],
    ids=["old-mac-line-endings", "form-feeds"],
)
def test_projects_with_old_mac_line_endings_or_form_feeds_get_the_same_findings(
    fixtures_copy: Path, tmp_path: Path, name: str, change: Callable[[bytes], bytes]
) -> None:
    """What is read before parsing (imports of Celery, configuration modules known by their
    assignments, coding cookies) sees a line after a lone ``\\r`` and behind a form feed."""
    plain = fixtures_copy / name
    changed = tmp_path / "changed"
    shutil.copytree(plain, changed)
    _rewrite_sources(changed, change)
    expected = run_cli("--no-cache", cwd=plain)
    run = run_cli("--no-cache", cwd=changed)
    assert expected.findings, expected

    def where(found: Run) -> list[tuple[str, int, str]]:
        return [(path, line, code) for path, line, _column, code in found.findings]

    assert where(run) == where(expected), run
