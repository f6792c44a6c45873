"""Fix safety as a user sees it (#14): which fixes ``--fix`` applies and which need
``--unsafe-fixes``, how the outputs label them, the line that ends the text output, and the
layout of the options a fix adds (one a line past the project's line length, as ruff and
black leave them).

In-process runs of ``celery_lint.cli.main`` in a project under ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from celery_lint.cli import main

REPO = Path(__file__).resolve().parent.parent

PICKLE_APP = (
    "from celery import Celery\n"
    "\n"
    'app = Celery("shop", task_serializer="pickle", accept_content=["json", "pickle"])\n'
    "\n"
    "\n"
    "@app.task\n"
    "def report():\n"
    "    pass\n"
    "\n"
    "\n"
    'report.apply_async(serializer="pickle")\n'
)
"""CEL101, CEL102, CEL103 (unsafe fixes), CEL604 (a safe fix), CEL201 and CEL205 (unsafe)."""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "shop"
    root.mkdir()
    (root / ".git").mkdir()  # the top of the repository: no configuration above it counts
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\n', "utf-8")
    monkeypatch.chdir(root)
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["--no-cache", *args])
    return code, capsys.readouterr().out.splitlines()


# ----------------------------------------------------------------------------- which fixes apply
def test_serializer_fixes_are_unsafe_and_only_unsafe_fixes_apply_them(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Switching pickle to JSON changes what the project can send and rejects the messages
    already queued: ``--fix`` leaves it, ``--fix --unsafe-fixes`` makes it."""
    path = shop / "tasks.py"
    path.write_text(PICKLE_APP, "utf-8")
    select = "--select=CEL101,CEL102,CEL103"
    code, out = run(capsys, "--fix", select, "tasks.py")
    assert path.read_text("utf-8") == PICKLE_APP, out
    assert code == 1 and out[-1] == "3 fixes available with --fix --unsafe-fixes", out
    code, out = run(capsys, "--fix", "--unsafe-fixes", select, "tasks.py")
    assert code == 0, out
    assert path.read_text("utf-8") == PICKLE_APP.replace('"pickle"', '"json"').replace(
        '["json", "json"]', '["json"]'
    )
    assert out == ["Fixed 1 file. No findings in 1 file checked."], out


def test_list_rules_shows_the_serializer_fixes_as_unsafe(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "--list-rules")
    assert code == 0
    rows = {line.split()[0]: line for line in out}
    for rule in ("CEL101", "CEL102", "CEL103"):
        assert rows[rule].endswith("fix: unsafe"), rows[rule]
    assert rows["CEL604"].endswith("fix: safe"), rows["CEL604"]


# ----------------------------------------------------------------------------- JSON and SARIF
def test_json_findings_carry_fix_safety(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (shop / "tasks.py").write_text(PICKLE_APP, "utf-8")
    code, out = run(capsys, "--format", "json", ".")
    assert code == 1
    data = json.loads("\n".join(out))
    safety = {f["code"]: f["fix_safety"] for f in data["findings"]}
    assert all("fixable" not in f for f in data["findings"]), data["findings"][0]
    assert safety == {
        "CEL101": "unsafe",
        "CEL102": "unsafe",
        "CEL103": "unsafe",
        "CEL201": "unsafe",
        "CEL205": "unsafe",
        "CEL604": "safe",
    }, safety
    assert data["summary"]["fixes_available"] == {"safe": 1, "unsafe": 5}, data["summary"]


def test_json_fix_safety_is_null_without_a_fix_and_survives_the_cache(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (shop / "tasks.py").write_text(
        "from celery import shared_task\n\n\n@shared_task(time_limit=60, max_retries=None)\ndef t():\n    pass\n",
        "utf-8",
    )
    args = ["--format", "json", "--select", "CEL304,CEL202", "."]
    assert main(args) == 1  # with the cache: written, then read
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 1
    second = json.loads(capsys.readouterr().out)
    assert first == second
    assert {f["code"]: f["fix_safety"] for f in second["findings"]} == {"CEL202": "unsafe", "CEL304": None}


def test_sarif_does_not_claim_fixes(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SARIF results carry no ``fixes`` (a fix there needs its artifact changes): nothing
    in the log may tell a reader that a finding is fixed or safe to fix."""
    (shop / "tasks.py").write_text(PICKLE_APP, "utf-8")
    code, out = run(capsys, "--format", "sarif", ".")
    assert code == 1
    results = json.loads("\n".join(out))["runs"][0]["results"]
    assert results and all("fixes" not in r and "fixable" not in json.dumps(r) for r in results)


# ----------------------------------------------------------------------------- the text output's last line
@pytest.mark.parametrize(
    ("select", "last"),
    [
        ("CEL101,CEL604", "1 fix available with --fix, 1 more with --unsafe-fixes"),
        ("CEL1,CEL2,CEL604", "1 fix available with --fix, 5 more with --unsafe-fixes"),
        ("CEL604", "1 fix available with --fix"),
        ("CEL101,CEL102", "2 fixes available with --fix --unsafe-fixes"),
    ],
)
def test_text_output_ends_with_the_fixes_each_flag_applies(
    shop: Path, capsys: pytest.CaptureFixture[str], select: str, last: str
) -> None:
    (shop / "tasks.py").write_text(PICKLE_APP, "utf-8")
    code, out = run(capsys, "--select", select, ".")
    assert code == 1
    assert out[-1] == last, out
    assert out[-2].startswith("Found "), out


def test_no_fixes_line_when_no_finding_has_a_fix(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (shop / "tasks.py").write_text(PICKLE_APP, "utf-8")
    code, out = run(capsys, "--select", "CEL704,CEL303,CEL304", ".")
    assert code == 0 and out == ["No findings in 1 file checked (1 app, 1 task)."], out
    (shop / "tasks.py").write_text(
        PICKLE_APP.replace("@app.task\n", "@app.task(max_retries=None)\n"), "utf-8"
    )
    code, out = run(capsys, "--select", "CEL304", ".")
    assert code == 1 and out[-1].startswith("Found 1 finding in 1 file"), out


# ----------------------------------------------------------------------------- --explain and the docs
@pytest.mark.parametrize("rule", ["CEL101", "CEL102", "CEL103"])
def test_explain_and_the_rule_page_state_the_fix_safety(
    shop: Path, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    code, out = run(capsys, "--explain", rule)
    assert code == 0
    assert "Fix: unsafe (applied with --fix --unsafe-fixes)" in out, out[:6]
    section = "\n".join(out[out.index("## Fix safety") + 1 :])
    assert section.startswith("Unsafe"), section[:80]
    page = (REPO / "docs" / "rules" / f"{rule}.md").read_text("utf-8")
    assert "- Autofix: unsafe (`--fix --unsafe-fixes`)" in page


def test_explain_states_a_safe_fix(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--explain", "CEL604")
    assert code == 0 and "Fix: safe (applied with --fix)" in out, out[:6]


# ----------------------------------------------------------------------------- layout of added options
FORMATTED_TASKS = (
    "from celery import Celery\n"
    "\n"
    'app = Celery("shop", broker_connection_retry_on_startup=True)\n'
    "\n"
    "\n"
    '@app.task(bind=True, queue="reports", max_retries=3, ignore_result=True, acks_late=True)\n'
    "def report(self):\n"
    "    pass\n"
    "\n"
    "\n"
    '@app.task(queue="mail")  # the mail queue\n'
    "def mail():\n"
    "    pass\n"
)

WRAPPED_REPORT = (
    "@app.task(\n"
    "    bind=True,\n"
    '    queue="reports",\n'
    "    max_retries=3,\n"
    "    ignore_result=True,\n"
    "    acks_late=True,\n"
    "    time_limit=300,\n"
    "    soft_time_limit=270,\n"
    ")\n"
)


def _fix_limits(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    code, out = run(capsys, "--fix", "--unsafe-fixes", "--select", "CEL201", path.name)
    assert code == 0, out
    return path.read_text("utf-8")


def _ruff_leaves_alone(root: Path, path: Path) -> None:
    if importlib.util.find_spec("ruff") is None:
        return  # the exact text was checked; the formatter is not installed here
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--diff", "--no-cache", str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_added_options_wrap_one_a_line_past_ruffs_line_length(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (shop / "pyproject.toml").write_text(
        '[project]\nname = "shop"\n\n[tool.ruff]\nline-length = 100\n', "utf-8"
    )
    path = shop / "tasks.py"
    path.write_text(FORMATTED_TASKS, "utf-8")
    _ruff_leaves_alone(shop, path)  # the project is formatted before the fix
    fixed = _fix_limits(capsys, path)
    expected = FORMATTED_TASKS.replace(
        '@app.task(bind=True, queue="reports", max_retries=3, ignore_result=True, acks_late=True)\n',
        WRAPPED_REPORT,
    ).replace(
        '@app.task(queue="mail")  # the mail queue\n',
        '@app.task(queue="mail", time_limit=300, soft_time_limit=270)  # the mail queue\n',
    )
    assert fixed == expected
    _ruff_leaves_alone(shop, path)


def test_black_line_length_when_ruff_sets_none(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``[tool.black] line-length = 59``: the mail decorator (60 columns once fixed) wraps too."""
    (shop / "pyproject.toml").write_text(
        '[project]\nname = "shop"\n\n[tool.black]\nline-length = 59\n', "utf-8"
    )
    path = shop / "tasks.py"
    path.write_text(FORMATTED_TASKS.replace("  # the mail queue", ""), "utf-8")
    fixed = _fix_limits(capsys, path)
    assert (
        '@app.task(\n    queue="mail",\n    time_limit=300,\n    soft_time_limit=270,\n)\ndef mail' in fixed
    )
    assert WRAPPED_REPORT in fixed


def test_default_line_length_is_88(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shop / "tasks.py"
    path.write_text(FORMATTED_TASKS, "utf-8")
    fixed = _fix_limits(capsys, path)
    assert WRAPPED_REPORT in fixed
    assert '@app.task(queue="mail", time_limit=300, soft_time_limit=270)  # the mail queue\n' in fixed
    _ruff_leaves_alone(shop, path)  # ruff's default is 88 as well


def test_added_keyword_of_the_app_call_wraps_in_an_indented_block(
    shop: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A safe fix (CEL604) that adds a keyword to ``Celery(...)``, in an ``if`` block."""
    code = (
        "import os\n"
        "\n"
        "from celery import Celery\n"
        "\n"
        'if os.environ.get("SHOP_CELERY", "1"):\n'
        '    app = Celery("shop", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")\n'
    )
    path = shop / "factory.py"
    path.write_text(code, "utf-8")
    result, out = run(capsys, "--fix", "--select", "CEL604", "factory.py")
    assert result == 0, out
    assert path.read_text("utf-8") == code.replace(
        '    app = Celery("shop", broker="redis://localhost:6379/0", backend="redis://localhost:6379/1")\n',
        "    app = Celery(\n"
        '        "shop",\n'
        '        broker="redis://localhost:6379/0",\n'
        '        backend="redis://localhost:6379/1",\n'
        "        broker_connection_retry_on_startup=True,\n"
        "    )\n",
    )
    _ruff_leaves_alone(shop, path)


def test_every_rule_page_opens_its_fix_safety_section_with_the_declared_safety() -> None:
    """What ``--fix`` does and what the page says cannot drift apart: a rule with a fix
    opens its *Fix safety* section with ``Safe`` or ``Unsafe`` as it declares."""
    from celery_lint.rules import all_rules

    for rule in all_rules():
        if rule.FIX_SAFETY is None:
            continue
        doc = rule.__doc__ or ""
        section = doc[doc.index("## Fix safety") + len("## Fix safety") :].split()
        assert section[0].rstrip(":") == rule.FIX_SAFETY.capitalize(), (rule.CODE, section[:3])


def test_a_line_with_a_noqa_comment_is_not_wrapped(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Wrapped, the ``# noqa`` would end up after the closing parenthesis, away from the
    finding it suppresses: the fix keeps the line whole."""
    line = (
        'app = Celery("shop", broker="redis://localhost:6379/0", task_serializer="pickle")  # noqa: CEL101\n'
    )
    path = shop / "tasks.py"
    path.write_text("from celery import Celery\n\n" + line, "utf-8")
    code, out = run(capsys, "--fix", "--select", "CEL101,CEL604", "tasks.py")
    assert code == 0, out
    assert path.read_text("utf-8") == "from celery import Celery\n\n" + line.replace(
        '"pickle")', '"pickle", broker_connection_retry_on_startup=True)'
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pyproject.toml": "[tool.ruff]\nline-length = 120\n[tool.black]\nline-length = 70\n"}, 120),
        ({"pyproject.toml": "[tool.black]\nline-length = 70\n"}, 70),
        ({"ruff.toml": "line-length = 99\n", "pyproject.toml": "[tool.ruff]\nline-length = 120\n"}, 99),
        ({".ruff.toml": "line-length = 77\n", "ruff.toml": "line-length = 99\n"}, 77),
        ({"pyproject.toml": "[tool.ruff]\nline-length = 'long'\n"}, 88),
        ({"pyproject.toml": "[tool.ruff\n"}, 88),
        ({"../pyproject.toml": "[tool.ruff]\nline-length = 101\n"}, 101),
        ({"../pyproject.toml": "[tool.ruff]\nline-length = 101\n", ".git/HEAD": ""}, 88),
    ],
)
def test_the_line_length_comes_from_the_formatters_configuration(
    tmp_path: Path, files: dict[str, str], expected: int
) -> None:
    from celery_lint.fix_layout import line_length_of

    root = tmp_path / "repo" / "shop"
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, "utf-8")
    assert line_length_of(root) == expected
