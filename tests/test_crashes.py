"""Hangs and crashes (#14): each case ends in a result or one clear error line, promptly.

In-process through ``celery_lint.cli.main`` where that shows what the user sees; a
subprocess only where the behaviour needs one (a worker killed with SIGKILL, Ctrl-C).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from celery_lint.cli import main


class _Overran(BaseException):
    """Raised in the test's thread when a run takes longer than it may."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt the code under test after ``seconds`` (a hang fails the test, not the suite)."""

    def expire(signum: int, frame: Any) -> None:
        raise _Overran(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, root: Path, *args: str
) -> tuple[int, str, str]:
    monkeypatch.chdir(root)
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def _option(inventory_json: str, task: str, option: str) -> dict[str, Any]:
    tasks = {t["name"]: t for t in json.loads(inventory_json)["tasks"]}
    return tasks[task]["options"][option]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- 1. chained names
def _chain(levels: int, shape: str) -> str:
    """Names bound from the name before them, level after level: ``twice`` binds each
    name twice (``A1 = A0`` two times), ``sum`` uses the one before three times, ``list``
    builds a list of two of the one before (a structure of 2**levels elements unfolded)."""
    lines = ["from celery import Celery", "", "app = Celery('proj')", "A0 = 10"]
    for level in range(1, levels + 1):
        before = f"A{level - 1}"
        if shape == "twice":
            lines += [f"A{level} = {before}", f"A{level} = {before}"]
        elif shape == "sum":
            lines.append(f"A{level} = {before} + {before} - {before}")
        else:
            lines.append(f"A{level} = [{before}, {before}]")
    setting = "task_time_limit" if shape != "list" else "task_default_queue"
    lines += [f"app.conf.{setting} = A{levels}", "", "", "@app.task", "def work():", "    pass", ""]
    return "\n".join(lines)


@pytest.mark.parametrize(("shape", "levels"), [("twice", 26), ("sum", 13), ("list", 26)])
def test_doubly_bound_chained_names_evaluate_in_linear_time(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    shape: str,
    levels: int,
) -> None:
    """26 levels of ``A1 = A0`` bound twice took forever (2**26 evaluations; 20 levels took
    27 s): each name is evaluated once per depth, and the value is known (``sum``: 13
    levels of three uses each stay within the depth cap)."""
    root = _project(tmp_path / "p", {"proj/__init__.py": "", "proj/celery.py": _chain(levels, shape)})
    start = time.perf_counter()
    with _deadline(20):
        code, out, _ = _cli(capsys, monkeypatch, root, "tasks", "--format", "json")
    assert code == 0
    assert time.perf_counter() - start < 5
    if shape != "list":
        assert _option(out, "proj.celery.work", "time_limit")["value"] == 10


def test_chained_names_past_the_depth_cap_are_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """56 levels: past the evaluation's depth cap the value is unknown (rules stay silent),
    and ``celery-lint tasks`` says so."""
    root = _project(tmp_path / "p", {"proj/__init__.py": "", "proj/celery.py": _chain(56, "twice")})
    with _deadline(20):
        code, out, _ = _cli(capsys, monkeypatch, root, "tasks", "--format", "json")
    assert code == 0
    time_limit = _option(out, "proj.celery.work", "time_limit")
    assert time_limit["value"] is None and time_limit["unknown"], time_limit
    with _deadline(20):
        code, out, _ = _cli(capsys, monkeypatch, root, "--no-cache", "--select", "CEL201")
    assert code == 0, out


def _diamonds(levels: int) -> str:
    """Classes that each derive from both classes of the level before: a walk over the
    bases that does not remember where it has been takes 2**levels steps."""
    lines = ["from celery import Celery", "", "", "class A0:", "    pass", "", "", "class B0:", "    pass"]
    for level in range(1, levels + 1):
        for name in "AB":
            lines += ["", "", f"class {name}{level}(A{level - 1}, B{level - 1}):", "    pass"]
    top = f"A{levels}"
    lines += [
        "",
        "",
        f"class MyCelery({top}, Celery):",
        "    pass",
        "",
        "",
        "app = MyCelery('proj')",
        "",
        "",
        f"class Config({top}):",
        "    task_time_limit = 5",
        "",
        "",
        "app.config_from_object(Config)",
        "",
        "",
        f"class Base({top}, app.Task):",
        "    pass",
        "",
        "",
        f"@app.task(base={top})",
        "def plain():",
        "    pass",
        "",
        "",
        "@app.task(base=Base)",
        "def based():",
        "    pass",
        "",
    ]
    return "\n".join(lines)


def test_diamond_class_hierarchies_are_walked_in_linear_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the robustness sweep's kind of input: 18 levels took minutes (every walk
    over task bases, configuration classes and app classes went down each path)."""
    root = _project(tmp_path / "p", {"proj/__init__.py": "", "proj/celery.py": _diamonds(24)})
    start = time.perf_counter()
    with _deadline(30):
        code, _, _ = _cli(capsys, monkeypatch, root, "--no-cache", "--select", "ALL")
        assert code in (0, 1)
        code, out, _ = _cli(capsys, monkeypatch, root, "tasks", "--format", "json")
    assert code == 0 and {t["name"] for t in json.loads(out)["tasks"]} == {
        "proj.celery.plain",
        "proj.celery.based",
    }
    assert time.perf_counter() - start < 8


# --------------------------------------------------------------------------- 2. huge numbers
_HUGE = "9" * 311  # past the float range
_HUGE_SOURCE = f"""from datetime import timedelta

from celery import Celery
from celery.schedules import crontab, schedule

app = Celery('proj', broker='redis://localhost')
BIG = (10**63)**63
app.conf.task_time_limit = BIG * BIG
app.conf.task_soft_time_limit = 1e400
app.conf.worker_prefetch_multiplier = {_HUGE}
app.conf.broker_transport_options = {{'visibility_timeout': {_HUGE}}}
app.conf.task_acks_late = True
app.conf.beat_schedule = {{
    'a': {{'task': 'proj.celery.big', 'schedule': {_HUGE}}},
    'b': {{'task': 'proj.celery.big', 'schedule': timedelta(seconds={_HUGE})}},
    'c': {{'task': 'proj.celery.big', 'schedule': schedule(run_every=1e400)}},
    'd': {{'task': 'proj.celery.big', 'schedule': crontab(minute={_HUGE})}},
}}


@app.task(bind=True, time_limit={_HUGE}, soft_time_limit={_HUGE}0, max_retries=BIG,
          autoretry_for=(OSError,), retry_backoff=10**4000, expires=1e400 - 1e400)
def big(self):
    raise self.retry(countdown={_HUGE})


@app.task(time_limit=60, soft_time_limit=2**5000, expires=1e400)
def other():
    big.apply_async(countdown={_HUGE})
"""


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_huge_numbers_are_values_like_any_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """``(10**63)**63`` squared, a 311-digit ``time_limit=``, ``1e400``: no crash
    (``float()`` overflowed, ``str()`` of a 7,939-digit int raised ValueError)."""
    root = _project(tmp_path / "p", {"proj/__init__.py": "", "proj/celery.py": _HUGE_SOURCE})
    code, out, err = _cli(capsys, monkeypatch, root, "--no-cache", "--select", "ALL", "--format", fmt)
    assert code == 1 and "error" not in err, (out, err)
    if fmt == "text":
        # The soft limit past the hard one is found, its numbers shown short.
        lines = [line for line in out.splitlines() if " CEL203 " in line]
        assert len(lines) == 1 and len(lines[0]) < 400, out
        assert "soft time limit 1.000e+312 s" in lines[0], lines


def test_huge_numbers_in_the_task_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 311-digit limit is known as it is; a number the analysis will not compute (more
    than 4096 bits) is unknown; an infinite float shows as "inf" (JSON has no infinity)."""
    root = _project(tmp_path / "p", {"proj/__init__.py": "", "proj/celery.py": _HUGE_SOURCE})
    options = "time_limit,soft_time_limit,max_retries"
    code, out, _ = _cli(capsys, monkeypatch, root, "tasks", "--format", "json", "--option", options)
    assert code == 0
    assert _option(out, "proj.celery.big", "time_limit")["value"] == int(_HUGE)
    assert _option(out, "proj.celery.big", "max_retries")["unknown"]
    assert _option(out, "proj.celery.other", "soft_time_limit")["unknown"]
    assert _option(out, "proj.celery.other", "time_limit")["value"] == 60
    code, out, _ = _cli(capsys, monkeypatch, root, "tasks", "--format", "json", "--option", "expires")
    assert _option(out, "proj.celery.other", "expires")["value"] == "inf"
    assert _option(out, "proj.celery.big", "expires")["unknown"]  # NaN
    code, out, _ = _cli(capsys, monkeypatch, root, "tasks")
    assert code == 0 and "1.000e+311" in out, out


def test_huge_numbers_under_flake8(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"proj/__init__.py": "", "proj/celery.py": _HUGE_SOURCE})
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--select", "CEL", "-j", "1", "proj"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and not proc.stderr, proc.stderr[-3000:]
    assert " CEL" in proc.stdout


# --------------------------------------------------------------------------- 3. a -j worker killed
def _many_tasks(root: Path, package: str, files: int, tasks: int = 40) -> None:
    body = "from celery import shared_task\n" + "".join(
        f"\n\n@shared_task\ndef t{i}(x):\n    return [x * {i} for _ in range(3)]\n" for i in range(tasks)
    )
    (root / package).mkdir(parents=True, exist_ok=True)
    (root / package / "__init__.py").write_text("", encoding="utf-8")
    for index in range(files):
        (root / package / f"m{index}.py").write_text(body, encoding="utf-8")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _cli_process(root: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery_lint", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the workers")
@pytest.mark.parametrize("projects", [1, 2])
def test_a_killed_worker_is_an_error_not_a_hang(tmp_path: Path, projects: int) -> None:
    """``kill -9`` of a ``-j 2`` worker (as the out-of-memory killer does): the parent
    waited forever; now the files it held are error lines and the run exits 2."""
    root = _project(tmp_path / "p", {})
    _many_tasks(root, "app0", 12, tasks=20)
    if projects == 2:  # a nested project: the projects run in separate processes
        _project(root / "other", {})
        _many_tasks(root / "other", "app1", 8, tasks=20)
    proc = _cli_process(root, "--no-cache", "-j", "2", ".")
    try:
        deadline = time.monotonic() + 30
        victims: list[int] = []
        while not victims and proc.poll() is None and time.monotonic() < deadline:
            victims = _children(proc.pid)
            time.sleep(0.01)
        assert victims, "no worker process appeared"
        os.kill(victims[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 2, (out, err)
    lost = [line for line in err.splitlines() if "worker process checking it ended abruptly" in line]
    assert lost and all(
        line.startswith("celery-lint: error: ") and ".py: not checked" in line for line in lost
    ), err
    assert "Traceback" not in err, err


# --------------------------------------------------------------------------- 6. internal errors
def test_an_internal_error_exits_3_with_one_line_and_a_traceback_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of celery-lint exited 1, the code of findings, even with ``--exit-zero``: it
    exits 3 with one line naming the file that holds the traceback."""
    import tempfile

    from celery_lint.engine import runner

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug\nover two lines")

    root = _project(tmp_path / "p", {"proj/tasks.py": "from celery import shared_task\n"})
    crash_dir = tmp_path / "tmp"
    crash_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(crash_dir))
    monkeypatch.setattr(runner, "_lint_project", broken)
    code, out, err = _cli(capsys, monkeypatch, root, "--exit-zero", "--no-cache")
    assert code == 3 and out == "", (out, err)
    assert err.count("\n") == 1 and err.startswith(
        "celery-lint: internal error: RuntimeError: a bug over two lines;"
    )
    (report,) = crash_dir.glob("celery-lint-crash-*.txt")
    assert str(report) in err
    text = report.read_text("utf-8")
    assert (
        "Traceback (most recent call last)" in text
        and "RuntimeError: a bug" in text
        and "--exit-zero" in text
    )


def test_an_internal_error_in_the_task_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from celery_lint import inventory

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    root = _project(tmp_path / "p", {"proj/tasks.py": "from celery import shared_task\n"})
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(inventory, "build_inventory", broken)
    code, _, err = _cli(capsys, monkeypatch, root, "tasks")
    assert code == 3 and err.startswith("celery-lint: internal error: KeyError: 'boom';"), err


# --------------------------------------------------------------------------- 7. Ctrl-C
def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the run is under way")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_the_run_at_once(tmp_path: Path, jobs: str) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) mid-run: exit 130 with
    one line within two seconds; it took about 8 s (the parse thread was joined first)."""
    root = _project(tmp_path / "p", {})
    _many_tasks(root, "proj", 60, tasks=60)
    proc = _cli_process(root, "--no-cache", "-j", jobs, ".")
    try:
        deadline = time.monotonic() + 30
        while proc.poll() is None and _cpu_seconds(proc.pid) < 1.0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        start = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, (proc.returncode, err)
    assert err == "celery-lint: interrupted\n" and out == "", err
    assert elapsed < 2, elapsed


def _ctrl_c_in_positions(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """Ctrl-C lands in LibCST's code generation for positions, as a terminal's may at any
    moment; the real LibCST's clean-up then raises KeyError with the interrupt as context."""
    from libcst.metadata import position_provider

    state = position_provider.WhitespaceInclusivePositionProvidingCodegenState
    original = state.before_codegen
    calls = iter(range(after + 1))

    def interrupted(self: Any, node: Any) -> None:
        if next(calls, after) >= after:
            raise KeyboardInterrupt
        original(self, node)

    monkeypatch.setattr(state, "before_codegen", interrupted)


def test_ctrl_c_that_a_library_turns_into_an_error_is_still_ctrl_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was reported as an internal error (exit 3, ``KeyError: IndentedBlock(...)``)."""
    root = _project(tmp_path / "p", {})
    _many_tasks(root, "proj", 2, tasks=5)
    _ctrl_c_in_positions(monkeypatch, after=40)
    code, out, err = _cli(capsys, monkeypatch, root, "--no-cache", "-j", "1", ".")
    assert (code, out, err) == (130, "", "celery-lint: interrupted\n")


def test_ctrl_c_in_the_flake8_plugin_that_a_library_turns_into_an_error_is_still_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from celery_lint.flake8_plugin import CeleryLintChecker

    root = _project(tmp_path / "p", {})
    _many_tasks(root, "proj", 1, tasks=5)
    path = root / "proj" / "m0.py"
    _ctrl_c_in_positions(monkeypatch, after=40)
    checker = CeleryLintChecker(None, str(path), path.read_text().splitlines(keepends=True))
    with pytest.raises(KeyboardInterrupt):
        list(checker.run())


# --------------------------------------------------------------------------- 4. undecodable file names
_BARE = "from celery import shared_task\n\n\n@shared_task\ndef bare():\n    pass\n"


@pytest.fixture
def undecodable_name(tmp_path: Path) -> Path:
    """A task module in a folder whose name is not valid UTF-8 (the module's own name must
    be one an import can name for its task to count: ``bad\xff.py`` could not be)."""
    root = _project(tmp_path / "p", {})
    try:
        folder = root / os.fsdecode(b"bad\xff")
        folder.mkdir()
        (folder / "tasks.py").write_text(_BARE, encoding="utf-8")
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses a file name that is not valid UTF-8")
    return root


@pytest.mark.skipif(sys.platform == "win32", reason="file names are Unicode there")
@pytest.mark.parametrize("fmt", ["text", "github", "json"])
def test_undecodable_file_name_on_a_strict_stdout(
    undecodable_name: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """pytest's captured stdout is strict UTF-8, as a stdout with PYTHONIOENCODING=utf-8:
    the name's byte comes out escaped instead of raising UnicodeEncodeError."""
    code, out, err = _cli(capsys, monkeypatch, undecodable_name, "--no-cache", "--format", fmt)
    assert code == 1, (out, err)
    if fmt == "json":
        assert {f["path"] for f in json.loads(out)["findings"]} == {os.fsdecode(b"bad\xff/tasks.py")}
    elif fmt == "text":
        assert "bad\\xff/tasks.py:5:1: CEL201 " in out, out
    else:
        assert "file=bad\\xff/tasks.py,line=5" in out, out
    code, out, _ = _cli(capsys, monkeypatch, undecodable_name, "tasks")
    assert code == 0 and "bad\\xff" in out, out


@pytest.mark.skipif(sys.platform == "win32", reason="file names are Unicode there")
def test_undecodable_file_name_in_sarif(
    undecodable_name: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SARIF crashed on every such name (``quote()`` of a lone surrogate): the URI holds the
    name's bytes percent-encoded."""
    from urllib.parse import unquote_to_bytes

    code, out, err = _cli(capsys, monkeypatch, undecodable_name, "--no-cache", "--format", "sarif")
    assert code == 1, (out, err)
    results = json.loads(out)["runs"][0]["results"]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert uris == {"bad%FF/tasks.py"}
    assert (undecodable_name / os.fsdecode(unquote_to_bytes("bad%FF/tasks.py"))).is_file()


@pytest.mark.skipif(sys.platform == "win32", reason="file names are Unicode there")
def test_a_project_in_a_folder_with_an_undecodable_name_is_cached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, user_cache_dir: Path
) -> None:
    """The cache names its entries after the project's folder: a name that is not valid
    UTF-8 made every cached run an internal error."""
    try:
        root = _project(tmp_path / os.fsdecode(b"shop\xff"), {"tasks.py": _BARE})
    except (OSError, UnicodeError):
        pytest.skip("the file system refuses a file name that is not valid UTF-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(user_cache_dir))
    monkeypatch.delenv("CELERY_LINT_CACHE_DIR", raising=False)
    uncached = _cli(capsys, monkeypatch, root, "--no-cache")
    assert uncached[0] == 1 and "tasks.py:5:1: CEL201 " in uncached[1], uncached
    assert _cli(capsys, monkeypatch, root) == uncached
    assert _cli(capsys, monkeypatch, root) == uncached
    assert list((root / ".celery_lint_cache").glob("results-*.json"))


# --------------------------------------------------------------------------- 5. baselines
_ENTRY = '{"path": "t.py", "code": "CEL201", "line_content": "def bare():", "count": %s}'


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("[" * 100_000 + "]" * 100_000, "nested too deeply", id="deep-json"),
        pytest.param(
            '{"celery_lint_baseline": 1, "findings": [%s]}' % (_ENTRY % "1e400"),
            "malformed baseline entry",
            id="count-1e400",
        ),
        pytest.param(
            '{"celery_lint_baseline": 1, "findings": [%s]}' % (_ENTRY % "2.5"),
            "malformed baseline entry",
            id="count-not-whole",
        ),
        pytest.param(
            '{"celery_lint_baseline": 1, "findings": [%s]}' % (_ENTRY % "NaN"),
            "malformed baseline entry",
            id="count-nan",
        ),
        pytest.param(
            '{"celery_lint_baseline": 1, "findings": [{"path": 1, "code": [], "line_content": "x"}]}',
            "malformed baseline entry",
            id="not-strings",
        ),
    ],
)
def test_hostile_baseline_is_one_error_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    expected: str,
) -> None:
    """Deep JSON raised RecursionError, ``"count": 1e400`` OverflowError: one line, exit 2."""
    root = _project(tmp_path / "p", {"t.py": _BARE})
    (root / "b.json").write_text(content, encoding="utf-8")
    code, out, err = _cli(capsys, monkeypatch, root, "--no-cache", "--baseline", "b.json", "t.py")
    assert code == 2, (out, err)
    errors = [line for line in err.splitlines() if not line.startswith("celery-lint: warning: ")]
    assert (
        len(errors) == 1 and errors[0].startswith("celery-lint: error: b.json: ") and expected in errors[0]
    ), err
    assert len(errors[0]) < 400, errors


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("write", [False, True])
def test_baseline_that_is_a_fifo_does_not_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, write: bool
) -> None:
    """Opening a FIFO blocks until another process opens its other end: it is refused unopened."""
    root = _project(tmp_path / "p", {"t.py": _BARE})
    os.mkfifo(root / "b.json")
    args = ["--no-cache", "--baseline", "b.json", *(["--write-baseline"] if write else []), "t.py"]
    with _deadline(20):
        code, out, err = _cli(capsys, monkeypatch, root, *args)
    assert code == 2, (out, err)
    action = "write" if write else "read"
    assert f"celery-lint: error: b.json: cannot {action} baseline: not a regular file" in err.splitlines(), (
        err
    )


@pytest.mark.parametrize("dangling", [False, True])
def test_write_baseline_never_writes_through_a_symbolic_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, dangling: bool
) -> None:
    """#14 review: a baseline committed as a link (to a file outside the project, or
    dangling) had --write-baseline overwrite or create the file it points to."""
    root = _project(tmp_path / "p", {"t.py": _BARE})
    target = tmp_path / "outside.txt"
    if not dangling:
        target.write_text("keep\n")
    (root / "b.json").symlink_to(target)
    code, out, err = _cli(
        capsys, monkeypatch, root, "--no-cache", "--baseline", "b.json", "--write-baseline", "t.py"
    )
    assert code == 2, (out, err)
    assert "b.json: cannot write baseline: it is a symbolic link" in err, err
    assert (target.read_text() == "keep\n") if not dangling else not target.exists()
