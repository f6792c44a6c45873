"""The real-project part of the benchmark (issue #16): where users wait, on real code.

    python3 bench/run.py --only real             # measure, print, write bench/RESULTS.md
    python3 bench/run.py --only real --no-write  # print only

Two pinned sdists from PyPI, each checked against its sha256 before it is unpacked:

- nautobot, a large Django project (the "large project" of the targets);
- Weblate, a Django project with one app, dozens of ``@app.task`` tasks and split
  settings (``settings_test.py`` star-imports ``settings_example.py``).

Everything lives in a cache outside the repository (``$CELERY_LINT_BENCH_CACHE``, else
``~/.cache/celery-lint-bench``): the downloads, the unpacked sources, a copy of each
project whose task file the "edit" measurement changes, celery-lint's caches, and two
virtual environments, ``flake8`` (flake8 alone, the baseline a user has before installing
the plugin) and ``celery-lint`` (flake8 plus a snapshot of this working tree).

Each measurement is a fresh process; its wall time, CPU time (user + system of the process
and its children) and peak memory come from ``wait4``. The ratios are computed from
medians of the same run, side by side, so a loaded machine slows both sides alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import venv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FLAKE8 = "flake8==7.5.0"


@dataclass(frozen=True)
class RealProject:
    name: str  # the PyPI name
    version: str
    sha256: str  # of the sdist PyPI serves
    edited_task_file: str  # a module of tasks, relative to the unpacked sdist
    large: bool = False

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


PROJECTS = (
    RealProject(
        "nautobot",
        "3.2.7",
        "d8d90b807c4cf647ed630fc86ec75e5e7fe039d952531a125a29a0aa90d83581",
        "nautobot/extras/tasks.py",
        large=True,
    ),
    RealProject(
        "weblate",
        "5.14.3",
        "dad4e9b6cfeec250db80c9c0fcfcb967fb8d21581231bd74ac7020f55290d3fa",
        "weblate/accounts/tasks.py",
    ),
)


class BenchError(Exception):
    """The bench cannot go on (a download that does not match its pin, a failed install)."""


def cache_root() -> Path:
    configured = os.environ.get("CELERY_LINT_BENCH_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "celery-lint-bench"


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- pure logic
def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator; NaN when either is missing or the denominator is not positive."""
    if numerator != numerator or denominator != denominator or denominator <= 0:
        return float("nan")
    return numerator / denominator


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Delete ``path`` and raise BenchError unless its sha256 is ``expected``."""
    actual = sha256_of(path)
    if actual != expected.lower():
        path.unlink(missing_ok=True)
        raise BenchError(
            f"{path.name}: sha256 {actual} is not the pinned {expected}; the download was deleted"
        )


@dataclass(frozen=True)
class Target:
    """A ratio target: ``measured <= goal`` (or ``>=`` when ``at_least``)."""

    name: str
    goal: float
    at_least: bool = False
    basis: str = "wall"  # which ratio the verdict reads: "wall", "cpu" or "MiB"

    def met(self, measured: float) -> bool | None:
        if measured != measured:
            return None
        return measured >= self.goal if self.at_least else measured <= self.goal

    @property
    def goal_text(self) -> str:
        return f"{'>=' if self.at_least else '<='} {self.goal:g}"


def verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "**no**")


def findings_verdict(
    reference: set[tuple[str, int, int, str]] | None, other: set[tuple[str, int, int, str]] | None
) -> str:
    if reference is None or other is None:
        return "n/a (no JSON)"
    if reference == other:
        return f"identical ({len(reference)} findings)"
    return (
        f"differs ({len(reference - other)} only in the first, {len(other - reference)} only in the second)"
    )


def format_number(value: float, basis: str) -> str:
    if value != value:
        return "-"
    return f"{value:.0f}" if basis == "MiB" else f"{value:.2f}"


@dataclass
class Row:
    """One line of the real-project table: a target with both ratios side by side."""

    target: Target
    project: str
    wall: float = float("nan")
    cpu: float = float("nan")
    mib: float = float("nan")

    @property
    def measured(self) -> float:
        return {"wall": self.wall, "cpu": self.cpu, "MiB": self.mib}[self.target.basis]


def render_table(rows: Sequence[Row], checks: Sequence[tuple[str, str, str]]) -> str:
    """The markdown tables: targets (the ratio the verdict reads in bold) and findings checks."""
    lines = [
        "| target | project | wall ratio | CPU ratio | goal | met |",
        "|---|---|---:|---:|---|---|",
    ]
    for row in rows:
        if row.target.basis == "MiB":
            wall, cpu = f"**{format_number(row.mib, 'MiB')} MiB**", ""
        else:
            wall, cpu = format_number(row.wall, "wall"), format_number(row.cpu, "cpu")
            if row.target.basis == "wall":
                wall = f"**{wall}**"
            else:
                cpu = f"**{cpu}**"
        met = verdict(row.target.met(row.measured))
        lines.append(
            f"| {row.target.name} | {row.project} | {wall} | {cpu} | {row.target.goal_text} | {met} |"
        )
    lines += ["", "| findings check | project | result |", "|---|---|---|"]
    lines += [f"| {name} | {project} | {result} |" for name, project, result in checks]
    return "\n".join(lines)


def replace_section(text: str, section: str, start: str, end: str) -> str:
    """``text`` with what lies between the markers replaced by ``section`` (appended when absent)."""
    if start not in text:
        return f"{text.rstrip()}\n\n{start}\n{section}\n{end}\n"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1] if end in rest else "\n"
    return f"{head}{start}\n{section}\n{end}{tail}"


# --------------------------------------------------------------------------- building
def pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "-q", "--disable-pip-version-check", *args], check=True)


def bin_of(env: Path, name: str) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin") / name


def fetch(project: RealProject, cache: Path) -> Path:
    """The unpacked sdist of ``project``, downloaded with pip and verified by sha256 first."""
    sources = cache / "src" / f"{project.name}-{project.version}"
    if (sources / ".bench-ok").exists():
        return sources
    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    archive = downloads / f"{project.name}-{project.version}.tar.gz"
    if not archive.exists():
        log(f"real: downloading {project.name}=={project.version} (sdist)")
        # --no-binary names the project alone: its build dependencies may come as wheels,
        # which pip needs to read the sdist's metadata.
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
                project.name,
                f"{project.name}=={project.version}",
                "-d",
                str(downloads),
            ],
            check=True,
        )
    verify_sha256(archive, project.sha256)
    if sources.exists():
        shutil.rmtree(sources)
    sources.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=sources.parent) as tmp, tarfile.open(archive) as tar:
        if sys.version_info >= (3, 12):
            tar.extractall(tmp, filter="data")
        else:
            tar.extractall(tmp)
        [top] = list(Path(tmp).iterdir())
        top.rename(sources)
    if not (sources / project.edited_task_file).exists():
        raise BenchError(f"{project.label}: the sdist has no {project.edited_task_file} (no Python sources?)")
    (sources / ".bench-ok").write_text("", "utf-8")
    return sources


def build_venvs(cache: Path) -> dict[str, Path]:
    """flake8 alone, and flake8 with this working tree's celery-lint (reinstalled every run)."""
    envs = {"flake8": cache / "venvs" / "flake8", "celery-lint": cache / "venvs" / "celery-lint"}
    for name, env in envs.items():
        python = bin_of(env, "python")
        if (env / "ok").exists():
            if name == "celery-lint":
                log("real: venv celery-lint (reinstalling this working tree)")
                pip(python, "install", "--no-deps", "--force-reinstall", str(REPO))
            continue
        log(f"real: venv {name}")
        if env.exists():
            shutil.rmtree(env)
        venv.create(env, with_pip=True)
        try:
            pip(python, "install", FLAKE8, *([str(REPO)] if name == "celery-lint" else []))
        except subprocess.CalledProcessError as exc:
            raise BenchError(f"venv {name}: install failed ({exc})") from exc
        (env / "ok").write_text("", "utf-8")
    return envs


# --------------------------------------------------------------------------- measuring
@dataclass
class Runs:
    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    stdout: str = ""
    note: str = ""

    @property
    def peak_mib(self) -> float:
        return max(self.rss_kib) / 1024 if self.rss_kib else float("nan")


def run_once(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, int, int, str, str]:
    """(wall s, CPU s, peak RSS KiB, exit code, stdout, stderr) of one fresh process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = (h.read().decode("utf-8", "replace") for h in (out, err))
    rss = usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    return wall, usage.ru_utime + usage.ru_stime, rss, os.waitstatus_to_exitcode(status), stdout, stderr


def measure(
    label: str,
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str],
    repeats: int,
    before_each: Callable[[int], None] | None = None,
) -> Runs:
    runs = Runs(label)
    for index in range(repeats):
        if before_each is not None:
            before_each(index)
        wall, cpu, rss, code, stdout, stderr = run_once(argv, cwd, env)
        runs.wall.append(wall)
        runs.cpu.append(cpu)
        runs.rss_kib.append(rss)
        runs.stdout = stdout
        if code not in (0, 1) or "Traceback" in stderr:
            runs.note = f"exit {code}: {(stderr.strip().splitlines() or [''])[-1]}"[:200]
            break
    log(
        f"  {label:<52} wall {median(runs.wall):7.2f}s  CPU {median(runs.cpu):7.2f}s  "
        f"{runs.peak_mib:6.0f} MiB  {runs.note}"
    )
    return runs


def findings_of(stdout: str) -> set[tuple[str, int, int, str]] | None:
    try:
        data = json.loads(stdout)
        return {(f["path"], f["line"], f["column"], f["code"]) for f in data["findings"]}
    except (ValueError, KeyError, TypeError):
        return None


# Every .py file parsed by the stdlib, in the folders celery-lint walks; prints "parsed failed".
AST_BASELINE = r"""
import ast, os, sys
skipped = set(sys.argv[2].split(","))
ok = bad = 0
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    dirnames[:] = [d for d in dirnames if d not in skipped and not d.endswith(".egg-info")
                   and not os.path.isfile(os.path.join(dirpath, d, "pyvenv.cfg"))]
    for name in filenames:
        if name.endswith(".py"):
            with open(os.path.join(dirpath, name), "rb") as handle:
                data = handle.read()
            try:
                ast.parse(data)
                ok += 1
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                bad += 1
print(ok, bad)
"""

TARGETS = {
    "precommit": Target("`celery-lint FILE` on one task file just edited, warm project / cold run", 0.1),
    "edit": Target("whole project after editing one task file, warm / cold run", 0.1),
    "flake8": Target("`flake8 --select CEL,E9 FILE` / `flake8 --select E9 FILE` (flake8 alone), warm", 2.0),
    "ast": Target("cold CPU / `ast.parse` CPU of every .py file", 0.6, basis="cpu"),
    "all": Target("`--select ALL` / default selection, cold", 1.3),
    "jobs": Target("`-j1` / `-j2` wall, cold", 1.5, at_least=True),
    "memory": Target("peak memory, cold (MiB)", 200, basis="MiB"),
}


def bench_project(
    project: RealProject, cache: Path, envs: dict[str, Path], repeats: int, skipped_dirs: str
) -> tuple[list[Row], list[tuple[str, str, str]], str]:
    sources = fetch(project, cache)
    work = cache / "work" / f"{project.name}-{project.version}"
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(sources, work)
    lint_cache = cache / "lint-cache" / project.name
    if lint_cache.exists():
        shutil.rmtree(lint_cache)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(CELERY_LINT_CACHE_DIR=str(lint_cache), XDG_CACHE_HOME=str(cache / "xdg"))
    python = str(bin_of(envs["celery-lint"], "python"))
    lint = str(bin_of(envs["celery-lint"], "celery-lint"))
    flake8_plugin = str(bin_of(envs["celery-lint"], "flake8"))
    flake8_alone = str(bin_of(envs["flake8"], "flake8"))
    files, lines = count_sources(work, set(skipped_dirs.split(",")))
    log(f"real: {project.label} ({files:,} .py files, {lines:,} lines)")

    json_run = [lint, "-j1", "--exit-zero", "--format", "json", "."]
    ast_runs = measure(
        "python: ast.parse of every file", [python, "-c", AST_BASELINE, ".", skipped_dirs], work, env, repeats
    )
    cold = measure(
        "celery-lint --no-cache -j1 (cold)", [lint, "--no-cache", *json_run[1:]], work, env, repeats
    )
    select_all = measure(
        "celery-lint --no-cache -j1 --select ALL",
        [lint, "--no-cache", "--select", "ALL", *json_run[1:]],
        work,
        env,
        repeats,
    )
    two_jobs = measure(
        "celery-lint --no-cache -j2", [lint, "--no-cache", "-j2", *json_run[2:]], work, env, repeats
    )
    primed = run_once(json_run, work, env)[4]  # prime the cache (and save every module's summary)
    warm = measure("celery-lint -j1 (warm cache)", json_run, work, env, repeats)
    # The model built again from the saved module summaries alone (no result to reuse).
    from_summaries: dict[str, str] = {}
    for jobs in ("-j1", "-j2"):
        for results in lint_cache.glob("results-*.json"):
            results.unlink()
        from_summaries[jobs] = run_once([lint, jobs, *json_run[2:]], work, env)[4]
    edited = work / project.edited_task_file
    original = edited.read_bytes()

    def edit(index: int) -> None:
        edited.write_bytes(original + f"\n# edited by the bench, run {index}\n".encode())

    after_edit = measure(
        f"celery-lint -j1 after editing {project.edited_task_file}", json_run, work, env, repeats, edit
    )
    relative = project.edited_task_file
    # What pre-commit runs: the changed file alone, in a project whose cache is warm; each
    # run after an edit no earlier run has seen.
    run_once([lint, *json_run[1:-1], relative], work, env)

    def edit_again(index: int) -> None:
        edited.write_bytes(original + f"\n# edited by the bench for pre-commit, run {index}\n".encode())

    one_file = measure(
        f"celery-lint -j1 {relative} after editing it (pre-commit)",
        [lint, *json_run[1:-1], relative],
        work,
        env,
        repeats,
        edit_again,
    )
    edited.write_bytes(original)
    run_once(json_run, work, env)  # the cache matches the project again: the flake8 runs are warm
    flake8_plain = measure(
        f"flake8 --select E9 {relative} (flake8 alone)",
        [flake8_alone, "--select", "E9", relative],
        work,
        env,
        repeats,
    )
    flake8_cel = measure(
        f"flake8 --select CEL,E9 {relative} (plugin)",
        [flake8_plugin, "--select", "CEL,E9", relative],
        work,
        env,
        repeats,
    )

    def row(key: str, numerator: Runs, denominator: Runs) -> Row:
        return Row(
            TARGETS[key],
            project.label,
            wall=ratio(median(numerator.wall), median(denominator.wall)),
            cpu=ratio(median(numerator.cpu), median(denominator.cpu)),
        )

    rows = [
        row("precommit", one_file, cold),
        row("edit", after_edit, cold),
        row("flake8", flake8_cel, flake8_plain),
        row("ast", cold, ast_runs),
        row("all", select_all, cold),
        row("jobs", cold, two_jobs),
        Row(TARGETS["memory"], project.label, mib=cold.peak_mib),
    ]
    reference = findings_of(cold.stdout)
    checks = [
        ("cold -j1 vs warm -j1", project.label, findings_verdict(reference, findings_of(warm.stdout))),
        ("cold -j1 vs cold -j2", project.label, findings_verdict(reference, findings_of(two_jobs.stdout))),
        (
            "cold -j1 vs -j1 saving module summaries",
            project.label,
            findings_verdict(reference, findings_of(primed)),
        ),
        *(
            (
                f"cold -j1 vs {jobs} from module summaries",
                project.label,
                findings_verdict(reference, findings_of(out)),
            )
            for jobs, out in from_summaries.items()
        ),
        (
            "cold -j1 vs -j1 after the edit (summaries)",
            project.label,
            findings_verdict(reference, findings_of(after_edit.stdout)),
        ),
    ]
    measurements = [ast_runs, cold, select_all, two_jobs, warm, one_file, after_edit, flake8_plain, flake8_cel]
    detail = "\n".join(
        f"| {project.label} | {m.label} | {median(m.wall):.2f} | {median(m.cpu):.2f} | {m.peak_mib:.0f} | {m.note} |"
        for m in measurements
    )
    size = f"{project.label}: {files:,} .py files, {lines:,} lines, sha256 {project.sha256[:12]}…"
    return rows, checks, f"{size}\n{detail}"


def count_sources(path: Path, skipped: set[str]) -> tuple[int, int]:
    files = lines = 0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d not in skipped and not d.endswith(".egg-info")]
        for name in filenames:
            if name.endswith(".py"):
                files += 1
                lines += Path(dirpath, name).read_bytes().count(b"\n")
    return files, lines


def run_real(repeats: int, skipped_dirs: str, header: str) -> str:
    """Measure every real project; the report section (markdown) for bench/RESULTS.md."""
    cache = cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    envs = build_venvs(cache)
    rows: list[Row] = []
    checks: list[tuple[str, str, str]] = []
    sizes: list[str] = []
    details: list[str] = []
    for project in PROJECTS:
        project_rows, project_checks, detail = bench_project(project, cache, envs, repeats, skipped_dirs)
        rows += project_rows
        checks += project_checks
        size, _, table = detail.partition("\n")
        sizes.append(size)
        details.append(table)
    rows.sort(key=lambda r: list(TARGETS.values()).index(r.target))
    elapsed = time.perf_counter() - started
    return "\n".join(
        [
            header,
            f"Median of {repeats} runs of each measurement; real-project part {elapsed / 60:.1f} min. "
            "Ratios come from the same run; the verdict reads the ratio in bold (CPU where the target "
            "names CPU, otherwise wall: what a user waits for).",
            "",
            "Projects (pinned sdists from PyPI, verified by sha256, unpacked under the bench cache): "
            + "; ".join(sizes)
            + ".",
            "",
            render_table(rows, checks),
            "",
            "| project | measurement | wall (s) | CPU (s) | peak memory (MiB) | note |",
            "|---|---|---:|---:|---:|---|",
            *details,
        ]
    )
