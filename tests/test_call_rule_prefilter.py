"""The call rules (CEL802-CEL804) let a file that never mentions Celery through the
prefilter only on a whole ``signature(`` name: signing helpers (``get_signature(``,
``PerformanceSignature(``) are common and parsing them costs, while a call of Celery's
``signature`` re-exported by a project module is still checked."""

from __future__ import annotations

from conftest import Project

from celery_lint.engine.linter import Engine
from celery_lint.engine.selection import select_rules
from celery_lint.project.model import ProjectModel
from celery_lint.rules.calls._task_call_cases import NO_CELERY_HEAD, REEXPORTED_SIGNATURE, calls_project

_SIGNING = (
    "import hashlib\n\n\nclass PerformanceSignature:\n    pass\n\n\n"
    "def get_signature(data):\n    return hashlib.sha256(data).hexdigest()\n\n\n"
    "def check(data, given):\n    return get_signature(data) == given and PerformanceSignature()\n"
)


def test_signing_helpers_are_not_parsed_for_the_call_rules(project: Project) -> None:
    views = NO_CELERY_HEAD + "def run():\n    signature('proj.tasks.ad', args=(1, 2)).delay()\n"
    files = {**calls_project(**REEXPORTED_SIGNATURE), "proj/signing.py": _SIGNING, "proj/views.py": views}
    for relpath, text in files.items():
        project.write(relpath, text)
    model = ProjectModel(project.root)
    model.build()
    engine = Engine(select_rules(["CEL802", "CEL803", "CEL804"]))
    found = {
        relpath: [(v.line, v.code) for v in engine.lint_file(model, model.add_file(project.root / relpath))]
        for relpath in sorted(files)
    }
    assert found["proj/views.py"] == [(5, "CEL803")]
    assert found["proj/signing.py"] == []
    parsed = {file.relpath for file in model.parsed_files()}
    assert "proj/views.py" in parsed
    assert "proj/signing.py" not in parsed


def test_a_test_file_is_not_read_for_rules_that_skip_test_code(project: Project) -> None:
    """``apply_async`` lets a file through for CEL804, which never checks test code: a
    test module that mocks it and never mentions Celery is left alone, as it is when
    CEL804 is not selected (it used to be compiled to look for a syntax error, CEL900,
    only when CEL804 was selected). One that mentions Celery is still checked."""
    mocked = (
        "from unittest import mock\n\nfrom proj import tasks\n\n\n"
        "def test_sends():\n    with mock.patch.object(tasks.add, 'apply_async') as sent:\n"
        "        sent.assert_not_called(\n"
    )
    project.write("tests/test_sends.py", mocked)
    project.write("tests/test_worker.py", "# celery\n" + mocked)
    for relpath, text in calls_project().items():
        project.write(relpath, text)
    for ignored in ("CEL801", "CEL801,CEL802,CEL803,CEL804"):
        run = project.run("--ignore", ignored, ".")
        assert [(path, code) for path, _line, _column, code in run.findings if path.startswith("tests/")] == [
            ("tests/test_worker.py", "CEL900")
        ], ignored
