"""The Celery, kombu and billiard behaviour the limits and retries rules rely on, checked
against the installed packages, plus edge cases of those rules beyond their own cases."""

from __future__ import annotations

import importlib.util
import inspect
import re
import time

import pytest
from celery import Celery
from celery.app.task import Task as CeleryTask
from celery.worker.request import Request

from celery_lint.project.limits import (
    KOMBU_FALLBACK_VISIBILITY,
    broker_kind,
    kombu_visibility_defaults,
)
from celery_lint.project.retries import RETRY_CATCHERS, SOFT_TIME_LIMIT
from celery_lint.testing import lint_source


# ------------------------------------------------------------------ kombu: visibility timeouts
def _class_attribute_by_regex(module: str, klass: str, attribute: str) -> float:
    """An independent reading of a class constant: the first ``attr = N`` inside ``class K``."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin
    with open(spec.origin, encoding="utf-8") as handle:
        text = handle.read()
    body = text[re.search(rf"^class {klass}\b.*$", text, re.MULTILINE).end() :]
    body = body[: re.search(r"^\S", body, re.MULTILINE).start()]
    match = re.search(rf"^\s+{attribute}\s*(?::[^=]+)?=\s*([0-9_.]+)", body, re.MULTILINE)
    assert match, f"{module}.{klass}.{attribute} not found"
    return float(match.group(1).replace("_", ""))


def test_visibility_defaults_agree_with_installed_kombu() -> None:
    defaults = kombu_visibility_defaults()
    assert defaults["redis"] == _class_attribute_by_regex(
        "kombu.transport.redis", "Channel", "visibility_timeout"
    )
    assert defaults["sqs"] == _class_attribute_by_regex(
        "kombu.transport.SQS", "Channel", "default_visibility_timeout"
    )


def test_fallback_visibility_matches_installed_kombu() -> None:
    # The constants used when kombu's source cannot be read must not drift.
    assert kombu_visibility_defaults() == KOMBU_FALLBACK_VISIBILITY


@pytest.mark.parametrize(
    ("module", "klass", "attribute", "kind"),
    [
        ("kombu.transport.redis", "Channel", "visibility_timeout", "redis"),
        ("kombu.transport.SQS", "Channel", "default_visibility_timeout", "sqs"),
    ],
)
def test_visibility_defaults_agree_with_imported_kombu(
    module: str, klass: str, attribute: str, kind: str
) -> None:
    """Where the transport imports (its client library installed), compare with the class itself."""
    try:
        imported = importlib.import_module(module)
    except Exception as exc:  # redis-py / boto3 missing: kombu's module fails at import
        pytest.skip(f"{module} does not import here: {exc}")
    assert float(getattr(getattr(imported, klass), attribute)) == kombu_visibility_defaults()[kind]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://localhost:6379/0", "redis"),
        ("rediss://:secret@cache.example.com:6380/0", "redis"),
        ("Redis://localhost", "redis"),
        ("redis+socket:///tmp/redis.sock", "redis"),
        ("sentinel://s1:26379;sentinel://s2:26379", "redis"),
        (["redis://a", "redis://b"], "redis"),
        ("sqs://", "sqs"),
        ("SQS://key:secret@", "sqs"),
        ("amqp://guest@localhost//", None),
        ("pyamqp://guest@rabbit//", None),
        ("memory://", None),
        ("sqla+postgresql://u@h/db", None),
        ("redis://a;amqp://b", None),
        ("unknown://x", None),
        ("localhost", None),
        (None, None),
    ],
)
def test_broker_kind(url: object, kind: str | None) -> None:
    assert broker_kind(url) == kind


def test_broker_kinds_follow_kombu_aliases() -> None:
    from kombu.transport import TRANSPORT_ALIASES

    for scheme in ("redis", "rediss", "sentinel"):
        assert TRANSPORT_ALIASES[scheme].startswith("kombu.transport.redis:")
    for scheme in ("sqs", "SQS"):
        assert TRANSPORT_ALIASES[scheme].startswith("kombu.transport.SQS:")


# ------------------------------------------------------------------ Celery: time limits
def _app() -> Celery:
    return Celery("limits_case", broker="memory://", set_as_current=False)


def test_soft_above_hard_raises_at_publish_and_equal_does_not() -> None:
    """CEL203: ``apply_async`` refuses soft > hard; equal is accepted (the rule flags it anyway)."""
    app = _app()

    @app.task(time_limit=60, soft_time_limit=90, shared=False)
    def above() -> None: ...

    @app.task(time_limit=60, soft_time_limit=60, shared=False)
    def equal() -> None: ...

    @app.task(time_limit=0, soft_time_limit=90, shared=False)
    def no_hard() -> None: ...

    with pytest.raises(ValueError, match="soft_time_limit must be less than or equal to time_limit"):
        above.apply_async()
    with app.connection_for_write() as connection:
        equal.apply_async(connection=connection)
        no_hard.apply_async(connection=connection)  # 0 is "no limit": Celery does not compare


def test_config_limits_are_copied_into_tasks_unless_set() -> None:
    """CEL203/CEL204: ``from_config`` fills None attributes only; None keeps the global limit."""
    app = _app()
    app.conf.task_time_limit = 300

    @app.task(time_limit=None, shared=False)
    def explicit_none() -> None: ...

    @app.task(time_limit=0, shared=False)
    def zero() -> None: ...

    assert explicit_none.time_limit == 300
    assert zero.time_limit == 0


def test_prefork_pool_replaces_a_zero_timeout_with_its_own() -> None:
    """CEL204: billiard's ``apply_async`` uses ``timeout or self.timeout``, so a task's 0
    falls back to the pool's limit (the worker builds the pool with ``task_time_limit``)."""
    from billiard.pool import Pool

    pool = Pool(processes=1, timeout=1)
    try:
        started = time.monotonic()
        result = pool.apply_async(time.sleep, (5,), timeout=0)
        with pytest.raises(Exception, match="TimeLimitExceeded"):
            result.get(timeout=15)
        assert time.monotonic() - started < 4.5
    finally:
        pool.terminate()


def test_worker_passes_falsy_task_limits_to_the_pool() -> None:
    source = inspect.getsource(Request.execute_using_pool)
    assert "timeout=time_limit or task.time_limit" in source
    assert "soft_timeout=soft_time_limit or task.soft_time_limit" in source


# ------------------------------------------------------------------ Celery: retries
def test_retry_max_retries_none_falls_back_to_the_task_limit() -> None:
    """CEL304: ``self.retry(max_retries=None)`` and ``retry_kwargs={'max_retries': None}``
    keep the task's own ``max_retries`` (3 by default); only the task attribute unbinds it."""
    app = _app()
    runs = {"call": 0, "kwargs": 0, "task": 0}

    @app.task(bind=True, shared=False)
    def call(self: CeleryTask) -> str:
        runs["call"] += 1
        if runs["call"] > 10:
            return "stopped"
        raise self.retry(max_retries=None, countdown=0)

    @app.task(autoretry_for=(ValueError,), retry_kwargs={"max_retries": None}, shared=False)
    def kwargs() -> str:
        runs["kwargs"] += 1
        if runs["kwargs"] > 10:
            return "stopped"
        raise ValueError

    @app.task(bind=True, max_retries=None, shared=False)
    def task(self: CeleryTask) -> str:
        runs["task"] += 1
        if runs["task"] > 10:
            return "stopped"
        raise self.retry(countdown=0)

    assert call.apply().state == "FAILURE"
    assert kwargs.apply().state == "FAILURE"
    assert task.apply().result == "stopped"
    assert runs == {"call": 4, "kwargs": 4, "task": 11}


def test_max_retries_zero_never_retries() -> None:
    """CEL302/CEL303 stay quiet on ``max_retries=0``: the original error is raised at once."""
    app = _app()
    runs = []

    @app.task(autoretry_for=(Exception,), max_retries=0, shared=False)
    def once() -> None:
        runs.append(1)
        raise KeyError("boom")

    result = once.apply()
    assert result.state == "FAILURE"
    assert isinstance(result.result, KeyError)
    assert len(runs) == 1


def test_decorator_autoretry_options_beat_task_annotations() -> None:
    """``add_autoretry_behaviour`` reads the decorator options first; annotations (applied
    at bind) only fill in what the decorator leaves out."""
    app = _app()
    app.conf.task_annotations = {"*": {"retry_backoff": True, "autoretry_for": (KeyError,)}}

    @app.task(autoretry_for=(ValueError,), shared=False)
    def given() -> None: ...

    closure = dict(
        zip(
            given.run.__code__.co_freevars,
            (c.cell_contents for c in given.run.__closure__ or ()),
            strict=True,
        )
    )
    assert closure["autoretry_for"] == (ValueError,)
    assert closure["retry_backoff"] == 1.0


def test_exception_class_names_are_celerys() -> None:
    import billiard.exceptions
    import celery.exceptions

    for name in RETRY_CATCHERS:
        module, _, klass = name.rpartition(".")
        assert issubclass(celery.exceptions.Retry, getattr(celery.exceptions, klass)), name
    parents = {f"{c.__module__}.{c.__name__}" for c in celery.exceptions.Retry.__mro__}
    assert parents - {"builtins.Exception", "builtins.BaseException", "builtins.object"} <= RETRY_CATCHERS
    assert issubclass(celery.exceptions.Retry, Exception)
    for name in SOFT_TIME_LIMIT:
        module, _, klass = name.rpartition(".")
        source = celery.exceptions if module == "celery.exceptions" else billiard.exceptions
        assert getattr(source, klass) is billiard.exceptions.SoftTimeLimitExceeded
    assert issubclass(billiard.exceptions.SoftTimeLimitExceeded, Exception)


def test_retry_without_countdown_uses_default_retry_delay() -> None:
    source = inspect.getsource(CeleryTask.retry)
    assert "countdown = self.default_retry_delay" in source
    assert CeleryTask.default_retry_delay == 180


# ------------------------------------------------------------------ rule edge cases
def _codes(code: str, select: str, path: str = "tasks.py") -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(code, path, select=[select])]


def test_visibility_timeout_of_another_app_is_not_mixed_up() -> None:
    code = (
        "from celery import Celery\n"
        "app = Celery('a', broker='redis://localhost')\n"
        "other = Celery('b', broker='amqp://rabbit//')\n\n"
        "@other.task\ndef f():\n    pass\n\n"
        "f.apply_async(countdown=7200)\n"
    )
    assert _codes(code, "CEL209") == []


def test_shared_task_on_two_apps_with_different_brokers_is_unknown() -> None:
    code = (
        "from celery import Celery, shared_task\n"
        "app = Celery('a', broker='redis://localhost')\n"
        "other = Celery('b', broker='amqp://rabbit//')\n\n"
        "@shared_task\ndef f():\n    pass\n\n"
        "f.apply_async(countdown=7200)\n"
    )
    assert _codes(code, "CEL209") == []


def test_retry_swallowed_reported_once_per_call() -> None:
    code = (
        "from celery import shared_task\n\n@shared_task(bind=True)\ndef f(self):\n"
        "    try:\n        try:\n            raise self.retry()\n        except Exception:\n            pass\n"
        "    except Exception:\n        pass\n"
    )
    assert _codes(code, "CEL305") == [(7, "CEL305")]


def test_soft_limit_rule_skips_test_code() -> None:
    code = "from celery import shared_task\n\n@shared_task(time_limit=1, soft_time_limit=2)\ndef f():\n    pass\n"
    assert _codes(code, "CEL203", path="tests/test_tasks.py") == []
    assert _codes(code, "CEL203") == [(3, "CEL203")]


def test_swallowed_soft_time_limit_inside_nested_try_of_task() -> None:
    code = (
        "from celery import shared_task\nfrom celery.exceptions import SoftTimeLimitExceeded\n\n"
        "@shared_task(soft_time_limit=10)\ndef f(items):\n"
        "    try:\n        for item in items:\n            try:\n                handle(item)\n"
        "            except Exception:\n                continue\n"
        "    except SoftTimeLimitExceeded:\n        cleanup()\n"
    )
    assert _codes(code, "CEL208") == [(10, "CEL208")]
