"""Run alerts: a webhook and/or an e-mail when a sync fails, is partial, or recovers (issue #8).

healthsync runs unattended (the scheduler, cron), so an admin must hear when it stops working, and
must not hear it once an hour for the same outage. A *failure streak* is a run of consecutive
failed, partial or interrupted runs of one config, read back from the state store's run records
(dry runs and backfills do not count: they write nothing to the CRM). Each streak alerts at most
once, on its first run whose status `[alerts] on` lists; the first ok run after a streak that
alerted sends one "recovered" alert. Nothing extra is stored: the run records already say it all.

One summary goes out in two shapes. The webhook gets a JSON body that Slack incoming webhooks (and
Slack-compatible chats) render from `text` and `blocks`, and that any other receiver can read from
its `healthsync` object. E-mail goes over SMTP (STARTTLS or TLS from the first byte), plain text.

A failed alert is logged and never fails the run. Neither the webhook URL (its path is the
credential) nor the SMTP password ever appears in a log line or a payload: payloads are scrubbed with
`healthsync.secrets.redact` on top of carrying only the run summary, which holds no secrets.

Example:
    ``result = run_sync(config); notify_after_run(config, store, result)``
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests

from healthsync import __version__
from healthsync.errors import ConfigError, HealthsyncError, truncate
from healthsync.secrets import MASK, Secret, redact, resolve
from healthsync.sync.state_records import RunRecord, RunStatus

if TYPE_CHECKING:
    from healthsync.config import Config, EmailAlerts
    from healthsync.sync.engine import SyncResult
    from healthsync.sync.state import StateStore

__all__ = [
    "FIRST_ERRORS",
    "PAYLOAD_VERSION",
    "RETRY_DELAY_S",
    "SMTP_TIMEOUT_S",
    "WEBHOOK_TIMEOUT_S",
    "email_message",
    "notify_after_run",
    "webhook_payload",
]

log = logging.getLogger("healthsync.alerts")

WEBHOOK_TIMEOUT_S = 10.0
"""Connect and read timeout of the webhook POST; a slow receiver must not hold up the scheduler."""

SMTP_TIMEOUT_S = 10.0
"""Timeout of each SMTP socket operation."""

RETRY_DELAY_S = 1.0
"""Pause before the one retry of a delivery that failed on a 5xx (4xx for SMTP) or the connection."""

FIRST_ERRORS = 5
"""Errors quoted in an alert; the rest are counted (`healthsync status` lists them all)."""

PAYLOAD_VERSION = 1
"""`healthsync.version` in the webhook body: raised if a field changes meaning or disappears."""

_LOOKBACK_RUNS = 500
"""Runs read back to find where the current streak began (dry runs included, so generous)."""

_SLACK_TEXT_LIMIT = 3000
"""Slack's maximum for a section block's text; `text` is kept under it as well."""

_SLACK_HEADER_LIMIT = 150
"""Slack's maximum for a header block's plain text."""

_ERROR_KEYS = ("kind", "vendor", "object", "record", "message")
"""What an alert quotes of a run's error entries: what went wrong and where, never a payload."""

_FAILURES = (RunStatus.FAILED, RunStatus.PARTIAL)
_STOPPED = "stopped"
"""The error `kind` the engine and writer record when a run stops on request (`engine.RunStopped`)."""


def _names(cls: type[BaseException]) -> set[str]:
    return {cls.__name__}.union(*(_names(sub) for sub in cls.__subclasses__()))


_CONFIG_ERROR_KINDS = frozenset(_names(ConfigError))
"""How the engine records a run that ended on a configuration error (`kind` of its error entry)."""


@dataclass(frozen=True)
class _Due:
    """An alert to send: its event and the failure streak it opens or closes."""

    event: str
    streak_runs: int
    first_run_id: int | None


# --- the decision ----------------------------------------------------------------------------


def notify_after_run(config: Config, store: StateStore | None, result: SyncResult) -> list[str]:
    """Alert on a failed or partial run, or on the first ok run after an alerted failure streak.

    Call it after every run with the run's result (already recorded by `run_sync`). A failure
    streak alerts once, so an hourly schedule during a day-long outage sends one alert, then one
    "recovered". Delivery problems are logged, never raised: an alert must not fail the run.

    Args:
        config: the run's config; `[alerts]` says which outcomes alert and where alerts go.
        store: the state store the run was recorded in (None: the config's, opened here).
        result: what `run_sync` returned.

    Returns:
        The channels the alert was delivered to, `"webhook"` and/or `"email"`; empty when no alert
        was due (or every delivery failed, which is logged).
    """
    section = config.alerts
    if section is None or result.dry_run or result.backfill:
        return []
    try:
        due = _due(config, store, result, section.on)
    except HealthsyncError as exc:  # the state store is unreadable: say so, the run stands
        log.warning("alerts: cannot read the run history, no alert sent: %s", redact(str(exc)))
        return []
    if due is None:
        return []
    secrets: list[str] = []
    url = _resolve(section.webhook_url, "alerts.webhook_url", config) if section.webhook_url else None
    password = None
    if section.email is not None and section.email.password is not None:
        password = _resolve(section.email.password, "alerts.email.password", config)
    if url is not None:
        secrets += _url_secrets(url.reveal())
    if password is not None:
        secrets.append(password.reveal())
    secrets.sort(key=len, reverse=True)  # a URL before its own path
    summary = _scrub(_summary(config, result, due, secrets), secrets)
    sent: list[str] = []
    if url is not None:
        problem = _post_webhook(url.reveal(), webhook_payload(summary), secrets)
        if problem is None:
            sent.append("webhook")
        else:
            log.warning("alerts: webhook to %s failed: %s", _where(url.reveal()), problem)
    if section.email is not None and (section.email.password is None or password is not None):
        problem = _send_email(section.email, password, email_message(summary, section.email), secrets)
        if problem is None:
            sent.append("email")
        else:
            log.warning(
                "alerts: e-mail via %s:%s failed: %s", section.email.host, section.email.port, problem
            )
    if sent:
        log.info("alerts: %s alert for run %s sent by %s", due.event, result.run_id, " and ".join(sent))
    return sent


def _due(config: Config, store: StateStore | None, result: SyncResult, on: Sequence[str]) -> _Due | None:
    """Which alert this run calls for, if any, from the runs recorded before it."""
    try:
        status = RunStatus(result.status)
    except ValueError:
        return None
    if status is not RunStatus.OK and status not in _FAILURES:
        return None
    streak = _streak_before(config, store, result.run_id)
    alerted = any(_assumed_alerted(run, on) for run in streak)
    first = streak[-1].id if streak else result.run_id
    if status in _FAILURES:
        if _stopped_on_request(result.errors):
            log.debug("alerts: run %s stopped on request; nothing to alert", result.run_id)
        elif status.value not in on:
            log.debug("alerts: run %s %s; [alerts] on does not list it", result.run_id, status.value)
        elif alerted:
            log.debug("alerts: run %s %s; this failure streak already alerted", result.run_id, status.value)
        else:
            return _Due(status.value, len(streak) + 1, first)
        return None
    if streak and alerted and "recovered" in on:
        return _Due("recovered", len(streak), first)
    return None


def _streak_before(config: Config, store: StateStore | None, run_id: int | None) -> list[RunRecord]:
    """The non-ok runs of this config right before `run_id`, newest first (dry runs and backfills skipped)."""
    if store is None:
        from healthsync.sync.engine import open_store

        with closing(open_store(config)) as opened:
            return _streak_before(config, opened, run_id)
    zone = ZoneInfo(config.healthsync.timezone)
    streak: list[RunRecord] = []
    for run in store.recent_runs(limit=_LOOKBACK_RUNS, config_name=config.name):
        if run_id is not None and run.id >= run_id:
            continue
        if run.dry_run or run.status is RunStatus.RUNNING or _is_backfill(run, zone):
            continue
        if run.status is RunStatus.OK:
            break
        streak.append(run)
    return streak


def _assumed_alerted(run: RunRecord, on: Sequence[str]) -> bool:
    """Whether an earlier run of the streak will have sent its alert.

    A run that ended on a configuration error (a missing secret, a revoked token) is recorded as
    failed, but `run_sync` raises instead of returning a result, so no alert followed it; it must not
    silence the next failure of the same streak.
    """
    if run.status not in _FAILURES or run.status.value not in on or _stopped_on_request(run.errors):
        return False
    return not any(isinstance(e, Mapping) and e.get("kind") in _CONFIG_ERROR_KINDS for e in run.errors)


def _stopped_on_request(errors: Sequence[Any]) -> bool:
    """A partial run whose only "error" is that it was asked to stop (SIGTERM to the scheduler).

    It stopped between batches on purpose and the next run resumes: a deployment restarting the
    scheduler is no failure to page anyone about. It still belongs to a streak, like a crash.
    """
    kinds = {e.get("kind") if isinstance(e, Mapping) else None for e in errors}
    return kinds == {_STOPPED}


def _is_backfill(run: RunRecord, zone: ZoneInfo) -> bool:
    """A run that assessed a past day (its own `backfill` count if recorded, else as_of < start day)."""
    flag = run.counts.get("backfill")
    if isinstance(flag, bool):
        return flag
    as_of = run.counts.get("as_of")
    if not isinstance(as_of, str):
        return False
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        return False
    return day < run.started_at.astimezone(zone).date()


# --- the summary -----------------------------------------------------------------------------


def _summary(config: Config, result: SyncResult, due: _Due, secrets: Sequence[str]) -> dict[str, Any]:
    """The `healthsync` object of the webhook body; the e-mail and Slack text are rendered from it."""
    return {
        "version": PAYLOAD_VERSION,
        "event": due.event,
        "config": config.name,
        "run_id": result.run_id,
        "status": result.status,
        "as_of": result.as_of.isoformat(),
        "duration_s": round(result.duration_s, 1),
        "accounts": dict(result.accounts),
        "writes": dict(result.writes),
        "refused": dict(result.failed),
        "api_calls": {vendor: dict(calls) for vendor, calls in result.api_calls.items()},
        "errors_total": len(result.errors),
        "errors": [_error(e, secrets) for e in result.errors[:FIRST_ERRORS]],
        "streak": {"runs": due.streak_runs, "first_run_id": due.first_run_id},
    }


def _error(entry: Mapping[str, Any], secrets: Sequence[str]) -> dict[str, Any]:
    """What an alert quotes of one error entry; scrubbed before it is cut, so no secret is half-kept."""
    out: dict[str, Any] = {}
    for key in _ERROR_KEYS:
        value = entry.get(key) if isinstance(entry, Mapping) else None
        if value is None:
            continue
        out[key] = value if isinstance(value, int | float) else truncate(_scrub(str(value), secrets))
    return out


def _scrub(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every revealed secret, and the given ones, replaced by the mask."""
    if isinstance(value, str):
        text = redact(value)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text
    if isinstance(value, Mapping):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    return value


def _title(summary: Mapping[str, Any]) -> str:
    return f"healthsync: {summary['config']} sync {summary['event']}"


def _lines(summary: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The summary for people: facts, then error lines (both without the title)."""
    run, as_of, took = summary["run_id"], summary["as_of"], summary["duration_s"]
    streak = summary["streak"]
    when = f"as of {as_of}, {took:.1f} s"
    if summary["event"] == "recovered":
        runs = streak["runs"]
        head = (
            f"Run {run} completed ({when}) after {runs} failed or partial run{'s' if runs != 1 else ''} "
            f"since run {streak['first_run_id']}."
        )
    elif summary["event"] == "partial":
        head = (
            f"Run {run} was partial ({when}): some records were refused or a limit stopped it; "
            "the rest was written and the next run retries."
        )
    else:
        head = f"Run {run} failed ({when})."
    if summary["event"] != "recovered" and streak["runs"] > 1:
        head += f" Not ok for {streak['runs']} runs, since run {streak['first_run_id']}."
    a, w, r = summary["accounts"], summary["writes"], summary["refused"]
    facts = [head]
    if a:
        facts.append(
            f"Accounts: {a.get('crm', 0)} in the CRM, {a.get('matched', 0)} matched, "
            f"{a.get('scored', 0)} scored"
        )
    facts.append(
        f"Written: {w.get('fields', 0)} accounts updated, {w.get('tasks', 0)} tasks, "
        f"{w.get('deals', 0)} renewal deals"
    )
    if any(r.values()):
        facts.append(
            f"Refused: {r.get('fields', 0)} account updates, {r.get('tasks', 0)} tasks, "
            f"{r.get('deals', 0)} deals (retried next run)"
        )
    calls = ", ".join(
        f"{v} {c.get('read', 0)} read / {c.get('write', 0)} write" for v, c in summary["api_calls"].items()
    )
    facts.append(f"API calls: {calls or 'none'}")
    errors: list[str] = []
    total = summary["errors_total"]
    if total:
        errors.append(f"Errors ({total}):")
        errors += [f"- {_error_text(e)}" for e in summary["errors"]]
        if total > len(summary["errors"]):
            errors.append(f"- ... and {total - len(summary['errors'])} more (healthsync status)")
    return facts, errors


def _error_text(error: Mapping[str, Any]) -> str:
    where = " ".join(str(error[k]) for k in ("vendor", "object", "record") if k in error)
    kind = error.get("kind", "error")
    return f"{kind} ({where}): {error.get('message', '')}" if where else f"{kind}: {error.get('message', '')}"


def webhook_payload(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The POST body: Slack's `text` (the notification, and the message where blocks are not shown),
    Slack `blocks`, and the `healthsync` summary for receivers that are not chats."""
    facts, errors = _lines(summary)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(_title(summary), _SLACK_HEADER_LIMIT)},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(_slack("\n".join(facts)), _SLACK_TEXT_LIMIT)},
        },
    ]
    if errors:
        text = _slack("\n".join(errors))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SLACK_TEXT_LIMIT)}})
    text = _slack("\n".join([_title(summary), *facts, *errors]))
    return {"text": _cut(text, _SLACK_TEXT_LIMIT), "blocks": blocks, "healthsync": dict(summary)}


def email_message(summary: Mapping[str, Any], section: EmailAlerts) -> EmailMessage:
    """The alert as a plain-text e-mail; the subject is `healthsync: <config> sync <event>`."""
    facts, errors = _lines(summary)
    message = EmailMessage()
    message["Subject"] = _title(summary)
    message["From"] = section.sender
    message["To"] = ", ".join(section.recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid("healthsync", domain=section.sender.rpartition("@")[2] or None)
    body = [*facts, *([""] if errors else []), *errors, "", "Run `healthsync status` for the run history."]
    message.set_content("\n".join(body) + "\n")
    return message


def _slack(text: str) -> str:
    # Slack reads &, < and > as markup (`<!channel>` would ping everyone): escape, as its docs ask.
    # https://api.slack.com/reference/surfaces/formatting#escaping
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- delivery --------------------------------------------------------------------------------


def _resolve(ref: Any, key: str, config: Config) -> Secret | None:
    try:
        return resolve(ref, context=key, base_dir=config.base_dir)
    except ConfigError as exc:
        log.warning("alerts: %s", exc)
        return None


def _url_secrets(url: str) -> list[str]:
    """The webhook URL and its path and query: whichever part holds the token must not be logged."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return [url, *(part for part in (tail, parts.path, parts.query) if len(part) > 1)]


def _where(url: str) -> str:
    """The webhook's scheme and host only, for log lines."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def _post_webhook(url: str, payload: Mapping[str, Any], secrets: Sequence[str]) -> str | None:
    """POST the payload; retry once on a 5xx, a timeout or a connection error. None when delivered."""
    if urlsplit(url).scheme not in ("http", "https"):
        return "alerts.webhook_url is not an http(s) URL"
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": f"healthsync/{__version__}"}
    problem = ""
    for attempt in (1, 2):
        if attempt == 2:
            time.sleep(RETRY_DELAY_S)
        try:
            response = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S)
        except (requests.ConnectionError, requests.Timeout) as exc:
            problem = _describe(exc, secrets)
            continue
        except requests.RequestException as exc:
            return _describe(exc, secrets)
        if response.ok:
            return None
        problem = f"HTTP {response.status_code}: {truncate(_scrub(response.text.strip(), secrets), 200)}"
        if response.status_code < 500:
            return problem
    return f"{problem} (after one retry)"


def _send_email(
    section: EmailAlerts, password: Secret | None, message: EmailMessage, secrets: Sequence[str]
) -> str | None:
    """Send over SMTP; retry once on a dropped connection or a transient (4xx) reply. None when sent."""
    if password is not None and not (section.ssl or section.starttls):
        return "refusing to send the SMTP password unencrypted: set starttls = true or ssl = true"
    context = ssl.create_default_context(cafile=str(section.ca_bundle) if section.ca_bundle else None)
    problem = ""
    for attempt in (1, 2):
        if attempt == 2:
            time.sleep(RETRY_DELAY_S)
        try:
            refused = _smtp_send(section, password, message, context)
        except ssl.SSLError as exc:  # a certificate or protocol mismatch: the same again next time
            return _describe(exc, secrets)
        except smtplib.SMTPResponseException as exc:
            problem = _describe(exc, secrets)
            if not 400 <= exc.smtp_code < 500:
                return problem
        except smtplib.SMTPServerDisconnected as exc:
            problem = _describe(exc, secrets)
        except smtplib.SMTPException as exc:
            return _describe(exc, secrets)
        except OSError as exc:  # refused, unreachable, timed out
            problem = _describe(exc, secrets)
        else:
            if refused:
                log.warning("alerts: the SMTP server refused %s", ", ".join(sorted(refused)))
            return None
    return f"{problem} (after one retry)"


def _smtp_send(
    section: EmailAlerts, password: Secret | None, message: EmailMessage, context: ssl.SSLContext
) -> dict[str, tuple[int, bytes]]:
    client: smtplib.SMTP
    if section.ssl:
        client = smtplib.SMTP_SSL(section.host, section.port, timeout=SMTP_TIMEOUT_S, context=context)
    else:
        client = smtplib.SMTP(section.host, section.port, timeout=SMTP_TIMEOUT_S)
    with client:
        if section.starttls and not section.ssl:
            client.starttls(context=context)
        if password is not None and section.username is not None:
            client.login(section.username, password.reveal())
        return client.send_message(message)


def _describe(exc: BaseException, secrets: Sequence[str]) -> str:
    """An exception for a log line: its class and message, secrets and the webhook path masked."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {truncate(_scrub(text, secrets))}" if text else type(exc).__name__
