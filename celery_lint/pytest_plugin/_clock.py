"""The fake clock of ``celery_queue`` and ``celery_eager``, and its tie to freezegun and
time-machine.

The clock is frozen until the test moves it. ``app.now()`` reads it, so countdowns,
``eta``, ``expires``, beat schedules and rate limits are measured on it. While a test runs
under freezegun (``freeze_time``) or time-machine (``travel``), the clock *is* their frozen
time: it reads it, and ``advance()``/``set()`` move it, so ``datetime.now()`` and
``time.time()`` inside tasks agree with ``app.now()``. Neither library is imported here:
they are looked up in ``sys.modules`` (a test that uses one has imported it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any


def _aware(value: datetime) -> datetime:
    # The worker reads a naive eta/expires as UTC (celery.utils.time.maybe_make_aware).
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _freezegun_factory() -> Any:
    api = sys.modules.get("freezegun.api")
    factories = getattr(api, "freeze_factories", None) if api is not None else None
    return factories[-1] if factories else None


def _time_machine_traveller() -> Any:
    module = sys.modules.get("time_machine")
    if module is None:
        return None
    # ``traveller_stack`` since time-machine 3, ``coordinates_stack`` before; both shift().
    stack = getattr(module, "traveller_stack", None) or getattr(module, "coordinates_stack", None)
    return stack[-1] if stack else None


def frozen_now() -> datetime | None:
    """The time freezegun or time-machine holds (aware, UTC); None when neither is active."""
    factory = _freezegun_factory()
    if factory is not None:
        return _aware(factory()).astimezone(timezone.utc)
    traveller = _time_machine_traveller()
    if traveller is not None:
        import time

        ns = time.time_ns()  # time-machine patches the C function itself
        seconds, rest = divmod(ns, 1_000_000_000)
        return datetime.fromtimestamp(seconds, timezone.utc) + timedelta(microseconds=rest // 1000)
    return None


def _move_frozen(delta: timedelta) -> bool:
    """Move the active freezegun/time-machine time by ``delta``; False when none is active."""
    factory = _freezegun_factory()
    if factory is not None:
        if hasattr(factory, "move_to"):
            factory.move_to(factory() + delta)
        else:
            factory.tick(delta)
        return True
    traveller = _time_machine_traveller()
    if traveller is not None:
        traveller.shift(delta)
        return True
    return False


def parse_when(when: datetime | str, zone: tzinfo | None) -> datetime:
    """A datetime or an ISO 8601 string; a value without a timezone is read in ``zone``."""
    if isinstance(when, str):
        text = when.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            when = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"clock.set({when!r}): not an ISO 8601 date and time") from exc
    if not isinstance(when, datetime):
        raise TypeError(f"clock.set() takes a datetime or an ISO 8601 string, not {type(when).__name__}")
    if when.tzinfo is None:
        zone = zone or timezone.utc
        localize = getattr(zone, "localize", None)  # pytz zones
        when = localize(when) if localize is not None else when.replace(tzinfo=zone)
    return when.astimezone(timezone.utc)


class FakeClock:
    """The test's clock: frozen until advanced. ``app.now()`` reads it while it is in use;
    under freezegun or time-machine it is their frozen time."""

    def __init__(self, start: datetime | None = None, zone: Callable[[], tzinfo] | None = None) -> None:
        now = start or datetime.now(timezone.utc).replace(microsecond=0)
        self._now = _aware(now).astimezone(timezone.utc)
        self._zone = zone
        self.on_set: list[Callable[[datetime], None]] = []
        """Called with the new time after ``set()`` (``celery_beat`` restarts there)."""

    @property
    def now(self) -> datetime:
        """The current fake time (timezone-aware, UTC)."""
        frozen = frozen_now()
        if frozen is not None:
            self._now = frozen
        return self._now

    @property
    def frozen_by(self) -> str | None:
        """``"freezegun"`` or ``"time-machine"`` while the clock follows one of them."""
        if _freezegun_factory() is not None:
            return "freezegun"
        if _time_machine_traveller() is not None:
            return "time-machine"
        return None

    def advance(self, by: float | timedelta = 0, **units: float) -> datetime:
        """Move the clock forward by seconds, a ``timedelta``, or ``timedelta`` keywords
        (``advance(days=1)``); returns the new time. Moves freezegun's/time-machine's time too."""
        delta = by if isinstance(by, timedelta) else timedelta(seconds=float(by))
        if units:
            delta += timedelta(**units)
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        now = self.now
        _move_frozen(delta)
        self._now = now + delta
        return self._now

    def advance_to(self, when: datetime) -> datetime:
        when = _aware(when)
        now = self.now
        if when > now:
            self.advance(when - now)
        return self._now

    def set(self, when: datetime | str) -> datetime:
        """Set the clock to ``when``: a datetime or an ISO 8601 string
        (``"2026-03-01T02:59:00+00:00"``); a value without a timezone is read in the app's
        ``timezone``. Under freezegun/time-machine their time is set too."""
        target = parse_when(when, self._zone() if self._zone is not None else None)
        _move_frozen(target - self.now)
        self._now = target
        for listener in list(self.on_set):
            listener(target)
        return target

    def __repr__(self) -> str:
        return f"<FakeClock {self.now.isoformat()}>"
