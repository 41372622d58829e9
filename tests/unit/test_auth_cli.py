"""`healthsync auth set|delete` (and `auth test`'s refusals over a fake transport): issue #8, item 2.

Done when: keyring tests use a real keyring backend, not a mock. Every test here runs against
keyrings.alt's `PlaintextKeyring` (a file in the test's temporary folder, installed with
`keyring.set_keyring`) or keyring's own `fail` backend for a headless machine; the prompt test runs
the command in a child process on a real pseudo-terminal. No output may contain a secret.
`auth test` against the sandbox, one test per vendor, is in `tests/e2e/test_auth_e2e.py`.
"""

from __future__ import annotations

import os
import pty
import secrets
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
import responses
from click.testing import CliRunner, Result
from keyring.backend import KeyringBackend
from keyrings.alt.file import PlaintextKeyring

from healthsync.auth import secret_keys, target_for
from healthsync.cli import cli

SF_INSTANCE = "https://acme.my.salesforce.com"


def _secret(prefix: str = "tok") -> str:
    """A fresh value that cannot occur in any output by accident."""
    return f"{prefix}-{secrets.token_hex(16)}"


def _file_keyring(path: Path) -> PlaintextKeyring:
    backend = PlaintextKeyring()
    backend.file_path = str(path)  # an instance-level override keyrings.alt documents
    return backend


@pytest.fixture
def file_keyring(tmp_path: Path) -> Iterator[PlaintextKeyring]:
    """A real keyring backend (keyrings.alt's plaintext file) in the test's folder; restored after."""
    previous = keyring.get_keyring()
    backend = _file_keyring(tmp_path / "keyring" / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[KeyringBackend]:
    """A machine without a keyring backend (what keyring picks on a headless server)."""
    previous = keyring.get_keyring()
    backend = keyring.backends.fail.Keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _no_config_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder (no ./healthsync.toml) with none of the recommended variables set."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in ("HUBSPOT_TOKEN", "SALESFORCE_TOKEN", "SALESFORCE_PASSWORD", "SALESFORCE_SECURITY_TOKEN",
                 "ZENDESK_TOKEN", "ZENDESK_OAUTH_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def run(*args: str, stdin: str | None = None) -> Result:
    """`healthsync ARGS` in-process with `stdin` piped in; stderr kept apart from stdout."""
    return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)


def assert_never_shown(result: Result, *values: str) -> None:
    for value in values:
        assert value not in result.stdout, "a secret was printed on stdout"
        assert value not in result.stderr, "a secret was printed on stderr"


def write_config(folder: Path, body: str) -> Path:
    """A config of `body`'s sections; the CRM is Salesforce when `body` has that section, else HubSpot."""
    crm = "salesforce" if "[salesforce]" in body else "hubspot"
    if crm == "hubspot" and "[hubspot]" not in body:
        body += '[hubspot]\naccess_token = { env = "HS_NOT_USED_HERE" }\n'
    path = folder / "healthsync.toml"
    path.write_text(f'[crm]\nsystem = "{crm}"\n{body}', encoding="utf-8")
    return path


# --- names ---------------------------------------------------------------------------------------

RECOMMENDED = [
    ("hubspot", ("healthsync", "hubspot"), "hubspot.access_token"),
    ("salesforce", ("healthsync", "salesforce"), "salesforce.access_token"),
    ("zendesk", ("healthsync", "zendesk"), "zendesk.token"),
    ("hubspot.access_token", ("healthsync", "hubspot"), "hubspot.access_token"),
    ("salesforce.access_token", ("healthsync", "salesforce"), "salesforce.access_token"),
    ("salesforce.password", ("healthsync", "salesforce-password"), "salesforce.password"),
    ("salesforce.security_token", ("healthsync", "salesforce-security-token"), "salesforce.security_token"),
    (
        "salesforce.consumer_secret",
        ("healthsync", "salesforce-consumer-secret"),
        "salesforce.consumer_secret",
    ),
    ("salesforce.private_key", ("healthsync", "salesforce-private-key"), "salesforce.private_key"),
    ("zendesk.oauth_token", ("healthsync", "zendesk-oauth"), "zendesk.oauth_token"),
    ("state.password", ("healthsync", "state-db"), "state.password"),
    ("alerts.email.password", ("healthsync", "smtp"), "alerts.email.password"),
    ("salesforce-password", ("healthsync", "salesforce-password"), "salesforce.password"),
    ("healthsync/zendesk-oauth", ("healthsync", "zendesk-oauth"), "zendesk.oauth_token"),
    ("acme/hubspot", ("acme", "hubspot"), None),
    ("my-api-key", ("healthsync", "my-api-key"), None),
]


@pytest.mark.parametrize(("name", "address", "key"), RECOMMENDED, ids=[r[0] for r in RECOMMENDED])
def test_without_a_config_names_map_to_the_recommended_keyring_entries(
    file_keyring: PlaintextKeyring, name: str, address: tuple[str, str], key: str | None
) -> None:
    value = _secret()
    result = run("auth", "set", name, stdin=value + "\n")
    assert result.exit_code == 0, result.output
    assert file_keyring.get_password(*address) == value
    label = f"{key} (keyring {address[0]}/{address[1]})" if key else f"keyring {address[0]}/{address[1]}"
    assert result.stdout.splitlines()[0] == f"stored {label}"
    assert_never_shown(result, value)


def test_every_secret_key_of_the_config_is_accepted() -> None:
    assert set(secret_keys()) == {
        "hubspot.access_token", "salesforce.access_token", "salesforce.password", "salesforce.security_token",
        "salesforce.consumer_secret", "salesforce.private_key", "zendesk.token", "zendesk.oauth_token",
        "state.password", "usage.password", "alerts.webhook_url", "alerts.email.password",
    }  # fmt: skip
    for key in secret_keys():
        assert target_for(key).key == key


SALESFORCE_AUTH = {
    "token": ('instance_url = "https://acme.my.salesforce.com"\naccess_token = { keyring = "acme/sf" }\n',
              "salesforce.access_token", "acme/sf", ()),
    "password": (('username = "int@acme.example"\npassword = { keyring = "acme/sf-password" }\n'
                  'security_token = { keyring = "acme/sf-security" }\n'),
                 "salesforce.password", "acme/sf-password", ("salesforce.security_token",)),
    "client_credentials": (('instance_url = "https://acme.my.salesforce.com"\nconsumer_key = "3MVG9"\n'
                            'consumer_secret = { keyring = "acme/sf-client" }\n'),
                           "salesforce.consumer_secret", "acme/sf-client", ()),
    "jwt": ('username = "int@acme.example"\nconsumer_key = "3MVG9"\nprivate_key = { keyring = "acme/sf-jwt" }\n',
            "salesforce.private_key", "acme/sf-jwt", ()),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SALESFORCE_AUTH))
def test_salesforce_is_the_secret_its_auth_kind_signs_in_with_where_the_config_points(
    file_keyring: PlaintextKeyring, tmp_path: Path, kind: str
) -> None:
    section, key, entry, also = SALESFORCE_AUTH[kind]
    config = write_config(tmp_path, f'[salesforce]\nauth = "{kind}"\n{section}')
    value = _secret()
    result = run("auth", "set", "salesforce", "--config", str(config), stdin=value)
    assert result.exit_code == 0, result.output
    assert file_keyring.get_password(*entry.split("/")) == value
    lines = result.stdout.splitlines()
    assert lines[0] == f"stored {key} (keyring {entry})"
    assert lines[1:] == (
        [f"still missing: {k} (healthsync auth set {k} --config {config})" for k in also]
        or [f"check it with: healthsync auth test salesforce --config {config}"]
    )
    assert result.stderr == ""
    assert_never_shown(result, value)


def test_password_auth_stores_both_secrets_then_points_to_auth_test(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    section = SALESFORCE_AUTH["password"][0]
    config = write_config(tmp_path, f'[salesforce]\nauth = "password"\n{section}')
    password, token = _secret("pw"), _secret("st")
    first = run("auth", "set", "salesforce.password", "--config", str(config), stdin=password)
    second = run("auth", "set", "salesforce.security_token", "--config", str(config), stdin=token)
    assert first.stdout.splitlines()[1] == (
        f"still missing: salesforce.security_token (healthsync auth set salesforce.security_token --config {config})"
    )
    assert second.stdout.splitlines() == [
        "stored salesforce.security_token (keyring acme/sf-security)",
        f"check it with: healthsync auth test salesforce --config {config}",
    ]
    assert file_keyring.get_password("acme", "sf-password") == password
    assert file_keyring.get_password("acme", "sf-security") == token
    assert_never_shown(first, password, token)
    assert_never_shown(second, password, token)


def test_zendesk_with_oauth_in_the_config_is_its_oauth_token(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, '[zendesk]\nsubdomain = "acme"\noauth_token = { keyring = "zendesk-oauth", env = "ZD" }\n'
    )
    value = _secret()
    result = run("auth", "set", "zendesk", "--config", str(config), stdin=value)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "stored zendesk.oauth_token (keyring healthsync/zendesk-oauth)"
    assert file_keyring.get_password("healthsync", "zendesk-oauth") == value


def test_a_key_the_config_reads_from_the_environment_is_stored_with_a_warning(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    config = write_config(tmp_path, '[hubspot]\naccess_token = { env = "HUBSPOT_TOKEN" }\n')
    value = _secret()
    result = run("auth", "set", "hubspot", "--config", str(config), stdin=value)
    assert result.exit_code == 0
    assert file_keyring.get_password("healthsync", "hubspot") == value
    assert result.stderr.strip() == (
        f"warning: hubspot.access_token in {config} is read from $HUBSPOT_TOKEN, not from the keyring: "
        'add keyring = "hubspot" to its reference to use this entry'
    )
    assert_never_shown(result, value)


def test_a_keyring_name_the_config_does_not_read_is_stored_with_a_warning(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    config = write_config(tmp_path, '[hubspot]\naccess_token = { keyring = "acme/hubspot" }\n')
    result = run("auth", "set", "hubspot-old", "--config", str(config), stdin=_secret())
    assert result.exit_code == 0
    assert result.stderr.strip() == f"warning: {config} reads no secret from the keyring entry hubspot-old"


def test_an_explicit_config_that_does_not_exist_is_an_error(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    value = _secret()
    result = run("auth", "set", "hubspot", "--config", str(tmp_path / "nope.toml"), stdin=value)
    assert result.exit_code == 2
    assert "configuration file not found" in result.stderr
    assert file_keyring.get_password("healthsync", "hubspot") is None
    assert_never_shown(result, value)


@pytest.mark.parametrize("name", ["/hubspot", "healthsync/", " hubspot"])
def test_a_malformed_keyring_name_is_a_usage_error(file_keyring: PlaintextKeyring, name: str) -> None:
    result = run("auth", "set", name, stdin=_secret())
    assert result.exit_code == 2
    assert "keyring name" in result.stderr
    assert "Traceback" not in result.output


# --- set: stdin and the prompt -------------------------------------------------------------------


def test_stdin_keeps_inner_newlines_and_drops_the_trailing_one(file_keyring: PlaintextKeyring) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\n" + secrets.token_hex(32) + "\n-----END PRIVATE KEY-----"
    result = run("auth", "set", "salesforce.private_key", "--stdin", stdin=pem + "\r\n")
    assert result.exit_code == 0, result.output
    assert file_keyring.get_password("healthsync", "salesforce-private-key") == pem
    assert_never_shown(result, pem, pem.splitlines()[1])


def test_setting_again_replaces_the_entry_and_says_so(file_keyring: PlaintextKeyring) -> None:
    first, second = _secret(), _secret()
    assert run("auth", "set", "zendesk", stdin=first).stdout.startswith("stored ")
    result = run("auth", "set", "zendesk", stdin=second)
    assert result.stdout.splitlines()[0] == "replaced zendesk.token (keyring healthsync/zendesk)"
    assert file_keyring.get_password("healthsync", "zendesk") == second
    assert_never_shown(result, first, second)


@pytest.mark.parametrize("piped", ["", "\n", "  \n"])
def test_empty_stdin_stores_nothing_and_exits_2(file_keyring: PlaintextKeyring, piped: str) -> None:
    result = run("auth", "set", "hubspot", stdin=piped)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: nothing to store: standard input was empty"
    assert file_keyring.get_password("healthsync", "hubspot") is None


def _on_a_terminal(
    args: list[str], env: dict[str, str], answer: str, timeout: float = 60.0
) -> tuple[int, str]:
    """Run `python -m healthsync ARGS` on a new pseudo-terminal (its controlling tty, as in a shell);
    type `answer` once the prompt shows; return the exit code and everything the terminal displayed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once, and never run on as a copy of pytest
        try:
            os.execve(sys.executable, [sys.executable, "-m", "healthsync", *args], env)  # noqa: S606
        finally:
            os._exit(127)
    shown = b""
    typed = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if not typed and b"(input hidden):" in shown:
                os.write(fd, answer.encode() + b"\r")
                typed = True
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


def test_on_a_terminal_it_prompts_without_echo(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON_KEYRING", "XDG_"))},
        # The same real backend, chosen the way an admin would on a machine without a desktop keyring.
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "XDG_DATA_HOME": str(data),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "TERM": "dumb",
    }
    value = _secret()
    code, shown = _on_a_terminal(["auth", "set", "hubspot"], env, value)
    assert code == 0, shown
    assert "hubspot.access_token (keyring healthsync/hubspot) (input hidden):" in shown
    assert "stored hubspot.access_token (keyring healthsync/hubspot)" in shown
    assert value not in shown, "the secret was echoed to the terminal"
    stored = _file_keyring(data / "python_keyring" / "keyring_pass.cfg")
    assert stored.get_password("healthsync", "hubspot") == value


# --- delete ----------------------------------------------------------------------------------------


def test_delete_removes_the_entry_and_a_second_delete_says_there_is_none(
    file_keyring: PlaintextKeyring,
) -> None:
    value = _secret()
    run("auth", "set", "salesforce.password", stdin=value)
    first = run("auth", "delete", "salesforce.password")
    assert first.exit_code == 0
    assert first.stdout.strip() == "deleted salesforce.password (keyring healthsync/salesforce-password)"
    assert file_keyring.get_password("healthsync", "salesforce-password") is None
    second = run("auth", "delete", "salesforce.password")
    assert second.exit_code == 0, "deleting a missing entry is not an error: scripts may run twice"
    assert second.stdout.strip() == (
        "no keyring entry healthsync/salesforce-password (salesforce.password) to delete; nothing changed"
    )
    assert_never_shown(first, value)


def test_delete_follows_the_config_reference(file_keyring: PlaintextKeyring, tmp_path: Path) -> None:
    config = write_config(
        tmp_path, '[hubspot]\naccess_token = { keyring = "acme/hs", env = "HUBSPOT_TOKEN" }\n'
    )
    file_keyring.set_password("acme", "hs", _secret())
    file_keyring.set_password("healthsync", "hubspot", kept := _secret())
    result = run("auth", "delete", "hubspot", "--config", str(config))
    assert result.stdout.strip() == "deleted hubspot.access_token (keyring acme/hs)"
    assert file_keyring.get_password("acme", "hs") is None
    assert file_keyring.get_password("healthsync", "hubspot") == kept


# --- a machine without a keyring ---------------------------------------------------------------------


@pytest.mark.parametrize("command", ["set", "delete"])
def test_without_a_keyring_backend_it_says_so_and_points_to_env_and_file(
    no_keyring: KeyringBackend, command: str
) -> None:
    value = _secret()
    result = run("auth", command, "salesforce.password", stdin=value + "\n")
    assert result.exit_code == 2
    assert result.stdout == "", "nothing was prompted or stored"
    message = result.stderr
    assert message.startswith(
        "error: no OS keyring is available on this machine (keyring found only "
        "keyring.backends.fail.Keyring), so salesforce.password (keyring healthsync/salesforce-password) "
        "cannot be stored or deleted there."
    )
    assert 'password = { env = "SALESFORCE_PASSWORD" } under [salesforce]' in message
    assert "SALESFORCE_PASSWORD set in the service's environment" in message
    assert 'password = { file = "/etc/healthsync/salesforce-password" }' in message
    assert "Traceback" not in result.output
    assert_never_shown(result, value)


def test_without_a_keyring_the_config_s_own_variable_is_suggested(
    no_keyring: KeyringBackend, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path, '[hubspot]\naccess_token = { keyring = "hubspot", env = "HS_PRIVATE_APP" }\n'
    )
    result = run("auth", "set", "hubspot", "--config", str(config), stdin=_secret())
    assert result.exit_code == 2
    assert 'access_token = { env = "HS_PRIVATE_APP" } under [hubspot]' in result.stderr


# --- auth test over a fake transport: Salesforce's identity and refusals -----------------------------

LIMITS = {"DailyApiRequests": {"Max": 100000, "Remaining": 98766}}
USERINFO = {
    "user_id": "005Hs00000AbCdEIAV",
    "organization_id": "00DHs000000XyZaMAK",
    "preferred_username": "integration@acme.example",
    "name": "Integration User",
    "email": "integration@acme.example",
}


def _salesforce_config(folder: Path, auth: str) -> Path:
    sections = {
        "token": f'instance_url = "{SF_INSTANCE}"\naccess_token = {{ keyring = "salesforce" }}\n',
        "password": 'username = "integration@acme.example"\npassword = { keyring = "salesforce-password" }\n'
        'security_token = { keyring = "salesforce-security-token" }\n',
    }
    path = folder / "sf.toml"
    path.write_text(f'[crm]\nsystem = "salesforce"\n[salesforce]\nauth = "{auth}"\n{sections[auth]}')
    return path


def test_salesforce_reports_the_user_and_org_from_userinfo(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    token = _secret("00D")
    file_keyring.set_password("healthsync", "salesforce", token)
    config = _salesforce_config(tmp_path, "token")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        auth = responses.matchers.header_matcher({"Authorization": f"Bearer {token}"})
        rsps.get(f"{SF_INSTANCE}/services/data/v62.0/limits", json=LIMITS, match=[auth])
        rsps.get(f"{SF_INSTANCE}/services/oauth2/userinfo", json=USERINFO, match=[auth])
        result = run("auth", "test", "salesforce", "--config", str(config))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "✓ salesforce: signed in as integration@acme.example in org 00DHs000000XyZaMAK",
        "  salesforce.access_token  keyring healthsync/salesforce",
        "  user                     integration@acme.example",
        "  name                     Integration User",
        "  email                    integration@acme.example",
        "  user id                  005Hs00000AbCdEIAV",
        "  org id                   00DHs000000XyZaMAK",
        f"  instance                 {SF_INSTANCE}",
        "  API requests, last 24 h  1,234 of 100,000",
    ]
    assert_never_shown(result, token)


SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>INVALID_LOGIN</faultcode>'
    "<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>"
    "<detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>Invalid "
    "username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault></detail>"
    "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


def test_a_refused_salesforce_login_names_both_secrets_and_exits_1(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    password, token = _secret("pw"), _secret("st")
    file_keyring.set_password("healthsync", "salesforce-password", password)
    file_keyring.set_password("healthsync", "salesforce-security-token", token)
    config = _salesforce_config(tmp_path, "password")
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post("https://login.salesforce.com/services/Soap/u/62.0", body=SOAP_FAULT, status=500)
        result = run("auth", "test", "salesforce", "--config", str(config))
    assert result.exit_code == 1
    assert result.stdout == ""
    first, fix = result.stderr.splitlines()
    assert first == (
        "✗ salesforce: [salesforce login HTTP 401] salesforce.password (from keyring healthsync/salesforce-password), "
        "salesforce.security_token (from keyring healthsync/salesforce-security-token) were not accepted: "
        "Salesforce sign-in failed (INVALID_LOGIN)"
    )
    assert fix.startswith("  fix: check salesforce.password (and salesforce.username / consumer_key)")
    assert_never_shown(result, password, token)


def test_auth_test_takes_a_vendor(file_keyring: PlaintextKeyring, tmp_path: Path) -> None:
    config = _salesforce_config(tmp_path, "token")
    result = run("auth", "test", "state.password", "--config", str(config))
    assert result.exit_code == 2
    assert "give hubspot, salesforce or zendesk" in result.stderr


def test_auth_test_without_the_secret_says_how_to_store_it(
    file_keyring: PlaintextKeyring, tmp_path: Path
) -> None:
    config = _salesforce_config(tmp_path, "token")
    result = run("auth", "test", "salesforce", "--config", str(config))
    assert result.exit_code == 2
    assert "salesforce.access_token: secret not found" in result.stderr
    assert "healthsync auth set salesforce" in result.stderr
