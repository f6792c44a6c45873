"""What both pytest-plugin test modules need to run Celery projects through pytester."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# Import Celery and the plugin's modules once, in this process: pytester's in-process
# runs drop every module first imported inside them, and a half re-imported Celery
# (kombu's transport cache, Celery's global app state) would mix two generations.
import celery.backends.cache
import celery.contrib.pytest
import celery.contrib.testing.tasks  # its shared celery.ping, registered once a process
import celery.contrib.testing.worker
import celery.worker.request
import kombu.transport.memory  # noqa: F401

# LibCST too: the linter reaches it through a stand-in that imports it on first use; first
# used inside an inner run (the lint gate), it would be dropped afterwards while the
# stand-in keeps it, and later in-process lint runs of this process would mix two LibCSTs
# (their trees would match none of the rules' node classes: no findings).
import libcst  # noqa: F401
import pytest

# And what the audit and the lint gate use, warm: pytester points HOME at the test's folder,
# where Celery's settings catalogue (seconds to build) is not cached, and celery-lint's
# modules first imported inside a run are assertion-rewritten there (celery-lint is a
# pytest plugin's distribution) and dropped afterwards.
import celery_lint.engine
import celery_lint.project.model
import celery_lint.project.results
import celery_lint.project.routing
import celery_lint.pytest_plugin._audit
import celery_lint.pytest_plugin._beat
import celery_lint.pytest_plugin._clock
import celery_lint.pytest_plugin._delivery
import celery_lint.pytest_plugin._eager
import celery_lint.pytest_plugin._lintgate
import celery_lint.pytest_plugin._oncommit
import celery_lint.pytest_plugin._queue
import celery_lint.pytest_plugin._recorder
import celery_lint.pytest_plugin._retries
import celery_lint.pytest_plugin._transactions
import celery_lint.rules  # noqa: F401
from celery_lint.rules.builtin import builtin_rules
from celery_lint.settings_catalogue import load_catalogue

load_catalogue()
builtin_rules()  # imports every rule module, and the parts of the model they use


# The app finalizers of Celery itself, once the modules above are imported.
CELERYS_OWN = frozenset(celery._state._on_app_finalizers)


@pytest.fixture(autouse=True)
def forget_shared_tasks() -> Iterator[None]:
    """Each inner run imports a fresh project module under the same name; Celery keeps the
    old module's tasks as global finalize callbacks (``@app.task`` is shared by default)
    and would register them first on the next app of the same name."""
    from celery import _state

    before = set(_state._on_app_finalizers)
    # Shared tasks other tests of this process defined (``@app.task`` outside a pytester
    # run) would be registered on the inner run's app too: hide them for the test.
    # (What Celery registers for every app, its built-ins and contrib's celery.ping imported
    # above, stays.)
    outer_shared = before - CELERYS_OWN
    _state._on_app_finalizers.difference_update(outer_shared)
    yield
    _state._on_app_finalizers.intersection_update(before)
    _state._on_app_finalizers.update(outer_shared)


@pytest.fixture
def contrib_worker_stops_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """kombu's ``memory://`` drains in slices that end once a worker is asked to stop, for
    this test (inner runs are in this process): ``celery.contrib.pytest``'s ``celery_worker``
    thread then stops at once instead of after up to 4 s (its loop drains for 2 s between
    looks at its stop flag, and once more on the way out). The worker, its messages and
    its results stay kombu's and Celery's own: only an empty poll ends sooner."""
    from kombu.transport import memory, virtual

    from celery_lint.pytest_plugin._broker import drain_until_stopped

    parent = virtual.Transport.drain_events

    def drain_events(self: Any, connection: Any, timeout: float | None = None) -> None:
        drain_until_stopped(lambda slice_: parent(self, connection, timeout=slice_), timeout)

    monkeypatch.setattr(memory.Transport, "drain_events", drain_events)
