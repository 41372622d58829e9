"""What a run alert says: one summary of the run, rendered as a Slack-compatible webhook body and as
a plain-text e-mail (`alerts` decides when one is due, `alert_delivery` sends it).

The summary carries only the run's counts and the first errors' kind, place and message, scrubbed of
every secret the alert channels use, so neither the webhook body nor the e-mail can leak one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from healthsync.errors import truncate
from healthsync.secrets import MASK, redact

if TYPE_CHECKING:
    from healthsync.config import Config, EmailAlerts
    from healthsync.sync.engine import SyncResult

__all__ = [
    "FIRST_ERRORS",
    "PAYLOAD_VERSION",
    "Due",
    "email_message",
    "scrub",
    "summary_of",
    "webhook_payload",
]

FIRST_ERRORS = 5
"""Errors quoted in an alert; the rest are counted (`healthsync status` lists them all)."""

PAYLOAD_VERSION = 1
"""`healthsync.version` in the webhook body: raised if a field changes meaning or disappears."""

_SLACK_TEXT_LIMIT = 3000
"""Slack's maximum for a section block's text; `text` is kept under it as well."""

_SLACK_HEADER_LIMIT = 150
"""Slack's maximum for a header block's plain text."""

_ERROR_KEYS = ("kind", "vendor", "object", "record", "message")
"""What an alert quotes of a run's error entries: what went wrong and where, never a payload."""


@dataclass(frozen=True)
class Due:
    """An alert to send: its event and the failure streak it opens or closes."""

    event: str
    streak_runs: int
    first_run_id: int | None


def summary_of(config: Config, result: SyncResult, due: Due, secrets: Sequence[str]) -> dict[str, Any]:
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
        out[key] = value if isinstance(value, int | float) else truncate(scrub(str(value), secrets))
    return out


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """`value` with every revealed secret, and the given ones, replaced by the mask."""
    if isinstance(value, str):
        text = redact(value)
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text
    if isinstance(value, Mapping):
        return {key: scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(item, secrets) for item in value]
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
