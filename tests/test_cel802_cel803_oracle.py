"""CEL802 and CEL803 against the real Celery: each case project runs, and fails as the rule says.

Every case of the two rules is written to a temporary directory and imported in a child
process with Celery in eager mode (``task_always_eager``, exceptions propagated, an
in-memory broker for ``send_task``): the ``run()`` function of the checked module is
called after autodiscovery (as in a worker), then the app's registry is read. An INVALID case of CEL802
raises ``TypeError``; an INVALID case of CEL803 names a task the app does not have
(``app.tasks[name]`` raises ``NotRegistered``). A VALID case runs cleanly. Cases of test
code are left out: they are valid because the rules skip test code, not because they run.

Run as a script (``python test_cel802_cel803_oracle.py REQUEST.json``) it is the child.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from celery_lint.rules.base import Invalid, Valid
from celery_lint.rules.calls.task_call_signature_mismatch import TaskCallSignatureMismatch
from celery_lint.rules.calls.unknown_task_name import UnknownTaskName
from celery_lint.testing import lint_paths

HERE = Path(__file__).resolve()


def _run_case(request: dict[str, Any]) -> dict[str, Any]:
    """In the child: import the project in eager mode, call ``run()``, read the registry."""
    import importlib

    import celery

    original = celery.Celery.__init__

    def eager_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.conf.update(
            task_always_eager=True,
            task_eager_propagates=True,
            broker_url="memory://",
            result_backend="cache+memory://",
        )

    celery.Celery.__init__ = eager_init  # type: ignore[method-assign]
    sys.path.insert(0, request["root"])
    os.chdir(request["root"])
    outcome: dict[str, Any] = {"error": None}
    try:
        module = importlib.import_module(request["module"])
        # As a worker starts: autodiscovery imports the task modules.
        importlib.import_module("proj.celery").app.loader.import_default_modules()
        run = getattr(module, "run", None)
        if callable(run):
            run()
    except Exception as exc:
        outcome["error"] = f"{type(exc).__name__}: {exc}"
    app = importlib.import_module("proj.celery").app
    app.loader.import_default_modules()
    app.finalize(auto=True)
    outcome["registered"] = sorted(app.tasks)
    return outcome


def _serve(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import celery  # noqa: F401  (imported once, before the forks)

    results = []
    for request in requests:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                payload = json.dumps(_run_case(request))
            except BaseException as exc:
                payload = json.dumps({"error": f"oracle: {exc!r}", "registered": []})
            with os.fdopen(write, "w") as handle:
                handle.write(payload)
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as handle:
            results.append(json.loads(handle.read() or '{"error": "no answer", "registered": []}'))
        os.waitpid(pid, 0)
    return results


def _cases() -> list[tuple[str, Valid | Invalid]]:
    found: list[tuple[str, Valid | Invalid]] = []
    for rule in (TaskCallSignatureMismatch, UnknownTaskName):
        for kind, cases in (("valid", rule.VALID), ("invalid", rule.INVALID)):
            for index, case in enumerate(cases, start=1):
                if not case.path.startswith("tests/"):
                    found.append((f"{rule.CODE}-{kind}-{index}", case))
    return found


CASES = _cases()


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """Per case: what the real Celery did, and the messages celery-lint reported."""
    requests = []
    messages: dict[str, list[str]] = {}
    for case_id, case in CASES:
        root = tmp_path_factory.mktemp(case_id)
        for relpath, text in {**case.files, case.path: case.code}.items():
            target = root / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        code = case_id.split("-")[0]
        result = lint_paths([root], select=[code])
        messages[case_id] = [f"{v.message}; {v.fix_title}" for v in result.violations if v.code == code]
        module = case.path.removesuffix(".py").replace("/", ".")
        requests.append({"root": str(root), "module": module})
    request_path = tmp_path_factory.mktemp("requests") / "request.json"
    request_path.write_text(json.dumps(requests), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "CELERY_CONFIG_MODULE")}
    completed = subprocess.run(
        [sys.executable, "-B", str(HERE), str(request_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=True,
    )
    answers = json.loads(completed.stdout)
    return {case_id: (answer, messages[case_id]) for (case_id, _), answer in zip(CASES, answers, strict=True)}


@pytest.mark.parametrize("case_id", [case_id for case_id, _ in CASES])
def test_celery_agrees(case_id: str, outcomes: dict[str, tuple[dict[str, Any], list[str]]]) -> None:
    answer, messages = outcomes[case_id]
    code, kind = case_id.split("-")[:2]
    if kind == "valid":
        assert messages == []
        assert answer["error"] is None
        return
    assert messages, "the rule reports the case"
    if code == "CEL802":
        assert answer["error"] is not None and answer["error"].startswith("TypeError"), answer
        return
    for message in messages:
        name = re.match(r"'([^']+)'", message)
        assert name is not None
        assert name.group(1) not in answer["registered"]
        hint = re.search(r"did you mean '([^']+)'", message)
        if hint is not None:
            assert hint.group(1) in answer["registered"]
    if "app.tasks[" in messages[0]:
        assert answer["error"] is not None and answer["error"].startswith("NotRegistered"), answer


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(json.dumps(_serve(json.load(handle))))
