"""`healthsync auth set` then `auth test` against the sandbox, for HubSpot, Salesforce and Zendesk (issue #8).

The config references every credential as `{ keyring = ... }` (Salesforce's under a service of its
own, `acme/...`), the sandbox's tokens are stored with `auth set` into a real keyring backend
(keyrings.alt's plaintext file in the test's folder), and `auth test` must say who each one signs
in as, as the sandbox itself answers it, or refuse a wrong one with exit 1, naming the credential
and the fix. No output ever contains a token, right or wrong.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
import requests
from click.testing import CliRunner, Result
from e2e_support import control
from keyrings.alt.file import PlaintextKeyring

from healthsync.cli import cli
from healthsync.sandbox import Sandbox

VENDORS = ["hubspot", "salesforce", "zendesk"]
ENTRIES = {"hubspot": ("healthsync", "hubspot"), "salesforce": ("acme", "salesforce-session"),
           "zendesk": ("healthsync", "zendesk")}  # fmt: skip
KEYS = {
    "hubspot": "hubspot.access_token",
    "salesforce": "salesforce.access_token",
    "zendesk": "zendesk.token",
}
TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(accounts=6, seed=17, workdir=tmp_path_factory.mktemp("box")) as sandbox:
        yield sandbox


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """A real keyring backend in the test's folder, installed for this test only."""
    previous = keyring.get_keyring()
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def config(box: Sandbox, tmp_path: Path) -> Path:
    """A sandbox config whose three credentials all live in the keyring."""
    info = box.info()
    hubspot, salesforce, zendesk = info["hubspot"], info["salesforce"], info["zendesk"]
    path = tmp_path / "healthsync.toml"
    path.write_text(
        f"""[crm]
system = "hubspot"

[hubspot]
host = {json.dumps(hubspot["host"])}
access_token = {{ keyring = "hubspot" }}

[salesforce]
instance_url = {json.dumps(salesforce["instance_url"])}
api_version = {json.dumps(salesforce["api_version"])}
auth = "token"
access_token = {{ keyring = "acme/salesforce-session" }}
ca_bundle = {json.dumps(salesforce["ca_bundle"])}

[zendesk]
url = {json.dumps(zendesk["url"])}
email = {json.dumps(zendesk["email"])}
token = {{ keyring = "zendesk" }}
""",
        encoding="utf-8",
    )
    return path


def token_of(box: Sandbox, vendor: str) -> str:
    info = box.info()[vendor]
    return str(info["access_token"] if vendor != "zendesk" else info["token"])


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def assert_never_shown(results: list[Result], *values: str) -> None:
    for result in results:
        for value in values:
            assert value not in result.stdout, "a token was printed on stdout"
            assert value not in result.stderr, "a token was printed on stderr"


def writes(box: Sandbox, vendor: str) -> int:
    return int(box.stats.snapshot().get(vendor, {}).get("write", 0))


def set_token(config: Path, vendor: str, token: str) -> Result:
    result = run("auth", "set", vendor, "--config", str(config), stdin=token + "\n")
    assert result.exit_code == 0, result.output
    return result


# --- who the sandbox says each credential is ---------------------------------------------------------


def expected_identity(box: Sandbox, vendor: str, token: str) -> tuple[str, dict[str, str], list[str]]:
    """(who, details, notes) as the sandbox itself answers for `token`, asked directly over HTTP."""
    info = box.info()[vendor]
    if vendor == "hubspot":
        answer = requests.post(f"{info['host']}{TOKEN_INFO}", json={"tokenKey": token}, timeout=30).json()
        details = {
            "hub id": str(answer["hubId"]),
            "app id": str(answer["appId"]),
            "user id": str(answer["userId"]),
            "scopes": ", ".join(sorted(answer["scopes"])),
        }
        return f"hub {answer['hubId']}, private app {answer['appId']}", details, []
    if vendor == "zendesk":
        me = requests.get(
            f"{info['url']}/api/v2/users/me.json", auth=(f"{info['email']}/token", token), timeout=30
        ).json()["user"]
        details = {"name": me["name"], "email": me["email"], "role": me["role"], "user id": str(me["id"]),
                   "account": info["url"]}  # fmt: skip
        return f"{me['name']} <{me['email']}>", details, []
    # The sandbox serves no identity endpoint (/services/oauth2/userinfo answers 404): the session is
    # proven by the limits resource, and the user is said to be unknown.
    instance = info["instance_url"]
    return (
        f"a session on {instance} (user not reported)",
        {"instance": instance},
        [
            (
                "Salesforce did not say which user this is (userinfo answered HTTP 404); the session works, "
                "and `healthsync check` shows what it may read and write"
            )
        ],
    )


@pytest.mark.parametrize("vendor", VENDORS)
def test_auth_test_reports_who_the_stored_credential_signs_in_as(
    box: Sandbox, file_keyring: PlaintextKeyring, config: Path, vendor: str
) -> None:
    token = token_of(box, vendor)
    stored = set_token(config, vendor, token)
    service, name = ENTRIES[vendor]
    assert stored.stdout.splitlines()[0] == f"stored {KEYS[vendor]} (keyring {service}/{name})"
    assert file_keyring.get_password(service, name) == token

    box.stats.reset()
    text = run("auth", "test", vendor, "--config", str(config))
    as_json = run("auth", "test", vendor, "--config", str(config), "--json")
    assert text.exit_code == 0, text.output
    assert as_json.exit_code == 0, as_json.output
    assert writes(box, vendor) == 0, "auth test writes nothing"

    who, details, notes = expected_identity(box, vendor, token)
    report = json.loads(as_json.stdout)
    assert report["vendor"] == vendor
    assert report["ok"] is True
    assert report["who"] == who
    assert report["credentials"] == [{"key": KEYS[vendor], "source": f"keyring {service}/{name}"}]
    assert {k: v for k, v in report["details"].items() if k in details} == details
    assert report["notes"] == notes
    if vendor == "salesforce":
        used, _, allowed = report["details"]["API requests, last 24 h"].partition(" of ")
        assert int(used.replace(",", "")) >= 1
        assert int(allowed.replace(",", "")) > 0

    lines = text.stdout.splitlines()
    assert lines[0] == f"✓ {vendor}: signed in as {who}"
    assert lines[1].split() == [KEYS[vendor], "keyring", f"{service}/{name}"]
    for label, value in details.items():
        assert any(line.startswith(f"  {label} ") and line.endswith(f" {value}") for line in lines), label
    assert [line.removeprefix("  note: ") for line in lines if line.startswith("  note: ")] == notes
    assert_never_shown([stored, text, as_json], token)


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_wrong_token_is_refused_with_exit_1_naming_the_credential_and_the_fix(
    box: Sandbox, file_keyring: PlaintextKeyring, config: Path, vendor: str
) -> None:
    wrong = f"wrong-{secrets.token_hex(16)}"
    stored = set_token(config, vendor, wrong)
    text = run("auth", "test", vendor, "--config", str(config))
    as_json = run("auth", "test", vendor, "--config", str(config), "--json")
    service, name = ENTRIES[vendor]

    assert text.exit_code == 1
    assert as_json.exit_code == 1
    assert text.stdout == ""
    first, fix = text.stderr.splitlines()
    assert first.startswith(f"✗ {vendor}: [{vendor} ")
    assert "HTTP 401]" in first
    assert f"{KEYS[vendor]} (from keyring {service}/{name}) was not accepted: " in first
    assert fix.startswith("  fix: ")
    assert len(fix) > 20
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert report["vendor"] == vendor
    assert f"{KEYS[vendor]} (from keyring {service}/{name})" in report["error"]
    assert report["fix"] == fix.removeprefix("  fix: ")
    assert_never_shown([stored, text, as_json], wrong, token_of(box, vendor))


def test_a_private_app_without_the_write_scopes_signs_in_and_says_what_a_sync_lacks(
    box: Sandbox, file_keyring: PlaintextKeyring, config: Path
) -> None:
    readonly = [scope for scope in control(box, "scopes/hubspot", {"scopes": None})["scopes"]
                if not scope.endswith(".write")]  # fmt: skip
    token = control(box, "scopes/hubspot/tokens", {"scopes": readonly})["access_token"]
    set_token(config, "hubspot", token)
    result = run("auth", "test", "hubspot", "--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["details"]["scopes"] == ", ".join(sorted(readonly))
    assert report["notes"] == [
        (
            "a sync also needs: write companies (crm.objects.companies.write); write deals "
            "(crm.objects.deals.write); create tasks (crm.objects.contacts.write or crm.objects.tasks.write) "
            "(add the scopes to the private app)"
        )
    ]
    assert_never_shown([result], token)


def test_after_delete_auth_test_says_how_to_store_it_again_and_that_works(
    box: Sandbox, file_keyring: PlaintextKeyring, config: Path
) -> None:
    token = token_of(box, "salesforce")
    set_token(config, "salesforce", token)
    deleted = run("auth", "delete", "salesforce", "--config", str(config))
    assert deleted.stdout.strip() == "deleted salesforce.access_token (keyring acme/salesforce-session)"
    missing = run("auth", "test", "salesforce", "--config", str(config))
    assert missing.exit_code == 2
    assert "salesforce.access_token: secret not found" in missing.stderr
    assert "run `healthsync auth set acme/salesforce-session`" in missing.stderr
    # The suggested command, followed to the letter, stores it where the config reads it.
    again = run("auth", "set", "acme/salesforce-session", "--config", str(config), stdin=token)
    assert again.stdout.splitlines() == [
        "stored salesforce.access_token (keyring acme/salesforce-session)",
        f"check it with: healthsync auth test salesforce --config {config}",
    ]
    assert run("auth", "test", "salesforce", "--config", str(config)).exit_code == 0
    assert_never_shown([deleted, missing, again], token)
