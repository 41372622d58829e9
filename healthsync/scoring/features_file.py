"""Read hand-written features for `healthsync rules test --features FILE`.

Before a new rule file goes live, RevOps tries it on a handful of accounts typed into a JSON or CSV
file. Those files are written by people, so every value is checked against the signal registry
(kind and range) and every problem is reported at once, located by row and key: a silently
misread cell would make the rule test lie. An absent key, `null` or an empty cell means "no data",
exactly as in a live run.

JSON: a list of objects, or `{"accounts": [...]}`. CSV: a header row, one account per line.
Keys: `account` (required, unique), `segment`, the names in `INPUT_FEATURES`, and `extra.<name>`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from healthsync.errors import ConfigError, ConfigProblem
from healthsync.model import Features
from healthsync.scoring.registry import EXTRA_PREFIX, INPUT_FEATURES, SignalDef
from healthsync.scoring.rulecheck import closest

__all__ = ["load_features"]

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})
_WORDS = frozenset({"true", "false", "yes", "no"})
_OWN_KEYS = ("account", "segment")
_KNOWN_KEYS = (*_OWN_KEYS, *INPUT_FEATURES)

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class _Record:
    """One account as read, before conversion, located by key prefix (JSON `[3]`) or line (CSV)."""

    prefix: str
    line: int | None
    values: dict[str, object]
    from_text: bool
    """CSV cells are text and are parsed by kind; JSON values must already have the right type."""


class _Bad(Protocol):
    """Reports a problem with one key of the record being converted."""

    def __call__(self, key: str, message: str, fix: str | None = None) -> None: ...


class _Problems:
    """Collects located problems for one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[ConfigProblem] = []

    def add(self, key: str, message: str, *, line: int | None = None, fix: str | None = None) -> None:
        self.items.append(ConfigProblem(self.source, key, message, line=line, fix=fix))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(f"{self.source}: invalid features file", self.items)


def load_features(path: str | Path) -> list[Features]:
    """Read a .json or .csv features file into Features, in file order.

    Raises:
        ConfigError: the file is missing, empty, of another type, malformed, or has bad values;
            lists one ConfigProblem per problem.
    """
    file = Path(path)
    problems = _Problems(str(file))
    suffix = file.suffix.lower()
    if suffix not in (".json", ".csv"):
        problems.add("", f"unsupported file type '{suffix or file.name}'", fix="use a .json or .csv file")
        problems.raise_if_any()
    try:
        text = file.read_text(encoding="utf-8-sig")  # -sig: spreadsheet exports start with a BOM
    except FileNotFoundError:
        raise ConfigError(f"{file}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    if not text.strip():
        problems.add("", "file is empty", fix="add at least one account")
        problems.raise_if_any()
    records = _json_records(text, problems) if suffix == ".json" else _csv_records(text, problems)
    if not records and not problems.items:
        problems.add("", "no accounts in the file", fix="add at least one account")
    out = _to_features(records, problems)
    problems.raise_if_any()
    return out


def _json_records(text: str, problems: _Problems) -> list[_Record]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add("", f"not valid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno)
        return []
    prefix = ""
    if isinstance(data, dict):
        for key in data:
            if key != "accounts":
                problems.add(key, f"unknown key '{key}'", fix='put the accounts in a list under "accounts"')
        data, prefix = data.get("accounts"), "accounts"
    if not isinstance(data, list):
        problems.add(prefix, 'expected a list of accounts, or an object with an "accounts" list')
        return []
    records = []
    for index, item in enumerate(data):
        where = f"{prefix}[{index}]"
        if not isinstance(item, dict):
            problems.add(where, f"expected an object with an account, got {_show(item)}")
            continue
        records.append(_Record(where, None, item, from_text=False))
    return records


def _csv_records(text: str, problems: _Problems) -> list[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[_Record] = []
    try:
        header = [cell.strip() for cell in next(reader)]
        if not _header_ok(header, problems):
            return []
        columns = {key for key in header if key in _KNOWN_KEYS or _is_extra(key)}
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                problems.add(
                    "",
                    f"row has {len(row)} cells but the header has {len(header)}",
                    line=reader.line_num,
                    fix="quote cells that contain commas",
                )
                continue
            values = {key: cell for key, cell in zip(header, row, strict=False) if key in columns}
            records.append(_Record("", reader.line_num, dict(values), from_text=True))
    except csv.Error as exc:
        problems.add("", f"not valid CSV: {exc}", line=reader.line_num)
        return []
    return records


def _header_ok(header: list[str], problems: _Problems) -> bool:
    """Check the header once, so an unknown column is one problem, not one per row."""
    ok = True
    seen: set[str] = set()
    for column, key in enumerate(header, start=1):
        if not key:
            problems.add("", f"column {column} has no name in the header row", line=1)
            ok = False
        elif key in seen:
            problems.add(key, f"column '{key}' appears twice in the header row", line=1)
            ok = False
        elif key not in _KNOWN_KEYS and not _is_extra(key):
            problems.add(key, f"unknown column '{key}'", line=1, fix=_unknown_fix(key))
        seen.add(key)
    if "account" not in header:
        fix = "use commas between columns" if len(header) == 1 and ";" in header[0] else None
        problems.add("account", "the header row has no 'account' column", line=1, fix=fix)
        ok = False
    return ok


def _is_extra(key: str) -> bool:
    return key.startswith(EXTRA_PREFIX) and len(key) > len(EXTRA_PREFIX)


def _unknown_fix(key: str) -> str:
    hint = closest(key, _KNOWN_KEYS)
    if hint:
        return f"did you mean '{hint}'?"
    return f"known keys: {', '.join(_KNOWN_KEYS)}, or {EXTRA_PREFIX}<name> for a custom input"


def _to_features(records: list[_Record], problems: _Problems) -> list[Features]:
    out: list[Features] = []
    first_seen: dict[str, _Record] = {}
    for record in records:
        account = _account(record, problems)
        features = _one(record, account, problems)
        if account is None:
            continue
        earlier = first_seen.get(account)
        if earlier is not None:
            also = f"line {earlier.line}" if earlier.line is not None else earlier.prefix
            problems.add(
                _key(record, "account"),
                f"account '{account}' appears twice (also at {also})",
                line=record.line,
                fix="keep one entry per account",
            )
            continue
        first_seen[account] = record
        if features is not None:
            out.append(features)
    return out


def _key(record: _Record, key: str) -> str:
    return f"{record.prefix}.{key}" if record.prefix else key


def _one(record: _Record, account: str | None, problems: _Problems) -> Features | None:
    """Convert one record; None when it has a problem (already reported)."""
    count = len(problems.items)
    who = f"account '{account}'" if account else "account without a name"
    fields: dict[str, Any] = {}  # Features field name -> value already checked against its kind
    extra: dict[str, Cell] = {}
    segment: str | None = None

    def bad(key: str, message: str, fix: str | None = None) -> None:
        problems.add(_key(record, key), f"{who}: {message}", line=record.line, fix=fix)

    for key, raw in record.values.items():
        if key == "account":
            continue
        if key == "segment":
            segment = _segment(raw, bad)
        elif key in INPUT_FEATURES:
            fields[key] = _value(INPUT_FEATURES[key], raw, record.from_text, bad)
        elif _is_extra(key):
            value = _extra(key, raw, record.from_text, bad)
            if value is not None:  # absent and empty are the same "no data"; keep one spelling
                extra[key.removeprefix(EXTRA_PREFIX)] = value
        else:
            bad(key, f"unknown key '{key}'", _unknown_fix(key))
    if account is None or len(problems.items) > count:
        return None
    return replace(Features(account=account, segment=segment, extra=extra), **fields)


def _account(record: _Record, problems: _Problems) -> str | None:
    raw = record.values.get("account")
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    if raw is None or raw == "" or (isinstance(raw, str) and not raw.strip()):
        message = "missing account"
    else:
        message = f"account must be text, got {_show(raw)}"
    problems.add(_key(record, "account"), message, line=record.line, fix="give every entry an account name")
    return None


def _segment(raw: object, bad: _Bad) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, str):
        return raw.strip()
    bad("segment", f"segment must be text, got {_show(raw)}")
    return None


def _value(signal: SignalDef, raw: object, from_text: bool, bad: _Bad) -> Cell:
    """Parse one feature value by its kind and check its range; None for no data or on a problem."""
    name = signal.name
    if raw is None or (isinstance(raw, str) and from_text and not raw.strip()):
        return None
    value = _parse_text(signal, raw.strip()) if from_text and isinstance(raw, str) else raw
    shown = f'"{raw}"' if from_text else _show(raw)
    expected = {"int": "a whole number", "number": "a number", "ratio": "a number", "bool": "true or false"}
    wanted = expected.get(signal.kind, "text")
    if not _typed_ok(signal, value):
        fix = None
        if isinstance(raw, str) and not from_text and _parse_text(signal, raw) is not raw:
            fix = "remove the quotes"
        elif signal.kind == "bool" and from_text:
            fix = "write true/false, yes/no or 1/0"
        bad(name, f"{name} must be {wanted}, got {shown}", fix)
        return None
    assert isinstance(value, int | float | bool)
    if signal.kind == "int" and isinstance(value, float):
        value = int(value)
    if not isinstance(value, bool) and not _in_range(signal, value):
        bad(name, f"{name} must be {_range_words(signal)}, got {shown}")
        return None
    return value


def _parse_text(signal: SignalDef, text: str) -> object:
    """A CSV cell as the kind wants it, or the text itself when it does not parse."""
    lowered = text.lower()
    if signal.kind == "bool":
        return True if lowered in _TRUE else False if lowered in _FALSE else text
    if lowered in _WORDS:
        return lowered in ("true", "yes")  # a yes/no in a numeric column: reported as such
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return text


def _typed_ok(signal: SignalDef, value: object) -> bool:
    if signal.kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return False
    return signal.kind != "int" or isinstance(value, int) or value.is_integer()


def _in_range(signal: SignalDef, value: float) -> bool:
    low, high = signal.minimum, signal.maximum
    return (low is None or value >= low) and (high is None or value <= high)


def _range_words(signal: SignalDef) -> str:
    low, high = signal.minimum, signal.maximum
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    if low == 0:
        return "0 or more (it cannot be negative)"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _extra(key: str, raw: object, from_text: bool, bad: _Bad) -> Cell:
    if raw is None:
        return None
    if from_text and isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        lowered = text.lower()
        if lowered in _WORDS:
            return lowered in ("true", "yes")
        for parse in (int, float):
            try:
                number = parse(text)
            except ValueError:
                continue
            return number if math.isfinite(number) else text
        return text
    if isinstance(raw, bool | int | str) or (isinstance(raw, float) and math.isfinite(raw)):
        return raw
    bad(key, f"{key} must be a number, true/false or text, got {_show(raw)}")
    return None


def _show(value: object) -> str:
    """A value as the user wrote it, with its type where the type is the problem."""
    if value is True or value is False:
        return f"{str(value).lower()} (a yes/no)"
    if isinstance(value, str):
        return f'"{value}" (text)'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)
