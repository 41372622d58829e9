"""Per-record refusals become dead letters, show in `status`, and are retried by the next run.

Salesforce refuses writes to rows another transaction holds (UNABLE_TO_LOCK_ROW); the sandbox can
hold rows for a number of writes. The refused accounts must not sink the rest of the batch.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from e2e_support import CrmView, cli_sync, config_for

from healthsync.cli import cli
from healthsync.config import load_config
from healthsync.sandbox import Sandbox
from healthsync.sync.state import StateStore


def _status(config: Path) -> dict:
    result = CliRunner().invoke(cli, ["status", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_refused_records_are_dead_letters_until_a_later_run_writes_them(tmp_path: Path) -> None:
    with Sandbox(accounts=60, seed=8, workdir=tmp_path / "box") as box:
        config = config_for(box, tmp_path, "salesforce")
        view = CrmView(box, "salesforce")
        locked = sorted(view.accounts())[:2]
        app = box.app("salesforce")
        app.lock_rows(locked, times=2)  # type: ignore[attr-defined]  # the write and its retry fail

        first = cli_sync(config, box.clock.today())
        assert first["status"] == "partial"
        assert first["failed"]["fields"] == 2
        assert first["writes"]["fields"] == len(view.accounts()) - 2  # the rest of the batch landed
        assert {e["record"] for e in first["errors"]} == set(locked)
        assert all("UNABLE_TO_LOCK_ROW" in e["message"] for e in first["errors"])
        accounts = view.accounts()
        assert all(accounts[i]["score"] is None for i in locked)
        status = _status(config)
        assert {d["record"] for d in status["dead_letters"]} == set(locked)
        assert status["runs"][0]["status"] == "partial"

        second = cli_sync(config, box.clock.today())
        assert second["status"] == "ok"
        assert second["writes"]["fields"] == 2  # exactly the two refused accounts, nothing else
        assert all(view.accounts()[i]["score"] is not None for i in locked)
        assert _status(config)["dead_letters"] == []


def test_a_second_sync_of_the_same_config_is_refused_while_one_runs(tmp_path: Path) -> None:
    with Sandbox(accounts=10, seed=8, workdir=tmp_path / "box") as box:
        config = config_for(box, tmp_path, "hubspot")
        store = StateStore.open(f"sqlite:///{config.with_suffix('.db')}")
        try:
            lease = store.acquire_lease(
                load_config(config).name, ttl_seconds=600
            )  # a sync in progress elsewhere
            result = CliRunner().invoke(cli, ["sync", "--config", str(config)])
            assert result.exit_code == 1
            assert "another healthsync run holds the lease" in result.output
            assert "Traceback" not in result.output
            assert box.stats.snapshot() == {}  # refused before calling any vendor
            store.release_lease(lease)
        finally:
            store.close()
        again = cli_sync(config, box.clock.today())
        assert again["status"] == "ok", again["errors"]


def test_an_outage_is_a_failed_run_with_its_reason_and_nothing_half_written(tmp_path: Path) -> None:
    with Sandbox(accounts=20, seed=8, workdir=tmp_path / "box") as box:
        config = config_for(box, tmp_path, "hubspot")
        with config.open("a") as toml:
            toml.write("\n[sync]\nretry_budget = 0\n")  # fail at once instead of backing off
        box.faults.configure({"rules": [{"path_prefix": "/api/v2/", "status": 503, "rate": 1.0}]})
        result = CliRunner().invoke(cli, ["sync", "--json", "--config", str(config)])
        assert result.exit_code == 1
        run = json.loads(result.stdout)
        assert run["status"] == "failed"
        assert run["errors"][0]["kind"] == "TransientError"
        assert "zendesk" in run["errors"][0]["message"].lower()
        assert box.stats.snapshot()["hubspot"]["write"] == 0  # failed while pulling: nothing written
        assert _status(config)["runs"][0]["status"] == "failed"

        box.faults.clear()
        again = cli_sync(config, box.clock.today())
        assert again["status"] == "ok", again["errors"]


def test_a_token_refused_mid_run_is_a_failed_run_that_alerts(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Sandbox(accounts=10, seed=8, workdir=tmp_path / "box") as box:
            config = config_for(box, tmp_path, "hubspot")
            (tmp_path / "webhook-url").write_text(f"http://127.0.0.1:{server.server_address[1]}/hook\n")
            with config.open("a") as toml:
                toml.write('\n[alerts]\nwebhook_url = { file = "webhook-url" }\n')
            (tmp_path / "healthsync-secrets" / "hubspot_token").write_text("revoked-token\n")
            result = CliRunner().invoke(cli, ["sync", "--config", str(config)])
            assert result.exit_code == 2  # a credential problem: fix the config
            assert "hubspot.access_token" in result.output
            assert [p["healthsync"]["event"] for p in received] == ["failed"]
            assert received[0]["healthsync"]["errors"][0]["kind"] == "AuthError"
            assert "revoked-token" not in json.dumps(received)
            assert _status(config)["runs"][0]["status"] == "failed"
    finally:
        server.shutdown()
        server.server_close()
