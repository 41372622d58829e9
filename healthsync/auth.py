"""Credentials in the OS keyring: what `healthsync auth set|delete NAME` does, as a Python API.

An admin stores each credential once with `auth set`, checks it with `auth test` (which calls the
vendor and says who the credential signs in as: `auth_verify`), and removes it with `auth delete`.
The config file only ever names *where* a credential lives (`SecretRef`); this module puts the value
there.

**Names.** `NAME` is one of:

- a vendor, `hubspot`, `salesforce` or `zendesk`: the credential that vendor signs in with
  (`hubspot.access_token`; `zendesk.token`, or `zendesk.oauth_token` when the config uses it; for
  Salesforce the one `salesforce.auth` names: `access_token`, `password`, `consumer_secret` or
  `private_key`);
- a config key holding a secret: `salesforce.password`, `salesforce.security_token`,
  `salesforce.consumer_secret`, `salesforce.private_key`, `zendesk.oauth_token`, `state.password`,
  `usage.password`, `alerts.webhook_url`, `alerts.email.password`...;
- anything else is the exact keyring name: `salesforce-password` (service `healthsync`) or
  `service/name`.

A vendor or config key is stored where the config's `{ keyring = "..." }` reference for that key
points; without a config, or when the config reads that key from elsewhere, under the recommended
name (`secrets.suggest_ref`, the names `config.example.toml` uses): `healthsync/hubspot`,
`healthsync/salesforce`, `healthsync/salesforce-password`, `healthsync/salesforce-security-token`,
`healthsync/salesforce-consumer-secret`, `healthsync/salesforce-private-key`, `healthsync/zendesk`,
`healthsync/zendesk-oauth`, `healthsync/state-db`, `healthsync/usage-db`, `healthsync/smtp`...

**Headless machines** (servers, containers) usually have no keyring backend; storing is then refused
with a `ConfigError` that points to the environment-variable and file references instead.
"""

from __future__ import annotations

import functools
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import keyring
from keyring.errors import KeyringError
from pydantic import BaseModel

from healthsync import secrets
from healthsync.config import DEFAULT_CONFIG_NAME, Config, load_config
from healthsync.errors import ConfigError
from healthsync.secrets import SecretRef, display_name, keyring_available, split_name, suggest_ref

__all__ = [
    "VENDORS",
    "Deleted",
    "Stored",
    "Target",
    "delete_credential",
    "found_at",
    "optional_config",
    "read_secret",
    "require_keyring",
    "secret_keys",
    "store_credential",
    "target_for",
    "vendor_credential",
]

VENDORS = ("hubspot", "salesforce", "zendesk")
"""The vendors `auth test` can call, and the shorthand names `auth set` accepts for their credentials."""

_SALESFORCE_CREDENTIAL = {
    "token": "salesforce.access_token",
    "password": "salesforce.password",
    "client_credentials": "salesforce.consumer_secret",
    "jwt": "salesforce.private_key",
}
"""The secret each `salesforce.auth` kind signs in with (password also takes `security_token`)."""


# --- names -------------------------------------------------------------------------------------


@functools.cache
def secret_keys() -> tuple[str, ...]:
    """Every config key holding a secret reference, e.g. `hubspot.access_token`, `alerts.email.password`."""
    return tuple(_secret_fields(Config, ""))


def _secret_fields(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, info in model.model_fields.items():
        kinds = list(_classes(info.annotation))
        if SecretRef in kinds:
            yield prefix + name
            continue
        for kind in kinds:
            if issubclass(kind, BaseModel):
                yield from _secret_fields(kind, f"{prefix}{name}.")


def _classes(annotation: Any) -> Iterator[type]:
    """The classes an annotation mentions, through unions, `Annotated` and generics (not tuples of models:
    `[[schedule]]` entries hold no secrets)."""
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        yield annotation
        return
    if typing.get_origin(annotation) is tuple:
        return
    for arg in typing.get_args(annotation):
        yield from _classes(arg)


def vendor_credential(vendor: str, config: Config | None = None) -> str:
    """The config key of the credential `vendor` signs in with: what `auth set <vendor>` stores.

    Salesforce's depends on `salesforce.auth` and Zendesk's on whether the config uses `oauth_token`,
    so the config is asked when there is one.
    """
    if vendor == "hubspot":
        return "hubspot.access_token"
    if vendor == "zendesk":
        oauth = config is not None and config.zendesk is not None and config.zendesk.oauth_token is not None
        return "zendesk.oauth_token" if oauth else "zendesk.token"
    if vendor == "salesforce":
        kind = config.salesforce.auth if config is not None and config.salesforce is not None else "token"
        return _SALESFORCE_CREDENTIAL[kind]
    raise ValueError(f"not a vendor: {vendor}")


def _config_label(config: Config) -> str:
    return str(config.source) if config.source is not None else "the config"


def _refs(config: Config | None) -> dict[str, SecretRef]:
    return dict(config.secret_refs()) if config is not None else {}


@dataclass(frozen=True)
class Target:
    """The keyring entry a NAME stands for, and the config key that reads it (when one does).

    Attributes:
        service: the keyring service (``healthsync`` unless the name says otherwise).
        username: the entry's name within the service.
        key: the config key whose secret this is, e.g. ``salesforce.password``, when known.
        ref: the config's reference for `key`, when the config has one.
        warning: why the config will not read this entry, when it will not.
    """

    service: str
    username: str
    key: str | None = None
    ref: SecretRef | None = None
    warning: str | None = None

    @property
    def keyring_name(self) -> str:
        """``service/name``, as `keyring` and the config's references spell it."""
        return f"{self.service}/{self.username}"

    @property
    def name(self) -> str:
        """The shortest name `healthsync auth set` takes for this entry."""
        return display_name(self.service, self.username)

    @property
    def label(self) -> str:
        """How messages name it: ``hubspot.access_token (keyring healthsync/hubspot)``."""
        where = f"keyring {self.keyring_name}"
        return f"{self.key} ({where})" if self.key else where

    @property
    def vendor(self) -> str | None:
        """The vendor whose credential this is, if any (for `auth test`)."""
        head = (self.key or "").split(".", 1)[0]
        return head if head in VENDORS else None


def _as_key(name: str, config: Config | None) -> str | None:
    if name in VENDORS:
        return vendor_credential(name, config)
    if name in secret_keys():
        return name
    return None


def _split(name: str) -> tuple[str, str]:
    try:
        if name != name.strip():  # as `SecretRef` refuses: no config could ever read such an entry
            raise ValueError("a keyring name must not start or end with spaces")
        return split_name(name)
    except ValueError as exc:
        raise ConfigError(
            f"{exc}; `healthsync auth` takes hubspot, salesforce, zendesk, a config key such as "
            "salesforce.password, or a keyring name"
        ) from None


def target_for(name: str, config: Config | None = None) -> Target:
    """The keyring entry `healthsync auth set|delete NAME` works on (see the module docstring for names).

    Args:
        name: a vendor, a config key holding a secret, or an exact keyring name.
        config: the config whose `{ keyring = ... }` references decide where vendors and keys go;
            None uses the recommended names.

    Raises:
        ConfigError: the name is not one of those.
    """
    refs = _refs(config)
    key = _as_key(name, config)
    if key is not None:
        ref = refs.get(key)
        address = ref.keyring_address() if ref is not None else None
        if ref is not None and address is not None:
            return Target(*address, key=key, ref=ref)
        default = suggest_ref(key)
        service, username = _split(default.keyring or key)
        warning = None
        if config is not None and ref is None:
            warning = f"{_config_label(config)} does not use {key}, so no sync reads this entry"
        elif config is not None and ref is not None:
            warning = (
                f"{key} in {_config_label(config)} is read from {ref.describe()}, not from the keyring: add "
                f'keyring = "{display_name(service, username)}" to its reference to use this entry'
            )
        return Target(service, username, key=key, ref=ref, warning=warning)
    address = _split(name)
    readers = [k for k, ref in refs.items() if ref.keyring_address() == address]
    if not readers and config is None:
        readers = [k for k in secret_keys() if suggest_ref(k).keyring_address() == address]
    warning = None
    if config is not None and not readers:
        warning = f"{_config_label(config)} reads no secret from the keyring entry {display_name(*address)}"
    key = readers[0] if readers else None
    return Target(*address, key=key, ref=refs.get(key) if key else None, warning=warning)


def optional_config(path: Path) -> Config | None:
    """The config at `path`; None when `path` is the default name and no such file exists.

    `auth set` and `auth delete` work without a config (with the recommended names), but a config
    named explicitly must exist.

    Raises:
        ConfigError: an explicitly named config is missing, or a config is invalid.
    """
    if not path.exists() and path == Path(DEFAULT_CONFIG_NAME):
        return None
    return load_config(path)


# --- storing and deleting ---------------------------------------------------------------------


def require_keyring(target: Target) -> None:
    """Refuse early, before anyone types a secret, when this machine has no keyring to store it in.

    Raises:
        ConfigError: no usable backend (the `fail` or `null` stand-ins); the message names the
            environment variable and file references to use instead.
    """
    if keyring_available():
        return
    backend = type(keyring.get_keyring())
    key = target.key or "the secret"
    field_name = key.rsplit(".", 1)[-1] if target.key else "secret"
    section = key.rsplit(".", 1)[0] if target.key else "the section"
    env = (target.ref.env if target.ref is not None else None) or (
        suggest_ref(target.key).env if target.key else "VARIABLE"
    )
    file_name = (target.key or "secret").replace(".", "-").replace("_", "-")
    raise ConfigError(
        f"no OS keyring is available on this machine (keyring found only {backend.__module__}."
        f"{backend.__qualname__}), so {target.label} cannot be stored or deleted there. "
        "On a headless server or in a container, give healthsync the secret another way:\n"
        f'  - an environment variable: {field_name} = {{ env = "{env}" }} under [{section}] in the '
        f"config, and {env} set in the service's environment (a systemd EnvironmentFile, "
        "`docker run --env-file`);\n"
        f'  - a file only the healthsync user can read: {field_name} = {{ file = "/etc/healthsync/'
        f'{file_name}" }} (Docker and Kubernetes secrets are mounted as files).\n'
        "Or install a keyring backend (the desktop's Secret Service, macOS Keychain, Windows "
        "Credential Locker)."
    )


def read_secret(stream: IO[str]) -> str:
    """A secret piped in on `stream`: everything up to the end, without the trailing newline.

    Inner newlines are kept, so a PEM private key can be stored whole
    (`healthsync auth set salesforce.private_key < server.key`).

    Raises:
        ConfigError: nothing but whitespace was read.
    """
    value = stream.read().rstrip("\r\n")
    if not value.strip():
        raise ConfigError("nothing to store: standard input was empty")
    return value


@dataclass(frozen=True)
class Stored:
    """What `store_credential` did."""

    target: Target
    replaced: bool
    """An entry existed and was overwritten."""
    still_missing: tuple[str, ...] = ()
    """Other secrets of the same config section found nowhere yet (e.g. `salesforce.security_token`)."""


def store_credential(target: Target, value: str, config: Config | None = None) -> Stored:
    """Save `value` in the OS keyring at `target`.

    Args:
        target: from `target_for`.
        value: the secret; never logged, never part of any message.
        config: when given, the result lists the section's other secrets that are still missing.

    Raises:
        ConfigError: no keyring backend, the keyring refused the write, or `value` is blank.
    """
    require_keyring(target)
    if not value.strip():
        raise ConfigError(f"nothing to store for {target.label}: the value is empty")
    try:
        replaced = keyring.get_password(target.service, target.username) is not None
    except (KeyringError, RuntimeError, OSError):
        replaced = False  # the write below reports what is wrong with the keyring
    secrets.store(target.keyring_name, value)
    return Stored(target, replaced, _still_missing(target, config))


def _still_missing(target: Target, config: Config | None) -> tuple[str, ...]:
    if config is None or target.key is None or "." not in target.key:
        return ()
    section = target.key.rsplit(".", 1)[0] + "."
    return tuple(
        key
        for key, ref in config.secret_refs()
        if key.startswith(section) and key != target.key and found_at(ref, config.base_dir) is None
    )


@dataclass(frozen=True)
class Deleted:
    """What `delete_credential` did."""

    target: Target
    deleted: bool
    """False when there was no entry (deleting twice is not an error)."""


def delete_credential(target: Target) -> Deleted:
    """Remove the keyring entry at `target`; a missing entry is reported, not an error.

    Raises:
        ConfigError: no keyring backend, or the keyring refused the delete.
    """
    require_keyring(target)
    return Deleted(target, secrets.delete(target.keyring_name))


def found_at(ref: SecretRef, base_dir: Path | None) -> str | None:
    """Where `secrets.resolve` would find the value (same order), or None; the value is not kept.

    `auth set` names what is still missing with it, `auth test` where each secret came from."""
    address = ref.keyring_address()
    if address is not None:
        try:
            found = keyring.get_password(*address)
        except (KeyringError, RuntimeError, OSError):
            found = None
        if found:
            return f"keyring {address[0]}/{address[1]}"
    if ref.env is not None and os.environ.get(ref.env):
        return f"${ref.env}"
    if ref.file is not None:
        path = Path(ref.file).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            if path.read_text(encoding="utf-8").rstrip("\r\n"):
                return f"file {path}"
        except OSError:
            return None
    return None
