"""Prefilter bytes of the call rules for files that never mention Celery.

Such a file reaches Celery's ``signature`` only as a whole name (``signature(`` imported
through a project module, ``task.signature(``): ``get_signature(`` and
``PerformanceSignature(`` are other functions, and files full of them are common
(signing, performance signatures), so a bare ``signature(`` must not make them parsed.
"""

from __future__ import annotations

# What may stand just before a name in an expression: whitespace, an opening bracket, an
# operator or separator, the dot of an attribute.
_BEFORE_A_NAME = tuple(bytes([char]) for char in b" \t\n([{,=:;|&*+-/%<>~^@!.")


def called(*names: bytes) -> tuple[bytes, ...]:
    """``name(`` for each of ``names``, written as a whole name or an attribute."""
    return tuple(before + name + b"(" for name in names for before in _BEFORE_A_NAME)
