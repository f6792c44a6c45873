#!/usr/bin/env python3
"""Robustness sweep: celery-lint over every ``.py`` file of large real trees.

    python bench/robustness.py [TREE ...] [--limit 5] [--no-flake8-e2e] [--work DIR]

Trees: the running Python's standard library and site-packages, plus every TREE named.
Run it with the interpreter celery-lint is installed in (``.venv/bin/python bench/...``).

Each tree is copied first (its ``.py`` files and its ``pyproject.toml``/``setup.cfg``)
into a scratch folder, so nothing is written into the originals and no project marker
above them (a ``.git`` in ``~/.pyenv``, say) turns the whole machine into one project.

Four checks per tree:

1. **engine, file by file**: every file is linted alone, with the prefilter off and
   ``--select ALL`` (so every file is parsed and every rule runs on it), in a worker
   process, timed. A Python exception, a crash of the worker, a file over ``--limit``
   seconds (slow) and a file over ``--hard-limit`` seconds (hang: the worker is killed)
   are reported with the file's name.
2. **flake8 plugin, file by file**: ``CeleryLintChecker`` is called the way flake8 calls
   it (flake8's own line reading; files that ``ast`` cannot parse are skipped, as flake8
   reports E999 and runs no tree plugin on them), project model built once per root.
3. **CLI, whole tree**: ``celery-lint --no-cache --select ALL --format json`` on the
   tree, as a user runs it (project model, prefilter); then, unless
   ``--no-flake8-e2e``, ``flake8 --select CEL -j2`` on the tree.
4. **CEL900 against CPython**: every file given CEL900 is parsed with ``ast.parse`` by
   each CPython found (3.10 and newer: ``python3.X`` on PATH, pyenv's versions, and any
   ``--python``); a CEL900 on a file some CPython accepts is a false CEL900. Files every
   CPython rejects that got no CEL900 are listed too (LibCST is more lenient there).

The summary is printed and written, with every detail, to ``WORK/report.json``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

SKIPPED_DIRS = {"__pycache__", ".git", ".hg", ".svn", "node_modules", ".tox", ".nox", ".mypy_cache"}
CONFIG_FILES = {"pyproject.toml", "setup.cfg"}


# --------------------------------------------------------------------------- copying
def copy_tree(source: Path, target: Path, skip_top: set[str]) -> tuple[list[Path], int]:
    """Copy the ``.py`` files (and config files) of ``source`` into ``target``; returns the
    copied ``.py`` files (their new paths) and how many symlinked files were skipped."""
    copied: list[Path] = []
    skipped_links = 0
    for dirpath, dirnames, filenames in os.walk(source):
        rel = os.path.relpath(dirpath, source)
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIPPED_DIRS and not (rel == "." and d in skip_top)
        )
        for name in sorted(filenames):
            if not (name.endswith(".py") or name in CONFIG_FILES):
                continue
            src = Path(dirpath) / name
            if src.is_symlink():
                skipped_links += 1
                continue
            dst = target / rel / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(src, dst)
            except OSError:
                continue
            if name.endswith(".py"):
                copied.append(dst)
    return copied, skipped_links


def count_lines(files: list[Path]) -> tuple[int, int]:
    lines = size = 0
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        size += len(data)
        lines += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return lines, size


# --------------------------------------------------------------------------- workers
def worker_engine(list_file: str, out_file: str, hard_limit: float) -> None:
    """Lint each listed file alone: prefilter off, every rule. One JSON line per file."""
    import faulthandler
    import gc
    import traceback

    from celery_lint.engine import Engine, select_rules
    from celery_lint.project.model import ProjectModel

    gc.disable()
    engine = Engine(select_rules(["ALL"]), None)
    empty_root = Path(tempfile.mkdtemp(prefix="celery-lint-sweep-root-"))
    paths = Path(list_file).read_text("utf-8").splitlines()
    with open(out_file, "a", encoding="utf-8") as out:
        for index, path in enumerate(paths):
            out.write(json.dumps({"start": path}) + "\n")
            out.flush()
            faulthandler.dump_traceback_later(hard_limit, exit=True)
            record: dict[str, object] = {"path": path}
            start = time.perf_counter()
            try:
                model = ProjectModel(empty_root, (), use_prefilter=False)
                file = model.add_file(Path(path))
                model.build()
                violations = engine.lint_file(model, file, named=True)
                record["codes"] = sorted({v.code for v in violations})
                record["cel900"] = [v.message for v in violations if v.code == "CEL900"]
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                record["error"] = "".join(traceback.format_exception(exc))[-4000:]
            record["seconds"] = time.perf_counter() - start
            faulthandler.cancel_dump_traceback_later()
            out.write(json.dumps(record) + "\n")
            out.flush()
            if index % 100 == 99:
                gc.collect()


def worker_flake8(list_file: str, out_file: str, hard_limit: float) -> None:
    """Call the flake8 plugin on each listed file the way flake8 does."""
    import ast
    import faulthandler
    import tokenize
    import traceback

    from celery_lint import flake8_plugin

    # One session for the worker, as flake8 makes one a process (``parse_options``).
    session = flake8_plugin.Flake8Session(None)
    flake8_plugin.CeleryLintChecker._session = session
    paths = Path(list_file).read_text("utf-8").splitlines()
    with open(out_file, "a", encoding="utf-8") as out:
        for path in paths:
            out.write(json.dumps({"start": path}) + "\n")
            out.flush()
            faulthandler.dump_traceback_later(hard_limit, exit=True)
            record: dict[str, object] = {"path": path}
            start = time.perf_counter()
            try:
                try:  # flake8.processor.FileProcessor.read_lines_from_filename
                    with tokenize.open(path) as handle:
                        lines = handle.readlines()
                except (SyntaxError, UnicodeError):
                    with open(path, encoding="latin-1") as handle:
                        lines = handle.readlines()
                if lines and lines[0].startswith("\ufeff"):  # FileProcessor.strip_utf_bom
                    lines[0] = lines[0][1:]
                try:
                    tree = ast.parse("".join(lines))
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    record["skipped"] = "E999"
                    tree = None
                start = time.perf_counter()  # flake8 reads and parses the file anyway
                if tree is not None:
                    root = session.root_of(Path(path).absolute().parent)
                    if root not in session._analyses:
                        build_start = time.perf_counter()
                        session.analysis_for(root)
                        record["model_seconds"] = time.perf_counter() - build_start
                    checker = flake8_plugin.CeleryLintChecker(tree, path, lines)
                    results = list(checker.run())
                    record["codes"] = sorted({text.split()[0] for _, _, text, _ in results})
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                record["error"] = "".join(traceback.format_exception(exc))[-4000:]
            record["seconds"] = time.perf_counter() - start - float(record.get("model_seconds", 0.0))  # type: ignore[arg-type]
            faulthandler.cancel_dump_traceback_later()
            out.write(json.dumps(record) + "\n")
            out.flush()


def run_worker(kind: str, files: list[Path], scratch: Path, hard_limit: float) -> dict[str, dict]:
    """Run a worker over ``files``; restart it after a crash or hang, past the culprit."""
    results: dict[str, dict] = {}
    remaining = [str(p) for p in files]
    attempt = 0
    while remaining:
        attempt += 1
        list_file = scratch / f"{kind}-{attempt}.list"
        out_file = scratch / f"{kind}-{attempt}.jsonl"
        list_file.write_text("\n".join(remaining) + "\n", "utf-8")
        out_file.write_text("", "utf-8")
        proc = subprocess.run(
            [sys.executable, __file__, f"--worker={kind}", str(list_file), str(out_file), str(hard_limit)],
            capture_output=True,
            text=True,
            errors="replace",
        )
        in_flight = None
        for line in out_file.read_text("utf-8").splitlines():
            record = json.loads(line)
            if "start" in record:
                in_flight = record["start"]
            else:
                results[record["path"]] = record
                in_flight = None
        done = set(results)
        if proc.returncode == 0 and in_flight is None:
            break
        if in_flight is None:  # died between files: should not happen; do not loop forever
            tail = proc.stderr[-2000:]
            for path in remaining:
                if path not in done:
                    results[path] = {"path": path, "error": f"worker died (exit {proc.returncode}): {tail}"}
            break
        hang = "Timeout (" in proc.stderr
        results[in_flight] = {
            "path": in_flight,
            "seconds": hard_limit if hang else None,
            ("hang" if hang else "crash"): f"worker exit {proc.returncode}: {proc.stderr[-3000:]}",
        }
        done.add(in_flight)
        remaining = [p for p in remaining if p not in done]
    return results


# --------------------------------------------------------------------------- whole-tree runs
def run_cli(tree: Path, timeout: float) -> dict:
    # Run from the tree's parent: ``python -m`` puts the working folder first on sys.path,
    # and a copied site-packages holds pure-Python copies of celery-lint's own dependencies.
    argv = [
        sys.executable,
        "-m",
        "celery_lint",
        "--no-cache",
        "--select",
        "ALL",
        "--format",
        "json",
        "--exit-zero",
        str(tree),
    ]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=timeout, cwd=tree.parent
        )
    except subprocess.TimeoutExpired:
        return {"hang": True, "seconds": timeout}
    seconds = time.perf_counter() - start
    out: dict = {"seconds": seconds, "exit": proc.returncode, "stderr": proc.stderr[-3000:]}
    out["traceback"] = "Traceback" in proc.stderr
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        out["bad_output"] = proc.stdout[-2000:]
        return out
    findings = data.get("findings", [])
    out["findings"] = len(findings)
    codes: dict[str, int] = {}
    for f in findings:
        codes[f["code"]] = codes.get(f["code"], 0) + 1
    out["codes"] = dict(sorted(codes.items()))
    out["cel900"] = sorted({str((tree / f["path"]).resolve()) for f in findings if f["code"] == "CEL900"})
    out["files_checked"] = data.get("summary", {}).get("files_checked")
    return out


def run_flake8(tree: Path, timeout: float) -> dict:
    argv = [sys.executable, "-m", "flake8", "--select", "CEL", "-j2", "--exit-zero", str(tree)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=timeout, cwd=tree.parent
        )
    except subprocess.TimeoutExpired:
        return {"hang": True, "seconds": timeout}
    return {
        "seconds": time.perf_counter() - start,
        "exit": proc.returncode,
        "crash": "Traceback" in proc.stderr
        or "PluginExecutionFailed" in proc.stderr
        or proc.returncode not in (0, 1),
        "stderr": proc.stderr[-3000:],
        "findings": sum(1 for line in proc.stdout.splitlines() if " CEL" in line),
    }


# --------------------------------------------------------------------------- CPython check
PARSE_CHECK = r"""
import ast, sys, json
out = {}
for path in sys.stdin.read().splitlines():
    try:
        with open(path, "rb") as handle:
            ast.parse(handle.read())
        out[path] = None
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        out[path] = type(exc).__name__ + ": " + str(exc)[:200]
print(json.dumps(out))
"""


def find_pythons(extra: list[str]) -> dict[str, str]:
    candidates = [sys.executable, *extra]
    candidates += [shutil.which(f"python3.{minor}") or "" for minor in range(10, 16)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3.*[0-9]")))
    found: dict[str, str] = {}
    for exe in candidates:
        if not exe:
            continue
        try:
            proc = subprocess.run(
                [exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = proc.stdout.strip()
        if proc.returncode == 0 and version and tuple(map(int, version.split("."))) >= (3, 10):
            found.setdefault(version, exe)
    return dict(sorted(found.items(), key=lambda kv: tuple(map(int, kv[0].split(".")))))


def cpython_verdicts(pythons: dict[str, str], files: list[str]) -> dict[str, dict[str, str | None]]:
    verdicts: dict[str, dict[str, str | None]] = {f: {} for f in files}
    if not files:
        return verdicts
    for version, exe in pythons.items():
        proc = subprocess.run(
            [exe, "-c", PARSE_CHECK], input="\n".join(files), capture_output=True, text=True, timeout=3600
        )
        try:
            result = json.loads(proc.stdout)
        except ValueError:
            continue
        for path, error in result.items():
            verdicts[path][version] = error
    return verdicts


# --------------------------------------------------------------------------- main
def summarize_times(records: list[dict]) -> dict:
    times = sorted(r["seconds"] for r in records if r.get("seconds") is not None)
    if not times:
        return {}
    return {
        "median_ms": round(1000 * statistics.median(times), 2),
        "p99_ms": round(1000 * times[min(len(times) - 1, int(len(times) * 0.99))], 1),
        "max_s": round(times[-1], 2),
        "total_s": round(sum(times), 1),
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1].startswith("--worker="):
        kind = sys.argv[1].split("=", 1)[1]
        {"engine": worker_engine, "flake8": worker_flake8}[kind](sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", help="more folders to sweep (each copied first)")
    parser.add_argument("--no-default-trees", action="store_true", help="skip the stdlib and site-packages")
    parser.add_argument("--limit", type=float, default=5.0, help="seconds a file may take (default 5)")
    parser.add_argument(
        "--hard-limit", type=float, default=120.0, help="seconds before a file counts as a hang"
    )
    parser.add_argument(
        "--work", type=Path, default=None, help="scratch folder (default: a new temporary one)"
    )
    parser.add_argument(
        "--python", action="append", default=[], help="another CPython to check CEL900 files with"
    )
    parser.add_argument("--no-flake8-e2e", action="store_true", help="skip the whole-tree flake8 runs")
    parser.add_argument(
        "--no-per-file", action="store_true", help="skip the per-file engine and plugin sweeps"
    )
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="celery-lint-robustness-"))
    work.mkdir(parents=True, exist_ok=True)
    trees: list[tuple[str, Path, set[str]]] = []
    if not args.no_default_trees:
        trees.append(("stdlib", Path(sysconfig.get_paths()["stdlib"]), {"site-packages", "dist-packages"}))
        trees.append(("site-packages", Path(sysconfig.get_paths()["purelib"]), set()))
    for tree in args.trees:
        path = Path(tree).resolve()
        trees.append((path.name, path, set()))

    pythons = find_pythons(args.python)
    print(f"scratch folder: {work}")
    print(f"CPythons for the CEL900 check: {', '.join(pythons) or 'none'}")
    report: dict = {"pythons": pythons, "limit": args.limit, "trees": {}}
    total_start = time.perf_counter()
    for name, source, skip_top in trees:
        target = work / "trees" / name
        if target.exists():
            shutil.rmtree(target)
        files, links = copy_tree(source, target, skip_top)
        lines, size = count_lines(files)
        entry: dict = {
            "source": str(source),
            "files": len(files),
            "lines": lines,
            "bytes": size,
            "symlinks_skipped": links,
        }
        print(f"\n== {name}: {len(files)} files, {lines:,} lines, {size / 1e6:.1f} MB ({source})", flush=True)

        entry["cli"] = cli = run_cli(target, timeout=3600)
        print(
            f"   CLI --select ALL: {cli.get('seconds', 0):.1f}s exit {cli.get('exit')} "
            f"traceback={cli.get('traceback')} findings={cli.get('findings')} CEL900={len(cli.get('cel900', []))}",
            flush=True,
        )
        if not args.no_flake8_e2e:
            entry["flake8"] = f8 = run_flake8(target, timeout=3600)
            print(
                f"   flake8 --select CEL -j2: {f8.get('seconds', 0):.1f}s exit {f8.get('exit')} crash={f8.get('crash')} findings={f8.get('findings')}",
                flush=True,
            )

        if not args.no_per_file:
            scratch = work / "scratch" / name
            scratch.mkdir(parents=True, exist_ok=True)
            engine = run_worker("engine", files, scratch, args.hard_limit)
            plugin = run_worker("flake8", files, scratch, args.hard_limit)
            for kind, results in (("engine", engine), ("plugin", plugin)):
                records = list(results.values())
                errors = {r["path"]: r["error"] for r in records if "error" in r}
                crashes = {r["path"]: r["crash"] for r in records if "crash" in r}
                hangs = sorted(r["path"] for r in records if "hang" in r)
                slow = sorted(
                    (
                        (r["seconds"], r["path"])
                        for r in records
                        if r.get("seconds") and r["seconds"] > args.limit
                    ),
                    reverse=True,
                )
                entry[kind] = {
                    "files": len(records),
                    "exceptions": errors,
                    "crashes": crashes,
                    "hangs": hangs,
                    "slow": [(round(s, 2), p) for s, p in slow],
                    "times": summarize_times(records),
                }
                if kind == "engine":
                    entry[kind]["cel900"] = {r["path"]: r["cel900"][0] for r in records if r.get("cel900")}
                else:
                    entry[kind]["skipped_e999"] = sum(1 for r in records if r.get("skipped"))
                    entry[kind]["model_seconds"] = round(sum(r.get("model_seconds", 0) for r in records), 2)
                print(
                    f"   {kind} per file: {len(records)} files, exceptions={len(errors)} crashes={len(crashes)} "
                    f"hangs={len(hangs)} over {args.limit:g}s={len(slow)} times={entry[kind]['times']}"
                    + (f" model build={entry[kind]['model_seconds']}s" if kind == "plugin" else ""),
                    flush=True,
                )
                for seconds, path in slow[:10]:
                    print(
                        f"      slow {seconds:6.2f}s {os.path.relpath(path, target)} ({os.path.getsize(path) / 1e3:.0f} kB)"
                    )
                for path, error in list({**errors, **crashes}.items())[:10]:
                    print(f"      FAIL {os.path.relpath(path, target)}: {error.strip().splitlines()[-1]}")
                for path in hangs:
                    print(f"      HANG {os.path.relpath(path, target)}")

            # CEL900 against CPython; and files CPython rejects that got no CEL900.
            cel900 = set(entry["engine"]["cel900"]) | set(cli.get("cel900", []))
            verdicts = cpython_verdicts(pythons, [str(p) for p in files])
            false_900 = {}
            for path in sorted(cel900):
                accepted = [v for v, err in verdicts.get(path, {}).items() if err is None]
                if accepted:
                    message = entry["engine"]["cel900"].get(path, "(CLI run)")
                    false_900[path] = {"accepted_by": accepted, "message": message}
            rejected_everywhere = sorted(
                p for p, v in verdicts.items() if v and all(err is not None for err in v.values())
            )
            lenient = [p for p in rejected_everywhere if p not in cel900]
            entry["cel900_check"] = {
                "cel900_files": len(cel900),
                "rejected_by_every_cpython": len(rejected_everywhere),
                "false_cel900": false_900,
                "no_cel900_though_every_cpython_rejects": {p: verdicts[p] for p in lenient},
            }
            print(
                f"   CEL900: {len(cel900)} files; every CPython rejects {len(rejected_everywhere)}; "
                f"false CEL900 (some CPython parses it): {len(false_900)}; "
                f"rejected everywhere but no CEL900: {len(lenient)}",
                flush=True,
            )
            for path, info in list(false_900.items())[:15]:
                print(
                    f"      false CEL900 {os.path.relpath(path, target)} (parsed by {', '.join(info['accepted_by'])}): {info['message'][:150]}"
                )
            for path in lenient[:15]:
                print(f"      lenient {os.path.relpath(path, target)}: {next(iter(verdicts[path].values()))}")
        report["trees"][name] = entry
        (work / "report.json").write_text(json.dumps(report, indent=1, default=str), "utf-8")

    # ------------------------------------------------------------------ totals
    tot = report["trees"].values()
    files = sum(e["files"] for e in tot)
    lines = sum(e["lines"] for e in tot)
    print(
        f"\n== total: {len(report['trees'])} trees, {files:,} files, {lines:,} lines, {time.perf_counter() - total_start:.0f}s"
    )
    problems = 0
    for e in tot:
        problems += bool(
            e["cli"].get("traceback") or e["cli"].get("hang") or e["cli"].get("exit") not in (0,)
        )
        problems += bool(e.get("flake8", {}).get("crash") or e.get("flake8", {}).get("hang"))
        for kind in ("engine", "plugin"):
            if kind in e:
                problems += len(e[kind]["exceptions"]) + len(e[kind]["crashes"]) + len(e[kind]["hangs"])
        problems += len(e.get("cel900_check", {}).get("false_cel900", {}))
    slow = sum(len(e[k]["slow"]) for e in tot for k in ("engine", "plugin") if k in e)
    print(f"   crashes/exceptions/hangs/false CEL900: {problems}; files over {args.limit:g}s: {slow}")
    print(f"   report: {work / 'report.json'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
