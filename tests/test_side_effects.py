"""A call of the CLI, the engine API or the flake8 plugin leaves the process as it found it.

``celery-lint`` runs in-process in the pre-commit shim and in tests: the cycle collector
it turns off for speed comes back on, and the project root a local rule pack is imported
from leaves ``sys.path`` again, whether the run succeeds, finds a bad configuration or
stops on bad usage (SystemExit).
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import copy_clean

from celery_lint.cli import main

REPO = Path(__file__).resolve().parents[1]
PACK_PACKAGE = REPO / "fixtures" / "example_pack" / "acme_celery_rules"
PAYMENTS_TASKS = "from celery import shared_task\n\n@shared_task\ndef capture(pid):\n    pass\n"


def _project(root: Path, *, local_pack: bool, config: str = "") -> Path:
    root.mkdir()
    if local_pack:
        config = '[tool.celery-lint]\nplugins = ["acme_celery_rules"]\n' + config
        copy_clean(PACK_PACKAGE, root / "acme_celery_rules")
    (root / "pyproject.toml").write_text(config, encoding="utf-8")
    (root / "payments").mkdir()
    (root / "payments" / "__init__.py").write_text("", encoding="utf-8")
    (root / "payments" / "tasks.py").write_text(PAYMENTS_TASKS, encoding="utf-8")
    return root


@pytest.fixture(autouse=True)
def _forget_pack_modules() -> Iterator[None]:
    """The pack is imported from each test's own project: no test sees another's module."""

    def forget() -> None:
        for name in [
            n for n in sys.modules if n == "acme_celery_rules" or n.startswith("acme_celery_rules.")
        ]:
            del sys.modules[name]

    forget()
    yield
    forget()


@pytest.fixture(params=[True, False], ids=["gc-on", "gc-off"])
def gc_state(request: pytest.FixtureRequest) -> Iterator[bool]:
    """The cycle collector's state before the call (the test runner's own is restored after)."""
    before = gc.isenabled()
    if request.param:
        gc.enable()
    else:
        gc.disable()
    yield request.param
    if before:
        gc.enable()
    else:
        gc.disable()


def _assert_untouched(path_before: list[str], gc_before: bool) -> None:
    assert sys.path == path_before
    assert gc.isenabled() is gc_before


@pytest.mark.parametrize("local_pack", [False, True], ids=["no-pack", "local-pack"])
@pytest.mark.parametrize(
    "extra_args",
    [[], ["--format", "sarif"], ["--diff"], ["-j", "2"], ["--list-rules"]],
    ids=["text", "sarif", "diff", "jobs", "list-rules"],
)
def test_cli_main_leaves_gc_and_sys_path_as_they_were(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    gc_state: bool,
    local_pack: bool,
    extra_args: list[str],
) -> None:
    root = _project(tmp_path / "proj", local_pack=local_pack)
    path_before = list(sys.path)
    code = main([str(root), "--no-cache", *extra_args])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    if local_pack and extra_args not in (["--diff"], ["--list-rules"]):
        assert "ACM101" in out  # the pack's rule ran: the pack was loaded
    _assert_untouched(path_before, gc_state)


@pytest.mark.parametrize("local_pack", [False, True], ids=["no-pack", "local-pack"])
def test_cli_main_restores_them_when_the_configuration_is_bad(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gc_state: bool, local_pack: bool
) -> None:
    root = _project(tmp_path / "proj", local_pack=local_pack, config="[tool.celery-lint]\nno-such-key = 1\n")
    if local_pack:
        (root / "pyproject.toml").write_text(
            '[tool.celery-lint]\nplugins = ["acme_celery_rules"]\nno-such-key = 1\n', encoding="utf-8"
        )
    path_before = list(sys.path)
    assert main([str(root), "--no-cache"]) == 2
    assert "unknown key 'no-such-key'" in capsys.readouterr().err
    _assert_untouched(path_before, gc_state)


@pytest.mark.parametrize(
    "argv",
    [["--no-such-option"], ["--write-baseline"], ["--version"]],
    ids=["unknown-option", "write-baseline-without-baseline", "version"],
)
def test_cli_main_restores_them_on_system_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gc_state: bool, argv: list[str]
) -> None:
    # ``--write-baseline`` alone is refused after the collector was turned off.
    root = _project(tmp_path / "proj", local_pack=True)
    path_before = list(sys.path)
    with pytest.raises(SystemExit) as exit_info:
        main([str(root), "--no-cache", *argv])
    capsys.readouterr()
    assert exit_info.value.code == (0 if argv == ["--version"] else 2)
    _assert_untouched(path_before, gc_state)


def test_the_engine_api_leaves_sys_path_as_it_was(tmp_path: Path, gc_state: bool) -> None:
    # Imported here, with LibCST: an earlier in-process pytester run may have dropped the
    # LibCST the engine's lazy stand-in would otherwise have kept from collection time.
    from celery_lint.engine import fix_paths, lint_paths

    root = _project(tmp_path / "proj", local_pack=True)
    path_before = list(sys.path)
    result = lint_paths([root])
    assert "ACM101" in {v.code for v in result.violations}
    _assert_untouched(path_before, gc_state)
    fixed, _ = fix_paths([root], write=False)
    assert "ACM101" in {v.code for v in fixed.violations}
    _assert_untouched(path_before, gc_state)


@pytest.mark.parametrize(
    ("args", "expected"),
    [([], 0), (["--format", "json"], 0), (["--option", "no_such_option"], 2), (["--format", "sarif"], 2)],
    ids=["text", "json", "bad-option", "bad-format-system-exit"],
)
def test_the_tasks_subcommand_leaves_gc_and_sys_path_as_they_were(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], gc_state: bool, args: list[str], expected: int
) -> None:
    root = _project(tmp_path / "proj", local_pack=True)
    path_before = list(sys.path)
    try:
        code = main(["tasks", str(root), *args])
    except SystemExit as exc:  # argparse refuses a bad --format
        code = exc.code
    out = capsys.readouterr().out
    assert code == expected, out
    if expected == 0:
        assert "payments.tasks.capture" in out
    _assert_untouched(path_before, gc_state)
