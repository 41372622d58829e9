"""No credential leaves healthsync: everything real runs print, log and store is scanned (issue #8).

Done when: "the secret-leak scan passes over logs, state database, `status --json` and error
messages". Per CRM, against the sandbox, the CLI runs what an admin's week holds, at debug level with
JSON logs: a successful sync that rides out retries, `status`, `plan` and `check`; a sync and a check
with a wrong CRM token and with a wrong Zendesk token; a partial sync (Salesforce refuses locked rows,
HubSpot's daily cap is spent); a failed sync in a Zendesk outage; `status` again. Captured and scanned:

- every command's stdout and stderr (the JSON log lines among them),
- every log record as it was created (message, arguments, extra fields, traceback), before the
  redacting filter touched it, so a test passes only if healthsync never logs a secret, not because
  the filter scrubbed one,
- the exceptions the Python API raises for the wrong tokens (message, repr, attributes, the whole
  chained traceback) and the failed run's result,
- the state database: every table dumped, and the raw bytes of the file and its journal.

None may hold a sandbox token (HubSpot and Salesforce access tokens, Zendesk API and OAuth tokens, and
the wrong tokens tried), nor an `Authorization` header value, plain or URL-encoded. The test also
asserts the scan had something to scan: the debug request lines, a retry warning, the run lines.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result
from e2e_support import CrmView, config_for

from healthsync.cli import cli
from healthsync.config import load_config
from healthsync.errors import ConfigError
from healthsync.logs import LEVEL_ENV
from healthsync.sandbox import Sandbox
from healthsync.sync.engine import run_sync

ACCOUNTS = 24
SEED = 17
DEBUG_JSON = {LEVEL_ENV: "debug", "HEALTHSYNC_LOG_FORMAT": "json"}
WRONG = {
    "hubspot": "pat-na1-00000000-dead-beef-0000-wrongtoken01",
    "salesforce": "00D000000000000!AQwrongsessionid0000000000000000000000000000000000000000000",
    "zendesk": "wrongzendesktoken0000000000000000000000000",
}
TOKEN_FILES = {"hubspot": "hubspot_token", "salesforce": "salesforce_token", "zendesk": "zendesk_token"}


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class _RawRecords(logging.Handler):
    """Every log record as created: placed before healthsync's handler, whose filter redacts in place."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [str(record.msg), repr(record.args), repr(vars(record))]
        try:
            parts.append(record.getMessage())
        except (TypeError, ValueError):
            parts.append("<unformattable>")
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
        self.records.append(record)
        self.texts.append("\n".join(parts))


@pytest.fixture
def raw_records() -> Iterator[_RawRecords]:
    root, own = logging.getLogger(), logging.getLogger("healthsync")
    handlers, level = list(root.handlers), own.level
    capture = _RawRecords()
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.handlers[:] = handlers  # drops the handler the CLI installed, too
        own.setLevel(level)


@dataclass
class Scan:
    """Everything that left healthsync, by where it came from."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    log_lines: list[dict[str, Any]] = field(default_factory=list)

    def add(self, where: str, text: str | bytes) -> None:
        if isinstance(text, bytes):
            text = text.decode("latin-1")  # every byte maps to one character: a token's bytes stay a token
        self.texts.append((where, text))

    def cli(self, where: str, *args: str, codes: tuple[int, ...] = (0,)) -> Result:
        """`healthsync ARGS` at debug level with JSON logs; stdout, stderr and every log line kept."""
        result = CliRunner(env=DEBUG_JSON).invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code in codes, f"{where}: exit {result.exit_code}\n{result.output[-3000:]}"
        self.add(f"{where}: stdout", result.stdout)
        self.add(f"{where}: stderr", result.stderr)
        for line in result.stderr.splitlines():
            if line.startswith("{"):
                entry = json.loads(line)  # a JSON log line is one whole object, whatever it says
                assert {"time", "level", "logger", "message"} <= set(entry), line
                self.log_lines.append(entry)
        return result

    def exception(self, where: str, error: BaseException) -> None:
        """An exception as a caller sees it: message, repr, attributes, and the chained traceback."""
        self.add(f"{where}: str", str(error))
        self.add(f"{where}: traceback", "".join(traceback.format_exception(error)))
        seen: BaseException | None = error
        while seen is not None:
            self.add(f"{where}: {type(seen).__name__} attributes", repr(seen.args) + repr(vars(seen)))
            seen = seen.__cause__ or seen.__context__

    def database(self, path: Path) -> None:
        """Every table of the state database, dumped, plus the raw bytes of the file and its journals."""
        connection = sqlite3.connect(path)
        try:
            self.add(f"{path.name}: dump", "\n".join(connection.iterdump()))
        finally:
            connection.close()
        for part in path.parent.glob(f"{path.name}*"):  # the file, -wal, -shm, -journal
            self.add(f"{part.name}: bytes", part.read_bytes())

    def leaks(self, forbidden: dict[str, str]) -> list[str]:
        """Where each forbidden value appears, named but never printed."""
        return [
            f"{what} in {where}"
            for where, text in self.texts
            for what, value in forbidden.items()
            if value in text
        ]


def _forbidden(box: Sandbox) -> dict[str, str]:
    """The sandbox's credentials, the wrong ones tried, and the Authorization headers they make."""
    info = box.info()
    hubspot, salesforce = info["hubspot"]["access_token"], info["salesforce"]["access_token"]
    zendesk, email = info["zendesk"]["token"], info["zendesk"]["email"]
    values = {
        "hubspot access token": hubspot,
        "salesforce access token": salesforce,
        "salesforce session secret": salesforce.partition("!")[2],
        "zendesk api token": zendesk,
        "zendesk oauth token": info["zendesk"]["oauth_token"],
        "hubspot Authorization header": f"Bearer {hubspot}",
        "salesforce Authorization header": f"Bearer {salesforce}",
        "zendesk Authorization header": base64.b64encode(f"{email}/token:{zendesk}".encode()).decode(),
        **{f"wrong {vendor} token": token for vendor, token in WRONG.items()},
        "wrong zendesk Authorization header": base64.b64encode(
            f"{email}/token:{WRONG['zendesk']}".encode()
        ).decode(),
    }
    values |= {f"{what} (URL-encoded)": quote(value, safe="") for what, value in values.items()}
    return values


def _swap_token(config: Path, vendor: str, token: str) -> str:
    """Write `token` into the vendor's secret file beside `config`; returns the one it replaced."""
    path = config.parent / f"{config.stem}-secrets" / TOKEN_FILES[vendor]
    before = path.read_text(encoding="utf-8")
    path.write_text(token + "\n", encoding="utf-8")
    return before.strip()


def _wrong_token(scan: Scan, box: Sandbox, config: Path, vendor: str) -> None:
    """A sync, a check and the Python API with a token the vendor refuses: exit 2, the 401 named."""
    today = box.clock.today().isoformat()
    right = _swap_token(config, vendor, WRONG[vendor])
    try:
        refused = scan.cli(
            f"sync, wrong {vendor} token",
            "sync",
            "--json",
            "--config",
            str(config),
            "--as-of",
            today,
            codes=(2,),
        )
        assert vendor in refused.stderr.lower()
        assert "401" in refused.stderr or "credential" in refused.stderr.lower()
        checked = scan.cli(
            f"check, wrong {vendor} token", "check", "--json", "--config", str(config), codes=(1,)
        )
        assert json.loads(checked.stdout)["ok"] is False
        with pytest.raises(ConfigError) as raised:
            run_sync(load_config(config), as_of=box.clock.today())
        scan.exception(f"run_sync, wrong {vendor} token", raised.value)
    finally:
        _swap_token(config, vendor, right)


def test_no_output_log_record_error_or_stored_row_carries_a_credential(
    crm: str, tmp_path: Path, raw_records: _RawRecords
) -> None:
    scan = Scan()
    with Sandbox(accounts=ACCOUNTS, seed=SEED, workdir=tmp_path / "box") as box:
        config = config_for(box, tmp_path, crm)
        today = box.clock.today().isoformat()
        sync = ("sync", "--json", "--config", str(config), "--as-of")

        # --- a good sync that rides out a 503 from each vendor (retry warnings are logged) ----------
        crm_path = {"hubspot": "/crm/v3/objects/companies", "salesforce": "/services/data/"}[crm]
        box.faults.configure(
            {
                "rules": [
                    {"path_prefix": crm_path, "method": "GET", "status": 503, "count": 1},
                    {"path_prefix": "/api/v2/incremental", "status": 503, "count": 1},
                ]
            }
        )
        first = scan.cli("sync", *sync, today)
        run = json.loads(first.stdout)  # stdout is the one JSON object, even at debug level
        assert run["status"] == "ok", run["errors"]
        scan.cli("status", "status", "--json", "--config", str(config))
        scan.cli("plan", "plan", "--json", "--config", str(config), "--as-of", today)
        checked = scan.cli("check", "check", "--json", "--config", str(config))
        assert json.loads(checked.stdout)["ok"] is True

        # --- credentials the vendors refuse ---------------------------------------------------------
        _wrong_token(scan, box, config, crm)
        _wrong_token(scan, box, config, "zendesk")

        # --- a partial sync: a week later two Salesforce rows are locked; HubSpot's daily cap is spent -
        if crm == "salesforce":
            box.advance(7)
            locked = sorted(CrmView(box, crm).accounts())[:2]
            box.app("salesforce").lock_rows(locked, times=2)  # type: ignore[attr-defined]
        else:
            box.app("hubspot").exhaust_quota()  # every call answers 429 DAILY until the day changes
        partial = json.loads(
            scan.cli("partial sync", *sync, box.clock.today().isoformat(), codes=(1,)).stdout
        )
        assert partial["status"] == "partial", partial
        if crm == "hubspot":
            box.advance(1)  # a new day, a new daily cap

        # --- a failed sync: Zendesk is down and no retry is left ------------------------------------
        with config.open("a", encoding="utf-8") as toml:
            toml.write("\n[sync]\nretry_budget = 0\n")
        box.faults.configure({"rules": [{"path_prefix": "/api/v2/", "status": 503, "rate": 1.0}]})
        failed = json.loads(scan.cli("failed sync", *sync, box.clock.today().isoformat(), codes=(1,)).stdout)
        assert failed["status"] == "failed", failed
        outage = run_sync(load_config(config), as_of=box.clock.today())
        assert outage.status == "failed"
        scan.add("run_sync result, outage", json.dumps(outage.to_json()))
        box.faults.clear()

        history = json.loads(scan.cli("status after", "status", "--json", "--config", str(config)).stdout)
        scan.database(config.with_suffix(".db"))
        forbidden = _forbidden(box)

    for index, text in enumerate(raw_records.texts):
        scan.add(f"log record {index} ({raw_records.records[index].name})", text)

    # The scan saw the real thing: runs of every outcome, request lines, retries and run lines.
    assert {r["status"] for r in history["runs"]} >= {"ok", "partial", "failed"}
    http_lines = [e for e in scan.log_lines if e["logger"] == "healthsync.http"]
    assert {e["vendor"] for e in http_lines if e["level"] == "debug"} >= {crm, "zendesk"}
    requests = [e for e in http_lines if e["level"] == "debug"]
    assert all({"endpoint", "kind", "attempt", "outcome", "duration_ms"} <= set(e) for e in requests)
    retries = [e for e in http_lines if e["level"] == "warning"]
    assert {e["vendor"] for e in retries} == {crm, "zendesk"}  # the two injected 503s, each retried
    assert all(e["error"] == "TransientError" and e["status"] == 503 and "wait_s" in e for e in retries)
    run_lines = [e["message"] for e in scan.log_lines if e.get("run_id") == run["run_id"]]
    assert f"run {run['run_id']} started" in run_lines
    assert f"run {run['run_id']} finished: ok" in run_lines
    assert len(raw_records.records) >= len(scan.log_lines) > 50

    assert scan.leaks(forbidden) == []
