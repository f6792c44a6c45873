"""Apps built inside project functions and held by project objects (REAL-WORLD-SHAPES S1).

Celery finds an app as any module attribute that is a ``Celery`` instance, so
``app = build_app()`` is the app ``build_app`` returns, configured as the function
configured its local; ``self.celery = Celery(...)`` in a method makes
``Holder(...).celery`` an app. Parameters and locals are computed values.
"""

from __future__ import annotations

from pathlib import Path

from celery_lint.project.model import ProjectModel
from celery_lint.project.values import Known, Unknown


def model_of(root: Path, files: dict[str, str]) -> ProjectModel:
    (root / "pyproject.toml").write_text("", "utf-8")
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    model = ProjectModel(root)
    model.build()
    return model


FACTORY = """\
from celery import Celery

def build_app(broker_url):
    application = Celery("proj", broker=broker_url)
    application.conf.task_time_limit = 60
    application.conf.task_default_queue = queue
    return application

queue = "elsewhere"
broker_url = "redis://module-level"
app = build_app("redis://given")
"""


def test_returned_local_is_the_app_with_its_configuration(tmp_path: Path) -> None:
    model = model_of(tmp_path, {"proj/__init__.py": "", "proj/worker.py": FACTORY})
    assert [app.label for app in model.apps] == ["proj.worker.app"]
    app = model.apps[0]
    limit = model.setting(app, "task_time_limit")
    assert isinstance(limit, Known) and limit.value == 60
    # A module-level name the function does not shadow is read as written.
    queue = model.setting(app, "task_default_queue")
    assert isinstance(queue, Known) and queue.value == "elsewhere"
    # The parameter shadows the module's broker_url: computed, never the module's value.
    assert isinstance(model.setting(app, "broker_url"), Unknown)


def test_factory_in_another_module_and_tasks_find_it(tmp_path: Path) -> None:
    model = model_of(
        tmp_path,
        {
            "proj/__init__.py": "",
            "proj/factory.py": FACTORY.split("\nqueue =")[0],
            "proj/worker.py": "from proj.factory import build_app\napp = build_app('x')\n",
            "proj/jobs.py": "from proj.worker import app\n\n@app.task\ndef refresh():\n    pass\n",
        },
    )
    assert len(model.apps) == 1
    assert [task.function_name for task in model.tasks] == ["refresh"]


def test_app_passed_to_unknown_code_is_opaque(tmp_path: Path) -> None:
    source = FACTORY.replace("    return application", "    configure(application)\n    return application")
    model = model_of(tmp_path, {"proj/__init__.py": "", "proj/worker.py": source})
    assert isinstance(model.setting(model.apps[0], "task_acks_late"), Unknown)


def test_a_function_that_rebinds_its_local_is_not_a_factory(tmp_path: Path) -> None:
    source = FACTORY.replace(
        "    return application", "    application = wrap(application)\n    return application"
    )
    model = model_of(tmp_path, {"proj/__init__.py": "", "proj/worker.py": source})
    assert model.apps == []


def test_set_default_registers_the_app_without_a_binding(tmp_path: Path) -> None:
    source = (
        "from celery import Celery\n\n"
        "def init_app(flask_app):\n"
        "    celery_app = Celery(flask_app.name)\n"
        "    celery_app.set_default()\n"
        "    flask_app.extensions['celery'] = celery_app\n"
    )
    model = model_of(tmp_path, {"web/__init__.py": "", "web/app.py": source})
    assert [app.label for app in model.apps] == ["web.app.celery_app"]


def test_attribute_of_a_holder_object_is_the_app(tmp_path: Path) -> None:
    ext = (
        "from celery import Celery\n\n"
        "class Ext:\n"
        "    def __init__(self, app=None):\n"
        "        self.celery = None\n"
        "        if app is not None:\n"
        "            self.init_app(app)\n\n"
        "    def init_app(self, app):\n"
        "        self.celery = Celery(app.import_name)\n"
        "        self.celery.conf.task_time_limit = 300\n"
    )
    model = model_of(
        tmp_path,
        {
            "web/__init__.py": "from web.ext import Ext\nholder = Ext(object())\ncelery = holder.celery\n",
            "web/ext.py": ext,
            "web/tasks.py": "from web import celery\n\n@celery.task\ndef rebuild():\n    pass\n",
        },
    )
    assert len(model.apps) == 1
    limit = model.setting(model.apps[0], "task_time_limit")
    assert isinstance(limit, Known) and limit.value == 300
    assert [task.function_name for task in model.tasks] == ["rebuild"]


def test_self_referencing_binding_does_not_recurse(tmp_path: Path) -> None:
    source = "from celery import Celery\nthing = thing.make()\nother = thing.celery\n"
    model = model_of(tmp_path, {"proj/__init__.py": "", "proj/worker.py": source})
    assert model.apps == []


def test_config_from_object_of_a_runtime_mapping_leaves_unnamed_settings_unset(tmp_path: Path) -> None:
    """``config_from_object(flask_app.config["CELERY"])``: configuration only the running
    process has. A setting no file names is Celery's default, with that source recorded
    for messages; a setting some file names stays unknown."""
    source = (
        "from celery import Celery\n\n"
        "def init_app(flask_app):\n"
        "    celery_app = Celery(flask_app.name)\n"
        "    celery_app.config_from_object(flask_app.config['CELERY'])\n"
        "    celery_app.set_default()\n"
        "    return celery_app\n"
    )
    settings = "CELERY = {'task_acks_late': True}\n"
    model = model_of(tmp_path, {"web/__init__.py": "", "web/app.py": source, "web/settings.py": settings})
    (app,) = model.apps
    limit = model.setting(app, "task_time_limit")
    assert isinstance(limit, Known) and limit.value is None, limit
    assert any(
        "config_from_object(flask_app.config['CELERY']) in web/app.py:5" in s for s in limit.origin.runtime
    )
    assert isinstance(model.setting(app, "task_acks_late"), Unknown)


def test_a_runtime_mapping_is_named_where_the_app_reads_it(tmp_path: Path) -> None:
    """``celery.conf.update(flask_app.config)`` with the Flask config loaded lines before:
    messages point at the ``conf.update``, not at the first line that mentions the mapping."""
    source = (
        "from celery import Celery\nfrom flask import Flask\n\n"
        "def create_app():\n"
        "    app = Flask('web')\n"
        "    app.config.from_envvar('WEB_SETTINGS')\n"
        "    return app\n\n"
        "def make_celery(app):\n"
        "    celery = Celery(app.import_name)\n"
        "    celery.conf.update(app.config)\n"
        "    return celery\n\n"
        "celery_app = make_celery(create_app())\n"
    )
    model = model_of(tmp_path, {"web/__init__.py": "", "web/worker.py": source})
    (app,) = model.apps
    limit = model.setting(app, "task_time_limit")
    assert isinstance(limit, Known) and limit.value is None, limit
    assert limit.origin.runtime == ("conf.update(app.config) in web/worker.py:11",), limit.origin.runtime


def test_config_from_object_of_a_module_name_stays_unknown(tmp_path: Path) -> None:
    """A module name read from the environment, or handed to a factory, may name a module
    of the repository: the configuration stays unknown, not unset."""
    source = (
        "import os\nfrom celery import Celery\n\n"
        "env_app = Celery('env')\n"
        "env_app.config_from_object(os.getenv('CELERY_CONFIG'))\n\n"
        "def build(config_module):\n"
        "    built = Celery('built')\n"
        "    built.config_from_object(config_module)\n"
        "    return built\n\n"
        "app = build('web.celeryconfig')\n"
    )
    model = model_of(tmp_path, {"web/__init__.py": "", "web/app.py": source})
    assert len(model.apps) == 2
    for app in model.apps:
        assert isinstance(model.setting(app, "task_time_limit"), Unknown), app.label


def test_an_app_class_name_rebound_in_a_branch_still_makes_the_app(tmp_path: Path) -> None:
    """``Celery = celery.Celery``, then in an ``if`` ``Celery = SentryCelery`` (a subclass),
    then ``app = Celery(...)`` (onadata): whichever binding runs, the call makes an app,
    configured as written; a name that may also be another class makes none."""
    source = (
        "import os\n\nimport celery\n\n\n"
        "Celery = celery.Celery\n"
        "if os.environ.get('SENTRY_DSN'):\n"
        "    class SentryCelery(celery.Celery):\n"
        "        def on_configure(self):\n"
        "            pass\n\n"
        "    Celery = SentryCelery\n\n"
        "app = Celery('proj')\n"
        "app.conf.task_time_limit = 30\n\n\n"
        "@app.task\ndef ping():\n    return 'pong'\n"
    )
    model = model_of(tmp_path, {"proj/__init__.py": "", "proj/celery.py": source})
    (app,) = model.apps
    limit = model.setting(app, "task_time_limit")
    assert isinstance(limit, Known) and limit.value == 30, limit
    assert [task.node.name.value for task in model.tasks] == ["ping"]
    other = source.replace("    Celery = SentryCelery\n", "    Celery = dict\n")
    (tmp_path / "other").mkdir()
    model = model_of(tmp_path / "other", {"proj/__init__.py": "", "proj/celery.py": other})
    assert model.apps == []
