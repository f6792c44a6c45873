"""Fuzzing the engine: valid Python never makes it raise, broken Python gives CEL900.

Three generators, all bounded (a few dozen examples each, no deadline) so the module
stays well under a minute:

- hypothesmith's grammar-based generator of valid Python, on its own and inside
  Celery-shaped code (task decorators, configuration writes, calls) whose option values
  are hypothesmith expressions;
- mutations of real Celery code: the fixture projects under ``fixtures/`` and modules of
  the installed ``celery`` package, with tokens deleted, lines dropped or duplicated and
  files truncated.

The engine is called in-process through :func:`celery_lint.engine.lint_paths` (and
:func:`celery_lint.engine.fix_paths` without writing, for the autofix invariants).
"""

from __future__ import annotations

import ast
import io
import keyword
import os
import tempfile
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")

from conftest import copy_clean  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from celery_lint.engine import UNPARSABLE_PREFIX, Kind, fix_paths, lint_paths  # noqa: E402
from celery_lint.rules import all_rules  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
KNOWN_CODES = frozenset(rule.CODE for rule in all_rules())

# The suite's runs are reproducible (a fixed derivation of each test's examples); a
# longer hunt sets CELERY_LINT_FUZZ_EXAMPLES and CELERY_LINT_FUZZ_RANDOM=1.
FUZZ = settings(
    max_examples=int(os.environ.get("CELERY_LINT_FUZZ_EXAMPLES", "30")),
    derandomize=not os.environ.get("CELERY_LINT_FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    database=None,
)

pytestmark = pytest.mark.slow


def _parses(source: str | bytes) -> bool:
    """What CPython (the running one) says: ``ast.parse`` accepts the source."""
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


@contextmanager
def _project(files: dict[str, str | bytes], marker: str = "") -> Iterator[Path]:
    """A throw-away project root holding ``files`` (hypothesis re-runs the test body, so
    pytest's function-scoped ``tmp_path`` cannot be used here)."""
    with tempfile.TemporaryDirectory(prefix="celery-lint-fuzz-") as tmp:
        root = Path(tmp) / "proj"
        root.mkdir()
        (root / "pyproject.toml").write_text(marker, "utf-8")
        for relpath, content in files.items():
            path = root / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        yield root


def _check_result(root: Path, paths: list[Path], *, use_prefilter: bool = True) -> dict[str, set[str]]:
    """Lint ``paths`` with every rule; the result must be findings or nothing, well formed."""
    result = lint_paths(paths, select=["ALL"], use_prefilter=use_prefilter)
    assert result.errors == [], result.errors
    codes: dict[str, set[str]] = {}
    for violation in result.violations:
        assert violation.code in KNOWN_CODES, violation
        if violation.kind is Kind.ANALYSIS_SKIPPED:
            # Valid Python that LibCST cannot parse: said as an error of the run, not a
            # finding in the code (the case LibCST cannot parse is its own, not ours).
            assert violation.message.startswith(UNPARSABLE_PREFIX), violation
            continue
        assert violation.line >= 1 and violation.column >= 1, violation
        assert violation.message and "Traceback" not in violation.message, violation
        assert (violation.end_line, violation.end_column) >= (violation.line, violation.column) or (
            violation.end_line == 0
        ), violation
        name = Path(violation.path).resolve()
        codes.setdefault(str(name.relative_to(root.resolve())), set()).add(violation.code)
    return codes


# --------------------------------------------------------------------------- valid code
# hypothesmith's two generators: the grammar one is cheap and strong on whitespace,
# comments, continuation lines, form feeds and line endings; the LibCST one on statements.
_VALID_MODULES = st.one_of(hypothesmith.from_grammar(start="file_input"), hypothesmith.from_node())


@FUZZ
@given(source=_VALID_MODULES)
def test_engine_never_raises_on_generated_valid_code(source: str) -> None:
    assume(_parses(source))
    header = "from celery import shared_task\n"
    with _project({"tasks.py": source, "celery_tasks.py": header + source}) as root:
        for use_prefilter in (False, True):
            codes = _check_result(root, [root / "tasks.py"], use_prefilter=use_prefilter)
            assert "CEL900" not in codes.get("tasks.py", set()), source
        if _parses(header + source):
            codes = _check_result(root, [root])
            assert "CEL900" not in codes.get("celery_tasks.py", set()), source


# Celery-shaped code: every rule gets to look at arbitrary expressions in the places it
# reads. hypothesmith's expressions (``eval_input``) are too few and too small for this,
# so they come from a small generator of valid Python expressions.
_NAMES = st.sampled_from(
    ["x", "settings", "os", "LIMIT", "crontab", "timedelta", "Exception", "app", "first", "self", "_"]
)
_LITERALS = st.one_of(
    st.integers(-(2**70), 2**70).map(repr),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["True", "False", "None", "...", "1j", "0x1F", "1_000", "1e309", "-0.0"]),
    st.text(max_size=12).map(repr),
    st.binary(max_size=6).map(repr),
    st.sampled_from(
        [
            "'pickle'",
            "'json'",
            "'10/m'",
            "'redis://user:pw@host:6379/0'",
            "'amqp://guest:guest@rabbit//'",
            "'application/x-python-serialize'",
            "'*/5'",
            "'proj.tasks.add'",
            "f'{x}'",
            "rb'\\d'",
            '"""a\nb"""',
        ]
    ),
)
_IDENTIFIERS = st.from_regex(r"[a-z_]{1,10}", fullmatch=True).filter(lambda name: not keyword.iskeyword(name))
_OPERATORS = st.sampled_from(
    ["+", "-", "*", "/", "//", "%", "**", "|", "&", "<", "==", "is not", "in", "and", "or"]
)


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    named = st.tuples(_IDENTIFIERS, inner).map(lambda kv: f"{kv[0]}={kv[1]}")
    argument = st.one_of(inner, named, inner.map("*({})".format), inner.map("**({})".format))
    return st.one_of(
        st.tuples(inner, st.lists(argument, max_size=3)).map(lambda t: f"({t[0]})({', '.join(t[1])})"),
        st.tuples(inner, _IDENTIFIERS).map(lambda t: f"({t[0]}).{t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]})[{t[1]}]"),
        st.tuples(inner, _OPERATORS, inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
        st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(inner, max_size=4).map(lambda xs: "(" + "".join(x + ", " for x in xs) + ")"),
        st.lists(inner, min_size=1, max_size=3).map(lambda xs: "{" + ", ".join(xs) + "}"),
        st.lists(st.tuples(inner, inner), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"
        ),
        inner.map("{{**({})}}".format),
        inner.map("-({})".format),
        inner.map("not ({})".format),
        inner.map("lambda *a, **k: ({})".format),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]}) if ({t[1]}) else ({t[2]})"),
        inner.map("[i for i in ({}) if i]".format),
    )


_EXPRESSIONS = st.recursive(st.one_of(_LITERALS, _NAMES), _compound, max_leaves=8)
_OPTIONS = st.sampled_from(
    [
        "time_limit",
        "soft_time_limit",
        "acks_late",
        "ignore_result",
        "serializer",
        "autoretry_for",
        "retry_backoff",
        "max_retries",
        "rate_limit",
        "name",
        "base",
        "bind",
        "queue",
        "expires",
    ]
)
_SETTINGS = st.sampled_from(
    [
        "task_serializer",
        "accept_content",
        "broker_url",
        "result_backend",
        "task_time_limit",
        "task_annotations",
        "beat_schedule",
        "task_routes",
        "worker_prefetch_multiplier",
        "task_always_eager",
        "result_expires",
        "CELERY_TASK_SERIALIZER",
        "timezone",
    ]
)


@st.composite
def celery_modules(draw: st.DrawFn) -> str:
    options = draw(st.lists(st.tuples(_OPTIONS, _EXPRESSIONS), max_size=4, unique_by=lambda kv: kv[0]))
    conf = draw(st.lists(st.tuples(_SETTINGS, _EXPRESSIONS), max_size=3))
    call_args = draw(st.lists(_EXPRESSIONS, max_size=2))
    body = draw(_EXPRESSIONS)
    decorated = ", ".join(f"{k}=({v})" for k, v in options)
    lines = [
        "from celery import Celery, shared_task, chain, chord, group",
        "from celery.schedules import crontab",
        "app = Celery('proj')",
    ]
    for key, value in conf:
        lines.append(f"app.conf.{key} = ({value})" if key.islower() else f"{key} = ({value})")
    lines.append(f"app.conf.update({', '.join(f'{k}=({v})' for k, v in conf)})")
    lines += [
        f"@app.task({decorated})",
        "def first(self=None, *args, **kwargs):",
        f"    value = ({body})",
        "    second.delay(value).get()",
        "    return value",
        f"@shared_task({decorated})",
        "def second(*args, **kwargs):",
        "    try:",
        f"        return ({body})",
        "    except Exception as exc:",
        "        raise second.retry(exc=exc)",
        f"first.apply_async(({''.join(f'({a}), ' for a in call_args)}), {decorated})",
        f"chord([first.s({call_args[0] if call_args else ''})], second.s())()",
    ]
    return "\n".join(lines) + "\n"


@FUZZ
@given(source=celery_modules())
def test_engine_never_raises_on_celery_shaped_code(source: str) -> None:
    assume(_parses(source))
    with _project({"proj/__init__.py": "", "proj/tasks.py": source}) as root:
        codes = _check_result(root, [root])
        assert "CEL900" not in codes.get(os.path.join("proj", "tasks.py"), set()), source
        # The fixes of such code must produce code that still parses.
        _check_fixes(root)


# --------------------------------------------------------------------------- broken code
def _seed_files() -> list[tuple[str, Path]]:
    """(label, path) of every fixture module and a few real Celery modules."""
    seeds = [
        (str(p.relative_to(FIXTURES)), p)
        for p in sorted(FIXTURES.rglob("*.py"))
        # Not what an install of the example pack may have left (build/lib/ copies).
        if not {"build", "__pycache__"} & set(p.relative_to(FIXTURES).parts)
    ]
    try:
        import celery
    except ImportError:  # pragma: no cover - celery is a dependency
        return seeds
    package = Path(celery.__file__).parent
    for relpath in (
        "app/task.py",
        "app/defaults.py",
        "app/annotations.py",
        "app/routes.py",
        "schedules.py",
        "contrib/abortable.py",
        "backends/rpc.py",
        "__init__.py",
    ):
        path = package / relpath
        if path.is_file():
            seeds.append((f"celery/{relpath}", path))
    return seeds


SEEDS = _seed_files()


def _project_of(path: Path) -> Path | None:
    """The fixture project a seed belongs to (to lint it with its whole project), if any."""
    if FIXTURES not in path.parents:
        return None
    for parent in path.parents:
        if parent == FIXTURES:
            return None
        if (parent / "pyproject.toml").is_file():
            return parent
    return None


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []


def _offset(lines: list[str], row: int, col: int) -> int:
    return sum(len(line) for line in lines[: row - 1]) + col


@st.composite
def mutations(draw: st.DrawFn, source: str) -> str:
    """``source`` with one to three random edits a careless hand (or a crash) makes."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["delete_token", "delete_lines", "truncate", "duplicate_line", "insert", "dedent"]
            )
        )
        lines = source.splitlines(keepends=True)
        if not source:
            break
        if kind == "delete_token":
            tokens = [t for t in _tokens(source) if t.string and t.type != tokenize.ENDMARKER]
            if not tokens:
                continue
            token = draw(st.sampled_from(tokens))
            if token.start[0] != token.end[0]:
                continue
            start = _offset(lines, *token.start)
            source = source[:start] + source[start + len(token.string) :]
        elif kind == "delete_lines":
            first = draw(st.integers(0, max(0, len(lines) - 1)))
            count = draw(st.integers(1, 5))
            source = "".join(lines[:first] + lines[first + count :])
        elif kind == "truncate":
            source = source[: draw(st.integers(0, len(source)))]
        elif kind == "duplicate_line":
            index = draw(st.integers(0, max(0, len(lines) - 1)))
            source = "".join(lines[: index + 1] + lines[index:])
        elif kind == "insert":
            where = draw(st.integers(0, len(source)))
            text = draw(
                st.sampled_from(
                    ["(", ")", ":", "\n", "    ", "\t", "'", '"""', "\\", "@", ",", "\x00", "\ufeff", "é"]
                )
            )
            source = source[:where] + text + source[where:]
        elif kind == "dedent":
            index = draw(st.integers(0, max(0, len(lines) - 1)))
            lines[index] = lines[index].lstrip(" ")
            source = "".join(lines)
    return source


@FUZZ
@given(data=st.data(), seed=st.sampled_from(SEEDS))
def test_mutated_celery_code_gives_cel900_or_findings(data: st.DataObject, seed: tuple[str, Path]) -> None:
    label, path = seed
    original = path.read_text("utf-8")
    mutated = data.draw(mutations(original), label="mutated")
    fixture = _project_of(path)
    with tempfile.TemporaryDirectory(prefix="celery-lint-fuzz-") as tmp:
        if fixture is not None:
            root = Path(tmp) / fixture.name
            copy_clean(fixture, root)
            target = root / path.relative_to(fixture)
        else:
            root = Path(tmp) / "proj"
            root.mkdir()
            (root / "pyproject.toml").write_text("", "utf-8")
            target = root / "module.py"
        target.write_bytes(mutated.encode("utf-8", "surrogatepass"))
        relpath = str(target.relative_to(root))

        # The whole project: never an exception, findings well formed.
        _check_result(root, [root])
        # The mutated file named on its own: CEL900 exactly when it cannot be analysed.
        codes = _check_result(root, [target]).get(relpath, set())
        if "CEL900" in codes:
            assert not _parses(mutated) or len(mutated) > 2 * 1024 * 1024, (
                f"CEL900 on code CPython parses ({label}):\n{mutated}"
            )
        _check_fixes(root)


# --------------------------------------------------------------------------- fixes
def _check_fixes(root: Path) -> None:
    """``--fix --unsafe-fixes`` (without writing) never breaks a file and never touches one
    that did not parse."""
    result, changes = fix_paths([root], unsafe=True, write=False, select=["ALL"])
    assert result.errors == [], result.errors
    for path, before, after in changes:
        assert _parses(before), f"{path}: a fix was offered for a file that does not parse"
        assert _parses(after), (
            f"{path}: the fixed file does not parse:\n--- before\n{before}\n--- after\n{after}"
        )
