"""Small random Celery projects for the differential test (tests/test_differential.py).

:func:`generate` builds one project from a seed, deterministically (``random.Random``
seeded by the caller: the suite uses fixed seeds, ``bench/differential.py`` more of
them). A project combines the forms the project model claims to understand:

- configuration: ``Celery(...)`` keyword arguments (``task_cls`` too), ``changes=``,
  ``app.conf.update(...)`` (keywords or a dict), ``app.conf.x = ...``,
  ``app.conf["x"] = ...``, ``config_from_object`` of a module name, a module object, a
  class (with a base class), an instance, a dict literal, with or without a namespace,
  Django settings (``DJANGO_SETTINGS_MODULE``) with and without ``namespace="CELERY"``,
  settings split over modules with ``from .base import *`` chains; old
  (``CELERY_ACKS_LATE``) or new (``task_acks_late``) names, one style a source so that
  Celery does not raise ImproperlyConfigured for mixing them;
- the app built at module level or in a factory function assigned at module level;
- tasks: ``@app.task``/``@shared_task`` bare or with options, an import alias of
  ``shared_task``, a module-level alias (``limited = shared_task(max_retries=5)``),
  ``**OPTIONS`` splats of literal dicts, the call form ``app.task(fn, ...)``, project
  wrapper functions returning ``shared_task(...)``/``app.task(...)`` with options of their
  own, base classes across modules (a chain of two), the app's ``task_cls``,
  ``task_annotations`` as a dict or a list of dicts, explicit ``name=``.

A :class:`Project` is its files (relative path to text) plus what the oracle needs to
import it: the module and attribute of the app, the modules declaring tasks, and the
Django settings module if any.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Task options compared with Celery, and the setting that feeds each (if any).
OPTION_SETTING: dict[str, str | None] = {
    "time_limit": "task_time_limit",
    "soft_time_limit": "task_soft_time_limit",
    "acks_late": "task_acks_late",
    "ignore_result": "task_ignore_result",
    "serializer": "task_serializer",
    "max_retries": None,
    "queue": None,
    "rate_limit": "task_default_rate_limit",
    "track_started": "task_track_started",
    "default_retry_delay": None,
    "reject_on_worker_lost": "task_reject_on_worker_lost",
    "expires": None,
    "store_errors_even_if_ignored": "task_store_errors_even_if_ignored",
}
OPTIONS = tuple(OPTION_SETTING)

# Values as Python source (every generated module imports timedelta).
OPTION_VALUES: dict[str, list[str]] = {
    "time_limit": ["30", "60", "300", "timedelta(minutes=2)", "None"],
    "soft_time_limit": ["20", "50", "240", "timedelta(seconds=90)", "None"],
    "acks_late": ["True", "False", "None"],
    "ignore_result": ["True", "False"],
    "serializer": ["'json'", "'pickle'", "'yaml'", "'msgpack'"],
    "max_retries": ["0", "5", "10", "None"],
    "queue": ["'default'", "'high'", "'low'"],
    "rate_limit": ["'10/m'", "'100/s'", "None"],
    "track_started": ["True", "False"],
    "default_retry_delay": ["10", "60"],
    "reject_on_worker_lost": ["True", "False"],
    "expires": ["60", "3600"],
    "store_errors_even_if_ignored": ["True", "False"],
}
SETTING_OPTION = {setting: option for option, setting in OPTION_SETTING.items() if setting}
SETTINGS = (*SETTING_OPTION, "task_annotations")

# Celery's old names (celery.app.defaults; a test checks this table against it).
OLD_NAMES = {
    "task_time_limit": "CELERYD_TASK_TIME_LIMIT",
    "task_soft_time_limit": "CELERYD_TASK_SOFT_TIME_LIMIT",
    "task_acks_late": "CELERY_ACKS_LATE",
    "task_ignore_result": "CELERY_IGNORE_RESULT",
    "task_serializer": "CELERY_TASK_SERIALIZER",
    "task_default_rate_limit": "CELERY_DEFAULT_RATE_LIMIT",
    "task_track_started": "CELERY_TRACK_STARTED",
    "task_reject_on_worker_lost": "CELERY_REJECT_ON_WORKER_LOST",
    "task_store_errors_even_if_ignored": "CELERY_STORE_ERRORS_EVEN_IF_IGNORED",
    "task_annotations": "CELERY_ANNOTATIONS",
}

HEADER = "from datetime import timedelta\n"


@dataclass
class Project:
    seed: int
    files: dict[str, str] = field(default_factory=dict)
    app_module: str = "proj.celery"
    app_attr: str = "app"
    other_apps: list[tuple[str, str]] = field(default_factory=list)  # (module, attribute)
    task_modules: list[str] = field(default_factory=list)
    django_settings: str | None = None
    registered: list[str] = field(default_factory=list)  # class-based tasks, their names

    def listing(self) -> str:
        """Every file, for a failure message."""
        out = [f"# project of seed {self.seed}"]
        if self.django_settings:
            out.append(f"# DJANGO_SETTINGS_MODULE={self.django_settings}")
        for path in sorted(self.files):
            out.append(f"# ---- {path}")
            out.append(self.files[path].rstrip("\n"))
        return "\n".join(out) + "\n"


class _Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.project = Project(seed)
        self.files = self.project.files
        self.task_names: list[str] = []
        self.counter = 0

    # ------------------------------------------------------------------ helpers
    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def value(self, option: str) -> str:
        return self.r.choice(OPTION_VALUES[option])

    def some_options(self, pool: tuple[str, ...] = OPTIONS, most: int = 3) -> dict[str, str]:
        count = self.r.randint(0, most)
        return {o: self.value(o) for o in self.r.sample(list(pool), count)}

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    @staticmethod
    def kwargs(options: dict[str, str]) -> str:
        return ", ".join(f"{k}={v}" for k, v in options.items())

    # ------------------------------------------------------------------ settings
    def setting_items(self, most: int = 4) -> list[tuple[str, str]]:
        """(new name, value source) pairs; task_annotations filled in later by name."""
        out = []
        for setting in self.r.sample(list(SETTINGS), self.r.randint(0, most)):
            if setting == "task_annotations":
                out.append((setting, "<ANNOTATIONS>"))
            else:
                out.append((setting, self.value(SETTING_OPTION[setting])))
        return out

    def spelled(self, setting: str, style: str) -> str:
        if style == "old":
            return OLD_NAMES[setting]
        if style == "namespace":
            return "CELERY_" + setting.upper()
        return setting

    # ------------------------------------------------------------------ the project
    def build(self) -> Project:
        r = self.r
        self.files["proj/__init__.py"] = ""
        self.files["pyproject.toml"] = ""
        self.make_bases()
        self.make_config()
        self.make_tasks()
        # Annotations name tasks: fill them in now that the names are known.
        for path, text in list(self.files.items()):
            while "<ANNOTATIONS>" in text:
                text = text.replace("<ANNOTATIONS>", self.annotations(), 1)
            self.files[path] = text
        if r.random() < 0.3 and "proj/celery.py" in self.files and not self.project.django_settings:
            self.files["proj/__init__.py"] = (
                f"from .celery import {self.app_var}\n\n__all__ = [{self.app_var!r}]\n"
            )
        return self.project

    def annotations(self) -> str:
        def one() -> str:
            entries = []
            keys = self.r.sample(self.task_names, min(len(self.task_names), self.r.randint(0, 2)))
            if self.chance(0.5):
                keys.append("*")
            self.r.shuffle(keys)
            for key in keys:
                opts = self.some_options(most=2) or {"time_limit": "7"}
                body = ", ".join(f"{k!r}: {v}" for k, v in opts.items())
                entries.append(f"{key!r}: {{{body}}}")
            return "{" + ", ".join(entries) + "}"

        if self.chance(0.3):
            return "[" + ", ".join(one() for _ in range(self.r.randint(1, 2))) + "]"
        return one()

    # base classes: proj/base.py, BaseA(Task) and BaseB(BaseA)
    def make_bases(self) -> None:
        self.bases: list[str] = []
        if not self.chance(0.5):
            return
        a = self.some_options(most=3)
        b = self.some_options(most=2)
        lines = [HEADER, "from celery import Task", ""]
        lines += ["", "class BaseA(Task):"] + [f"    {k} = {v}" for k, v in a.items()] + ["    pass", ""]
        other = ["", "class BaseB(BaseA):"] + [f"    {k} = {v}" for k, v in b.items()] + ["    pass", ""]
        self.baseb_module = "base_more" if self.chance(0.5) else "base"
        if self.baseb_module == "base":
            lines += other
        else:
            self.files["proj/base_more.py"] = "\n".join([HEADER, "from proj.base import BaseA", "", *other])
        self.files["proj/base.py"] = "\n".join(lines)
        self.bases = ["BaseA", "BaseB"]

    # ------------------------------------------------------------------ configuration
    def make_config(self) -> None:
        r = self.r
        django = self.chance(0.25)
        factory = self.chance(0.25)
        self.app_var = "celery_app" if factory and self.chance(0.5) else "app"
        ctor_style = r.choice(["new", "new", "old"])
        ctor = ['"proj"']
        for setting, value in self.setting_items(most=2):
            ctor.append(f"{self.spelled(setting, ctor_style)}={value}")
        prelude: list[str] = []
        if self.bases and self.chance(0.4):
            if self.chance(0.5):
                ctor.append("task_cls='proj.base:BaseA'")
            else:
                prelude.append("from proj.base import BaseA")
                ctor.append("task_cls=BaseA")
        # One style for everything Celery checks together (the source, else the preconf).
        preconf_style = r.choice(["new", "new", "old"])
        source_style = r.choice(["new", "new", "old"])
        self.app_namespace = not django and self.chance(0.1)
        if self.app_namespace:
            # ``Celery(namespace="CELERY")``: the default prefix of config_from_object.
            ctor.append("namespace='CELERY'")
            source_style = "namespace"
        if self.chance(0.1):
            changes = self.setting_items(most=2)
            body = ", ".join(f"{self.spelled(s, preconf_style)!r}: {v}" for s, v in changes)
            ctor.append(f"changes={{{body}}}")
        ops: list[str] = []
        for _ in range(r.randint(0, 3)):
            ops.extend(self.preconf_op(preconf_style))
        sources: list[list[str]] = []
        if django:
            sources.append(self.django_source())
        else:
            for _ in range(r.choice([0, 1, 1, 1, 2])):
                sources.append(self.object_source(source_style))
        if sources and not django and "namespace=" not in sources[0][-1] and self.chance(0.2):
            # ``Celery(config_source=...)``: config_from_object made by the constructor.
            call = sources.pop(0)
            ctor.append("config_source=" + call[-1].removeprefix("APP.config_from_object(")[:-1])
        # The configuration calls in a random order (only the last config_from_object counts).
        statements = ops[:]
        for source in sources:
            statements.insert(r.randint(0, len(statements)), "\n".join(source))
        v = "a" if factory else self.app_var
        body = [f"{v} = Celery({', '.join(ctor)})"]
        body += [s.replace("APP", v) for s in statements]
        lines = [HEADER, "import os", "", "from celery import Celery"]
        lines += prelude
        if self.project.django_settings and self.chance(0.3):
            # The settings module named in manage.py only.
            self.files["manage.py"] = (
                "import os\n\n"
                f"os.environ.setdefault('DJANGO_SETTINGS_MODULE', '{self.project.django_settings}')\n"
            )
        elif self.project.django_settings:
            lines += [
                "",
                f"os.environ.setdefault('DJANGO_SETTINGS_MODULE', '{self.project.django_settings}')",
            ]
        lines += [""]
        lines += self.config_prelude
        if factory:
            lines += ["", "def create_app():"]
            lines += ["    " + line for s in body for line in s.split("\n")]
            lines += ["    return a", "", "", f"{self.app_var} = create_app()"]
        else:
            lines += body
        self.files["proj/celery.py"] = "\n".join(lines) + "\n"
        self.project.app_attr = self.app_var

    config_prelude: list[str]

    def preconf_op(self, style: str) -> list[str]:
        items = self.setting_items(most=3)
        if not items:
            return []
        form = self.r.choice(
            ["update", "update_dict", "attr", "item", "setdefault", "update_name", "update_splat"]
        )
        if self.chance(0.05):
            form = "conditional"
        elif self.chance(0.05):
            form = "environment"
        if form in ("update_name", "update_splat"):
            # A module-level dict of settings, given whole or as ``**``.
            name = self.fresh("SETTINGS")
            body = ", ".join(f"{self.spelled(s, style)!r}: {v}" for s, v in items)
            self.config_prelude.append(f"{name} = {{{body}}}")
            return [f"APP.conf.update({'**' if form == 'update_splat' else ''}{name})"]
        if form == "conditional":
            # Celery sees the write only when the variable is set (it is not): unknown.
            setting, value = items[0]
            return [
                f"if os.environ.get('DIFFERENTIAL_FLAG'):\n    APP.conf.{self.spelled(setting, style)} = {value}"
            ]
        if form == "environment":
            setting = self.r.choice(["task_time_limit", "task_soft_time_limit"])
            return [
                f"APP.conf.{self.spelled(setting, style)} = int(os.environ.get('DIFFERENTIAL_LIMIT', '45'))"
            ]
        if form == "setdefault":
            return [f"APP.conf.setdefault({self.spelled(s, style)!r}, {v})" for s, v in items]
        if form == "update":
            return [f"APP.conf.update({', '.join(f'{self.spelled(s, style)}={v}' for s, v in items)})"]
        if form == "update_dict":
            body = ", ".join(f"{self.spelled(s, style)!r}: {v}" for s, v in items)
            return [f"APP.conf.update({{{body}}})"]
        if form == "attr":
            return [f"APP.conf.{self.spelled(s, style)} = {v}" for s, v in items]
        return [f"APP.conf[{self.spelled(s, style)!r}] = {v}" for s, v in items]

    def assignments(self, items: list[tuple[str, str]], style: str) -> list[str]:
        return [f"{self.spelled(s, style)} = {v}" for s, v in items]

    def star_chain(
        self, module: str, style: str, extra: list[str] | None = None, package: bool = False
    ) -> None:
        """``proj/<module>.py`` of settings, maybe star-importing one or two more modules
        (``proj/<module>/__init__.py`` and modules beside it for a package)."""
        depth = self.r.choice([0, 0, 1, 2])
        if package:
            depth = max(depth, 1)
            names = ["__init__"] + [f"base{i}" for i in range(1, depth + 1)]
        else:
            names = [module] + [f"{module}_base{i}" for i in range(1, depth + 1)]
        for i, name in enumerate(names):
            lines = self.assignments(self.setting_items(), style)
            if i == len(names) - 1 and extra:
                lines = extra + lines
            if i + 1 < len(names):
                lines.insert(self.r.randint(0, len(lines)), f"from .{names[i + 1]} import *  # noqa: F403")
            path = f"proj/{module}/{name}.py" if package else f"proj/{name}.py"
            self.files[path] = HEADER + "\n" + "\n".join(lines) + "\n"

    def object_source(self, style: str) -> list[str]:
        r = self.r
        namespace = ""
        if getattr(self, "app_namespace", False):
            pass
        elif self.chance(0.15):
            style, namespace = "namespace", ", namespace='CELERY'"
        kind = r.choice(["module", "module", "module_object", "class", "instance", "dict"])
        self.config_prelude = getattr(self, "config_prelude", [])
        if kind in ("module", "module_object"):
            name = self.fresh("celeryconfig")
            self.star_chain(name, style)
            if kind == "module":
                return [f"APP.config_from_object('proj.{name}'{namespace})"]
            self.config_prelude.append(f"from proj import {name}")
            return [f"APP.config_from_object({name}{namespace})"]
        if kind == "dict":
            items = self.setting_items()
            body = ", ".join(f"{self.spelled(s, style)!r}: {v}" for s, v in items)
            return [f"APP.config_from_object({{{body}}}{namespace})"]
        # A class (with a base class) defined in celery.py or in a module of its own.
        name = self.fresh("Config")
        base_lines = self.assignments(self.setting_items(most=2), style)
        own = self.assignments(self.setting_items(), style)
        text = [f"class {name}Base:"] + ["    " + x for x in base_lines] + ["    pass", ""]
        text += [f"class {name}({name}Base):"] + ["    " + x for x in own] + ["    pass", ""]
        if self.chance(0.5):
            module = self.fresh("config_classes")
            self.files[f"proj/{module}.py"] = HEADER + "\n\n" + "\n".join(text)
            if kind == "class" and self.chance(0.4):
                return [f"APP.config_from_object('proj.{module}:{name}'{namespace})"]
            self.config_prelude.append(f"from proj.{module} import {name}")
        else:
            self.config_prelude.extend(["", *text])
        target = f"{name}()" if kind == "instance" else name
        return [f"APP.config_from_object({target}{namespace})"]

    def django_source(self) -> list[str]:
        self.project.django_settings = "proj.settings"
        namespaced = self.chance(0.6)
        style = "namespace" if namespaced else "old"
        django_lines = ["SECRET_KEY = 'differential'", "INSTALLED_APPS = []"]
        package = self.chance(0.3)
        self.star_chain("settings", style, extra=django_lines, package=package)
        top = "proj/settings/__init__.py" if package else "proj/settings.py"
        if namespaced and self.chance(0.3):
            # An old name under the namespace: honoured when the prefixed name is absent.
            setting, value = self.r.choice(self.setting_items(most=1) or [("task_acks_late", "True")])
            self.files[top] += f"{OLD_NAMES[setting]} = {value}\n"
        if self.chance(0.2):
            # Lowercase names are not Django settings.
            self.files[top] += "task_time_limit = 11\n"
        self.config_prelude = getattr(self, "config_prelude", [])
        namespace = ", namespace='CELERY'" if namespaced else ""
        return [f"APP.config_from_object('django.conf:settings'{namespace})"]

    # ------------------------------------------------------------------ tasks
    def make_other_app(self) -> None:
        """A second app in the project: ``shared_task`` tasks belong to both."""
        style = self.r.choice(["new", "old"])
        ctor = ['"other"', *(f"{self.spelled(s, style)}={v}" for s, v in self.setting_items(most=3))]
        prelude = self.config_prelude
        self.config_prelude = []
        ops = [
            line.replace("APP", "other")
            for _ in range(self.r.randint(0, 1))
            for line in self.preconf_op(style)
        ]
        self.files["proj/other_app.py"] = (
            "\n".join(
                [
                    HEADER,
                    "import os",
                    "",
                    "from celery import Celery",
                    "",
                    f"other = Celery({', '.join(ctor)})",
                    *ops,
                ]
            )
            + "\n"
        )
        self.config_prelude, leftover = prelude, self.config_prelude
        if leftover:  # module-level settings dicts the operations use
            self.files["proj/other_app.py"] = self.files["proj/other_app.py"].replace(
                "\nother = Celery(", "\n" + "\n".join(leftover) + "\n\nother = Celery(", 1
            )
        self.project.other_apps.append(("proj.other_app", "other"))

    def make_tasks(self) -> None:
        r = self.r
        if self.chance(0.12):
            self.make_other_app()
        modules = ["tasks"] + (["jobs"] if self.chance(0.4) else [])
        wrappers = self.make_wrappers()
        for module in modules:
            dotted = f"proj.{module}"
            lines = [
                HEADER,
                "from celery import Task, shared_task",
                "from celery import shared_task as task_alias",
            ]
            lines += [f"from proj.celery import {self.app_var}"]
            if self.project.other_apps:
                lines.append("from proj.other_app import other")
            if self.bases:
                more = self.baseb_module
                if self.chance(0.5):
                    lines.append("from proj.base import BaseA")
                    lines.append(f"from proj.{more} import BaseB")
                    base_ref = {"BaseA": "BaseA", "BaseB": "BaseB"}
                else:
                    lines.append(f"from proj import {', '.join(sorted({'base', more}))}")
                    base_ref = {"BaseA": "base.BaseA", "BaseB": f"{more}.BaseB"}
            if wrappers:
                lines.append("from proj.wrappers import " + ", ".join(wrappers))
            lines.append("")
            splat = None
            if self.chance(0.3):
                splat = self.some_options(most=2) or {"max_retries": "2"}
                body = ", ".join(f"{k!r}: {v}" for k, v in splat.items())
                lines.append(f"OPTIONS = {{{body}}}")
            if self.chance(0.3):
                alias_opts = self.some_options(most=2)
                lines.append(
                    f"limited = {r.choice(['shared_task', self.app_var + '.task'])}({self.kwargs(alias_opts)})"
                )
            alias = "limited" if any(line.startswith("limited =") for line in lines) else None
            for _ in range(r.randint(1, 4)):
                lines += self.task(dotted, wrappers, splat, alias, base_ref if self.bases else {})
            self.files[f"proj/{module}.py"] = "\n".join(lines) + "\n"
            self.project.task_modules.append(dotted)

    def make_wrappers(self) -> list[str]:
        if not self.chance(0.35):
            return []
        names = []
        lines = [HEADER, "from celery import shared_task", f"from proj.celery import {self.app_var}", ""]
        for _ in range(self.r.randint(1, 2)):
            name = self.fresh("task_with_defaults")
            fixed = self.some_options(most=2)
            defaults = {k: v for k, v in self.some_options(most=1).items() if k not in fixed}
            maker = self.r.choice(["shared_task", f"{self.app_var}.task"])
            body = [f"def {name}(**options):"]
            body += [f"    options.setdefault({k!r}, {v})" for k, v in defaults.items()]
            forced = {
                k: v for k, v in self.some_options(most=1).items() if k not in fixed and k not in defaults
            }
            body += [f"    options[{k!r}] = {v}" for k, v in forced.items()]
            call_args = [*(f"{k}={v}" for k, v in fixed.items()), "**options"]
            body += [f"    return {maker}({', '.join(call_args)})", "", ""]
            lines += ["", *body]
            names.append(name)
            self.wrapper_fixed = getattr(self, "wrapper_fixed", {})
            self.wrapper_fixed[name] = set(fixed)
        self.files["proj/wrappers.py"] = "\n".join(lines)
        return names

    def task(
        self,
        module: str,
        wrappers: list[str],
        splat: dict[str, str] | None,
        alias: str | None,
        base_ref: dict[str, str],
    ) -> list[str]:
        r = self.r
        func = self.fresh("work")
        options = self.some_options(most=3)
        if base_ref and self.chance(0.4):
            options["base"] = base_ref[r.choice(["BaseA", "BaseB"])]
        name = f"{module}.{func}"
        if self.chance(0.1):
            name = f"custom.{func}"
            options["name"] = repr(name)
        kinds = ["app", "app_bare", "shared", "shared_bare", "alias_import", "call_form"]
        if wrappers:
            kinds += ["wrapper", "wrapper"]
        if splat is not None:
            kinds += ["splat", "splat"]
        if alias is not None:
            kinds += ["alias"]
        if wrappers and self.chance(0.3):
            kinds += ["wrapper_alias"]
        if self.bases or self.chance(0.3):
            kinds += ["class"]
        kind = r.choice(kinds)
        app = self.app_var
        if self.project.other_apps and kind in ("app", "app_bare") and self.chance(0.4):
            app = "other"
        lines = ["", ""]
        if kind == "class":
            klass = f"Work{self.counter}"
            parent = r.choice(["Task", f"{app}.Task", *base_ref.values()])
            name = f"{module}.{klass}"
            lines += [f"class {klass}({parent}):", f"    name = {name!r}"]
            lines += [f"    {k} = {v}" for k, v in options.items() if k not in ("base", "name")]
            lines += ["", "    def run(self):", "        return 1", "", ""]
            lines += [f"{app}.register_task({klass}())"]
            self.task_names.append(name)
            return lines
        if kind == "splat":
            assert splat is not None
            options = {k: v for k, v in options.items() if k not in splat}
            lines.append(
                f"@{app}.task({self.kwargs({**options, '**OPTIONS': ''}).replace('**OPTIONS=', '**OPTIONS')})"
            )
        elif kind == "app_bare":
            lines.append(f"@{app}.task")
        elif kind == "shared_bare":
            lines.append("@shared_task")
        elif kind == "app":
            lines.append(f"@{app}.task({self.kwargs(options)})")
        elif kind == "shared":
            lines.append(f"@shared_task({self.kwargs(options)})")
        elif kind == "alias_import":
            lines.append(f"@task_alias({self.kwargs(options)})")
        elif kind == "alias":
            lines.append(f"@{alias}")
        elif kind == "wrapper_alias":
            # ``periodic = task_with_defaults1(queue='low')`` once, then ``@periodic``.
            wrapper = r.choice(wrappers)
            options = {k: v for k, v in options.items() if k not in self.wrapper_fixed[wrapper]}
            alias_name = f"applied{self.counter}"
            lines = ["", "", f"{alias_name} = {wrapper}({self.kwargs(options)})", "", ""]
            lines.append(f"@{alias_name}")
        elif kind == "wrapper":
            wrapper = r.choice(wrappers)
            options = {k: v for k, v in options.items() if k not in self.wrapper_fixed[wrapper]}
            lines.append(f"@{wrapper}({self.kwargs(options)})")
        if kind in ("app_bare", "shared_bare", "alias"):
            name = f"{module}.{func}"
        if kind == "call_form":
            inner = f"_{func}"
            lines += [f"def {inner}():", "    return 1", "", ""]
            maker = r.choice([f"{app}.task", "shared_task"])
            if maker == "shared_task":
                lines.append(f"{func} = shared_task({self.kwargs(options)})({inner})")
            else:
                lines.append(
                    f"{func} = {app}.task({', '.join([inner, *(f'{k}={v}' for k, v in options.items())])})"
                )
            if "name" not in options:
                name = f"{module}.{inner}"
            self.task_names.append(name)
            return lines
        lines += [f"def {func}():", "    return 1"]
        self.task_names.append(name)
        return lines


def generate(seed: int) -> Project:
    """One project, the same for the same seed."""
    gen = _Gen(seed)
    gen.config_prelude = []
    return gen.build()


# ---------------------------------------------------------------------- one round of the comparison
@dataclass
class Disagreement:
    project: Project
    task: str
    option: str
    analyzer: object
    celery: object
    source: object = None
    conf: dict[str, object] | None = None  # the live app's task settings

    def __str__(self) -> str:
        conf = f"# the live app's settings: {self.conf}\n" if self.conf else ""
        return (
            f"seed {self.project.seed}, task {self.task}, {self.option}: celery-lint says"
            f" {self.analyzer!r} (source {self.source}), Celery says {self.celery!r}\n"
            + conf
            + self.project.listing()
        )


@dataclass
class Report:
    projects: int = 0
    tasks: int = 0
    compared: int = 0
    unknown: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)
    unknown_reasons: dict[str, int] = field(default_factory=dict)
    unknown_seed: dict[str, int] = field(default_factory=dict)  # a project showing each reason
    seconds: float = 0.0

    @property
    def share_known(self) -> float:
        total = self.compared + self.unknown
        return self.compared / total if total else 1.0

    def summary(self) -> str:
        return (
            f"{self.projects} projects, {self.tasks} tasks, {self.compared + self.unknown} options:"
            f" {self.compared} compared, {self.unknown} unknown, {len(self.disagreements)} disagreements,"
            f" share known {self.share_known:.3f}, {self.seconds:.1f} s"
        )

    def unknown_lines(self) -> list[str]:
        ranked = sorted(self.unknown_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        return [f"  {count:5d}  {reason} (seed {self.unknown_seed.get(reason)})" for reason, count in ranked]


def same(analyzer: object, live: object) -> bool:
    if isinstance(analyzer, bool) or isinstance(live, bool):
        return type(analyzer) is type(live) and analyzer == live
    if isinstance(analyzer, (int, float)) and isinstance(live, (int, float)):
        return float(analyzer) == float(live)
    return analyzer == live


def write_projects(
    parent: object, seeds: list[int], extra: list[Project] | None = None
) -> list[tuple[str, Project]]:
    from pathlib import Path

    out = []
    projects = [generate(seed) for seed in seeds] + list(extra or [])
    for index, project in enumerate(projects):
        folder = f"p{project.seed}" if project.seed >= 0 else f"x{index}"
        root = Path(str(parent)) / folder
        for relpath, text in project.files.items():
            path = root / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        out.append((folder, project))
    return out


def analyzer_inventory(parent: object) -> dict[str, object]:
    """``celery-lint tasks --format json`` over every project under ``parent`` (one run)."""
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery_lint",
            "tasks",
            "--format",
            "json",
            "--option",
            ",".join(OPTIONS),
            ".",
        ],
        cwd=str(parent),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if completed.returncode != 0 or "Traceback" in completed.stderr:
        raise RuntimeError(f"celery-lint tasks failed ({completed.returncode}):\n{completed.stderr}")
    data: dict[str, object] = json.loads(completed.stdout)
    return data


def compare_round(parent: object, seeds: list[int], extra: list[Project] | None = None) -> Report:
    """Generate the projects of ``seeds`` under ``parent``, ask celery-lint and Celery, compare."""
    import time
    from pathlib import Path

    from celery_oracle import run_oracle

    started = time.perf_counter()
    report = Report()
    written = write_projects(parent, seeds, extra)
    inventory = analyzer_inventory(parent)
    requests = [
        {
            "root": str(Path(str(parent)) / folder),
            "app_module": project.app_module,
            "app_attr": project.app_attr,
            "other_apps": project.other_apps,
            "task_modules": project.task_modules,
            "django_settings": project.django_settings,
            "options": list(OPTIONS),
            "settings": list(SETTINGS),
        }
        for folder, project in written
    ]
    results = run_oracle(requests)
    by_folder: dict[str, list[dict[str, object]]] = {}
    for task in inventory["tasks"]:  # type: ignore[attr-defined]
        by_folder.setdefault(str(task["path"]).replace("\\", "/").split("/", 1)[0], []).append(task)
    for (folder, project), live in zip(written, results, strict=True):
        report.projects += 1
        if "error" in live:
            report.disagreements.append(Disagreement(project, "-", "import", None, live["error"]))
            continue
        before = len(report.disagreements)
        _compare_project(report, project, by_folder.get(folder, []), live["tasks"])  # type: ignore[arg-type]
        for disagreement in report.disagreements[before:]:
            disagreement.conf = live.get("conf")  # type: ignore[assignment]
    report.seconds = time.perf_counter() - started
    return report


def _compare_project(
    report: Report,
    project: Project,
    found: list[dict[str, object]],
    live: dict[str, dict[str, dict[str, object]]],
) -> None:
    """``live``: each app's tasks. A task is compared with its value in the apps celery-lint
    names for it (one value where they agree); tasks the main app holds must be found."""
    from celery_oracle import DIFFERS

    main = project.app_attr
    named: dict[str, list[dict[str, object]]] = {}
    unnamed = [t for t in found if t["name"] is None]
    for task in found:
        if task["name"] is not None:
            named.setdefault(str(task["name"]), []).append(task)
    for name in named:
        if not any(name in tasks for tasks in live.values()):
            report.disagreements.append(Disagreement(project, name, "task", "a task", "no such task"))
    wanted = set(live.get(main, {}))
    for tasks in live.values():  # a task of another app, declared on it
        wanted |= {n for n in tasks if n in named}
    for name in sorted(wanted):
        report.tasks += 1
        entries = named.get(name, [])
        if not entries:
            count = len(OPTIONS)
            if unnamed:
                report.unknown += count
                reason = "task name unknown"
                report.unknown_reasons[reason] = report.unknown_reasons.get(reason, 0) + count
                report.unknown_seed.setdefault(reason, project.seed)
            else:
                report.disagreements.append(Disagreement(project, name, "task", "no such task", "a task"))
            continue
        if len(entries) > 1:
            report.disagreements.append(Disagreement(project, name, "task", "several tasks", "one task"))
            continue
        apps = [str(a) for a in entries[0]["apps"]] or [main]  # type: ignore[attr-defined]
        values = [live[a][name] for a in apps if a in live and name in live[a]]
        if not values:
            report.disagreements.append(
                Disagreement(project, name, "apps", apps, sorted(a for a in live if name in live[a]))
            )
            continue
        entry = entries[0]["options"]  # type: ignore[index]
        for option in OPTIONS:
            seen = [v[option] for v in values]
            value = seen[0] if all(same(x, seen[0]) for x in seen) else DIFFERS
            got = entry[option]  # type: ignore[index]
            if got["unknown"] is not None:
                report.unknown += 1
                reason = str(got["unknown"])
                report.unknown_reasons[reason] = report.unknown_reasons.get(reason, 0) + 1
                report.unknown_seed.setdefault(reason, project.seed)
                continue
            report.compared += 1
            if not same(got["value"], value):
                report.disagreements.append(
                    Disagreement(project, name, option, got["value"], value, got["source"])
                )
