"""What end-to-end tests need: a sandbox config, the CLI, and the CRM's state read back over HTTP.

The CRM state is read through the sandbox's `/_sandbox/state` endpoints, as a person inspecting the
CRM would, never through healthsync's own code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner, Result
from hubspot import HubSpot
from simple_salesforce.api import Salesforce

from healthsync.cli import cli
from healthsync.sandbox import Sandbox
from healthsync.sandbox.serve import write_config

OBJECTS = {
    "hubspot": {"account": "companies", "task": "tasks", "deal": "deals"},
    "salesforce": {"account": "Account", "task": "Task", "deal": "Opportunity"},
}
OUTPUT_FIELDS = {
    "hubspot": {
        "score": "healthsync_score",
        "band": "healthsync_band",
        "trend": "healthsync_trend",
        "reasons": "healthsync_reasons",
        "stage": "healthsync_renewal_stage",
        "days": "healthsync_days_to_renewal",
        "key": "customer_key",
        "end": "contract_end_date",
        "arr": "arr",
    },
    "salesforce": {
        "score": "Health_Score__c",
        "band": "Health_Band__c",
        "trend": "Health_Trend__c",
        "reasons": "Health_Reasons__c",
        "stage": "Renewal_Stage__c",
        "days": "Days_To_Renewal__c",
        "key": "Customer_Key__c",
        "end": "Contract_End__c",
        "arr": "ARR__c",
    },
}


def config_for(box: Sandbox, folder: Path, crm: str) -> Path:
    """A healthsync config for the sandbox with `crm` as the system of record."""
    return write_config(box, folder / "healthsync.toml", crm=crm)  # type: ignore[arg-type]


def set_config_key(config: Path, section: str, key: str, value: str) -> None:
    """Set `key = value` (`value` a TOML literal) in `[section]` of `config`: the key's line, else a new one."""
    lines = config.read_text(encoding="utf-8").splitlines()
    header = lines.index(f"[{section}]")
    end = next((i for i in range(header + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    for i in range(header + 1, end):
        if lines[i].partition("=")[0].strip() == key:
            lines[i] = f"{key} = {value}"
            break
    else:
        lines.insert(header + 1, f"{key} = {value}")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def use_mapping(config: Path, text: str, name: str = "revops-mapping.toml") -> Path:
    """Write a user mapping file `name` beside `config` and point `[crm] mapping` at it (a relative path,
    as RevOps would write it); returns the file's absolute path."""
    path = config.parent / name
    path.write_text(text, encoding="utf-8")
    set_config_key(config, "crm", "mapping", json.dumps(name))
    return path.resolve()


def cli_run(*args: str) -> Result:
    """`healthsync ARGS...` in-process; a traceback fails the test instead of becoming an exit code."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def control(box: Sandbox, path: str, body: dict[str, Any]) -> Any:
    """`POST /_sandbox/<path>` with a JSON body (scopes, permissions, ...); returns the answer's JSON."""
    answer = requests.post(f"{box.info()['control']}{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def hubspot_client(box: Sandbox) -> HubSpot:
    """The unmodified hubspot-api-client, signed in to the sandbox's portal."""
    info = box.info()["hubspot"]
    return HubSpot(access_token=info["access_token"], host=info["host"])


@contextmanager
def salesforce_client(box: Sandbox) -> Iterator[Salesforce]:
    """The unmodified simple-salesforce, signed in to the sandbox's org over HTTPS (its CA only)."""
    info = box.info()["salesforce"]
    with requests.Session() as session:
        session.verify = info["ca_bundle"]
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify` (psf/requests#3829)
        yield Salesforce(
            instance_url=info["instance_url"],
            session_id=info["access_token"],
            version=info["api_version"],
            session=session,
        )


def cli_sync(config: Path, as_of: date, *extra: str) -> dict[str, Any]:
    """`healthsync sync --json --as-of DAY` in-process; returns the printed object."""
    result = CliRunner().invoke(
        cli, ["sync", "--json", "--config", str(config), "--as-of", as_of.isoformat(), *extra]
    )
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def sync_process(config: Path, as_of: date) -> subprocess.Popen[str]:
    """`healthsync sync --json` as a separate process (for tests that kill it)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "healthsync",
            "sync",
            "--json",
            "--config",
            str(config),
            "--as-of",
            as_of.isoformat(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@dataclass
class CrmView:
    """The CRM's records as the sandbox holds them, in one shape for both CRMs."""

    box: Sandbox
    crm: str

    def _state(self, kind: str) -> list[dict[str, Any]]:
        control = self.box.info()["control"]
        answer = requests.get(f"{control}state/{self.crm}/{OBJECTS[self.crm][kind]}", timeout=30)
        answer.raise_for_status()
        body = answer.json()
        return list(body.get("records", body) if isinstance(body, dict) else body)

    def _fields(self, record: dict[str, Any]) -> dict[str, Any]:
        return dict(record["properties"]) if self.crm == "hubspot" else record

    def _id(self, record: dict[str, Any]) -> str:
        return str(record["id"] if self.crm == "hubspot" else record["Id"])

    def _live(self, record: dict[str, Any]) -> bool:
        return not (record.get("archived") if self.crm == "hubspot" else record.get("IsDeleted"))

    def accounts(self) -> dict[str, dict[str, Any]]:
        """Live accounts by CRM id: our output fields plus customer key, contract end and ARR."""
        names = OUTPUT_FIELDS[self.crm]
        out = {}
        for record in self._state("account"):
            if not self._live(record):
                continue
            fields = self._fields(record)
            out[self._id(record)] = {name: fields.get(field) for name, field in names.items()}
        return out

    def tasks(self) -> list[dict[str, Any]]:
        """Tasks healthsync made (those carrying a key): key, account, owner, subject."""
        out = []
        for record in self._state("task"):
            fields = self._fields(record)
            if self.crm == "hubspot":
                key = fields.get("healthsync_task_key")
                links = record.get("associations", {}).get("companies", {}).get("results", [])
                account = links[0]["id"] if links else None
                owner = fields.get("hubspot_owner_id")
            else:
                key = fields.get("Healthsync_Key__c")
                account, owner = fields.get("WhatId"), fields.get("OwnerId")
            if key and self._live(record):
                out.append({"key": key, "account": account, "owner": owner, "id": self._id(record)})
        return out

    def deals(self) -> list[dict[str, Any]]:
        """Renewal deals healthsync made: key, stage label, amount, close date, closed or not."""
        stages: dict[str, str] = {}
        if self.crm == "hubspot":
            control = self.box.info()["control"]
            pipelines = requests.get(f"{control}state/hubspot/pipelines", timeout=30).json()
            for pipeline in pipelines.get("records", pipelines) if isinstance(pipelines, dict) else pipelines:
                stages.update({s["id"]: s["label"] for s in pipeline["stages"]})
        out = []
        for record in self._state("deal"):
            fields = self._fields(record)
            if self.crm == "hubspot":
                key, stage = fields.get("healthsync_renewal_key"), stages.get(fields.get("dealstage"))
                close = str(fields.get("closedate") or "")[:10]
                amount = float(fields["amount"]) if fields.get("amount") else None
            else:
                key, stage = fields.get("Healthsync_Renewal_Key__c"), fields.get("StageName")
                close, amount = fields.get("CloseDate"), fields.get("Amount")
            if key and self._live(record):
                out.append(
                    {"key": key, "stage": stage, "close": close, "amount": amount, "id": self._id(record)}
                )
        return out

    def writes(self) -> int:
        """Write requests the CRM served since the last stats reset."""
        return int(self.box.stats.snapshot().get(self.crm, {}).get("write", 0))
