"""Resolved values: what the analyzer knows about a setting or an option.

Every value the project model hands to a rule is either :class:`Known` (a Python
value plus where it came from) or :class:`Unknown` (with the reason). Rules never
fire on :class:`Unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Union


@dataclass(frozen=True)
class Origin:
    """Where a resolved value was set, for messages (``task_time_limit in proj/celery.py``)."""

    description: str
    path: str | None = None
    node: Any = field(default=None, compare=False, repr=False)
    default: bool = False
    """Celery's own default: no file of the repository sets the value."""
    runtime: tuple[str, ...] = ()
    """For a default: configuration the repository cannot show that may set it at run time
    (``from .local_settings import * in proj/settings.py:40``)."""
    kind: str = field(default="", compare=False, repr=False)
    """What set it, for ``celery-lint tasks``: "decorator", "class" (``subject`` names
    the class), "setting", "annotation", "default"; "" when not said."""
    subject: str | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.description


CELERY_DEFAULT = Origin("Celery's default", default=True, kind="default")


@dataclass(frozen=True)
class Known:
    value: Any
    origin: Origin = CELERY_DEFAULT

    @property
    def is_set(self) -> bool:
        """False when the value is the 'unset' ``None`` of Celery's default."""
        return self.value is not None


@dataclass(frozen=True)
class Unknown:
    reason: str = "not statically known"


Resolved = Union[Known, Unknown]


class _UnknownElement:
    """Stands for one element of a literal container that could not be evaluated."""

    _instance: _UnknownElement | None = None

    def __new__(cls) -> _UnknownElement:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN_ELEMENT = _UnknownElement()


@dataclass(frozen=True)
class CallValue:
    """A call the analyzer keeps as data (``crontab(hour=3)``, ``Queue('q')``)."""

    qualname: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    node: Any = field(default=None, compare=False, repr=False)

    def __hash__(self) -> int:
        return hash((self.qualname, self.args))


def number_text(value: float) -> str:
    """A number for a message: as written up to 21 digits, in scientific notation past that
    (an int the analysis knows may have some 1,200 digits)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**21:
        return format(Decimal(value), ".3e")
    return str(value)


def agree(values: list[Resolved], reason: str) -> Resolved:
    """One value from several alternatives: Known only when they all agree."""
    if not values:
        return Unknown(reason)
    first = values[0]
    if isinstance(first, Unknown):
        return first
    for other in values[1:]:
        if isinstance(other, Unknown) or other.value != first.value:
            return Unknown(reason)
    return first
