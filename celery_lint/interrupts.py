"""Ctrl-C that a library's clean-up turned into another exception.

A KeyboardInterrupt can land anywhere, also inside a library's ``try``/``finally`` whose
clean-up then fails on the state the interrupt left half-made: LibCST's position
provider raises ``KeyError: IndentedBlock(...)`` from its ``finally`` when Ctrl-C lands in
code generation. The exception that comes out is then not a KeyboardInterrupt, but the
interrupt is still in its ``__context__`` chain, and that is what the user did.

This module imports nothing else of celery-lint.
"""

from __future__ import annotations


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt that ``exc`` was raised while handling (or ``exc`` itself), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__context__
    return None


def raise_if_interrupted(exc: BaseException) -> None:
    """Raise KeyboardInterrupt when ``exc`` came out of handling one: a handler that turns
    errors into a result ("cannot parse file", "the entry is parsed again") must not turn
    Ctrl-C into one and go on."""
    if interrupt_behind(exc) is not None:
        raise KeyboardInterrupt from exc
