"""CEL801 and CEL804 against the real Celery: each INVALID case fails (or is ignored) the
way the finding says, each VALID case runs, and the options CEL801 counts as known are
really taken by Celery.

Every case runs in a child interpreter (Celery's ``shared_task`` registry is
process-global), with an in-memory broker: ``apply_async`` builds and publishes the
message as in production, and the publish is recorded instead of sent over a network.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from celery_lint.project.task_option_names import RETRY_POLICY_KEYS, celery_task_options, task_class_members
from celery_lint.rules.calls.task_args_not_a_sequence import TaskArgsNotASequence
from celery_lint.rules.calls.unknown_task_option import UnknownTaskOption

# Runs a case module, records every publish (the task's name and the retry policy given
# to the producer), and prints what happened as JSON.
_RUNNER = textwrap.dedent(
    """
    import json, runpy, sys
    from celery.app import amqp

    published = []
    create_sender = amqp.AMQP._create_task_sender

    def recording_sender(self):
        send = create_sender(self)

        def send_task_message(producer, name, message, **options):
            published.append({"name": name, "retry_policy": options.get("retry_policy"),
                              "args": list(message[2][0]) if isinstance(message[2], tuple) else None})
            return send(producer, name, message, **options)
        return send_task_message

    amqp.AMQP._create_task_sender = recording_sender
    result = {"published": published}
    try:
        namespace = runpy.run_path(sys.argv[1], run_name="case")
    except Exception as error:
        result["error"] = f"{type(error).__name__}: {error}"
    else:
        sig = namespace.get("sig")
        if sig is not None:
            result["signature_args"] = list(sig.args)
        probe = namespace.get("probe")
        if callable(probe):
            result["probe"] = probe()
    print(json.dumps(result, default=repr))
    """
)


def _run(tmp_path: Path, code: str, *, probe: str = "") -> dict[str, Any]:
    case = tmp_path / "tasks.py"
    case.write_text(code + ("\n" + textwrap.dedent(probe) if probe else ""), "utf-8")
    runner = tmp_path / "runner.py"
    runner.write_text(_RUNNER, "utf-8")
    done = subprocess.run(
        [sys.executable, str(runner), str(case)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _each(cases: list[Any], kind: str) -> Any:
    """Parametrize a test over a rule's cases, named ``valid-1``, ``invalid-2``..."""
    return pytest.mark.parametrize("case", cases, ids=[f"{kind}-{i}" for i in range(1, len(cases) + 1)])


# ------------------------------------------------------------------------------ CEL804
@_each(TaskArgsNotASequence.INVALID, "invalid")
def test_each_cel804_invalid_case_fails_with_real_celery(tmp_path, case):
    result = _run(tmp_path, case.code)
    if "signature(" in case.code:
        # ``signature`` stores ``tuple(args)``: the task would get '1' and '2', not 12.
        assert "error" not in result
        assert result["signature_args"] == ["1", "2"]
        return
    # Celery refuses the call: the signature check of ``apply_async`` (``typing``) or the
    # message builder (``task args must be a list or tuple``); nothing is published.
    assert str(result.get("error")).startswith("TypeError: ")
    assert result["published"] == []


@_each(TaskArgsNotASequence.VALID, "valid")
def test_each_cel804_valid_case_runs_with_real_celery(tmp_path, case):
    result = _run(tmp_path, case.code)
    assert "error" not in result, result
    if "app = Celery" in case.code:
        assert result["published"], "the case publishes a message"


def test_the_fixed_cel804_case_publishes_the_one_argument(tmp_path):
    case = TaskArgsNotASequence.INVALID[0]
    assert case.fixed is not None
    result = _run(tmp_path, case.fixed)
    assert "error" not in result
    assert [p["args"] for p in result["published"]] == [[5]]


# ------------------------------------------------------------------------------ CEL801
_TASK_OF_CASE = "def probe():\n    from celery import current_app\n    current_app.finalize(auto=True)\n"


def test_a_misspelt_option_is_stored_and_ignored(tmp_path):
    """``ignore_results=True`` (CEL801's first INVALID case) leaves ``ignore_result``
    off, and the fixed spelling turns it on."""
    probe = (
        _TASK_OF_CASE + "    return {'ignore_result': f.ignore_result, 'ignore_results': f.ignore_results}\n"
    )
    case = UnknownTaskOption.INVALID[0]
    assert _run(tmp_path, case.code, probe=probe)["probe"] == {"ignore_result": False, "ignore_results": True}
    assert case.fixed is not None
    fixed = _run(tmp_path, case.fixed, probe=_TASK_OF_CASE + "    return f.ignore_result\n")
    assert fixed["probe"] is True


def test_acks_lately_and_time_limits_change_nothing(tmp_path):
    case = UnknownTaskOption.INVALID[1]
    probe = (
        "def probe():\n    app.finalize(auto=True)\n"
        "    return {'acks_late': f.acks_late, 'time_limit': f.time_limit}\n"
    )
    assert _run(tmp_path, case.code, probe=probe)["probe"] == {"acks_late": False, "time_limit": None}


def test_retry_policy_keys_on_the_task_never_reach_the_publish(tmp_path):
    """``interval_start=1`` on the decorator: the message is published with no retry
    policy of the task's; given per call, the policy is what the producer gets."""
    code = (
        "from celery import Celery\n\napp = Celery('proj', broker='memory://')\n\n"
        "@app.task(interval_start=1, interval_step=2, interval_max=10)\ndef f():\n    pass\n\n"
        "f.apply_async()\n"
        "f.apply_async(retry_policy={'interval_start': 1})\n"
    )
    published = _run(tmp_path, code)["published"]
    assert [p["retry_policy"] for p in published] == [None, {"interval_start": 1}]


def test_options_the_decorator_takes_are_not_left_on_the_task(tmp_path):
    """``Celery.task`` and ``_task_from_fun`` consume these: the task class never gets them."""
    consumed = {"shared": False, "lazy": False, "filter": None, "pydantic": False, "bind": True}
    keywords = ", ".join(f"{name}={value!r}" for name, value in consumed.items())
    code = (
        "from celery import Celery\n\napp = Celery('proj', broker='memory://')\n\n"
        f"@app.task({keywords})\ndef f(self):\n    pass\n"
    )
    probe = f"def probe():\n    return [name for name in {sorted(consumed)!r} if name in vars(type(f))]\n"
    assert _run(tmp_path, code, probe=probe)["probe"] == []
    assert set(consumed) <= set(celery_task_options())


def test_exec_and_autoretry_options_given_to_the_task_are_read(tmp_path):
    code = (
        "from celery import Celery\n\napp = Celery('proj', broker='memory://')\n\n"
        "@app.task(queue='low', routing_key='low.f', priority=3, expires=60, autoretry_for=(KeyError,),"
        " retry_backoff=True)\ndef f():\n    pass\n"
    )
    probe = (
        "def probe():\n    options = f._get_exec_options()\n"
        "    return {'exec': {k: options[k] for k in ('queue', 'routing_key', 'priority', 'expires')},"
        " 'autoretry': hasattr(f, '_orig_run')}\n"
    )
    result = _run(tmp_path, code, probe=probe)["probe"]
    assert result == {
        "exec": {"queue": "low", "routing_key": "low.f", "priority": 3, "expires": 60},
        "autoretry": True,
    }


def test_a_handler_given_as_an_option_is_called_by_celery(tmp_path):
    """``on_failure=handler`` (a VALID case of CEL801) replaces ``Task.on_failure``: the
    worker's tracer calls it when the task fails, so the keyword is read."""
    case = next(case for case in UnknownTaskOption.VALID if "on_failure=" in case.code)
    code = case.code.replace("    pass\n", "    raise ValueError(media_id)\n").replace(
        "    print(args)\n", "    CALLS.append(list(args))\n"
    )
    probe = (
        "def probe():\n    from celery import current_app\n"
        "    current_app.conf.task_always_eager = True\n    f.delay(7)\n    return CALLS\n"
    )
    assert _run(tmp_path, "CALLS = []\n" + code, probe=probe)["probe"] == [[7]]
    assert "on_failure" in task_class_members()
    assert "on_failure" not in celery_task_options()  # no misspelling is matched against it


def test_every_known_option_is_read_somewhere_in_celery():
    """Each name of the catalogue is a ``Task`` setting or read by the code it names."""
    from celery.app.task import Task

    for name, where in celery_task_options().items():
        if where.startswith("celery.app.task.Task"):
            assert hasattr(Task, name) or name in dict(Task.from_config), name
        else:
            assert where in {
                "Celery.task",
                "Celery._task_from_fun",
                "shared_task",
                "add_autoretry_behaviour",
                "Task.apply_async",
                "Celery.send_task",
                "AMQP.as_task_v2",
                "AMQP._create_task_sender",
                "celery.app.task.extract_exec_options",
            }, (name, where)
    assert not (RETRY_POLICY_KEYS - {"max_retries"}) & set(celery_task_options())


@pytest.mark.parametrize(
    "case",
    [case for case in UnknownTaskOption.VALID if "**task_options()" not in case.code],
    ids=lambda case: case.note or "valid",
)
def test_each_cel801_valid_case_imports_with_real_celery(tmp_path, case):
    assert "error" not in _run(tmp_path, case.code)
