"""A project that cannot be (fully) checked never passes as a clean one, and a local rule
pack is code that runs only for the project that lists it (issue #14).

- flake8 (the real one, in a subprocess): a broken ``[tool.celery-lint]`` or a rule pack
  that fails to load is a CEL900 error line on every file, at line 0 where no ``# noqa``
  reaches it; when flake8's selection would hide CEL900, the run stops with exit 1; a
  local pack's rules run on the project that lists it only;
- the pytest lint gate (pytester): every file of such a project is a failing item, with one
  line saying why and no traceback;
- the CLI (in process): a failing pack is one error line and exit 2; a ``plugins`` module
  that is not a file of the project listing it is refused before it is imported; nothing
  but linting imports a local pack (not ``--list-rules``, ``tasks``, ``--explain CEL201``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery_pytester import forget_shared_tasks  # noqa: F401 (an autouse fixture)
from conftest import BARE_TASK, CLEAN_TASK
from test_rule_packs import LOCAL_CONFIG, PAYMENTS, make_project

from celery_lint.cli import main

pytest_plugins = ["pytester"]
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")

BROKEN_CONFIGURATIONS = {
    "invalid-toml": ("[tool.celery-lint]\nselect = [\n", "invalid TOML"),
    "wrong-type": ('[tool.celery-lint]\nselect = "CEL201"\n', "'select' must be a list of strings"),
    "unknown-code": ('[tool.celery-lint]\nselect = ["CEL999"]\n', "unknown rule code or prefix 'CEL999'"),
}
MISSING_PACK = '[tool.celery-lint]\nplugins = ["pack_that_is_not_there"]\n'
# A pack (it implements a hook, adding no rule) that leaves a file beside itself when it is
# imported: the proof it ran.
MARKER_PACK = (
    "from pathlib import Path\n\nimport pluggy\n\n"
    "Path(__file__).with_suffix('.imported').write_text('imported', encoding='utf-8')\n\n\n"
    "@pluggy.HookimplMarker('celery_lint')\n"
    "def celery_lint_rules():\n    return []\n"
)


def _project(root: Path, config: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(config, encoding="utf-8")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


# =========================================================================== flake8
def _flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
        env=env,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return proc


def _lines_by_file(stdout: str) -> dict[str, list[tuple[int, str]]]:
    """file -> (line, 'CODE message') of every output line."""
    out: dict[str, list[tuple[int, str]]] = {}
    for line in stdout.splitlines():
        path, row, _, text = line.split(":", 3)
        out.setdefault(os.path.normpath(path), []).append((int(row), text.strip()))
    return out


@pytest.mark.parametrize("case", sorted(BROKEN_CONFIGURATIONS))
def test_flake8_broken_configuration_is_an_error_line_on_every_file(tmp_path: Path, case: str) -> None:
    """With ``-j 1`` one process sees every file: each one says the project was not checked."""
    config, detail = BROKEN_CONFIGURATIONS[case]
    root = _project(tmp_path / "proj", config, {"a.py": BARE_TASK, "b.py": BARE_TASK, "c.py": "X = 1\n"})
    proc = _flake8("-j", "1", "--select", "CEL", ".", cwd=root)
    assert proc.returncode == 1, proc
    by_file = _lines_by_file(proc.stdout)
    assert sorted(by_file) == ["a.py", "b.py", "c.py"], proc.stdout
    for lines in by_file.values():
        # Nothing was checked: the error line is the file's only line.
        assert len(lines) == 1, proc.stdout
        row, text = lines[0]
        assert row == 0 and text.startswith("CEL900 celery-lint could not check this project: "), proc.stdout
        assert detail in text, proc.stdout


def test_flake8_noqa_on_line_one_does_not_hide_a_broken_configuration(tmp_path: Path) -> None:
    """The error line sits at line 0: a bare ``# noqa`` on line 1 (of the first file, of
    every file) cannot swallow it, with one process or several."""
    config, _ = BROKEN_CONFIGURATIONS["invalid-toml"]
    noqa_first = "import celery  # noqa\n" + BARE_TASK
    root = _project(tmp_path / "proj", config, {"a.py": noqa_first, "b.py": noqa_first})
    for jobs in ("1", "2"):
        proc = _flake8("-j", jobs, "--select", "CEL", ".", cwd=root)
        assert proc.returncode == 1, proc
        by_file = _lines_by_file(proc.stdout)
        assert sorted(by_file) == ["a.py", "b.py"], proc.stdout
        assert all(
            row == 0 and text.startswith("CEL900 ") for lines in by_file.values() for row, text in lines
        )


def test_flake8_selection_that_hides_cel900_stops_the_run(tmp_path: Path) -> None:
    """``--select CEL201`` would drop the CEL900 line: the run fails as a critical error."""
    config, detail = BROKEN_CONFIGURATIONS["wrong-type"]
    root = _project(tmp_path / "proj", config, {"a.py": "import celery  # noqa\n" + BARE_TASK})
    proc = _flake8("-j", "1", "--select", "CEL201", ".", cwd=root)
    assert proc.returncode == 1, proc
    assert "There was a critical error during execution of Flake8" in proc.stdout, proc
    assert detail in proc.stdout, proc
    # flake8 runs every installed plugin: a run that selects no celery-lint code goes on.
    others = _flake8("-j", "1", "--select", "E302", ".", cwd=root)
    assert others.returncode == 1 and "critical error" not in others.stdout, others
    assert others.stdout.splitlines() == ["./a.py:4:1: E302 expected 2 blank lines, found 1"], others


def test_flake8_pack_that_fails_to_load_is_an_error_line_on_every_file(tmp_path: Path) -> None:
    """The built-in rules still run (a clean task stays clean), but the pack's did not."""
    root = _project(tmp_path / "proj", MISSING_PACK, {"a.py": CLEAN_TASK, "b.py": "X = 1\n"})
    proc = _flake8("-j", "1", "--select", "CEL", ".", cwd=root)
    assert proc.returncode == 1, proc
    by_file = _lines_by_file(proc.stdout)
    assert sorted(by_file) == ["a.py", "b.py"], proc.stdout
    for lines in by_file.values():
        assert len(lines) == 1, proc.stdout
        row, text = lines[0]
        assert row == 0 and text.startswith("CEL900 celery-lint: rule pack 'pack_that_is_not_there'"), proc
        assert "No module named 'pack_that_is_not_there'" in text, proc


def test_flake8_runs_a_local_pack_on_the_project_that_lists_it_only(tmp_path: Path) -> None:
    """Two projects in one flake8 process: ``a`` lists the example pack, ``b`` does not.
    Once ``a`` has loaded it, its rule must not run on ``b``'s files."""
    make_project(tmp_path / "a", LOCAL_CONFIG, local_pack=True)
    make_project(tmp_path / "b", "")
    proc = _flake8("-j", "1", "--select", "ACM", "a", "b", cwd=tmp_path)
    assert proc.returncode == 1, proc
    assert sorted(_lines_by_file(proc.stdout)) == [os.path.join("a", PAYMENTS)], proc.stdout


# =========================================================================== pytest lint gate
# (Invalid TOML in pyproject.toml stops pytest itself, which reads the file too.)
@pytest.mark.parametrize("case", ["wrong-type", "unknown-code"])
def test_lint_gate_fails_every_file_of_a_broken_configuration(pytester: pytest.Pytester, case: str) -> None:
    config, detail = BROKEN_CONFIGURATIONS[case]
    pytester.makepyprojecttoml(config)
    (pytester.path / "clean.py").write_text("VALUE = 1\n", encoding="utf-8")
    (pytester.path / "tasks.py").write_text(CLEAN_TASK, encoding="utf-8")
    result = pytester.runpytest(*QUIET, "--celery-lint")
    result.assert_outcomes(failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    for name in ("clean.py", "tasks.py"):
        result.stdout.fnmatch_lines([f"*_ celery-lint {name} _*", f"celery-lint: error: *{detail}*"])
    output = result.stdout.str()
    assert "Traceback" not in output and "ConfigError" not in output and "UsageError" not in output, output


def test_lint_gate_fails_every_file_when_a_pack_fails_to_load(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(MISSING_PACK)
    (pytester.path / "clean.py").write_text("VALUE = 1\n", encoding="utf-8")
    result = pytester.runpytest(*QUIET, "--celery-lint")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*celery-lint: error: rule pack 'pack_that_is_not_there'*"])


SYNTAX_ERROR_TASK = "from celery import shared_task\n\n@shared_task\ndef f(:\n    pass\n"
# CPython compiles this at once; LibCST would take many seconds, so the analysis is skipped.
CHAIN = (
    "from celery import Celery\n\napp = Celery('proj')\napp.conf.beat_schedule = settings"
    + "[0]" * 2500
    + "\n"
)


def test_lint_gate_fails_a_file_it_could_not_parse_whatever_the_selection(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.celery-lint]\nselect = ["CEL201"]\n')
    (pytester.path / "tasks.py").write_text(SYNTAX_ERROR_TASK, encoding="utf-8")
    result = pytester.runpytest(*QUIET, "--celery-lint")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*tasks.py:4:7: CEL900 file cannot be analysed: syntax error at line 4*"])


# =========================================================================== CLI and local packs
def test_cli_a_file_no_rule_could_check_is_reported_whatever_the_selection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A syntax error is a CEL900 finding and a skipped analysis an error, with a selection
    that leaves CEL900 out (on the command line or in the configuration); only an ignore
    turns CEL900 off."""
    for config in ("", '[tool.celery-lint]\nselect = ["CEL201"]\n'):
        root = _project(
            tmp_path / f"proj{len(config)}", config, {"tasks.py": SYNTAX_ERROR_TASK, "chain.py": CHAIN}
        )
        assert main([str(root / "tasks.py"), "--no-cache", "--select", "CEL201"]) == 1
        out = capsys.readouterr().out
        assert "tasks.py:4:7: CEL900 file cannot be analysed: syntax error at line 4" in out, out
        assert main([str(root / "tasks.py"), "--no-cache", "--select", "CEL201", "--ignore", "CEL900"]) == 0
        capsys.readouterr()
        assert main([str(root / "chain.py"), "--no-cache", "--select", "CEL201", "--ignore", "CEL900"]) == 2
        err = capsys.readouterr().err
        assert "chain.py: analysis skipped: the chain of 2500 " in err, err


@pytest.fixture
def forget_modules() -> Iterator[list[str]]:
    """Module names a test imports through a pack, forgotten afterwards (the next test's
    project has modules of the same names)."""
    names: list[str] = []
    yield names
    for name in [n for n in sys.modules if n.partition(".")[0] in names]:
        del sys.modules[name]


def test_cli_pack_that_fails_to_load_is_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path / "proj", MISSING_PACK, {"tasks.py": CLEAN_TASK})
    for jobs in ("1", "2"):
        assert main([str(root), "--no-cache", "-j", jobs]) == 2
        err = capsys.readouterr().err.splitlines()
        assert [line for line in err if line.startswith("celery-lint: error: ")] == [
            "celery-lint: error: rule pack 'pack_that_is_not_there' (from plugins in [tool.celery-lint]) "
            "could not be loaded: ModuleNotFoundError: No module named 'pack_that_is_not_there'"
        ], err


def test_a_pack_module_that_adds_no_rule_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], forget_modules: list[str]
) -> None:
    """A module listed in ``plugins`` that implements none of the hooks (a typo in the
    module path, the rules module's package instead of the module) would check nothing
    more in silence."""
    forget_modules.append("silent_hookless")
    root = _project(
        tmp_path / "proj",
        '[tool.celery-lint]\nplugins = ["silent_hookless.helpers"]\n',
        {"tasks.py": CLEAN_TASK, "silent_hookless/__init__.py": "", "silent_hookless/helpers.py": "X = 1\n"},
    )
    assert main([str(root), "--no-cache"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if line.startswith("celery-lint: error: ")] == [
        "celery-lint: error: rule pack 'silent_hookless.helpers' (from plugins in [tool.celery-lint]) "
        "could not be loaded: ImportError: the module 'silent_hookless.helpers' implements none of "
        "celery-lint's hooks (`celery_lint_rules`, ...): it adds no rule"
    ], err


def test_a_pack_module_outside_the_project_is_refused_unimported(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    forget_modules: list[str],
) -> None:
    """A module the name reaches on ``sys.path`` but that is no file of the project (here a
    folder on ``sys.path``, as site-packages is; the standard library's ``json``; a link in
    the project to a file outside it) is refused."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "silent_outside_pack.py").write_text(MARKER_PACK, encoding="utf-8")
    (elsewhere / "linked_target.py").write_text(MARKER_PACK, encoding="utf-8")
    monkeypatch.syspath_prepend(str(elsewhere))
    forget_modules.extend(["silent_outside_pack", "silent_linked_pack"])
    for module in ("silent_outside_pack", "json", "silent_linked_pack"):
        root = _project(
            tmp_path / f"proj_{module}",
            f'[tool.celery-lint]\nplugins = ["{module}"]\n',
            {"tasks.py": CLEAN_TASK},
        )
        if module == "silent_linked_pack":
            (root / "silent_linked_pack.py").symlink_to(elsewhere / "linked_target.py")
        assert main([str(root), "--no-cache"]) == 2, module
        err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert len(err) == 1, err
        assert err[0].startswith(
            f"celery-lint: error: rule pack '{module}' (from plugins in [tool.celery-lint]) refused: "
        )
        assert "outside the project" in err[0] and str(root) in err[0], err
    imported = [path.name for path in tmp_path.rglob("*.imported")]
    assert imported == [], imported


def test_a_nested_project_cannot_load_a_module_of_the_enclosing_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], forget_modules: list[str]
) -> None:
    """``celery-lint .`` over a monorepo: the root's own pack loads (and puts the root on
    ``sys.path``); ``services/x`` names a module that is only in the root: refused."""
    root = _project(
        tmp_path / "mono",
        '[tool.celery-lint]\nplugins = ["silent_root_pack"]\n',
        {
            "silent_root_pack.py": MARKER_PACK,
            "silent_root_helper.py": MARKER_PACK,
            "app/tasks.py": CLEAN_TASK,
            "services/x/pyproject.toml": '[tool.celery-lint]\nplugins = ["silent_root_helper"]\n',
            "services/x/svc/tasks.py": CLEAN_TASK,
        },
    )
    forget_modules.extend(["silent_root_pack", "silent_root_helper"])
    assert main([str(root), "--no-cache"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "rule pack 'silent_root_helper'" in err[0] and "refused" in err[0], err
    assert str(root / "services" / "x") in err[0], err
    assert (root / "silent_root_pack.imported").exists()  # the root's own pack did load
    assert not (root / "silent_root_helper.imported").exists()


def test_only_linting_imports_a_local_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], forget_modules: list[str]
) -> None:
    root = _project(
        tmp_path / "proj",
        '[tool.celery-lint]\nplugins = ["silent_listed_pack"]\n',
        {"silent_listed_pack.py": MARKER_PACK, "tasks.py": CLEAN_TASK},
    )
    forget_modules.append("silent_listed_pack")
    marker = root / "silent_listed_pack.imported"
    cwd = Path.cwd()
    os.chdir(root)
    try:
        assert main(["--list-rules"]) == 0
        assert main(["--explain", "CEL201"]) == 0
        assert main(["tasks", "."]) == 0
        capsys.readouterr()
        assert not marker.exists()
        # A code no built-in rule has may be the project's pack's: that looks it up.
        assert main(["--explain", "ZZZ101"]) == 2
        assert capsys.readouterr().err == "celery-lint: error: unknown rule code 'ZZZ101'\n"
        assert marker.exists()
        marker.unlink()
        del sys.modules["silent_listed_pack"]
        assert main([".", "--no-cache"]) == 0
        assert marker.exists()
    finally:
        os.chdir(cwd)
