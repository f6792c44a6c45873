"""The call rules (CEL802-CEL804) let a file that never mentions Celery through the
prefilter only on a whole ``signature(`` name: signing helpers (``get_signature(``,
``PerformanceSignature(``) are common and parsing them costs, while a call of Celery's
``signature`` re-exported by a project module is still checked."""

from __future__ import annotations

from pathlib import Path

from celery_lint.engine.linter import Engine
from celery_lint.engine.selection import select_rules
from celery_lint.project.model import ProjectModel
from celery_lint.rules.calls._task_call_cases import NO_CELERY_HEAD, REEXPORTED_SIGNATURE, calls_project

_SIGNING = (
    "import hashlib\n\n\nclass PerformanceSignature:\n    pass\n\n\n"
    "def get_signature(data):\n    return hashlib.sha256(data).hexdigest()\n\n\n"
    "def check(data, given):\n    return get_signature(data) == given and PerformanceSignature()\n"
)


def _project(root: Path, files: dict[str, str]) -> None:
    (root / "pyproject.toml").write_text("[project]\nname = 'case'\n", "utf-8")
    for relpath, text in files.items():
        target = root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")


def test_signing_helpers_are_not_parsed_for_the_call_rules(tmp_path: Path) -> None:
    views = NO_CELERY_HEAD + "def run():\n    signature('proj.tasks.ad', args=(1, 2)).delay()\n"
    files = {**calls_project(**REEXPORTED_SIGNATURE), "proj/signing.py": _SIGNING, "proj/views.py": views}
    _project(tmp_path, files)
    model = ProjectModel(tmp_path)
    model.build()
    engine = Engine(select_rules(["CEL802", "CEL803", "CEL804"]))
    found = {
        relpath: [(v.line, v.code) for v in engine.lint_file(model, model.add_file(tmp_path / relpath))]
        for relpath in sorted(files)
    }
    assert found["proj/views.py"] == [(5, "CEL803")]
    assert found["proj/signing.py"] == []
    parsed = {file.relpath for file in model.parsed_files()}
    assert "proj/views.py" in parsed
    assert "proj/signing.py" not in parsed
