"""Secrets: keyring first, then the environment; a Secret never shows its value anywhere.

The keyring tests run against real `keyring` backends installed with `keyring.set_keyring`: a small
in-memory backend defined here, and keyring's own `fail` backend for machines without a keyring.
"""

from __future__ import annotations

import copy
import logging
import pickle
import secrets as stdlib_secrets
from collections.abc import Iterator
from typing import TypeVar

import keyring
import keyring.backends.fail
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError
from pydantic import ValidationError

from healthsync.errors import ConfigError
from healthsync.secrets import (
    MASK,
    RedactingFilter,
    Secret,
    SecretRef,
    delete,
    keyring_available,
    redact,
    resolve,
    split_name,
    store,
    suggest_ref,
)

B = TypeVar("B", bound=KeyringBackend)


class MemoryKeyring(KeyringBackend):
    """A working keyring backend that keeps entries in a dict, as the OS keyring would on disk."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise PasswordDeleteError("no such entry")
        del self.entries[(service, username)]


class LockedKeyring(MemoryKeyring):
    """A backend that exists but cannot be read, like a locked desktop keyring in a cron job."""

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the collection is locked")


def _install(backend: B) -> Iterator[B]:
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    yield from _install(MemoryKeyring())


@pytest.fixture
def no_keyring() -> Iterator[KeyringBackend]:
    yield from _install(keyring.backends.fail.Keyring())


@pytest.fixture
def locked_keyring() -> Iterator[KeyringBackend]:
    yield from _install(LockedKeyring())


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUBSPOT_TOKEN", "ZENDESK_TOKEN", "HEALTHSYNC_TEST_SECRET"):
        monkeypatch.delenv(name, raising=False)


def _value() -> str:
    """A fresh, unguessable secret, so tests never share values through the redaction registry."""
    return "tok-" + stdlib_secrets.token_hex(12)


# --- SecretRef -------------------------------------------------------------------------------


def test_a_bare_keyring_name_lives_in_the_healthsync_service() -> None:
    assert SecretRef(keyring="hubspot").keyring_address() == ("healthsync", "hubspot")
    assert SecretRef(keyring="acme/hubspot").keyring_address() == ("acme", "hubspot")
    assert split_name("acme/team/hubspot") == ("acme", "team/hubspot")


def test_describe_lists_places_in_lookup_order() -> None:
    both = SecretRef(keyring="healthsync/hubspot", env="HUBSPOT_TOKEN")
    assert both.describe() == "keyring healthsync/hubspot, then $HUBSPOT_TOKEN"
    assert SecretRef(keyring="hubspot").describe() == "keyring healthsync/hubspot"
    assert SecretRef(env="HUBSPOT_TOKEN").describe() == "$HUBSPOT_TOKEN"


def test_a_reference_needs_a_keyring_entry_or_a_variable() -> None:
    with pytest.raises(ValidationError, match="keyring"):
        SecretRef()


@pytest.mark.parametrize(
    "fields",
    [{"keyring": "/hubspot"}, {"keyring": "healthsync/"}, {"keyring": " hubspot"}, {"env": "9LIVES"}],
    ids=["empty-service", "empty-name", "padded", "env-starts-with-digit"],
)
def test_malformed_references_are_refused(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        SecretRef(**fields)


def test_a_token_pasted_as_a_variable_name_is_not_repeated() -> None:
    pasted = "pat-na1-" + stdlib_secrets.token_hex(8)
    with pytest.raises(ValidationError) as caught:
        SecretRef(env=pasted)
    assert pasted not in caught.value.errors()[0]["msg"]


def test_references_are_frozen_and_closed() -> None:
    ref = SecretRef(env="HUBSPOT_TOKEN")
    with pytest.raises(ValidationError):
        ref.env = "OTHER"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        SecretRef.model_validate({"env": "HUBSPOT_TOKEN", "vault": "x"})


def test_suggested_references_follow_the_documented_names() -> None:
    assert suggest_ref("hubspot.access_token") == SecretRef(keyring="healthsync/hubspot", env="HUBSPOT_TOKEN")
    assert suggest_ref("crm.hubspot.access_token").env == "HUBSPOT_TOKEN"
    assert suggest_ref("alerts.email.password").keyring == "healthsync/smtp"
    assert suggest_ref("custom.api_key") == SecretRef(
        keyring="healthsync/custom-api-key", env="HEALTHSYNC_CUSTOM_API_KEY"
    )


# --- resolve ---------------------------------------------------------------------------------


def test_the_keyring_wins_over_the_environment(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_keyring, in_env = _value(), _value()
    memory_keyring.entries[("healthsync", "hubspot")] = in_keyring
    monkeypatch.setenv("HUBSPOT_TOKEN", in_env)
    ref = SecretRef(keyring="hubspot", env="HUBSPOT_TOKEN")
    assert resolve(ref, context="hubspot.access_token").reveal() == in_keyring


def test_a_missing_keyring_entry_falls_back_to_the_environment(
    memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = _value()
    monkeypatch.setenv("HUBSPOT_TOKEN", value)
    ref = SecretRef(keyring="healthsync/hubspot", env="HUBSPOT_TOKEN")
    assert resolve(ref, context="hubspot.access_token").reveal() == value


def test_a_machine_without_keyring_uses_the_environment(
    no_keyring: KeyringBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = _value()
    monkeypatch.setenv("HUBSPOT_TOKEN", value)
    ref = SecretRef(keyring="hubspot", env="HUBSPOT_TOKEN")
    assert resolve(ref, context="hubspot.access_token").reveal() == value


def test_a_locked_keyring_is_not_fatal_while_the_environment_has_it(
    locked_keyring: KeyringBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = _value()
    monkeypatch.setenv("HUBSPOT_TOKEN", value)
    ref = SecretRef(keyring="hubspot", env="HUBSPOT_TOKEN")
    assert resolve(ref, context="hubspot.access_token").reveal() == value


def test_an_env_only_reference_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    value = _value()
    monkeypatch.setenv("ZENDESK_TOKEN", value)
    assert resolve(SecretRef(env="ZENDESK_TOKEN"), context="zendesk.token").reveal() == value


def test_missing_everywhere_names_context_reference_and_both_commands(memory_keyring: MemoryKeyring) -> None:
    ref = SecretRef(keyring="healthsync/hubspot", env="HUBSPOT_TOKEN")
    with pytest.raises(ConfigError) as caught:
        resolve(ref, context="crm.hubspot.access_token")
    text = str(caught.value)
    assert "crm.hubspot.access_token" in text
    assert "keyring healthsync/hubspot" in text
    assert "$HUBSPOT_TOKEN" in text
    assert "healthsync auth set hubspot`" in text
    assert "export HUBSPOT_TOKEN=..." in text
    assert [p.key for p in caught.value.problems] == ["crm.hubspot.access_token"]


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUBSPOT_TOKEN", "")
    with pytest.raises(ConfigError, match=r"\$HUBSPOT_TOKEN \(empty\)"):
        resolve(SecretRef(env="HUBSPOT_TOKEN"), context="hubspot.access_token")


def test_a_service_other_than_healthsync_is_named_in_the_command(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(ConfigError, match="healthsync auth set acme/hubspot`"):
        resolve(SecretRef(keyring="acme/hubspot"), context="hubspot.access_token")


def test_no_keyring_backend_is_said_and_the_env_option_offered(no_keyring: KeyringBackend) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(SecretRef(keyring="hubspot"), context="hubspot.access_token")
    text = str(caught.value)
    assert "no keyring backend is available" in text
    assert 'env = "HUBSPOT_TOKEN"' in text
    assert "export HUBSPOT_TOKEN=..." in text
    assert "auth set" not in text  # storing in a keyring that does not exist cannot be the fix


# --- store / delete / available --------------------------------------------------------------


def test_store_and_delete_use_the_same_names_as_references(memory_keyring: MemoryKeyring) -> None:
    value = _value()
    store("hubspot", value)
    assert memory_keyring.entries == {("healthsync", "hubspot"): value}
    assert resolve(SecretRef(keyring="healthsync/hubspot"), context="hubspot.access_token").reveal() == value
    store("acme/zendesk", Secret(value))
    assert memory_keyring.entries[("acme", "zendesk")] == value
    assert delete("hubspot") is True
    assert delete("hubspot") is False
    assert ("healthsync", "hubspot") not in memory_keyring.entries


def test_store_without_a_backend_is_a_config_error(no_keyring: KeyringBackend) -> None:
    value = _value()
    with pytest.raises(ConfigError) as caught:
        store("hubspot", value)
    assert "environment variable" in str(caught.value)
    assert value not in str(caught.value)


def test_a_malformed_name_is_a_config_error(memory_keyring: MemoryKeyring) -> None:
    with pytest.raises(ConfigError, match="service/name"):
        store("acme/", _value())


def test_keyring_available_tells_a_real_backend_from_the_fail_one(memory_keyring: MemoryKeyring) -> None:
    assert keyring_available() is True
    keyring.set_keyring(keyring.backends.fail.Keyring())  # restored by the fixture
    assert keyring_available() is False


# --- Secret ----------------------------------------------------------------------------------


def test_a_secret_never_shows_its_value() -> None:
    value = _value()
    secret = Secret(value)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>40}",
        format(secret, ""),
        "%s" % secret,  # noqa: UP031 - the old formatting path must hide it too
        "{}".format(secret),  # noqa: UP032
        repr([secret]),
        str({"token": secret}),
    ]
    for text in shown:
        assert value not in text
        assert MASK in text
    assert repr(secret) == "Secret('********')"
    assert secret.reveal() == value


def test_a_secret_cannot_be_probed_by_comparison() -> None:
    value = _value()
    assert Secret(value) == Secret(value)
    assert Secret(value) != Secret(_value())
    assert Secret(value) != value
    with pytest.raises(TypeError):
        hash(Secret(value))


def test_a_secret_refuses_to_be_pickled() -> None:
    secret = Secret(_value())
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(secret, protocol=protocol)
    with pytest.raises(TypeError):
        pickle.dumps({"job": [secret]})


def test_copying_a_secret_keeps_it_without_exposing_it() -> None:
    secret = Secret(_value())
    assert copy.copy(secret) is secret
    assert copy.deepcopy({"s": secret})["s"] is secret


# --- log redaction ---------------------------------------------------------------------------


@pytest.fixture
def redacted_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    redacting = RedactingFilter()
    caplog.handler.addFilter(redacting)
    caplog.set_level(logging.DEBUG, logger="healthsync.test")
    try:
        yield caplog
    finally:
        caplog.handler.removeFilter(redacting)


def test_logs_never_carry_a_revealed_value(redacted_caplog: pytest.LogCaptureFixture) -> None:
    value = _value()
    secret = Secret(value)
    log = logging.getLogger("healthsync.test")
    log.info("secret object: %s", secret)
    log.info("calling with token=%s", secret.reveal())  # the accident the filter exists for
    log.debug(f"Authorization: Bearer {secret.reveal()}")
    log.warning("header %r", {"Authorization": f"Bearer {value}"})
    assert value not in redacted_caplog.text
    assert all(value not in record.getMessage() for record in redacted_caplog.records)
    assert "Secret('********')" in redacted_caplog.text
    assert f"token={MASK}" in redacted_caplog.text
    assert len(redacted_caplog.records) == 4


def test_exception_text_in_logs_is_redacted(redacted_caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret(_value())
    value = secret.reveal()
    log = logging.getLogger("healthsync.test")
    try:
        raise RuntimeError(f"GET https://api.example.com/?token={value} failed")
    except RuntimeError:
        log.exception("request failed")
    assert value not in redacted_caplog.text
    assert "RuntimeError" in redacted_caplog.text


def test_values_never_revealed_are_left_alone(redacted_caplog: pytest.LogCaptureFixture) -> None:
    unrevealed = _value()
    Secret(unrevealed)
    logging.getLogger("healthsync.test").info("plain %s", unrevealed)
    assert unrevealed in redacted_caplog.text
    assert redact(f"x{unrevealed}x") == f"x{unrevealed}x"


def test_very_short_values_are_not_redacted() -> None:
    # A 2-character "secret" would turn every log line containing those letters into asterisks.
    assert Secret("ab").reveal() == "ab"
    assert redact("about abc") == "about abc"


def test_a_secret_file_is_read_after_keyring_and_environment(
    tmp_path, memory_keyring: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "token").write_text("from-file\n")
    ref = SecretRef(keyring="hubspot", env="HS_FILE_TEST", file="token")
    assert resolve(ref, context="hubspot.access_token", base_dir=tmp_path).reveal() == "from-file"
    monkeypatch.setenv("HS_FILE_TEST", "from-env")
    assert resolve(ref, context="hubspot.access_token", base_dir=tmp_path).reveal() == "from-env"
    assert ref.describe() == "keyring healthsync/hubspot, then $HS_FILE_TEST, then file token"


def test_a_missing_or_empty_secret_file_is_named_with_the_fix(tmp_path) -> None:
    ref = SecretRef(file=str(tmp_path / "absent"))
    with pytest.raises(ConfigError) as info:
        resolve(ref, context="zendesk.token")
    assert f"file {tmp_path / 'absent'} (missing)" in str(info.value)
    assert "write the secret into" in str(info.value)
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        resolve(SecretRef(file="empty"), context="zendesk.token", base_dir=tmp_path)
