#!/usr/bin/env python3
"""celery-lint's benchmark: a pinned corpus, every contender timed side by side.

    python3 bench/run.py              # build what is missing, measure, write bench/RESULTS.md
    python3 bench/run.py --repeats 1  # quicker: one run of everything
    python3 bench/run.py --rebuild    # fresh corpus and virtual environments
    python3 bench/run.py --only corpus  # the corpus part alone
    python3 bench/run.py --only real    # the real projects of issue #16 alone (bench/real.py)

Needs Python 3.10+ and pip's access to PyPI, nothing else. Everything it makes lives in
``bench/.corpus/`` and ``bench/.venvs/`` (git-ignored):

- the corpus: the running Python's standard library (its ``.py`` files, without
  site-packages) plus the sdists of Django, Celery and kombu at the versions pinned
  below, unpacked. ``.corpus/`` and ``.corpus/stdlib/`` get an empty ``pyproject.toml``
  so each is a project root of its own (the sdists have theirs);
- three virtual environments: ``flake8`` (flake8 alone), ``celery-lint`` (flake8 plus
  celery-lint installed from this repository: a snapshot of the working tree at build
  time) and ``celery-audit`` (the PyPI package).

Every measurement is a fresh process, timed from the outside, its peak memory taken
from ``wait4``; the table shows the median of ``--repeats`` runs (``--flake8-repeats``
for the slow whole-corpus flake8 runs). Then the targets are checked as ratios from this
same run, the prefilter is checked against ``--no-prefilter`` on each project of the
corpus, and the warm cache is measured on the largest project. The results go to
``bench/RESULTS.md`` between its ``results`` markers; the rest of that file is kept.
The real-project part (bench/real.py: pinned nautobot and Weblate sdists, kept in a cache
outside the repository) writes its own section, between the ``real`` markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import real  # bench/real.py, beside this file

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = HERE / ".corpus"
VENVS = HERE / ".venvs"
RESULTS = HERE / "RESULTS.md"

ONLY_CHOICES = ("all", "corpus", "real")
REAL_START, REAL_END = "<!-- real:start -->", "<!-- real:end -->"
REAL_HEADING = """## Real projects (issue #16)

Where users wait, on two real Django projects (`python3 bench/run.py --only real`; see
bench/real.py). The machine of a run may be shared: compare the ratios, which come from
one run, rather than the seconds."""

PINNED = {"Django": "5.1.4", "celery": "5.4.0", "kombu": "5.4.2"}
FLAKE8 = "flake8==7.5.0"
CELERY_AUDIT = "celery-audit==0.1.0"
# celery-audit audits one configuration module it is given; Django's defaults are one.
AUDIT_CONFIG = "django/django/conf/global_settings.py"

# Folders celery-lint never walks (celery_lint/project/files.py); the ast.parse baseline skips them too.
SKIPPED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "__pycache__",
    "node_modules",
    "site-packages",
    ".celery_lint_cache",
    "build",
    "dist",
    ".eggs",
}

AST_BASELINE = real.AST_BASELINE


# --------------------------------------------------------------------------- building
log, pip, bin_of = real.log, real.pip, real.bin_of


def build_corpus(rebuild: bool) -> None:
    if rebuild and CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir(exist_ok=True)
    (CORPUS / "pyproject.toml").write_text("", "utf-8")
    stdlib = CORPUS / "stdlib"
    if not stdlib.exists():
        log("corpus: copying the standard library")
        source = Path(sysconfig.get_paths()["stdlib"])
        for dirpath, dirnames, filenames in os.walk(source):
            rel = os.path.relpath(dirpath, source)
            dirnames[:] = sorted(
                d for d in dirnames if d not in ("site-packages", "dist-packages", "__pycache__")
            )
            for name in filenames:
                if name.endswith(".py") and not os.path.islink(os.path.join(dirpath, name)):
                    target = stdlib / rel / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(os.path.join(dirpath, name), target)
        (stdlib / "pyproject.toml").write_text("", "utf-8")
        (stdlib / "STDLIB_VERSION").write_text(platform.python_version() + "\n", "utf-8")
    downloads = CORPUS / ".downloads"
    for package, version in PINNED.items():
        target = CORPUS / package.lower()
        if target.exists():
            continue
        log(f"corpus: {package}=={version} (sdist)")
        downloads.mkdir(exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"{package}=={version}",
                "-d",
                str(downloads),
            ],
            check=True,
        )
        [archive] = [
            p for p in downloads.iterdir() if p.name.lower().startswith(f"{package.lower()}-{version}")
        ]
        with tempfile.TemporaryDirectory(dir=CORPUS) as tmp, tarfile.open(archive) as tar:
            if sys.version_info >= (3, 12):
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
            [top] = list(Path(tmp).iterdir())
            top.rename(target)


def build_venvs(rebuild: bool) -> dict[str, Path]:
    envs = {
        "flake8": VENVS / "flake8",
        "celery-lint": VENVS / "celery-lint",
        "celery-audit": VENVS / "celery-audit",
    }
    if rebuild and VENVS.exists():
        shutil.rmtree(VENVS)
    for name, env in envs.items():
        if (env / "ok").exists():
            if name == "celery-lint":
                # Every run measures the code as it is now: reinstall this repository's snapshot.
                log("venv: celery-lint (reinstalling this working tree)")
                pip(bin_of(env, "python"), "install", "--no-deps", "--force-reinstall", str(REPO))
            continue
        log(f"venv: {name}")
        if env.exists():
            shutil.rmtree(env)
        venv.create(env, with_pip=True)
        python = bin_of(env, "python")
        try:
            if name == "flake8":
                pip(python, "install", FLAKE8)
            elif name == "celery-lint":
                # A snapshot of the working tree (not editable): the numbers belong to that code.
                pip(python, "install", FLAKE8, str(REPO))
            else:
                pip(python, "install", CELERY_AUDIT)
        except subprocess.CalledProcessError as exc:
            log(f"venv {name}: install failed ({exc})")
            continue
        (env / "ok").write_text("", "utf-8")
    return envs


# --------------------------------------------------------------------------- measuring
@dataclass
class Measure:
    label: str
    times: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    note: str = ""
    output: str = ""

    @property
    def seconds(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def peak_mib(self) -> float:
        return max(self.rss_kib) / 1024 if self.rss_kib else float("nan")


# Users run with bytecode caches; an inherited PYTHONDONTWRITEBYTECODE would make every
# run recompile the modules it imports.
_RUN_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(argv: list[str], cwd: Path) -> tuple[float, int, int, str, str]:
    """(seconds, peak RSS in KiB of the process and its waited-for children, exit code, stdout, stderr)."""
    seconds, _cpu, rss, code, stdout, stderr = real.run_once(argv, cwd, _RUN_ENV)
    return seconds, rss, code, stdout, stderr


_DONE: dict[str, dict] = {}
_DONE_FILE = CORPUS / "measurements.json"


def measure(
    label: str, argv: list[str], cwd: Path, repeats: int, ok_codes: tuple[int, ...] = (0, 1)
) -> Measure:
    if label in _DONE:  # --resume: measured by an earlier, interrupted run
        result = Measure(label, **_DONE[label])
        log(f"  {label:<58} {result.seconds:8.2f}s  {result.peak_mib:7.0f} MiB  (from the earlier run)")
        return result
    result = Measure(label)
    for _ in range(repeats):
        seconds, rss, code, stdout, stderr = run_once(argv, cwd)
        result.times.append(seconds)
        result.rss_kib.append(rss)
        result.exit_codes.append(code)
        result.output = stdout
        if code not in ok_codes or "Traceback" in stderr:
            result.note = f"exit {code}: {stderr.strip().splitlines()[-1] if stderr.strip() else ''}"[:200]
            break
    _DONE[label] = {k: getattr(result, k) for k in ("times", "rss_kib", "exit_codes", "note", "output")}
    _DONE_FILE.write_text(json.dumps(_DONE), "utf-8")
    log(f"  {label:<58} {result.seconds:8.2f}s  {result.peak_mib:7.0f} MiB  {result.note}")
    return result


def corpus_size(path: Path) -> tuple[int, int, int]:
    files = lines = size = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in filenames:
            if name.endswith(".py"):
                data = Path(dirpath, name).read_bytes()
                files += 1
                size += len(data)
                lines += data.count(b"\n")
    return files, lines, size


def findings_of(stdout: str) -> set[tuple[str, int, int, str]]:
    data = json.loads(stdout)
    return {(f["path"], f["line"], f["column"], f["code"]) for f in data["findings"]}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB memory"
    except (ValueError, OSError, AttributeError):
        pass
    return (
        f"{platform.system()} {platform.release()} ({platform.machine()}), {cpu}, "
        f"{os.cpu_count()} logical CPUs{memory}; Python {platform.python_version()}"
    )


def repo_state() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "celery_lint"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return head + (" + uncommitted changes in celery_lint/" if dirty else "")
    except OSError:
        return "unknown"


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="celery-lint benchmark (see the module docstring)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per measurement (median shown; default 3)"
    )
    parser.add_argument(
        "--flake8-repeats",
        type=int,
        default=1,
        help="runs of the slow whole-corpus flake8 and celery-audit measurements (default 1)",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="rebuild the corpus and the virtual environments"
    )
    parser.add_argument(
        "--skip-prefilter-check", action="store_true", help="skip the --no-prefilter comparison"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument(
        "--only",
        choices=ONLY_CHOICES,
        default="all",
        help="corpus: the pinned corpus; real: the real projects of issue #16 (bench/real.py); all: both (default)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the measurements an interrupted run already made"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.only in ("all", "corpus"):
        corpus_part(args)
    if args.only in ("all", "real"):
        real_part(args)
    return 0


def real_part(args: argparse.Namespace) -> None:
    try:
        report = real.run_real(
            max(1, args.repeats),
            ",".join(sorted(SKIPPED_DIRS)),
            f"Run on {time.strftime('%Y-%m-%d')}; celery-lint at {repo_state()}; {machine()}.",
        )
    except real.BenchError as exc:
        raise SystemExit(f"bench: {exc}") from exc
    print(report)
    if not args.no_write:
        write_results(report, REAL_START, REAL_END, REAL_HEADING)


def corpus_part(args: argparse.Namespace) -> None:
    repeats = max(1, args.repeats)
    flake8_repeats = max(1, min(args.flake8_repeats, repeats))
    started = time.perf_counter()

    build_corpus(args.rebuild)
    envs = build_venvs(args.rebuild)
    if args.resume and _DONE_FILE.exists():
        _DONE.update(json.loads(_DONE_FILE.read_text("utf-8")))
    else:
        _DONE_FILE.unlink(missing_ok=True)
    cl_python = str(bin_of(envs["celery-lint"], "python"))
    celery_lint = str(bin_of(envs["celery-lint"], "celery-lint"))
    flake8_plain = str(bin_of(envs["flake8"], "flake8"))
    flake8_plugin = str(bin_of(envs["celery-lint"], "flake8"))
    audit = bin_of(envs["celery-audit"], "celery-audit")

    parts = {name: corpus_size(CORPUS / name) for name in ("stdlib", "django", "celery", "kombu")}
    total = tuple(sum(v[i] for v in parts.values()) for i in range(3))
    log(f"corpus: {total[0]:,} files, {total[1]:,} lines, {total[2] / 1e6:.1f} MB")

    m: dict[str, Measure] = {}
    log("whole corpus:")
    skip = ",".join(sorted(SKIPPED_DIRS))
    m["ast"] = measure(
        "python: ast.parse of every file", [cl_python, "-c", AST_BASELINE, ".", skip], CORPUS, repeats
    )
    cold = [celery_lint, "--no-cache", "-j1", "--exit-zero", "."]
    m["cold"] = measure("celery-lint --no-cache -j1 (cold)", cold, CORPUS, repeats)
    run_once([celery_lint, "-j1", "--exit-zero", "."], CORPUS)  # prime the cache
    m["warm"] = measure(
        "celery-lint -j1 (warm cache)", [celery_lint, "-j1", "--exit-zero", "."], CORPUS, repeats
    )
    m["j2"] = measure(
        "celery-lint --no-cache -j2", [celery_lint, "--no-cache", "-j2", "--exit-zero", "."], CORPUS, repeats
    )
    f8 = ["--select", "E9,F63", "-j1", "--exit-zero", "."]
    m["flake8"] = measure("flake8 --select E9,F63 -j1", [flake8_plain, *f8], CORPUS, flake8_repeats)
    m["flake8+cl"] = measure(
        "flake8 --select E9,F63 -j1, celery-lint installed", [flake8_plugin, *f8], CORPUS, flake8_repeats
    )
    if (envs["celery-audit"] / "ok").exists():
        m["audit"] = measure(
            f"celery-audit . --config {AUDIT_CONFIG}",
            [str(audit), ".", "--config", AUDIT_CONFIG, "--format", "json", "--fail-on", "critical"],
            CORPUS,
            flake8_repeats,  # minutes per run: counted with the slow ones
            ok_codes=(0, 1, 2),
        )
    else:
        m["audit"] = Measure("celery-audit", note="could not be installed")

    log("Celery and kombu sources:")
    ck = ["celery", "kombu"]
    m["ck_cold"] = measure(
        "celery-lint --no-cache -j1 celery kombu",
        [celery_lint, "--no-cache", "-j1", "--exit-zero", *ck],
        CORPUS,
        repeats,
    )
    ck8 = ["--select", "E9,F63", "-j1", "--exit-zero", *ck]
    m["ck_flake8"] = measure("flake8 --select E9,F63 -j1 celery kombu", [flake8_plain, *ck8], CORPUS, repeats)
    m["ck_flake8+cl"] = measure("same, celery-lint installed", [flake8_plugin, *ck8], CORPUS, repeats)

    log("start-up:")
    m["v_cl"] = measure("celery-lint --version", [celery_lint, "--version"], CORPUS, max(5, repeats))
    m["v_f8"] = measure(
        "flake8 --version (flake8 alone)", [flake8_plain, "--version"], CORPUS, max(5, repeats)
    )
    m["v_f8cl"] = measure(
        "flake8 --version (celery-lint installed)", [flake8_plugin, "--version"], CORPUS, max(5, repeats)
    )

    # The warm cache on the largest single project.
    big = max(parts, key=lambda name: parts[name][1])
    log(f"largest project ({big}, {parts[big][1]:,} lines):")
    m["big_cold"] = measure(
        f"celery-lint --no-cache -j1 {big}",
        [celery_lint, "--no-cache", "-j1", "--exit-zero", "."],
        CORPUS / big,
        repeats,
    )
    run_once([celery_lint, "-j1", "--exit-zero", "."], CORPUS / big)
    m["big_warm"] = measure(
        f"celery-lint -j1 {big} (warm cache)", [celery_lint, "-j1", "--exit-zero", "."], CORPUS / big, repeats
    )

    # The prefilter must change nothing. A --no-prefilter run keeps the syntax tree of
    # every file (LibCST: ~500 bytes of memory per byte of source), so each project is
    # checked on its own, and the standard library without its test suites.
    prefilter: list[tuple[str, int, int, str, float, float]] = []
    if not args.skip_prefilter_check:
        log("prefilter check (--select ALL, with and without the prefilter):")
        config = CORPUS / "prefilter-check.toml"
        config.write_text('[tool.celery-lint]\nexclude = ["test", "tests", "idle_test"]\n', "utf-8")
        for name in ("celery", "kombu", "django", "stdlib"):
            extra = ["--config", str(config)] if name == "stdlib" else []
            base = [
                celery_lint,
                "--no-cache",
                "-j1",
                "--select",
                "ALL",
                "--format",
                "json",
                "--exit-zero",
                *extra,
                ".",
            ]
            with_pf = measure(f"{name}: prefilter on", base, CORPUS / name, 1)
            without = measure(
                f"{name}: --no-prefilter", [*base[:-1], "--no-prefilter", "."], CORPUS / name, 1
            )
            try:
                a, b = findings_of(with_pf.output), findings_of(without.output)
                diff = sorted(a ^ b)
                detail = "; ".join(
                    f"{'only with' if d in a else 'only without'}: {d[0]}:{d[1]} {d[3]}" for d in diff[:8]
                )
                prefilter.append(
                    (
                        name + (" (tests excluded)" if extra else ""),
                        len(a),
                        len(diff),
                        detail,
                        without.seconds,
                        without.peak_mib,
                    )
                )
            except (ValueError, KeyError) as exc:
                prefilter.append(
                    (
                        name,
                        -1,
                        -1,
                        f"no JSON: {with_pf.note or without.note or exc}",
                        without.seconds,
                        without.peak_mib,
                    )
                )

    elapsed = time.perf_counter() - started
    report = render(m, parts, total, big, prefilter, repeats, flake8_repeats, elapsed)
    print(report)
    if not args.no_write:
        write_results(report, "<!-- results:start -->", "<!-- results:end -->")


def ratio(a: Measure, b: Measure) -> float:
    return a.seconds / b.seconds if a.times and b.times else float("nan")


def render(m, parts, total, big, prefilter, repeats, flake8_repeats, elapsed) -> str:  # type: ignore[no-untyped-def]
    lines = [
        f"Run on {time.strftime('%Y-%m-%d')}; celery-lint at {repo_state()}; {machine()}.",
        f"Median of {repeats} runs ({flake8_repeats} for the whole-corpus flake8 runs); whole benchmark {elapsed / 60:.1f} min.",
        "",
        "Corpus: "
        + ", ".join(
            f"{name} {('Python ' + platform.python_version()) if name == 'stdlib' else PINNED[{'django': 'Django'}.get(name, name)]}"
            f" ({v[0]:,} files, {v[1]:,} lines)"
            for name, v in parts.items()
        )
        + f"; total {total[0]:,} files, {total[1]:,} lines, {total[2] / 1e6:.1f} MB.",
        "",
        "| measurement | time (s) | peak memory (MiB) | note |",
        "|---|---:|---:|---|",
    ]
    for _key, item in m.items():
        seconds = f"{item.seconds:.2f}" if item.times else "-"
        peak = f"{item.peak_mib:.0f}" if item.rss_kib else "-"
        lines.append(f"| {item.label} | {seconds} | {peak} | {item.note} |")
    plugin_whole = ratio(m["flake8+cl"], m["flake8"]) - 1
    plugin_ck = ratio(m["ck_flake8+cl"], m["ck_flake8"]) - 1
    targets = [
        (
            "cold CLI / ast.parse of every file (whole corpus)",
            ratio(m["cold"], m["ast"]),
            "<= 1.0 (stretch 0.6)",
            ratio(m["cold"], m["ast"]) <= 1.0,
        ),
        (
            "cold CLI / flake8 --select E9,F63 -j1 (Celery + kombu)",
            ratio(m["ck_cold"], m["ck_flake8"]),
            "<= 0.7",
            ratio(m["ck_cold"], m["ck_flake8"]) <= 0.7,
        ),
        (
            "warm / cold (whole corpus)",
            ratio(m["warm"], m["cold"]),
            "<= 0.1",
            ratio(m["warm"], m["cold"]) <= 0.1,
        ),
        (
            "-j1 / -j2 speedup (whole corpus)",
            ratio(m["cold"], m["j2"]),
            ">= 1.7",
            ratio(m["cold"], m["j2"]) >= 1.7,
        ),
        ("flake8 plugin overhead (whole corpus)", plugin_whole, "<= 8%", plugin_whole <= 0.08),
        ("flake8 plugin overhead (Celery + kombu)", plugin_ck, "<= 80%", plugin_ck <= 0.80),
        (
            "peak memory, cold CLI (whole corpus, MiB)",
            m["cold"].peak_mib,
            "<= 150",
            m["cold"].peak_mib <= 150,
        ),
        (
            "celery-lint --version / flake8 --version",
            ratio(m["v_cl"], m["v_f8"]),
            "<= 1.0",
            ratio(m["v_cl"], m["v_f8"]) <= 1.0,
        ),
        (
            "cold CLI / celery-audit",
            ratio(m["cold"], m["audit"]),
            "< 1.0",
            ratio(m["cold"], m["audit"]) < 1.0,
        ),
        (
            f"warm speedup on {big} ({parts[big][1]:,} lines)",
            ratio(m["big_cold"], m["big_warm"]),
            ">= 10x",
            ratio(m["big_cold"], m["big_warm"]) >= 10,
        ),
    ]
    lines += ["", "| target | measured | goal | met |", "|---|---:|---|---|"]
    for name, value, goal, met in targets:
        shown = (
            f"{value:+.0%}" if "overhead" in name else (f"{value:.0f}" if "MiB" in name else f"{value:.2f}")
        )
        if value != value:  # NaN: not measured
            shown, met = "n/a", False
        lines.append(f"| {name} | {shown} | {goal} | {'yes' if met else '**no**'} |")
    if prefilter:
        lines += [
            "",
            "Prefilter check (`--select ALL`, with and without `--no-prefilter`):",
            "",
            "| project | findings | differences | --no-prefilter time (s) | its peak memory (MiB) | first differences |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for name, count, diff, detail, seconds, peak in prefilter:
            lines.append(f"| {name} | {count} | {diff} | {seconds:.1f} | {peak:.0f} | {detail} |")
    return "\n".join(lines)


def write_results(report: str, start: str, end: str, heading: str = "") -> None:
    """Put ``report`` between the markers of bench/RESULTS.md (a new section, under ``heading``, when absent)."""
    text = RESULTS.read_text("utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if start not in text and heading:
        text = f"{text.rstrip()}\n\n{heading}\n"
    RESULTS.write_text(real.replace_section(text, report, start, end), "utf-8")
    log(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
