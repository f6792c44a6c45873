"""The benchmark's own logic (bench/run.py, bench/real.py), without measuring or downloading."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str, module_name: str) -> ModuleType:
    # Importing must not write bench/__pycache__ into the repository.
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec = importlib.util.spec_from_file_location(module_name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.dont_write_bytecode = previous


real = _load("real", "real")  # the name bench/run.py imports it by
run = _load("run", "bench_run")


@pytest.fixture
def bench_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CELERY_LINT_BENCH_CACHE", str(tmp_path / "cache"))
    yield tmp_path / "cache"


def test_median_of_three_runs_ignores_one_slow_outlier() -> None:
    assert real.median([1.0, 9.0, 1.2]) == 1.2
    assert math.isnan(real.median([]))


def test_ratio_is_not_a_number_when_a_side_is_missing_or_zero() -> None:
    assert real.ratio(1.0, 4.0) == 0.25
    assert math.isnan(real.ratio(float("nan"), 4.0))
    assert math.isnan(real.ratio(1.0, 0.0))


def test_a_download_whose_sha256_differs_from_the_pin_is_refused_and_deleted(bench_cache: Path) -> None:
    project = real.PROJECTS[0]
    archive = bench_cache / "downloads" / f"{project.name}-{project.version}.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"not the sdist that was pinned")
    with pytest.raises(real.BenchError, match="is not the pinned"):
        real.fetch(project, bench_cache)
    assert not archive.exists()
    assert not (bench_cache / "src" / f"{project.name}-{project.version}").exists()


def test_a_file_with_the_pinned_sha256_is_kept(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(b"payload")
    real.verify_sha256(archive, hashlib.sha256(b"payload").hexdigest().upper())
    assert archive.exists()


def test_every_pin_is_a_full_sha256_and_one_project_is_the_large_one() -> None:
    assert all(len(p.sha256) == 64 and int(p.sha256, 16) >= 0 for p in real.PROJECTS)
    assert len({p.name for p in real.PROJECTS}) == len(real.PROJECTS)
    assert sum(p.large for p in real.PROJECTS) == 1


def test_the_cache_lives_outside_the_repository_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CELERY_LINT_BENCH_CACHE", raising=False)
    assert real.cache_root() == Path.home() / ".cache" / "celery-lint-bench"
    assert BENCH.parent not in real.cache_root().parents


@pytest.mark.parametrize(
    ("argv", "only"),
    [([], "all"), (["--only", "real"], "real"), (["--only", "corpus"], "corpus"), (["--only=all"], "all")],
)
def test_only_chooses_the_part_that_runs(argv: list[str], only: str) -> None:
    assert run.build_parser().parse_args(argv).only == only


def test_only_refuses_an_unknown_part(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run.build_parser().parse_args(["--only", "stdlib"])
    assert "invalid choice: 'stdlib'" in capsys.readouterr().err


def test_the_table_shows_both_ratios_and_judges_the_one_the_target_names() -> None:
    rows = [
        real.Row(real.TARGETS["ast"], "nautobot 3.2.7", wall=0.9, cpu=0.5),
        real.Row(real.TARGETS["jobs"], "nautobot 3.2.7", wall=1.2, cpu=0.98),
        real.Row(real.TARGETS["memory"], "weblate 5.14.3", mib=180.4),
        real.Row(real.TARGETS["all"], "weblate 5.14.3"),
    ]
    checks = [("cold -j1 vs warm -j1", "weblate 5.14.3", "identical (3 findings)")]
    lines = real.render_table(rows, checks).splitlines()
    assert lines[0] == "| target | project | wall ratio | CPU ratio | goal | met |"
    assert lines[2] == (
        "| cold CPU / `ast.parse` CPU of every .py file | nautobot 3.2.7 | 0.90 | **0.50** | <= 0.6 | yes |"
    )
    assert lines[3] == "| `-j1` / `-j2` wall, cold | nautobot 3.2.7 | **1.20** | 0.98 | >= 1.5 | **no** |"
    assert lines[4] == "| peak memory, cold (MiB) | weblate 5.14.3 | **180 MiB** |  | <= 200 | yes |"
    assert lines[5].endswith("| **-** | - | <= 1.3 | n/a |")
    assert lines[-1] == "| cold -j1 vs warm -j1 | weblate 5.14.3 | identical (3 findings) |"


def test_findings_are_compared_as_sets_of_positions_and_codes() -> None:
    a = {("t.py", 1, 1, "CEL201"), ("t.py", 2, 1, "CEL101")}
    assert real.findings_verdict(a, set(a)) == "identical (2 findings)"
    assert (
        real.findings_verdict(a, {("t.py", 1, 1, "CEL201")})
        == "differs (1 only in the first, 0 only in the second)"
    )
    assert real.findings_verdict(a, None) == "n/a (no JSON)"
    assert real.findings_of('{"findings": [{"path": "t.py", "line": 3, "column": 5, "code": "CEL2"}]}') == {
        ("t.py", 3, 5, "CEL2")
    }
    assert real.findings_of("Traceback (most recent call last):") is None


def test_a_section_is_replaced_between_its_markers_and_the_rest_is_kept() -> None:
    start, end = "<!-- real:start -->", "<!-- real:end -->"
    text = f"# Results\n\nintro\n{start}\nold\n{end}\n\nafter\n"
    assert (
        real.replace_section(text, "new", start, end) == f"# Results\n\nintro\n{start}\nnew\n{end}\n\nafter\n"
    )
    assert real.replace_section("# Results\n", "new", start, end) == f"# Results\n\n{start}\nnew\n{end}\n"
