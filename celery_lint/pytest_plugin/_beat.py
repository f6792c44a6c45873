"""``celery_beat``: the app's periodic tasks, fired on ``celery_queue``'s fake clock.

The entries are Celery beat's own: a ``celery.beat.Scheduler`` reads
``app.conf.beat_schedule`` (where ``add_periodic_task`` puts its entries, also from
``on_after_configure``/``on_after_finalize`` handlers) into ``ScheduleEntry`` objects,
and each entry's schedule (``crontab``, ``schedule``/``timedelta``/seconds, ``solar``)
decides with its own ``is_due()``/``remaining_estimate()`` against ``app.now()``, which
is the fake clock. A due entry is sent by ``Scheduler.apply_async``, the call beat makes
(``options``: queue, expires, priority, headers; the ``celery_beat_task`` header), so the
message lands in ``celery_queue`` exactly as beat publishes it. Beat starts with the test
(or at ``clock.set()``), as a beat started then with a fresh schedule file: an interval
first fires one interval later, a crontab at its next match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from ._broker import STORE, StoredMessage
from ._intercept import call_text, same_call, task_name_of

if TYPE_CHECKING:
    from ._runner import QueuedTask, Runner

_TIE = timedelta(milliseconds=1)
MAX_FIRINGS = 100_000
"""Loop guard of one ``advance()``: an entry due every second over a year is 31.5 million."""


@dataclass(eq=False)
class BeatFiring:
    """One send of a beat entry."""

    entry: str
    """The entry's name (its key in ``beat_schedule``)."""
    task: str
    at: datetime
    """The fake time of the send (UTC)."""
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    result: Any = None
    """The ``AsyncResult`` the send returned."""
    message: QueuedTask | None = field(default=None, repr=False)
    """The message as it was published to the test broker."""

    def matches(self, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> bool:
        return same_call(self.args, self.kwargs, args, kwargs)

    def __repr__(self) -> str:
        return f"<BeatFiring {self.entry!r}: {call_text(self.task, self.args, self.kwargs)} at {self.at.isoformat()}>"


class CeleryBeat:
    """The value of the ``celery_beat`` fixture. See ``docs/pytest.md``."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner
        self.app = runner.app
        self.fired: list[BeatFiring] = []
        """Every send of the test, in time order."""
        self.scheduler: Any = None
        self._order: dict[str, int] = {}
        self.restart()
        runner.clock.on_set.append(lambda _when: self.restart())

    @property
    def clock(self) -> Any:
        """``celery_queue``'s clock."""
        return self._runner.clock

    @property
    def entries(self) -> dict[str, Any]:
        """The schedule as beat holds it: entry name -> ``celery.beat.ScheduleEntry``."""
        return dict(self.scheduler.schedule)

    def restart(self) -> None:
        """Start beat afresh now: read ``beat_schedule`` again, every entry last run now.
        ``clock.set()`` does this."""
        from celery.beat import Scheduler

        self.scheduler = Scheduler(self.app, lazy=True)
        self.scheduler.setup_schedule()
        self._order = {name: index for index, name in enumerate(self.app.conf.beat_schedule or {})}

    def next_fire(self, entry: str) -> datetime:
        """When the entry is due next, on the fake clock (UTC)."""
        due, when = self._due(self.scheduler.schedule[entry])
        return self.clock.now if due else when

    # ------------------------------------------------------------------ moving time
    def advance(self, by: float | timedelta = 0, **units: float) -> list[BeatFiring]:
        """Move the clock forward (seconds, a ``timedelta`` or ``timedelta`` keywords:
        ``advance(days=1)``), sending every entry each time it falls due on the way, in
        time order. Returns the sends; nothing runs (``celery_queue.run_all()`` does)."""
        delta = by if isinstance(by, timedelta) else timedelta(seconds=float(by))
        if units:
            delta += timedelta(**units)
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        return self.advance_to(self.clock.now + delta)

    def advance_to(self, when: datetime | str) -> list[BeatFiring]:
        """Move the clock to ``when`` (a datetime or ISO string), sending what falls due."""
        from ._clock import parse_when

        target = parse_when(when, self.app.timezone)
        sent: list[BeatFiring] = []
        while True:
            nxt = self._next_due()
            if nxt is None or nxt[1] > target:
                break
            name, at = nxt
            self.clock.advance_to(at)
            entry = self.scheduler.schedule[name]
            if entry.is_due()[0]:
                sent.append(self._fire(entry))
            elif at <= self.clock.now:
                # The estimate and is_due() disagree below the clock's resolution.
                self.clock.advance(timedelta(microseconds=1))
            if len(sent) > MAX_FIRINGS:
                pytest.fail(f"celery_beat: more than {MAX_FIRINGS} sends in one advance()", pytrace=False)
        self.clock.advance_to(target)
        return sent

    def tick(self) -> list[BeatFiring]:
        """Send what is due now, without moving the clock."""
        return self.advance_to(self.clock.now)

    def _due(self, entry: Any) -> tuple[bool, datetime]:
        is_due, next_seconds = entry.is_due()
        now = self.clock.now
        if is_due:
            return True, now
        return False, now + timedelta(seconds=max(float(next_seconds), 0.0))

    def _next_due(self) -> tuple[str, datetime] | None:
        # Entries due within a millisecond of each other go in ``beat_schedule`` order
        # (beat's own order for them is arbitrary: its schedule is built from a set).
        best: tuple[str, datetime] | None = None
        schedule = self.scheduler.schedule
        for name in sorted(schedule, key=lambda n: self._order.get(n, len(self._order))):
            entry = schedule[name]
            _, at = self._due(entry)
            if best is None or at < best[1] - _TIE:
                best = (name, at)
        return best

    def _fire(self, entry: Any) -> BeatFiring:
        from celery.beat import _evaluate_entry_args, _evaluate_entry_kwargs

        caught: list[StoredMessage] = []
        STORE.listeners.append(caught.append)
        try:
            self.scheduler.reserve(entry)  # as beat does: the entry's last run is now
            result = self.scheduler.apply_async(entry, producer=None, advance=False)
        finally:
            STORE.listeners.remove(caught.append)
        firing = BeatFiring(
            entry=entry.name,
            task=entry.task,
            at=self.clock.now,
            args=tuple(_evaluate_entry_args(entry.args)),
            kwargs=dict(_evaluate_entry_kwargs(entry.kwargs)),
            options=dict(entry.options),
            result=result,
        )
        ids = {getattr(result, "id", None)}
        for stored in caught:
            queued = self._runner.describe(stored)
            if queued.id in ids:
                firing.message = queued
                break
        self.fired.append(firing)
        return firing

    # ------------------------------------------------------------------ assertions
    def fired_for(self, task: Any) -> list[BeatFiring]:
        """The sends of one task (a task, its name or a signature) or of one entry name."""
        name = task if isinstance(task, str) else task_name_of(task)
        return [f for f in self.fired if f.task == name or f.entry == name]

    def assert_scheduled(
        self,
        task: Any,
        args: tuple[Any, ...] | list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        times: int | None = None,
        at: list[datetime | str] | None = None,
    ) -> list[BeatFiring]:
        """Assert that beat sent ``task`` (a task, its name, or an entry name) so far;
        ``args``/``kwargs``, ``times`` and ``at`` (the exact send times) narrow it."""
        from ._clock import parse_when

        found = [
            f for f in self.fired_for(task) if f.matches(tuple(args) if args is not None else None, kwargs)
        ]
        label = task if isinstance(task, str) else task_name_of(task)
        if times is None and at is None and not found:
            pytest.fail(f"beat did not send {label!r}.\n{self._listing()}", pytrace=False)
        if times is not None and len(found) != times:
            pytest.fail(
                f"beat sent {label!r} {len(found)} time(s), expected {times}.\n{self._listing()}",
                pytrace=False,
            )
        if at is not None:
            wanted = [parse_when(w, self.app.timezone) for w in at]
            got = [f.at for f in found]
            if got != wanted:
                pytest.fail(
                    f"beat sent {label!r} at {[g.isoformat() for g in got]}, expected "
                    f"{[w.isoformat() for w in wanted]}.\n{self._listing()}",
                    pytrace=False,
                )
        return found

    def assert_not_scheduled(self, task: Any = None) -> None:
        """Assert that beat sent nothing of ``task`` (nothing at all without one)."""
        found = self.fired if task is None else self.fired_for(task)
        if found:
            what = "anything" if task is None else repr(task if isinstance(task, str) else task_name_of(task))
            pytest.fail(f"beat sent {what}, expected it not to.\n{self._listing()}", pytrace=False)

    def _listing(self) -> str:
        if not self.fired:
            return f"Beat sent nothing. Entries: {sorted(self.scheduler.schedule)}"
        return "Beat sent:\n" + "\n".join(f"  {f!r}" for f in self.fired)

    def __repr__(self) -> str:
        return f"<celery_beat {len(self.scheduler.schedule)} entries, {len(self.fired)} sent>"
