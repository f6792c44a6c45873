"""The configuration rules agree with the installed Celery.

CEL602 (mixed setting styles) must fire exactly when Celery raises ImproperlyConfigured,
on the keys Celery names and with the rename it asks for. CEL601/CEL606 must report the
names Celery ignores and only those, and the namespace lookup the rules use must be the
one Celery performs.
"""

from __future__ import annotations

import random
import re

import pytest
from celery import Celery
from celery.app import defaults as celery_defaults
from celery.app.utils import detect_settings
from celery.exceptions import ImproperlyConfigured

from celery_lint.project.broker_urls import literal_password, parse_urls, placeholder_host
from celery_lint.project.configuration import (
    closest_setting,
    namespace_mismatch,
    visible_setting,
)
from celery_lint.project.setting_styles import mixing_errors
from celery_lint.settings_catalogue import load_catalogue
from celery_lint.testing import lint_source

CATALOGUE = load_catalogue()
_RENAME = re.compile(r"^\s*(\S+)\s+->\s+(\S+)\s*$")


def _value(key: str) -> object:
    new = CATALOGUE.canonical(key) or key
    return celery_defaults.DEFAULTS.get(new, 1)


def _celery_verdict(app: Celery) -> dict[str, str]:
    """Keys Celery refuses at first read, with the rename it asks for ({} when it starts)."""
    try:
        app.conf.task_serializer  # noqa: B018 - the first read finalizes the configuration
    except ImproperlyConfigured as exc:
        renames = {}
        for line in str(exc).splitlines():
            match = _RENAME.match(line)
            if match:
                renames[match.group(1)] = match.group(2)
        assert renames, str(exc)
        return renames
    return {}


def _lint_findings(code: str, select: str, path: str = "proj/celery.py", **files: str) -> dict[int, str]:
    return {v.line: v.message for v in lint_source(code, path, files, select=[select]) if v.code == select}


# ------------------------------------------------------------------ CEL602 vs Celery
OLD_NEW_POOL = [
    "CELERY_TASK_SERIALIZER",
    "task_serializer",
    "CELERY_ACKS_LATE",
    "task_acks_late",
    "BROKER_URL",
    "broker_url",
    "CELERYD_TASK_TIME_LIMIT",
    "task_time_limit",
    "CELERYD_PREFETCH_MULTIPLIER",
    "worker_prefetch_multiplier",
    "CELERY_RESULT_BACKEND",
    "result_backend",
    "CELERYBEAT_SCHEDULE",
    "beat_schedule",
    "CELERY_TIMEZONE",
    "timezone",
]

HANDPICKED = [
    ["CELERY_TASK_SERIALIZER", "task_acks_late"],
    ["CELERY_TASK_SERIALIZER", "CELERY_ACKS_LATE", "task_time_limit"],
    ["CELERY_ACKS_LATE", "BROKER_URL"],
    ["CELERY_TASK_SERIALIZER", "task_serializer"],
    ["BROKER_URL", "task_serializer"],
    ["task_serializer", "task_acks_late", "CELERY_ACKS_LATE"],
    ["CELERY_TASK_SERIALIZER", "task_serializer", "task_acks_late", "CELERY_ACKS_LATE"],
    ["CELERYD_PREFETCH_MULTIPLIER", "CELERYBEAT_SCHEDULE", "beat_schedule", "timezone"],
    ["task_serializer", "result_backend", "broker_url"],
    ["task_serializer", "my_own_key", "CELERY_NOT_A_SETTING"],
]


def _random_sets(count: int, seed: int = 602) -> list[list[str]]:
    rng = random.Random(seed)
    return [rng.sample(OLD_NEW_POOL, rng.randint(1, 7)) for _ in range(count)]


KEY_SETS = HANDPICKED + _random_sets(30)


@pytest.mark.parametrize("keys", KEY_SETS, ids=["+".join(k) for k in KEY_SETS])
def test_cel602_conf_update_agrees_with_celery(keys):
    app = Celery("agree", set_as_current=False)
    app.conf.update(**{key: _value(key) for key in keys})
    expected = _celery_verdict(app)

    lines = "".join(f"    {key}={_value(key)!r},\n" for key in keys)
    code = f"from celery import Celery\napp = Celery('proj')\napp.conf.update(\n{lines})\n"
    found = _lint_findings(code, "CEL602")
    flagged = {keys[line - 4]: message for line, message in found.items()}
    assert set(flagged) == set(expected), (keys, expected, flagged)
    for key, rename in expected.items():
        assert f"rename `{key}` to `{rename}`" in flagged[key]


@pytest.mark.parametrize("keys", KEY_SETS[:20], ids=["+".join(k) for k in KEY_SETS[:20]])
def test_cel602_config_class_agrees_with_celery(keys):
    config = type("Config", (), {key: _value(key) for key in keys})
    app = Celery("agree", set_as_current=False)
    app.config_from_object(config)
    expected = _celery_verdict(app)

    body = "".join(f"    {key} = {_value(key)!r}\n" for key in keys)
    code = f"from celery import Celery\n\nclass Config:\n{body}\napp = Celery('proj')\napp.config_from_object(Config)\n"
    found = _lint_findings(code, "CEL602")
    flagged = {keys[line - 4] for line in found}
    assert flagged == set(expected), (keys, expected, found)


@pytest.mark.parametrize("keys", HANDPICKED, ids=["+".join(k) for k in HANDPICKED])
def test_cel602_changes_agrees_and_keywords_never_raise(keys):
    values = {key: _value(key) for key in keys}
    app = Celery("agree", set_as_current=False, changes=dict(values))
    expected = _celery_verdict(app)
    code = f"from celery import Celery\napp = Celery('proj', changes={values!r})\n"
    found = _lint_findings(code, "CEL602")
    assert bool(found) == bool(expected)

    kwargs = {k: v for k, v in values.items() if k.isidentifier()}
    assert _celery_verdict(Celery("agree", set_as_current=False, **kwargs)) == {}
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    assert _lint_findings(f"from celery import Celery\napp = Celery('proj', {args})\n", "CEL602") == {}


def test_cel602_namespace_is_never_checked_by_celery_or_the_rule():
    keys = ["CELERY_ACKS_LATE", "task_serializer", "task_time_limit"]
    config = type("Config", (), {key: _value(key) for key in keys})
    app = Celery("agree", set_as_current=False)
    app.config_from_object(config, namespace="CELERY")
    assert _celery_verdict(app) == {}
    body = "".join(f"    {key} = {_value(key)!r}\n" for key in keys)
    code = (
        f"from celery import Celery\n\nclass Config:\n{body}\n"
        "app = Celery('proj')\napp.config_from_object(Config, namespace='CELERY')\n"
    )
    assert _lint_findings(code, "CEL602") == {}


def test_cel602_preconf_is_ignored_when_a_source_exists():
    app = Celery("agree", set_as_current=False)
    app.conf.update(CELERY_ACKS_LATE=True)
    app.config_from_object(type("Config", (), {"task_serializer": "json", "task_acks_late": True}))
    assert _celery_verdict(app) == {}
    code = (
        "from celery import Celery\n\nclass Config:\n    task_serializer = 'json'\n    task_acks_late = True\n\n"
        "app = Celery('proj')\napp.conf.update(CELERY_ACKS_LATE=True)\napp.config_from_object(Config)\n"
    )
    assert _lint_findings(code, "CEL602") == {}


def test_cel602_writes_after_the_first_read_are_not_checked():
    app = Celery("agree", set_as_current=False)
    app.conf.task_serializer = "json"
    assert _celery_verdict(app) == {}
    app.conf.CELERY_ACKS_LATE = True  # after finalization: never checked
    assert _celery_verdict(app) == {}
    code = (
        "from celery import Celery\napp = Celery('proj')\napp.conf.task_serializer = 'json'\n"
        "x = app.conf.task_serializer\napp.conf.CELERY_ACKS_LATE = True\n"
    )
    assert _lint_findings(code, "CEL602") == {}


ORDER_SNIPPETS = [
    # (module body after ``app = Celery('proj')``, every write runs unconditionally)
    ("app.conf.task_serializer = 'json'\napp.conf.CELERY_ACKS_LATE = True\n", True),
    (
        "app.conf.task_serializer = 'json'\nx = app.conf.task_serializer\napp.conf.CELERY_ACKS_LATE = True\n",
        True,
    ),
    (
        "import contextlib\nwith contextlib.nullcontext():\n    app.conf.task_serializer = 'json'\n"
        "try:\n    app.conf.CELERY_ACKS_LATE = True\nexcept KeyError:\n    pass\n"
        "finally:\n    app.conf.BROKER_URL = 'memory://'\n",
        True,
    ),
    ("app.conf.setdefault('task_serializer', 'json')\napp.conf['CELERY_ACKS_LATE'] = True\n", True),
    ("app.conf.update({'CELERY_ACKS_LATE': True}, task_serializer='json', task_acks_late=True)\n", True),
    ("app.conf.task_serializer = 'json'\nif True:\n    app.conf.CELERY_ACKS_LATE = True\n", False),
    (
        "app.conf.task_serializer = 'json'\n\ndef later():\n    app.conf.CELERY_ACKS_LATE = True\n\nlater()\n",
        False,
    ),
    ("app.conf.CELERY_ACKS_LATE = app.conf.CELERY_ACKS_LATE\napp.conf.task_serializer = 'json'\n", True),
]


@pytest.mark.parametrize(("body", "unconditional"), ORDER_SNIPPETS)
def test_cel602_import_time_order_agrees_with_celery(body, unconditional):
    code = "from celery import Celery\napp = Celery('proj', set_as_current=False)\n" + body
    namespace: dict[str, object] = {}
    try:
        exec(compile(code, "snippet", "exec"), namespace)
        app = namespace["app"]
        assert isinstance(app, Celery)
        raised = bool(_celery_verdict(app))
    except ImproperlyConfigured:
        raised = True
    fired = bool(_lint_findings(code, "CEL602"))
    if fired:
        assert raised, "CEL602 claims an error Celery does not raise"
    if unconditional:
        assert fired == raised


def _detect(keys: set[str]) -> dict[str, str]:
    try:
        detect_settings(None, dict.fromkeys(keys, 1))
    except ImproperlyConfigured as exc:
        return {m.group(1): m.group(2) for line in str(exc).splitlines() if (m := _RENAME.match(line))}
    return {}


def test_mixing_errors_matches_detect_settings_on_many_key_sets():
    rng = random.Random(1432)
    pool = [*OLD_NEW_POOL, "CELERY_IGNORE_RESULT", "task_ignore_result", "ENABLE_UTC", "something_else"]
    for _ in range(500):
        keys = set(rng.sample(pool, rng.randint(0, 9)))
        assert mixing_errors(CATALOGUE, keys, keys) == _detect(keys), sorted(keys)


def test_mixing_errors_only_claims_what_every_possibility_agrees_on():
    rng = random.Random(7)
    for _ in range(300):
        possible = set(rng.sample(OLD_NEW_POOL, rng.randint(1, 8)))
        certain = {k for k in possible if rng.random() < 0.6}
        claimed = mixing_errors(CATALOGUE, certain, possible)
        for _ in range(8):
            actual = certain | {k for k in possible - certain if rng.random() < 0.5}
            errors = _detect(actual)
            for key, rename in claimed.items():
                assert errors.get(key) == rename, (sorted(certain), sorted(actual), key)


# ------------------------------------------------------------------ names Celery reads
SENTINEL = object()

NAME_CASES = [
    "task_acks_late",
    "CELERY_ACKS_LATE",
    "CELERY_TASK_ACKS_LATE",
    "TASK_ACKS_LATE",
    "BROKER_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_SERIALIZER",
    "CELERYD_TASK_TIME_LIMIT",
    "CELERY_TASK_TIME_LIMIT",
    "CELERY_RESULT_EXPIRES",
    "CELERY_TASK_RESULT_EXPIRES",
    "CELERYD_PREFETCH_MULTIPLIER",
    "CELERY_WORKER_PREFETCH_MULTIPLIER",
    "CELERY_ENABLE_UTC",
    "ENABLE_UTC",
    "task_acks_lte",
]
# The docs' rename table names that Celery 5.7 ignores without a namespace.
DOCS_NAMES = [
    "CELERY_ENABLE_UTC",
    "CELERY_RESULT_EXPIRES",
    "CELERY_TASK_ALWAYS_EAGER",
    "CELERY_COMPRESSION",
    "CELERY_EAGER_PROPAGATES",
    "CELERY_PUBLISH_RETRY",
    "CELERY_PUBLISH_RETRY_POLICY",
    "CELERY_SEND_SENT_EVENT",
    "CELERYD_SOFT_TIME_LIMIT",
    "CELERY_TASK_TRACK_STARTED",
    "CELERY_TASK_REJECT_ON_WORKER_LOST",
    "CELERYD_TIME_LIMIT",
    "CELERY_WORKER_LOG_FORMAT",
    "CELERYD_REDIRECT_STDOUTS",
    "CELERYD_REDIRECT_STDOUTS_LEVEL",
    "CELERY_WORKER_TASK_LOG_FORMAT",
    "CELERY_RESULT_DB_TABLE_NAMES",
]


def _celery_reads(key: str, namespace: str | None) -> str | None:
    """The setting Celery gives ``key``'s value to when read from a config class."""
    app = Celery("names", set_as_current=False)
    app.config_from_object(type("Config", (), {key: SENTINEL}), namespace=namespace)
    hits = [name for name in celery_defaults.DEFAULTS if app.conf.get(name) is SENTINEL]
    assert len(hits) <= 1, hits
    return hits[0] if hits else None


@pytest.mark.parametrize("namespace", [None, "CELERY"])
@pytest.mark.parametrize("key", NAME_CASES + DOCS_NAMES)
def test_visible_setting_is_celerys_lookup(key, namespace):
    assert visible_setting(CATALOGUE, key, namespace) == _celery_reads(key, namespace)


@pytest.mark.parametrize("key", DOCS_NAMES)
def test_docs_names_are_reported_without_a_namespace(key):
    assert _celery_reads(key, None) is None  # premise: Celery ignores it
    code = f"from celery import Celery\napp = Celery('proj')\napp.conf.update({key}=1)\n"
    unknown = _lint_findings(code, "CEL601")
    mismatch = _lint_findings(code, "CEL606")
    assert len(unknown) + len(mismatch) == 1, (unknown, mismatch)
    if mismatch:
        # Only names that would work under namespace='CELERY' are namespace problems.
        assert _celery_reads(key, "CELERY") is not None


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("CELERYD_TIME_LIMIT", "CELERYD_TASK_TIME_LIMIT"),
        ("CELERYD_SOFT_TIME_LIMIT", "CELERYD_TASK_SOFT_TIME_LIMIT"),
        ("CELERY_EAGER_PROPAGATES", "CELERY_EAGER_PROPAGATES_EXCEPTIONS"),
        ("CELERY_PUBLISH_RETRY", "CELERY_TASK_PUBLISH_RETRY"),
        ("task_acks_lte", "task_acks_late"),
    ],
)
def test_hints_name_the_real_setting(key, hint):
    assert closest_setting(CATALOGUE, key, None) == hint
    assert _celery_reads(hint, None) is not None


def test_namespace_hint_uses_the_prefixed_form():
    assert closest_setting(CATALOGUE, "CELERYD_TIME_LIMIT", "CELERY") == "CELERY_TASK_TIME_LIMIT"
    assert _celery_reads("CELERY_TASK_TIME_LIMIT", "CELERY") == "task_time_limit"


@pytest.mark.parametrize(
    ("key", "namespace", "django"),
    [
        ("CELERY_TASK_ACKS_LATE", None, True),
        ("CELERY_BROKER_URL", None, False),
        ("TASK_ACKS_LATE", "CELERY", True),
        ("CELERY_TASK_ACKS_LATE", "TASKS", True),
    ],
)
def test_namespace_mismatches_are_invisible_to_celery_and_fixed_by_the_rename(key, namespace, django):
    mismatch = namespace_mismatch(CATALOGUE, key, namespace, django)
    assert mismatch is not None
    assert _celery_reads(key, namespace) is None
    assert _celery_reads(mismatch.rename, namespace) == mismatch.setting


def test_extension_settings_option_silences_cel601():
    # The extension's prefix reads like Celery's own: without the option the key looks like
    # a misspelt CELERY_TASK_TIME_LIMIT. (A key with a word of its own, such as
    # CELERY_MYAPP_TIME_LIMIT, is another name and never gets a hint.)
    settings = "CELERY_TASK_ACKS_LATE = True\nCELERY_TASKS_TIME_LIMIT = 5\n"
    celery_py = (
        "import os\nfrom celery import Celery\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
        "app = Celery('proj')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n"
    )
    assert _lint_findings(settings, "CEL601", "proj/settings.py", **{"proj/celery.py": celery_py})
    assert not _lint_findings(
        settings,
        "CEL601",
        "proj/settings.py",
        **{
            "proj/celery.py": celery_py,
            "pyproject.toml": "[tool.celery-lint]\nextension-settings = ['CELERY_TASKS_*']\n",
        },
    )


@pytest.mark.parametrize(
    ("text", "reads"),
    [
        ("from django.conf import settings\nX = settings.CELERY_X\n", True),
        ("X = getattr(settings, 'CELERY_X', 1)\n", True),
        ("X = app.config['CELERY_X']\n", True),
        ("if settings.CELERY_X:\n    pass\n", True),
        ("from proj.settings import CELERY_X\n", True),
        ("URL = f'redis://{CELERY_X}/0'\n", True),
        ("CELERY_X = 1\n", False),
        ("CELERY_X: int = 1\n", False),
        ("app.conf.CELERY_X = 1\n", False),
        ("app.conf['CELERY_X'] = 1\n", False),
        ("app.conf.update(CELERY_X=1)\n", False),
        ("app.conf.update({'CELERY_X': 1})\n", False),
        ("app.conf.setdefault('CELERY_X', 1)\n", False),
        ("# CELERY_X is ignored by Celery\n", False),
        ('"""Settings: CELERY_X is ignored."""\n', False),
        ("CELERY_X = os.environ.get('CELERY_X')\n", False),
        ("CELERY_X = os.environ['CELERY_X']\n", False),
        ("CELERY_X = os.getenv('CELERY_X', 1)\n", False),
        ("CELERY_X = env.int('CELERY_X', 1)\n", False),
        ("CELERY_X = env('CELERY_X')\n", False),
        ("CELERY_XY = 1\nprint(CELERY_XY)\n", False),
    ],
)
def test_reads_of_a_name(text, reads):
    from celery_lint.project.configuration import _reads_name

    assert _reads_name(text, "CELERY_X") is reads


# ------------------------------------------------------------------ URLs
@pytest.mark.parametrize(
    ("url", "leaked"),
    [
        ("amqp://orders:s3cret@mq.acme.io:5672//", True),
        ("redis://:hunter2@cache.acme.io:6379/0", True),
        ("redis://cache.acme.io:6379/0", False),
        ("amqp://orders@mq.acme.io//", False),
        ("amqp://guest:guest@localhost:5672//", False),
        ("redis://:${REDIS_PASSWORD}@cache.acme.io", False),
        ("amqp://user:<password>@mq.acme.io//", False),
        ("amqp://{user}:{password}@{host}//", False),
        ("redis://:%(password)s@cache.acme.io", False),
        ("amqp://user:password@mq.acme.io//", False),
        ("amqp://orders:s3cret@mq.example.com//", False),
        ("amqp://a:x1@h1.acme.io;amqp://b:y2@h2.acme.io", True),
        ("db+postgresql://celery:pw1234@db.acme.io/results", True),
    ],
)
def test_literal_password(url, leaked):
    assert any(literal_password(u) for u in parse_urls(url)) is leaked


def test_parse_url_parts():
    (url,) = parse_urls("rediss://user:pw@[::1]:6380/0?ssl_cert_reqs=required")
    assert (url.scheme, url.user, url.password, url.host) == ("rediss", "user", "pw", "::1")
    assert "ssl_cert_reqs" in url.query
    assert url.redacted() == "rediss://user:***@::1"


@pytest.mark.parametrize("host", ["change-me.invalid", "example.com", "mq.example.org", "broker.test"])
def test_placeholder_hosts(host):
    assert placeholder_host(host)
