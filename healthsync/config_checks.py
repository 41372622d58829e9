"""Checks that span several keys of one table: which Salesforce auth needs which keys, "exactly one of".

pydantic runs a model's `after` validator only once every key of the model is valid, so one typo
would hide, say, a missing Salesforce password until the next attempt. Each check here is therefore
written against either a validated model or a raw TOML table (`_get` reads both): the models call
them from their validators, and `load_config` calls `rerun_blocked` on the raw tables whose
validators never ran, so the user sees every problem in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from healthsync.config_errors import ISSUES, Issue, issue_problem, issues_error, translate
from healthsync.errors import ConfigProblem
from healthsync.tomlsource import KeyPath, TomlDocument

__all__ = [
    "check_alerts",
    "check_config",
    "check_email",
    "check_salesforce",
    "check_signals",
    "check_usage",
    "check_usage_table",
    "check_zendesk",
    "raise_issues",
    "rerun_blocked",
]

# Which keys each Salesforce auth kind needs, and which it may take; any other auth key is a mistake.
_SF_REQUIRED = {
    "token": ("access_token", "instance_url"),
    "password": ("username", "password"),
    "client_credentials": ("consumer_key", "consumer_secret", "instance_url"),
    "jwt": ("username", "consumer_key", "private_key"),
}
_SF_OPTIONAL = {
    "token": (),
    "password": ("security_token", "domain", "instance_url"),  # no token needed from trusted IPs
    "client_credentials": (),
    "jwt": ("domain", "instance_url"),
}
_SF_AUTH_KEYS: tuple[str, ...] = (
    "access_token",
    "username",
    "password",
    "security_token",
    "consumer_key",
    "consumer_secret",
    "private_key",
    "domain",
)
_USAGE_TABLES = ("daily", "payments", "nps")
_TABLE_SOURCES = ("query", "table", "path")


def _get(table: object, key: str) -> Any:
    """A key of a raw TOML table or an attribute of a validated model, so one check serves both."""
    if isinstance(table, Mapping):
        return table.get(key)
    return getattr(table, key, None)


def raise_issues(issues: list[Issue]) -> None:
    """Raise all `issues` as one pydantic error (from inside a validator), if there are any."""
    if issues:
        raise issues_error(issues)


def check_config(config: object) -> list[Issue]:
    """The CRM named by crm.system has its section, and schedule names are unique (they key jobs)."""
    issues: list[Issue] = []
    system = _get(_get(config, "crm"), "system")
    if system in ("hubspot", "salesforce") and _get(config, system) is None:
        fix = f"add a [{system}] section (see config.example.toml)"
        message = f"section [{system}] is required because crm.system = '{system}'"
        issues.append(Issue((system,), message, fix, at=("crm", "system")))
    schedules = _get(config, "schedule")
    first_use: dict[str, int] = {}
    for index, schedule in enumerate(schedules if isinstance(schedules, list | tuple) else ()):
        name = _get(schedule, "name")
        if not isinstance(name, str):
            continue
        if name in first_use:
            message = f"schedule name '{name}' is already used by schedule[{first_use[name]}]"
            issues.append(Issue(("schedule", index, "name"), message, "give each [[schedule]] its own name"))
        first_use.setdefault(name, index)
    return issues


def check_salesforce(section: object) -> list[Issue]:
    """The keys the chosen auth kind needs are there, and no other kind's keys are mixed in."""
    auth = _get(section, "auth") or "token"
    if auth not in _SF_REQUIRED:
        return []  # reported as a literal error
    issues = [
        Issue((key,), f"missing required key: auth = '{auth}' needs {key}")
        for key in _SF_REQUIRED[auth]
        if _get(section, key) is None
    ]
    allowed = set(_SF_REQUIRED[auth]) | set(_SF_OPTIONAL[auth])
    for key in _SF_AUTH_KEYS:
        if key not in allowed and _get(section, key) is not None:
            users = [kind for kind in _SF_REQUIRED if key in _SF_REQUIRED[kind] + _SF_OPTIONAL[kind]]
            message = f"{key} is not used with auth = '{auth}' (only with {' or '.join(users)})"
            issues.append(Issue((key,), message, "remove it, or change auth"))
    return issues


def check_zendesk(section: object) -> list[Issue]:
    """Exactly one of url/subdomain and of token/oauth_token; an API token needs the agent's email."""
    issues: list[Issue] = []
    url, subdomain = _get(section, "url"), _get(section, "subdomain")
    if url is None and subdomain is None:
        issues.append(
            Issue(("url",), 'missing required key: give url = "https://acme.zendesk.com" or subdomain')
        )
    elif url is not None and subdomain is not None:
        issues.append(Issue(("subdomain",), "give either url or subdomain, not both"))
    token, oauth = _get(section, "token"), _get(section, "oauth_token")
    if token is None and oauth is None:
        message = "missing required key: give token (an API token, with email) or oauth_token"
        issues.append(Issue(("token",), message))
    elif token is not None and oauth is not None:
        issues.append(Issue(("oauth_token",), "give either token or oauth_token, not both", "remove one"))
    elif token is not None and _get(section, "email") is None:
        message = "missing required key: email is required with token (API tokens sign in as email/token)"
        issues.append(Issue(("email",), message))
    return issues


def check_usage(section: object) -> list[Issue]:
    """sql needs a url and tables or queries; csv takes paths only; at least one table is configured."""
    issues: list[Issue] = []
    wrong: tuple[str, ...]
    kind = _get(section, "kind")
    tables = [name for name in _USAGE_TABLES if _get(section, name) is not None]
    if not tables:
        issues.append(Issue((), "configure at least one of [usage.daily], [usage.payments], [usage.nps]"))
    if kind == "sql":
        if _get(section, "url") is None:
            issues.append(Issue(("url",), "missing required key: url is required when kind = 'sql'"))
        wrong, hint = ("path",), "with kind = 'sql' use table or query"
    elif kind == "csv":
        for key in ("url", "password"):
            if _get(section, key) is not None:
                issues.append(Issue((key,), f"{key} is only used with kind = 'sql'", "remove it"))
        wrong, hint = ("query", "table"), "with kind = 'csv' use path"
    else:
        return issues
    for name in tables:
        for key in wrong:
            if _get(_get(section, name), key) is not None:
                issues.append(Issue((name, key), f"{key} does not apply to kind = '{kind}'", hint))
    return issues


def check_usage_table(table: object) -> list[Issue]:
    """A usage table reads from exactly one of query, table or path."""
    given = [key for key in _TABLE_SOURCES if _get(table, key) is not None]
    if not given:
        fix = 'e.g. table = "daily_usage" or query = "SELECT ..." (sql), path = "daily.csv" (csv)'
        return [Issue((), "missing required key: give one of query, table or path", fix)]
    if len(given) > 1:
        return [Issue((given[1],), f"give only one of query, table or path (found {', '.join(given)})")]
    return []


def check_signals(section: object) -> list[Issue]:
    """Detractors lie below promoters and onboarding checkpoints increase, as `SignalThresholds` demands."""
    issues: list[Issue] = []
    low, high = _get(section, "detractor_max"), _get(section, "promoter_min")
    if _is_int(low) and _is_int(high) and low >= high:
        message = f"promoter_min ({high}) must be greater than detractor_max ({low})"
        issues.append(Issue(("promoter_min",), message))
    checkpoints = _get(section, "onboarding_checkpoints")
    days = list(checkpoints) if isinstance(checkpoints, list | tuple) else []
    if all(_is_int(day) for day in days) and any(later <= earlier for earlier, later in pairwise(days)):
        issues.append(Issue(("onboarding_checkpoints",), "days must be strictly increasing"))
    return issues


def check_alerts(section: object) -> list[Issue]:
    """An [alerts] section without a channel would silently alert nobody."""
    if _get(section, "webhook_url") is None and _get(section, "email") is None:
        return [
            Issue((), "no alert channel: give webhook_url or an [alerts.email] table", "or remove [alerts]")
        ]
    return []


def check_email(section: object) -> list[Issue]:
    """An SMTP password is useless without the user name it signs in with."""
    if _get(section, "password") is not None and _get(section, "username") is None:
        return [Issue(("username",), "missing required key: username is required when password is given")]
    return []


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_CHECKS: tuple[tuple[KeyPath, Callable[[object], list[Issue]]], ...] = (
    ((), check_config),
    (("salesforce",), check_salesforce),
    (("zendesk",), check_zendesk),
    (("usage",), check_usage),
    (("usage", "daily"), check_usage_table),
    (("usage", "payments"), check_usage_table),
    (("usage", "nps"), check_usage_table),
    (("signals",), check_signals),
    (("alerts",), check_alerts),
    (("alerts", "email"), check_email),
)


def rerun_blocked(
    errors: Sequence[ErrorDetails], doc: TomlDocument, root: type[BaseModel]
) -> list[ConfigProblem]:
    """All problems of a failed validation: pydantic's, plus the checks its failures kept from running.

    Args:
        errors: pydantic's errors from validating `doc.data` as `root`.
        doc: the parsed file, for lines.
        root: the model class validated (`Config`).

    Returns:
        Every problem in file order; a check adds nothing for a key that already has a problem.
    """
    problems = translate(errors, doc, root)
    seen = {p.key for p in problems}  # one problem per key is enough to send the user there
    for base, check in _CHECKS:
        blocked = any(len(e["loc"]) > len(base) and tuple(e["loc"][: len(base)]) == base for e in errors)
        reported = any(e["type"] == ISSUES and tuple(e["loc"]) == base for e in errors)
        raw = _raw_at(doc.data, base)
        if not blocked or reported or not isinstance(raw, Mapping):
            continue
        for issue in check(raw):
            problem = issue_problem(doc, base, issue)
            if problem.key not in seen:
                seen.add(problem.key)
                problems.append(problem)
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.key))


def _raw_at(data: Mapping[str, Any], path: KeyPath) -> object:
    value: object = data
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) and isinstance(part, str) else None
    return value
