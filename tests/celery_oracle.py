"""The oracle of the differential test: what the real Celery (and Django) make of a project.

:func:`run_oracle` imports each project in a child process and reads, from the live
objects, every registered task's effective options (after ``app.finalize()``: Celery binds
each task then, copying unset attributes from the configuration and applying
``task_annotations`` last) and the app's configuration. One Python process imports Celery
and Django once, then forks a child a project (a fresh interpreter state each: Celery's
``shared_task`` registry and Django's settings are process-global), so a batch of projects
costs one interpreter start.

Run as a script: ``python celery_oracle.py REQUEST.json`` where the request is a list of
``{"root", "app_module", "app_attr", "task_modules", "django_settings", "options",
"settings"}``; it prints one JSON list of results, ``{"tasks": {app: {name: {option: value}}},
"conf": {setting: value}}`` or ``{"error": text}`` each.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def plain(value: Any) -> Any:
    """A live value as JSON, encoded like ``celery-lint tasks --format json``."""
    from datetime import timedelta

    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _inspect(request: dict[str, Any]) -> dict[str, Any]:
    """In the child: import the project and read the live objects."""
    import importlib

    root = request["root"]
    os.chdir(root)
    sys.path.insert(0, root)
    if request.get("django_settings"):
        os.environ["DJANGO_SETTINGS_MODULE"] = request["django_settings"]
    else:
        os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    module = importlib.import_module(request["app_module"])
    app = getattr(module, request["app_attr"])
    apps = {request["app_attr"]: app}
    for module_name, attr in request.get("other_apps", []):
        apps[attr] = getattr(importlib.import_module(module_name), attr)
    for name in request["task_modules"]:
        importlib.import_module(name)
    # Every app's own tasks (Celery also adds an ``@app.task`` task to each other app of
    # the process, with that app's configuration: ``shared=True``).
    tasks: dict[str, dict[str, dict[str, Any]]] = {}
    for label, each in apps.items():
        each.finalize(auto=True)
        tasks[label] = {
            name: {option: plain(getattr(task, option, None)) for option in request["options"]}
            for name, task in sorted(each.tasks.items())
            if not name.startswith("celery.")
        }
    conf = {setting: plain(app.conf.get(setting)) for setting in request["settings"]}
    return {"tasks": tasks, "conf": conf}


DIFFERS = "<differs between the apps>"


def _child(request: dict[str, Any], out_path: str) -> None:
    try:
        result = _inspect(request)
    except BaseException as exc:
        import traceback

        result = {"error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"}
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


def _serve(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Import what every child needs once, before forking.
    import celery
    import celery.app.base
    import celery.app.task  # noqa: F401

    with contextlib.suppress(ImportError):
        import django.conf  # noqa: F401
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, request in enumerate(requests):
            out_path = os.path.join(tmp, f"{index}.json")
            pid = os.fork()
            if pid == 0:  # the child
                try:
                    import signal

                    signal.alarm(60)
                    _child(request, out_path)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            try:
                with open(out_path, encoding="utf-8") as handle:
                    results.append(json.load(handle))
            except (OSError, ValueError) as exc:
                results.append({"error": f"the child left no result: {exc}"})
    return results


def run_oracle(requests: Sequence[dict[str, Any]], timeout: float = 600) -> list[dict[str, Any]]:
    """The live facts of each requested project (one subprocess for all of them)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(list(requests), handle)
        request_path = handle.name
    try:
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        env.pop("CELERY_CONFIG_MODULE", None)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        completed = subprocess.run(
            [sys.executable, "-B", str(HERE), request_path],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    finally:
        os.unlink(request_path)
    if completed.returncode != 0:
        raise RuntimeError(f"the oracle failed:\n{completed.stderr}")
    results: list[dict[str, Any]] = json.loads(completed.stdout)
    return results


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(json.dumps(_serve(json.load(handle))))
