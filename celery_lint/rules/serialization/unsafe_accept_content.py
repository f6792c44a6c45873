from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...fixes import Fix, replace, string_like, with_elements
from ...project.values import Known
from ..base import Invalid, Rule, Valid
from ..support import is_pickle

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

ACCEPT_SETTINGS = frozenset({"accept_content", "result_accept_content"})


class UnsafeAcceptContent(Rule):
    """
    ## What it does
    Checks for `accept_content` or `result_accept_content` lists that admit pickle
    (`'pickle'` or `'application/x-python-serialize'`), in any configuration form.

    ## Why is this bad?
    The accept list is what a worker agrees to deserialize. Even when every producer
    sends JSON, a worker that accepts pickle runs whatever pickle a broker writer sends.
    Celery also refuses to start a worker as root with pickle accepted.

    ## Example
    ```python
    app.conf.accept_content = ["json", "pickle"]
    ```

    ## Use instead
    ```python
    app.conf.accept_content = ["json"]
    ```

    ## Fix safety
    Unsafe (`--fix --unsafe-fixes`): workers then refuse every pickle message, the ones
    already queued included, and the tasks of a client still sending pickle are
    rejected: switch the clients to JSON (CEL101, CEL103) and let the queues drain
    first. The fix edits the list, tuple or set literal where it is written, in the same
    configuration form: a pickle entry is removed when the list also accepts JSON
    (`'json'` or `'application/json'`), else it becomes JSON in the same spelling
    (`'pickle'` -> `'json'`, `'application/x-python-serialize'` -> `'application/json'`),
    so that a serializer CEL101 switches to JSON stays accepted. A list given through a name or computed is
    left alone.

    ## References
    - Celery, *Configuration*: `accept_content`
    """

    CODE = "CEL102"
    NAME = "unsafe-accept-content"
    MESSAGE = "`{key}` accepts pickle ({form}): workers will deserialize code from the broker"
    FIX_TITLE = "accept only `json`"
    SKIP_TEST_CODE = True
    FIX_SAFETY = "unsafe"
    AUTOFIX_TITLE = "Accept `json` instead of pickle"

    VALID = [
        Valid("from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = ['json']\n"),
        Valid(
            "from celery import Celery\napp = Celery('proj', accept_content=['json', 'msgpack', 'yaml'])\n"
        ),
        Valid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.result_accept_content = ('application/json',)\n"
        ),
    ]
    INVALID = [
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = ['json', 'pickle']\n",
            line=3,
            column=1,
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = ['json']\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj', task_serializer='json', accept_content={'application/x-python-serialize'})\n",
            line=2,
            column=46,
            note="even when the serializers are json",
            fixed="from celery import Celery\napp = Celery('proj', task_serializer='json', accept_content={'application/json'})\n",
        ),
        Invalid(
            "CELERY_ACCEPT_CONTENT = ['pickle', 'json']\n",
            path="proj/settings.py",
            files={
                "proj/celery.py": (
                    "import os\nfrom celery import Celery\n"
                    "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
                    "app = Celery('proj')\n"
                    "app.config_from_object('django.conf:settings', namespace='CELERY')\n"
                ),
            },
            line=1,
            column=1,
            fixed="CELERY_ACCEPT_CONTENT = ['json']\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.update({'result_accept_content': ['pickle']})\n",
            line=3,
            column=18,
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.update({'result_accept_content': ['json']})\n",
        ),
        Invalid(
            "accept_content = (\n    'pickle',\n    'msgpack',\n)\n",
            path="celeryconfig.py",
            files={
                "proj/celery.py": "from celery import Celery\napp = Celery('proj')\napp.config_from_object('celeryconfig')\n"
            },
            line=1,
            column=1,
            note="a tuple over several lines, without json: pickle becomes json",
            fixed="accept_content = (\n    'json',\n    'msgpack',\n)\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = ('json', 'pickle', 'application/x-python-serialize')\n",
            line=3,
            column=1,
            note="both spellings",
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = ('json',)\n",
        ),
        Invalid(
            "from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = 'pickle'\n",
            line=3,
            column=1,
            note="a single string",
            fixed="from celery import Celery\napp = Celery('proj')\napp.conf.accept_content = 'json'\n",
        ),
        Invalid(
            "from celery import Celery\nACCEPT = ['json', 'pickle']\napp = Celery('proj')\napp.conf.accept_content = ACCEPT\n",
            line=4,
            column=1,
            note="a list through a name: no fix",
        ),
    ]

    def check(self) -> None:
        project = self.project
        for write in project.config_writes():
            if write.setting not in ACCEPT_SETTINGS or write.value is None:
                continue
            value = project.write_value(write)
            if not isinstance(value, Known):
                continue
            items: Iterable[object]
            if isinstance(value.value, str):
                items = [value.value]
            elif isinstance(value.value, (list, tuple, frozenset, set)):
                items = value.value
            else:
                continue
            if any(is_pickle(item) for item in items):
                self.report(
                    write.node,
                    self.message(key=write.key, form=write.form),
                    fix=self._fix(write.value),
                )

    def _fix(self, value: cst.BaseExpression) -> Fix | None:
        title = self.AUTOFIX_TITLE or ""
        if isinstance(value, cst.SimpleString):
            text = value.evaluated_value
            return replace(value, string_like(value, _json_for(text)), title) if is_pickle(text) else None
        if not isinstance(value, (cst.List, cst.Tuple, cst.Set)):
            return None
        strings: list[object] = [
            e.value.evaluated_value
            if isinstance(e, cst.Element) and isinstance(e.value, cst.SimpleString)
            else None
            for e in value.elements
        ]
        has_json = any(
            isinstance(s, str) and s.strip().lower() in ("json", "application/json") for s in strings
        )
        changes: dict[int, cst.BaseElement | None] = {}
        for index, (element, item) in enumerate(zip(value.elements, strings, strict=True)):
            if not is_pickle(item):
                continue
            if has_json:
                changes[index] = None
            else:
                assert isinstance(element, cst.Element) and isinstance(element.value, cst.SimpleString)
                changes[index] = element.with_changes(value=string_like(element.value, _json_for(item)))
                has_json = True
        new = with_elements(value, changes)
        return replace(value, new, title) if new is not None and changes else None


def _json_for(pickle_name: object) -> str:
    """``json`` for ``pickle``, ``application/json`` for ``application/x-python-serialize``."""
    return "application/json" if str(pickle_name).strip().lower().startswith("application/") else "json"
