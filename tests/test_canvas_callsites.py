"""The call-site rules (CEL402-404, CEL504, CEL707-708) rest on Celery facts: check them on the
installed Celery, and check the name tables in ``_callsites`` against it."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from celery.canvas import Signature, _chain, _chord, chain, chord, group
from celery.result import AsyncResult, GroupResult, ResultSet, allow_join_result

from celery_lint.project import callsites as _callsites
from celery_lint.rules.task_body import blocking_result_in_task, sleep_in_task
from celery_lint.testing import lint_source


def _load(qualname: str) -> object:
    module, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.fixture
def app() -> Iterator[Celery]:
    """An eager app whose tasks stay its own: ``@app.task`` is shared by default, and Celery
    would give every app made later in this process (the pytester runs) these tasks."""
    from celery import _state

    finalizers = set(_state._on_app_finalizers)
    app = Celery("callsites", set_as_current=False)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    _state._on_app_finalizers.intersection_update(finalizers)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (_callsites.GROUP, group),
        (_callsites.CHORD, chord),
        (_callsites.ASYNC_RESULT, AsyncResult),
    ],
)
def test_canvas_names_are_celerys(table, expected):
    for qualname in table:
        assert _load(qualname) is expected, qualname


def test_chain_names_are_celerys():
    for qualname in _callsites.CHAIN:
        assert _load(qualname) in (chain, _chain), qualname


def test_signature_names_are_celerys():
    for qualname in _callsites.SIGNATURE:
        made = _load(qualname)("proj.add", args=(1,))
        assert isinstance(made, Signature), qualname
        assert made.args == (1,)


def test_result_class_names_are_celerys():
    assert {_load(q) for q in _callsites.RESULT_CLASSES} == {GroupResult, ResultSet}


def test_allow_join_result_name():
    for qualname in blocking_result_in_task.ALLOW_JOIN:
        assert _load(qualname) is allow_join_result


@pytest.mark.parametrize("method", sorted(blocking_result_in_task.WAIT_METHODS))
def test_wait_methods_exist_on_results(method):
    assert hasattr(AsyncResult, method) or hasattr(GroupResult, method)


def test_sleep_name():
    import time

    assert _load(next(iter(sleep_in_task.SLEEP))) is time.sleep


def test_get_inside_a_task_raises_and_the_opt_outs_work(app):
    @app.task
    def add(x, y):
        return x + y

    @app.task
    def blocking():
        return add.delay(1, 2).get()

    @app.task
    def allowed():
        with allow_join_result():
            return add.delay(1, 2).get()

    @app.task
    def opted_out():
        return add.delay(1, 2).get(disable_sync_subtasks=False)

    with pytest.raises(RuntimeError, match=r"Never call result\.get"):
        blocking.delay()
    assert allowed.delay().get() == 3
    assert opted_out.delay().get() == 3


def test_calling_a_signature_runs_in_process_but_a_group_is_applied(app):
    @app.task
    def add(x, y):
        return x + y

    # A plain signature's __call__ runs the task body here and returns its value (CEL402 VALID case).
    assert add.s(1, 2)() == 3
    # A group's __call__ applies it: the value is a result object.
    applied = group(add.s(1, 1), add.s(2, 2))()
    assert applied.get() == [2, 4]


def test_group_then_task_becomes_a_chord(app):
    @app.task
    def add(x, y):
        return x + y

    @app.task
    def tsum(values):
        return sum(values)

    assert isinstance(group(add.s(1, 1)) | tsum.s(), _chord)
    flow = chain(add.s(0, 0), group(add.s(1, 1), add.s(2, 2)), tsum.s())
    assert isinstance(flow.tasks[-1], _chord)


def test_django_task_defers_to_commit():
    spec = importlib.util.find_spec("celery.contrib.django.task")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text("utf-8")
    assert "def delay_on_commit" in source
    assert "def apply_async_on_commit" in source
    assert "on_commit" in source


# ------------------------------------------------------------------ helper behaviour on small projects
TASKS = "from celery import shared_task\n\n@shared_task\ndef add(x, y):\n    return x + y\n"


def _codes(code: str, select: str, files: dict[str, str] | None = None, path: str = "tasks.py") -> list[int]:
    return [v.line for v in lint_source(code, path, files, select=[select]) if v.code == select]


def test_local_name_shadows_the_import():
    code = "from celery import group, shared_task\n\n@shared_task\ndef f(group):\n    return group(1).get()\n"
    assert _codes(code, "CEL402") == []


def test_rebinding_in_one_branch_makes_the_name_unknown():
    code = (
        "from celery import shared_task\n\n@shared_task\ndef f(x, cached):\n"
        "    res = add.delay(x)\n    if cached:\n        res = cached\n    return res.get()\n"
    )
    assert _codes(code, "CEL402") == []


def test_nonlocal_and_global_names_are_not_local_results():
    code = (
        "from celery import shared_task\nres = {}\n\n@shared_task\ndef f(x):\n"
        "    global res\n    res = add.delay(x)\n    return res.get()\n"
    )
    assert _codes(code, "CEL402") == []


def test_task_resolved_across_modules_for_s():
    files = {"orders/__init__.py": "", "orders/tasks.py": TASKS}
    code = "from orders.tasks import add\n\ndef view(request):\n    order = Order.objects.get(pk=1)\n    return add.s(order, 1)\n"
    assert _codes(code, "CEL504", files, "orders/views.py") == [5]
    # the same call on something that is not a project task is too generic to judge
    other = "def view(request):\n    order = Order.objects.get(pk=1)\n    return thing.s(order, 1)\n"
    assert _codes(other, "CEL504", files, "orders/views.py") == []
