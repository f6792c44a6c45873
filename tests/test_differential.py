"""The differential test: celery-lint's model against the real Celery.

Small projects generated from fixed seeds (tests/differential_projects.py) combine the
configuration and task forms the model claims to understand; ``celery-lint tasks
--format json`` (one CLI run over all of them: each is a project of its own) says what
every task's options are, and the real Celery and Django, importing each project in a
child process (tests/celery_oracle.py), say what they are on the live task objects. A
value the analyzer reports is either Celery's or a failure that prints the project; a
value it calls unknown is counted, and the share of known values must stay high.
``bench/differential.py`` runs the same comparison on many more seeds.

The hand-written cases below are the shapes the generator found wrong once, kept as
regressions, compared the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import DIFFERENTIAL_PROPERTY

pytest.importorskip("django")

from differential_projects import Project, Report, compare_round

SEEDS = list(range(80))
MIN_SHARE_KNOWN = 0.9


def _fail_on(report: Report) -> None:
    if report.disagreements:
        shown = "\n\n".join(str(d) for d in report.disagreements[:5])
        pytest.fail(f"{report.summary()}\n\n{shown}", pytrace=False)


def test_generated_projects_agree_with_celery(
    tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    report = compare_round(tmp_path, SEEDS)
    # Shown in the terminal summary (tests/conftest.py), from an xdist worker too.
    figures = [report.summary(), *(f"  unknown: {line.strip()}" for line in report.unknown_lines())]
    record_property(DIFFERENTIAL_PROPERTY, "\n".join(figures))
    assert report.projects == len(SEEDS)
    assert report.tasks >= 2 * len(SEEDS)
    _fail_on(report)
    assert report.share_known >= MIN_SHARE_KNOWN, report.summary() + "\n" + "\n".join(report.unknown_lines())


HEADER = "from datetime import timedelta\n"

# Shapes the differential run found the model wrong on, one project each.
CASES: dict[str, dict[str, str]] = {
    "factory_config_from_object_module_object": {
        "proj/cc.py": "task_acks_late = True\ntask_time_limit = 30\n",
        "proj/celery.py": (
            "from celery import Celery\nfrom proj import cc\n\n\ndef create_app():\n"
            "    a = Celery('proj')\n    a.config_from_object(cc)\n    return a\n\n\napp = create_app()\n"
        ),
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef work():\n    return 1\n",
    },
    "call_form_with_options": {
        "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\n",
        "proj/tasks.py": (
            "from celery import shared_task\nfrom proj.celery import app\n\n\ndef _one():\n    return 1\n\n\n"
            "def _two():\n    return 2\n\n\none = app.task(_one, time_limit=30, acks_late=True)\n"
            "two = shared_task(_two, max_retries=7)\n"
        ),
    },
    "config_class_inherits_and_instance": {
        "proj/celery.py": (
            "from celery import Celery\n\n\nclass Base:\n    task_time_limit = 30\n    task_acks_late = True\n\n\n"
            "class Config(Base):\n    task_acks_late = False\n\n\napp = Celery('proj')\n"
            "app.config_from_object(Config())\n"
        ),
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef work():\n    return 1\n",
    },
    "config_from_object_dict_literal": {
        "proj/celery.py": (
            "from celery import Celery\n\napp = Celery('proj')\n"
            "app.config_from_object({'task_serializer': 'pickle', 'task_soft_time_limit': 20})\n"
        ),
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef work():\n    return 1\n",
    },
    "annotations_list_and_wildcard_last": {
        "proj/celery.py": (
            "from celery import Celery\n\napp = Celery('proj')\napp.conf.task_time_limit = 60\n"
            "app.conf.task_annotations = [\n"
            "    {'proj.tasks.work': {'time_limit': 5, 'max_retries': 1}, '*': {'time_limit': 9}},\n"
            "    {'proj.tasks.work': {'acks_late': True}, '*': {'max_retries': 2}},\n"
            "    {'*': {'time_limit': None, 'queue': 'low'}},\n"
            "]\n"
        ),
        "proj/tasks.py": (
            "from proj.celery import app\n\n\n@app.task(time_limit=3)\ndef work():\n    return 1\n\n\n"
            "@app.task(time_limit=3)\ndef other():\n    return 1\n"
        ),
    },
    "annotation_none": {
        "proj/celery.py": (
            "from celery import Celery\n\napp = Celery('proj', task_acks_late=True)\n"
            "app.conf.task_annotations = {'*': {'max_retries': None, 'time_limit': None}}\n"
        ),
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task(time_limit=9)\ndef work():\n    return 1\n",
    },
    "setdefault_keeps_either_name": {
        "proj/celery.py": (
            "from celery import Celery\n\napp = Celery('proj', task_annotations={'*': {'max_retries': 1}})\n"
            "app.conf.setdefault('CELERY_ANNOTATIONS', {'*': {'max_retries': 2}})\n"
            "app.conf.update(task_time_limit=5)\napp.conf.setdefault('task_time_limit', 9)\n"
            "app.conf.setdefault('task_soft_time_limit', 4)\n"
        ),
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef work():\n    return 1\n",
    },
    "celery_changes_before_keywords_and_none_keywords": {
        "proj/celery.py": (
            "from celery import Celery\n\n"
            "app = Celery('proj', task_soft_time_limit=240, task_acks_late=None,\n"
            "             changes={'CELERYD_TASK_SOFT_TIME_LIMIT': 20, 'CELERY_ACKS_LATE': True})\n"
        ),
        "proj/tasks.py": "from proj.celery import app\n\n\n@app.task\ndef work():\n    return 1\n",
    },
    "task_cls_only_through_app_task": {
        "proj/base.py": "from celery import Task\n\n\nclass Base(Task):\n    max_retries = None\n    time_limit = 8\n",
        "proj/celery.py": "from celery import Celery\nfrom proj.base import Base\n\napp = Celery('proj', task_cls=Base)\n",
        "proj/tasks.py": (
            "from celery import Task\nfrom proj.celery import app\n\n\n"
            "class Plain(Task):\n    name = 'proj.tasks.Plain'\n\n    def run(self):\n        return 1\n\n\n"
            "class OfApp(app.Task):\n    name = 'proj.tasks.OfApp'\n\n    def run(self):\n        return 1\n\n\n"
            "app.register_task(Plain())\napp.register_task(OfApp())\n\n\n"
            "@app.task(base=Task)\ndef plain_base():\n    return 1\n\n\n@app.task\ndef default_base():\n    return 1\n"
        ),
    },
    "applied_wrapper_alias": {
        "proj/celery.py": "from celery import Celery\n\napp = Celery('proj')\n",
        "proj/wrappers.py": (
            "from celery import shared_task\n\n\ndef limited(**options):\n"
            "    options.setdefault('time_limit', 30)\n    return shared_task(acks_late=True, **options)\n"
        ),
        "proj/tasks.py": (
            "from proj.wrappers import limited\n\nlow = limited(queue='low', max_retries=1)\n\n\n"
            "@low\ndef work():\n    return 1\n"
        ),
    },
    "shared_task_of_two_apps_annotated_by_one": {
        "proj/celery.py": (
            "from celery import Celery\n\napp = Celery('proj', task_time_limit=30)\n"
            "app.conf.task_annotations = {'proj.tasks.declared': {'max_retries': 1}}\n"
        ),
        "proj/other_app.py": "from celery import Celery\n\nother = Celery('other', task_time_limit=30)\n",
        "proj/tasks.py": (
            "from celery import shared_task\nfrom proj.celery import app\nfrom proj.other_app import other\n\n\n"
            "@shared_task(acks_late=True)\ndef shared():\n    return 1\n\n\n"
            "@app.task\ndef declared():\n    return 1\n"
        ),
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_regression_case_agrees_with_celery(tmp_path: Path, case: str) -> None:
    files = {"pyproject.toml": "", "proj/__init__.py": "", **CASES[case]}
    modules = sorted(
        "proj." + path[len("proj/") : -len(".py")]
        for path in files
        if path.startswith("proj/") and path != "proj/__init__.py"
    )
    others = [("proj.other_app", "other")] if "proj/other_app.py" in files else []
    project = Project(seed=-1, files=files, task_modules=modules, other_apps=others)
    report = compare_round(tmp_path, [], extra=[project])
    assert report.tasks >= 1
    _fail_on(report)
    assert report.unknown == 0, report.unknown_lines()


def test_generator_old_names_are_celerys() -> None:
    from celery.app.defaults import _TO_OLD_KEY
    from differential_projects import OLD_NAMES

    assert {setting: _TO_OLD_KEY[setting] for setting in OLD_NAMES} == OLD_NAMES
