"""In which order ``celery_queue`` hands out due messages: the project broker's priority
semantics, and the worker's per-task rate limits on the fake clock.

Priority, by the project's own ``broker_url`` (or ``broker_transport``), before the test
switched it to memory:

- **RabbitMQ** (``amqp``, ``amqps``, ``pyamqp``, ``librabbitmq``): a queue declared with a
  maximum priority (``x-max-priority``, Celery's ``task_queue_max_priority`` or
  ``Queue(..., max_priority=N)``) delivers the **highest** number first, a priority above
  the maximum counting as the maximum; a queue without one is first in, first out.
- **Redis** (``redis``, ``rediss``, ``sentinel``): kombu keeps one list per priority step
  (``priority_steps``, default ``[0, 3, 6, 9]``, from ``broker_transport_options``), a
  message going to the step at or below its priority (clamped to 0..9), and takes the
  **lowest** step first, across the queues a worker consumes; first in, first out within
  a step.
- Any other broker: first in, first out.

Ties keep publish order. Rate limits: a worker keeps a ``kombu.utils.limits.TokenBucket``
(capacity 1, the task's ``rate_limit`` as fill rate) per task name and holds a message of
that task until the bucket has a token; other tasks' messages overtake it. Here kombu's own
bucket runs on the fake clock. ``worker_disable_rate_limits`` turns them off, as on a worker.
"""

from __future__ import annotations

import math
from bisect import bisect
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest

from ._broker import StoredMessage

if TYPE_CHECKING:
    from ._runner import Runner

RABBITMQ_SCHEMES = frozenset({"amqp", "amqps", "pyamqp", "librabbitmq"})
REDIS_SCHEMES = frozenset({"redis", "rediss", "sentinel"})
REDIS_PRIORITY_STEPS = (0, 3, 6, 9)  # kombu.transport.redis.PRIORITY_STEPS
_EPSILON = 1e-6  # a microsecond: the clock's resolution


def broker_kind(conf: Any) -> str:
    """``"rabbitmq"``, ``"redis"`` or ``"fifo"`` for a project's broker settings."""
    transport = conf.get("broker_transport") if conf is not None else None
    url = str((conf.get("broker_url") if conf is not None else None) or "amqp://")  # kombu's default
    named = isinstance(transport, str) and transport and ":" not in transport and "." not in transport
    scheme = str(transport) if named else url.split("://", 1)[0]
    scheme = scheme.split("+", 1)[0].lower()
    if scheme in RABBITMQ_SCHEMES:
        return "rabbitmq"
    if scheme in REDIS_SCHEMES:
        return "redis"
    return "fifo"


class Delivery:
    """Picks the next due message for a :class:`Runner`, as the project's broker and a
    worker's rate limiting would."""

    def __init__(self, runner: Runner, kind: str, priority_steps: Any = None) -> None:
        self.runner = runner
        self.kind = kind
        steps = priority_steps if priority_steps else REDIS_PRIORITY_STEPS
        self.priority_steps = sorted(int(s) for s in steps)
        self.buckets: dict[str, Any] = {}
        self._patch = pytest.MonkeyPatch()
        self._install_clock()

    # ------------------------------------------------------------------ lifecycle
    def _install_clock(self) -> None:
        import kombu.utils.limits

        clock = self.runner.clock
        epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
        # TokenBucket reads time.monotonic() through its module: give it the fake clock.
        self._patch.setattr(
            kombu.utils.limits, "monotonic", lambda: (clock.now - epoch).total_seconds(), raising=True
        )

    def close(self) -> None:
        self._patch.undo()

    # ------------------------------------------------------------------ priority
    def priority_of(self, entry: StoredMessage) -> int | None:
        properties = entry.raw.get("properties") or {}
        value = properties.get("priority")
        try:
            return int(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    def _queue_max_priority(self, queue: str) -> int | None:
        app = self.runner.app
        declared = app.amqp.queues.get(queue) if hasattr(app.amqp.queues, "get") else None
        if declared is not None:
            value = getattr(declared, "max_priority", None)
            if value is None:
                value = (getattr(declared, "queue_arguments", None) or {}).get("x-max-priority")
            if value is not None:
                return int(value)
        value = app.conf.get("task_queue_max_priority")
        return int(value) if value is not None else None

    def rank(self, entry: StoredMessage) -> int:
        """Sort key of a message's priority: lower is delivered first."""
        priority = self.priority_of(entry)
        if self.kind == "redis":
            clamped = max(min(priority if priority is not None else 0, 9), 0)
            steps = self.priority_steps
            return steps[max(bisect(steps, clamped) - 1, 0)]
        if self.kind == "rabbitmq":
            maximum = self._queue_max_priority(entry.queue)
            if maximum is None:
                return 0
            return -max(min(priority or 0, maximum), 0)
        return 0

    # ------------------------------------------------------------------ rate limits
    def bucket(self, name: str) -> Any:
        """The task's token bucket, made as the worker makes it on first sight."""
        if name in self.buckets:
            return self.buckets[name]
        app = self.runner.app
        bucket = None
        if not app.conf.get("worker_disable_rate_limits"):
            from celery.utils.time import rate
            from kombu.utils.limits import TokenBucket

            task = app.tasks.get(name)
            limit = rate(getattr(task, "rate_limit", None)) if task is not None else 0
            bucket = TokenBucket(limit, capacity=1) if limit else None  # type: ignore[no-untyped-call]
        self.buckets[name] = bucket
        return bucket

    def _name(self, entry: StoredMessage) -> str:
        headers = entry.raw.get("headers") or {}
        name = headers.get("task")
        return str(name) if name else self.runner.describe(entry).name

    def free_at(self, entry: StoredMessage) -> datetime | None:
        """When the message's rate limit lets it run; None when it may run now."""
        bucket = self.bucket(self._name(entry))
        if bucket is None:
            return None
        wait = float(bucket.expected_time(1))
        if wait <= _EPSILON:
            return None
        return self.runner.clock.now + timedelta(microseconds=math.ceil(wait * 1_000_000))

    # ------------------------------------------------------------------ picking
    def next_due(self, due: list[StoredMessage]) -> StoredMessage | None:
        """The message a worker runs next among the due ones, taking its rate-limit token."""
        runnable = [e for e in due if self.free_at(e) is None]
        if not runnable:
            return None
        chosen = min(runnable, key=lambda e: (self.rank(e), e.seq))
        bucket = self.bucket(self._name(chosen))
        if bucket is not None and not bucket.can_consume(1):
            bucket._tokens = 0.0  # within a microsecond of a token: the clock's resolution
        return chosen
