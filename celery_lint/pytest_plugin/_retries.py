"""``celery_retries`` and ``celery_idempotency``: drive one task through the worker path."""

from __future__ import annotations

import copy
import importlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from ._broker import STORE, StoredMessage
from ._errors import TaskLoopError
from ._intercept import task_name_of
from ._runner import DEFAULT_MAX_TASKS, Execution, Runner

if TYPE_CHECKING:
    from ._app import AppSwitch
    from ._intercept import Interceptor

_UNSET: Any = object()


def resolve_target(target: str) -> tuple[Any, str, Any]:
    """``'pkg.module.attr'`` (or ``'pkg.module.Class.attr'``) as (owner, attribute, value)."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:-1]:
                owner = getattr(owner, name)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError as exc:
            raise ValueError(f"target {target!r}: {exc}") from None
    raise ValueError(f"target {target!r}: no importable module in it")


class _FailingTarget:
    def __init__(self, original: Any, failures: Sequence[Any], returns: Any) -> None:
        self.original = original
        self.failures = list(failures)
        self.returns = returns
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        index = self.calls
        self.calls += 1
        if index < len(self.failures):
            failure = self.failures[index]
            raise failure() if isinstance(failure, type) else failure
        if self.returns is not _UNSET:
            return self.returns
        return self.original(*args, **kwargs)


@dataclass(eq=False)
class RetryReport:
    """What ``celery_retries.run()`` observed."""

    task: str
    attempts: list[Execution]
    """Every run of the task's message, first run and retries, in order."""
    countdowns: list[float | None]
    """The delay of each retry, read from the retry message (eta minus publish time)."""
    target: str | None
    """The dotted path replaced for the run; None when the task ran as it is."""
    target_calls: int
    jitter: bool
    """False when ``run(jitter=False)`` took Celery's backoff jitter out (the default)."""
    others: list[Execution] = field(default_factory=list)
    """Other messages that ran meanwhile (children, callbacks)."""

    @property
    def retries(self) -> int:
        return sum(1 for a in self.attempts if a.state == "RETRY")

    @property
    def state(self) -> str:
        return self.attempts[-1].state if self.attempts else "PENDING"

    @property
    def result(self) -> Any:
        return self.attempts[-1].result if self.attempts else None

    @property
    def exception(self) -> BaseException | None:
        return self.attempts[-1].exception if self.attempts else None

    def _describe(self) -> str:
        delays = ", ".join("?" if c is None else f"{c:g}s" for c in self.countdowns) or "none"
        outcome = self.state
        if self.exception is not None and self.state != "SUCCESS":
            outcome += f" ({type(self.exception).__name__}: {self.exception})"
        calls = f"; {self.target} called {self.target_calls} time(s)" if self.target else ""
        return (
            f"task '{self.task}': {len(self.attempts)} attempt(s), {self.retries} retr"
            f"{'y' if self.retries == 1 else 'ies'} after {delays}{calls}; final state {outcome}"
        )

    def __repr__(self) -> str:
        return f"<RetryReport {self._describe()}>"

    def assert_attempts(self, expected: int) -> None:
        if len(self.attempts) != expected:
            pytest.fail(f"expected {expected} attempt(s); {self._describe()}", pytrace=False)

    def assert_succeeded(self) -> None:
        if self.state != "SUCCESS":
            pytest.fail(f"the task did not succeed; {self._describe()}", pytrace=False)

    def assert_gave_up(self) -> None:
        if self.state != "FAILURE":
            pytest.fail(f"the task did not give up; {self._describe()}", pytrace=False)

    def assert_backoff(
        self, expected: Sequence[float] | None = None, *, maximum: float | None = None
    ) -> None:
        """Assert that retries wait, and wait longer each time.

        With ``expected``, the delays must be exactly these seconds. Without it: no retry
        may be immediate, the delays must grow until they reach their cap, and none may
        exceed ``maximum`` when given.
        """
        delays = self.countdowns
        if not delays:
            pytest.fail(f"the task was never retried; {self._describe()}", pytrace=False)
        if expected is not None:
            wanted = [float(x) for x in expected]
            same = len(wanted) == len(delays) and all(
                d is not None and abs(d - w) < 1e-3 for d, w in zip(delays, wanted, strict=True)
            )
            if not same:
                pytest.fail(
                    f"retry delays {_fmt(delays)} are not {_fmt(wanted)}; {self._describe()}", pytrace=False
                )
            return
        problems = []
        known = [d for d in delays if d is not None]
        if len(known) != len(delays) or any(d <= 0 for d in known):
            problems.append("retries run immediately, with no delay")
        elif len(known) >= 2 and not _grows(known):
            problems.append("the delay does not grow between retries")
        if maximum is not None and any(d > maximum for d in known):
            problems.append(f"a delay exceeds the maximum of {maximum:g}s")
        if problems:
            pytest.fail(
                f"retry storm: {'; '.join(problems)} ({self._describe()}). Retries that do not "
                "back off hammer a failing service: back off with "
                "retry_backoff=True or countdown=2 ** self.request.retries "
                "(CEL301 retry-without-backoff, CEL302 autoretry-without-backoff)",
                pytrace=False,
            )


def _grows(delays: list[float]) -> bool:
    """Each delay longer than the one before, except once a cap is reached and held."""
    top = max(delays)
    grew = False
    for before, after in itertools.pairwise(delays):
        if after > before:
            grew = True
        elif not (grew and before == after == top):
            return False
    return grew


def _fmt(values: Sequence[float | None]) -> str:
    return "[" + ", ".join("?" if v is None else f"{v:g}" for v in values) + "]"


@contextmanager
def _eager_suspended(interceptor: Interceptor) -> Iterator[None]:
    saved = interceptor.eager
    interceptor.eager = None
    try:
        yield
    finally:
        interceptor.eager = saved


def _publish(app: Any, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, str]:
    name = task_name_of(task)
    bound = app.tasks.get(name)
    if bound is None:
        raise ValueError(f"app '{app.main}' has no task '{name}'")
    return bound, str(bound.apply_async(args, kwargs).id)


class RetryDriver:
    """The value of the ``celery_retries`` fixture. See ``docs/pytest.md``."""

    def __init__(self, runner: Runner, switch: AppSwitch, interceptor: Interceptor) -> None:
        self._runner = runner
        self._switch = switch
        self._interceptor = interceptor

    def run(
        self,
        task: Any,
        *args: Any,
        target: str | None = None,
        failures: Sequence[type[BaseException] | BaseException] = (),
        returns: Any = _UNSET,
        max_attempts: int = 50,
        jitter: bool = False,
        **kwargs: Any,
    ) -> RetryReport:
        """Send ``task(*args, **kwargs)`` and run it with ``target`` (a dotted path to what
        the task calls) raising ``failures`` one per call, then behaving normally (or
        returning ``returns``). Retries run when due on the fake clock. ``jitter=False``
        takes Celery's random jitter out of ``retry_backoff`` delays. Without ``target``
        the task runs as it is (one that retries by itself)."""
        if target is None and (failures or returns is not _UNSET):
            raise TypeError("celery_retries.run(): failures= and returns= need target= (what to replace)")
        runner = self._runner
        runner.start()
        patch = pytest.MonkeyPatch()
        fake = _FailingTarget(None, failures, returns)
        try:
            if target is not None:
                owner, attribute, fake.original = resolve_target(target)
                patch.setattr(owner, attribute, fake)
            if not jitter:
                import celery.app.autoretry as autoretry
                from celery.utils.time import get_exponential_backoff_interval

                def without_jitter(*a: Any, **kw: Any) -> Any:
                    kw["full_jitter"] = False
                    return get_exponential_backoff_interval(*a, **kw)

                patch.setattr(autoretry, "get_exponential_backoff_interval", without_jitter)
            with _eager_suspended(self._interceptor):
                bound, task_id = _publish(self._switch.app, task, args, kwargs)
            attempts: list[Execution] = []
            others: list[Execution] = []
            total = 0
            while True:
                entry = runner.next_due()
                if entry is None:
                    etas = [e for e in (runner.eta_of(w) for w in runner.waiting()) if e is not None]
                    if not etas:
                        break
                    runner.clock.advance_to(min(etas))
                    continue
                execution = runner.run_entry(entry)
                total += 1
                (attempts if execution.id == task_id else others).append(execution)
                report = RetryReport(
                    bound.name, attempts, _countdowns(attempts), target, fake.calls, jitter, others
                )
                if len(attempts) >= max_attempts and execution.state == "RETRY":
                    raise TaskLoopError(
                        f"retry storm: more than {max_attempts} attempts and still retrying "
                        f"({report._describe()}); bound the retries (max_retries, CEL304 "
                        "unbounded-retries) or raise max_attempts"
                    )
                if total >= DEFAULT_MAX_TASKS:
                    raise TaskLoopError(
                        f"ran {total} tasks without the queue running dry ({report._describe()})"
                    )
        finally:
            patch.undo()
        return RetryReport(bound.name, attempts, _countdowns(attempts), target, fake.calls, jitter, others)


def _countdowns(attempts: list[Execution]) -> list[float | None]:
    delays: list[float | None] = []
    for attempt in attempts:
        if attempt.state == "RETRY":
            retry = attempt.retry_message
            if retry is None:
                delays.append(None)
            else:  # a retry message without an eta runs at once
                delays.append(retry.countdown if retry.countdown is not None else 0.0)
    return delays


@dataclass(eq=False)
class IdempotencyReport:
    """The two runs of ``assert_idempotent``."""

    first: Execution
    second: Execution
    state_after_first: Any
    state_after_second: Any


class IdempotencyChecker:
    """The value of the ``celery_idempotency`` fixture. See ``docs/pytest.md``."""

    def __init__(self, runner: Runner, switch: AppSwitch, interceptor: Interceptor) -> None:
        self._runner = runner
        self._switch = switch
        self._interceptor = interceptor

    def assert_idempotent(
        self,
        task: Any,
        *args: Any,
        state: Callable[[], Any],
        sends: bool = True,
        **kwargs: Any,
    ) -> IdempotencyReport:
        """Run the same message twice, the second time marked redelivered (as after a lost
        worker), and assert that ``state()`` is the same after both runs and, with
        ``sends``, that the second run sent no task again."""
        runner = self._runner
        runner.start()
        with _eager_suspended(self._interceptor):
            bound, task_id = _publish(self._switch.app, task, args, kwargs)
        entry = _entry_for(task_id)
        spare = StoredMessage(entry.seq, entry.queue, copy.deepcopy(entry.raw), entry.published_at)
        first = runner.run_entry(entry)
        after_first = state()
        second = runner.run_entry(spare, redelivered=True)
        after_second = state()
        problems = []
        if after_first != after_second:
            problems.append(
                f"the observed state changed:\n  after the first run:  {after_first!r}\n"
                f"  after the second run: {after_second!r}"
            )
        if sends:
            again = [q for q in second.sent if q.id != second.id]
            if again:
                listing = ", ".join(q.signature_repr() for q in again)
                problems.append(f"the second run sent {listing} again")
        if first.state != second.state:
            problems.append(
                f"the first run ended {first.state}, the second {second.state}"
                + (f" ({second.exception!r})" if second.exception is not None else "")
            )
        if problems:
            pytest.fail(
                f"task '{bound.name}' is not idempotent: running the same message again (a "
                "redelivery after a lost worker or a visibility timeout) had a second effect: "
                + "; ".join(problems)
                + "\nA late-acked task (acks_late, CEL205) is run again after a crash: make it "
                "check before it acts, e.g. set absolute values instead of incrementing "
                "(CEL401 non-idempotent-update).",
                pytrace=False,
            )
        return IdempotencyReport(first, second, after_first, after_second)


def _entry_for(task_id: str) -> StoredMessage:
    for entry in STORE.snapshot():
        if (entry.raw.get("headers") or {}).get("id") == task_id:
            return entry
    raise RuntimeError(f"the message of task {task_id} is not in the test broker")
