"""Structured logs: JSON lines where a machine reads them, readable lines on a terminal, never a secret.

healthsync runs for months under systemd, in containers and from cron, where its logs are the only
account of what it did; on a terminal a person reads them next to progress bars. So one record is
rendered two ways:

- **JSON lines** (stderr is not a terminal, or ``format = "json"``): one object per record, ready for
  journald, Docker and any log shipper::

      {"time": "2026-11-24T07:19:12.345Z", "level": "info", "logger": "healthsync.sync",
       "message": "run 12 finished: ok", "run_id": 12, "config": "acme", "status": "ok",
       "accounts": {"crm": 300, ...}, "api_calls": {"hubspot": {"read": 4, "write": 7}}, ...}

  `time` is UTC with milliseconds, `level` is lower case (as in `[logging] level`), and every field a
  call passes in ``extra=`` (vendor, endpoint, kind, attempt, status, duration_ms, counts...) is a
  key of its own, as is the run's context (`run_id`, `config`). A traceback is in `exception`.
- **Text** (a terminal, or ``format = "text"``): ``2026-11-24 08:19:12 INFO healthsync.sync: run 12
  finished: ok  run_id=12 status=ok ...``, local time.

**Context.** `log_context(run_id=..., config=...)` binds fields to every record logged inside it, in
this thread or task only (a `ContextVar`), so the connectors and `http.py` need not be handed a run
id, and two scheduled runs in two threads never mix theirs up.

**Secrets.** The handler carries `healthsync.secrets.RedactingFilter`, which scrubs every credential
revealed in this process from the message and traceback; the formatters also scrub every extra field.
`healthsync.secrets` is consulted once imported: it is the only way a secret is ever revealed, so
until it is loaded there is nothing to scrub, and the CLI does not pay for importing keyring and
pydantic just to set up logging.

**Levels.** `HEALTHSYNC_LOG_LEVEL` and `HEALTHSYNC_LOG_FORMAT`, when set, win over the config, so a
unit file or ``docker run -e`` can turn on debug logs without editing a mounted config; then the
config's `[logging]` section; then the caller's default (the CLI: `info` for the scheduler, which has
only its logs, `warning` for one-off commands, which print their own progress and result). Only
healthsync's own loggers follow the level; other libraries log warnings and errors.
"""

from __future__ import annotations

import json as _json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, date, datetime
from enum import Enum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TextIO

from healthsync.errors import ConfigError

if TYPE_CHECKING:
    from healthsync.config import Config, LoggingSection

__all__ = [
    "FORMATS",
    "FORMAT_ENV",
    "LEVELS",
    "LEVEL_ENV",
    "JsonFormatter",
    "TextFormatter",
    "bind",
    "log_context",
    "setup_logging",
    "unbind",
]

LEVEL_ENV = "HEALTHSYNC_LOG_LEVEL"
FORMAT_ENV = "HEALTHSYNC_LOG_FORMAT"
LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
FORMATS = ("auto", "json", "text")

_OWN_LOGGER = "healthsync"
_FIRST = ("run_id", "config")
"""Context keys shown right after the message, so a reader finds the run before the details."""

# Attributes every LogRecord has; anything else on a record came from `extra=` or the context.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}

_context: ContextVar[Mapping[str, Any]] = ContextVar("healthsync_log_context", default=MappingProxyType({}))


# --- context ---------------------------------------------------------------------------------


def bind(**fields: Any) -> Token[Mapping[str, Any]]:
    """Add `fields` to every record logged from now on in this thread or task; `unbind` undoes it.

    Prefer `log_context`; `bind` is for code whose shape has no room for a ``with`` block.
    """
    return _context.set(MappingProxyType({**_context.get(), **fields}))


def unbind(token: Token[Mapping[str, Any]]) -> None:
    """Restore the context as it was before the `bind` that returned `token`."""
    _context.reset(token)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind `fields` (e.g. ``run_id=12``) to every record logged inside the block, in this thread only."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


class _ContextFilter(logging.Filter):
    """Copies the bound context onto each record (a field given in ``extra=`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if key not in record.__dict__:
                setattr(record, key, value)
        return True


# --- redaction -------------------------------------------------------------------------------


def _redact(text: str) -> str:
    secrets = sys.modules.get("healthsync.secrets")
    return text if secrets is None else str(secrets.redact(text))


class _Redacting(logging.Filter):
    """`healthsync.secrets.RedactingFilter`, once that module is loaded (before, nothing was revealed)."""

    def __init__(self) -> None:
        super().__init__()
        self._filter: logging.Filter | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self._filter is None:
            secrets = sys.modules.get("healthsync.secrets")
            if secrets is None:
                return True
            self._filter = secrets.RedactingFilter()
        return bool(self._filter.filter(record))


def _plain(value: Any) -> Any:
    """A JSON-ready copy of an extra field's value, with every string scrubbed of secrets."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _redact(value)
    if isinstance(value, Enum):
        return _plain(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return _redact(str(value))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The record's own fields: context keys first, then `extra=` fields in the order given."""
    found = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
    ordered = {k: found.pop(k) for k in _FIRST if k in found}
    ordered.update(found)
    return {k: _plain(v) for k, v in ordered.items()}


# --- formatters ------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the context and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as one line of JSON (no newline inside, whatever the message holds)."""
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry: dict[str, Any] = {
            "time": stamp.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _redact(record.getMessage()),
        }
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = _redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = _redact(self.formatStack(record.stack_info))
        return _json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-11-24 08:19:12 INFO healthsync.sync: message  key=value ...``, in local time."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        """The classic line, the context and extra fields appended as ``key=value``."""
        line = super().format(record)
        fields = _extras(record)
        if fields:
            rendered = " ".join(f"{k}={_text_value(v)}" for k, v in fields.items())
            head, newline, rest = line.partition("\n")  # a traceback stays below the fields
            line = f"{head}  {rendered}{newline}{rest}"
        return _redact(line)


def _text_value(value: Any) -> str:
    """A word as it is (``hubspot``), anything else as JSON (``"two words"``, ``{"read": 4}``)."""
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"'=" for c in value):
        return value
    return _json.dumps(value, ensure_ascii=False, default=str)


# --- the handler -----------------------------------------------------------------------------


class _Handler(logging.Handler):
    """Writes each record as one line to `stream`, or to whatever `sys.stderr` is when it is logged.

    Looking `sys.stderr` up per record keeps working when something swaps it: rich's progress display
    (which then prints log lines above its bars) and click's test runner.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self._stream if self._stream is not None else sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except RecursionError:  # as logging.StreamHandler does
            raise
        except Exception:
            self.handleError(record)


def _choice(value: str, allowed: Mapping[str, Any] | tuple[str, ...], key: str) -> str:
    name = value.strip().lower()
    if name not in allowed:
        raise ConfigError(f"{key}: expected one of {', '.join(allowed)}; got {value!r}")
    return name


def _wanted(
    config_or_level: Config | LoggingSection | str | int | None,
) -> tuple[str | int | None, str | None]:
    """The (level, format) the argument asks for; None where it leaves the choice to others."""
    if config_or_level is None or isinstance(config_or_level, str | int):
        return config_or_level, None
    from healthsync.config import Config  # the caller has loaded it already

    section = config_or_level.logging if isinstance(config_or_level, Config) else config_or_level
    return section.level, section.format


def setup_logging(
    config_or_level: Config | LoggingSection | str | int | None = None,
    *,
    json: bool | None = None,
    default_level: str = "warning",
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send healthsync's logs to stderr, as JSON lines or text, with secrets scrubbed and run context.

    Safe to call again (each CLI command does, and the scheduler may after loading its config): the
    handler installed by an earlier call is replaced, never doubled.

    Args:
        config_or_level: a `Config` or its `[logging]` section (level and format), a level name
            (``"debug"``...) or number, or None for `default_level`.
        json: force JSON lines (True) or text (False); None decides from `HEALTHSYNC_LOG_FORMAT`,
            else the config's format, else "auto": JSON unless stderr is a terminal.
        default_level: the level when neither `HEALTHSYNC_LOG_LEVEL` nor the argument sets one.
        stream: where to write (default: `sys.stderr`, looked up at every record).

    Returns:
        The installed handler (tests attach to it; `logging.getLogger().removeHandler` detaches it).

    Raises:
        ConfigError: `HEALTHSYNC_LOG_LEVEL` or `HEALTHSYNC_LOG_FORMAT` holds an unknown value.
    """
    asked_level, asked_format = _wanted(config_or_level)
    env_level, env_format = os.environ.get(LEVEL_ENV), os.environ.get(FORMAT_ENV)
    if env_level:
        level = LEVELS[_choice(env_level, LEVELS, LEVEL_ENV)]
    elif isinstance(asked_level, int):
        level = asked_level
    else:
        level = LEVELS[_choice(asked_level or default_level, LEVELS, "level")]
    if json is None:
        fmt = _choice(env_format, FORMATS, FORMAT_ENV) if env_format else asked_format
        if fmt in (None, "auto"):
            target = stream if stream is not None else sys.stderr
            json = not (hasattr(target, "isatty") and target.isatty())
        else:
            json = fmt == "json"

    handler = _Handler(stream)
    handler.addFilter(_ContextFilter())
    handler.addFilter(_Redacting())
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    # On the root logger, so other libraries' warnings come out in the same format; their own
    # levels stay as they are (warning), as their debug output is noise and may quote payloads.
    root.addHandler(handler)
    logging.getLogger(_OWN_LOGGER).setLevel(level)
    return handler
