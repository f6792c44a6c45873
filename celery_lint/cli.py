"""The ``celery-lint`` command. A thin front end over :mod:`celery_lint.engine`.

Imports stay light at module level so ``celery-lint --version`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from .interrupts import interrupt_behind
from .types import Kind, LintResult
from .version import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from .engine.progress import Progress
    from .engine.summary_store import SummaryStore
    from .registry import RuleRegistry

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INTERNAL_ERROR = 3
"""A bug of celery-lint itself: one line on stderr naming the file the traceback went to."""
EXIT_INTERRUPTED = 130
"""Ctrl-C (128 + SIGINT, as shells report a command a signal ended)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"celery-lint: error: {message}\n")
        raise SystemExit(EXIT_ERROR)


def _codes(value: str) -> list[str]:
    return [part.strip().upper() for part in value.split(",") if part.strip()]


def _selected_codes(value: str) -> list[str]:
    codes = _codes(value)
    if not codes:
        # ``--select ""`` would check nothing and exit 0: a silent pass.
        raise argparse.ArgumentTypeError("no codes given: it would check nothing (e.g. --select CEL2,CEL101)")
    return codes


def _jobs(value: str) -> int:
    if value in ("auto", "0"):
        return os.cpu_count() or 1
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError("the number of processes cannot be negative")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="celery-lint",
        description="Check Celery task code and configuration for lost work, hung workers and unsafe serializers.",
        epilog="The summary line counts the apps and tasks of the checked files and the tasks whose "
        "configuration cannot be known; a project that imports Celery but where no app or no task "
        "was found gets a warning on stderr (the exit status is unchanged). "
        "celery-lint tasks [PATH ...] lists every Celery app and task with each effective option "
        "and where its value came from (see celery-lint tasks --help). 'tasks' as the first argument "
        "is always that subcommand: to lint a file or folder named tasks, write ./tasks or tasks/, "
        "or put it after -- (celery-lint -- tasks). "
        "Exit codes: 0 no findings, 1 findings, 2 usage or configuration error, 3 internal error "
        "(a bug: the line names a file holding its traceback), 130 interrupted.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        default=[],
        metavar="PATH",
        help="files or folders (default: .); a path named tasks as ./tasks, tasks/ or after --",
    )
    parser.add_argument(
        "--select",
        type=_selected_codes,
        default=None,
        metavar="CODES",
        help="only these codes or prefixes (CEL2 = CEL2xx); replaces the default set",
    )
    parser.add_argument(
        "--extend-select", type=_codes, default=[], metavar="CODES", help="add codes, e.g. opt-in rules"
    )
    parser.add_argument(
        "--ignore", type=_codes, default=[], metavar="CODES", help="codes or prefixes to skip"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github"),
        default="text",
        help="output format: text, json, sarif (GitHub code scanning), github (Actions annotations)",
    )
    parser.add_argument("--fix", action="store_true", help="apply safe fixes in place")
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print the fixes as a unified diff and change nothing (exit 1 if any)",
    )
    parser.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix/--diff, also apply fixes that change behaviour",
    )
    parser.add_argument(
        "--baseline", metavar="FILE", help="report only findings not recorded in this baseline"
    )
    parser.add_argument(
        "--write-baseline",
        action="store_true",
        help="record the current findings in the --baseline FILE and exit 0",
    )
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line (otherwise shown on stderr when it is a terminal and the run takes "
        "over a second, or $CELERY_LINT_PROGRESS_DELAY seconds)",
    )
    parser.add_argument("--no-cache", action="store_true", help="do not read or write .celery_lint_cache/")
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="keep the result cache in DIR instead of each project's .celery_lint_cache/ "
        "(default: $CELERY_LINT_CACHE_DIR when set)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="lint in N processes (0 or 'auto': one per CPU)",
    )
    parser.add_argument(
        "--config", default=None, metavar="FILE", help="a pyproject.toml to read [tool.celery-lint] from"
    )
    parser.add_argument("--no-prefilter", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--list-rules",
        action="store_true",
        help="list every rule (built-in and from installed packs; a project's local packs are not imported) and exit",
    )
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    parser.add_argument("--version", action="version", version=f"celery-lint {__version__}")
    return parser


def _fix(args: argparse.Namespace, registry: RuleRegistry) -> int:
    from .config import ConfigError
    from .engine import FixInterrupted, display_path, fix_paths
    from .output import format_text, skip_warnings, summary_line, unified_diff

    try:
        result, changes = fix_paths(
            args.paths or ["."],
            unsafe=args.unsafe_fixes,
            write=args.fix and not args.diff,
            select=args.select,
            extend_select=args.extend_select,
            ignore=args.ignore,
            config_file=args.config,
            use_prefilter=not args.no_prefilter,
            registry=registry,
        )
    except ConfigError as exc:
        sys.stderr.write(f"celery-lint: error: {exc}\n")
        return EXIT_ERROR
    except FixInterrupted as exc:
        # A file is written whole or not at all: the one being written when Ctrl-C came
        # was finished first or left as it was.
        fixed = f"{exc.fixed} file{'s' if exc.fixed != 1 else ''}"
        sys.stderr.write(f"celery-lint: interrupted; {fixed} fixed, no file left half-written\n")
        return EXIT_INTERRUPTED
    _report_skipped_files(result)
    for error in result.errors:
        sys.stderr.write(f"celery-lint: error: {error}\n")
    for warning in skip_warnings(result):
        sys.stderr.write(f"celery-lint: warning: {warning}\n")
    if args.diff:
        for path, before, after in changes:
            sys.stdout.write(unified_diff(display_path(path), before, after))
        count = len(changes)
        print(f"{count} file{'s' if count != 1 else ''} would be changed.")
        _print_unsafe_left(args, result)
        if result.errors:
            return EXIT_ERROR
        return EXIT_FINDINGS if changes else EXIT_CLEAN
    if result.violations:
        print(format_text(result.violations))
    count = len(changes)
    print(f"Fixed {count} file{'s' if count != 1 else ''}. " + summary_line(result))
    _print_unsafe_left(args, result)
    if result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if result.violations and not args.exit_zero else EXIT_CLEAN


def _print_unsafe_left(args: argparse.Namespace, result: LintResult) -> None:
    """After ``--fix``/``--diff`` without ``--unsafe-fixes``: how many unsafe fixes it left."""
    from .output import fixes_line

    line = "" if args.unsafe_fixes else fixes_line(result.violations, unsafe_only=True)
    if line:
        print(line)


def _report_skipped_files(result: LintResult) -> None:
    """A file CPython accepts but celery-lint does not analyse (its chains would take the
    parser too long) comes back as a CEL900 line of kind ``ANALYSIS_SKIPPED``, which the
    cache and ``-j`` carry like any finding; it is not one: the file gets an error line."""
    from .engine import UNPARSABLE_PREFIX

    kept = []
    for violation in result.violations:
        if violation.kind is Kind.ANALYSIS_SKIPPED:
            reason = violation.message.removeprefix(UNPARSABLE_PREFIX)
            result.errors.append(f"{violation.path}: {reason}")
        else:
            kept.append(violation)
    result.violations = kept


@contextlib.contextmanager
def _progress(args: argparse.Namespace) -> Iterator[Progress | None]:
    """The progress line of a lint run, erased when the run ends however it ends: only on a
    terminal, for the text format, without ``--quiet``."""
    if args.quiet or args.format != "text" or not _is_terminal(sys.stderr):
        yield None
        return
    from .progress_line import ProgressLine, progress_delay

    delay, warning = progress_delay()
    if warning:
        sys.stderr.write(f"celery-lint: warning: {warning}\n")
    with ProgressLine(sys.stderr, delay) as line:
        yield line


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _load_local_packs(args: argparse.Namespace, registry: RuleRegistry) -> None:
    """``plugins = [...]`` of the project at hand, so that ``--explain`` knows its packs'
    rules. A local pack is code the project runs: only ``--explain`` of a code no built-in
    or installed rule has imports it (``--list-rules`` lists those two kinds only)."""
    from pathlib import Path

    from .config import ConfigError
    from .engine import project_settings
    from .project.roots import find_project_root

    root = find_project_root(Path(args.paths[0] if args.paths else "."))
    # The explanation does not depend on the rest of the configuration: errors wait for a run.
    with contextlib.suppress(ConfigError):
        project_settings(registry, root, Path(args.config) if args.config else None)


def _list_rules(registry: RuleRegistry) -> str:
    rows = []
    for rule in registry.rules:
        flag = "default" if rule.DEFAULT else "opt-in"
        fix = f"fix: {rule.FIX_SAFETY}" if rule.FIX_SAFETY else ""
        rows.append(f"{rule.CODE}  {rule.NAME:<40} {flag:<8} {fix}".rstrip())
    return "\n".join(rows)


def _explain(code: str, registry: RuleRegistry) -> str | None:
    for rule in registry.rules:
        if code.upper() == rule.CODE or code.lower() == rule.NAME:
            flag = "default" if rule.DEFAULT else "opt-in (enable with --extend-select " + rule.CODE + ")"
            header = f"# {rule.CODE} {rule.NAME}\n\nEnabled: {flag}\n"
            if rule.FIX_SAFETY:
                flags = "--fix --unsafe-fixes" if rule.FIX_SAFETY == "unsafe" else "--fix"
                header += f"Fix: {rule.FIX_SAFETY} (applied with {flags})\n"
            return header + "\n" + _dedent(rule.docs())
    return None


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; nothing of the process is left changed (the cycle collector's
    state, ``sys.path``), also when it ends with SystemExit."""
    collecting = gc.isenabled()
    try:
        with _printable_streams():
            return _main(argv)
    except BrokenPipeError:
        # The reader went away (``celery-lint | head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FINDINGS
    except KeyboardInterrupt:
        return _interrupted(argv)
    except Exception as exc:  # a bug of celery-lint: never the exit code of findings
        if interrupt_behind(exc) is not None:  # Ctrl-C that a library's clean-up turned into an error
            return _interrupted(argv)
        _Printable(sys.stderr).write(f"celery-lint: {internal_error(exc, argv)}\n")
        return EXIT_INTERNAL_ERROR
    finally:
        if collecting:
            gc.enable()


def _interrupted(argv: Sequence[str] | None) -> int:
    sys.stderr.write("celery-lint: interrupted\n")
    if argv is None:
        _exit_now(EXIT_INTERRUPTED)
    return EXIT_INTERRUPTED


class _Printable:
    """A text stream that writes what its encoding cannot: a file name that is not valid
    UTF-8 (``bad\\xff.py``, held with a lone surrogate) or any character of the output
    on a strict ASCII or UTF-8 stdout comes out escaped (``bad\\xff.py``) instead of
    raising UnicodeEncodeError."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            return self._stream.write(printable(text, getattr(self._stream, "encoding", None) or "utf-8"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def printable(text: str, encoding: str) -> str:
    """``text`` with what ``encoding`` cannot write escaped: the bytes a lone surrogate
    stands for (``os.fsdecode``'s surrogateescape) as ``\\xff``, other characters as
    ``\\u20ac``."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "backslashreplace")
    text = raw.decode("utf-8", "backslashreplace")
    return text.encode(encoding, "backslashreplace").decode(encoding, "replace")


@contextlib.contextmanager
def _printable_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr as :class:`_Printable` while the command runs."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Printable(stdout), _Printable(stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _exit_now(code: int) -> None:
    """End the command process at once. On Ctrl-C the interpreter's own exit would first
    wait for the parse thread to finish the file it is on (seconds for a large one); the
    ``-j`` workers are already gone, and a run that stops writes nothing more. Only when
    ``main`` runs as the command (no ``argv`` given): a caller in-process gets the code."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(code)


def internal_error(exc: BaseException, argv: Sequence[str] | None = None) -> str:
    """One line on an unexpected exception, naming the file its traceback is written to
    (a new file in the temporary folder), for the user to attach to a bug report."""
    import platform
    import tempfile
    import traceback

    try:
        what = " ".join(f"{type(exc).__name__}: {exc}".split())
    except Exception:  # an exception whose str() fails too
        what = type(exc).__name__
    if len(what) > 300:
        what = what[:297] + "..."
    report = (
        f"celery-lint {__version__}, Python {platform.python_version()} on {platform.platform()}\n"
        f"arguments: {list(sys.argv[1:] if argv is None else argv)!r}\n"
        f"working directory: {_working_directory()!r}\n\n" + "".join(traceback.format_exception(exc))
    )
    try:
        fd, path = tempfile.mkstemp(prefix="celery-lint-crash-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as handle:
            handle.write(report)
    except OSError as write_error:
        return f"internal error: {what} (the traceback could not be written: {write_error})"
    return f"internal error: {what}; the traceback is in {path} (please attach it to a bug report)"


def _working_directory() -> str:
    try:
        return os.getcwd()
    except OSError as exc:  # removed while the command ran
        return f"unknown ({exc})"


def _main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    # ``celery-lint tasks``: always the subcommand, also where a ``tasks`` folder or
    # ``tasks.py`` is in the working directory; ``./tasks``, ``tasks/`` or ``-- tasks`` lint
    # a path named so (see the README).
    if arguments[:1] == ["tasks"]:
        return _tasks(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(argv)

    # Here, not at the top: ``--version`` and ``--help`` answer without loading the rules.
    from .registry import RuleRegistry

    # The rule packs of this run: local packs stay importable only while it runs.
    registry = RuleRegistry()
    with registry.importable():
        return _run(parser, args, registry)


def build_tasks_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="celery-lint tasks",
        description="List every Celery app and task with each effective option and where its value came from.",
    )
    parser.add_argument("paths", nargs="*", default=[], metavar="PATH", help="files or folders (default: .)")
    parser.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output format"
    )
    parser.add_argument(
        "--option",
        default=None,
        metavar="NAMES",
        help="comma-separated task options to show (default: time_limit, soft_time_limit, "
        "acks_late, ignore_result, serializer, max_retries, queue)",
    )
    parser.add_argument(
        "--config", default=None, metavar="FILE", help="a pyproject.toml to read [tool.celery-lint] from"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="do not read or write the module summaries kept in .celery_lint_cache/ (shared with lint runs)",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="the cache folder lint runs use, when not each project's .celery_lint_cache/ "
        "(default: $CELERY_LINT_CACHE_DIR when set)",
    )
    return parser


def _tasks(argv: list[str]) -> int:
    args = build_tasks_parser().parse_args(argv)
    # As for a lint run (see ``_run``): the cycle collector only costs time while the model
    # is built; it is back on when the listing is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _list_tasks(args)
    finally:
        if collecting:
            gc.enable()


def _list_tasks(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .config import ConfigError
    from .engine.runner import projects_of, show_as_named
    from .inventory import (
        DEFAULT_OPTIONS,
        KNOWN_OPTIONS,
        build_inventory,
        format_json,
        format_markdown,
        format_text,
    )
    from .output import skip_warnings
    from .project.discovery import PathAliases, SkippedPaths
    from .registry import RuleRegistry
    from .types import LintResult

    options = DEFAULT_OPTIONS
    if args.option is not None:
        options = tuple(dict.fromkeys(o.strip() for o in args.option.split(",") if o.strip()))
        wrong = [o for o in options if o not in KNOWN_OPTIONS]
        if wrong or not options:
            sys.stderr.write(
                f"celery-lint: error: unknown task option {', '.join(map(repr, wrong)) or repr(args.option)}"
                f" (known: {', '.join(KNOWN_OPTIONS)})\n"
            )
            return EXIT_ERROR
    errors: list[str] = []
    registry = RuleRegistry()
    skipped = SkippedPaths()
    try:
        with registry.importable():
            # Listing tasks lints nothing: the projects' local rule packs stay unimported.
            settings, projects, _ = projects_of(
                registry, args.paths or ["."], args.config, None, errors, skipped=skipped, load_packs=False
            )
    except ConfigError as exc:
        sys.stderr.write(f"celery-lint: error: {exc}\n")
        return EXIT_ERROR
    if errors:
        for error in errors:
            sys.stderr.write(f"celery-lint: error: {error}\n")
        return EXIT_ERROR
    # The model is built from the module summaries lint runs keep (and keeps those it parses).
    stores: dict[Path, SummaryStore] = {}
    if not args.no_cache:
        from .engine.summary_store import summary_store_for

        cache_dir = Path(args.cache_dir) if args.cache_dir else None
        stores = {root: summary_store_for(root, cache_dir) for root in projects}
    inventory = build_inventory(
        (
            (root, settings[root].exclude, set(targets), settings[root].deployment)
            for root, targets in projects.items()
        ),
        options,
        summaries=stores,
    )
    for store in stores.values():
        store.report()
    if args.format == "json":
        print(format_json(inventory))
    elif args.format == "markdown":
        print(format_markdown(inventory))
    else:
        print(format_text(inventory))
    # What the listing lacks is said, as a lint run says it: folders the walk left out
    # (unreadable, links out of the project, too long) and files that could not be parsed.
    walked = LintResult()
    show_as_named(PathAliases(args.paths or ["."]), walked, skipped)
    for warning in skip_warnings(walked):
        sys.stderr.write(f"celery-lint: warning: {warning}\n")
    for path, error in inventory.not_analysed:
        sys.stderr.write(
            f"celery-lint: error: {path}: not analysed, its apps and tasks are not listed: {error}\n"
        )
    return EXIT_ERROR if inventory.not_analysed else EXIT_CLEAN


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, registry: RuleRegistry) -> int:
    if args.list_rules:
        print(_list_rules(registry))
        return EXIT_CLEAN
    if args.explain:
        text = _explain(args.explain, registry)
        if text is None:
            _load_local_packs(args, registry)
            text = _explain(args.explain, registry)
        if text is None:
            sys.stderr.write(f"celery-lint: error: unknown rule code '{args.explain}'\n")
            return EXIT_ERROR
        sys.stdout.write(text)
        return EXIT_CLEAN

    # Parsing allocates millions of small objects that form no cycles: the cycle collector
    # only costs time here (about 40% of a run), and memory stays the same without it.
    # ``main`` turns it back on when the run ends.
    gc.disable()

    from .config import ConfigError
    from .engine import lint_paths
    from .output import (
        fixes_line,
        format_github,
        format_github_warnings,
        format_json,
        format_sarif,
        format_text,
        run_hints,
        run_warnings,
        summary_line,
    )

    if args.write_baseline and not args.baseline:
        parser.error("--write-baseline needs --baseline FILE")

    if args.fix or args.diff:
        return _fix(args, registry)
    try:
        with _progress(args) as progress:
            result = lint_paths(
                args.paths or ["."],
                select=args.select,
                extend_select=args.extend_select,
                ignore=args.ignore,
                config_file=args.config,
                use_prefilter=not args.no_prefilter,
                use_cache=not args.no_cache,
                jobs=args.jobs,
                registry=registry,
                cache_dir=args.cache_dir,
                progress=progress,
            )
    except ConfigError as exc:
        sys.stderr.write(f"celery-lint: error: {exc}\n")
        return EXIT_ERROR
    _report_skipped_files(result)
    for error in result.errors:
        sys.stderr.write(f"celery-lint: error: {error}\n")
    if args.baseline:
        from pathlib import Path

        from .baseline import filter_new, read_baseline, write_baseline

        baseline_path = Path(args.baseline)
        if args.write_baseline:
            try:
                write_baseline(baseline_path, result.violations)
            except ConfigError as exc:
                sys.stderr.write(f"celery-lint: error: {exc}\n")
                return EXIT_ERROR
            print(f"Wrote {len(result.violations)} findings to {baseline_path}.")
            return EXIT_ERROR if result.errors else EXIT_CLEAN
        try:
            known = read_baseline(baseline_path)
        except ConfigError as exc:
            sys.stderr.write(f"celery-lint: error: {exc}\n")
            return EXIT_ERROR
        result.violations = filter_new(result.violations, known, baseline_path)
    if args.format == "json":
        print(format_json(result))
    elif args.format == "sarif":
        print(format_sarif(result, registry.rules))
    elif args.format == "github":
        if result.violations:
            print(format_github(result.violations))
        if run_warnings(result):
            print(format_github_warnings(run_warnings(result)))
    else:
        if result.violations:
            print(format_text(result.violations))
        print(summary_line(result))
        for hint in run_hints(result):
            print(hint)
        fixes = fixes_line(result.violations)
        if fixes:
            print(fixes)
    # A run that saw nothing of a project using Celery says so, whatever the format.
    for warning in run_warnings(result):
        sys.stderr.write(f"celery-lint: warning: {warning}\n")
    if result.errors:
        return EXIT_ERROR
    if result.violations and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN
