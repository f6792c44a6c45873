"""``celery_lint_app.audit()``: celery-lint's option rules applied to the running app.

The static linter never fires on a value it cannot resolve (options from a base class in
an installed package, settings read from the environment, a ``**options`` splat). At run
time every bound task has a real value. The audit checks those values with the same rule
codes and, by default, reports only what the linter could not already see: a finding is
left out when static analysis resolved the same option to the same value (the lint gate
reports it, or the rule is off for it there).
"""

from __future__ import annotations

import ast
import fnmatch
import inspect
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..interrupts import raise_if_interrupted

_PICKLE = ("pickle", "application/x-python-serialize")


@dataclass(frozen=True)
class AuditFinding:
    code: str
    name: str
    task: str | None
    """The task's name; None for an app-wide setting."""
    message: str
    static: str = ""
    """What static analysis made of the same option."""

    def __str__(self) -> str:
        text = f"{self.code} {self.message}"
        return f"{text} [static analysis: {self.static}]" if self.static else text


class AuditReport(list[AuditFinding]):
    """The findings of one audit (a list); ``assert_clean()`` fails the test on any."""

    @property
    def codes(self) -> list[str]:
        return sorted({f.code for f in self})

    def for_task(self, task: Any) -> list[AuditFinding]:
        from ._intercept import task_name_of

        name = task_name_of(task)
        return [f for f in self if f.task == name]

    def assert_clean(self) -> None:
        if self:
            import pytest

            pytest.fail(f"celery-lint audit: {len(self)} finding(s)\n{self}", pytrace=False)

    def __str__(self) -> str:
        return "\n".join(f"  {finding}" for finding in self) or "  (no findings)"

    def __repr__(self) -> str:
        return f"AuditReport({list.__repr__(self)})"


@dataclass
class _Static:
    """Static analysis of the project, when it could be built."""

    model: Any = None
    settings: Any = None
    root: Path | None = None
    error: str = ""
    registry: Any = None


def _static(root: Path | None) -> _Static:
    if root is None:
        return _Static(error="no project root")
    try:
        from celery_lint.engine import project_settings
        from celery_lint.project.model import model_for
        from celery_lint.project.roots import find_project_root
        from celery_lint.registry import RuleRegistry

        project = find_project_root(root, root)
        registry = RuleRegistry()
        with registry.importable():
            settings = project_settings(registry, project, None)
        return _Static(
            model_for(project, settings.exclude, deployment=settings.deployment),
            settings,
            project,
            registry=registry,
        )
    except Exception as exc:  # a broken project must not break the audit: report everything
        raise_if_interrupted(exc)
        return _Static(error=f"{type(exc).__name__}: {exc}")


def _rules(static: _Static, select: Iterable[str] | None, ignore: Iterable[str]) -> dict[str, str]:
    """Enabled rule codes -> names, from the project's configuration and the arguments."""
    from celery_lint.engine import select_rules

    settings = static.settings
    chosen = select_rules(
        list(select) if select is not None else (settings.select if settings else None),
        list(settings.extend_select) if settings else [],
        [*(settings.ignore if settings else []), *ignore],
        static.registry.rules if static.registry is not None else None,
    )
    return {rule.CODE: rule.NAME for rule in chosen}


def _static_option(static: _Static, task_name: str, option: str) -> Any:
    """Known(value) / Unknown from static analysis, or None when the task is not found."""
    if static.model is None:
        return None
    try:
        from celery_lint.project.model import tasks_by_name

        found = tasks_by_name(static.model).get(task_name) or []
        if len(found) != 1:
            return None
        return static.model.task_option(found[0], option)
    except Exception:
        return None


def _static_setting(static: _Static, key: str) -> Any:
    if static.model is None:
        return None
    try:
        return static.model.project_setting(key)
    except Exception:
        return None


def _seen_statically(resolved: Any, runtime: Any) -> tuple[bool, str]:
    """(static analysis already saw this value, a description of what it saw)."""
    from celery_lint.project.values import Known, Unknown

    if isinstance(resolved, Known):
        return resolved.value == runtime, f"{resolved.value!r} from {resolved.origin}"
    if isinstance(resolved, Unknown):
        return False, f"unknown ({resolved.reason})"
    return False, "not resolved (the task is not statically known by this name)"


def _task_function(task: Any) -> Any:
    run = getattr(type(task), "__wrapped__", None) or getattr(task, "_orig_run", None) or task.run
    return inspect.unwrap(run) if callable(run) else run


def _definition_site(task: Any) -> tuple[str | None, int | None]:
    """The file and the ``def``/``class`` line static findings are reported on."""
    target = _task_function(task)
    if getattr(type(task), "_decorated", False) is False:
        target = type(task)
    try:
        lines, start = inspect.getsourcelines(target)
        filename = inspect.getsourcefile(target)
    except (OSError, TypeError):
        return None, None
    for offset, line in enumerate(lines):
        stripped = line.lstrip()
        if stripped.startswith(("def ", "async def ", "class ")):
            return filename, start + offset
    return filename, start


def _returns_value(task: Any) -> bool | None:
    """Whether the task's function returns a value (None when its source is not at hand)."""
    try:
        source = textwrap.dedent(inspect.getsource(_task_function(task)))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None
    function = next(
        (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None
    )
    if function is None:
        return None

    def walk(node: ast.AST) -> bool:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if isinstance(child, ast.Return) and child.value is not None:
                return True
            if isinstance(child, (ast.Yield, ast.YieldFrom)):
                return True
            if walk(child):
                return True
        return False

    return walk(function)


def _suppressed(static: _Static, filename: str | None, line: int | None, code: str) -> bool:
    if filename is None or line is None:
        return False
    try:
        from celery_lint.noqa import NoqaIndex
        from celery_lint.project.discovery import real_path
        from celery_lint.project.files import is_excluded

        text = Path(filename).read_text(encoding="utf-8")
        if NoqaIndex(text).suppresses(line, code):
            return True
        if static.settings is not None and static.root is not None:
            try:
                relpath = str(real_path(filename).relative_to(static.root))
            except ValueError:
                return False
            for pattern, codes in static.settings.per_file_ignores.items():
                if is_excluded(relpath, [pattern]) and code.startswith(tuple(codes)):
                    return True
    except (OSError, UnicodeDecodeError):
        return False
    return False


def audit_app(
    app: Any,
    conf: Any,
    task_values: Mapping[str, Mapping[str, Any]],
    *,
    root: Path | None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
    tasks: Iterable[str] | None = None,
    known: bool = False,
) -> AuditReport:
    """Audit ``app`` as configured before the test switched it (``conf``, ``task_values``)."""
    static = _static(root)
    enabled = _rules(static, select, ignore)
    patterns = list(tasks) if tasks is not None else None
    report = AuditReport()

    def add(code: str, task: str | None, message: str, resolved: Any, runtime: Any, site: Any = None) -> None:
        if code not in enabled:
            return
        seen, description = _seen_statically(resolved, runtime)
        if seen and not known:
            return
        if site is not None and _suppressed(static, site[0], site[1], code):
            return
        report.append(AuditFinding(code, enabled[code], task, message, description))

    # App-wide settings: the serializers and accepted content.
    for key in ("task_serializer", "result_serializer", "event_serializer"):
        value = conf.get(key)
        if isinstance(value, str) and value.lower() in _PICKLE:
            add(
                "CEL101",
                None,
                f"`{key}` is `{value}` at run time: any broker writer can run code on workers; use `json`",
                _static_setting(static, key),
                value,
            )
    for key in ("accept_content", "result_accept_content"):
        value = conf.get(key)
        if value and any(str(v).lower() in _PICKLE for v in value):
            add(
                "CEL102",
                None,
                f"`{key}` admits pickle at run time ({sorted(value)}); accept only safe content types",
                _static_setting(static, key),
                value,
            )

    backend = conf.get("result_backend")
    global_hard = conf.get("task_time_limit")
    global_soft = conf.get("task_soft_time_limit")
    conf_serializer = conf.get("task_serializer")
    for name in sorted(task_values):
        if name.startswith("celery."):
            continue
        if patterns is not None and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        task = app.tasks.get(name)
        if task is None:
            continue
        values = task_values[name]
        site = _definition_site(task)
        hard, soft = values.get("time_limit"), values.get("soft_time_limit")
        if hard is None:
            # One finding per cause: with neither limit set, CEL201 says so and CEL202 is silent.
            neither = soft is None
            add(
                "CEL201",
                name,
                f"task '{name}' has no time limit at run time (time_limit=None"
                + (", soft_time_limit=None: neither is set" if neither else "")
                + "): a hung call blocks a worker forever; set `time_limit`"
                + (" and `soft_time_limit`" if neither else ""),
                _static_option(static, name, "time_limit"),
                hard,
                site,
            )
        if soft is None and hard:
            add(
                "CEL202",
                name,
                f"task '{name}' has no soft time limit at run time: it cannot clean up "
                "before it is killed; set `soft_time_limit`",
                _static_option(static, name, "soft_time_limit"),
                soft,
                site,
            )
        if hard and soft and soft >= hard:
            relation = "equal to" if soft == hard else "above"
            add(
                "CEL203",
                name,
                f"task '{name}': soft time limit {soft} is {relation} the hard limit "
                f"{hard} at run time; set `soft_time_limit` below `time_limit`",
                _static_option(static, name, "soft_time_limit"),
                soft,
                site,
            )
        for option, limit, setting in (
            ("time_limit", hard, global_hard),
            ("soft_time_limit", soft, global_soft),
        ):
            if limit == 0 and setting:
                add(
                    "CEL204",
                    name,
                    f"task '{name}' sets `{option}=0` against the global limit of {setting}; "
                    f"set an explicit `{option}` instead",
                    _static_option(static, name, option),
                    limit,
                    site,
                )
        acks_late = values.get("acks_late")
        if not acks_late:
            add(
                "CEL205",
                name,
                f"task '{name}' acknowledges before it runs (acks_late={acks_late!r} at run "
                "time): a lost worker loses the message; set `acks_late=True`",
                _static_option(static, name, "acks_late"),
                acks_late,
                site,
            )
        elif values.get("reject_on_worker_lost") is None:
            add(
                "CEL206",
                name,
                f"task '{name}' acknowledges late but `reject_on_worker_lost` is unset at run "
                "time: a killed worker still acks the message; set `reject_on_worker_lost=True`",
                _static_option(static, name, "reject_on_worker_lost"),
                None,
                site,
            )
        ignore_result = values.get("ignore_result")
        if backend and not ignore_result and _returns_value(task) is False:
            add(
                "CEL501",
                name,
                f"task '{name}' returns nothing but its result is stored (ignore_result="
                f"{ignore_result!r} at run time, result_backend set): set `ignore_result=True`",
                _static_option(static, name, "ignore_result"),
                ignore_result,
                site,
            )
        serializer = values.get("serializer")
        if isinstance(serializer, str) and serializer.lower() in _PICKLE and serializer != conf_serializer:
            add(
                "CEL103",
                name,
                f"task '{name}' uses `serializer='{serializer}'` at run time: pickle "
                "messages run code on workers; use `json` and pass ids",
                _static_option(static, name, "serializer"),
                serializer,
                site,
            )
    return report
