"""What CI sees: ``--format sarif`` (GitHub code scanning), ``--format github`` (Actions
annotations) and ``--baseline``. Each output is compared with the JSON output of the same
run, finding by finding.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest
from conftest import BARE_TASK, CLEAN_TASK, LEFTOVERS, Project, Run, run_cli

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text("utf-8"))


def copy_fixture(name: str, dest: Path) -> Path:
    target = dest / Path(name).name
    shutil.copytree(FIXTURES / name, target, ignore=LEFTOVERS)
    return target


# A project whose paths and messages need escaping: a folder with a comma, one with a
# percent sign, one with a colon; task names (quoted in messages) with ':' ',' '%'; and a
# multi-line relative update whose source text (quoted in the message) holds a newline.
SPECIAL_TASKS = """\
from celery import shared_task
from django.db.models import F

from .models import Product


@shared_task(name="jobs:50%,daily", time_limit=60, soft_time_limit=50, acks_late=True, ignore_result=True)
def bump(pk):
    Product.objects.filter(pk=pk).update(
        reserved=F("reserved")
        + 1
    )


@shared_task(name="report:100%,now")
def bare():
    pass
"""


def special_project(project: Project) -> Project:
    project.write("my,app/tasks.py", SPECIAL_TASKS)
    project.write("100%/tasks.py", BARE_TASK)
    project.write("a:b/tasks.py", BARE_TASK)
    return project


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_fixture("django_shop", tmp_path_factory.mktemp("ci-shop"))


_RUNS: dict[tuple[Path, tuple[str, ...]], Run] = {}


def cli(cwd: Path, *args: str) -> Run:
    """``celery-lint --no-cache ARGS``; runs on an unchanged folder are done once."""
    key = (cwd, args)
    if key not in _RUNS:
        _RUNS[key] = run_cli("--no-cache", *args, cwd=cwd)
    return _RUNS[key]


def json_findings(cwd: Path, *args: str) -> list[dict[str, object]]:
    run = cli(cwd, "--format", "json", *args)
    assert run.returncode in (0, 1), run
    findings: list[dict[str, object]] = run.json["findings"]
    return findings


def json_warnings(cwd: Path, *args: str) -> list[str]:
    """The run's warnings (a project that imports Celery where no app or task was found)."""
    run = cli(cwd, "--format", "json", *args)
    warnings: list[str] = run.json["summary"]["warnings"]
    return warnings


# --------------------------------------------------------------------------- SARIF
def sarif(cwd: Path, *args: str) -> tuple[Run, dict]:
    run = cli(cwd, "--format", "sarif", *args)
    assert run.returncode in (0, 1), run
    return run, run.json


def check_sarif(document: dict, findings: list[dict[str, object]]) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    assert document["version"] == "2.1.0"
    (the_run,) = document["runs"]
    rules = the_run["tool"]["driver"]["rules"]
    results = the_run["results"]
    assert len(results) == len(findings)
    for result, finding in zip(results, findings, strict=True):
        assert result["ruleId"] == finding["code"]
        assert result["message"]["text"] == finding["message"]
        assert result["level"] == ("error" if str(finding["code"]).startswith("CEL1") else "warning")
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert unquote(physical["artifactLocation"]["uri"]) == Path(str(finding["path"])).as_posix()
        region = physical["region"]
        assert (region["startLine"], region["startColumn"]) == (finding["line"], finding["column"])
        assert (region["endLine"], region["endColumn"]) == (finding["end_line"], finding["end_column"])
        # ruleIndex points at the descriptor of the same rule.
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_sarif_validates_and_matches_json(shop: Path) -> None:
    run, document = sarif(shop, ".")
    assert run.returncode == 1
    findings = json_findings(shop, ".")
    assert findings
    check_sarif(document, findings)


def test_sarif_rule_metadata(shop: Path) -> None:
    """Every rule with a result has help text and a helpUri; the helpUri names a page
    the repository really has (GitHub shows it next to the alert)."""
    _, document = sarif(shop, ".")
    (the_run,) = document["runs"]
    descriptors = {rule["id"]: rule for rule in the_run["tool"]["driver"]["rules"]}
    used = {result["ruleId"] for result in the_run["results"]}
    assert used
    for code in sorted(used):
        rule = descriptors[code]
        assert rule["help"]["text"].strip(), code
        assert rule["shortDescription"]["text"].strip(), code
        uri = rule["helpUri"]
        assert re.match(r"^https://", uri), uri
        match = re.search(r"/blob/main/(.+)$", uri)
        assert match, f"{code}: helpUri {uri} does not point into the repository"
        assert (ROOT / match.group(1)).is_file(), (
            f"{code}: {uri} names {match.group(1)}, which does not exist"
        )


def test_sarif_special_characters_and_empty_run(project: Project) -> None:
    special_project(project)
    _, document = sarif(project.root, ".")
    check_sarif(document, json_findings(project.root, "."))
    # No app in the project: the run says so in a run-level notification (schema-checked above).
    warnings = json_warnings(project.root, ".")
    assert len(warnings) == 1 and "no Celery app was found" in warnings[0], warnings
    (invocation,) = document["runs"][0]["invocations"]
    notes = invocation["toolExecutionNotifications"]
    assert [(n["level"], n["message"]["text"]) for n in notes] == [("warning", warnings[0])]
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in document["runs"][0]["results"]
    }
    # uri-reference: percent-encoded, no raw ',' '%' or ':' before the first '/'.
    assert uris == {"my%2Capp/tasks.py", "100%25/tasks.py", "a%3Ab/tasks.py"}


def test_sarif_with_no_findings_validates(project: Project) -> None:
    project.write("app/tasks.py", CLEAN_TASK)
    run, document = sarif(project.root, "--select", "CEL201", ".")
    assert run.returncode == 0, run
    check_sarif(document, [])
    assert document["runs"][0]["results"] == []


# --------------------------------------------------------------------------- GitHub
ANNOTATION = re.compile(
    r"^::(?P<level>error|warning) "
    r"file=(?P<file>[^,:\r\n]*),line=(?P<line>\d+),col=(?P<col>\d+),"
    r"endLine=(?P<end_line>\d+),endColumn=(?P<end_column>\d+),title=(?P<title>[^,:\r\n]*)"
    r"::(?P<data>[^\r\n]*)$"
)
_DATA_ESCAPES = {"%25": "%", "%0D": "\r", "%0A": "\n"}
_PROPERTY_ESCAPES = {**_DATA_ESCAPES, "%3A": ":", "%2C": ","}


def _unescape(text: str, table: dict[str, str]) -> str:
    """GitHub's decoding: one pass, so ``%253A`` is ``%3A`` and not ``:``."""
    return re.sub("|".join(re.escape(k) for k in table), lambda m: table[m.group(0)], text)


def github(cwd: Path, *args: str) -> Run:
    run = run_cli("--format", "github", "--no-cache", *args, cwd=cwd)
    assert run.returncode in (0, 1), run
    return run


RUN_WARNING = re.compile(r"^::warning title=celery-lint::(?P<data>[^\r\n]*)$")


def check_github(
    run: Run, findings: list[dict[str, object]], warnings: list[str] | None = None
) -> list[re.Match[str]]:
    """One annotation a finding, then one a warning of the run, nothing else on stdout."""
    lines = run.stdout.splitlines()
    warnings = warnings or []
    if warnings:
        lines, tail = lines[: -len(warnings)], lines[-len(warnings) :]
        for line, warning in zip(tail, warnings, strict=True):
            match = RUN_WARNING.match(line)
            assert match, f"not a run warning: {line!r}"
            assert _unescape(match["data"], _DATA_ESCAPES) == warning
    assert len(lines) == len(findings), "one annotation a finding, nothing else on stdout"
    matches = []
    for line, finding in zip(lines, findings, strict=True):
        match = ANNOTATION.match(line)
        assert match, f"not a workflow command: {line!r}"
        assert match["level"] == ("error" if str(finding["code"]).startswith("CEL1") else "warning")
        assert _unescape(match["file"], _PROPERTY_ESCAPES) == finding["path"]
        assert int(match["line"]) == finding["line"]
        assert int(match["col"]) == finding["column"]
        assert int(match["end_line"]) == finding["end_line"]
        assert int(match["end_column"]) == finding["end_column"]
        assert _unescape(match["title"], _PROPERTY_ESCAPES) == f"{finding['code']} {finding['name']}"
        assert _unescape(match["data"], _DATA_ESCAPES) == f"{finding['code']} {finding['message']}"
        matches.append(match)
    return matches


def test_github_annotations_match_json(shop: Path) -> None:
    run = github(shop, ".")
    assert run.returncode == 1
    findings = json_findings(shop, ".")
    matches = check_github(run, findings)
    assert {m["level"] for m in matches} == {"error", "warning"}, "CEL1xx are errors, the rest warnings"
    assert run.stderr == ""


def test_github_escaping(project: Project) -> None:
    special_project(project)
    run = github(project.root, ".")
    findings = json_findings(project.root, ".")
    check_github(run, findings, json_warnings(project.root, "."))
    out = run.stdout
    # Properties: ',' ':' '%' escaped.
    assert "file=my%2Capp/tasks.py," in out
    assert "file=100%25/tasks.py," in out
    assert "file=a%3Ab/tasks.py," in out
    # Data: '%' escaped, ':' and ',' kept; messages are one line (code quoted from several
    # lines is folded), so no newline reaches the annotation.
    assert "task 'report:100%25,now' has no time limit" in out
    assert "relative update `reserved=F(\"reserved\") + 1` in task 'jobs:50%25,daily'" in out
    assert "%0A" not in out


def test_github_with_no_findings_prints_nothing(project: Project) -> None:
    project.write("app/tasks.py", CLEAN_TASK)
    project.write("app/celery.py", "from celery import Celery\n\napp = Celery('app')\n")
    run = github(project.root, "--select", "CEL201", ".")
    assert run.returncode == 0, run
    assert run.stdout == ""


def test_github_run_warning_without_findings(project: Project) -> None:
    """Tasks but no app: no finding, one annotation that belongs to no file."""
    project.write("app/tasks.py", CLEAN_TASK)
    run = github(project.root, "--select", "CEL201", ".")
    assert run.returncode == 0, run
    check_github(run, [], json_warnings(project.root, "--select", "CEL201", "."))


# --------------------------------------------------------------------------- baseline
def text_run(cwd: Path, *args: str) -> Run:
    return run_cli("--no-cache", *args, cwd=cwd)


@pytest.fixture(scope="module")
def baselined_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shop with today's findings recorded in b.json (written once)."""
    shop = copy_fixture("django_shop", tmp_path_factory.mktemp("baseline"))
    everything = text_run(shop, ".")
    assert everything.returncode == 1
    run = text_run(shop, "--baseline", "b.json", "--write-baseline", ".")
    assert run.returncode == 0, run
    assert run.lines == [f"Wrote {len(everything.findings)} findings to b.json."], run
    assert run.stderr == ""
    assert (shop / "b.json").is_file()
    return shop


@pytest.fixture
def baselined(baselined_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the baselined shop, for a test to edit."""
    target = tmp_path / "django_shop"
    shutil.copytree(baselined_template, target)
    return target


def test_baseline_hides_recorded_findings(baselined: Path) -> None:
    run = text_run(baselined, "--baseline", "b.json", ".")
    assert run.returncode == 0, run
    assert run.findings == []
    assert run.lines[-1].startswith("No findings in "), run
    as_json = run_cli("--no-cache", "--format", "json", "--baseline", "b.json", ".", cwd=baselined)
    assert as_json.returncode == 0 and as_json.json["findings"] == [], as_json


def test_baseline_survives_unrelated_edits(baselined: Path) -> None:
    orders = baselined / "orders" / "tasks.py"
    orders.write_text(
        "# Copyright the shop.\n#\n# Licensed under the MIT license.\n\n" + orders.read_text("utf-8"), "utf-8"
    )
    payments = baselined / "payments" / "tasks.py"
    text = payments.read_text("utf-8")
    payments.write_text(
        text.replace(
            "from celery import shared_task\n",
            "import logging\nfrom celery import shared_task\n\nlog = logging.getLogger(__name__)\n",
            1,
        ),
        "utf-8",
    )
    moved = text_run(baselined, ".")
    assert ("orders/tasks.py", 92, 1, "CEL201") in moved.findings, "the findings moved down"
    run = text_run(baselined, "--baseline", "b.json", ".")
    assert run.returncode == 0, run
    assert run.findings == [], run


NEW_TASK = """

@shared_task
def recount_stock():
    Product.objects.update(in_stock=0)
"""


def test_baseline_reports_only_new_findings(baselined: Path) -> None:
    orders = baselined / "orders" / "tasks.py"
    orders.write_text(orders.read_text("utf-8") + NEW_TASK, "utf-8")
    new_line = len(orders.read_text("utf-8").splitlines()) - 1  # the def line
    everything = text_run(baselined, ".")
    expected = [f for f in everything.findings if f[0] == "orders/tasks.py" and f[1] == new_line]
    assert {f[3] for f in expected} >= {"CEL201", "CEL205"}, everything
    run = text_run(baselined, "--baseline", "b.json", ".")
    assert run.returncode == 1, run
    assert run.findings == expected, run


def test_baseline_reports_a_copy_of_a_known_finding(baselined: Path) -> None:
    """A second copy of a recorded task, same line content: the copy is new."""
    orders = baselined / "orders" / "tasks.py"
    text = orders.read_text("utf-8")
    start = text.index("@shared_task(ignore_result=True)\ndef purge_abandoned_carts")
    end = text.index("# Good: early acknowledgement")
    orders.write_text(text + "\n\n" + text[start:end], "utf-8")
    lines = orders.read_text("utf-8").splitlines()
    defs = [n for n, line in enumerate(lines, 1) if line.startswith("def purge_abandoned_carts")]
    assert len(defs) == 2 and defs[0] == 88
    copy_line = defs[1]
    run = text_run(baselined, "--baseline", "b.json", ".")
    assert run.returncode == 1, run
    assert run.findings == [
        ("orders/tasks.py", copy_line, 1, "CEL201"),
        ("orders/tasks.py", copy_line, 1, "CEL205"),
    ], run


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"findings": []}',
        '{"celery_lint_baseline": 99, "findings": []}',
        '{"celery_lint_baseline": 1, "findings": [{"path": "a.py"}]}',
        '{"celery_lint_baseline": 1, "findings": [{"path": "a", "code": "CEL201", "line_content": "x", "count": "many"}]}',
        '{"celery_lint_baseline": 1, "findings": 5}',
        '{"celery_lint_baseline": 1, "findings": null}',
        b"\xff\xfe{}",
    ],
    ids=[
        "not-json",
        "a-list",
        "no-version",
        "other-version",
        "entry-missing-keys",
        "bad-count",
        "findings-a-number",
        "findings-null",
        "not-utf8",
    ],
)
def test_malformed_baseline(project: Project, content: str | bytes) -> None:
    project.write("app/tasks.py", BARE_TASK)
    project.write("b.json", content)
    run = project.run("--no-cache", "--baseline", "b.json", ".")
    assert run.returncode == 2, run
    assert len(run.stderr_lines) == 1, run
    assert run.stderr_lines[0].startswith("celery-lint: error: b.json"), run


def test_missing_baseline(project: Project) -> None:
    project.write("app/tasks.py", BARE_TASK)
    run = project.run("--no-cache", "--baseline", "nowhere.json", ".")
    assert run.returncode == 2, run
    assert len(run.stderr_lines) == 1 and "nowhere.json" in run.stderr_lines[0], run


def test_write_baseline_into_missing_folder(project: Project) -> None:
    project.write("app/tasks.py", BARE_TASK)
    run = project.run("--no-cache", "--baseline", "nowhere/b.json", "--write-baseline", ".")
    assert run.returncode == 2, run
    assert len(run.stderr_lines) == 1 and run.stderr_lines[0].startswith("celery-lint: error: "), run


def test_write_baseline_needs_baseline(project: Project) -> None:
    project.write("app/tasks.py", BARE_TASK)
    run = project.run("--no-cache", "--write-baseline", ".")
    assert run.returncode == 2, run
    assert run.stderr_lines[-1] == "celery-lint: error: --write-baseline needs --baseline FILE", run
    assert not list(project.root.glob("*.json"))
