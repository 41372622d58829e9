"""The value types of the config file: URLs, paths, time zones, cron lines and secret references.

Each is an `Annotated` type whose validator explains a bad value in the user's terms ("expected an
IANA time zone such as 'Europe/Berlin'") and, where a value could be a credential, refuses it without
repeating it. Paths and SQLite URLs are resolved against the config file's folder, which
`load_config` passes in the validation context as ``base_dir``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, BeforeValidator, ValidationInfo
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from healthsync.config_errors import literal_secret_error, redact_userinfo, secret_in_url_error
from healthsync.secrets import SecretRef

__all__ = [
    "DatabaseUrl",
    "EmailAddress",
    "ExistingFile",
    "FilePath",
    "HttpUrl",
    "NonBlank",
    "SecretField",
    "SecureUrl",
    "TimeZoneName",
    "check_cron",
    "interval_seconds",
    "valid_timezone",
]

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CRON_FIELDS = "expected 5 fields: minute hour day month weekday"
_FIELD_COUNT = re.compile(r"Wrong number of fields; got (\d+)")


def _base_dir(info: ValidationInfo) -> Path | None:
    context = info.context
    base = context.get("base_dir") if isinstance(context, dict) else None
    return base if isinstance(base, Path) else None


# --- secrets ---------------------------------------------------------------------------------


def _secret_ref_input(value: object) -> object:
    """Let only tables through; anything else written where a secret belongs is the secret itself."""
    if isinstance(value, dict | SecretRef):
        return value
    raise literal_secret_error()


SecretField = Annotated[SecretRef, BeforeValidator(_secret_ref_input)]
"""A credential: `{ keyring = "service/name" }` and/or `{ env = "VAR" }`, never the value itself."""


# --- text ------------------------------------------------------------------------------------


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonBlank = Annotated[str, AfterValidator(_non_blank)]


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"expected an e-mail address such as ops@example.com, got '{value}'")
    return value


EmailAddress = Annotated[str, AfterValidator(_email)]


# --- time ------------------------------------------------------------------------------------


def valid_timezone(name: object) -> bool:
    """Whether `name` is an IANA time zone known to this machine (or to the tzdata package)."""
    if not isinstance(name, str):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _timezone(value: str) -> str:
    if valid_timezone(value):
        return value
    known = available_timezones()
    same = [zone for zone in known if zone.lower() == value.strip().lower()]
    close = same or difflib.get_close_matches(value, sorted(known), n=1, cutoff=0.7)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ValueError(
        f"unknown time zone '{value}'{hint}; expected an IANA name such as 'UTC' or 'Europe/Berlin'"
    )


TimeZoneName = Annotated[str, AfterValidator(_timezone)]


def check_cron(expression: str, timezone: str) -> str:
    """Validate a crontab line the way the scheduler will read it.

    Raises:
        ValueError: APScheduler refuses it; the message quotes the line and says what a line holds.
    """
    try:
        CronTrigger.from_crontab(expression, timezone=timezone)
    except ValueError as exc:
        reason = str(exc)
        count = _FIELD_COUNT.search(reason)
        reason = f"it has {count.group(1)} fields" if count else reason[:1].lower() + reason[1:]
        raise ValueError(f"invalid cron expression '{expression}': {reason}; {_CRON_FIELDS}") from None
    return expression


_INTERVAL = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def interval_seconds(text: str) -> int:
    """Seconds in an interval such as `30s`, `15m`, `1h` or `1d`.

    Raises:
        ValueError: not a whole number with one of those units, or zero.
    """
    found = _INTERVAL.match(text)
    if found is None or int(found.group(1)) == 0:
        raise ValueError(
            f"invalid interval '{text}': write a positive whole number and a unit, e.g. 30s, 15m, 1h, 1d"
        )
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2)]


# --- URLs ------------------------------------------------------------------------------------


def _http_url(value: str, *, local_http_only: bool) -> str:
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise ValueError(f"expected an http(s) URL, got '{redact_userinfo(value)}'") from None
    if parts.username is not None or parts.password is not None:
        shown = f"{parts.scheme}://***@{parts.netloc.rpartition('@')[2]}{parts.path}"
        raise secret_in_url_error(shown, password_key=None)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http:// or https:// URL such as https://example.com, got '{value}'")
    if local_http_only and parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise ValueError(f"expected an https:// URL (http is allowed only for localhost), got '{value}'")
    return value.rstrip("/")


def _any_http_url(value: str) -> str:
    return _http_url(value, local_http_only=False)


def _secure_url(value: str) -> str:
    return _http_url(value, local_http_only=True)


HttpUrl = Annotated[str, AfterValidator(_any_http_url)]
"""An http or https URL (http for the local sandbox)."""

SecureUrl = Annotated[str, AfterValidator(_secure_url)]
"""An https URL; plain http only for localhost/127.0.0.1, where the sandbox runs."""


def _database_url(value: str, info: ValidationInfo) -> str:
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError(
            "expected an SQLAlchemy URL such as sqlite:///healthsync.db or "
            f"postgresql+psycopg://user@host/db, got '{redact_userinfo(value)}'"
        ) from None
    if url.password:
        raise secret_in_url_error(url.render_as_string(hide_password=True), password_key="password")  # noqa: S106 - a key name
    database = url.database
    base = _base_dir(info)
    relative_file = (
        url.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
        and not Path(database).is_absolute()
    )
    if relative_file and base is not None:
        url = url.set(database=str(base / str(database)))
    return url.render_as_string(hide_password=False)


DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
"""An SQLAlchemy URL without a password; a relative SQLite file is anchored at the config's folder."""


# --- files -----------------------------------------------------------------------------------


def _path(value: object, info: ValidationInfo) -> object:
    if isinstance(value, Path):
        path = value
    elif isinstance(value, str) and value.strip():
        path = Path(value).expanduser()
    else:
        raise PydanticCustomError("path_type", "expected a file path (a string)")
    base = _base_dir(info)
    return base / path if base is not None and not path.is_absolute() else path


def _exists(value: Path) -> Path:
    if not value.exists():
        raise ValueError(f"file not found: {value} (relative paths start at the config file's folder)")
    if not value.is_file():
        raise ValueError(f"not a file: {value}")
    return value


FilePath = Annotated[Path, BeforeValidator(_path)]
"""A path, resolved against the config file's folder."""

ExistingFile = Annotated[Path, BeforeValidator(_path), AfterValidator(_exists)]
"""A path, resolved against the config file's folder, that must name an existing file."""
