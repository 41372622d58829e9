"""Data and config builders shared by the Zendesk connector tests (helpers, not fixtures)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from healthsync.config import Config, load_config
from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import (
    Archetype,
    Customer,
    Dataset,
    SupportTicket,
    SupportUser,
    SurveyRating,
    ZendeskLink,
)
from healthsync.sandbox.zendesk import ZendeskApp

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""The hand-made datasets' "now"; their sandboxes start their clocks there."""


def customers(count: int) -> list[Customer]:
    """`count` customers, each with a Zendesk organization linked by external id."""
    return [
        Customer(
            index=i,
            key=f"C{i:06d}",
            name=f"Customer {i}",
            domain=f"c{i}.example",
            owner=0,
            industry="Software",
            segment="SMB",
            archetype=Archetype.HEALTHY,
            arr=1000.0,
            seats=10,
            contract_start=date(2026, 1, 1),
            contract_end=date(2027, 1, 1),
            created_at=NOW - timedelta(days=400),
            modified_at=NOW - timedelta(days=10, minutes=i),
            zendesk_link=ZendeskLink.EXTERNAL_ID if i % 5 else ZendeskLink.DOMAIN,
            zendesk_name=f"Customer {i}",
        )
        for i in range(count)
    ]


def dataset(
    workdir: Path, *, orgs: int = 250, tickets: int = 0, ratings: int = 0, deleted_every: int = 0
) -> Dataset:
    """`orgs` organizations (one end user each), `tickets` tickets spread over them, `ratings` ratings.

    Ticket i belongs to organization (i - 1) % orgs and has priority low/normal/high/urgent by i % 4;
    every `deleted_every`-th ticket is deleted. Rating i is on ticket i, good unless i % 3 == 0.
    """
    base = customers(orgs)
    users = [SupportUser(10_000 + c.index, c.index, f"User {c.index}", f"u{c.index}@c.example") for c in base]
    users.append(SupportUser(9_000, None, "Agent", "agent@vendor.example", role="agent"))
    made = [
        SupportTicket(
            i,
            (i - 1) % orgs,
            10_000 + (i - 1) % orgs,
            f"Ticket {i}",
            ["low", "normal", "high", "urgent"][i % 4],
            ["open", "pending", "solved"][i % 3],
            "question",
            NOW - timedelta(days=30),
            NOW - timedelta(days=5) + timedelta(seconds=i),
            deleted=bool(deleted_every) and i % deleted_every == 0,
        )
        for i in range(1, tickets + 1)
    ]
    rated = [
        SurveyRating(
            i,
            (i - 1) % orgs,
            i,
            10_000 + (i - 1) % orgs,
            "good" if i % 3 else "bad",
            NOW - timedelta(days=4, hours=i),
            NOW - timedelta(days=4, hours=i),
            "thanks" if i % 2 else "",
        )
        for i in range(1, ratings + 1)
    ]
    return Dataset(
        seed=0,
        now=NOW,
        owners=[],
        customers=base,
        support_users=users,
        tickets=made,
        ratings=rated,
        usage_db=workdir / "usage.db",
    )


def zendesk_sandbox(data: Dataset, **kw: Any) -> Sandbox:
    """A started sandbox serving only Zendesk over `data`, its clock at the dataset's "now"."""
    return Sandbox(dataset=data, apps=[ZendeskApp], generate=False, start=data.now, **kw).start()


def _toml(value: str) -> str:
    return json.dumps(value)


def zendesk_config(
    sandbox: Sandbox, folder: Path, *, oauth: bool = False, token: str | None = None, **zendesk: Any
) -> Config:
    """A real config whose [zendesk] section points at `sandbox` (token or OAuth, from secret files).

    Args:
        sandbox: a sandbox serving Zendesk.
        folder: where the config and its secret files go.
        oauth: sign in with the OAuth token instead of email + API token.
        token: a different secret to store (a wrong one, for auth failures).
        **zendesk: more `[zendesk]` keys (e.g. `incremental_per_minute=30`).
    """
    creds = sandbox.info()["zendesk"]
    folder.mkdir(parents=True, exist_ok=True)
    secret = folder / "zendesk-secret"
    secret.write_text((token or creds["oauth_token" if oauth else "token"]) + "\n", encoding="utf-8")
    secret.chmod(0o600)
    crm_secret = folder / "hubspot-secret"
    crm_secret.write_text("unused\n", encoding="utf-8")
    crm_secret.chmod(0o600)
    lines = [
        "[crm]",
        'system = "hubspot"',
        "[hubspot]",
        f"access_token = {{ file = {_toml(str(crm_secret))} }}",
        "[zendesk]",
        f"url = {_toml(creds['url'])}",
    ]
    if oauth:
        lines.append(f"oauth_token = {{ file = {_toml(str(secret))} }}")
    else:
        lines += [f"email = {_toml(creds['email'])}", f"token = {{ file = {_toml(str(secret))} }}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in zendesk.items()]
    path = folder / "healthsync.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


def endpoint_calls(sandbox: Sandbox, endpoint: str) -> int:
    """Requests the sandbox served for `GET /api/v2/<endpoint>` (zenpy adds `.json`)."""
    served = sandbox.stats.snapshot().get("zendesk", {}).get("by_endpoint", {})
    path = f"GET /api/v2/{endpoint}"
    return int(served.get(path, 0) + served.get(path + ".json", 0))
