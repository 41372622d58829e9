"""Real healthsync configs written for a running sandbox, each secret in a file of its own (0600).

Connectors built from these go through `load_config`, the secret resolver and the registry or
`from_config`, exactly as a run builds them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from healthsync.config import Config, load_config
from healthsync.sandbox import Sandbox
from healthsync.sandbox.serve import write_config

__all__ = ["crm_config", "hubspot_config", "secret_file", "zendesk_config"]


def secret_file(folder: Path, name: str, value: str) -> Path:
    """`value` in `folder/name`, readable by its owner only; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _file_ref(path: Path) -> str:
    return f"{{ file = {json.dumps(str(path))} }}"


def _write(folder: Path, lines: list[str], extra: dict[str, Any]) -> Config:
    lines = [*lines, *(f"{key} = {json.dumps(value)}" for key, value in extra.items())]
    path = folder / "healthsync.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)


def crm_config(sandbox: Sandbox, folder: Path, system: Literal["hubspot", "salesforce"]) -> Config:
    """The config `healthsync sandbox serve --write-config` writes (all three vendors), `system` as CRM.

    Its secrets are in `folder/healthsync-secrets/{hubspot,salesforce,zendesk}_token`.
    """
    return load_config(write_config(sandbox, folder / "healthsync.toml", crm=system))


def hubspot_config(sandbox: Sandbox, folder: Path, *, token: str | None = None, **hubspot: Any) -> Config:
    """A config whose [hubspot] section points at `sandbox`, the token in a secret file.

    Args:
        sandbox: a sandbox serving HubSpot.
        folder: where the config and its secret file go.
        token: a different token to store (a wrong one, for auth failures).
        **hubspot: more `[hubspot]` keys (e.g. `daily_limit=3`).
    """
    creds = sandbox.info()["hubspot"]
    secret = secret_file(folder, "hubspot-secret", token or creds["access_token"])
    lines = [
        "[crm]",
        'system = "hubspot"',
        "[hubspot]",
        f"host = {json.dumps(creds['host'])}",
        f"access_token = {_file_ref(secret)}",
        'tier = "starter"',
    ]
    return _write(folder, lines, hubspot)


def zendesk_config(
    sandbox: Sandbox, folder: Path, *, oauth: bool = False, token: str | None = None, **zendesk: Any
) -> Config:
    """A config whose [zendesk] section points at `sandbox` (API token or OAuth, from a secret file).

    Args:
        sandbox: a sandbox serving Zendesk.
        folder: where the config and its secret files go.
        oauth: sign in with the OAuth token instead of email + API token.
        token: a different secret to store (a wrong one, for auth failures).
        **zendesk: more `[zendesk]` keys (e.g. `incremental_per_minute=30`).
    """
    creds = sandbox.info()["zendesk"]
    secret = secret_file(folder, "zendesk-secret", token or creds["oauth_token" if oauth else "token"])
    crm_secret = secret_file(folder, "hubspot-secret", "unused")  # a config names a CRM
    lines = [
        "[crm]",
        'system = "hubspot"',
        "[hubspot]",
        f"access_token = {_file_ref(crm_secret)}",
        "[zendesk]",
        f"url = {json.dumps(creds['url'])}",
    ]
    if oauth:
        lines.append(f"oauth_token = {_file_ref(secret)}")
    else:
        lines += [f"email = {json.dumps(creds['email'])}", f"token = {_file_ref(secret)}"]
    return _write(folder, lines, zendesk)
