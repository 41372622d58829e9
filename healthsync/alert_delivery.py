"""Sending a run alert: POST to a webhook, or an e-mail over SMTP, each retried once on a transient
failure. A failure comes back as one line for the log (never raised: an alert must not fail a run),
with the webhook's path and every secret masked.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import time
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from healthsync import __version__
from healthsync.alert_messages import scrub
from healthsync.errors import truncate
from healthsync.secrets import Secret

if TYPE_CHECKING:
    from healthsync.config import EmailAlerts

__all__ = [
    "RETRY_DELAY_S",
    "SMTP_TIMEOUT_S",
    "WEBHOOK_TIMEOUT_S",
    "post_webhook",
    "send_email",
    "url_secrets",
    "webhook_host",
]

log = logging.getLogger("healthsync.alerts")

WEBHOOK_TIMEOUT_S = 10.0
"""Connect and read timeout of the webhook POST; a slow receiver must not hold up the scheduler."""

SMTP_TIMEOUT_S = 10.0
"""Timeout of each SMTP socket operation."""

RETRY_DELAY_S = 1.0
"""Pause before the one retry of a delivery that failed on a 5xx (4xx for SMTP) or the connection."""


def url_secrets(url: str) -> list[str]:
    """The webhook URL and its path and query: whichever part holds the token must not be logged."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    return [url, *(part for part in (tail, parts.path, parts.query) if len(part) > 1)]


def webhook_host(url: str) -> str:
    """The webhook's scheme and host only, for log lines."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/…"


def post_webhook(url: str, payload: Mapping[str, Any], secrets: Sequence[str]) -> str | None:
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
        problem = f"HTTP {response.status_code}: {truncate(scrub(response.text.strip(), secrets), 200)}"
        if response.status_code < 500:
            return problem
    return f"{problem} (after one retry)"


def send_email(
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
    return f"{type(exc).__name__}: {truncate(scrub(text, secrets))}" if text else type(exc).__name__
