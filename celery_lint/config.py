"""``[tool.celery-lint]`` in ``pyproject.toml``, merged with command-line options."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def load_settings(
    root: Path,
    config_file: Path | None,
    rule_options: dict[str, tuple[type, Any]] | Callable[[], dict[str, tuple[type, Any]]],
) -> Settings:
    """Read and validate the configuration of the project at ``root``.

    ``plugins`` (local rule packs) are loaded first, so the options their rules declare
    are known when the other keys are validated; ``rule_options`` may be a callable for that.
    """
    path = config_file if config_file is not None else root / "pyproject.toml"
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"{config_file}: configuration file not found")
    section: dict[str, Any] = read_pyproject(path) if path.is_file() else {}
    where = f"{path} [tool.celery-lint]"
    settings = Settings(source=str(path) if section else None)
    if "plugins" in section:
        settings.plugins = _check_list("plugins", section["plugins"], where)
        from .plugins import load_local_plugins

        load_local_plugins(settings.plugins, root)
    if callable(rule_options):
        rule_options = rule_options()
    settings.options = {name: default for name, (_, default) in rule_options.items()}
    for key, value in section.items():
        if key in ("select", "extend-select", "ignore", "extend-ignore", "exclude", "extend-exclude"):
            values = _check_list(key, value, where)
            if key == "select":
                settings.select = values
            elif key == "extend-select":
                settings.extend_select += values
            elif key in ("ignore", "extend-ignore"):
                settings.ignore += values
            else:
                settings.exclude += values
        elif key == "plugins":
            continue
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: 'per-file-ignores' must be a table of pattern = [codes]")
            for pattern, codes in value.items():
                checked = _check_list(f"per-file-ignores.{pattern}", codes, where)
                _check_codes(checked, f"{where}: per-file-ignores {pattern!r}", settings.plugins)
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
        else:
            known = sorted([*CORE_KEYS, *rule_options])
            hint = _closest(key, known)
            from .plugins import load_errors

            if load_errors():
                # The key may belong to a pack that failed to load: that failure is the error
                # the front ends report, and the built-in rules still run.
                continue
            reason = f" (did you mean '{hint}'?)" if hint else ""
            raise ConfigError(f"{where}: unknown key '{key}'{reason}")
    return settings


def _check_codes(codes: list[str], where: str, own_plugins: list[str]) -> None:
    """Every code or prefix names a rule of this project: a built-in rule, an installed
    pack's or one of the project's own ``plugins``. Checked here, not only where the rules
    are selected, so that the error names the configuration file."""
    import re

    from .plugins import load_errors, local_pack_names, registry
    from .rules import all_rules

    if load_errors():
        # The code may belong to a pack that failed to load: that failure is the error to report.
        return
    foreign = local_pack_names() - set(own_plugins)
    pack_of = registry().pack_of
    known = [rule.CODE for rule in all_rules() if pack_of.get(rule.CODE) not in foreign]
    for code in codes:
        if code == "ALL":
            continue
        if not re.fullmatch(r"[A-Z]{1,3}[0-9]{0,3}", code) or not any(c.startswith(code) for c in known):
            raise ConfigError(f"{where}: unknown rule code or prefix '{code}'")


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _closest(word: str, candidates: list[str]) -> str | None:
    import difflib

    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None
