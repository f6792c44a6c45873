"""Every way a project configures Celery must reach the task rules (CEL201, CEL205).

Each case is a small multi-file project. A setting given through the form under test
silences the rule; the same project without it makes the rule fire on the task.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from celery_lint.project.model import ProjectModel
from celery_lint.project.values import Known, Unknown
from celery_lint.testing import lint_source

TIME = "CEL201"
ACKS = "CEL205"
BOTH = (TIME, ACKS)

TASKS_PATH = "orders/tasks.py"
TASKS = "from celery import shared_task\n\n\n@shared_task\ndef charge(order_id):\n    return order_id\n"
TASK_LINE = 5

APP_TASKS = "from proj.celery import app\n\n\n@app.task\ndef charge(order_id):\n    return order_id\n"

PROJ_INIT = "from .celery import app as celery_app\n\n__all__ = ('celery_app',)\n"


def celery_py(body: str, ctor: str = "Celery('proj')", imports: str = "") -> str:
    return f"import os\nfrom celery import Celery\n{imports}\napp = {ctor}\n{body}"


def project(celery: str, tasks: str = TASKS, **extra: str) -> dict[str, str]:
    """proj/celery.py, orders/tasks.py, plus ``extra`` modules (``proj__base`` is proj/base.py,
    ``proj__settings__init`` is proj/settings/__init__.py)."""
    files = {
        "proj/__init__.py": PROJ_INIT,
        "proj/celery.py": celery,
        "orders/__init__.py": "",
        TASKS_PATH: tasks,
    }
    for name, text in extra.items():
        parts = ["__init__" if part == "init" else part for part in name.split("__")]
        files["/".join(parts) + ".py"] = text
    return files


def lint_project(files: dict[str, str], target: str = TASKS_PATH, select=BOTH):
    others = {name: text for name, text in files.items() if name != target}
    return lint_source(files[target], target, others, select=None if select is None else list(select))


def fired(files: dict[str, str], target: str = TASKS_PATH, select=BOTH) -> dict[str, list[int]]:
    """Codes found in ``target`` and the lines they are on."""
    found: dict[str, list[int]] = {}
    for violation in lint_project(files, target, select):
        found.setdefault(violation.code, []).append(violation.line)
    return found


def write_project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'case'\n", "utf-8")
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    return root


def model_of(root: Path) -> ProjectModel:
    model = ProjectModel(root)
    model.build()
    return model


def task_named(model: ProjectModel, function: str):
    matches = [t for t in model.tasks if t.function_name == function]
    assert len(matches) == 1, f"expected one task {function!r}, found {matches}"
    return matches[0]


DJANGO_CELERY = celery_py(
    "app.config_from_object('django.conf:settings', namespace='CELERY')\napp.autodiscover_tasks()\n",
    imports="os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n",
)
DJANGO_CELERY_NO_NAMESPACE = DJANGO_CELERY.replace(", namespace='CELERY'", "")


# ----------------------------------------------------------------------------- forms
# name: (files with task_time_limit and task_acks_late set, the same project without them)
FORMS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "a-celery-kwargs": (
        project(celery_py("", ctor="Celery('proj', task_time_limit=300, task_acks_late=True)")),
        project(celery_py("", ctor="Celery('proj', task_default_queue='q')")),
    ),
    "b-celery-changes": (
        project(
            celery_py("", ctor="Celery('proj', changes={'task_time_limit': 300, 'task_acks_late': True})")
        ),
        project(celery_py("", ctor="Celery('proj', changes={'task_default_queue': 'q'})")),
    ),
    "c-conf-update-kwargs": (
        project(celery_py("app.conf.update(task_time_limit=300, task_acks_late=True)\n")),
        project(celery_py("app.conf.update(task_default_queue='q')\n")),
    ),
    "d-conf-update-dict": (
        project(celery_py("app.conf.update({'task_time_limit': 300, 'task_acks_late': True})\n")),
        project(celery_py("app.conf.update({'task_default_queue': 'q'})\n")),
    ),
    "e-conf-attribute": (
        project(celery_py("app.conf.task_time_limit = 300\napp.conf.task_acks_late = True\n")),
        project(celery_py("app.conf.task_default_queue = 'q'\n")),
    ),
    "f-conf-item": (
        project(celery_py("app.conf['task_time_limit'] = 300\napp.conf['task_acks_late'] = True\n")),
        project(celery_py("app.conf['task_default_queue'] = 'q'\n")),
    ),
    "g-conf-setdefault": (
        project(
            celery_py(
                "app.conf.setdefault('task_time_limit', 300)\napp.conf.setdefault('task_acks_late', True)\n"
            )
        ),
        project(celery_py("app.conf.setdefault('task_default_queue', 'q')\n")),
    ),
    "h-config-module-new-names": (
        project(
            celery_py("app.config_from_object('proj.celeryconfig')\n"),
            proj__celeryconfig="task_time_limit = 300\ntask_acks_late = True\n",
        ),
        project(
            celery_py("app.config_from_object('proj.celeryconfig')\n"),
            proj__celeryconfig="task_default_queue = 'q'\n",
        ),
    ),
    "i-config-module-old-names": (
        project(
            celery_py("app.config_from_object('proj.celeryconfig')\n"),
            proj__celeryconfig="CELERYD_TASK_TIME_LIMIT = 300\nCELERY_ACKS_LATE = True\n",
        ),
        project(
            celery_py("app.config_from_object('proj.celeryconfig')\n"),
            proj__celeryconfig="CELERY_DEFAULT_QUEUE = 'q'\n",
        ),
    ),
    "j-config-class": (
        project(
            celery_py(
                "app.config_from_object(Config)\n",
                imports="\n\nclass Config:\n    task_time_limit = 300\n    task_acks_late = True\n\n",
            )
        ),
        project(
            celery_py(
                "app.config_from_object(Config)\n",
                imports="\n\nclass Config:\n    task_default_queue = 'q'\n\n",
            )
        ),
    ),
    "j-config-class-object-base": (
        project(
            celery_py(
                "app.config_from_object(Config)\n",
                imports="\n\nclass Config(object):\n    task_time_limit = 300\n    task_acks_late = True\n\n",
            )
        ),
        project(
            celery_py(
                "app.config_from_object(Config)\n",
                imports="\n\nclass Config(object):\n    task_default_queue = 'q'\n\n",
            )
        ),
    ),
    "j-config-class-in-module-string": (
        project(
            celery_py("app.config_from_object('proj.config:Config')\n"),
            proj__config="class Config:\n    task_time_limit = 300\n    task_acks_late = True\n",
        ),
        project(
            celery_py("app.config_from_object('proj.config:Config')\n"),
            proj__config="class Config:\n    task_default_queue = 'q'\n",
        ),
    ),
    "k-config-dict-variable": (
        project(
            celery_py(
                "app.config_from_object(CONFIG)\n",
                imports="CONFIG = {'task_time_limit': 300, 'task_acks_late': True}\n",
            )
        ),
        project(
            celery_py("app.config_from_object(CONFIG)\n", imports="CONFIG = {'task_default_queue': 'q'}\n")
        ),
    ),
    "l-django-namespace": (
        project(
            DJANGO_CELERY,
            proj__settings="DEBUG = False\nCELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_ACKS_LATE = True\n",
        ),
        project(DJANGO_CELERY, proj__settings="DEBUG = False\nCELERY_TASK_DEFAULT_QUEUE = 'q'\n"),
    ),
    "m-django-no-namespace-old-names": (
        project(
            DJANGO_CELERY_NO_NAMESPACE,
            proj__settings="DEBUG = False\nCELERYD_TASK_TIME_LIMIT = 300\nCELERY_ACKS_LATE = True\n",
        ),
        project(DJANGO_CELERY_NO_NAMESPACE, proj__settings="DEBUG = False\nCELERY_DEFAULT_QUEUE = 'q'\n"),
    ),
    "n-django-split-settings": (
        project(
            DJANGO_CELERY.replace("'proj.settings'", "'proj.settings.prod'"),
            proj__settings__init="",
            proj__settings__base="DEBUG = False\nCELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_ACKS_LATE = True\n",
            proj__settings__prod="from .base import *  # noqa: F403\n\nALLOWED_HOSTS = ['example.com']\n",
        ),
        project(
            DJANGO_CELERY.replace("'proj.settings'", "'proj.settings.prod'"),
            proj__settings__init="",
            proj__settings__base="DEBUG = False\nCELERY_TASK_DEFAULT_QUEUE = 'q'\n",
            proj__settings__prod="from .base import *  # noqa: F403\n\nALLOWED_HOSTS = ['example.com']\n",
        ),
    ),
    "q-task-annotations-star": (
        project(celery_py("app.conf.task_annotations = {'*': {'time_limit': 300, 'acks_late': True}}\n")),
        project(celery_py("app.conf.task_annotations = {'*': {'rate_limit': '10/s'}}\n")),
    ),
    "q-task-annotations-by-name": (
        project(
            celery_py(
                "app.conf.task_annotations = {'orders.tasks.charge': {'time_limit': 300, 'acks_late': True}}\n"
            )
        ),
        project(
            celery_py(
                "app.conf.task_annotations = {'orders.tasks.refund': {'time_limit': 300, 'acks_late': True}}\n"
            )
        ),
    ),
    "r-task-cls-string": (
        project(
            celery_py("", ctor="Celery('proj', task_cls='proj.base:Base')"),
            proj__base="from celery import Task\n\n\nclass Base(Task):\n    time_limit = 300\n    acks_late = True\n",
        ),
        project(
            celery_py("", ctor="Celery('proj', task_cls='proj.base:Base')"),
            proj__base="from celery import Task\n\n\nclass Base(Task):\n    queue = 'q'\n",
        ),
    ),
    "r-task-cls-class": (
        project(
            celery_py("", ctor="Celery('proj', task_cls=Base)", imports="from proj.base import Base\n"),
            proj__base="from celery import Task\n\n\nclass Base(Task):\n    time_limit = 300\n    acks_late = True\n",
        ),
        project(
            celery_py("", ctor="Celery('proj', task_cls=Base)", imports="from proj.base import Base\n"),
            proj__base="from celery import Task\n\n\nclass Base(Task):\n    queue = 'q'\n",
        ),
    ),
    "t-celery-namespace-argument": (
        project(
            celery_py(
                "app.config_from_object('proj.celeryconfig')\n", ctor="Celery('proj', namespace='CELERY')"
            ),
            proj__celeryconfig="CELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_ACKS_LATE = True\n",
        ),
        project(
            celery_py(
                "app.config_from_object('proj.celeryconfig')\n", ctor="Celery('proj', namespace='CELERY')"
            ),
            proj__celeryconfig="CELERY_TASK_DEFAULT_QUEUE = 'q'\n",
        ),
    ),
    "t-celery-namespace-argument-django": (
        project(
            DJANGO_CELERY_NO_NAMESPACE.replace("Celery('proj')", "Celery('proj', namespace='CELERY')"),
            proj__settings="DEBUG = False\nCELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_ACKS_LATE = True\n",
        ),
        project(
            DJANGO_CELERY_NO_NAMESPACE.replace("Celery('proj')", "Celery('proj', namespace='CELERY')"),
            proj__settings="DEBUG = False\nCELERY_TASK_DEFAULT_QUEUE = 'q'\n",
        ),
    ),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_setting_reaches_the_task(form):
    files, _ = FORMS[form]
    assert fired(files) == {}


@pytest.mark.parametrize("form", list(FORMS))
def test_without_the_setting_the_rules_fire(form):
    _, files = FORMS[form]
    assert fired(files) == {TIME: [TASK_LINE], ACKS: [TASK_LINE]}


@pytest.mark.parametrize("form", ["c-conf-update-kwargs", "e-conf-attribute", "l-django-namespace"])
def test_setting_reaches_app_task_too(form):
    """``@app.task`` (the app imported from proj.celery) reads the same configuration."""
    set_files, unset_files = FORMS[form]
    assert fired({**set_files, TASKS_PATH: APP_TASKS}) == {}
    assert fired({**unset_files, TASKS_PATH: APP_TASKS}) == {TIME: [TASK_LINE], ACKS: [TASK_LINE]}


def test_only_one_setting_given_only_one_rule_fires():
    files = project(celery_py("app.conf.task_time_limit = 300\n"))
    assert fired(files) == {ACKS: [TASK_LINE]}
    files = project(celery_py("app.conf.task_acks_late = True\n"))
    assert fired(files) == {TIME: [TASK_LINE]}


# ----------------------------------------------------------------------------- Django specifics
def test_django_without_namespace_ignores_new_prefixed_names():
    """(m) Without ``namespace='CELERY'`` Celery does not read CELERY_TASK_ACKS_LATE."""
    files = project(
        DJANGO_CELERY_NO_NAMESPACE,
        proj__settings="CELERY_TASK_ACKS_LATE = True\nCELERY_TASK_TIME_LIMIT = 300\n",
    )
    assert fired(files) == {TIME: [TASK_LINE], ACKS: [TASK_LINE]}


def test_django_without_namespace_reads_old_names():
    files = project(DJANGO_CELERY_NO_NAMESPACE, proj__settings="CELERY_ACKS_LATE = True\n")
    assert fired(files) == {TIME: [TASK_LINE]}


def test_django_with_namespace_ignores_unprefixed_names():
    """With the namespace, a bare ``task_acks_late`` in Django settings is not read (not upper case)."""
    files = project(DJANGO_CELERY, proj__settings="task_acks_late = True\nTASK_TIME_LIMIT = 300\n")
    assert fired(files) == {TIME: [TASK_LINE], ACKS: [TASK_LINE]}


def test_django_message_names_where_it_looked():
    files = project(DJANGO_CELERY, proj__settings="CELERY_TASK_TIME_LIMIT = 300\n")
    (violation,) = lint_project(files)
    assert violation.code == ACKS
    assert "orders.tasks.charge" in violation.message
    assert "task_acks_late" in violation.message
    assert "proj/settings.py" in violation.message or "proj.settings" in violation.message


def test_django_split_settings_override_in_leaf_module():
    """A value in prod.py after ``from .base import *`` replaces the base value."""
    files = project(
        DJANGO_CELERY.replace("'proj.settings'", "'proj.settings.prod'"),
        proj__settings__init="",
        proj__settings__base="CELERY_TASK_TIME_LIMIT = None\n",
        proj__settings__prod="from .base import *  # noqa: F403\n\nCELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_ACKS_LATE = True\n",
    )
    assert fired(files) == {}


# ----------------------------------------------------------------------------- unknown values stay silent
def test_conditional_setting_in_config_module_is_unknown(tmp_path):
    """(o) Different values in the branches of an ``if``: the analyzer cannot know, so it is silent."""
    files = project(
        celery_py("app.config_from_object('proj.celeryconfig')\n"),
        proj__celeryconfig=(
            "import os\n\nif os.environ.get('PRODUCTION'):\n    task_time_limit = 300\n    task_acks_late = True\n"
            "else:\n    task_time_limit = None\n    task_acks_late = False\n"
        ),
    )
    assert fired(files) == {}
    model = model_of(write_project(tmp_path, files))
    task = task_named(model, "charge")
    assert isinstance(model.task_option(task, "time_limit"), Unknown)
    assert isinstance(model.task_option(task, "acks_late"), Unknown)


def test_conditional_setting_in_django_settings_is_unknown():
    files = project(
        DJANGO_CELERY,
        proj__settings=(
            "DEBUG = True\n\nif DEBUG:\n    CELERY_TASK_ACKS_LATE = False\nelse:\n    CELERY_TASK_ACKS_LATE = True\n"
        ),
    )
    assert fired(files, select=[ACKS]) == {}


def test_setting_only_in_one_branch_is_unknown(tmp_path):
    files = project(
        celery_py("app.config_from_object('proj.celeryconfig')\n"),
        proj__celeryconfig="import os\n\nif os.environ.get('PRODUCTION'):\n    task_acks_late = True\n",
    )
    assert fired(files, select=[ACKS]) == {}
    model = model_of(write_project(tmp_path, files))
    assert isinstance(model.task_option(task_named(model, "charge"), "acks_late"), Unknown)


def test_conditional_conf_writes_on_the_app_are_unknown(tmp_path):
    """(o) Same as above with ``app.conf.x = v`` in both branches of an ``if``."""
    files = project(
        celery_py(
            "if os.environ.get('PRODUCTION'):\n    app.conf.task_acks_late = True\n"
            "else:\n    app.conf.task_acks_late = False\n"
        )
    )
    assert fired(files, select=[ACKS]) == {}
    model = model_of(write_project(tmp_path, files))
    assert isinstance(model.task_option(task_named(model, "charge"), "acks_late"), Unknown)


def test_conditional_ignore_result_does_not_cause_result_finding():
    """User-visible consequence of a conditional setting: CEL501 must not claim results are stored."""
    files = project(
        celery_py(
            "if os.environ.get('PRODUCTION'):\n    app.conf.task_ignore_result = True\n"
            "else:\n    app.conf.task_ignore_result = False\n",
            ctor="Celery('proj', backend='redis://localhost')",
        ),
        tasks="from celery import shared_task\n\n\n@shared_task\ndef notify(user_id):\n    print(user_id)\n",
    )
    assert fired(files, select=["CEL501"]) == {}


def test_conditional_ignore_result_baseline_fires():
    files = project(
        celery_py("", ctor="Celery('proj', backend='redis://localhost')"),
        tasks="from celery import shared_task\n\n\n@shared_task\ndef notify(user_id):\n    print(user_id)\n",
    )
    assert fired(files, select=["CEL501"]) == {"CEL501": [TASK_LINE]}


@pytest.mark.parametrize(
    "celery",
    [
        celery_py(
            "app.conf.task_time_limit = int(os.environ.get('TIME_LIMIT', '300'))\napp.conf.task_acks_late = os.environ.get('ACKS_LATE') == '1'\n"
        ),
        celery_py(
            "app.conf.update(task_time_limit=int(os.environ['TIME_LIMIT']), task_acks_late=os.getenv('ACKS_LATE'))\n"
        ),
        celery_py(
            "",
            ctor="Celery('proj', task_time_limit=os.environ.get('TL'), task_acks_late=os.environ.get('AL'))",
        ),
    ],
    ids=["conf-attribute", "conf-update", "celery-kwargs"],
)
def test_value_from_environment_is_unknown(celery):
    """(p) A value read from the environment is unknown: the rules stay silent."""
    assert fired(project(celery)) == {}


def test_value_from_environment_in_django_settings_is_unknown():
    files = project(
        DJANGO_CELERY,
        proj__settings="import os\n\nCELERY_TASK_TIME_LIMIT = int(os.environ.get('TL', '300'))\nCELERY_TASK_ACKS_LATE = os.environ.get('ACKS') == '1'\n",
    )
    assert fired(files) == {}


def test_environment_value_model_says_unknown(tmp_path):
    files = project(celery_py("app.conf.task_acks_late = os.environ.get('ACKS_LATE') == '1'\n"))
    model = model_of(write_project(tmp_path, files))
    value = model.task_option(task_named(model, "charge"), "acks_late")
    assert isinstance(value, Unknown)


# ----------------------------------------------------------------------------- precedence
def test_explicit_decorator_option_beats_global_setting(tmp_path):
    """(s) ``acks_late=False`` on the decorator wins over ``task_acks_late = True``."""
    tasks = (
        "from celery import shared_task\n\n\n@shared_task(acks_late=False)\ndef charge(order_id):\n    return order_id\n\n\n"
        "@shared_task\ndef refund(order_id):\n    return order_id\n"
    )
    files = project(celery_py("app.conf.task_acks_late = True\n"), tasks=tasks)
    assert fired(files, select=[ACKS]) == {}
    model = model_of(write_project(tmp_path, files))
    charge = model.task_option(task_named(model, "charge"), "acks_late")
    refund = model.task_option(task_named(model, "refund"), "acks_late")
    assert isinstance(charge, Known) and charge.value is False
    assert isinstance(refund, Known) and refund.value is True


def test_explicit_false_without_global_setting_is_a_decision():
    tasks = "from celery import shared_task\n\n\n@shared_task(acks_late=False)\ndef charge(order_id):\n    return order_id\n"
    assert fired(project(celery_py(""), tasks=tasks), select=[ACKS]) == {}


def test_annotations_override_the_decorator(tmp_path):
    """(q) Celery applies task_annotations after the class attributes: they win."""
    tasks = "from celery import shared_task\n\n\n@shared_task(acks_late=False, time_limit=5)\ndef charge(order_id):\n    return order_id\n"
    files = project(celery_py("app.conf.task_annotations = {'*': {'acks_late': True}}\n"), tasks=tasks)
    model = model_of(write_project(tmp_path, files))
    task = task_named(model, "charge")
    acks = model.task_option(task, "acks_late")
    assert isinstance(acks, Known) and acks.value is True
    limit = model.task_option(task, "time_limit")
    assert isinstance(limit, Known) and limit.value == 5


def test_annotations_for_another_task_do_not_apply():
    tasks = (
        "from celery import shared_task\n\n\n@shared_task\ndef charge(order_id):\n    return order_id\n\n\n"
        "@shared_task\ndef refund(order_id):\n    return order_id\n"
    )
    files = project(
        celery_py("app.conf.task_annotations = {'orders.tasks.charge': {'acks_late': True}}\n"), tasks=tasks
    )
    assert fired(files, select=[ACKS]) == {ACKS: [10]}


def test_base_class_beats_global_setting(tmp_path):
    tasks = (
        "from celery import shared_task\nfrom proj.base import EarlyAck\n\n\n"
        "@shared_task(base=EarlyAck)\ndef charge(order_id):\n    return order_id\n"
    )
    files = project(
        celery_py("app.conf.task_acks_late = True\n"),
        tasks=tasks,
        proj__base="from celery import Task\n\n\nclass EarlyAck(Task):\n    acks_late = False\n",
    )
    model = model_of(write_project(tmp_path, files))
    value = model.task_option(task_named(model, "charge"), "acks_late")
    assert isinstance(value, Known) and value.value is False


def test_task_cls_beats_global_setting(tmp_path):
    files = project(
        celery_py("app.conf.task_time_limit = 600\n", ctor="Celery('proj', task_cls='proj.base:Base')"),
        proj__base="from celery import Task\n\n\nclass Base(Task):\n    time_limit = 30\n",
    )
    model = model_of(write_project(tmp_path, files))
    value = model.task_option(task_named(model, "charge"), "time_limit")
    assert isinstance(value, Known) and value.value == 30


@pytest.mark.parametrize("form", [f for f in FORMS if not f.startswith(("q-", "r-"))])
def test_effective_setting_value_for_each_form(tmp_path, form):
    """The model reports the value Celery would use, whatever the form."""
    files, _ = FORMS[form]
    model = model_of(write_project(tmp_path, files))
    task = task_named(model, "charge")
    limit = model.task_option(task, "time_limit")
    acks = model.task_option(task, "acks_late")
    assert isinstance(limit, Known) and limit.value == 300, limit
    assert isinstance(acks, Known) and acks.value is True, acks


# ----------------------------------------------------------------------------- task declaration forms
SHARED = "from celery import shared_task\n\n\n"
APP = "from proj.celery import app\n\n\n"
PLAIN_APP = project(celery_py(""))


def declared(tasks: str, select=BOTH, **extra: str) -> dict[str, list[int]]:
    return fired(project(celery_py(""), tasks=tasks, **extra), select=select)


@pytest.mark.parametrize(
    ("tasks", "line"),
    [
        (APP + "@app.task\ndef charge(order_id):\n    return order_id\n", 5),
        (
            APP
            + "@app.task(bind=True, queue='payments')\ndef charge(self, order_id):\n    return order_id\n",
            5,
        ),
        (SHARED + "@shared_task\ndef charge(order_id):\n    return order_id\n", 5),
        (SHARED + "@shared_task(bind=True)\ndef charge(self, order_id):\n    return order_id\n", 5),
        ("import celery\n\n\n@celery.shared_task\ndef charge(order_id):\n    return order_id\n", 5),
        (
            "from celery import shared_task as task\n\n\n@task\ndef charge(order_id):\n    return order_id\n",
            5,
        ),
        (
            "from celery import shared_task as task\n\n\n@task(bind=True)\ndef charge(self, order_id):\n    return order_id\n",
            5,
        ),
        (APP + "@app.task\nasync def charge(order_id):\n    return order_id\n", 5),
        (
            SHARED
            + "def _charge(order_id):\n    return order_id\n\n\ncharge = shared_task(bind=True)(_charge)\n",
            4,
        ),
        (
            "from celery import Celery\n\napp = Celery('orders')\n\n\ndef _charge(order_id):\n    return order_id\n\n\ncharge = app.task(_charge)\n",
            6,
        ),
        (
            APP
            + "class Charge(app.Task):\n    name = 'charge'\n\n    def run(self, order_id):\n        return order_id\n",
            4,
        ),
        (
            "from celery import Task\n\n\nclass Charge(Task):\n    def run(self, order_id):\n        return order_id\n",
            4,
        ),
    ],
    ids=[
        "app-task",
        "app-task-call",
        "shared-task",
        "shared-task-call",
        "celery-dot-shared-task",
        "shared-task-as-task",
        "shared-task-as-task-call",
        "async-def",
        "shared-task-call-form",
        "app-task-call-form-local-app",
        "class-app-Task",
        "class-celery-Task",
    ],
)
def test_declaration_forms_are_tasks(tasks, line):
    assert declared(tasks) == {TIME: [line], ACKS: [line]}


@pytest.mark.parametrize(
    "tasks",
    [
        APP + "@app.task(time_limit=300, acks_late=True)\ndef charge(order_id):\n    return order_id\n",
        SHARED + "@shared_task(time_limit=300, acks_late=True)\ndef charge(order_id):\n    return order_id\n",
        "from celery import shared_task as task\n\n\n@task(time_limit=300, acks_late=True)\ndef charge(order_id):\n    return order_id\n",
        SHARED
        + "def _charge(order_id):\n    return order_id\n\n\ncharge = shared_task(time_limit=300, acks_late=True)(_charge)\n",
        APP
        + "class Charge(app.Task):\n    time_limit = 300\n    acks_late = True\n\n    def run(self, order_id):\n        return order_id\n",
    ],
    ids=["app-task", "shared-task", "shared-task-as-task", "call-form", "class-attributes"],
)
def test_declaration_forms_carry_options(tasks):
    assert declared(tasks) == {}


def test_message_of_a_plain_shared_task():
    (time_limit,) = lint_project(project(celery_py(""), tasks=TASKS), select=[TIME])
    assert time_limit.code == TIME
    assert time_limit.line == TASK_LINE
    assert time_limit.column == 1
    assert time_limit.name == "missing-time-limit"
    assert "task 'orders.tasks.charge' has no time limit" in time_limit.message
    assert "neither on the task nor `task_time_limit` in" in time_limit.message
    assert "task_time_limit" in time_limit.message


def test_alias_module_level_name_from_another_module():
    """``nautobot_task = shared_task`` in proj/utils.py, used as a decorator elsewhere."""
    utils = "from celery import shared_task\n\nnautobot_task = shared_task\n"
    bare = "from proj.utils import nautobot_task\n\n\n@nautobot_task\ndef charge(order_id):\n    return order_id\n"
    called = "from proj.utils import nautobot_task\n\n\n@nautobot_task(acks_late=True)\ndef charge(order_id):\n    return order_id\n"
    assert declared(bare, proj__utils=utils) == {TIME: [5], ACKS: [5]}
    assert declared(called, proj__utils=utils) == {TIME: [5]}


def test_applied_alias_in_another_module_passes_its_options():
    """``retry_task = shared_task(acks_late=True)``: its options flow to every task it declares."""
    decorators = "from celery import shared_task\n\nretry_task = shared_task(acks_late=True, max_retries=5)\n"
    tasks = "from proj.decorators import retry_task\n\n\n@retry_task\ndef charge(order_id):\n    return order_id\n"
    assert declared(tasks, proj__decorators=decorators) == {TIME: [5]}


@pytest.mark.parametrize("package", ["common", "zcommon"])
def test_app_task_alias_in_another_package(package):
    """``retry_task = app.task(acks_late=True)`` in a package that sorts before or after proj/."""
    tasks = f"from {package}.decorators import retry_task\n\n\n@retry_task\ndef charge(order_id):\n    return order_id\n"
    files = project(
        celery_py(""),
        tasks=tasks,
        **{
            f"{package}__init": "",
            f"{package}__decorators": "from proj.celery import app\n\nretry_task = app.task(acks_late=True)\n",
        },
    )
    assert fired(files) == {TIME: [5]}


@pytest.mark.parametrize("package", ["orders", "shop"])
def test_app_task_call_form_with_imported_app(package):
    """``charge = app.task(_charge)`` with the app imported from proj.celery, in orders/ or shop/."""
    code = "from proj.celery import app\n\n\ndef _charge(order_id):\n    return order_id\n\n\ncharge = app.task(_charge)\n"
    files = {**project(celery_py("")), f"{package}/__init__.py": "", f"{package}/jobs.py": code}
    assert fired(files, target=f"{package}/jobs.py") == {TIME: [4], ACKS: [4]}


def test_applied_alias_explicit_false_is_a_decision():
    decorators = "from celery import shared_task\n\nretry_task = shared_task(acks_late=False)\n"
    tasks = "from proj.decorators import retry_task\n\n\n@retry_task\ndef charge(order_id):\n    return order_id\n"
    assert declared(tasks, select=[ACKS], proj__decorators=decorators) == {}


WRAPPER = (
    "from celery import shared_task\n\n\ndef my_task(**kw):\n    return shared_task(acks_late=True, **kw)\n"
)


def test_wrapper_function_in_another_module():
    tasks = "from proj.tasking import my_task\n\n\n@my_task()\ndef charge(order_id):\n    return order_id\n"
    assert declared(tasks, proj__tasking=WRAPPER) == {TIME: [5]}


def test_wrapper_function_keyword_options_flow():
    tasks = "from proj.tasking import my_task\n\n\n@my_task(time_limit=300)\ndef charge(order_id):\n    return order_id\n"
    assert declared(tasks, proj__tasking=WRAPPER) == {}


def test_wrapper_function_with_positional_parameter():
    wrapper = "from celery import shared_task\n\n\ndef limited(seconds=300, **kw):\n    return shared_task(time_limit=seconds, **kw)\n"
    default = "from proj.tasking import limited\n\n\n@limited()\ndef charge(order_id):\n    return order_id\n"
    given = (
        "from proj.tasking import limited\n\n\n@limited(600)\ndef charge(order_id):\n    return order_id\n"
    )
    none = (
        "from proj.tasking import limited\n\n\n@limited(None)\ndef charge(order_id):\n    return order_id\n"
    )
    assert declared(default, proj__tasking=wrapper) == {ACKS: [5]}
    assert declared(given, proj__tasking=wrapper) == {ACKS: [5]}
    # time_limit=None means "take task_time_limit", which is unset here.
    assert declared(none, proj__tasking=wrapper) == {TIME: [5], ACKS: [5]}


def test_wrapper_called_with_splat_is_unknown():
    tasks = "from proj.tasking import my_task\nfrom proj.options import OPTS\n\n\n@my_task(**OPTS)\ndef charge(order_id):\n    return order_id\n"
    assert declared(tasks, proj__tasking=WRAPPER, proj__options="OPTS = load()\n") == {}
    # A splat of a literal dict is followed key by key (S12): its keys reach the wrapper.
    limits = "OPTS = {'time_limit': 60, 'soft_time_limit': 50}\n"
    assert declared(tasks, proj__tasking=WRAPPER, proj__options=limits) == {}
    assert declared(tasks, proj__tasking=WRAPPER, proj__options="OPTS = {}\n") == declared(
        tasks.replace("**OPTS", ""), proj__tasking=WRAPPER
    )


def test_wrapper_splatting_computed_options_is_unknown():
    wrapper = "from celery import shared_task\nfrom proj.options import DEFAULTS\n\n\ndef my_task(**kw):\n    return shared_task(**DEFAULTS, **kw)\n"
    tasks = "from proj.tasking import my_task\n\n\n@my_task()\ndef charge(order_id):\n    return order_id\n"
    assert declared(tasks, proj__tasking=wrapper, proj__options="DEFAULTS = load()\n") == {}


def test_decorator_splat_is_unknown():
    tasks = "from celery import shared_task\nfrom proj.options import OPTS\n\n\n@shared_task(**OPTS)\ndef charge(order_id):\n    return order_id\n"
    assert declared(tasks, proj__options="OPTS = load()\n") == {}


BASE = "from celery import Task\n\n\nclass BaseTask(Task):\n    time_limit = 300\n    acks_late = True\n"
ORDERS_BASE = "from proj.base import BaseTask\n\n\nclass OrdersTask(BaseTask):\n    queue = 'orders'\n"
WITH_BASE = (
    "from celery import shared_task\nfrom orders.base import OrdersTask\n\n\n"
    "@shared_task(base=OrdersTask)\ndef charge(order_id):\n    return order_id\n"
)


def test_base_class_chain_across_modules():
    assert declared(WITH_BASE, proj__base=BASE, orders__base=ORDERS_BASE) == {}


def test_base_class_chain_without_the_options_fires():
    base = "from celery import Task\n\n\nclass BaseTask(Task):\n    queue = 'default'\n"
    found = lint_project(project(celery_py(""), tasks=WITH_BASE, proj__base=base, orders__base=ORDERS_BASE))
    assert sorted((v.code, v.line) for v in found) == [(TIME, 6), (ACKS, 6)]
    for violation in found:
        assert "its base class OrdersTask" in violation.message


def test_class_based_task_inherits_across_modules():
    tasks = "from orders.base import OrdersTask\n\n\nclass Charge(OrdersTask):\n    def run(self, order_id):\n        return order_id\n"
    assert declared(tasks, proj__base=BASE, orders__base=ORDERS_BASE) == {}


def test_base_class_from_unanalysed_package_is_unknown():
    tasks = (
        "from celery import shared_task\nfrom vendor.x import VendorTask\n\n\n"
        "@shared_task(base=VendorTask)\ndef charge(order_id):\n    return order_id\n"
    )
    assert declared(tasks) == {}


def test_class_task_with_unanalysed_base_is_unknown():
    tasks = "from vendor.x import VendorTask\n\n\nclass Charge(VendorTask):\n    def run(self, order_id):\n        return order_id\n"
    assert declared(tasks, select=None) == {}


def test_invoke_task_is_not_celery():
    tasks = "from invoke import task\n\n\n@task\ndef build(c):\n    c.run('make')\n"
    # All default rules: none of them may see a Celery task here.
    assert fired(project(celery_py(""), tasks=tasks), target=TASKS_PATH, select=None) == {}


def test_invoke_task_next_to_a_celery_task():
    tasks = (
        "from celery import shared_task\nfrom invoke import task\n\n\n@task\ndef build(c):\n    c.run('make')\n\n\n"
        "@shared_task\ndef charge(order_id):\n    return order_id\n"
    )
    assert declared(tasks) == {TIME: [11], ACKS: [11]}


FAKE_TASKS = (
    "import requests\nfrom celery import shared_task\n\n\n@shared_task\ndef fake(url):\n"
    "    return requests.get(url).content\n"
)
CONFIG_RULES = (TIME, "CEL202", ACKS, "CEL501")


@pytest.mark.parametrize(
    "path", ["tests/test_orders.py", "orders/tests/test_fakes.py", "orders/tests.py", "conftest.py"]
)
def test_test_code_is_skipped_by_config_rules(path):
    files = {**project(celery_py("", ctor="Celery('proj', backend='redis://')")), path: FAKE_TASKS}
    found = fired(files, target=path, select=None)
    assert not set(found) & set(CONFIG_RULES), found


def test_same_code_outside_tests_is_flagged():
    files = {
        **project(celery_py("", ctor="Celery('proj', backend='redis://')")),
        "orders/fakes.py": FAKE_TASKS,
    }
    found = fired(files, target="orders/fakes.py", select=None)
    # No limit at all: CEL201 alone (one finding per cause), no CEL202.
    assert found.get(TIME) == [6] and found.get(ACKS) == [6] and "CEL202" not in found
    assert found.get("CEL502") == [7]


def test_test_app_configuration_does_not_hide_production_findings():
    """A test settings file that sets task_acks_late must not silence production tasks."""
    files = {
        **project(celery_py("")),
        "tests/conftest.py": "from proj.celery import app\n\napp.conf.task_acks_late = True\napp.conf.task_time_limit = 5\n",
    }
    assert fired(files) == {TIME: [TASK_LINE], ACKS: [TASK_LINE]}
