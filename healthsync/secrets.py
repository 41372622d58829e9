"""Credentials: keyring first, then the environment, and a `Secret` type that never prints its value.

The config file only ever holds a *reference* to a credential (`SecretRef`), never the credential
itself, because config files get committed, pasted into tickets and copied between machines. At run
time `resolve` turns a reference into a `Secret`: the OS keyring is asked first (where `healthsync auth
set` stores things), the environment second (containers and CI have no keyring). A `Secret` prints as
``Secret('********')`` everywhere, refuses to be pickled so it can never land in a job store or the
state database, and hands its value out only through `reveal()`. Every revealed value is also
remembered, so `RedactingFilter` can scrub it from log records that format it by accident.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import shlex
import threading
from pathlib import Path
from typing import Any, NoReturn, Self

import keyring
import keyring.backends.fail
import keyring.backends.null
from keyring.errors import KeyringError, NoKeyringError
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from healthsync.errors import ConfigError, ConfigProblem

__all__ = [
    "DEFAULT_SERVICE",
    "MASK",
    "RedactingFilter",
    "Secret",
    "SecretRef",
    "delete",
    "display_name",
    "keyring_available",
    "redact",
    "resolve",
    "split_name",
    "store",
    "suggest_ref",
]

DEFAULT_SERVICE = "healthsync"
"""Keyring service used when a reference names no service (`keyring = "hubspot"`)."""

MASK = "********"
"""What a secret looks like wherever it is shown."""

_MIN_REDACTED_LENGTH = 4
"""Shorter values are not scrubbed from logs: no real credential is that short, and scrubbing one
or two characters would mangle every log line that happens to contain them."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SOURCE = "<secrets>"

# Where each well-known credential goes by default, keyed by the last two parts of its config key.
# `auth set` names and environment variables are part of the user-facing contract: the example
# config and error messages suggest exactly these.
_WELL_KNOWN: dict[str, tuple[str, str]] = {
    "hubspot.access_token": ("hubspot", "HUBSPOT_TOKEN"),
    "salesforce.access_token": ("salesforce", "SALESFORCE_TOKEN"),
    "salesforce.password": ("salesforce-password", "SALESFORCE_PASSWORD"),
    "salesforce.security_token": ("salesforce-security-token", "SALESFORCE_SECURITY_TOKEN"),
    "salesforce.consumer_secret": ("salesforce-consumer-secret", "SALESFORCE_CONSUMER_SECRET"),
    "salesforce.private_key": ("salesforce-private-key", "SALESFORCE_PRIVATE_KEY"),
    "zendesk.token": ("zendesk", "ZENDESK_TOKEN"),
    "zendesk.oauth_token": ("zendesk-oauth", "ZENDESK_OAUTH_TOKEN"),
    "state.password": ("state-db", "HEALTHSYNC_STATE_PASSWORD"),
    "usage.password": ("usage-db", "HEALTHSYNC_USAGE_PASSWORD"),
    "alerts.webhook_url": ("alerts-webhook", "HEALTHSYNC_ALERT_WEBHOOK"),
    "email.password": ("smtp", "HEALTHSYNC_SMTP_PASSWORD"),
}


# --- references ------------------------------------------------------------------------------


def split_name(name: str) -> tuple[str, str]:
    """Split a keyring name into (service, name); a bare name belongs to the `healthsync` service.

    Args:
        name: ``"hubspot"`` or ``"service/name"``; the first ``/`` separates the two.

    Returns:
        The keyring service and user name to pass to `keyring.get_password`.

    Raises:
        ValueError: the service or the name part is empty.
    """
    service, slash, rest = name.partition("/")
    if not slash:
        service, rest = DEFAULT_SERVICE, name
    if not service.strip() or not rest.strip():
        raise ValueError("a keyring name must be 'name' or 'service/name', with neither part empty")
    return service, rest


def display_name(service: str, name: str) -> str:
    """The shortest name that `healthsync auth set` understands for this keyring entry."""
    return name if service == DEFAULT_SERVICE else f"{service}/{name}"


class SecretRef(BaseModel):
    """Where a credential lives: an OS keyring entry, an environment variable, a file, or several.

    Several may be given so one config serves a workstation (keyring) and a container (environment,
    or a mounted secret file as Docker and Kubernetes provide); they are tried in that order, the
    keyring first, as `healthsync auth set` is the documented way to store credentials.

    Attributes:
        keyring: ``"service/name"``, or a bare name in the `healthsync` service.
        env: the name of an environment variable.
        file: a file whose content (trailing newline stripped) is the secret; relative paths are
            resolved against the config file's folder.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    keyring: str | None = None
    env: str | None = None
    file: str | None = None

    # The messages below never repeat the value: a user who pasted a token where a name belongs
    # must not see it printed back into a terminal or a CI log.
    @field_validator("keyring")
    @classmethod
    def _check_keyring(cls, value: str | None) -> str | None:
        if value is not None:
            if value != value.strip():
                raise ValueError("a keyring name must not start or end with spaces")
            split_name(value)
        return value

    @field_validator("env")
    @classmethod
    def _check_env(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "an environment variable name may hold only letters, digits and '_', "
                "and must not start with a digit"
            )
        return value

    @model_validator(mode="after")
    def _check_some_source(self) -> Self:
        if self.keyring is None and self.env is None and self.file is None:
            raise ValueError('give keyring = "service/name", env = "VARIABLE", file = "path", or several')
        return self

    def keyring_address(self) -> tuple[str, str] | None:
        """The (service, name) pair to look up in the keyring, if a keyring entry is referenced."""
        return split_name(self.keyring) if self.keyring is not None else None

    def describe(self) -> str:
        """Say where the secret is looked for, in lookup order, e.g. `keyring healthsync/hubspot, then $X`."""
        places: list[str] = []
        address = self.keyring_address()
        if address is not None:
            places.append(f"keyring {address[0]}/{address[1]}")
        if self.env is not None:
            places.append(f"${self.env}")
        if self.file is not None:
            places.append(f"file {self.file}")
        return ", then ".join(places)


def suggest_ref(key: str) -> SecretRef:
    """The reference we recommend for the credential at config key `key` (e.g. `hubspot.access_token`).

    Error messages and the example config suggest these names, so a user who follows the advice ends
    up with the same keyring entries and variables as everyone else.
    """
    parts = [part for part in key.split(".") if part]
    tail = ".".join(parts[-2:])
    if tail in _WELL_KNOWN:
        name, env = _WELL_KNOWN[tail]
    else:
        name = "-".join(parts).replace("_", "-") or "secret"
        env = "HEALTHSYNC_" + "_".join(parts).upper().replace("-", "_")
    return SecretRef(keyring=f"{DEFAULT_SERVICE}/{name}", env=env)


# --- the value -------------------------------------------------------------------------------


class Secret:
    """A credential's value, hidden from every way Python has of showing an object.

    Equality between two secrets compares values in constant time; a secret never equals a plain
    string, so `secret == "guess"` cannot be used to probe it. It is unhashable for the same reason.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        """Wrap `value`; it can only be read back through `reveal()`."""
        self._value = value

    def reveal(self) -> str:
        """Return the value, and remember it so `RedactingFilter` scrubs it from any log record."""
        _register(self._value)
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{MASK}')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # a hash is a function of the value

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "a Secret cannot be pickled: credentials must never be written to a job store, "
            "cache or the state database; store the SecretRef and resolve it again"
        )

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        self.__reduce__()


# --- keyring and environment -----------------------------------------------------------------


def resolve(ref: SecretRef, *, context: str, base_dir: Path | None = None) -> Secret:
    """Look a credential up: the keyring entry first, then the environment variable, then the file.

    A keyring without a usable backend (a server, a container) is not an error while an
    environment variable remains to be tried; an empty variable counts as unset.

    Args:
        ref: where to look.
        context: the config key that needs the secret (e.g. `hubspot.access_token`), for messages.
        base_dir: the folder relative `file` references are resolved against (the config's folder).

    Returns:
        The secret, still hidden.

    Raises:
        ConfigError: found nowhere; the message names `context`, the reference and the command
            that would store it.
    """
    looked: list[str] = []
    fixes: list[str] = []
    backend_problem: str | None = None
    address = ref.keyring_address()
    if address is not None:
        service, name = address
        try:
            value = keyring.get_password(service, name)
        except NoKeyringError:
            backend_problem = "no keyring backend is available on this machine"
        except (KeyringError, RuntimeError, OSError) as exc:  # locked, init failure, D-Bus gone
            backend_problem = f"the keyring could not be read ({type(exc).__name__}: {redact(str(exc))})"
        else:
            if value:
                return Secret(value)
        where = f"keyring {service}/{name}"
        looked.append(f"{where} ({backend_problem})" if backend_problem else f"{where} (no entry)")
        if backend_problem is None:
            fixes.append(f"run `healthsync auth set {shlex.quote(display_name(service, name))}`")
    if ref.env is not None:
        value = os.environ.get(ref.env)
        if value:
            return Secret(value)
        looked.append(f"${ref.env} ({'empty' if value == '' else 'not set'})")
        fixes.append(f"`export {ref.env}=...` before running healthsync")
    if ref.file is not None:
        path = Path(ref.file).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError:
            looked.append(f"file {path} (missing)")
        except OSError as exc:
            looked.append(f"file {path} (unreadable: {type(exc).__name__})")
        else:
            if value:
                return Secret(value)
            looked.append(f"file {path} (empty)")
        fixes.append(f"write the secret into {path} (readable only by the healthsync user)")
    if ref.env is None and ref.file is None and backend_problem is not None:
        suggested = suggest_ref(context).env
        fixes.append(
            f"add an environment fallback, e.g. `{context.rsplit('.', 1)[-1]} = "
            f'{{ keyring = "{ref.keyring}", env = "{suggested}" }}`, and `export {suggested}=...`'
        )
    problem = ConfigProblem(
        source=_SOURCE,
        key=context,
        message=f"secret not found; looked in {', then '.join(looked)}",
        fix=" or ".join(fixes),
    )
    raise ConfigError(f"{context}: secret not found ({ref.describe()})", [problem])


def _address(name: str) -> tuple[str, str]:
    try:
        return split_name(name)
    except ValueError as exc:
        raise ConfigError(f"{name!r}: {exc}") from None


def _keyring_failure(action: str, name: str, exc: Exception) -> NoReturn:
    fix = (
        "install a keyring backend (e.g. the desktop's Secret Service), or keep the secret in an "
        'environment variable and reference it with `env = "..."` in the config'
    )
    problem = ConfigProblem(
        source=_SOURCE,
        key=name,
        message=f"cannot {action} the keyring entry: {type(exc).__name__}: {redact(str(exc))}",
        fix=fix,
    )
    raise ConfigError(f"{name}: cannot {action} the keyring entry", [problem]) from None


def store(name: str, value: str | Secret) -> None:
    """Save a credential in the OS keyring under `name` (``"hubspot"`` or ``"service/name"``).

    Raises:
        ConfigError: the name is malformed, or the keyring has no backend or refused the write.
    """
    service, user = _address(name)
    plain = value.reveal() if isinstance(value, Secret) else value
    try:
        keyring.set_password(service, user, plain)
    except (KeyringError, RuntimeError, OSError) as exc:
        _keyring_failure("write", name, exc)


def delete(name: str) -> bool:
    """Remove a credential from the OS keyring.

    Returns:
        True if an entry was removed, False if there was none (deleting twice is not an error).

    Raises:
        ConfigError: the name is malformed, or the keyring has no backend or refused the delete.
    """
    service, user = _address(name)
    try:
        if keyring.get_password(service, user) is None:
            return False
        keyring.delete_password(service, user)
    except (KeyringError, RuntimeError, OSError) as exc:
        _keyring_failure("delete", name, exc)
    return True


def keyring_available() -> bool:
    """Whether the OS keyring has a backend that can store secrets (not the fail or null stand-ins)."""
    try:
        backend = keyring.get_keyring()
    except (KeyringError, RuntimeError, OSError):
        return False
    return not isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring)


# --- log redaction ---------------------------------------------------------------------------

_lock = threading.Lock()
_revealed: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _register(value: str) -> None:
    global _pattern
    if len(value) < _MIN_REDACTED_LENGTH or value in _revealed:
        return
    with _lock:
        _revealed.add(value)
        # Longest first, so a secret that contains another is scrubbed whole.
        ordered = sorted(_revealed, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(item) for item in ordered))


def redact(text: str) -> str:
    """Replace every value ever revealed in this process with the mask."""
    pattern = _pattern
    return text if pattern is None else pattern.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """Scrub revealed secrets from log records, as a last line of defence.

    Code should never log a credential in the first place; this filter catches the accident (an
    exception message quoting a URL with a token in it, a debug line of request arguments). Attach
    it to *handlers*: filters on a logger do not see records propagated from its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and exception text) without secrets; never drops a record."""
        if _pattern is None:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed %-format: scrub the parts instead
            record.msg = redact(str(record.msg))
            record.args = None
        else:
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
