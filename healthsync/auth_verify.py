"""`healthsync auth test NAME`: call the vendor with the configured credentials and say who they sign in as.

Kept apart from `auth` (where credentials are stored) because it builds each vendor's connector and
speaks to the vendor; storing a credential needs neither. One or two read calls a vendor, nothing
written, and a refusal names the config keys and where their values came from, never the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from healthsync.auth import VENDORS, found_at, secret_keys
from healthsync.config import Config
from healthsync.errors import AuthError, ConfigError, VendorError
from healthsync.http import Http
from healthsync.secrets import redact, split_name

__all__ = ["Identity", "vendor_of", "verify_credential"]

_ZENDESK_ROLES_THAT_EXPORT = frozenset({"admin"})
"""Incremental exports and satisfaction ratings are admin-only (Zendesk incremental exports reference:
https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/ )."""

_SALESFORCE_USERINFO = "userinfo"
"""OpenID Connect UserInfo under the instance's `/services/oauth2/`: the session's user and org
(https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm )."""


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
    for key, ref in (dict(config.secret_refs()) if config is not None else {}).items():
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
    sources = tuple((key, found_at(ref, config.base_dir) or "not found") for key, ref in used)
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
        info = connector.token_info()
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
