"""`healthsync sandbox serve`: the sandbox as a standalone process, and a config that points at it.

The process prints one JSON line when it is ready (how each SDK reaches it), then serves until
SIGINT or SIGTERM. `--write-config` writes a healthsync config for it; the sandbox's tokens go in
files beside the config (mode 0600) referenced with `{ file = ... }`, so the config holds no secret
and works without a keyring or exported variables.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any, Literal, TextIO

from healthsync.sandbox.runtime import Sandbox

__all__ = ["serve", "write_config"]


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def _secret_file(folder: Path, name: str, value: str) -> Path:
    path = folder / name
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def write_config(sandbox: Sandbox, path: Path, *, crm: Literal["hubspot", "salesforce"] = "hubspot") -> Path:
    """Write a healthsync config that syncs against `sandbox`, with `crm` as the system of record.

    Both CRM sections are written so switching `crm.system` is a one-word edit. The state database
    sits next to the config and is named after it.
    """
    info = sandbox.info()
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    secrets = path.parent / f"{path.stem}-secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    hubspot, salesforce, zendesk = info["hubspot"], info["salesforce"], info["zendesk"]
    files = {
        "hubspot": _secret_file(secrets, "hubspot_token", hubspot["access_token"]),
        "salesforce": _secret_file(secrets, "salesforce_token", salesforce["access_token"]),
        "zendesk": _secret_file(secrets, "zendesk_token", zendesk["token"]),
    }

    def ref(name: str) -> str:
        return f"{{ file = {_toml_str(str(files[name]))} }}"

    lines = [
        "# Written by `healthsync sandbox serve --write-config`: a config for the local sandbox CRMs.",
        "# The tokens are the sandbox's, in the files referenced below; nothing here is a real credential.",
        "[healthsync]",
        'name = "sandbox"',
        "",
        "[state]",
        f"url = {_toml_str('sqlite:///' + str(path.with_suffix('.db')))}",
        "",
        "[crm]",
        f"system = {_toml_str(crm)}",
        "",
        "[hubspot]",
        f"host = {_toml_str(hubspot['host'])}",
        f"access_token = {ref('hubspot')}",
        'tier = "starter"',
        "",
        "[salesforce]",
        f"instance_url = {_toml_str(salesforce['instance_url'])}",
        f"api_version = {_toml_str(salesforce.get('api_version', '62.0'))}",
        'auth = "token"',
        f"access_token = {ref('salesforce')}",
        f"ca_bundle = {_toml_str(salesforce['ca_bundle'])}",
        "",
        "[zendesk]",
        f"url = {_toml_str(zendesk['url'])}",
        f"email = {_toml_str(zendesk['email'])}",
        f"token = {ref('zendesk')}",
        "",
    ]
    if info.get("usage_db"):
        lines += [
            "[usage]",
            'kind = "sql"',
            f"url = {_toml_str(info['usage_db'])}",
            'account_key = "customer_key"',
            "[usage.daily]",
            'table = "usage_daily"',
            'columns = { account = "account_key" }',
            "[usage.payments]",
            'table = "invoices"',
            'columns = { account = "account_key" }',
            "[usage.nps]",
            'table = "nps_responses"',
            'columns = { account = "account_key", at = "responded_at" }',
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def serve(
    *,
    out: TextIO,
    write_config_to: Path | None = None,
    stop: threading.Event | None = None,
    **options: Any,
) -> None:
    """Run a sandbox until SIGINT/SIGTERM (or `stop` is set), printing the ready line to `out`.

    Args:
        out: where the one-line JSON description goes (stdout for the CLI).
        write_config_to: also write a healthsync config for this sandbox there.
        stop: an event that ends serving (tests); signals set it too when called from the main thread.
        **options: `Sandbox` keyword arguments (accounts, seed, host, port, rate_limits, latency_ms...).
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    with Sandbox(**options) as sandbox:
        if write_config_to is not None:
            write_config(sandbox, write_config_to)
        out.write(json.dumps(sandbox.info()) + "\n")
        out.flush()
        while not stop.wait(0.5):
            pass
    if os.environ.get("HEALTHSYNC_SANDBOX_DEBUG"):
        out.write(json.dumps({"stopped": True, "stats": sandbox.stats.snapshot()}) + "\n")
