"""Configuration modules recognised by what they assign, not by their name.

Celery reads whatever module it is given (``config_from_object('worker_conf')``,
``celery --config``, ``CELERY_CONFIG_MODULE``, ``DJANGO_SETTINGS_MODULE`` chosen at deploy
time), so ``worker_conf.py`` or ``deploy/overlay.py`` holding ``result_serializer =
"pickle"`` is configuration even when nothing in the repository names it. A module counts
when it assigns, at its top level, two or more Celery setting names of which at least one
is Celery's own (``task_*``, ``CELERY_*``, ``accept_content``), not a name any module might
use (``timezone``, ``imports``, ``include``, ``DEBUG``).

The test works on bytes, so the prefilter can ask it of every file at next to no cost.
"""

from __future__ import annotations

import re

from ..settings_catalogue import SettingsCatalogue

# New-name prefixes no other library uses: an unprefixed ``TASK_ROUTES`` under a namespace
# is a Celery setting gone astray, while ``REDIS_HOST`` or ``DATABASE_URL`` is usually the
# project's own.
CELERY_ONLY_PREFIXES = ("task_", "worker_", "beat_", "result_", "broker_", "event_")
_OLD_CELERY_PREFIXES = ("CELERY", "BROKER_")
_CELERY_ONLY_NAMES = frozenset({"accept_content"})

# ``name = ...`` / ``name: type = ...`` at the start of a line (the module's top level).
# A line starts after "\n" or after a lone "\r" (old Mac line endings); a form feed may lead it.
_TOP_LEVEL_ASSIGNMENT = re.compile(
    rb"(?:^|(?<=\r))\f*([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?::[^=\r\n]*)?=(?!=)", re.MULTILINE
)


def setting_of_name(catalogue: SettingsCatalogue, key: str) -> str | None:
    """Celery's new name for a module-level name, in any spelling a configuration module
    uses (new, old, ``CELERY_``-namespaced as Django settings write them)."""
    if key.startswith("CELERY_"):
        named = catalogue.namespaced(key, "CELERY")
        if named is not None:
            return named
    return catalogue.canonical(key)


def celery_specific(key: str, setting: str) -> bool:
    """Whether ``key`` (naming ``setting``) is a name only Celery configuration uses."""
    if key.isupper():
        return key.startswith(_OLD_CELERY_PREFIXES)
    return key == setting and (key.startswith(CELERY_ONLY_PREFIXES) or key in _CELERY_ONLY_NAMES)


def assigns_celery_settings(catalogue: SettingsCatalogue, data: bytes) -> bool:
    """Two or more Celery settings assigned at the top level, one of them Celery-specific."""
    if b"=" not in data:
        return False
    settings: set[str] = set()
    specific = False
    for match in _TOP_LEVEL_ASSIGNMENT.finditer(data):
        key = match.group(1).decode("ascii")
        setting = setting_of_name(catalogue, key)
        if setting is None:
            continue
        settings.add(setting)
        specific = specific or celery_specific(key, setting)
        if specific and len(settings) >= 2:
            return True
    return False
