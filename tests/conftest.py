"""Shared helpers: a throw-away project on disk and the real command line run on it (its
``main()`` in this process, or a subprocess with ``CELERY_LINT_TESTS_IN_SUBPROCESS=1``).

Only what the user sees is asserted: exit code, stdout, stderr. Every run checks that
no Python traceback leaked to stderr.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libcst  # noqa: F401  (see below)
import pytest

# An in-process pytester run restores ``sys.modules`` when it ends. Were LibCST first
# imported inside such a run, modules this process imported before it (and their LibCST
# stand-in) would keep the LibCST of that run while the next run parses with a fresh one:
# its nodes would match none of their classes. Imported here, every run shares one LibCST.

FINDING_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<column>\d+): (?P<code>[A-Z]+[0-9]+) (?P<message>.+)$"
)
# What the run saw: ``1 app, 37 tasks`` and, when some are, ``, 3 with unknown configuration: ...``.
_SEEN = r"\d+ apps?, \d+ tasks?(, \d+ with unknown configuration: celery-lint tasks shows why)?"
SUMMARY_LINE = re.compile(
    rf"^(No findings in \d+ files? checked \({_SEEN}\)\.|"
    rf"Found \d+ findings? in \d+ files? \(\d+ files? checked; {_SEEN}\)\.)$"
)
# The last line of a text run with findings that have fixes (ruff's wording).
FIXES_LINE = re.compile(
    r"^(\d+ fix(es)? available with --fix(, \d+ more with --unsafe-fixes)?"
    r"|\d+ fix(es)? available with --fix --unsafe-fixes)$"
)
# A project that imports Celery where no app (or no task) was found: one such line on stderr.
WARNING_PREFIX = "celery-lint: warning: "

# A task that every default rule is happy with.
CLEAN_TASK = (
    "from celery import shared_task\n"
    "\n"
    "\n"
    "@shared_task(time_limit=60, soft_time_limit=50, acks_late=True, ignore_result=True)\n"
    "def clean(x):\n"
    "    return x\n"
)

# The codes these tests reason about. Runs that compare whole outputs select them, so
# that rules added later do not change what those tests see. TASK_CODES are the codes a
# bare task gets: CEL201 (no time limit at all; CEL202 stays silent, one finding per cause)
# and CEL205.
TASK_CODES = frozenset({"CEL201", "CEL205"})
SELECT = "CEL101,CEL103,CEL201,CEL202,CEL205,CEL900"

# A bare task: CEL201 and CEL205 on line 4 (the ``def`` line), column 1.
BARE_TASK = "from celery import shared_task\n\n@shared_task\ndef bare():\n    pass\n"


@dataclass(repr=False)
class Run:
    returncode: int
    stdout: str
    stderr: str
    args: list[str]

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def summary(self) -> str:
        """The summary line (``Found ...``/``No findings ...``), before the hints and the
        line of available fixes that may follow it."""
        return next((line for line in reversed(self.lines) if SUMMARY_LINE.match(line)), "")

    @property
    def finding_lines(self) -> list[str]:
        return [line for line in self.lines if FINDING_LINE.match(line)]

    @property
    def findings(self) -> list[tuple[str, int, int, str]]:
        """(path, line, column, code) of every text-format finding line."""
        out = []
        for line in self.lines:
            match = FINDING_LINE.match(line)
            if match:
                out.append((match["path"], int(match["line"]), int(match["column"]), match["code"]))
        return out

    def codes_in(self, path: str) -> set[str]:
        return {code for p, _, _, code in self.findings if p == path}

    def at(self, path: str) -> list[tuple[int, int, str]]:
        return sorted((line, col, code) for p, line, col, code in self.findings if p == path)

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    @property
    def error_lines(self) -> list[str]:
        """stderr without the run's warnings (a project with tasks but no app says so)."""
        return [line for line in self.stderr_lines if not line.startswith(WARNING_PREFIX)]

    def __repr__(self) -> str:  # shown by pytest on assertion failures
        return f"$ {' '.join(self.args)}\n[exit {self.returncode}]\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


# Set CELERY_LINT_TESTS_IN_SUBPROCESS=1 to run every command line in its own process, as a
# user's shell does; by default it runs in the test's process (a fresh interpreter costs
# about 0.35 s a run, the larger part of the suite's time). Tests whose behaviour needs a
# process (signals, interpreter start-up, encodings of the standard streams) start one
# themselves.
IN_SUBPROCESS = os.environ.get("CELERY_LINT_TESTS_IN_SUBPROCESS", "") not in ("", "0")


def _run_in_process(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """``celery-lint ARGS`` run by ``celery_lint.cli.main`` in this process, from ``cwd``,
    with UTF-8 standard streams (what ``PYTHONIOENCODING=utf-8`` gives the subprocess)."""
    import io

    from celery_lint.cli import main

    out, err = io.BytesIO(), io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", errors="strict", newline="\n", write_through=True)
    stderr = io.TextIOWrapper(
        err, encoding="utf-8", errors="backslashreplace", newline="\n", write_through=True
    )
    saved = sys.stdout, sys.stderr, os.getcwd(), sys.argv
    os.chdir(cwd)
    sys.stdout, sys.stderr, sys.argv = stdout, stderr, ["celery-lint", *args]
    try:
        try:
            code = main(args)
        except SystemExit as exit_:  # argparse's usage errors, --help, --version
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
        stdout.flush()
        stderr.flush()
    finally:
        sys.stdout, sys.stderr, cwd_before, sys.argv = saved[0], saved[1], saved[2], saved[3]
        os.chdir(cwd_before)
    return code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")


def _forks(args: tuple[str | os.PathLike[str], ...]) -> bool:
    words = [str(arg) for arg in args]
    for index, word in enumerate(words):
        value = word.partition("=")[2] if word.startswith("--jobs=") else None
        if word in ("-j", "--jobs") and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith("-j") and len(word) > 2:
            value = word[2:]
        if value is not None and value != "1":
            return True  # (0 and auto: one process a CPU)
    return False


def run_cli(
    *args: str | os.PathLike[str], cwd: Path, timeout: float = 60, allow_traceback: bool = False
) -> Run:
    # Runs started side by side from threads each need a process of their own, and so does a
    # run with -j workers (they are forked from the running process: not from a test runner's).
    if not IN_SUBPROCESS and threading.current_thread() is threading.main_thread() and not _forks(args):
        code, stdout, stderr = _run_in_process([str(arg) for arg in args], cwd)
        run = Run(code, stdout, stderr, [str(arg) for arg in args])
        if not allow_traceback:
            assert "Traceback" not in run.stderr and "internal error" not in run.stderr, str(run)
        return run
    argv = [sys.executable, "-m", "celery_lint", *map(str, args)]
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        env=env,
    )
    run = Run(proc.returncode, proc.stdout, proc.stderr, argv[2:])
    if not allow_traceback:
        assert "Traceback" not in run.stderr, str(run)
    assert run.returncode >= 0, f"killed by signal {-run.returncode}\n{run}"
    return run


class Project:
    """A temporary project root (it holds a ``pyproject.toml`` marker)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "pyproject.toml").write_text("", encoding="utf-8")

    def write(self, relpath: str, content: str | bytes) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
        return path

    def config(self, toml: str) -> None:
        (self.root / "pyproject.toml").write_text(toml, encoding="utf-8")

    def run(self, *args: str | os.PathLike[str], cwd: Path | None = None, **kwargs: Any) -> Run:
        return run_cli(*args, cwd=cwd or self.root, **kwargs)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj_root"
    root.mkdir()
    return Project(root)


# ------------------------------------------------------------------ the repository stays as it was
REPO = Path(__file__).resolve().parent.parent
# What a copy of fixtures/ leaves out: what Python, pip (``pip install -e`` of the example
# pack) and celery-lint's cache may have left in a working copy.
LEFTOVERS = shutil.ignore_patterns("__pycache__", "build", "*.egg-info", ".celery_lint_cache")


def copy_clean(source: Path, target: Path) -> Path:
    """``source`` copied to ``target`` without the leftovers of earlier runs and installs."""
    shutil.copytree(source, target, ignore=LEFTOVERS)
    return target


@pytest.fixture(scope="session")
def fixtures_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of fixtures/ (as ``<tmp>/fixtures``, beside the repository's pyproject.toml)
    for tests that run the tools on it: they must not write into the repository."""
    root = tmp_path_factory.mktemp("repo")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return copy_clean(REPO / "fixtures", root / "fixtures")


@pytest.fixture(scope="session")
def user_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user cache home (``XDG_CACHE_HOME``) for tests that must not use the real one (the
    result cache's secret lives there). Celery's settings catalogue, which takes seconds to
    build, is copied in from the usual place when it is there."""
    home = tmp_path_factory.mktemp("user-cache")
    usual = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "celery-lint"
    (home / "celery-lint").mkdir(mode=0o700)
    for catalogue in usual.glob("settings-*.json"):
        shutil.copy(catalogue, home / "celery-lint" / catalogue.name)
    return home


@pytest.fixture(scope="session")
def unmarked_fixtures_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of fixtures/ in a folder with no project marker above it (no pyproject.toml,
    setup.py, setup.cfg or .git): a project with no marker of its own (shape S11) runs
    there, where the tools find no root but the current directory."""
    root = tmp_path_factory.mktemp("unmarked")
    for folder in (root, *root.parents):
        if any((folder / marker).exists() for marker in ("pyproject.toml", "setup.py", "setup.cfg", ".git")):
            pytest.skip(f"the temporary folder is inside a project ({folder}): no unmarked copy possible")
    return copy_clean(REPO / "fixtures", root / "fixtures")


def _repository_state() -> set[str] | None:
    """``git status`` of the repository, ignored files included; None outside a git checkout.
    Python's bytecode and pytest's own cache are the interpreter's and the runner's."""
    try:
        proc = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return {
        line
        for line in proc.stdout.splitlines()
        if "__pycache__/" not in line and ".pytest_cache/" not in line
    }


_STATE_BEFORE = pytest.StashKey[set[str] | None]()


_HYPOTHESIS_HOME = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the main process, with or without xdist
        config.stash[_STATE_BEFORE] = _repository_state()
    # Hypothesis keeps data (its Unicode tables) in ./.hypothesis from the moment the fuzz
    # module builds its strategies: somewhere else, the repository is not a scratch folder.
    try:
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:
        return
    home = Path(tempfile.mkdtemp(prefix="celery-lint-tests-hypothesis-"))
    config.stash[_HYPOTHESIS_HOME] = home
    set_hypothesis_home_dir(home)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HYPOTHESIS_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when the tests changed what ``git status`` shows of the repository."""
    config = session.config
    before = config.stash.get(_STATE_BEFORE, None)
    if hasattr(config, "workerinput") or before is None:
        return
    after = _repository_state()
    if after is None:
        return
    written = sorted(after - before)
    if written:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write("\n")
            reporter.write_sep("=", "the tests wrote into the repository (git status --ignored)", red=True)
            for line in written:
                reporter.write_line(f"    {line}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ------------------------------------------------------------------ pre-commit, with one environment
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")
PRE_COMMIT_TIMEOUT = 240

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


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pre-commit's store for the session: the hook environment is installed once."""
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
        timeout=PRE_COMMIT_TIMEOUT,
        env=env,
    )
    return PreCommitRun(proc.returncode, proc.stdout, list(args))


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One commit holding the repository's working tree (tracked, modified and untracked
    files; what .gitignore ignores stays out)."""
    snapshot = tmp_path_factory.mktemp("hook-repo")
    git("init", "-q", cwd=snapshot)
    work_tree = {"GIT_DIR": str(snapshot / ".git"), "GIT_WORK_TREE": str(REPO)}
    git("add", "-A", cwd=REPO, env=work_tree)
    git("commit", "-q", "--no-verify", "-m", "snapshot of the working tree", cwd=REPO, env=work_tree)
    git("reset", "-q", "--hard", cwd=snapshot)
    assert (snapshot / ".pre-commit-hooks.yaml").is_file()
    assert (snapshot / "celery_lint" / "cli.py").is_file()
    return snapshot


def hooks_config(hook_repo: Path, *hook_ids: str) -> str:
    """A .pre-commit-config.yaml using ``hook_ids`` of the snapshot at its one revision."""
    rev = git("rev-parse", "HEAD", cwd=hook_repo).strip()
    hooks = "".join(f"      - id: {hook_id}\n" for hook_id in hook_ids)
    return f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n{hooks}"


# ------------------------------------------------------------------ the differential test's figures
DIFFERENTIAL_PROPERTY = "differential"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The differential test's figures (projects, options compared, unknown, share known),
    recorded as a property so that they reach the summary from an xdist worker too."""
    lines = []
    for outcome in ("passed", "failed"):
        for report in terminalreporter.stats.get(outcome, []):
            for key, value in getattr(report, "user_properties", []):
                if key == DIFFERENTIAL_PROPERTY:
                    lines.append(str(value))
    if lines:
        terminalreporter.section("celery-lint against Celery")
        for line in lines:
            terminalreporter.write_line(line)
