"""Credentials in the OS keyring: what `healthsync auth set|test|delete NAME` does, as a Python API.

An admin stores each credential once with `auth set`, checks it with `auth test` (which calls the
vendor and says who the credential signs in as), and removes it with `auth delete`. The config file
only ever names *where* a credential lives (`SecretRef`); this module puts the value there.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import keyring
from keyring.errors import KeyringError
from pydantic import BaseModel

from healthsync import secrets
from healthsync.config import DEFAULT_CONFIG_NAME, Config, load_config
from healthsync.errors import AuthError, ConfigError, VendorError
from healthsync.http import Http
from healthsync.secrets import SecretRef, display_name, keyring_available, redact, split_name, suggest_ref

__all__ = [
    "VENDORS",
    "Deleted",
    "Identity",
    "Stored",
    "Target",
    "delete_credential",
    "optional_config",
    "read_secret",
    "require_keyring",
    "secret_keys",
    "store_credential",
    "target_for",
    "vendor_credential",
    "verify_credential",
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

_ZENDESK_ROLES_THAT_EXPORT = frozenset({"admin"})
"""Incremental exports and satisfaction ratings are admin-only (Zendesk incremental exports reference:
https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/ )."""

_HUBSPOT_TOKEN_INFO = "/oauth/v2/private-apps/get/access-token-info"  # noqa: S105 - a path, not a secret
"""Private-app token introspection: `{userId, hubId, appId, scopes}`, no scope needed
(https://developers.hubspot.com/docs/api/private-apps#view-private-app-access-token-information )."""

_SALESFORCE_USERINFO = "userinfo"
"""OpenID Connect UserInfo under the instance's `/services/oauth2/`: the session's user and org
(https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm )."""


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
        if key.startswith(section) and key != target.key and _where(ref, config.base_dir) is None
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


def _where(ref: SecretRef, base_dir: Path | None) -> str | None:
    """Where `secrets.resolve` would find the value (same order), or None; the value is not kept."""
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


# --- testing against the vendor ---------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who a vendor says the configured credentials sign in as.

    Attributes:
        vendor: ``hubspot``, ``salesforce`` or ``zendesk``.
        who: one line, e.g. ``hub 4242, private app 3100001``.
        details: (label, value) pairs in display order (ids, scopes, e-mail, API usage).
        credentials: (config key, where its value was found) for each secret the vendor's section uses.
        notes: what the admin should know: missing scopes, a non-admin Zendesk user, an identity
            the vendor would not give.
    """

    vendor: str
    who: str
    details: tuple[tuple[str, str], ...] = ()
    credentials: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """`auth test --json`."""
        return {
            "vendor": self.vendor,
            "ok": True,
            "who": self.who,
            "details": dict(self.details),
            "credentials": [{"key": key, "source": source} for key, source in self.credentials],
            "notes": list(self.notes),
        }


def vendor_of(name: str, config: Config | None = None) -> str:
    """The vendor `auth test NAME` calls: NAME itself, the vendor of a config key, or of a keyring entry.

    Raises:
        ConfigError: NAME is not a vendor's credential.
    """
    if name in VENDORS:
        return name
    head = name.split(".", 1)[0]
    if name in secret_keys() and head in VENDORS:
        return head
    try:
        address = split_name(name)
    except ValueError:
        address = None
    for key, ref in _refs(config).items():
        if address is not None and ref.keyring_address() == address and key.split(".", 1)[0] in VENDORS:
            return key.split(".", 1)[0]
    raise ConfigError(
        "`healthsync auth test` calls a vendor: give hubspot, salesforce or zendesk "
        "(or one of their config keys, e.g. salesforce.password)"
    )


def verify_credential(config: Config, name: str, *, http: Http | None = None) -> Identity:
    """Call the vendor with the configured credentials and say who they sign in as.

    The connector is built from the config as a sync builds it (so the secrets are resolved the same
    way: keyring, then environment, then file); one or two read calls are made, nothing is written.

    Args:
        config: the configuration with the vendor's section.
        name: the vendor, or one of its config keys or keyring names (see `vendor_of`).
        http: the retry and count layer (default: no retries, so a failure is reported at once).

    Returns:
        The identity, with where each secret was found.

    Raises:
        AuthError: the vendor refused the credentials; the message names the config keys and where
            their values came from (never the values), with the vendor's message and the fix.
        ConfigError: no section for the vendor, or a secret found nowhere.
        VendorError: the vendor could not be reached or answered with an error.
    """
    vendor = vendor_of(name, config)
    http = http or Http(retry_budget=0)
    used = [(key, ref) for key, ref in config.secret_refs() if key.startswith(f"{vendor}.")]
    sources = tuple((key, _where(ref, config.base_dir) or "not found") for key, ref in used)
    try:
        if vendor == "hubspot":
            identity = _hubspot(config, http)
        elif vendor == "salesforce":
            identity = _salesforce(config, http)
        else:
            identity = _zendesk(config, http)
    except AuthError as exc:
        raise _refused(exc, sources) from None
    return Identity(identity.vendor, identity.who, identity.details, sources, identity.notes)


def _refused(exc: AuthError, sources: tuple[tuple[str, str], ...]) -> AuthError:
    named = ", ".join(f"{key} (from {source})" for key, source in sources) or "the credentials"
    verb = "was" if len(sources) == 1 else "were"
    head = exc.args[0] if exc.args else "refused"
    return AuthError(
        redact(f"{named} {verb} not accepted: {head}"),
        vendor=exc.vendor,
        endpoint=exc.endpoint,
        status=exc.status,
        fix=redact(exc.fix) if exc.fix else None,
    )


def _hubspot(config: Config, http: Http) -> Identity:
    from healthsync.connectors.hubspot import SYNC_SCOPES, HubSpotConnector
    from healthsync.mappings import load_mapping

    # The built-in mapping: which fields a sync writes has nothing to do with signing in.
    connector = HubSpotConnector.from_config(config, http, load_mapping("hubspot"))
    try:
        info = _hubspot_token_info(connector)
    except VendorError as exc:
        if exc.status not in (400, 401, 403, 404):
            raise
        info = None
    if info is None:
        # Not a private-app token (e.g. an OAuth access token), or not a valid one: an ordinary call
        # tells which. 401 is a refusal; 403 means signed in without the scope for that call.
        unknown = ["HubSpot describes only private-app tokens, so the hub id and scopes are unknown"]
        try:
            connector.describe_object("companies")
        except AuthError as exc:
            if exc.status != 403:
                raise
            unknown.append(f"the token may not read company properties: {exc.args[0] if exc.args else exc}")
        return Identity("hubspot", "a token HubSpot accepts (not a private-app token)", notes=tuple(unknown))
    scopes = sorted(str(s) for s in info.get("scopes") or [])
    details = (
        ("hub id", str(info.get("hubId", "?"))),
        ("app id", str(info.get("appId", "?"))),
        ("user id", str(info.get("userId", "?"))),
        ("scopes", ", ".join(scopes) or "none"),
    )
    granted = set(scopes)
    missing = [
        f"{need} ({' or '.join(sorted(opts))})" for need, opts in SYNC_SCOPES.items() if not granted & opts
    ]
    notes = (
        (f"a sync also needs: {'; '.join(missing)} (add the scopes to the private app)",) if missing else ()
    )
    who = f"hub {info.get('hubId', '?')}, private app {info.get('appId', '?')}"
    return Identity("hubspot", who, details, notes=notes)


def _hubspot_token_info(connector: Any) -> dict[str, Any] | None:
    """`POST /oauth/v2/private-apps/get/access-token-info` (the call `token_scopes` makes), errors raised."""
    token = connector.api.client.config.get("access_token")
    # Through an SDK api_client, so the configured host, CA bundle and error translation apply.
    api_client = connector.api.api("crm.companies.basic_api").api_client
    answer = connector.api.call(
        "oauth.token_info",
        lambda: api_client.call_api(
            _HUBSPOT_TOKEN_INFO,
            "POST",
            body={"tokenKey": token},
            header_params={"Content-Type": "application/json", "Accept": "application/json"},
            response_types_map={200: "object"},
            auth_settings=[],
            _return_http_data_only=True,
        ),
        idempotent=True,
        kind="read",
    )
    return answer if isinstance(answer, dict) else None


def _salesforce(config: Config, http: Http) -> Identity:
    from healthsync.connectors.salesforce import SalesforceConnector

    connector = SalesforceConnector.from_config(config, http)
    try:
        # Signs in first (password, client credentials, JWT); a refused session is a 401 here.
        limits = connector.api.rest("auth.limits", "limits", idempotent=True, kind="read")
        sf = connector.api.sf
        instance = f"https://{sf.sf_instance}"
        notes: list[str] = []
        try:
            info = connector.api.call(
                "oauth.userinfo", lambda: _salesforce_userinfo(sf), idempotent=True, kind="read"
            )
        except VendorError as exc:
            info = None
            status = f"HTTP {exc.status}" if exc.status is not None else type(exc).__name__
            notes.append(
                f"Salesforce did not say which user this is (userinfo answered {status}); the "
                "session works, and `healthsync check` shows what it may read and write"
            )
    finally:
        connector.close()
    details: list[tuple[str, str]] = []
    who = f"a session on {instance} (user not reported)"
    if isinstance(info, dict):
        user = str(info.get("preferred_username") or info.get("user_id") or "?")
        org = str(info.get("organization_id") or "?")
        who = f"{user} in org {org}"
        for label, name in (
            ("user", "preferred_username"),
            ("name", "name"),
            ("email", "email"),
            ("user id", "user_id"),
            ("org id", "organization_id"),
        ):
            if info.get(name):
                details.append((label, str(info[name])))
    details.append(("instance", instance))
    daily = limits.get("DailyApiRequests") if isinstance(limits, dict) else None
    if (
        isinstance(daily, dict)
        and isinstance(daily.get("Max"), int)
        and isinstance(daily.get("Remaining"), int)
    ):
        used = daily["Max"] - daily["Remaining"]
        details.append(("API requests, last 24 h", f"{used:,} of {daily['Max']:,}"))
    return Identity("salesforce", who, tuple(details), notes=tuple(notes))


def _salesforce_userinfo(sf: Any) -> Any:
    from simple_salesforce.util import exception_handler

    from healthsync.connectors.salesforce_api import REQUEST_TIMEOUT

    response = sf.session.get(
        sf.oauth2_url + _SALESFORCE_USERINFO, headers=sf.headers, timeout=REQUEST_TIMEOUT
    )
    if response.status_code >= 300:
        exception_handler(response, _SALESFORCE_USERINFO)  # raises the SDK's error; `translate` maps it
    return response.json()


def _zendesk(config: Config, http: Http) -> Identity:
    from healthsync.connectors.zendesk import ZendeskConnector

    with ZendeskConnector.from_config(config, http) as connector:
        me = connector.whoami()
    who = f"{me.name} <{me.email}>" if me.email else me.name or f"user {me.id}"
    details = [("name", me.name), ("email", me.email or "?"), ("role", me.role or "?"), ("user id", me.id)]
    if config.zendesk is not None:
        details.append(("account", config.zendesk.base_url))
    notes: tuple[str, ...] = ()
    if me.role not in _ZENDESK_ROLES_THAT_EXPORT:
        role = me.role or "unknown role"
        article = "an" if role[0] in "aeiou" else "a"
        notes = (
            f"this user is {article} {role}: incremental exports and satisfaction ratings need an admin",
        )
    return Identity("zendesk", who, tuple(details), notes=notes)
