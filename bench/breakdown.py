#!/usr/bin/env python3
"""Where a cold celery-lint run spends its time and memory.

    python bench/breakdown.py [PATH]   # default: bench/.corpus (build it with bench/run.py)
    python bench/breakdown.py ~/.cache/celery-lint-bench/src/nautobot-3.2.7   # a real project

A real project of ``bench/run.py --only real`` is unpacked under the bench cache
(``$CELERY_LINT_BENCH_CACHE``, else ``~/.cache/celery-lint-bench``), in ``src/``.

Two in-process runs of what ``celery-lint --no-cache -j1 PATH`` does (the cycle
collector off, as the CLI has it):

1. instrumented, without a profiler: wall time of the model build, of linting, of
   LibCST parsing and of position resolution; how many files the byte prefilter lets
   through, in which round, and which pattern let each one through; how many source
   bytes end up parsed and how much memory the process holds at the end;
2. under cProfile: the top functions by own time and by cumulative time
   (written to ``cold.prof`` in the bench cache too, for snakeviz or pstats).
"""

from __future__ import annotations

import collections
import cProfile
import gc
import os
import pstats
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real  # bench/real.py, beside this file

HERE = Path(__file__).resolve().parent

if TYPE_CHECKING:
    from celery_lint.project import model


def rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def current_rss_mib() -> float:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def instrumented(path: Path) -> None:
    from celery_lint import engine
    from celery_lint.engine import linter, runner
    from celery_lint.project import files, model, modules

    timers: collections.Counter[str] = collections.Counter()
    counts: collections.Counter[str] = collections.Counter()
    reports: list[str] = []
    parsed_chars = [0]

    def timed(name: str, function):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                timers[name] += time.perf_counter() - start
                counts[name] += 1

        return wrapper

    original_parse = files.parse_with_large_stack

    def parse(text: str):  # type: ignore[no-untyped-def]
        parsed_chars[0] += len(text)
        return original_parse(text)

    files.parse_with_large_stack = timed("libcst parse", parse)
    original_release = model.ProjectModel.release

    def release(self):  # type: ignore[no-untyped-def]
        # The runner drops every tree and summary once a project is linted: read them first.
        reports.append(prefilter_report(self))
        return original_release(self)

    model.ProjectModel.release = release  # type: ignore[method-assign]
    model.ProjectModel.build = timed("model build (parse included)", model.ProjectModel.build)  # type: ignore[method-assign]
    model.ProjectModel._discover = timed(
        "  of which _discover (apps, config, tasks)", model.ProjectModel._discover
    )  # type: ignore[method-assign]
    # Each function is replaced in the module that looks it up when the run calls it.
    modules.scan_module = timed("scan_module (parse included)", modules.scan_module)
    runner._lint_files = timed("lint files (after the build)", runner._lint_files)
    linter._positions = timed("  of which positions (MetadataWrapper)", linter._positions)
    linter.NoqaIndex = timed("  of which noqa index", linter.NoqaIndex)
    linter.Engine._wants = timed("  of which Engine._wants (trigger regex)", linter.Engine._wants)  # type: ignore[method-assign]

    gc.disable()
    start = time.perf_counter()
    result = engine.lint_paths([path], use_cache=False, jobs=1)
    total = time.perf_counter() - start
    gc.enable()

    print(
        f"\n== instrumented cold run on {path}: {total:.2f}s, {result.files_checked} files, "
        f"{len(result.violations)} findings; peak RSS {rss_mib():.0f} MiB, now {current_rss_mib():.0f} MiB"
    )
    for name, seconds in sorted(timers.items(), key=lambda kv: -kv[1]):
        print(f"   {name:<48} {seconds:8.2f}s  {100 * seconds / total:5.1f}%  ({counts[name]} calls)")

    print("\n== prefilter")
    for report in reports:
        print(report)
    print(
        f"   source characters handed to LibCST: {parsed_chars[0] / 1e6:.1f} M "
        f"({counts['libcst parse']} parses); {1e6 * timers['libcst parse'] / max(parsed_chars[0], 1):.2f} s per M chars"
    )


def prefilter_report(m: model.ProjectModel) -> str:
    """Which files the byte prefilter let through, and why, in a model about to be released."""
    all_files = list(m.files.values())
    parsed = [s for s in m._summaries.values() if s is not None]
    tests = sum(1 for f in all_files if f.is_test)
    lines = [
        f"   project {m.root}: {len(all_files)} files ({tests} test files not considered by the build); "
        f"{len(m._summaries)} scanned, {len(parsed)} parsed",
        f"   final patterns ({len(m.patterns)}): {sorted(p.decode(errors='replace') for p in m.patterns)[:40]}",
    ]
    regex = m._pattern_regex()
    why: collections.Counter[str] = collections.Counter()
    by_top: collections.Counter[str] = collections.Counter()
    for s in parsed:
        match = regex.search(s.file.data or b"")
        why[match.group(0).decode(errors="replace") if match else "(no pattern: parsed on demand)"] += 1
        parts = s.file.relpath.split(os.sep)
        by_top["/".join(parts[:2]) if len(parts) > 1 else parts[0]] += 1
    lines.append(f"   parsed files by the first pattern that matched: {why.most_common(15)}")
    lines.append(f"   parsed files by folder: {by_top.most_common(15)}")
    lines.append(f"   apps found: {len(m.apps)}, tasks found: {len(m.tasks)}")
    return "\n".join(lines)


def profiled(path: Path, out: Path) -> None:
    from celery_lint import engine

    profile = cProfile.Profile()
    gc.disable()
    profile.enable()
    engine.lint_paths([path], use_cache=False, jobs=1)
    profile.disable()
    gc.enable()
    profile.dump_stats(str(out))
    stats = pstats.Stats(str(out))
    stats.strip_dirs()
    for key in ("tottime", "cumulative"):
        print(f"\n== cProfile, top 30 by {key}")
        stats.sort_stats(key).print_stats(30)


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / ".corpus"
    if not path.exists():
        print(f"{path} does not exist: run bench/run.py first to build the corpus", file=sys.stderr)
        return 2
    mode = sys.argv[2] if len(sys.argv) > 2 else "both"
    if mode in ("both", "instrumented"):
        instrumented(path)
    if mode == "both":  # a fresh process: the instrumented run's wrappers stay out of the profile
        import subprocess

        return subprocess.run([sys.executable, __file__, str(path), "cprofile"]).returncode
    if mode == "cprofile":
        # Beside the bench's downloads, never in the repository.
        out = real.cache_root() / "cold.prof"
        out.parent.mkdir(parents=True, exist_ok=True)
        profiled(path, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
