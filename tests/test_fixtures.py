"""The sample projects under ``fixtures/``, checked with the real command line.

A line that should get findings ends with a comment naming their codes::

    def purge_abandoned_carts():  # expect: CEL201, CEL205

Task findings sit on the ``def``/``class`` line, option findings on the keyword
argument's line, configuration findings on the setting's line and body findings on
the offending statement. The expectations follow what Celery really does with the
project; ``test_configuration_matches_celery`` checks the settings the fixtures'
comments rely on against the installed Celery.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# The tests that run the tools run them on a copy (``fixtures_copy``), never in the repository.
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# Every folder with a pyproject.toml, named by its path under fixtures/: the sample
# projects (``django_shop``) and one project per rule family (``families/limits``), and
# every folder of fixtures/shapes/ (one project per real-world shape; S11 has no marker).
# Sample projects to lint; fixtures/example_pack is a rule pack (tested in test_rule_packs.py).
NOT_LINT_FIXTURES = {"example_pack"}
PROJECTS = sorted(
    {
        config.parent.relative_to(FIXTURES).as_posix()
        for pattern in ("*/pyproject.toml", "families/*/pyproject.toml")
        for config in FIXTURES.glob(pattern)
        if config.parent.name not in NOT_LINT_FIXTURES
    }
    | {
        folder.relative_to(FIXTURES).as_posix()
        for folder in (FIXTURES / "shapes").iterdir()
        if folder.is_dir() and not folder.name.startswith((".", "_"))
    }
)
MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")


def has_own_marker(name: str) -> bool:
    """Whether fixture project ``name`` marks its own root (S11's does not)."""
    return any((FIXTURES / name / marker).exists() for marker in MARKERS)


def project_copy(name: str, request: pytest.FixtureRequest) -> Path:
    """Where the tools run on fixture project ``name``: in ``fixtures_copy`` (beside the
    repository's pyproject.toml), or, for a project with no marker of its own, in
    ``unmarked_fixtures_copy``, where no marker above it claims it."""
    fixture = "fixtures_copy" if has_own_marker(name) else "unmarked_fixtures_copy"
    copy: Path = request.getfixturevalue(fixture)
    return copy / name


# The codes each project under fixtures/families/ exists to show: every one of them
# fires there at least once, and no other code does.
FAMILIES = {
    "families/limits": {f"CEL20{n}" for n in range(1, 10)},
    "families/retries": {f"CEL30{n}" for n in range(1, 6)},
    "families/results": {f"CEL40{n}" for n in range(1, 5)} | {f"CEL50{n}" for n in range(1, 5)},
    "families/configuration": {f"CEL10{n}" for n in range(1, 6)} | {f"CEL60{n}" for n in range(1, 7)},
    "families/canvas_and_beat": {f"CEL7{n:02}" for n in range(1, 15)},
}

EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)\s*$")
LOOSE_EXPECT = re.compile(r"#.*\bexpects?\b\s*:", re.IGNORECASE)

Finding = tuple[str, int, str]


def python_files(project: Path) -> list[Path]:
    return sorted(p for p in project.rglob("*.py") if "__pycache__" not in p.parts)


def expected_in(project: Path, path: Path) -> set[Finding]:
    relpath = path.relative_to(project).as_posix()
    found: set[Finding] = set()
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        match = EXPECT.search(line)
        if match:
            found.update((relpath, number, code.strip()) for code in match["codes"].split(","))
    return found


def expected_findings(project: Path) -> set[Finding]:
    found: set[Finding] = set()
    for path in python_files(project):
        found |= expected_in(project, path)
    return found


def run_cli(project: Path, *paths: str) -> tuple[int, set[Finding], dict[str, object]]:
    """Run ``python -m celery_lint --format json`` in the project folder."""
    completed = subprocess.run(
        [sys.executable, "-m", "celery_lint", "--format", "json", *paths],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode in (0, 1), completed.stderr
    payload = json.loads(completed.stdout)
    findings = {(Path(f["path"]).as_posix(), f["line"], f["code"]) for f in payload["findings"]}
    return completed.returncode, findings, payload["summary"]


def describe(expected: set[Finding], got: set[Finding]) -> str:
    lines = [f"missing:    {path}:{line}: {code}" for path, line, code in sorted(expected - got)]
    lines += [f"unexpected: {path}:{line}: {code}" for path, line, code in sorted(got - expected)]
    return "\n".join(lines)


@pytest.mark.parametrize("name", PROJECTS)
def test_expectation_comments_are_well_formed(name: str) -> None:
    project = FIXTURES / name
    problems = []
    for path in python_files(project):
        relpath = path.relative_to(project).as_posix()
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if LOOSE_EXPECT.search(line) and not EXPECT.search(line):
                problems.append(f"{relpath}:{number}: unreadable expectation: {line.strip()}")
            if EXPECT.search(line) and "noqa" in line.lower():
                # flake8's noqa regex would read the expected codes as suppressions.
                problems.append(f"{relpath}:{number}: noqa and expect on one line")
    assert not problems, "\n".join(problems)
    assert expected_findings(project), f"{name} has no expectations"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_project_shows_every_rule_of_its_family(name: str) -> None:
    """Each family project expects every code of its family, and only those."""
    assert name in PROJECTS, f"fixtures/{name} is missing"
    expected = {code for _, _, code in expected_findings(FIXTURES / name)}
    assert expected == FAMILIES[name], (
        f"never expected: {sorted(FAMILIES[name] - expected)}; "
        f"outside the family: {sorted(expected - FAMILIES[name])}"
    )


def test_every_family_project_is_listed() -> None:
    assert {name for name in PROJECTS if name.startswith("families/")} == set(FAMILIES)


@pytest.mark.parametrize("name", PROJECTS)
def test_whole_project(name: str, request: pytest.FixtureRequest) -> None:
    project = project_copy(name, request)
    code, got, summary = run_cli(project, ".")
    expected = expected_findings(project)
    assert got == expected, describe(expected, got)
    assert summary["errors"] == []
    assert code == 1


@pytest.mark.parametrize("name", PROJECTS)
def test_from_the_repository_root(name: str, request: pytest.FixtureRequest) -> None:
    """``celery-lint fixtures/django_shop`` (the README demo) uses the fixture's own root
    (a project without a marker, the current directory: the same findings)."""
    project = project_copy(name, request)
    code, got, _ = run_cli(project.parents[len(Path(name).parts)], f"fixtures/{name}")
    prefix = f"fixtures/{name}/"
    assert all(path.startswith(prefix) for path, _, _ in got)
    stripped = {(path[len(prefix) :], line, rule) for path, line, rule in got}
    expected = expected_findings(project)
    assert stripped == expected, describe(expected, stripped)
    assert code == 1


# What each fixture's comments say Celery makes of its configuration. The settings are
# loaded by the installed Celery exactly as the project loads them (Django settings are
# given as the settings module, which is what ``django.conf:settings`` reads from; the
# family projects keep only its uppercase names, as Django does). A project with several
# Celery apps has one entry per app; each setup binds ``app``. A fact is a setting name
# (read from ``app.conf``) or a Python expression; ``{"raises": "Name"}`` says that
# reading the configuration raises that exception.
# django-split-settings is not installed with the tests: a stand-in with its semantics.
# include() runs each file a pattern matches (relative to the file that calls it) in the
# caller's namespace, each file once; a pattern that matches nothing is an error unless
# optional() marks it. (glob lists a folder in the file system's order; sorted here.)
SPLIT_SETTINGS_STAND_IN = """
import glob, os, sys, types

class _Optional(str):
    pass

def _include(*patterns, scope=None):
    scope = scope if scope is not None else sys._getframe(1).f_globals
    done = scope.setdefault("__included_files__", [])
    here = scope.get("__included_file__", scope["__file__"])
    for pattern in patterns:
        found = sorted(glob.glob(os.path.join(os.path.dirname(here), pattern)))
        if not found and not isinstance(pattern, _Optional):
            raise OSError(pattern)
        for path in found:
            if path not in done:
                done.append(path)
                scope["__included_file__"] = path
                with open(path) as handle:
                    exec(compile(handle.read(), path, "exec"), scope)
                scope["__included_file__"] = here

split_settings = types.ModuleType("split_settings")
split_settings.tools = types.ModuleType("split_settings.tools")
split_settings.tools.include, split_settings.tools.optional = _include, _Optional
sys.modules.update({"split_settings": split_settings, "split_settings.tools": split_settings.tools})
"""


CELERY_FACTS: dict[str, list[tuple[str, dict[str, object]]]] = {
    "django_shop": [
        (
            """
            import os
            os.environ["DJANGO_SECRET_KEY"] = "test"
            from celery import Celery
            from shop.settings import production
            app = Celery("shop", set_as_current=False)
            app.config_from_object(production, namespace="CELERY")
            """,
            {
                "task_time_limit": None,
                "task_soft_time_limit": 50,
                "task_acks_late": False,
                "task_ignore_result": False,
                "result_backend": "redis://redis:6379/1",
                "accept_content": ["json", "pickle"],
                "task_serializer": "json",
            },
        ),
    ],
    "plain_celery": [
        (
            """
            from proj.celery import app
            """,
            {
                "task_time_limit": None,  # CELERYD_TIME_LIMIT is not a Celery setting
                "task_soft_time_limit": None,
                "task_acks_late": True,
                "task_ignore_result": False,
                "result_backend": "redis://localhost:6379/1",
                "accept_content": ["json", "pickle"],
                "task_serializer": "json",
                "result_serializer": "pickle",
            },
        ),
    ],
    "broken_module": [
        (
            """
            from jobs.celery import app
            """,
            {
                "task_time_limit": 600,  # CELERYD_TASK_TIME_LIMIT is
                "task_soft_time_limit": 540,
                "task_acks_late": True,
                "result_backend": None,
                "accept_content": ["json"],
            },
        ),
    ],
    "families/limits": [
        (
            """
            from types import SimpleNamespace
            from celery import Celery
            from mediahub import settings as module
            settings = SimpleNamespace(**{k: getattr(module, k) for k in dir(module) if k.isupper()})
            app = Celery("mediahub", set_as_current=False)
            app.config_from_object(settings, namespace="CELERY")
            """,
            {
                "broker_url": "redis://redis:6379/0",
                "broker_transport_options": {},  # kombu's one-hour visibility timeout
                "broker_connection_retry_on_startup": True,
                "task_time_limit": 300,
                "task_soft_time_limit": 240,
                "task_acks_late": True,
                "task_reject_on_worker_lost": None,
                "worker_prefetch_multiplier": 4,
                "result_backend": None,
            },
        ),
        (
            """
            from transcoder.worker import app
            import transcoder.jobs
            """,
            {
                "broker_url": "redis://redis:6379/2",
                "broker_transport_options": {"visibility_timeout": 21600},
                "broker_connection_retry_on_startup": True,
                "task_time_limit": None,
                "task_soft_time_limit": None,
                "task_acks_late": False,
                "worker_prefetch_multiplier": 1,
                "result_backend": None,
                'app.tasks["transcoder.jobs.transcode"].time_limit': 7200,
                'app.tasks["transcoder.jobs.transcode"].acks_late': True,
                'app.tasks["transcoder.jobs.transcode"].reject_on_worker_lost': True,
                'app.tasks["transcoder.jobs.probe"].time_limit': None,
                'app.tasks["transcoder.jobs.probe"].acks_late': False,
            },
        ),
    ],
    "families/retries": [
        (
            """
            import sys, types
            # requests is not needed to build the tasks, only its exception classes.
            requests = types.ModuleType("requests")
            requests.ConnectionError, requests.Timeout = ConnectionError, TimeoutError
            requests.RequestException = OSError
            sys.modules["requests"] = requests
            from hookshot.celery import app
            import hookshot.crm, hookshot.deliveries
            """,
            {
                "task_time_limit": 120,
                "task_acks_late": True,
                "result_backend": None,
                "task_annotations": {"hookshot.crm.push_contact": {"retry_backoff": True}},
                'app.tasks["hookshot.deliveries.replay"].max_retries': 5,  # from task_cls
                'app.tasks["hookshot.deliveries.deliver_receipt"].default_retry_delay': 30,
                'app.tasks["hookshot.crm.push_contact"].retry_backoff': True,  # annotated
                'getattr(app.tasks["hookshot.crm.push_deal"], "retry_backoff", False)': False,
                'app.tasks["hookshot.crm.push_company"].max_retries': 5,
                'app.tasks["hookshot.crm.sync_all_contacts"].max_retries': None,
            },
        ),
    ],
    "families/results": [
        (
            """
            from types import SimpleNamespace
            from celery import Celery
            from bookshop.settings import production
            settings = SimpleNamespace(**{k: getattr(production, k) for k in dir(production) if k.isupper()})
            app = Celery("bookshop", set_as_current=False)
            app.config_from_object(settings, namespace="CELERY")
            app.conf.update(result_extended=True)
            """,
            {
                "result_backend": "redis://redis:6379/1",
                "result_expires": None,  # production.py overrides base.py's 3600
                "result_extended": True,
                "task_ignore_result": False,
                "task_time_limit": 300,
                "task_soft_time_limit": 270,
                "task_acks_late": True,
                "broker_connection_retry_on_startup": True,
            },
        ),
    ],
    "families/configuration": [
        (
            """
            import os
            from types import SimpleNamespace
            from celery import Celery
            os.environ["DJANGO_SECRET_KEY"] = "test"
            os.environ["CELERY_BROKER_URL"] = "amqps://mq.newsroom.io:5671/newsroom"
            from newsroom.settings import production
            settings = SimpleNamespace(**{k: getattr(production, k) for k in dir(production) if k.isupper()})
            app = Celery("newsroom", set_as_current=False)
            app.config_from_object(settings, namespace="CELERY")
            """,
            {
                "task_serializer": "json",
                "accept_content": ["json"],
                "result_serializer": "pickle",
                "result_accept_content": ["json", "pickle"],
                "result_backend": "redis://cache.newsroom.io:6379/1",
                "worker_prefetch_multiplier": 1,  # the old name is still read
                "worker_max_tasks_per_child": None,  # the misspelt name is not
                "worker_send_task_events": False,  # nor the lowercase one
                "task_always_eager": True,
                "broker_connection_retry_on_startup": True,
            },
        ),
        (
            """
            from ingest.worker import app
            """,
            {"raises": "ImproperlyConfigured"},  # CELERY_ACKS_LATE among new names
        ),
    ],
    "families/canvas_and_beat": [
        (
            """
            from fleet.celery import app
            """,
            {"raises": "ValueError"},  # crontab(day_of_week=7) in fleet/celeryconfig.py
        ),
    ],
    "shapes/s01_factory_app": [
        (
            """
            from proj.worker import app
            import proj.jobs
            """,
            {
                "task_default_queue": "proj",
                "broker_connection_retry_on_startup": None,
                "task_time_limit": None,
                "task_soft_time_limit": None,
                "task_acks_late": False,
                'app.tasks["proj.jobs.refresh"].time_limit': None,
                'app.tasks["proj.jobs.refresh"].acks_late': False,
                'app.tasks["proj.jobs.refresh_all"].time_limit': 60,
            },
        ),
    ],
    "shapes/s01_extension_holder": [
        (
            """
            import sys, types
            # A stand-in for Flask: the extension reads import_name and extensions only.
            flask = types.ModuleType("flask")
            class Flask:
                def __init__(self, import_name):
                    self.import_name, self.extensions = import_name, {}
            flask.Flask = Flask
            sys.modules["flask"] = flask
            from webapp import celery as app
            import webapp.tasks
            """,
            {
                "broker_connection_retry_on_startup": None,
                "task_time_limit": 300,
                "task_soft_time_limit": None,
                "task_acks_late": True,
                'app.tasks["webapp.tasks.rebuild_index"].time_limit': 300,
                'app.tasks["webapp.tasks.rebuild_index"].soft_time_limit': None,
                'app.tasks["webapp.tasks.purge"].soft_time_limit': 240,
            },
        ),
    ],
    # billing/local_settings.py and reports/override_settings.py are absent on purpose.
    "shapes/s02_unseen_configuration": [
        (
            """
            from billing.celery import app
            """,
            {
                "task_time_limit": None,
                "task_soft_time_limit": None,
                "task_acks_late": True,
                "result_backend": "redis://redis:6379/1",
                "broker_connection_retry_on_startup": None,
            },
        ),
        (
            """
            from reports.celery import app
            """,
            {
                "task_time_limit": 600,
                "task_soft_time_limit": None,
                "task_acks_late": False,
                "broker_connection_retry_on_startup": True,
            },
        ),
        (
            """
            from catalog.celery import app
            import catalog.tasks
            """,
            {
                "task_time_limit": None,
                "task_acks_late": True,
                'app.tasks["catalog.tasks.refresh"].acks_late': True,
                'app.tasks["catalog.tasks.refresh"].soft_time_limit': None,
            },
        ),
    ],
    # The deployment file of ingest/worker.py: empty here, what deployment-settings states there.
    "shapes/s02_runtime_mapping": [
        (
            """
            import os, tempfile
            handle, path = tempfile.mkstemp(suffix=".json")
            os.write(handle, b"{}")
            os.close(handle)
            os.environ["INGEST_CELERY_CONFIG"] = path
            from ingest.worker import app
            """,
            {"task_time_limit": None, "task_soft_time_limit": 120, "task_acks_late": False},
        ),
    ],
    "shapes/s02_deployment_settings": [
        (
            """
            import os, tempfile
            handle, path = tempfile.mkstemp(suffix=".json")
            os.write(handle, b'{"task_time_limit": 300, "task_acks_late": true}')
            os.close(handle)
            os.environ["INGEST_CELERY_CONFIG"] = path
            from ingest.worker import app
            import ingest.jobs
            """,
            {
                "task_time_limit": 300,
                "task_soft_time_limit": 120,
                "task_acks_late": True,
                "ingest.jobs.pull_all.soft_time_limit": 400,
            },
        ),
    ],
    # S5: self.conf writes of the app's Celery subclass (a subclass of a subclass).
    "shapes/s05_self_conf": [
        (
            """
            from proj.celery import app
            import proj.tasks
            """,
            {
                "task_acks_late": True,
                "task_time_limit": 300,
                "task_soft_time_limit": 250,
                "task_serializer": "json",
                "broker_connection_retry_on_startup": True,
                'app.tasks["proj.tasks.refresh"].acks_late': True,
                'app.tasks["proj.tasks.refresh"].time_limit': 300,
            },
        ),
    ],
    # S6: task factories that are methods of the app's Celery subclass.
    "shapes/s06_app_method_factory": [
        (
            """
            from proj.celery import app
            import proj.jobs
            """,
            {
                'app.tasks["cleanup"].ignore_result': True,
                'app.tasks["cleanup"].acks_late': True,
                'app.tasks["cleanup"].time_limit': None,
                'hasattr(app.tasks["cleanup"], "every")': False,
                'app.tasks["rotate"].time_limit': 30,
                'app.tasks["rotate"].soft_time_limit': 20,
                'app.tasks["sweep"].acks_late': False,
                'app.tasks["sweep"].ignore_result': True,
                'app.tasks["proj.jobs.crunch"].time_limit': 120,
                'app.tasks["proj.jobs.crunch"].acks_late': True,
                '"opaque" in app.tasks': True,
            },
        ),
    ],
    # S12: options from **dict splats of literal dicts, across modules and nested.
    "shapes/s12_dict_splats": [
        (
            """
            from proj.celery import app
            import proj.tasks
            """,
            {
                'app.tasks["proj.tasks.reindex"].time_limit': 60,
                'app.tasks["proj.tasks.reindex"].soft_time_limit': 50,
                'app.tasks["proj.tasks.reindex"].max_retries': 4,
                'app.tasks["proj.tasks.reindex"].retry_backoff': True,
                'app.tasks["proj.tasks.reindex"].acks_late': False,
                'app.tasks["proj.tasks.archive"].acks_late': True,
                'app.tasks["proj.tasks.archive"].time_limit': 60,
                'app.tasks["proj.tasks.purge"].time_limit': 30,
                'app.tasks["proj.tasks.purge"].acks_late': True,
                'app.tasks["proj.tasks.purge"].ignore_result': True,
                'app.tasks["proj.tasks.retried"].time_limit': None,
                'app.tasks["proj.tasks.retried"].max_retries': 4,
            },
        ),
    ],
    "shapes/s10_wizard_setup": [
        (
            """
            from shop.celery import app
            import shop.views.jobs, shop.views.setup
            import scripts.maintenance
            """,
            {
                "task_time_limit": 300,
                "task_soft_time_limit": 240,
                "task_acks_late": False,
                'app.tasks["shop.views.jobs.seed_catalog"].acks_late': False,
                'app.tasks["shop.views.jobs.send_welcome"].acks_late': True,
                'app.tasks["shop.views.jobs.import_products"].time_limit': 600,
                'app.tasks["scripts.maintenance.rebuild_search_index"].acks_late': False,
                # The wizard's setup() is a view, not setuptools' setup().
                "shop.views.setup.setup.__module__": "shop.views.setup",
            },
        ),
    ],
    "shapes/s11_no_marker": [
        (
            """
            from shop.celery import app
            import shop.jobs
            """,
            {
                "task_time_limit": None,
                "task_soft_time_limit": None,
                "task_acks_late": True,
                'app.tasks["shop.jobs.export_orders"].acks_late': True,
                'app.tasks["shop.jobs.export_orders"].time_limit': None,
                'app.tasks["shop.jobs.export_customers"].time_limit': 60,
            },
        ),
    ],
    # S13: smaller rule gaps: undeclared settings Celery reads, the eager fallback, hooks
    # of the base class, an explicit ignore_result=False.
    "shapes/s13_rule_gaps": [
        (
            """
            from shop.celery import app
            import shop.tasks
            from celery.backends.base import BaseBackend
            """,
            {
                "broker_url": None,
                "task_always_eager": True,  # only because no broker is configured here
                "task_ignore_result": True,
                "BaseBackend(app).thread_safe": True,
                'app.conf.get("gcs_threadpool_maxsize")': 4,
                'app.conf.get("CELERY_DB_REUSE_MAX")': 10,
                "worker_concurrency": None,  # CELERY_WORKER_CONCURRENCY_MAX is another name
                'app.tasks["shop.tasks.audit"].ignore_result': False,
                'app.tasks["shop.tasks.sync"].max_retries': None,
                '[c.__name__ for c in type(app.tasks["shop.tasks.sync"]).__mro__[:3]]': [
                    "sync",
                    "Audited",
                    "Task",
                ],
            },
        ),
    ],
    # S7: shared tasks in a tree with several apps: each worker imports its own modules
    # (import_default_modules: include, imports and autodiscover_tasks, as the worker does).
    "shapes/s07_shared_task_apps": [
        (
            """
            from billing.celery import app
            app.loader.import_default_modules()
            """,
            {
                "task_acks_late": True,
                'app.tasks["billing.jobs.charge"].acks_late': True,
                '"reports.tasks.build" in app.tasks': False,
            },
        ),
        (
            """
            from reports.celery import app
            app.loader.import_default_modules()
            """,
            {
                "task_acks_late": False,
                'app.tasks["reports.tasks.build"].acks_late': False,
                'app.tasks["reports.exports.archive"].acks_late': False,
                'app.tasks["reports.exports.export"].acks_late': True,
                '"billing.jobs.charge" in app.tasks': False,
            },
        ),
        (
            """
            from celery import current_app as app
            app.loader.import_default_modules()
            """,
            {
                "task_acks_late": True,
                "task_time_limit": 30,
                "app.main": "default",
                'app.tasks["legacy.tasks.sweep"].acks_late': True,
                '"reports.tasks.build" in app.tasks': False,
            },
        ),
    ],
    # S8: a top-level celery/ package in the tree; the worker imports the installed Celery
    # (the vendored copy stands in for it), and proj/celery.py is the project's own module.
    "shapes/s08_local_celery_package": [
        (
            """
            import sys
            here = sys.path.pop(0)
            import celery
            sys.path.insert(0, here)
            from proj.celery import app
            import proj.tasks
            """,
            {
                "task_time_limit": 60,
                "task_soft_time_limit": 50,
                "task_acks_late": False,
                'app.tasks["proj.tasks.refresh"].acks_late': False,
                'app.tasks["proj.tasks.rebuild"].acks_late': True,
                'app.tasks["proj.tasks.rebuild"].serializer': "pickle",
            },
        ),
    ],
    # S9: configuration modules nothing in the repository names, loaded at deploy time.
    "shapes/s09_config_by_content": [
        (
            """
            import os
            from celery import Celery
            os.environ["CELERY_CONFIG_MODULE"] = "proj.worker_conf"
            app = Celery("proj", set_as_current=False)
            app.config_from_envvar("CELERY_CONFIG_MODULE")
            """,
            {"result_serializer": "pickle", "task_serializer": "json", "accept_content": ["json"]},
        ),
        (
            """
            import runpy
            from types import SimpleNamespace
            from celery import Celery
            overlay = runpy.run_path("deploy/overlay.py")
            settings = SimpleNamespace(**{k: v for k, v in overlay.items() if k.isupper()})
            app = Celery("proj", set_as_current=False)
            app.config_from_object(settings, namespace="CELERY")
            """,
            {"accept_content": ["pickle", "json"], "task_serializer": "json"},
        ),
    ],
    # S3: django-split-settings include() (a glob, an optional file absent, a file name that
    # is not importable, an override after the includes); reports/ picks its environment
    # file at run time, so its settings differ by environment (the analyzer says unknown).
    "shapes/s03_split_settings": [
        (
            SPLIT_SETTINGS_STAND_IN
            + textwrap.dedent(
                """
            from portal.celery import app
            import portal.tasks
            """
            ),
            {
                "task_time_limit": 300,
                "task_soft_time_limit": 240,
                "task_acks_late": True,
                "task_reject_on_worker_lost": True,
                "result_backend": "redis://redis:6379/1",
                "result_expires": 86400,
                "accept_content": ["json", "pickle"],
                "task_serializer": "json",
                "worker_prefetch_multiplier": 1,
                "broker_connection_retry_on_startup": True,
                'app.tasks["portal.tasks.render"].time_limit': 200,
                'app.tasks["portal.tasks.legacy"].serializer': "pickle",
            },
        ),
        (
            SPLIT_SETTINGS_STAND_IN
            + textwrap.dedent(
                """
            from reports.celery import app
            """
            ),
            {"task_time_limit": 900, "task_soft_time_limit": 840, "task_acks_late": True},
        ),
        (
            SPLIT_SETTINGS_STAND_IN
            + textwrap.dedent(
                """
            import os
            os.environ["REPORTS_ENVIRONMENT"] = "staging"
            from reports.celery import app
            """
            ),
            {"task_time_limit": None, "task_soft_time_limit": None, "task_acks_late": True},
        ),
    ],
    # S4: settings exported from a settings class at import time: a classmethod that
    # setattrs the uppercase attributes along the bases (two other modules) onto the module;
    # globals().update() of a class's own attributes, a filtered comprehension, keywords; a
    # mapping only the running process has.
    "shapes/s04_settings_class": [
        (
            """
            from intranet.celery import app
            import intranet.tasks
            """,
            {
                "task_time_limit": 300,
                "task_soft_time_limit": 240,  # ReliableTasks comes first in SiteSettings' MRO
                "task_acks_late": True,
                "task_reject_on_worker_lost": True,
                "accept_content": ["json", "pickle"],
                "task_serializer": "json",
                "broker_connection_retry_on_startup": True,
                'app.tasks["intranet.tasks.render"].time_limit': 200,
            },
        ),
        (
            """
            from archive.celery import app
            import archive.tasks
            from django.conf import settings
            """,
            {
                "task_time_limit": 600,
                "task_soft_time_limit": 540,
                "task_acks_late": True,
                "task_serializer": "json",
                "result_expires": 3600,
                "broker_connection_retry_on_startup": True,
                'hasattr(settings, "helper_value")': False,  # Django keeps uppercase names only
            },
        ),
        (
            """
            import os
            os.environ["LEDGER_SETTINGS"] = '{"CELERY_TASK_TIME_LIMIT": 30}'
            from ledger.celery import app
            """,
            {"task_time_limit": 30, "task_acks_late": False},
        ),
    ],
    # S14: Celery[T] and Task[P, R] parametrised (Celery 5.5+): each is still its class.
    "shapes/s14_generic_classes": [
        (
            """
            from ledger.base import app, audit, reports
            import ledger.tasks
            """,
            {
                # task_cls=LedgerTask: the app's Task class derives from it.
                '[c.__name__ for c in type(app.tasks["ledger.tasks.post_entry"]).__mro__[:3]]': [
                    "post_entry",
                    "Task",
                    "LedgerTask",
                ],
                'app.tasks["ledger.tasks.post_entry"].acks_late': True,
                'app.tasks["ledger.tasks.post_entry"].time_limit': 120,
                'reports.tasks["ledger.tasks.monthly_report"].max_retries': 8,
                'reports.tasks["ledger.tasks.monthly_report"].soft_time_limit': 30,
                'app.tasks["ledger.rebuild"].soft_time_limit': 100,
                "type(audit).__name__": "LedgerCelery",
                "audit.conf.task_default_queue": "ledger",
            },
        ),
    ],
}


def _fact_cases() -> list[object]:
    return [
        pytest.param(name, setup, facts, id=f"{name}-{index}")
        for name, cases in sorted(CELERY_FACTS.items())
        for index, (setup, facts) in enumerate(cases)
    ]


@pytest.mark.parametrize(("name", "setup", "facts"), _fact_cases())
def test_configuration_matches_celery(
    name: str, setup: str, facts: dict[str, object], fixtures_copy: Path
) -> None:
    script = textwrap.dedent(setup) + textwrap.dedent(
        f"""
        import json
        try:
            values = {{
                key: app.conf[key] if key.isidentifier() else eval(key) for key in {sorted(facts)!r}
            }}
        except Exception as exc:
            values = {{"raises": type(exc).__name__}}
        print(json.dumps(values))
        """
    )
    completed = subprocess.run(
        [sys.executable, "-B", "-c", script],
        cwd=fixtures_copy / name,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == facts


def test_every_fixture_is_covered() -> None:
    assert set(CELERY_FACTS) == set(PROJECTS)
