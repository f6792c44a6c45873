"""The pytest plugin as a plugin: loading, coexistence, the lint gate, a real worker."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from celery_pytester import contrib_worker_stops_at_once, forget_shared_tasks  # noqa: F401 (fixtures)

pytest_plugins = ["pytester"]

OUR_FIXTURES = {
    "celery_lint_app",
    "celery_lint_config",
    "celery_queue",
    "celery_eager",
    "celery_tasks",
    "celery_retries",
    "celery_idempotency",
    "celery_on_commit",
    "celery_beat",
}
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )


def test_importing_the_plugin_imports_neither_libcst_nor_celery() -> None:
    done = _python(
        "import sys, celery_lint.pytest_plugin.plugin\n"
        "heavy = sorted(m for m in ('libcst', 'celery', 'kombu') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    assert done.returncode == 0, done.stderr


def test_the_pytest11_entry_point_is_named_celery_lint() -> None:
    from importlib.metadata import entry_points

    found = {
        ep.name: ep.value
        for ep in entry_points(group="pytest11")
        if ep.dist and ep.dist.name == "celery-lint"
    }
    assert found == {"celery_lint": "celery_lint.pytest_plugin.plugin"}


def test_p_celery_lint_works_with_autoload_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_it="""
import sys

def test_it(celery_tasks):
    assert len(celery_tasks) == 0
    assert "libcst" not in sys.modules
"""
    )
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    # In a process of its own: this one has imported LibCST already.
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "celery_lint"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        without = pytester.runpytest("-p", "no:cacheprovider")
    without.stdout.fnmatch_lines(["*fixture 'celery_tasks' not found*"])


def test_no_autouse_fixture(pytester: pytest.Pytester) -> None:
    """The fixtures a test gets without asking are the same with the plugin and without."""
    pytester.makepyfile(
        test_it="""
def test_it(request):
    print("FIXTURES", sorted(request.fixturenames))
"""
    )
    seen = []
    for args in (("-p", "no:celery_lint"), ("-p", "celery_lint")):
        result = pytester.runpytest("-s", *QUIET, *args)
        result.assert_outcomes(passed=1)
        seen.append([m.group(1) for m in map(re.compile(r"FIXTURES (.*)$").search, result.stdout.lines) if m])
    assert seen[0] == seen[1] == ["['request']"], seen


def _parse_fixtures(lines: list[str]) -> dict[str, str]:
    """Fixture name -> where it is defined, from the output of ``pytest --fixtures``."""
    found = {}
    for line in lines:
        match = re.match(r"^(\w+)(?: \[\w+ scope\])? -- (.+)$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def _fixtures(pytester: pytest.Pytester, *args: str) -> dict[str, str]:
    return _parse_fixtures(pytester.runpytest("--fixtures", *QUIET, *args).stdout.lines)


def _assert_no_clash(
    pytester: pytest.Pytester, *plugin_args: str, fixtures: Callable[..., dict[str, str]] | None = None
) -> dict[str, str]:
    """Diff ``pytest --fixtures`` without and with this plugin: ours are added, no other changes."""
    list_fixtures = fixtures or (lambda *args: _fixtures(pytester, *args))
    without = list_fixtures(*plugin_args, "-p", "no:celery_lint")
    with_ours = list_fixtures(*plugin_args, "-p", "celery_lint")
    theirs = {name for name, where in without.items() if "celery" in where}
    assert theirs, "the other plugin's fixtures were not listed"
    assert OUR_FIXTURES.isdisjoint(without), sorted(OUR_FIXTURES & set(without))
    for name, where in without.items():
        assert with_ours.get(name) == where, f"{name} changed: {where} -> {with_ours.get(name)}"
    assert set(with_ours) - set(without) == OUR_FIXTURES
    return without


def test_no_fixture_clash_with_celery_contrib_pytest(pytester: pytest.Pytester) -> None:
    # -p no:celery: with pytest-celery installed, its entry point (named celery) would
    # replace contrib's celery_worker; this is the documented way to get contrib's.
    theirs = _assert_no_clash(pytester, "-p", "no:celery", "-p", "celery.contrib.pytest")
    assert {"celery_app", "celery_worker", "celery_config", "celery_session_worker"} <= set(theirs)


PYTEST_CELERY = "pytest-celery>=1.3,<2"
_NETWORK_ERRORS = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "No route to host",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "Connection refused",
)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            *args,
            "--retries",
            "1",
            "--timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        output = done.stdout + done.stderr
        network = [line for line in output.splitlines() if any(m in line for m in _NETWORK_ERRORS)]
        if network:
            pytest.skip(f"cannot download {PYTEST_CELERY}, no network: {network[0].strip()[:300]}")
        pytest.fail(f"pip {' '.join(args)} failed:\n{output}")
    return done


@pytest.fixture(scope="session")
def pytest_celery_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A folder holding pytest-celery and whatever it needs that this environment lacks,
    for ``PYTHONPATH`` of a pytest subprocess; "" when it is installed here (the test
    extra has it; the suite's own runs leave its pytest plugins off, see addopts).

    Without it (a run outside the test extra) this installs it aside (``pip install
    --target``), only the distributions ``pip install --dry-run`` says are missing, so
    Celery, kombu and pytest stay the environment's own. That folder is kept between runs
    in the system's temporary directory, keyed by the requirement, the Python version and
    this environment: a complete install is moved into place in one rename.
    """
    try:
        import pytest_celery  # noqa: F401
    except ImportError:
        pass
    else:
        return ""  # installed here already
    key = hashlib.sha256(f"{PYTEST_CELERY}|{sys.version}|{sys.prefix}".encode()).hexdigest()[:16]
    cached = Path(tempfile.gettempdir()) / "celery-lint-tests" / f"pytest-celery-{key}"
    if (cached / "pytest_celery").is_dir():
        return str(cached)
    folder = tmp_path_factory.mktemp("pytest-celery")
    report = folder / "report.json"
    _pip("install", "--dry-run", "--quiet", "--report", str(report), PYTEST_CELERY)
    missing = [
        f"{item['metadata']['name']}=={item['metadata']['version']}"
        for item in json.loads(report.read_text())["install"]
    ]
    target = folder / "site"
    _pip("install", "--quiet", "--no-deps", "--target", str(target), *missing)
    assert (target / "pytest_celery").is_dir(), sorted(p.name for p in target.iterdir())
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cached.parent, prefix=".staging-"))
    shutil.copytree(target, staging / "site", symlinks=True)
    try:
        os.rename(staging / "site", cached)
    except OSError:  # another run got there first: its folder is as good
        shutil.rmtree(staging, ignore_errors=True)
        return str(cached) if (cached / "pytest_celery").is_dir() else str(target)
    staging.rmdir()
    return str(cached)


_OUTER_CACHE_HOME = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")


def _run_with_pytest_celery(
    pytester: pytest.Pytester, path: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """``pytest *args`` in a subprocess with pytest-celery on the path and plugin autoload on."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_ADDOPTS")
    }
    # pytester's HOME has no celery-lint cache: the subprocess would rebuild Celery's
    # settings catalogue (about 1 s); the outer run's cache holds the same, version-keyed.
    env["XDG_CACHE_HOME"] = _OUTER_CACHE_HOME
    if path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH", "")) if p)
    # Hypothesis' plugin (the suite's own tool, autoloaded too) costs about 1 s of
    # imports a run and has nothing to do with these two plugins.
    return subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, "-p", "no:hypothesispytest", *args],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


@pytest.mark.slow
def test_no_fixture_clash_with_pytest_celery(pytester: pytest.Pytester, pytest_celery_path: str) -> None:
    def fixtures(*args: str) -> dict[str, str]:
        done = _run_with_pytest_celery(pytester, pytest_celery_path, "--fixtures", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return _parse_fixtures(done.stdout.splitlines())

    # Both plugins load through their entry points (autoload on), as after
    # `pip install celery[pytest] celery-lint`.
    theirs = _assert_no_clash(pytester, fixtures=fixtures)
    from_pytest_celery = {name for name, where in theirs.items() if "pytest_celery" in where}
    assert {"celery_setup", "celery_worker", "celery_broker", "celery_backend"} <= from_pytest_celery
    # pytest-celery re-exports celery.contrib.pytest: contrib's fixtures are in the diff too.
    assert "celery/contrib/pytest.py" in theirs["celery_app"]


@pytest.mark.slow
def test_fixtures_and_lint_gate_work_with_pytest_celery_loaded(
    pytester: pytest.Pytester, pytest_celery_path: str
) -> None:
    pytester.makepyfile(wproj=WORKER_PROJECT)
    pytester.makeini("[pytest]\ncelery_lint_app = wproj:app\npythonpath = .\n")
    pytester.makepyfile(
        test_it="""
import wproj

def test_queue(celery_lint_app, celery_queue, celery_tasks):
    result = wproj.fan_out.delay(2)
    celery_queue.run_all()
    assert result.get() == 2
    assert celery_tasks.names == ["wproj.fan_out", "wproj.add", "wproj.add"]
"""
    )
    done = _run_with_pytest_celery(pytester, pytest_celery_path, "--celery-lint", "-v")
    output = done.stdout + done.stderr
    assert re.search(r"plugins:.*\bcelery-1\.", output) or pytest_celery_path == "", output
    assert "test_it.py::test_queue PASSED" in output, output
    # the lint gate's items run beside pytest-docker-tools' hooks; wproj.py has findings
    assert "wproj.py::celery-lint FAILED" in output, output
    assert "CEL201 task 'wproj.add' has no time limit" in output, output


SEED = """
import pytest


@pytest.fixture(scope="session")
def celery_config():
    return {"broker_url": "memory://", "result_backend": "cache+memory://", "task_always_eager": True}


def test_create_task(celery_app, celery_worker):
    @celery_app.task
    def mul(x, y):
        return x * y

    assert mul.delay(4, 4).get(timeout=10) == 16


def test_recorder_sees_the_contrib_app(celery_app, celery_tasks):
    @celery_app.task
    def mul(x, y):
        return x * y

    assert mul.delay(4, 4).get(timeout=10) == 16
    celery_tasks.assert_called_once_with(mul, 4, 4)
"""


@pytest.mark.usefixtures("contrib_worker_stops_at_once")
def test_seed_example_keeps_working_with_the_plugin_loaded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_seed=SEED)
    # -p no:celery keeps pytest-celery (when installed) from replacing contrib's celery_worker.
    result = pytester.runpytest(*QUIET, "-p", "no:celery", "-p", "celery.contrib.pytest", "-p", "celery_lint")
    result.assert_outcomes(passed=2)


WORKER_PROJECT = """
from celery import Celery

app = Celery("wproj", broker="redis://127.0.0.1:1/0", backend="redis://127.0.0.1:1/1")


@app.task
def add(x, y):
    return x + y


@app.task
def fan_out(n):
    for i in range(n):
        add.delay(i, i)
    return n
"""


@pytest.mark.slow
def test_celery_lint_app_with_a_real_in_memory_worker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(wproj=WORKER_PROJECT)
    pytester.makeini("[pytest]\ncelery_lint_app = wproj:app\npythonpath = .\n")
    pytester.makepyfile(
        test_it=textwrap.dedent(
            """
            from celery.contrib.testing.worker import start_worker
            import wproj

            def test_worker_thread(celery_lint_app, celery_tasks):
                with start_worker(celery_lint_app, pool="solo", perform_ping_check=False):
                    assert wproj.add.delay(2, 3).get(timeout=10) == 5
                    assert wproj.fan_out.delay(2).get(timeout=10) == 2
                assert celery_tasks.names[:2] == ["wproj.add", "wproj.fan_out"]
                assert sorted(c.args for c in celery_tasks.calls_for(wproj.add)) == [(0, 0), (1, 1), (2, 3)]
            """
        )
    )
    result = pytester.runpytest(*QUIET)
    result.assert_outcomes(passed=1)


LINTED_PROJECT = {
    "clean": """
        from celery import Celery

        app = Celery("lintproj", broker="redis://localhost:6379/0")
        app.conf.broker_connection_retry_on_startup = True


        @app.task(time_limit=60, soft_time_limit=50, acks_late=True)
        def add(x, y):
            return x + y
        """,
    "bad": """
        from clean import app


        @app.task
        def slow(x):
            return x
        """,
    "vendored/skipped": """
        from clean import app


        @app.task
        def ignored(x):
            return x
        """,
    "plain": "VALUE = 1\n",
}


def test_lint_gate_one_item_per_file(pytester: pytest.Pytester) -> None:
    """In process: celery_pytester imports (and warms) every celery-lint module the gate
    uses in this process first, so that no run re-imports them (pytester drops the modules
    first imported inside a run)."""
    pytester.makepyprojecttoml('[tool.celery-lint]\nexclude = ["vendored"]\n')
    (pytester.path / "vendored").mkdir()
    for name, source in LINTED_PROJECT.items():
        (pytester.path / f"{name}.py").write_text(textwrap.dedent(source))
    result = pytester.runpytest(*QUIET, "--celery-lint", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "bad.py::celery-lint FAILED*",
            "clean.py::celery-lint PASSED*",
            "plain.py::celery-lint PASSED*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*bad.py:6:1: CEL201 task 'bad.slow' has no time limit*",
            "*bad.py:6:1: CEL205 *",
            "2 celery-lint findings",
        ]
    )
    assert "vendored" not in result.stdout.str()
    quiet = pytester.runpytest(*QUIET)
    quiet.assert_outcomes()  # without --celery-lint nothing is collected


def test_docs_show_every_fixture_with_an_example() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "pytest.md").read_text(encoding="utf-8")
    examples = re.findall(r"```python\n(.*?)```", text, re.S)
    for name in sorted(OUR_FIXTURES):
        assert re.search(rf"^### `{name}`$", text, re.M), f"docs/pytest.md has no section for {name}"
        uses = re.compile(rf"^\s*def (?:{name}\(|\w+\([^)]*\b{name}\b)", re.M)
        assert any(uses.search(code) for code in examples), f"docs/pytest.md has no example using {name}"
