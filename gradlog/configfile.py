"""Configuration files: ``[tool.gradlog]`` in pyproject.toml or a gradlog.toml.

The nearest file at or above the working directory applies (in one directory gradlog.toml
wins over pyproject.toml, and a pyproject.toml without ``[tool.gradlog]`` does not count),
unless one is named with ``--config``. Every key is checked: an unknown key, rule id or
threshold, or a value of the wrong type, is an error naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any, NamedTuple, get_args, get_origin, get_type_hints

from gradlog.config import Config, Thresholds
from gradlog.detectors import RULES
from gradlog.model import Severity
from gradlog.parse.names import NameTable, normalise

FILE_NAMES = ("gradlog.toml", "pyproject.toml")  # in order of precedence in one directory
_TOP_KEYS = ("fail_on", "select", "ignore", "metrics", "thresholds")


class ConfigError(ValueError):
    """A configuration file cannot be used; the message names the file and the key."""


class ConfigFile(NamedTuple):
    """The gradlog table of one file, with how to name its keys in messages."""

    path: Path
    table: dict[str, Any]
    prefix: str  # "tool.gradlog." in pyproject.toml, "" in gradlog.toml

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{shown(self.path)}: {self.prefix}{key}: {problem}")


def shown(path: Path) -> str:
    """A path as messages name it: relative to the working directory when found."""
    if not path.is_absolute():
        return str(path)
    try:
        return os.path.relpath(path)
    except ValueError:  # on another drive (Windows)
        return str(path)


def read(path: Path, explicit: bool = False) -> ConfigFile | None:
    """The gradlog table of ``path``; None for a pyproject.toml without one (unless
    ``explicit``: a file named on the command line always counts, if only as defaults)."""
    if sys.version_info >= (3, 11):  # imported here: most runs parse no file
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would hang, a device never end
            raise ConfigError(f"{shown(path)}: not a regular file")
        raw = path.read_bytes()
        # Every way TOML can spell tool.gradlog has the word in it (a key's escapes
        # aside): a project's pyproject.toml without it is not parsed, nor judged.
        if path.name == "pyproject.toml" and not explicit and b"gradlog" not in raw:
            return None
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown(path)}: invalid TOML (not UTF-8: {exc.reason})") from None
    except FileNotFoundError:
        raise ConfigError(f"{shown(path)}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{shown(path)}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown(path)}: invalid TOML ({exc})") from None
    if path.name != "pyproject.toml":
        return ConfigFile(path, data, "")
    tool = data.get("tool")
    table = tool.get("gradlog") if isinstance(tool, dict) else None
    if table is None:
        return ConfigFile(path, {}, "tool.gradlog.") if explicit else None
    if not isinstance(table, dict):
        raise ConfigError(f"{shown(path)}: tool.gradlog: expected a table, got {kind(table)}")
    return ConfigFile(path, table, "tool.gradlog.")


def find(start: Path) -> ConfigFile | None:
    """The nearest configuration at or above the directory ``start``, looking no higher
    than the repository root (the directory holding ``.git``) or the home directory: a
    ``gradlog.toml`` left in a shared parent (``/tmp``) must not change results."""
    home = _home()
    for directory in (start, *start.parents):
        for name in FILE_NAMES:
            path = directory / name
            if path.is_file():
                found = read(path)
                if found is not None:
                    return found
        if (directory / ".git").exists() or directory == home:
            break
    return None


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):  # no home directory for this user
        return None


def load(config_path: str | None, cwd: Path) -> tuple[Config, Path | None]:
    """The configuration of the file given, or else found from ``cwd``, and its path."""
    found = read(Path(config_path), explicit=True) if config_path else find(cwd)
    if found is None:
        return Config(), None
    return apply(found), found.path


def kind(value: object) -> str:
    """A TOML value's type as a message says it: ``a string``, ``an array``..."""
    names = {bool: "a boolean", str: "a string", int: "an integer", float: "a float"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), f"a {type(value).__name__}")


def keyed(file: ConfigFile, table: dict[str, Any], where: str) -> dict[str, tuple[str, Any]]:
    """``table`` by snake_case key, keeping each key as written; ``a-b`` and ``a_b`` twice
    is an error."""
    found: dict[str, tuple[str, Any]] = {}
    for key, value in table.items():
        snake = key.replace("-", "_")
        if snake in found:
            raise file.fail(f"{where}{key}", f"given twice (also as {found[snake][0]!r})")
        found[snake] = (key, value)
    return found


def apply(file: ConfigFile) -> Config:
    """The configuration a file describes, on top of the defaults."""
    table = keyed(file, file.table, "")
    unknown = [written for snake, (written, _) in table.items() if snake not in _TOP_KEYS]
    if unknown:
        known = ", ".join(key.replace("_", "-") for key in _TOP_KEYS)
        raise file.fail(unknown[0], f"unknown key (known: {known})")
    config = Config()
    if "fail_on" in table:
        config = dataclasses.replace(config, fail_on=fail_on(file, *table["fail_on"]))
    if "select" in table:
        config = dataclasses.replace(config, select=rule_ids(file, *table["select"]))
    if "ignore" in table:
        config = dataclasses.replace(config, ignore=rule_ids(file, *table["ignore"]))
    if "metrics" in table:
        config = dataclasses.replace(config, metric_names=metrics(file, *table["metrics"]))
    if "thresholds" in table:
        config = dataclasses.replace(config, thresholds=thresholds(file, *table["thresholds"]))
    return config


def fail_on(file: ConfigFile, key: str, value: object) -> Severity:
    if not isinstance(value, str):
        raise file.fail(key, f"expected a string, got {kind(value)}")
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise file.fail(key, str(exc)) from None


def rule_ids(file: ConfigFile, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise file.fail(key, f"expected an array of rule ids, got {kind(value)}")
    unknown = [item for item in value if item not in RULES]
    if unknown:
        raise file.fail(key, f"unknown rule id {unknown[0]!r} (known: {', '.join(RULES)})")
    return tuple(value)


def is_canonical(name: str) -> bool:
    """Whether ``name`` is a canonical metric name (``loss``, ``grad_norm``...)."""
    table = NameTable()
    return table.known(name) and table.canonical(name) == normalise(name)


def metrics(file: ConfigFile, key: str, value: object) -> dict[str, str]:
    """``{canonical: printed or [printed, ...]}`` -> ``{printed: canonical}``."""
    if not isinstance(value, dict):
        raise file.fail(key, f"expected a table, got {kind(value)}")
    mapping: dict[str, str] = {}
    for canonical, printed in value.items():
        where = f"{key}.{canonical}"
        if not is_canonical(canonical):
            raise file.fail(where, "not a canonical metric name (loss, val_loss, grad_norm...)")
        names = printed if isinstance(printed, list) else [printed]
        if not names or not all(isinstance(name, str) and name.strip() for name in names):
            raise file.fail(where, "expected a printed metric name or an array of them")
        mapping |= {name.strip(): normalise(canonical) for name in names}
    return mapping


def thresholds(file: ConfigFile, key: str, value: object) -> Thresholds:
    if not isinstance(value, dict):
        raise file.fail(key, f"expected a table, got {kind(value)}")
    groups = set(Thresholds._fields)
    result = Thresholds()
    for rule_id, (written, table) in keyed(file, value, f"{key}.").items():
        where = f"{key}.{written}"
        if rule_id not in RULES:
            raise file.fail(where, f"unknown rule id (known: {', '.join(RULES)})")
        if rule_id not in groups:
            raise file.fail(where, f"rule {rule_id} has no thresholds")
        if not isinstance(table, dict):
            raise file.fail(where, f"expected a table, got {kind(table)}")
        group = threshold_group(file, where, getattr(result, rule_id), table)
        result = result._replace(**{rule_id: group})
    return result


def threshold_group(file: ConfigFile, where: str, group: Any, table: dict[str, Any]) -> Any:
    """``group`` (one rule's thresholds) with the values of ``table``."""
    hints = get_type_hints(type(group))
    values = {}
    for snake, (written, value) in keyed(file, table, f"{where}.").items():
        if snake not in hints:
            known = ", ".join(name.replace("_", "-") for name in hints)
            raise file.fail(f"{where}.{written}", f"unknown threshold (known: {known})")
        values[snake] = checked(file, f"{where}.{written}", value, hints[snake], snake)
    return group._replace(**values)


# Counts that may be 0 (no allowance, no gap); every other count and window is at least 1.
_ZERO_COUNTS = frozenset(
    {"max_skipped_steps", "max_calibration_steps", "max_leading_records"}
    | {"storm_gap", "blips", "quiet_grad_jumps"}
)


def minimum(name: str, hint: Any) -> float:
    """The least sensible value of a threshold, by what it measures."""
    if name == "classes":
        return 2  # a classifier has at least two classes
    if hint is int:
        return 0 if name in _ZERO_COUNTS else 1  # windows and record counts
    if "factor" in name or name in ("growth", "extreme", "severe_factor"):
        return 1.0  # a rise by a factor under 1 is a fall
    return 0.0  # sizes, fractions and ratios


def checked(file: ConfigFile, where: str, value: object, hint: Any, name: str = "") -> object:
    """``value`` as the type ``hint`` (a number, bool, str or a tuple of them), within the
    range that makes sense for the threshold ``name``, or an error naming the key."""
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        if not isinstance(value, list):
            raise file.fail(where, f"expected an array, got {kind(value)}")
        if not value:
            raise file.fail(where, "expected a non-empty array")
        items = enumerate(value)
        if name == "windows":
            name = "window"  # each window is a count of records
        return tuple(checked(file, f"{where}[{i}]", v, item, name) for i, v in items)
    if hint in (bool, str):
        if not isinstance(value, hint):
            raise file.fail(where, f"expected {kind(hint())}, got {kind(value)}")
        return value
    wanted = "an integer" if hint is int else "a number"
    if isinstance(value, bool) or not isinstance(value, int if hint is int else (int, float)):
        raise file.fail(where, f"expected {wanted}, got {kind(value)}")
    number = float(value)  # an int or a float, checked above
    least = minimum(name, hint)
    if math.isnan(number) or number < least:  # every threshold is a size, count or ratio
        raise file.fail(where, f"expected {wanted} >= {least:g}, got {value}")
    return number if hint is float else value


def toml_key(key: str) -> str:
    """A key as TOML text: bare when it can be, quoted otherwise."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string, which a JSON string is."""
    import json  # here: only ``gradlog config`` writes TOML

    return json.dumps(text, ensure_ascii=False)


def toml_value(value: object) -> str:
    """A value as TOML text (booleans, strings, numbers, and arrays of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def dumps(config: Config) -> str:
    """The configuration as TOML text in the ``[tool.gradlog]`` shape, every value shown."""
    lines = [
        "[tool.gradlog]",
        f"fail-on = {toml_value(str(config.fail_on))}",
        f"select = {toml_value(config.select)}",
        f"ignore = {toml_value(config.ignore)}",
        "",
        "[tool.gradlog.metrics]",
    ]
    printed: dict[str, list[str]] = {}
    for name, canonical in config.metric_names.items():
        printed.setdefault(canonical, []).append(name)
    lines += [f"{toml_key(name)} = {toml_value(names)}" for name, names in printed.items()]
    for name in Thresholds._fields:
        lines += ["", f"[tool.gradlog.thresholds.{name}]"]
        values = getattr(config.thresholds, name)
        lines += threshold_lines(values)
    return "\n".join(lines) + "\n"


def threshold_lines(group: Any) -> list[str]:
    """``name = value`` for each field of one rule's thresholds, in kebab-case."""
    return [
        f"{name.replace('_', '-')} = {toml_value(value)}"
        for name, value in zip(group._fields, group, strict=True)
    ]
