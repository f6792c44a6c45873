"""S3 and S4 of the real-world shapes as a user sees them through ``celery-lint`` and
``celery-lint tasks``: Django settings split into files by django-split-settings'
``include()``, and settings exported from a settings class when the settings module is
imported (``SiteSettings.export(__name__)``, ``globals().update(...)``). Each value's source
names the file that sets it; a shape the analyzer cannot read makes the settings unknown,
with a reason, never empty."""

from __future__ import annotations

import json
from typing import Any

from conftest import Project

OPTIONS = "time_limit,soft_time_limit,acks_late,serializer"

CELERY_APP = (
    "import os\n"
    "from celery import Celery\n"
    'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_cfg.settings")\n'
    'app = Celery("proj")\n'
    'app.config_from_object("django.conf:settings", namespace="CELERY")\n'
)
TASKS = "from proj.celery import app\n\n@app.task\ndef work():\n    pass\n"


def django_project(project: Project, settings: str, files: dict[str, str] | None = None) -> None:
    """``proj`` with one bare task, its Django settings in ``site_cfg/settings.py``."""
    project.write("proj/__init__.py", "")
    project.write("proj/celery.py", CELERY_APP)
    project.write("proj/tasks.py", TASKS)
    project.write("site_cfg/__init__.py", "")
    project.write("site_cfg/settings.py", settings)
    for relpath, text in (files or {}).items():
        project.write(relpath, text)


def options(project: Project) -> dict[str, tuple[Any, ...]]:
    """The task's options: (value, path, line) when known, ("unknown", reason) when not."""
    run = project.run("tasks", "--format", "json", "--option", OPTIONS)
    assert run.returncode == 0, run
    data = json.loads(run.stdout)
    (task,) = data["tasks"]
    result: dict[str, tuple[Any, ...]] = {}
    for name, entry in task["options"].items():
        if entry["unknown"] is not None:
            result[name] = ("unknown", entry["unknown"])
        else:
            result[name] = (entry["value"], entry["source"]["path"], entry["source"]["line"])
    return result


LIMITS = "CELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_SOFT_TIME_LIMIT = 240\n"


# ------------------------------------------------------------------ S3: django-split-settings
def test_included_files_set_the_settings_in_order(project: Project) -> None:
    django_project(
        project,
        "from split_settings.tools import include, optional\n"
        "\n"
        'include("defaults.py", "components/*.py", optional("local.py"), "settings.dist.py")\n'
        "CELERY_TASK_SOFT_TIME_LIMIT = 200\n",
        {
            "site_cfg/defaults.py": LIMITS + "CELERY_TASK_SERIALIZER = 'pickle'\n",
            "site_cfg/components/acks.py": "CELERY_TASK_ACKS_LATE = True\n",
            "site_cfg/components/other.py": "CELERY_TASK_TIME_LIMIT = 300\n",
            # Not an importable name: split-settings runs it by its path.
            "site_cfg/settings.dist.py": "CELERY_TASK_SERIALIZER = 'json'\n",
        },
    )
    got = options(project)
    # Two files of one glob agree on the time limit: known (from the last in sorted order).
    assert got["time_limit"][0] == 300
    assert got["soft_time_limit"] == (200, "site_cfg/settings.py", 4)
    assert got["acks_late"] == (True, "site_cfg/components/acks.py", 1)
    assert got["serializer"] == ("json", "site_cfg/settings.dist.py", 1)
    run = project.run(".", "--select", "CEL201,CEL202,CEL203,CEL205")
    assert run.findings == [], run


def test_files_of_one_glob_that_disagree_leave_the_setting_unknown(project: Project) -> None:
    """glob() lists a folder in the file system's order, not sorted."""
    django_project(
        project,
        'from split_settings.tools import include\ninclude("parts/*.py")\n',
        {
            "site_cfg/parts/a.py": LIMITS,
            "site_cfg/parts/b.py": "CELERY_TASK_TIME_LIMIT = 600\n",
        },
    )
    got = options(project)
    assert got["time_limit"][0] == "unknown"
    assert got["soft_time_limit"] == (240, "site_cfg/parts/a.py", 2)


def test_optional_file_absent_from_the_repository_is_named_in_messages(project: Project) -> None:
    django_project(
        project,
        'from split_settings.tools import include, optional\ninclude("base.py", optional("local.py"))\n',
        {
            "site_cfg/base.py": "CELERY_TASK_ACKS_LATE = True\n",
        },
    )
    got = options(project)
    assert got["acks_late"] == (True, "site_cfg/base.py", 1)
    assert got["time_limit"][:1] == (None,)
    run = project.run(".", "--select", "CEL201")
    assert run.codes_in("proj/tasks.py") == {"CEL201"}, run
    assert 'optional("local.py") in site_cfg/settings.py:2 may add settings at run time' in run.stdout


def test_missing_required_file_makes_the_settings_unknown(project: Project) -> None:
    django_project(
        project,
        'from split_settings.tools import include\ninclude("base.py", "gone.py")\n',
        {
            "site_cfg/base.py": LIMITS,
        },
    )
    got = options(project)
    assert got["time_limit"] == (
        "unknown",
        'include("base.py", "gone.py") in site_cfg/settings.py:2: no file matches "gone.py" '
        "(split-settings raises OSError)",
    )
    run = project.run(".", "--select", "CEL201,CEL205")
    assert run.findings == [], run


def test_pattern_that_cannot_be_evaluated_makes_the_settings_unknown(project: Project) -> None:
    django_project(
        project,
        "import os\n"
        "from split_settings.tools import include\n"
        'ENV = os.environ["ENV"]\n'
        'include("base.py", ENV + ".py")\n',
        {
            "site_cfg/base.py": LIMITS,
            "site_cfg/prod.py": "CELERY_TASK_ACKS_LATE = True\n",
        },
    )
    got = options(project)
    assert got["acks_late"] == (
        "unknown",
        'include("base.py", ENV + ".py") in site_cfg/settings.py:4: the file pattern ENV + ".py" '
        "cannot be evaluated",
    )
    run = project.run(".", "--select", "CEL201,CEL205")
    assert run.findings == [], run


def test_a_pattern_from_a_constant_is_evaluated(project: Project) -> None:
    django_project(
        project,
        'from split_settings.tools import include\nBASE = "base.py"\ninclude(BASE)\n',
        {
            "site_cfg/base.py": LIMITS,
        },
    )
    assert options(project)["time_limit"] == (300, "site_cfg/base.py", 1)


def test_nested_include_is_relative_to_the_included_file(project: Project) -> None:
    django_project(
        project,
        'from split_settings.tools import include\ninclude("components/main.py")\n',
        {
            "site_cfg/components/main.py": (
                'from split_settings.tools import include\ninclude("limits.py")\nCELERY_TASK_ACKS_LATE = True\n'
            ),
            # include and optional come from the namespace the file runs in, not an import.
            "site_cfg/components/limits.py": LIMITS
            + 'include("more/serializer.py", optional("more/x.py"))\n',
            "site_cfg/components/more/serializer.py": "CELERY_TASK_SERIALIZER = 'json'\n",
        },
    )
    got = options(project)
    assert got["time_limit"] == (300, "site_cfg/components/limits.py", 1)
    assert got["acks_late"] == (True, "site_cfg/components/main.py", 3)
    assert got["serializer"] == ("json", "site_cfg/components/more/serializer.py", 1)


def test_include_through_the_module_and_aliases(project: Project) -> None:
    django_project(
        project,
        "import split_settings.tools\n"
        "from split_settings import tools\n"
        "from split_settings.tools import include as settings_include\n"
        'split_settings.tools.include("a.py")\n'
        'tools.include("b.py", scope=globals())\n'
        'settings_include("c.py")\n',
        {
            "site_cfg/a.py": "CELERY_TASK_TIME_LIMIT = 300\n",
            "site_cfg/b.py": "CELERY_TASK_SOFT_TIME_LIMIT = 240\n",
            "site_cfg/c.py": "CELERY_TASK_ACKS_LATE = True\n",
        },
    )
    got = options(project)
    assert got["time_limit"] == (300, "site_cfg/a.py", 1)
    assert got["soft_time_limit"] == (240, "site_cfg/b.py", 1)
    assert got["acks_late"] == (True, "site_cfg/c.py", 1)


def test_include_of_a_list_written_in_the_settings(project: Project) -> None:
    """The wemake-django-template shape: ``include(*base_settings)``."""
    django_project(
        project,
        "import os\n"
        "from split_settings.tools import include, optional\n"
        "\n"
        "base_settings = [\n"
        '    "components/limits.py",\n'
        '    optional("components/local.py"),\n'
        "]\n"
        "include(*base_settings)\n",
        {"site_cfg/components/limits.py": LIMITS},
    )
    assert options(project)["time_limit"] == (300, "site_cfg/components/limits.py", 1)
    project.write(
        "site_cfg/settings.py",
        "import os\n"
        "from split_settings.tools import include\n"
        'ENV = os.environ.get("DJANGO_ENV", "production")\n'
        'base_settings = ["components/limits.py", "environments/{0}.py".format(ENV)]\n'
        "include(*base_settings)\n",
    )
    assert options(project)["time_limit"] == (
        "unknown",
        "include(*base_settings) in site_cfg/settings.py:5: the file pattern "
        '"environments/{0}.py".format(ENV) cannot be evaluated',
    )


def test_include_in_a_branch_may_not_run(project: Project) -> None:
    django_project(
        project,
        "import os\n"
        "from split_settings.tools import include\n"
        'include("base.py")\n'
        'if os.environ.get("SLOW"):\n'
        '    include("slow.py")\n',
        {
            "site_cfg/base.py": LIMITS,
            "site_cfg/slow.py": "CELERY_TASK_TIME_LIMIT = 300\nCELERY_TASK_ACKS_LATE = True\n",
        },
    )
    got = options(project)
    assert got["time_limit"][0] == 300  # both files agree
    assert got["acks_late"][0] == "unknown"  # set only when the branch runs


def test_an_include_into_another_namespace_is_unknown(project: Project) -> None:
    django_project(
        project,
        "from split_settings.tools import include\nOTHER = {}\ninclude('base.py', scope=OTHER)\n",
        {
            "site_cfg/base.py": LIMITS,
        },
    )
    assert options(project)["time_limit"][0] == "unknown"


# ------------------------------------------------------------------ S4: settings classes
EXPORT = (
    "import sys\n"
    "\n"
    "class BaseSettings:\n"
    "    CELERY_TASK_TIME_LIMIT = 300\n"
    "    CELERY_TASK_SOFT_TIME_LIMIT = 100\n"
    "\n"
    "    @classmethod\n"
    "    def apply(cls, name):\n"
    "        target = sys.modules[name]\n"
    "        for key in dir(cls):\n"
    "            if key.isupper():\n"
    "                setattr(target, key, getattr(cls, key))\n"
)


def test_exported_class_attributes_along_bases_across_modules(project: Project) -> None:
    django_project(
        project,
        "from site_cfg.base import BaseSettings\n"
        "from site_cfg.mixins import Reliable\n"
        "\n"
        "class SiteSettings(Reliable, BaseSettings):\n"
        "    CELERY_TASK_SERIALIZER = 'json'\n"
        "\n"
        "SiteSettings.apply(__name__)\n"
        "CELERY_TASK_ACKS_LATE = True\n",
        {
            "site_cfg/base.py": EXPORT,
            "site_cfg/mixins.py": "class Reliable:\n    CELERY_TASK_SOFT_TIME_LIMIT = 240\n    CELERY_TASK_ACKS_LATE = False\n",
        },
    )
    got = options(project)
    assert got["time_limit"] == (300, "site_cfg/base.py", 4)
    assert got["soft_time_limit"] == (240, "site_cfg/mixins.py", 2)  # Reliable first in the MRO
    assert got["serializer"] == ("json", "site_cfg/settings.py", 5)
    assert got["acks_late"] == (True, "site_cfg/settings.py", 8)  # set after the export
    run = project.run(".", "--select", "CEL201,CEL202,CEL203,CEL205")
    assert run.findings == [], run


def test_an_export_function_and_a_staticmethod_are_recognised_by_their_body(project: Project) -> None:
    django_project(
        project,
        "import sys\n"
        "\n"
        "def push(klass, name):\n"
        "    module = sys.modules[name]\n"
        "    for key, value in vars(klass).items():\n"
        "        setattr(module, key, value)\n"
        "\n"
        "class Limits:\n"
        "    CELERY_TASK_TIME_LIMIT = 300\n"
        "\n"
        "class Acks:\n"
        "    CELERY_TASK_ACKS_LATE = True\n"
        "\n"
        "    @staticmethod\n"
        "    def install(module):\n"
        "        for key in dir(Acks):\n"
        "            setattr(module, key, getattr(Acks, key))\n"
        "\n"
        "push(Limits, __name__)\n"
        "Acks.install(sys.modules[__name__])\n",
    )
    got = options(project)
    assert got["time_limit"] == (300, "site_cfg/settings.py", 9)
    assert got["acks_late"] == (True, "site_cfg/settings.py", 12)


def test_an_export_through_an_instance(project: Project) -> None:
    django_project(
        project,
        "import sys\n"
        "\n"
        "class SiteSettings:\n"
        "    CELERY_TASK_TIME_LIMIT = 300\n"
        "\n"
        "    def export(self, name):\n"
        "        for key in dir(self):\n"
        "            setattr(sys.modules[name], key, getattr(self, key))\n"
        "\n"
        "SiteSettings().export(__name__)\n",
    )
    assert options(project)["time_limit"] == (300, "site_cfg/settings.py", 4)


def test_globals_update_forms(project: Project) -> None:
    django_project(
        project,
        "class Base:\n"
        "    CELERY_TASK_TIME_LIMIT = 300\n"
        "\n"
        "class Limits(Base):\n"
        "    CELERY_TASK_SOFT_TIME_LIMIT = 240\n"
        "    _private = 1\n"
        "\n"
        'EXTRA = {"CELERY_TASK_SERIALIZER": "json"}\n'
        "globals().update({k: getattr(Limits, k) for k in dir(Limits) if not k.startswith('_')})\n"
        'globals().update({"CELERY_TASK_ACKS_LATE": False, **EXTRA})\n'
        "globals().update(CELERY_TASK_ACKS_LATE=True)\n",
    )
    got = options(project)
    assert got["time_limit"] == (300, "site_cfg/settings.py", 2)
    assert got["soft_time_limit"] == (240, "site_cfg/settings.py", 5)
    assert got["serializer"] == ("json", "site_cfg/settings.py", 8)
    assert got["acks_late"] == (True, "site_cfg/settings.py", 11)


def test_vars_of_a_class_is_its_own_attributes_only(project: Project) -> None:
    django_project(
        project,
        "class Base:\n"
        "    CELERY_TASK_TIME_LIMIT = 300\n"
        "\n"
        "class Limits(Base):\n"
        "    CELERY_TASK_SOFT_TIME_LIMIT = 240\n"
        "\n"
        "globals().update(vars(Limits))\n",
    )
    got = options(project)
    assert got["soft_time_limit"] == (240, "site_cfg/settings.py", 5)
    assert got["time_limit"][:2] == (None, None)  # vars() holds no inherited attribute
    run = project.run(".", "--select", "CEL201,CEL202")
    assert run.codes_in("proj/tasks.py") == {"CEL201"}, run


def test_what_cannot_be_read_makes_the_settings_unknown(project: Project) -> None:
    django_project(
        project,
        "import json, os\nSOFT = 1\nglobals().update(json.loads(os.environ['EXTRA']))\n",
    )
    got = options(project)
    assert got["time_limit"] == (
        "unknown",
        "globals().update(...) in site_cfg/settings.py:3 sets settings the analyzer cannot read",
    )
    run = project.run(".", "--select", "CEL201,CEL205,CEL604")
    assert run.findings == [], run


def test_an_export_the_analyzer_cannot_read_makes_the_settings_unknown(project: Project) -> None:
    # The export method comes from a base class outside the project.
    django_project(
        project,
        "from configurations import Configuration\n"
        "\n"
        "class SiteSettings(Configuration):\n"
        "    CELERY_TASK_TIME_LIMIT = 300\n"
        "\n"
        "SiteSettings.export(__name__)\n",
    )
    got = options(project)
    assert got["acks_late"] == (
        "unknown",
        "SiteSettings.export(__name__) in site_cfg/settings.py:6 may set module settings the "
        "analyzer cannot read",
    )


def test_an_export_body_that_cannot_be_read_makes_the_settings_unknown(project: Project) -> None:
    django_project(
        project,
        "import sys\n"
        "\n"
        "class SiteSettings:\n"
        "    CELERY_TASK_TIME_LIMIT = 300\n"
        "\n"
        "    @classmethod\n"
        "    def export(cls, name):\n"
        "        sys.modules[name].load(cls)\n"
        "\n"
        "SiteSettings.export(__name__)\n",
    )
    assert options(project)["time_limit"][0] == "unknown"


def test_a_class_method_call_that_exports_nothing_changes_nothing(project: Project) -> None:
    django_project(
        project,
        "class SiteSettings:\n"
        "    @classmethod\n"
        "    def check(cls, name):\n"
        "        return name\n"
        "\n"
        "CELERY_TASK_TIME_LIMIT = 300\n"
        "SiteSettings.check(__name__)\n",
    )
    assert options(project)["time_limit"] == (300, "site_cfg/settings.py", 6)


def test_a_class_method_that_sets_attributes_on_the_class_exports_nothing(project: Project) -> None:
    django_project(
        project,
        "class SiteSettings:\n"
        "    CELERY_TASK_TIME_LIMIT = 300\n"
        "\n"
        "    @classmethod\n"
        "    def tag(cls, name):\n"
        "        setattr(cls, 'origin', name)\n"
        "\n"
        "SiteSettings.tag(__name__)\n",
    )
    assert options(project)["time_limit"][:2] == (None, None)


def test_an_export_from_a_class_chosen_at_run_time_is_unknown(project: Project) -> None:
    django_project(
        project,
        "import os, sys\n"
        "\n"
        "class Production:\n"
        "    CELERY_TASK_TIME_LIMIT = 300\n"
        "\n"
        "    @classmethod\n"
        "    def export(cls, name):\n"
        "        for key in dir(cls):\n"
        "            setattr(sys.modules[name], key, getattr(cls, key))\n"
        "\n"
        "class Development(Production):\n"
        "    CELERY_TASK_TIME_LIMIT = None\n"
        "\n"
        'CLASSES = {"production": Production, "development": Development}\n'
        'CLASSES[os.environ.get("ENV", "production")].export(__name__)\n',
    )
    assert options(project)["time_limit"] == (
        "unknown",
        'CLASSES[os.environ.get("ENV", "production")].export(...) in site_cfg/settings.py:15 '
        "may set module settings the analyzer cannot read",
    )


def test_the_module_dict_through_sys_modules(project: Project) -> None:
    django_project(
        project,
        "import sys\n"
        "vars(sys.modules[__name__]).update(CELERY_TASK_TIME_LIMIT=300)\n"
        'sys.modules[__name__].__dict__.update({"CELERY_TASK_ACKS_LATE": True})\n',
    )
    got = options(project)
    assert got["time_limit"] == (300, "site_cfg/settings.py", 2)
    assert got["acks_late"] == (True, "site_cfg/settings.py", 3)
