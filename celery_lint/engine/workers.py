"""``-j`` worker processes: forked, stopped at once on Ctrl-C, and a worker that dies
(``kill -9``, the out-of-memory killer) is noticed instead of waited for.

``multiprocessing.Pool`` replaces a worker that dies and waits forever for the work it
held; ``concurrent.futures.ProcessPoolExecutor`` fails that work with
``BrokenProcessPool``, which :func:`run_forked` turns into the items it could not finish.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")
_Own = TypeVar("_Own")

LOST = (
    "not checked: the -j worker process checking it ended abruptly (killed, e.g. by the out-of-memory killer)"
)
"""Why a file has no result: its worker died (an error line of the run, exit 2)."""


def can_fork() -> bool:
    import multiprocessing  # only with -j: it costs a warm run about 10 ms

    return "fork" in multiprocessing.get_all_start_methods()


class Forked(Generic[_Item, _Result, _Own]):
    """What :func:`run_forked` gives back."""

    def __init__(self) -> None:
        self.done: list[tuple[_Item, _Result]] = []
        """Each item with its result, in the order they finished."""
        self.lost: list[_Item] = []
        """The items a worker that died had, or would have had."""
        self.own: _Own | None = None
        """What ``in_parent`` returned."""


def run_forked(
    function: Callable[[_Item], _Result],
    items: Sequence[_Item],
    jobs: int,
    in_parent: Callable[[], _Own] | None = None,
    on_done: Callable[[_Item, _Result], None] | None = None,
) -> Forked[_Item, _Result, _Own]:
    """``function(item)`` for every item in ``jobs`` forked processes (they inherit this
    process's memory: set what they need before the call); ``in_parent`` runs here
    meanwhile. ``on_done(item, result)`` is called here as each result comes back (those
    that came back while ``in_parent`` ran, once it returns). Ctrl-C kills the workers at
    once and raises KeyboardInterrupt here."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    out: Forked[_Item, _Result, _Own] = Forked()
    executor = ProcessPoolExecutor(
        max(1, jobs), mp_context=multiprocessing.get_context("fork"), initializer=_worker_start
    )
    finished = False
    try:
        pending = {executor.submit(function, item): item for item in items}
        if in_parent is not None:
            out.own = in_parent()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                item = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    out.lost.append(item)
                    continue
                out.done.append((item, result))
                if on_done is not None:
                    on_done(item, result)
        finished = True
    finally:
        if finished:
            executor.shutdown(wait=True)
        else:
            _stop_now(executor)
    return out


def _worker_start() -> None:
    """In each worker: Ctrl-C reaches the whole process group; the parent alone answers
    it (and ends the workers), so a worker prints no traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_now(executor: ProcessPoolExecutor) -> None:
    """End the workers without waiting for the work they hold (Ctrl-C, or an error here)."""
    processes = list((getattr(executor, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(Exception):
            process.kill()
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(1)
