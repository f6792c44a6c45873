"""The progress line: on stderr when it is a terminal and the run takes a while, never in
the way of what else the run prints, and never when stderr is not a terminal, with
``--quiet`` or in a machine format.

The runs set ``CELERY_LINT_PROGRESS_DELAY=0`` (the line shows at once instead of after a
second). What the user sees is what a terminal shows: :func:`screen` plays the bytes the
pty received (``\\r`` back to the line's start, characters over what was there).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, copy_clean

from celery_lint import lint_paths
from celery_lint.cli import main
from celery_lint.engine.progress import Phase, Progress
from celery_lint.progress_line import DELAY_VARIABLE, ProgressLine, progress_delay

PROGRESS = re.compile(r"celery-lint: (\d+)/(\d+) files analysed")


def screen(data: str) -> list[str]:
    """The lines a terminal shows after receiving ``data`` (``\\r`` returns to the start of
    the line, a character overwrites the one under the cursor), trailing blanks dropped."""
    lines: list[list[str]] = [[]]
    column = 0
    for char in data.replace("\r\n", "\n"):
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append([])
            column = 0
        else:
            line = lines[-1]
            line[column : column + 1] = [char]
            column += 1
    shown = ["".join(line).rstrip() for line in lines]
    while shown and not shown[-1]:
        shown.pop()
    return shown


def progress_drawn(data: str) -> list[tuple[int, int]]:
    return [(int(done), int(total)) for done, total in PROGRESS.findall(data)]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return copy_clean(REPO / "fixtures" / "django_shop", tmp_path / "shop")


def _environment(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env["PYTHONIOENCODING"] = "utf-8"
    env[DELAY_VARIABLE] = "0"
    env.update(extra)
    return env


class _Terminal:
    """The reading end of a pty, drained by a thread (a full pty would block the writer)."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self._received = bytearray()
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            try:
                ready, _, _ = select.select([self.master], [], [], 0.05)
                if not ready:
                    continue
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: every writer has closed it
                return
            if not chunk:
                return
            self._received.extend(chunk)

    def text(self) -> str:
        return bytes(self._received).decode("utf-8", "replace")

    def close_slave(self) -> None:
        if self.slave >= 0:
            os.close(self.slave)
            self.slave = -1

    def finish(self) -> str:
        self.close_slave()
        self._thread.join(10)
        os.close(self.master)
        return self.text()


def run_on_terminal(
    args: list[str], cwd: Path, *, interrupt_when: str | None = None, **env: str
) -> tuple[int, str, str]:
    """``python -m celery_lint ARGS`` with stderr a terminal and stdout a pipe: the exit
    status, stdout, and what the terminal received. ``interrupt_when``: Ctrl-C once the
    terminal shows that text."""
    terminal = _Terminal()
    process = subprocess.Popen(
        [sys.executable, "-m", "celery_lint", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=terminal.slave,
        env=_environment(**env),
    )
    terminal.close_slave()
    try:
        if interrupt_when is not None:
            deadline = time.monotonic() + 30
            while interrupt_when not in terminal.text() and time.monotonic() < deadline:
                time.sleep(0.01)
            process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout.decode("utf-8"), terminal.finish()


def start_with_pipes(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """The same run with stdout and stderr pipes, started (it runs beside the other)."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery_lint", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=_environment(),
    )


@contextlib.contextmanager
def stderr_on_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[io.StringIO, _Terminal]]:
    """In this process: sys.stderr a terminal, sys.stdout captured."""
    monkeypatch.setenv(DELAY_VARIABLE, "0")
    terminal = _Terminal()
    out = io.StringIO()
    err = open(os.dup(terminal.slave), "w", encoding="utf-8", closefd=True)  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    try:
        yield out, terminal
    finally:
        err.close()
        monkeypatch.undo()


# --------------------------------------------------------------------------- on a terminal
def test_a_run_on_a_terminal_shows_progress_and_leaves_nothing_of_it(shop: Path) -> None:
    """The line counts the files analysed out of the total and names the project; each
    drawing rewrites the line in place; once the run ends the terminal shows none of it,
    and stdout holds exactly what a run without a terminal prints."""
    piped = start_with_pipes(["--no-cache", "."], shop)
    code, stdout, received = run_on_terminal(["--no-cache", "."], shop)
    piped_stdout, piped_stderr = piped.communicate(timeout=60)
    assert (code, stdout) == (piped.returncode, piped_stdout) == (1, piped_stdout)
    total = int(re.search(r"\((\d+) files checked", stdout).group(1))  # type: ignore[union-attr]
    drawn = progress_drawn(received)
    assert drawn and all(count == total for _, count in drawn), received
    assert [done for done, _ in drawn] == sorted(done for done, _ in drawn), received
    assert "files analysed, building the project model of shop" in received or (
        "files analysed, checking shop" in received
    ), received
    assert received.count("\n") == 0, received  # one line, rewritten with \r
    assert screen(received) == [], received
    # Without a terminal: not a byte of it.
    assert piped_stderr == "", piped_stderr


def test_with_jobs_the_progress_counts_the_results_of_the_workers(shop: Path) -> None:
    piped = start_with_pipes(["--no-cache", "-j", "2", "."], shop)
    code, stdout, received = run_on_terminal(["--no-cache", "-j", "2", "."], shop)
    piped_stdout, piped_stderr = piped.communicate(timeout=60)
    assert (code, stdout) == (piped.returncode, piped_stdout)
    assert progress_drawn(received), received
    assert screen(received) == [], received
    assert piped_stderr == "", piped_stderr


def test_ctrl_c_erases_the_line_before_saying_interrupted(tmp_path: Path) -> None:
    """A rule pack whose rule takes its time keeps the run in its ``checking`` phase."""
    root = tmp_path / "slow"
    (root / "app").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.celery-lint]\nplugins = ["slow_rules"]\n', "utf-8")
    (root / "slow_rules.py").write_text(SLOW_PACK, "utf-8")
    (root / "app" / "tasks.py").write_text(
        "from celery import shared_task\n\n\n@shared_task\ndef job():\n    pass\n", "utf-8"
    )
    code, stdout, received = run_on_terminal(
        ["--no-cache", "--select", "SLW101", "app"], root, interrupt_when="checking slow"
    )
    assert set(progress_drawn(received)) == {(0, 1)}, received
    assert (code, stdout) == (130, ""), received
    assert screen(received) == ["celery-lint: interrupted"], received


SLOW_PACK = '''
import time

from celery_lint import Invalid, Rule, Valid, hookimpl


class Slow(Rule):
    """
    ## What it does
    Takes its time.

    ## Why is this bad?
    It is not.

    ## Example
    ```python
    x = 1
    ```

    ## Use instead
    ```python
    x = 1
    ```
    """

    CODE = "SLW101"
    NAME = "slow-check"
    MESSAGE = "slow"
    VALID = [Valid("x = 1\\n")]
    INVALID = [Invalid("from celery import shared_task\\n\\n@shared_task\\ndef job():\\n    pass\\n", line=4, column=1)]

    def check(self):
        time.sleep(60)


@hookimpl
def celery_lint_rules():
    return [Slow]
'''


def test_a_warning_printed_during_the_run_gets_a_line_of_its_own(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, user_cache_dir: Path
) -> None:
    """The cache warns mid-run (a ``.celery_lint_cache`` that is a link is not used): the
    progress line is erased first, and the terminal keeps the warning alone."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (shop / ".celery_lint_cache").symlink_to(elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    monkeypatch.chdir(shop)
    with stderr_on_terminal(monkeypatch) as (out, terminal):
        code = main(["."])
    received = terminal.finish()
    assert code == 1 and "Found " in out.getvalue()
    assert progress_drawn(received), received
    assert screen(received) == [
        f"celery-lint: warning: {shop.resolve() / '.celery_lint_cache'} is a symbolic link: the result cache is not used"
    ], received


@pytest.mark.parametrize("option", [["--quiet"], ["-q"], ["--format", "json"], ["--format", "github"]])
def test_no_progress_with_quiet_or_a_machine_format(
    shop: Path, monkeypatch: pytest.MonkeyPatch, option: list[str]
) -> None:
    monkeypatch.chdir(shop)
    with stderr_on_terminal(monkeypatch) as (out, terminal):
        code = main([*option, "--no-cache", "."])
    received = terminal.finish()
    assert code == 1 and out.getvalue()
    assert received == "", received


def test_a_fast_run_prints_no_progress(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the usual delay (one second) a run of a small project is over before it."""
    monkeypatch.chdir(shop)
    with stderr_on_terminal(monkeypatch) as (out, terminal):
        monkeypatch.setenv(DELAY_VARIABLE, "30")
        code = main(["--no-cache", "."])
    assert code == 1 and "Found " in out.getvalue()
    assert terminal.finish() == ""


def test_a_delay_that_is_no_number_of_seconds_is_said_and_the_default_kept() -> None:
    assert progress_delay({DELAY_VARIABLE: "0.5"}) == (0.5, None)
    assert progress_delay({}) == (1.0, None)
    for wrong in ("soon", "-1", "nan", "inf"):
        delay, warning = progress_delay({DELAY_VARIABLE: wrong})
        assert delay == 1.0 and warning and DELAY_VARIABLE in warning


# --------------------------------------------------------------------------- the engine's reports
class Recorder(Progress):
    def __init__(self) -> None:
        self.total: int | None = None
        self.done = 0
        self.phases: list[tuple[str, Phase]] = []

    def planned(self, files: int) -> None:
        self.total = files

    def phase(self, project: str, phase: Phase) -> None:
        self.phases.append((project, phase))

    def checked(self, files: int, project: str) -> None:
        self.done += files


def test_every_file_is_counted_cold_and_from_the_cache(
    shop: Path, monkeypatch: pytest.MonkeyPatch, user_cache_dir: Path
) -> None:
    """Files answered from the cache count as analysed; a warm run builds no model."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    monkeypatch.chdir(shop)
    for phases in (["reading", "building", "checking", "done"], ["reading", "done"]):
        recorder = Recorder()
        result = lint_paths(["."], use_cache=True, progress=recorder)
        assert recorder.total == recorder.done == result.files_checked > 0
        assert [phase for _, phase in recorder.phases] == phases
        assert {project for project, _ in recorder.phases} == {"shop"}


def test_the_line_is_rewritten_at_most_ten_times_a_second() -> None:
    terminal = _Terminal()
    stream = open(os.dup(terminal.slave), "w", encoding="utf-8")  # noqa: SIM115
    saved = sys.stdout, sys.stderr
    try:
        with ProgressLine(stream, delay=0) as line:
            line.planned(1000)
            line.phase("proj", "checking")
            started = time.monotonic()
            while time.monotonic() - started < 0.35:
                line.checked(1, "proj")
                time.sleep(0.001)
    finally:
        stream.close()
    assert (sys.stdout, sys.stderr) == saved
    received = terminal.finish()
    assert 1 <= len(progress_drawn(received)) <= 5, received
    assert screen(received) == []


COUNT_WITH_JOBS = """
import json, sys
from celery_lint import lint_paths
from celery_lint.engine.progress import Progress

class Recorder(Progress):
    total = done = 0
    def planned(self, files):
        self.total = files
    def checked(self, files, project):
        self.done += files

out = []
for path in sys.argv[1:]:
    recorder = Recorder()
    result = lint_paths([path], jobs=2, progress=recorder)
    out.append([recorder.total, recorder.done, result.files_checked])
print(json.dumps(out))
"""


def test_with_jobs_every_file_is_counted_when_its_results_come_back(shop: Path, tmp_path: Path) -> None:
    """One project's files spread over workers, and projects checked whole by workers (a
    process of its own: the workers are forked from it)."""
    alike, one_big = tmp_path / "alike", tmp_path / "one_big"
    for name in ("a", "b", "c"):
        copy_clean(REPO / "fixtures" / "plain_celery", alike / name)
    # (The largest project is checked in the parent while workers check the others.)
    copy_clean(REPO / "fixtures" / "django_shop", one_big / "a")
    for name in ("b", "c"):
        copy_clean(REPO / "fixtures" / "plain_celery", one_big / name)
    done = subprocess.run(
        [sys.executable, "-c", COUNT_WITH_JOBS, str(shop), str(alike), str(one_big)],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=60,
        check=True,
    )
    counts = json.loads(done.stdout)
    assert [total == checked == files > 0 for total, checked, files in counts] == [True, True, True], counts
