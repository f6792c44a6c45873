from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...project.helper_texts import Reach
from ...project.walk import Walker
from ..base import Invalid, Rule, Valid
from ..following import Following

if TYPE_CHECKING:
    import libcst as cst
else:
    from ..._lazy_libcst import cst

# What a likely large value looks like as text (see ``_describe``).
FOLLOW = Reach(
    re.compile(
        rb"\.(?:read|json|content|text|fetchall|all|values|values_list|filter|exclude|order_by)\b"
        rb"|\b(?:list|tuple)\(|DataFrame|read_(?:csv|sql|json|excel|parquet)|b(?:64|85)encode|tobytes|getvalue|to_(?:csv|json|dict|records)"
    )
)

HTTP_CALLS = frozenset({"get", "post", "put", "patch", "delete", "head", "request", "urlopen", "send"})
QUERY_METHODS = frozenset({"all", "values", "values_list", "filter", "exclude", "order_by"})
DB_FETCH = frozenset({"fetchall"})
BLOB_CALLS = frozenset(
    {
        "b64encode",
        "b85encode",
        "urlsafe_b64encode",
        "tobytes",
        "getvalue",
        "to_csv",
        "to_json",
        "to_dict",
        "to_records",
    }
)
DATAFRAME_CALLS = frozenset(
    {
        "pandas.DataFrame",
        "pandas.read_csv",
        "pandas.read_sql",
        "pandas.read_json",
        "pandas.read_excel",
        "pandas.read_parquet",
        "polars.DataFrame",
        "polars.read_csv",
    }
)


class _LocalValues(Walker):
    """Names a task body assigns (or binds with ``with ... as``), and to what."""

    def __init__(self) -> None:
        self.values: dict[str, cst.BaseExpression] = {}

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.values[target.target.value] = node.value

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None and isinstance(node.asname.name, cst.Name):
            self.values[node.asname.name.value] = node.item


class LargeReturnValue(Rule):
    """
    ## What it does
    Checks for tasks that return something likely large: a response or file body
    (`.read()`, `.content`, `.text`, `.json()` of an HTTP response), whole query
    results (`list(queryset)`, `.all()`, `.values()`, `.fetchall()`), dataframes and
    encoded blobs. A task that returns what a project function returns
    (`return build_export(qs)`) is checked through that function (up to three calls deep,
    `return` of a call to the next); the finding stays at the task's `return` and names
    the place and the way there (``from shop/exports.py:12 via build_export()``).

    ## Why is this bad?
    The return value is serialized into the result backend and kept there (a day by
    default), and every `.get()` moves it over the network again. Large results fill
    Redis memory and slow every client.

    ## Example
    ```python
    @shared_task
    def fetch(url):
        return requests.get(url).content
    ```

    ## Use instead
    ```python
    @shared_task
    def fetch(url):
        body = requests.get(url).content
        key = storage.save(body)
        return key
    ```

    ## References
    - Celery, *Tasks*: "Avoid large results"
    """

    CODE = "CEL502"
    NAME = "large-return-value"
    SKIP_TEST_CODE = True
    MESSAGE = (
        "task '{task}' returns {what}{source}: results are stored in the backend and sent on every `.get()`"
    )
    FIX_TITLE = "store it and return a key"

    VALID = [
        Valid("from celery import shared_task\n\n@shared_task\ndef f(order_id):\n    return order_id\n"),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f(qs_ids):\n    return len(qs_ids)\n",
            note="counts",
        ),
        Valid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    return {'status': 'ok', 'count': 3}\n",
            note="small dicts",
        ),
        Valid("from celery import shared_task\n\n@shared_task\ndef f(data):\n    return data.get('id')\n"),
        Valid(
            "import requests\n\ndef helper(url):\n    return requests.get(url).content\n", note="not a task"
        ),
        Valid(
            "import requests\nfrom celery import shared_task\n\ndef fetch(url):\n    return requests.get(url).content\n\n@shared_task\ndef f(url):\n    body = fetch(url)\n    return len(body)\n",
            note="the task returns something else than the helper's value",
        ),
        Valid(
            "from celery import shared_task\nfrom exporters import build_export\n\n@shared_task\ndef f(qs, build):\n    if qs:\n        return build(qs)\n    return build_export(qs)\n",
            note="callees the analyzer cannot resolve, or outside the project",
        ),
    ]
    INVALID = [
        Invalid(
            "import requests\nfrom celery import shared_task\n\n@shared_task\ndef f(url):\n    return requests.get(url).content\n",
            line=6,
            column=5,
        ),
        Invalid(
            "import requests\nfrom celery import shared_task\n\n@shared_task\ndef f(url):\n    response = requests.get(url)\n    return response.json()\n",
            line=7,
            column=5,
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    return list(Order.objects.filter(paid=True))\n",
            line=5,
            column=5,
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f():\n    return Order.objects.values('id', 'total')\n",
            line=5,
            column=5,
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(path):\n    with open(path) as handle:\n        return handle.read()\n",
            line=6,
            column=9,
        ),
        Invalid(
            "from celery import shared_task\n\n@shared_task\ndef f(cursor):\n    cursor.execute('select 1')\n    return cursor.fetchall()\n",
            line=6,
            column=5,
        ),
        Invalid(
            "import base64\nfrom celery import shared_task\n\n@shared_task\ndef f(blob):\n    return base64.b64encode(blob)\n",
            line=6,
            column=5,
        ),
        Invalid(
            "from celery import shared_task\nfrom shop.exports import build_export\n\n@shared_task\ndef export(paid):\n    return build_export(paid)\n",
            files={
                "shop/__init__.py": "",
                "shop/exports.py": "def build_export(paid):\n    return rows(paid)\n\ndef rows(paid):\n    return list(Order.objects.filter(paid=paid))\n",
            },
            line=6,
            column=5,
            message_contains="returns a whole query result (`list(...)`) from shop/exports.py:5 via build_export() -> rows()",
            note="through the helpers the task returns the value of",
        ),
    ]

    def __init__(self, context: object) -> None:
        super().__init__(context)  # type: ignore[arg-type]
        self._locals: dict[int, dict[str, cst.BaseExpression]] = {}
        self.following = Following(self, FOLLOW)

    def _local_values(self) -> dict[str, cst.BaseExpression]:
        # The task's body, or the function a task calls that is being checked.
        function = self.context.function_stack[-1]
        key = id(function)
        if key not in self._locals:
            collector = _LocalValues()
            collector.walk(function)
            self._locals[key] = collector.values
        return self._locals[key]

    def _is_http_response(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        if depth > 3:
            return False
        if isinstance(expr, cst.Name):
            bound = self._local_values().get(expr.value)
            return bound is not None and self._is_http_response(bound, depth + 1)
        return isinstance(expr, cst.Call) and (
            (isinstance(expr.func, cst.Attribute) and expr.func.attr.value in HTTP_CALLS)
            or (isinstance(expr.func, cst.Name) and expr.func.value == "urlopen")
        )

    def _is_queryset(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        if depth > 6:
            return False
        if isinstance(expr, cst.Attribute):
            return expr.attr.value == "objects" or self._is_queryset(expr.value, depth + 1)
        if isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            return self._is_queryset(expr.func.value, depth + 1)
        if isinstance(expr, cst.Name):
            bound = self._local_values().get(expr.value)
            return bound is not None and self._is_queryset(bound, depth + 1)
        return False

    def _is_file(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, cst.Name):
            bound = self._local_values().get(expr.value)
            return bound is not None and self._is_file(bound)
        if isinstance(expr, cst.Call):
            if isinstance(expr.func, cst.Name) and expr.func.value == "open":
                return True
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value == "open":
                return True
            return self._is_http_response(expr)
        return False

    def _describe(self, expr: cst.BaseExpression, depth: int = 0) -> str | None:
        if depth > 3:
            return None
        if isinstance(expr, cst.Name):
            bound = self._local_values().get(expr.value)
            return self._describe(bound, depth + 1) if bound is not None else None
        if (
            isinstance(expr, cst.Attribute)
            and expr.attr.value in ("content", "text")
            and self._is_http_response(expr.value)
        ):
            return f"a response body (`.{expr.attr.value}`)"
        if not isinstance(expr, cst.Call):
            return None
        func = expr.func
        if isinstance(func, cst.Attribute):
            name = func.attr.value
            if name == "json" and self._is_http_response(func.value):
                return "a whole response body (`.json()`)"
            if name == "read" and self._is_file(func.value):
                return "a file or response body (`.read()`)"
            if name in DB_FETCH:
                return "a whole query result (`.fetchall()`)"
            if name in QUERY_METHODS and self._is_queryset(func.value):
                return f"a whole query result (`.{name}()`)"
            if name in BLOB_CALLS:
                return f"an encoded blob (`.{name}()`)"
        qualname = self.project.qualified_name(func)
        if qualname in DATAFRAME_CALLS:
            return "a dataframe"
        if (
            isinstance(func, cst.Name)
            and func.value in ("list", "tuple")
            and len(expr.args) == 1
            and self._is_queryset(expr.args[0].value)
        ):
            return f"a whole query result (`{func.value}(...)`)"
        if (
            qualname is not None
            and qualname.startswith("base64.")
            and qualname.rsplit(".", 1)[-1] in BLOB_CALLS
        ):
            return "an encoded blob"
        return None

    def visit_Return(self, node: cst.Return) -> None:
        task = self.project.current_task()
        if task is None or node.value is None:
            return
        what = self._describe(node.value)
        if what is not None:
            if not self.following.found(node, what=what):
                self.report(node, self.message(task=task.label, what=what, source=""))
            return
        if isinstance(node.value, cst.Call):
            # ``return helper(...)``: the task returns what the helper returns.
            causes = self.following.follow(node.value)
            if causes:
                first = causes[0]
                more = f" (and {len(causes) - 1} more)" if len(causes) > 1 else ""
                source = f" from {first.place}{more} via {first.via}"
                self.report(node, self.message(task=task.label, what=first.fields["what"], source=source))
