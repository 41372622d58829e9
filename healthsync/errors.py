"""The exceptions healthsync raises, grouped by what the caller must do about them.

```text
HealthsyncError
├── ConfigError          bad config, rule file, mapping or secret; exit 2; never retried
│   ├── MappingError     names the mapping file, key, CRM field and fix
│   └── AuthError        401/403 from a vendor (also a VendorError)
├── VendorError          .vendor .endpoint .status .record_key; redacted URL, truncated body
│   ├── TransientError   429, 503, other 5xx, timeouts, connection drops
│   │   └── RateLimited  .retry_after
│   ├── QuotaExhausted   Salesforce REQUEST_LIMIT_EXCEEDED, HubSpot daily cap
│   ├── RecordRejected   one record in a batch failed (207 / success=false)
│   └── PaginationError  cursor repeated, or a page in an unexpected shape
├── StateError           state store: migration, run lease held, bad cursor row
└── NotImplementedYet    a command a later release delivers; exit 2
```

The CLI maps every class here to one message and one exit code (`exit_code_for`), so a user never
sees a traceback for a problem they can fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "EXIT_OK",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "AuthError",
    "ConfigError",
    "ConfigProblem",
    "HealthsyncError",
    "MappingError",
    "NotImplementedYet",
    "PaginationError",
    "QuotaExhausted",
    "RateLimited",
    "RecordRejected",
    "StateError",
    "TransientError",
    "VendorError",
    "exit_code_for",
    "truncate",
]

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2

_BODY_LIMIT = 300


class HealthsyncError(Exception):
    """Base of every error healthsync raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only context (vendor=, retry_after=...), which the default
        # exception pickling cannot replay; process pools and job stores must still carry them.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[HealthsyncError], args: tuple[Any, ...], state: dict[str, Any]) -> HealthsyncError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a user-supplied file, located precisely enough to fix it without guessing.

    Attributes:
        source: the file (or other origin, e.g. ``<environment>``) the value came from.
        key: dotted path of the offending key, e.g. ``crm.access_token`` or ``rule[2].when``.
        message: what is wrong and what was expected.
        line: 1-based line in ``source`` where the key sits, when known.
        fix: what to do about it, when there is something more specific than the message.
    """

    source: str
    key: str
    message: str
    line: int | None = None
    fix: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        text = f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


class ConfigError(HealthsyncError):
    """A config file, rule file, features file, mapping or secret is wrong; fixing the input fixes it."""

    def __init__(self, message: str, problems: list[ConfigProblem] | None = None) -> None:
        self.problems: list[ConfigProblem] = list(problems or [])
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class MappingError(ConfigError):
    """A field mapping does not fit the live CRM schema; names the file, key, CRM field and fix."""


class VendorError(HealthsyncError):
    """A vendor API answered with an error or not at all.

    The URL is redacted of query strings and the body is truncated, so the message can be logged.
    """

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        endpoint: str = "",
        status: int | None = None,
        record_key: str | None = None,
        body: str | None = None,
    ) -> None:
        self.vendor = vendor
        self.endpoint = endpoint
        self.status = status
        self.record_key = record_key
        self.body = truncate(body) if body is not None else None
        super().__init__(message)

    def __str__(self) -> str:
        parts = [f"{self.vendor}"]
        if self.endpoint:
            parts.append(self.endpoint)
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.record_key:
            parts.append(f"record {self.record_key}")
        text = f"[{' '.join(parts)}] {super().__str__()}"
        return f"{text}: {self.body}" if self.body else text


class AuthError(ConfigError, VendorError):
    """A vendor refused our credentials (401, or 403 other than quota); retrying cannot help."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        endpoint: str = "",
        status: int | None = None,
        fix: str | None = None,
    ) -> None:
        VendorError.__init__(self, message, vendor=vendor, endpoint=endpoint, status=status)
        self.problems = []
        self.fix = fix

    def __str__(self) -> str:
        text = VendorError.__str__(self)
        return f"{text} (fix: {self.fix})" if self.fix else text


class TransientError(VendorError):
    """A failure that may pass: 5xx, timeouts, dropped connections; retried for idempotent calls."""


class RateLimited(TransientError):
    """The vendor said slow down (429, or 503 with Retry-After); wait ``retry_after`` seconds if given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class QuotaExhausted(VendorError):
    """A daily quota is spent; the run stops cleanly and resumes from its state next time."""


class RecordRejected(VendorError):
    """One record of a batch was refused; it becomes a dead letter and the rest of the batch goes on."""


class PaginationError(VendorError):
    """A paging cursor repeated or a page came back in a shape we do not understand."""


class StateError(HealthsyncError):
    """The state store cannot be used as asked: failed migration, lease held, corrupt row."""


class NotImplementedYet(HealthsyncError):
    """A command that a later release delivers; exits 2 so scripts do not mistake it for success."""


def truncate(text: str, limit: int = _BODY_LIMIT) -> str:
    """Cut a vendor body to ``limit`` characters so logs never carry whole payloads."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


def exit_code_for(error: BaseException) -> int:
    """Map an exception to the CLI exit code of DESIGN.md section 10."""
    if isinstance(error, ConfigError | NotImplementedYet):
        return EXIT_USAGE
    return EXIT_PARTIAL
