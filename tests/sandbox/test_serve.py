"""`healthsync sandbox serve` as a user runs it: a real process, its ready line, its config, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from healthsync.config import load_config
from healthsync.secrets import resolve


def test_serve_prints_ready_line_writes_a_usable_config_and_stops_on_sigterm(tmp_path: Path) -> None:
    config_path = tmp_path / "sandbox.toml"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "healthsync.cli",
            "sandbox",
            "serve",
            "--accounts",
            "25",
            "--seed",
            "7",
            "--write-config",
            str(config_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else "no output"
        info = json.loads(line)
        assert set(info) >= {"salesforce", "hubspot", "zendesk", "usage_db", "control"}
        assert info["salesforce"]["instance_url"].startswith("https://127.0.0.1:")
        assert Path(info["salesforce"]["ca_bundle"]).exists()
        assert info["hubspot"]["host"].startswith("http://127.0.0.1:")
        assert info["usage_db"].startswith("sqlite:///")

        config = load_config(config_path)
        assert config.crm.system == "hubspot"
        assert config_path.read_text().count(info["hubspot"]["access_token"]) == 0, (
            "token written into the config"
        )
        assert config.hubspot is not None
        token = resolve(config.hubspot.access_token, context="hubspot.access_token", base_dir=config.base_dir)
        assert token.reveal() == info["hubspot"]["access_token"]

        response = requests.get(
            f"{info['hubspot']['host']}/crm/v3/objects/companies",
            headers={"Authorization": f"Bearer {token.reveal()}"},
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["results"]
        stats = requests.get(info["control"] + "stats", timeout=10).json()
        assert stats["hubspot"]["read"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        finally:
            if process.stdout:
                process.stdout.close()
            if process.stderr:
                process.stderr.close()
    assert process.returncode == 0
