"""The test broker: kombu's in-memory transport, with its own message store.

kombu's ``memory://`` keeps one queue per name for the whole process and hands messages
out strictly first in, first out. The fixtures need a little more: messages in publish
order across every queue (so ``run_next()`` runs the oldest due message), the time each
was published on the test's clock (so a countdown can be read back), and a store of
their own, so that a ``celery.contrib.pytest`` worker consuming ``memory://`` in another
thread never steals them. Everything else (exchanges, bindings, routing, acks, the wire
format) is kombu's memory transport unchanged.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from queue import Empty
from time import monotonic
from typing import Any

from kombu.transport import memory, virtual

TRANSPORT_PATH = "celery_lint.pytest_plugin._broker:Transport"


@dataclass
class StoredMessage:
    """One message as the broker holds it: kombu's raw message dict and where it waits."""

    seq: int
    queue: str
    raw: dict[str, Any]
    published_at: datetime | None


class MessageStore:
    """Every message of the test broker, in publish order. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.messages: list[StoredMessage] = []
        self.queues: set[str] = set()
        self._seq = itertools.count(1)
        self.clock: Callable[[], datetime] | None = None
        self.listeners: list[Callable[[StoredMessage], None]] = []

    def put(self, queue: str, raw: dict[str, Any]) -> StoredMessage:
        with self.lock:
            entry = StoredMessage(next(self._seq), queue, raw, self.clock() if self.clock else None)
            self.queues.add(queue)
            self.messages.append(entry)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(entry)
        return entry

    def get(self, queue: str) -> dict[str, Any]:
        with self.lock:
            for index, entry in enumerate(self.messages):
                if entry.queue == queue:
                    del self.messages[index]
                    return entry.raw
        raise Empty()

    def take(self, entry: StoredMessage) -> bool:
        """Remove this very message; False when someone else took it first."""
        with self.lock:
            for index, candidate in enumerate(self.messages):
                if candidate is entry:
                    del self.messages[index]
                    return True
        return False

    def size(self, queue: str) -> int:
        with self.lock:
            return sum(1 for entry in self.messages if entry.queue == queue)

    def purge(self, queue: str) -> int:
        with self.lock:
            kept = [entry for entry in self.messages if entry.queue != queue]
            removed = len(self.messages) - len(kept)
            self.messages[:] = kept
            return removed

    def delete(self, queue: str) -> None:
        with self.lock:
            self.purge(queue)
            self.queues.discard(queue)

    def snapshot(self) -> list[StoredMessage]:
        with self.lock:
            return list(self.messages)

    def reset(self) -> None:
        """Drop every message and listener. Queue names, exchanges and bindings stay:
        kombu's connection pools remember what they declared for the whole process."""
        with self.lock:
            self.messages.clear()
            self.listeners.clear()
            self.clock = None


STORE = MessageStore()


def _store() -> MessageStore:
    """The store of this module as ``sys.modules`` has it now: kombu caches the transport
    class by its import path for the whole process, so a channel of a class from an
    earlier import of this module (pytester's in-process runs drop and re-import it) must
    still reach the store the fixtures read."""
    module = sys.modules.get(__name__)
    store: MessageStore | None = getattr(module, "STORE", None)
    return store if store is not None else STORE


class Channel(memory.Channel):
    """kombu's memory channel over :data:`STORE`."""

    events: defaultdict[str, set[Any]] = defaultdict(set)

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return queue in _store().queues

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        with _store().lock:
            _store().queues.add(queue)

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        return _store().get(queue)

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        if message.get("redelivered"):
            # A message requeued by a reject (kombu's _restore marks the payload only):
            # a broker delivers it again with ``redelivered`` in its delivery info.
            properties = message.setdefault("properties", {})
            properties["delivery_info"] = {**(properties.get("delivery_info") or {}), "redelivered": True}
        _store().put(queue, message)

    def _put_fanout(
        self, exchange: str, message: dict[str, Any], routing_key: str | None = None, **kwargs: Any
    ) -> None:
        for queue in self._lookup(exchange, routing_key):  # type: ignore[no-untyped-call]
            _store().put(queue, message)

    def _size(self, queue: str) -> int:
        return _store().size(queue)

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        _store().delete(queue)

    def _purge(self, queue: str) -> int:
        return _store().purge(queue)

    def close(self) -> None:
        # memory.Channel.close() empties its class-wide queues; the store outlives channels.
        virtual.Channel.close(self)  # type: ignore[no-untyped-call]


class Transport(memory.Transport):
    """The in-memory transport of ``celery_lint_app`` (``broker_transport``)."""

    Channel = Channel
    global_state = virtual.BrokerState()  # type: ignore[no-untyped-call]
    driver_type = "memory"
    driver_name = "memory"

    def drain_events(self, connection: Any, timeout: Any = None, **kwargs: Any) -> Any:
        """kombu's polling drain, in slices that end as soon as a worker of this process
        is asked to stop. A worker's blocking loop drains with a 2 s timeout and checks
        its stop flag between drains (and drains once more on the way out), so a
        ``celery.contrib.testing`` worker thread on this transport took up to 4 s to
        stop. No message is lost or delayed: the slice only bounds how long an empty
        poll lasts before the stop flag is read again."""
        parent = super().drain_events
        drain_until_stopped(
            lambda slice_: parent(connection, timeout=slice_),  # type: ignore[no-untyped-call]
            timeout,
        )


_DRAIN_SLICE = 0.1


def drain_until_stopped(drain: Callable[[float | None], None], timeout: float | None) -> None:
    """``drain(t)`` (a polling drain raising ``socket.timeout``, i.e. ``TimeoutError``,
    after ``t`` seconds without a message) for up to ``timeout`` seconds, in slices;
    raises ``TimeoutError`` early once Celery's worker state of this process says stop."""
    if timeout is None:
        drain(None)
        return
    deadline = monotonic() + timeout
    while True:
        if _worker_asked_to_stop():
            raise TimeoutError()
        remaining = deadline - monotonic()
        if remaining <= 0:
            raise TimeoutError()
        try:
            drain(min(remaining, _DRAIN_SLICE))
        except TimeoutError:
            continue
        return


def _worker_asked_to_stop() -> bool:
    """Whether Celery's worker state of this process says stop (warm or cold shutdown)."""
    state = sys.modules.get("celery.worker.state")
    if state is None:
        return False
    return any(
        flag is not None and flag is not False
        for flag in (getattr(state, "should_stop", None), getattr(state, "should_terminate", None))
    )
