"""Run alerts (issue #8 item 4): a real HTTP receiver and a real SMTP server, real run records.

Runs are recorded in a SQLite state store with `start_run`/`finish_run` exactly as `run_sync` records
them, and `SyncResult`s are built as `run_sync` returns them; nothing in healthsync is replaced.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from healthsync.alerts import notify_after_run
from healthsync.cli import cli
from healthsync.config import Config, load_config
from healthsync.secrets import MASK, Secret
from healthsync.sync.engine import SyncResult
from healthsync.sync.state import RunStatus, StateStore

NOW = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)
TODAY = NOW.date()


# --- a webhook receiver ----------------------------------------------------------------------


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers with queued statuses (then 200)."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                status = receiver.replies.pop(0) if receiver.replies else 200
                answer = b"ok" if status == 200 else b"rollup_error"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def url(self, token: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T0001/B0001/{token}"

    @property
    def payloads(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def token() -> str:
    """The webhook's secret path segment, unique per test."""
    return f"hook-{uuid.uuid4().hex}"


# --- an SMTP server --------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler and authenticator: keeps every message and every sign-in attempt."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "tls": session.ssl is not None,
                "message": message_from_bytes(
                    envelope.content.replace(b"\r\n", b"\n"), policy=policy.default
                ),
            }
        )
        return "250 OK"

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == ("healthsync", SMTP_PASSWORD))


SMTP_PASSWORD = f"smtp-{uuid.uuid4().hex}"


class LocalController(Controller):
    """aiosmtpd's threaded controller on a free port (it only connects to a fixed one to start)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Tls:
    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return Tls(path, context)


def smtp_server(mailbox: Mailbox, *, tls: Tls | None = None, implicit: bool = False) -> LocalController:
    kwargs: dict[str, Any] = {"authenticator": mailbox}
    if tls is not None and implicit:
        # aiosmtpd offers AUTH only after its own STARTTLS; this listener is TLS from the first byte.
        kwargs.update(ssl_context=tls.server, auth_require_tls=False)
    elif tls is not None:
        kwargs.update(tls_context=tls.server, require_starttls=True)
    controller = LocalController(mailbox, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    return controller


# --- configs, runs and results ---------------------------------------------------------------


def make_config(folder: Path, alerts: str, *, name: str = "acme-prod", hubspot: str = "") -> Config:
    path = folder / "healthsync.toml"
    path.write_text(
        f"""
[healthsync]
name = "{name}"

[state]
url = "sqlite:///{folder / "state.db"}"

[crm]
system = "hubspot"

[hubspot]
access_token = {{ file = "hubspot-token" }}
{hubspot}

{alerts}
""",
        encoding="utf-8",
    )
    return load_config(path)


def webhook_config(folder: Path, url: str, on: str | None = None, **more: str) -> Config:
    (folder / "webhook-url").write_text(url + "\n", encoding="utf-8")
    lines = ["[alerts]", 'webhook_url = { file = "webhook-url" }']
    if on is not None:
        lines.append(f"on = {on}")
    return make_config(folder, "\n".join(lines), **more)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=lambda: NOW)
    yield opened
    opened.close()


ACCOUNTS = {"crm": 300, "matched": 290, "unmatched": 10, "scored": 300}
API_CALLS = {"hubspot": {"read": 4, "write": 2}, "zendesk": {"read": 3, "write": 0}}
OUTAGE = {"kind": "TransientError", "message": "hubspot companies.search: HTTP 503 after 3 attempts"}


def record(
    store: StateStore,
    config: Config,
    status: str,
    *,
    dry_run: bool = False,
    as_of: date = TODAY,
    errors: list[dict[str, Any]] | None = None,
    writes: dict[str, int] | None = None,
    failed: dict[str, int] | None = None,
) -> SyncResult:
    """Record one finished run as `run_sync` does, and return the result it would have returned."""
    errors = [OUTAGE] if errors is None and status == "failed" else list(errors or [])
    writes = writes or {"fields": 0, "tasks": 0, "deals": 0}
    failed = failed or {"fields": 0, "tasks": 0, "deals": 0}
    run_id = store.start_run(config.name, dry_run, config_fingerprint=config.fingerprint())
    counts = {"accounts": ACCOUNTS, "writes": writes, "failed": failed, "as_of": as_of.isoformat()}
    store.finish_run(run_id, RunStatus(status), counts=counts, api_calls={}, errors=errors)
    return SyncResult(
        run_id,
        status,
        dry_run,
        as_of,
        backfill=as_of < TODAY,
        accounts=dict(ACCOUNTS),
        writes=writes,
        failed=failed,
        api_calls=API_CALLS,
        errors=errors,
        duration_s=12.345,
    )


def run(store: StateStore, config: Config, status: str, **kwargs: Any) -> list[str]:
    return notify_after_run(config, store, record(store, config, status, **kwargs))


# --- the exact payloads ----------------------------------------------------------------------


def test_a_failed_run_posts_slack_blocks_and_the_run_summary(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    assert run(store, config, "ok") == []
    assert run(store, config, "failed") == ["webhook"]

    [request] = receiver.requests
    assert request["path"] == f"/services/T0001/B0001/{token}"
    assert request["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert request["headers"]["User-Agent"].startswith("healthsync/")
    assert request["json"] == {
        "text": (
            "healthsync: acme-prod sync failed\n"
            "Run 2 failed (as of 2025-03-10, 12.3 s).\n"
            "Accounts: 300 in the CRM, 290 matched, 300 scored\n"
            "Written: 0 accounts updated, 0 tasks, 0 renewal deals\n"
            "API calls: hubspot 4 read / 2 write, zendesk 3 read / 0 write\n"
            "Errors (1):\n"
            "- TransientError: hubspot companies.search: HTTP 503 after 3 attempts"
        ),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "healthsync: acme-prod sync failed"}},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        "Run 2 failed (as of 2025-03-10, 12.3 s).\n"
                        "Accounts: 300 in the CRM, 290 matched, 300 scored\n"
                        "Written: 0 accounts updated, 0 tasks, 0 renewal deals\n"
                        "API calls: hubspot 4 read / 2 write, zendesk 3 read / 0 write"
                    ),
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "Errors (1):\n- TransientError: hubspot companies.search: HTTP 503 after 3 attempts",
                },
            },
        ],
        "healthsync": {
            "version": 1,
            "event": "failed",
            "config": "acme-prod",
            "run_id": 2,
            "status": "failed",
            "as_of": "2025-03-10",
            "duration_s": 12.3,
            "accounts": {"crm": 300, "matched": 290, "unmatched": 10, "scored": 300},
            "writes": {"fields": 0, "tasks": 0, "deals": 0},
            "refused": {"fields": 0, "tasks": 0, "deals": 0},
            "api_calls": {"hubspot": {"read": 4, "write": 2}, "zendesk": {"read": 3, "write": 0}},
            "errors_total": 1,
            "errors": [
                {"kind": "TransientError", "message": "hubspot companies.search: HTTP 503 after 3 attempts"}
            ],
            "streak": {"runs": 1, "first_run_id": 2},
        },
    }


def test_a_partial_run_alerts_with_what_was_refused(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    refused = [
        {
            "kind": "RecordRejected",
            "object": "task",
            "record": f"signal:acct-{i}:risk",
            "message": "INVALID_OWNER",
        }
        for i in range(7)
    ]
    assert run(
        store,
        config,
        "partial",
        errors=refused,
        writes={"fields": 120, "tasks": 3, "deals": 2},
        failed={"fields": 0, "tasks": 7, "deals": 0},
    ) == ["webhook"]

    [payload] = receiver.payloads
    facts = (
        "Run 1 was partial (as of 2025-03-10, 12.3 s): some records were refused or a limit stopped it; "
        "the rest was written and the next run retries.\n"
        "Accounts: 300 in the CRM, 290 matched, 300 scored\n"
        "Written: 120 accounts updated, 3 tasks, 2 renewal deals\n"
        "Refused: 0 account updates, 7 tasks, 0 deals (retried next run)\n"
        "API calls: hubspot 4 read / 2 write, zendesk 3 read / 0 write"
    )
    errors = (
        "Errors (7):\n"
        + "".join(f"- RecordRejected (task signal:acct-{i}:risk): INVALID_OWNER\n" for i in range(5))
        + "- ... and 2 more (healthsync status)"
    )
    assert payload == {
        "text": f"healthsync: acme-prod sync partial\n{facts}\n{errors}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "healthsync: acme-prod sync partial"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
            {"type": "section", "text": {"type": "mrkdwn", "text": errors}},
        ],
        "healthsync": {
            "version": 1,
            "event": "partial",
            "config": "acme-prod",
            "run_id": 1,
            "status": "partial",
            "as_of": "2025-03-10",
            "duration_s": 12.3,
            "accounts": {"crm": 300, "matched": 290, "unmatched": 10, "scored": 300},
            "writes": {"fields": 120, "tasks": 3, "deals": 2},
            "refused": {"fields": 0, "tasks": 7, "deals": 0},
            "api_calls": {"hubspot": {"read": 4, "write": 2}, "zendesk": {"read": 3, "write": 0}},
            "errors_total": 7,
            "errors": refused[:5],
            "streak": {"runs": 1, "first_run_id": 1},
        },
    }


def test_a_failure_streak_alerts_once_then_recovers_once(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    assert run(store, config, "ok") == []
    assert run(store, config, "failed") == ["webhook"]  # run 2 opens the streak
    assert run(store, config, "failed") == []
    assert run(store, config, "partial") == []
    assert run(store, config, "ok") == ["webhook"]  # run 5 ends it
    assert run(store, config, "ok") == []
    assert [p["healthsync"]["event"] for p in receiver.payloads] == ["failed", "recovered"]

    recovered = receiver.payloads[1]
    facts = (
        "Run 5 completed (as of 2025-03-10, 12.3 s) after 3 failed or partial runs since run 2.\n"
        "Accounts: 300 in the CRM, 290 matched, 300 scored\n"
        "Written: 0 accounts updated, 0 tasks, 0 renewal deals\n"
        "API calls: hubspot 4 read / 2 write, zendesk 3 read / 0 write"
    )
    assert recovered == {
        "text": f"healthsync: acme-prod sync recovered\n{facts}",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "healthsync: acme-prod sync recovered"},
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": facts}},
        ],
        "healthsync": {
            "version": 1,
            "event": "recovered",
            "config": "acme-prod",
            "run_id": 5,
            "status": "ok",
            "as_of": "2025-03-10",
            "duration_s": 12.3,
            "accounts": {"crm": 300, "matched": 290, "unmatched": 10, "scored": 300},
            "writes": {"fields": 0, "tasks": 0, "deals": 0},
            "refused": {"fields": 0, "tasks": 0, "deals": 0},
            "api_calls": {"hubspot": {"read": 4, "write": 2}, "zendesk": {"read": 3, "write": 0}},
            "errors_total": 0,
            "errors": [],
            "streak": {"runs": 3, "first_run_id": 2},
        },
    }

    # The next streak alerts again.
    assert run(store, config, "failed") == ["webhook"]
    assert receiver.payloads[-1]["healthsync"]["streak"] == {"runs": 1, "first_run_id": 7}


def test_ok_runs_alert_nobody(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    assert run(store, config, "ok") == []  # the very first run
    assert run(store, config, "ok") == []
    assert receiver.requests == []


def test_dry_runs_and_backfills_neither_alert_nor_end_a_streak(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    assert run(store, config, "failed", dry_run=True) == []
    assert run(store, config, "failed", as_of=TODAY - timedelta(days=7)) == []
    assert run(store, config, "failed") == ["webhook"]  # run 3: the dry run and backfill do not count
    assert run(store, config, "ok", dry_run=True) == []
    assert run(store, config, "ok", as_of=TODAY - timedelta(days=14)) == []
    assert run(store, config, "failed") == []  # still the same streak
    assert run(store, config, "ok") == ["webhook"]
    assert [p["healthsync"]["streak"] for p in receiver.payloads] == [
        {"runs": 1, "first_run_id": 3},
        {"runs": 2, "first_run_id": 3},
    ]


def test_an_interrupted_run_belongs_to_the_streak(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    assert run(store, config, "failed") == ["webhook"]
    run_id = store.start_run(config.name, False)  # killed: marked interrupted, never notified
    store.finish_run(run_id, RunStatus.INTERRUPTED, counts={"as_of": TODAY.isoformat()})
    assert run(store, config, "failed") == []
    assert run(store, config, "ok") == ["webhook"]
    assert receiver.payloads[-1]["healthsync"]["streak"] == {"runs": 3, "first_run_id": 1}

    # A crash alone is no failure streak that alerted: the ok run after it is no recovery.
    run_id = store.start_run(config.name, False)
    store.finish_run(run_id, RunStatus.INTERRUPTED, counts={"as_of": TODAY.isoformat()})
    assert run(store, config, "ok") == []
    assert len(receiver.requests) == 2


def test_a_run_stopped_on_request_alerts_nobody(tmp_path, store, receiver, token):
    """SIGTERM to the scheduler stops a sync between batches: recorded as partial, resumed next run."""
    config = webhook_config(tmp_path, receiver.url(token))
    stopped = [{"kind": "stopped", "message": "stopped on request before writing; the next run resumes"}]
    assert run(store, config, "partial", errors=stopped) == []
    assert run(store, config, "ok") == []  # nothing was alerted, so nothing recovers
    assert run(store, config, "failed") == ["webhook"]
    assert run(store, config, "partial", errors=stopped) == []
    assert run(store, config, "ok") == ["webhook"]
    assert receiver.payloads[-1]["healthsync"]["streak"] == {"runs": 2, "first_run_id": 3}
    # Stopped mid-write with records refused before the stop: a real partial run.
    refused = {"kind": "RecordRejected", "object": "task", "record": "k", "message": "INVALID_OWNER"}
    assert run(store, config, "partial", errors=[refused, *stopped]) == ["webhook"]


def test_on_decides_which_outcomes_alert(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token), on='["failed"]')
    assert run(store, config, "partial") == []
    assert run(store, config, "failed") == ["webhook"]  # the streak's first run that `on` lists
    assert run(store, config, "failed") == []
    assert run(store, config, "ok") == []  # "recovered" is not listed
    assert [(p["healthsync"]["event"], p["healthsync"]["streak"]) for p in receiver.payloads] == [
        ("failed", {"runs": 2, "first_run_id": 1})
    ]
    assert receiver.payloads[0]["blocks"][1]["text"]["text"].startswith(
        "Run 2 failed (as of 2025-03-10, 12.3 s). Not ok for 2 runs, since run 1.\n"
    )


def test_no_recovery_alert_after_a_streak_nobody_was_told_of(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token), on='["failed", "recovered"]')
    assert run(store, config, "partial") == []
    assert run(store, config, "ok") == []
    assert receiver.requests == []


def test_a_run_that_ended_on_a_config_error_does_not_silence_the_streak(tmp_path, store, receiver, token):
    """`run_sync` raises on a ConfigError (a revoked token is an AuthError): no alert followed that run."""
    config = webhook_config(tmp_path, receiver.url(token))
    record(
        store, config, "failed", errors=[{"kind": "AuthError", "message": "hubspot: 401, check the token"}]
    )
    assert run(store, config, "failed") == ["webhook"]
    assert receiver.payloads[0]["healthsync"]["streak"] == {"runs": 2, "first_run_id": 1}


def test_runs_of_other_configs_do_not_count(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    (tmp_path / "other").mkdir()
    other = make_config(tmp_path / "other", "", name="other")
    record(store, other, "failed")
    assert run(store, config, "failed") == ["webhook"]
    assert run(store, config, "ok") == ["webhook"]
    record(store, other, "ok")
    assert run(store, config, "failed") == ["webhook"]


def test_no_alerts_section_sends_nothing(tmp_path, store):
    config = make_config(tmp_path, "")
    assert run(store, config, "failed") == []


def test_without_a_store_the_configs_own_is_read(tmp_path, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    opened = StateStore.open(config.state.url, clock=lambda: NOW)
    try:
        record(opened, config, "failed")
        ok = record(opened, config, "ok")
    finally:
        opened.close()
    assert notify_after_run(config, None, ok) == ["webhook"]  # the failed run 1 was found
    assert receiver.payloads[0]["healthsync"]["event"] == "recovered"


# --- delivery: retries, failures, secrets ----------------------------------------------------


def test_a_5xx_is_retried_once(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    receiver.replies = [503]
    assert run(store, config, "failed") == ["webhook"]
    assert len(receiver.requests) == 2
    assert receiver.payloads[0] == receiver.payloads[1]


def test_a_failed_alert_is_logged_without_the_url_and_never_raises(tmp_path, store, receiver, token, caplog):
    caplog.set_level(logging.INFO, logger="healthsync.alerts")
    config = webhook_config(tmp_path, receiver.url(token))
    receiver.replies = [500, 500]
    assert run(store, config, "failed") == []
    assert len(receiver.requests) == 2
    port = receiver.server.server_address[1]
    assert caplog.messages == [
        f"alerts: webhook to http://127.0.0.1:{port}/… failed: HTTP 500: rollup_error (after one retry)"
    ]


def test_a_4xx_is_not_retried(tmp_path, store, receiver, token, caplog):
    config = webhook_config(tmp_path, receiver.url(token))
    receiver.replies = [400]
    assert run(store, config, "failed") == []
    assert len(receiver.requests) == 1
    assert "HTTP 400" in caplog.text


def test_an_unreachable_receiver_is_retried_once_then_logged(tmp_path, store, receiver, token, caplog):
    url = receiver.url(token)
    receiver.stop()  # nothing listens on that port any more
    config = webhook_config(tmp_path, url)
    assert run(store, config, "failed") == []
    [message] = caplog.messages
    assert message.startswith("alerts: webhook to http://127.0.0.1:")
    assert message.endswith("(after one retry)")
    assert "ConnectionError" in message
    assert token not in caplog.text
    receiver.start()  # for the fixture's teardown


def test_a_missing_webhook_secret_is_logged_by_name(tmp_path, store, caplog):
    config = make_config(tmp_path, '[alerts]\nwebhook_url = { env = "HEALTHSYNC_TEST_NO_SUCH_WEBHOOK" }')
    assert run(store, config, "failed") == []
    assert "alerts.webhook_url: secret not found" in caplog.text


def test_secrets_are_scrubbed_from_the_payload_and_the_logs(tmp_path, store, receiver, token, caplog):
    caplog.set_level(logging.DEBUG, logger="healthsync.alerts")
    url = receiver.url(token)
    config = webhook_config(tmp_path, url)
    vendor_token = Secret(f"pat-na1-{uuid.uuid4().hex}")
    leaked = vendor_token.reveal()  # as a connector does; an error message then quotes it by accident
    errors = [
        {"kind": "TransientError", "message": f"POST {url} refused; Authorization: Bearer {leaked}"},
        {"kind": "TransientError", "message": f"GET /services/T0001/B0001/{token}?x=1 " + "y" * 400},
    ]
    assert run(store, config, "failed", errors=errors) == ["webhook"]
    body = json.dumps(receiver.payloads[0])
    assert token not in body
    assert leaked not in body
    assert receiver.payloads[0]["healthsync"]["errors"][0]["message"] == (
        f"POST {MASK} refused; Authorization: Bearer {MASK}"
    )
    assert token not in caplog.text
    assert leaked not in caplog.text


# --- e-mail ----------------------------------------------------------------------------------


def email_config(
    folder: Path, port: int, *, tls: Tls | None, extra: str = "", password: bool = True
) -> Config:
    (folder / "smtp-password").write_text(SMTP_PASSWORD, encoding="utf-8")
    lines = [
        "[alerts.email]",
        'host = "127.0.0.1"',
        f"port = {port}",
        'sender = "healthsync@acme.example"',
        'recipients = ["cs-ops@acme.example", "oncall@acme.example"]',
    ]
    if password:
        lines += ['username = "healthsync"', 'password = { file = "smtp-password" }']
    if tls is not None:
        lines.append(f'ca_bundle = "{tls.ca_file}"')
    return make_config(folder, "\n".join([*lines, extra]))


def test_email_over_starttls_with_a_login(tmp_path, store, tls):
    mailbox = Mailbox()
    server = smtp_server(mailbox, tls=tls)
    try:
        config = email_config(tmp_path, server.port, tls=tls)
        assert run(store, config, "ok") == []
        assert run(store, config, "failed") == ["email"]
        assert run(store, config, "ok") == ["email"]
    finally:
        server.stop()

    assert mailbox.logins == [("healthsync", SMTP_PASSWORD)] * 2
    failed, recovered = mailbox.messages
    assert failed["tls"] is True
    assert failed["from"] == "healthsync@acme.example"
    assert failed["to"] == ["cs-ops@acme.example", "oncall@acme.example"]
    message = failed["message"]
    assert message["Subject"] == "healthsync: acme-prod sync failed"
    assert message["From"] == "healthsync@acme.example"
    assert message["To"] == "cs-ops@acme.example, oncall@acme.example"
    assert message["Message-ID"].endswith("@acme.example>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == (
        "Run 2 failed (as of 2025-03-10, 12.3 s).\n"
        "Accounts: 300 in the CRM, 290 matched, 300 scored\n"
        "Written: 0 accounts updated, 0 tasks, 0 renewal deals\n"
        "API calls: hubspot 4 read / 2 write, zendesk 3 read / 0 write\n"
        "\n"
        "Errors (1):\n"
        "- TransientError: hubspot companies.search: HTTP 503 after 3 attempts\n"
        "\n"
        "Run `healthsync status` for the run history.\n"
    )
    assert recovered["message"]["Subject"] == "healthsync: acme-prod sync recovered"
    assert (
        recovered["message"]
        .get_content()
        .startswith("Run 3 completed (as of 2025-03-10, 12.3 s) after 1 failed or partial run since run 2.\n")
    )
    assert SMTP_PASSWORD not in recovered["message"].as_string()


def test_email_over_implicit_tls(tmp_path, store, tls):
    mailbox = Mailbox()
    server = smtp_server(mailbox, tls=tls, implicit=True)
    try:
        config = email_config(tmp_path, server.port, tls=tls, extra="ssl = true")
        assert run(store, config, "partial") == ["email"]
    finally:
        server.stop()
    [sent] = mailbox.messages
    assert sent["message"]["Subject"] == "healthsync: acme-prod sync partial"
    assert mailbox.logins == [("healthsync", SMTP_PASSWORD)]


def test_the_smtp_password_is_never_sent_unencrypted(tmp_path, store, caplog):
    mailbox = Mailbox()
    server = smtp_server(mailbox)
    try:
        config = email_config(tmp_path, server.port, tls=None, extra="starttls = false")
        assert run(store, config, "failed") == []
    finally:
        server.stop()
    assert mailbox.messages == []
    assert mailbox.logins == []
    assert "refusing to send the SMTP password unencrypted" in caplog.text


def test_email_without_a_login_on_a_plain_relay(tmp_path, store):
    mailbox = Mailbox()
    server = smtp_server(mailbox)
    try:
        config = email_config(tmp_path, server.port, tls=None, extra="starttls = false", password=False)
        assert run(store, config, "failed") == ["email"]
    finally:
        server.stop()
    [sent] = mailbox.messages
    assert sent["tls"] is False
    assert mailbox.logins == []


def test_a_server_without_starttls_is_refused_not_downgraded(tmp_path, store, caplog):
    mailbox = Mailbox()
    server = smtp_server(mailbox)  # no TLS context: it does not offer STARTTLS
    try:
        config = email_config(tmp_path, server.port, tls=None)
        assert run(store, config, "failed") == []
    finally:
        server.stop()
    assert mailbox.messages == []
    assert mailbox.logins == []
    assert "SMTPNotSupportedError" in caplog.text


def test_both_channels_and_one_down(tmp_path, store, receiver, token, tls, caplog):
    mailbox = Mailbox()
    server = smtp_server(mailbox, tls=tls)
    port = server.port
    (tmp_path / "webhook-url").write_text(receiver.url(token), encoding="utf-8")
    try:
        config = email_config(
            tmp_path, port, tls=tls, extra='[alerts]\nwebhook_url = { file = "webhook-url" }'
        )
        assert run(store, config, "failed") == ["webhook", "email"]
    finally:
        server.stop()
    assert len(receiver.requests) == len(mailbox.messages) == 1
    assert receiver.payloads[0]["text"].startswith(mailbox.messages[0]["message"]["Subject"] + "\n")

    # The SMTP server is gone: the webhook still goes out, the e-mail failure is logged.
    assert run(store, config, "ok") == ["webhook"]
    assert f"alerts: e-mail via 127.0.0.1:{port} failed: ConnectionRefusedError" in caplog.text
    assert SMTP_PASSWORD not in caplog.text


# --- the command -----------------------------------------------------------------------------


def test_healthsync_sync_alerts_when_the_crm_is_down(tmp_path, receiver, token):
    """The `sync` command notifies after the run: here HubSpot does not answer at all."""
    (tmp_path / "hubspot-token").write_text("pat-na1-not-used", encoding="utf-8")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hubspot = f'host = "http://127.0.0.1:{port}"\n\n[sync]\nretry_budget = 0'
    config = webhook_config(tmp_path, receiver.url(token), hubspot=hubspot)
    result = CliRunner().invoke(
        cli, ["sync", "--config", str(config.source), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    [payload] = receiver.payloads
    assert payload["healthsync"]["event"] == "failed"
    assert payload["healthsync"]["run_id"] == json.loads(result.stdout)["run_id"]


def test_slack_markup_in_an_error_is_escaped_for_chats_only(tmp_path, store, receiver, token):
    config = webhook_config(tmp_path, receiver.url(token))
    errors = [{"kind": "StateError", "message": "<!channel> lease held by host-a & host-b"}]
    assert run(store, config, "failed", errors=errors) == ["webhook"]
    [payload] = receiver.payloads
    escaped = "- StateError: &lt;!channel&gt; lease held by host-a &amp; host-b"
    assert payload["text"].endswith(escaped)
    assert payload["blocks"][2]["text"]["text"].endswith(escaped)
    assert payload["healthsync"]["errors"] == errors
