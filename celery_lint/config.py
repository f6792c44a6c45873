"""``[tool.celery-lint]`` in ``pyproject.toml``: read and validated.

This module knows nothing about rules or packs: what the rules declare (their options and
codes) is handed in as a :class:`RuleVocabulary` by the layer that has them.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings_catalogue import load_catalogue

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


class ConfigError(Exception):
    """A configuration problem the user must fix; reported as one line, exit code 2."""


CORE_KEYS = {
    "select": list,
    "extend-select": list,
    "ignore": list,
    "extend-ignore": list,
    "per-file-ignores": dict,
    "exclude": list,
    "extend-exclude": list,
    "plugins": list,
    "deployment-settings": dict,
}


@dataclass
class Settings:
    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    plugins: list[str] = field(default_factory=list)
    deployment: dict[str, Any] = field(default_factory=dict)
    """``deployment-settings``: what the deployment adds to every app's configuration."""


def _check_list(key: str, value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings, got {value!r}")
    return list(value)


def read_pyproject(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"{path}: invalid TOML: not valid UTF-8 at line {line} ({exc.reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {_one_line(str(exc))}") from exc
    except (RecursionError, MemoryError):
        # tomllib recurses once per nested array or inline table.
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply to read") from None
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: [tool] must be a table")
    section = tool.get("celery-lint", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [tool.celery-lint] must be a table")
    return section


@dataclass(frozen=True)
class ConfigSource:
    """``[tool.celery-lint]`` of one project as read, before it is checked against the rules."""

    path: Path
    section: dict[str, Any]
    plugins: list[str]
    """The project's own rule packs (``plugins = [...]``): loaded before the rest is checked."""

    @property
    def where(self) -> str:
        return f"{self.path} [tool.celery-lint]"


@dataclass(frozen=True)
class RuleVocabulary:
    """What the rest of the configuration is checked against, from the layer that has the
    rules: the options they declare and the codes the project may name."""

    options: dict[str, tuple[type, Any]]
    codes: Sequence[str]
    lenient: bool = False
    """A rule pack failed to load: an unknown key or code may be its, so neither is an error
    (the failure is the error the front ends report, and the other rules still run)."""


def read_config(root: Path, config_file: Path | None) -> ConfigSource:
    """Read the configuration of the project at ``root`` (or ``config_file``)."""
    path = config_file if config_file is not None else root / "pyproject.toml"
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"{config_file}: configuration file not found")
    section: dict[str, Any] = read_pyproject(path) if path.is_file() else {}
    plugins: list[str] = []
    if "plugins" in section:
        plugins = _check_list("plugins", section["plugins"], f"{path} [tool.celery-lint]")
    return ConfigSource(path, section, plugins)


def settings_from(source: ConfigSource, vocabulary: RuleVocabulary) -> Settings:
    """Validate ``source`` against the rules' options and codes."""
    section, where = source.section, source.where
    rule_options = vocabulary.options
    settings = Settings(source=str(source.path) if section else None, plugins=list(source.plugins))
    settings.options = {name: default for name, (_, default) in rule_options.items()}
    for key, value in section.items():
        if key in ("select", "extend-select", "ignore", "extend-ignore", "exclude", "extend-exclude"):
            values = _check_list(key, value, where)
            if key == "select":
                if not values:
                    # An empty selection would check nothing and pass: never what a gate wants.
                    raise ConfigError(
                        f"{where}: 'select' is empty: it would check nothing; name codes or remove it"
                    )
                settings.select = values
            elif key == "extend-select":
                settings.extend_select += values
            elif key in ("ignore", "extend-ignore"):
                settings.ignore += values
            else:
                settings.exclude += values
        elif key == "plugins":
            continue
        elif key == "deployment-settings":
            settings.deployment = _deployment_settings(value, where)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: 'per-file-ignores' must be a table of pattern = [codes]")
            for pattern, codes in value.items():
                checked = _check_list(f"per-file-ignores.{pattern}", codes, where)
                # Checked here, not only where the rules are selected, so that the error
                # names the configuration file.
                if not vocabulary.lenient:
                    check_selectors(checked, vocabulary.codes, f"{where}: per-file-ignores {pattern!r}")
                settings.per_file_ignores[pattern] = checked
        elif key in rule_options:
            expected, _ = rule_options[key]
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
                raise ConfigError(f"{where}: '{key}' must be of type {expected.__name__}, got {value!r}")
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: '{key}' must be a list of strings")
            settings.options[key] = value
        elif not vocabulary.lenient:
            hint = _closest(key, sorted([*CORE_KEYS, *rule_options]))
            reason = f" (did you mean '{hint}'?)" if hint else ""
            raise ConfigError(f"{where}: unknown key '{key}'{reason}")
    return settings


_TOML_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "string": (str,),
    "list": (list,),
    "dict": (dict,),
}


def _deployment_settings(value: Any, where: str) -> dict[str, Any]:
    """``deployment-settings = { task_time_limit = 300 }``: Celery settings by their new
    (lowercase) names, each value of the type the installed Celery declares for it."""
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: 'deployment-settings' must be a table of setting = value")
    catalogue = load_catalogue()
    checked: dict[str, Any] = {}
    for name, setting in value.items():
        if not catalogue.is_new(name):
            new = catalogue.canonical(name) or catalogue.namespaced(name, "CELERY")
            hint = new or _closest(name, sorted(catalogue.defaults))
            reason = f" (did you mean '{hint}'?)" if hint else ""
            raise ConfigError(f"{where}: 'deployment-settings': unknown Celery setting '{name}'{reason}")
        kind = catalogue.types.get(name, "any")
        allowed = _TOML_TYPES.get(kind)
        if allowed is not None and (
            not isinstance(setting, allowed) or (isinstance(setting, bool) and bool not in allowed)
        ):
            raise ConfigError(
                f"{where}: 'deployment-settings': '{name}' must be of type {kind}, got {setting!r}"
            )
        checked[name] = setting
    return checked


_SELECTOR = re.compile(r"[A-Z]{1,3}[0-9]{0,3}")


def check_selectors(selectors: Iterable[str], codes: Sequence[str], what: str) -> None:
    """Every selector is ``ALL`` or a code or prefix of one of ``codes``; else a ConfigError."""
    for selector in selectors:
        if selector == "ALL":
            continue
        if not _SELECTOR.fullmatch(selector) or not any(code.startswith(selector) for code in codes):
            raise ConfigError(f"{what}: unknown rule code or prefix '{selector}'")


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _closest(word: str, candidates: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None
