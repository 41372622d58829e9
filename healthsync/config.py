"""The TOML configuration: pydantic models, and `load_config`, whose errors name file, line and key.

Admins edit this file by hand and run healthsync from cron, so a mistake must be reported once,
completely and precisely: `load_config` raises a single `ConfigError` listing every problem with its
line, never a traceback and never a pydantic dump. Every model forbids unknown keys (a typo must not
silently fall back to a default) and is frozen (the config of a run cannot drift during the run).

Credentials never appear in this file, only `SecretRef`s (keyring entry and/or environment
variable); a plain string where a secret belongs, or a password inside a URL, is rejected without
echoing it. Relative paths, including relative SQLite paths, are resolved against the folder of the
config file, so a scheduled run does not depend on its working directory.

The section models start at `HealthsyncSection`; `config.example.toml` documents every key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from healthsync import config_checks as checks
from healthsync.config_values import (
    DatabaseUrl,
    EmailAddress,
    ExistingFile,
    FilePath,
    HttpUrl,
    NonBlank,
    SecretField,
    SecureUrl,
    TimeZoneName,
    check_cron,
    interval_seconds,
    valid_timezone,
)
from healthsync.errors import ConfigError, ConfigProblem
from healthsync.secrets import SecretRef
from healthsync.tomlsource import load_toml

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "AlertsSection",
    "Config",
    "CrmSection",
    "DailyColumns",
    "DailyTable",
    "EmailAlerts",
    "HealthsyncSection",
    "HubSpotSection",
    "LoggingSection",
    "NpsColumns",
    "NpsTable",
    "PaymentColumns",
    "PaymentsTable",
    "SalesforceSection",
    "Schedule",
    "ScoringSection",
    "SignalsSection",
    "StateSection",
    "SyncSection",
    "TrendSection",
    "UsageSection",
    "ZendeskSection",
    "load_config",
]

DEFAULT_CONFIG_NAME = "healthsync.toml"

# HubSpot private-app limits per tier: vendor-facts.md section 11,
# https://developers.hubspot.com/changelog/increasing-our-api-limits
_HUBSPOT_PER_10S = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190}
_HUBSPOT_PER_DAY = {"free": 250_000, "starter": 250_000, "professional": 650_000, "enterprise": 1_000_000}
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


class _Section(BaseModel):
    # strict: TOML is typed, so "7" for a number is a mistake worth reporting, not coercing.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _section() -> Any:
    """Default for an optional section: validated as an empty table, so its defaults see the context."""
    return Field(default_factory=dict, validate_default=True)


# --- sections --------------------------------------------------------------------------------


class HealthsyncSection(_Section):
    """[healthsync]: what this config is called and which clock it runs on."""

    name: NonBlank | None = None
    timezone: TimeZoneName = "UTC"


class StateSection(_Section):
    """[state]: where runs, cursors, mirrors and health history are kept (any SQLAlchemy URL)."""

    url: DatabaseUrl = Field("sqlite:///healthsync.db", validate_default=True)
    password: SecretField | None = None


class CrmSection(_Section):
    """[crm]: which CRM is read and written, and how its fields map to ours."""

    system: Literal["hubspot", "salesforce"]
    mapping: ExistingFile | None = None
    as_written_by: NonBlank = "healthsync"


class HubSpotSection(_Section):
    """[hubspot]: a private-app token and the account tier, which sets the rate limits."""

    access_token: SecretField
    host: HttpUrl = "https://api.hubapi.com"
    tier: Literal["free", "starter", "professional", "enterprise"] = "starter"
    daily_limit: int | None = Field(None, ge=1)
    ca_bundle: ExistingFile | None = None

    @property
    def requests_per_10s(self) -> int:
        """Burst limit of the tier: 100 (Free/Starter) or 190 (Professional/Enterprise) per 10 s."""
        return _HUBSPOT_PER_10S[self.tier]

    @property
    def daily_requests(self) -> int:
        """Daily request cap: `daily_limit` if set (e.g. with the limit-increase pack), else the tier's."""
        return self.daily_limit if self.daily_limit is not None else _HUBSPOT_PER_DAY[self.tier]


class SalesforceSection(_Section):
    """[salesforce]: the org, the API version and one of four ways to sign in."""

    instance_url: SecureUrl | None = None
    api_version: str = "62.0"
    auth: Literal["token", "password", "client_credentials", "jwt"] = "token"
    access_token: SecretField | None = None
    username: NonBlank | None = None
    password: SecretField | None = None
    security_token: SecretField | None = None
    domain: str | None = None
    consumer_key: NonBlank | None = None
    consumer_secret: SecretField | None = None
    private_key: SecretField | None = None
    ca_bundle: ExistingFile | None = None

    @field_validator("api_version", mode="before")
    @classmethod
    def _check_version(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError(f'write the version as a string: api_version = "{value}"')
        if isinstance(value, str) and not _is_version(value):
            raise ValueError(f"expected a version such as \"62.0\", got '{value}'")
        return value

    @field_validator("domain")
    @classmethod
    def _check_domain(cls, value: str | None) -> str | None:
        # simple-salesforce builds https://{domain}.salesforce.com, so the suffix must not be repeated.
        if value is not None and (value.endswith("salesforce.com") or not _DOMAIN.fullmatch(value)):
            raise ValueError(
                "expected 'login', 'test' or the part of a My Domain before .salesforce.com "
                f"(e.g. 'acme.my'), got '{value}'"
            )
        return value

    @model_validator(mode="after")
    def _check_auth(self) -> Self:
        checks.raise_issues(checks.check_salesforce(self))
        return self


def _is_version(text: str) -> bool:
    major, dot, minor = text.partition(".")
    return bool(dot) and major.isdigit() and minor.isdigit() and len(minor) == 1


class ZendeskSection(_Section):
    """[zendesk]: the Support account, its credentials and its plan's rate limits."""

    url: SecureUrl | None = None
    subdomain: str | None = None
    email: EmailAddress | None = None
    token: SecretField | None = None
    oauth_token: SecretField | None = None
    critical_priorities: tuple[Literal["urgent", "high", "normal", "low"], ...] = Field(
        ("urgent", "high"), strict=False, min_length=1
    )
    requests_per_minute: int = Field(400, ge=1)
    incremental_per_minute: int = Field(10, ge=1)
    ca_bundle: ExistingFile | None = None

    @field_validator("subdomain")
    @classmethod
    def _check_subdomain(cls, value: str | None) -> str | None:
        if value is not None and not (value and value.replace("-", "").isalnum() and value.islower()):
            raise ValueError(f"expected the part before .zendesk.com, e.g. 'acme', got '{value}'")
        return value

    @model_validator(mode="after")
    def _check_auth(self) -> Self:
        checks.raise_issues(checks.check_zendesk(self))
        return self

    @property
    def base_url(self) -> str:
        """The account's URL, from `url` or `subdomain`."""
        return self.url if self.url is not None else f"https://{self.subdomain}.zendesk.com"


class DailyColumns(_Section):
    """Column names of the daily usage table; each key defaults to its own name."""

    account: NonBlank = "account"
    day: NonBlank = "day"
    active_users: NonBlank = "active_users"
    logins: NonBlank = "logins"


class PaymentColumns(_Section):
    """Column names of the payments table; each key defaults to its own name."""

    account: NonBlank = "account"
    due_date: NonBlank = "due_date"
    paid_date: NonBlank = "paid_date"
    invoice_id: NonBlank = "invoice_id"
    amount: NonBlank = "amount"


class NpsColumns(_Section):
    """Column names of the NPS table; each key defaults to its own name."""

    account: NonBlank = "account"
    score: NonBlank = "score"
    at: NonBlank = "at"


class _UsageTable(_Section):
    query: NonBlank | None = None
    table: NonBlank | None = None
    path: FilePath | None = None

    @model_validator(mode="after")
    def _check_source(self) -> Self:
        checks.raise_issues(checks.check_usage_table(self))
        return self


class DailyTable(_UsageTable):
    """[usage.daily]: active users and logins per account per day."""

    columns: DailyColumns = _section()


class PaymentsTable(_UsageTable):
    """[usage.payments]: invoices with due and paid dates."""

    columns: PaymentColumns = _section()


class NpsTable(_UsageTable):
    """[usage.nps]: NPS answers per account."""

    columns: NpsColumns = _section()


class UsageSection(_Section):
    """[usage]: product usage, payments and NPS from a SQL database or CSV files."""

    kind: Literal["sql", "csv"]
    url: DatabaseUrl | None = None
    password: SecretField | None = None
    account_key: Literal["crm_id", "customer_key", "zendesk_org_id", "domain", "name"] = "crm_id"
    daily: DailyTable | None = None
    payments: PaymentsTable | None = None
    nps: NpsTable | None = None

    @model_validator(mode="after")
    def _check_kind(self) -> Self:
        checks.raise_issues(checks.check_usage(self))
        return self


class TrendSection(_Section):
    """[scoring.trend]: how the week-over-week trend is measured (see `scoring.trend`)."""

    window_days: int = Field(7, ge=1)
    tolerance_days: int = Field(3, ge=0)
    flat_within: float = Field(2.0, ge=0)


class ScoringSection(_Section):
    """[scoring]: which rule file scores accounts, and which account input selects a segment."""

    rules: ExistingFile | None = None
    segment_field: NonBlank = "segment"
    trend: TrendSection = _section()


class SignalsSection(_Section):
    """[signals]: when risk, renewal, onboarding and expansion tasks fire, and when they are due."""

    usage_drop: float = Field(0.5, gt=0, le=1)
    critical_ticket_age_days: float = Field(7.0, ge=0)
    detractor_max: int = Field(6, ge=0, le=10)
    promoter_min: int = Field(9, ge=0, le=10)
    expansion_utilization: float = Field(0.8, gt=0, le=1)
    seat_growth_min: int = Field(1, ge=1)
    onboarding_checkpoints: tuple[Annotated[int, Field(ge=0)], ...] = Field((30, 90), strict=False)
    onboarding_grace_days: int = Field(14, ge=1)
    risk_due_days: int = Field(1, ge=0)
    renewal_due_days: int = Field(7, ge=0)
    onboarding_due_days: int = Field(3, ge=0)
    expansion_due_days: int = Field(14, ge=0)

    @model_validator(mode="after")
    def _check_order(self) -> Self:
        checks.raise_issues(checks.check_signals(self))
        return self

    def as_dict(self) -> dict[str, Any]:
        """The thresholds as keyword arguments for `scoring.signals.SignalThresholds`."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class ReportTargets(_Section):
    """[report.targets]: what each portfolio metric is judged against (the CS playbook's defaults)."""

    nrr: float = Field(100.0, ge=0)
    """Net revenue retention, % (on target above it)."""
    grr: float = Field(85.0, ge=0, le=100)
    """Gross revenue retention, % (above)."""
    logo_churn: float = Field(5.0, ge=0, le=100)
    """Logo churn, % per month (below); a quarter is judged by the compounded monthly rate."""
    ltv_cac: float = Field(3.0, gt=0)
    """Lifetime value over acquisition cost (above)."""
    ttv_days: float = Field(14.0, gt=0)
    """Median days to the first value milestone (below)."""
    nps: float = Field(50.0, ge=-100, le=100)
    """Net promoter score (above)."""
    coverage: float = Field(100.0, ge=0, le=100)
    """Share of active accounts scored in the last `coverage_days` days, % (at least)."""


class ReportSection(_Section):
    """[report]: the portfolio report's targets and the inputs only a person knows (CAC)."""

    cac: float | None = Field(None, gt=0)
    """Average customer acquisition cost, in ARR's currency; LTV/CAC is shown when it is set."""
    value_share: float = Field(0.5, gt=0, le=1)
    """The value milestone: the first day active users reach this share of licenses."""
    coverage_days: int = Field(7, ge=1)
    targets: ReportTargets = _section()


class SyncSection(_Section):
    """[sync]: retry budget, run lease and dead-letter policy of one run."""

    retry_budget: int = Field(50, ge=0)
    lease_ttl_minutes: int = Field(60, ge=1)
    dead_letter_max_attempts: int = Field(5, ge=1)
    lookback_minutes: int = Field(5, ge=0)


class Schedule(_Section):
    """One [[schedule]] entry: a named crontab line in a time zone, or a fixed interval."""

    name: NonBlank
    timezone: TimeZoneName = "UTC"
    cron: str | None = None
    every: str | None = None
    mode: Literal["full", "incremental"] = "incremental"

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        zone = info.data.get("timezone") or "UTC"  # absent when the time zone itself was invalid
        return check_cron(value, zone)

    @field_validator("every")
    @classmethod
    def _check_every(cls, value: str | None) -> str | None:
        if value is not None:
            interval_seconds(value)
        return value

    @model_validator(mode="after")
    def _one_trigger(self) -> Self:
        if (self.cron is None) == (self.every is None):
            raise ValueError(
                'give either cron = "<crontab line>" or every = "<interval>" (e.g. "15m"), not both'
            )
        return self


class EmailAlerts(_Section):
    """[alerts.email]: SMTP server and recipients of run alerts.

    `starttls` upgrades a plain connection (port 587); `ssl` speaks TLS from the first byte instead
    (SMTPS, port 465), and then `starttls` does not apply.
    """

    host: NonBlank
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    ca_bundle: ExistingFile | None = None
    username: NonBlank | None = None
    password: SecretField | None = None
    sender: EmailAddress
    recipients: tuple[EmailAddress, ...] = Field(strict=False, min_length=1)

    @model_validator(mode="after")
    def _check_login(self) -> Self:
        checks.raise_issues(checks.check_email(self))
        return self


class AlertsSection(_Section):
    """[alerts]: which run outcomes alert, and where alerts go."""

    on: tuple[Literal["failed", "partial", "recovered"], ...] = Field(
        ("failed", "partial", "recovered"), strict=False
    )
    webhook_url: SecretField | None = None
    email: EmailAlerts | None = None

    @model_validator(mode="after")
    def _check_channel(self) -> Self:
        checks.raise_issues(checks.check_alerts(self))
        return self


class LoggingSection(_Section):
    """[logging]: verbosity and format (`auto`: text on a terminal, JSON lines otherwise).

    An unset level leaves it to the command (`healthsync.logs`): `info` for the scheduler, which has
    only its logs, `warning` for one-off commands, which print their own progress and result.
    """

    level: Literal["debug", "info", "warning", "error"] | None = None
    format: Literal["auto", "json", "text"] = "auto"

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


class Config(BaseModel):
    """The whole configuration; build it with `load_config`, which also records where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    healthsync: HealthsyncSection = _section()
    state: StateSection = _section()
    crm: CrmSection
    hubspot: HubSpotSection | None = None
    salesforce: SalesforceSection | None = None
    zendesk: ZendeskSection | None = None
    usage: UsageSection | None = None
    scoring: ScoringSection = _section()
    signals: SignalsSection = _section()
    sync: SyncSection = _section()
    report: ReportSection = _section()
    schedule: tuple[Schedule, ...] = Field((), strict=False)
    alerts: AlertsSection | None = None
    logging: LoggingSection = _section()

    _source: Path | None = PrivateAttr(None)
    _base_dir: Path | None = PrivateAttr(None)

    @model_validator(mode="before")
    @classmethod
    def _default_schedule_timezone(cls, data: object) -> object:
        """A [[schedule]] without a time zone runs in healthsync.timezone (when that one is valid)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("schedule"), list):
            return data
        section = data.get("healthsync")
        zone = section.get("timezone", "UTC") if isinstance(section, Mapping) else "UTC"
        if not valid_timezone(zone):
            return data
        schedules = [
            {"timezone": zone, **item} if isinstance(item, Mapping) else item for item in data["schedule"]
        ]
        return {**data, "schedule": schedules}

    @model_validator(mode="after")
    def _check_sections(self) -> Self:
        checks.raise_issues(checks.check_config(self))
        return self

    @property
    def source(self) -> Path | None:
        """The file this config was loaded from (None when built in code)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder relative paths were resolved against: the config file's, else the current one."""
        return self._base_dir if self._base_dir is not None else Path.cwd()

    @property
    def name(self) -> str:
        """Names this config in runs, the run lease and alerts: [healthsync] name, else the file stem."""
        if self.healthsync.name is not None:
            return self.healthsync.name
        return self._source.stem if self._source is not None else "healthsync"

    def fingerprint(self) -> str:
        """A stable short hash of the configuration, stored with each run to tell config changes apart.

        Secret *references* are part of it (they say where a credential comes from); secret values
        never are, as they are not in the config at all.
        """
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def secret_refs(self) -> list[tuple[str, SecretRef]]:
        """Every secret reference with its dotted key, in file-schema order, for `healthsync check`."""
        found: list[tuple[str, SecretRef]] = []
        _collect_refs(self, "", found)
        return found


def _collect_refs(value: object, prefix: str, found: list[tuple[str, SecretRef]]) -> None:
    if isinstance(value, SecretRef):
        found.append((prefix, value))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect_refs(getattr(value, name), f"{prefix}.{name}" if prefix else name, found)
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            _collect_refs(item, f"{prefix}[{index}]", found)


# --- loading ---------------------------------------------------------------------------------


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve a config file.

    Args:
        path: the TOML file (the CLI passes `--config`, default `healthsync.toml`).

    Returns:
        The validated config, with relative paths resolved against the file's folder.

    Raises:
        ConfigError: the file is missing, is not valid TOML, or has problems; all problems are
            listed, each with file, line, dotted key and what is expected.
    """
    file = Path(path)
    if not file.exists():
        problem = ConfigProblem(
            source=str(path),
            key="",
            message="configuration file not found",
            fix=f"copy config.example.toml to {path} and edit it",
        )
        raise ConfigError(f"{path}: configuration file not found", [problem])
    doc = load_toml(file)
    base_dir = file.resolve().parent
    try:
        config = Config.model_validate(doc.data, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = checks.rerun_blocked(exc.errors(include_url=False), doc, Config)
        raise ConfigError(f"{path}: invalid configuration", problems) from None
    config._source = file
    config._base_dir = base_dir
    return config
