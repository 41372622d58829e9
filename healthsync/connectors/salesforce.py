"""The Salesforce connector: an `AccountSource` and `CrmWriter` over the unmodified simple-salesforce.

Reads (`salesforce_read`): accounts by SOQL at 2,000 a page with a `SystemModstamp` watermark and
`queryAll` for deletions; `describe`; active users as owners; existing renewal deals and tasks by
key. Writes (`salesforce_write`): sObject Collections at 200 records a call. The wire seam
(`salesforce_api`) runs every request through `Http` and translates every SDK error.

No client-side limiter is registered: Salesforce documents no request-rate limit for the REST API,
only the org's rolling 24-hour allocation (`Sforce-Limit-Info`, see `api_usage`; a spent one is
`QuotaExhausted`) and 25 concurrent long-running (> 20 s) requests, which a connector issuing one
request at a time cannot reach
(https://developer.salesforce.com/docs/atlas.en-us.salesforce_app_limits_cheatsheet.meta/salesforce_app_limits_cheatsheet/salesforce_app_limits_platform_api.htm).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from simple_salesforce.api import Salesforce

from healthsync.config import Config, SalesforceSection
from healthsync.connectors.base import DealLink, FieldUpdate, ObjectSchema, Owner, Page, WriteOutcome
from healthsync.connectors.incremental import WatermarkState
from healthsync.connectors.salesforce_api import SalesforceApi
from healthsync.connectors.salesforce_read import (
    CrmDeal,
    CrmTask,
    fetch_deals,
    fetch_owners,
    fetch_schema,
    fetch_tasks,
    iter_accounts,
)
from healthsync.connectors.salesforce_schema import apply_changes as apply_schema_changes
from healthsync.connectors.salesforce_write import (
    apply_deal_upserts,
    apply_field_updates,
    apply_task_upserts,
)
from healthsync.connectors.sessions import make_session
from healthsync.errors import ConfigError, VendorError
from healthsync.http import Http
from healthsync.mappings import FieldMapping, load_mapping
from healthsync.mappings.provision import Change
from healthsync.mappings.validate import LiveSchema
from healthsync.model import Account, DealUpsert, TaskUpsert
from healthsync.secrets import Secret, resolve

__all__ = ["CrmDeal", "CrmTask", "SalesforceConnector"]

_SALESFORCE_SUFFIX = ".salesforce.com"

# The credential each auth kind signs in with: what an auth failure names.
_CREDENTIAL = {
    "token": "salesforce.access_token",
    "password": "salesforce.password",
    "client_credentials": "salesforce.consumer_secret",
    "jwt": "salesforce.private_key",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SalesforceConnector:
    """Accounts in, health results out, for one Salesforce org.

    Args:
        api: the wire seam (client, `Http`, error translation).
        mapping: which object and fields hold our inputs and outputs.
        clock: the run's clock; an incremental pull caps its watermark at the clock's time when the
            pull starts (records stamped later are read again next run).
    """

    name = "salesforce"
    separate_deal_links = False
    """An Opportunity's `AccountId` is set by its upsert: no link requests of its own."""
    upserts_tasks = True
    """Tasks are upserted by their external-id key field: a replayed create updates, never doubles."""

    def __init__(
        self, api: SalesforceApi, mapping: FieldMapping, *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        self.api = api
        self.mapping = mapping
        self._clock = clock

    @classmethod
    def from_config(
        cls,
        config: Config,
        http: Http,
        mapping: FieldMapping | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> SalesforceConnector:
        """The connector for `config`'s `[salesforce]` section; resolves its secrets now.

        The client signs in on its first request (inside `Http`, so a sign-in is counted and a
        refused one is an `AuthError` naming the credential).

        Raises:
            ConfigError: no `[salesforce]` section, or a secret that cannot be found.
        """
        section = config.salesforce
        if section is None:
            raise ConfigError("the [salesforce] section is missing; add it to read and write Salesforce")
        if mapping is None:
            user_file = config.crm.mapping if config.crm.system == "salesforce" else None
            mapping = load_mapping("salesforce", user_file)
        session = make_session(ca_bundle=section.ca_bundle)
        factory = _client_factory(section, session, config)
        api = SalesforceApi(
            factory,
            http,
            session,
            credential=_CREDENTIAL[section.auth],
            logs_in=section.auth != "token",
        )
        return cls(api, mapping, clock=clock)

    # --- AccountSource ---------------------------------------------------------------------------

    def iter_accounts(
        self, since: WatermarkState | None = None, *, run_started: datetime | None = None
    ) -> Iterator[Page[Account]]:
        """Accounts changed at or after `since` (all when None), 2,000 a page; deletions in `Page.deleted`.

        Args:
            since: the committed watermark of the last run.
            run_started: the run's start, which caps the watermark (default: the clock, now).
        """
        started = run_started or self._clock()
        return iter_accounts(self.api, self.mapping, since, run_started=started)

    def describe(self, object_name: str | None = None) -> ObjectSchema:
        """The live schema of the account object (or of `object_name`): one describe call."""
        return fetch_schema(self.api, object_name or self.mapping.account.object)

    def live_schema(self, objects: Sequence[str]) -> LiveSchema:
        """The live schema of `objects` (one describe each); an object the user cannot see is absent."""
        found: dict[str, ObjectSchema] = {}
        for name in dict.fromkeys(objects):
            try:
                found[name] = fetch_schema(self.api, name)
            except VendorError as exc:
                if exc.status != 404:
                    raise
        return LiveSchema(found, None)

    def apply_changes(self, changes: Sequence[Change]) -> list[str]:
        """Create fields (Tooling API) and standard picklist values; one line per change made."""
        return apply_schema_changes(self.api, changes)

    def missing_permissions(self, live: LiveSchema) -> list[str]:
        """What healthsync's user may not do but must: edit accounts, create tasks and deals."""
        wanted = [
            (self.mapping.account.object, "edit", "updateable"),
            (self.mapping.tasks.object, "create", "createable"),
            (self.mapping.deals.object, "create", "createable"),
            (self.mapping.deals.object, "edit", "updateable"),
        ]
        missing = []
        for obj, verb, flag in wanted:
            schema = live.objects.get(obj)
            if schema is None:
                missing.append(f"read {obj}")
            elif not getattr(schema, flag):
                missing.append(f"{verb} {obj}")
        return list(dict.fromkeys(missing))

    def owners(self) -> dict[str, Owner]:
        """Active users by id (one query per 2,000 users)."""
        return fetch_owners(self.api)

    def api_usage(self) -> tuple[int, int] | None:
        """(used, allowed) org API requests in the rolling 24 hours, as of the last response."""
        return self.api.api_usage()

    # --- CrmWriter -------------------------------------------------------------------------------

    def update_fields(self, batch: Sequence[FieldUpdate]) -> list[WriteOutcome]:
        """Write each record's changed fields, 200 records a call; one outcome per update, in order."""
        return apply_field_updates(self.api, batch)

    def upsert_tasks(self, batch: Sequence[TaskUpsert], *, look_up: bool = True) -> list[WriteOutcome]:
        """Upsert tasks by their key field, 200 a call (`look_up` is moot: an upsert reads nothing).

        An existing key updates that task (subject, due date, status, owner...), so the engine checks
        `fetch_tasks` first for keys that may exist rather than reopening a task a person closed.
        """
        return apply_task_upserts(self.api, self.mapping, batch)

    def upsert_deals(self, batch: Sequence[DealUpsert], *, link: bool = True) -> list[WriteOutcome]:
        """Upsert renewal deals by their external id, 200 a call (stage rules are the engine's).

        The account link is the record's `AccountId`, written by the upsert itself: `link` changes nothing.
        """
        return apply_deal_upserts(self.api, self.mapping, batch)

    def link_deals(self, links: Sequence[DealLink]) -> list[WriteOutcome]:
        """Nothing to send: an Opportunity's `AccountId` links it (every link is reported done)."""
        return [WriteOutcome(link.key, True, crm_id=link.crm_id, created=link.new) for link in links]

    def fetch_deals(self, keys: Sequence[str]) -> dict[str, CrmDeal]:
        """Existing renewal deals by key (recycle bin included), for never-backward and closed checks."""
        return fetch_deals(self.api, self.mapping, keys)

    def fetch_tasks(self, keys: Sequence[str]) -> dict[str, CrmTask]:
        """Existing tasks by key (recycle bin and archive included), for the outbox's reconciliation."""
        return fetch_tasks(self.api, self.mapping, keys)

    def keyed_tasks(self, since: str | None) -> Iterator[CrmTask]:
        """Not needed here (`upserts_tasks`): task upserts by external id cannot double a task."""
        return iter(())

    def close(self) -> None:
        """Release the connection pool."""
        self.api.session.close()


# --- the client --------------------------------------------------------------------------------


def _secret(config: Config, section: SalesforceSection, key: str) -> Secret | None:
    ref = getattr(section, key)
    return resolve(ref, context=f"salesforce.{key}", base_dir=config.base_dir) if ref is not None else None


def _revealed(secret: Secret | None) -> str | None:
    return secret.reveal() if secret is not None else None


def _my_domain(section: SalesforceSection) -> str | None:
    """simple-salesforce's `domain` (`login`, `test`, `acme.my`): given, or read off the instance URL."""
    if section.domain is not None:
        return section.domain
    host = urlsplit(section.instance_url or "").hostname or ""
    return host.removesuffix(_SALESFORCE_SUFFIX) if host.endswith(_SALESFORCE_SUFFIX) else None


def _client_factory(
    section: SalesforceSection, session: requests.Session, config: Config
) -> Callable[[], Salesforce]:
    """How to build the client for the section's auth kind, with its secrets resolved now."""
    common: dict[str, Any] = {"version": section.api_version, "session": session}
    kwargs: dict[str, Any]
    if section.auth == "token":
        token = _revealed(_secret(config, section, "access_token"))
        kwargs = {"instance_url": section.instance_url, "session_id": token}
    elif section.auth == "password":
        kwargs = {
            "username": section.username,
            "password": _revealed(_secret(config, section, "password")),
            # Logins from trusted IP ranges need no security token; the SDK still wants one.
            "security_token": _revealed(_secret(config, section, "security_token")) or "",
            "domain": _my_domain(section) or "login",
        }
    elif section.auth == "client_credentials":
        domain = _my_domain(section)
        if domain is None:
            raise ConfigError(
                "salesforce.auth = 'client_credentials' signs in at the org's My Domain: set "
                "salesforce.instance_url to https://<name>.my.salesforce.com"
            )
        kwargs = {
            "consumer_key": section.consumer_key,
            "consumer_secret": _revealed(_secret(config, section, "consumer_secret")),
            "domain": domain,
        }
    else:  # jwt
        kwargs = {
            "username": section.username,
            "consumer_key": section.consumer_key,
            "privatekey": _revealed(_secret(config, section, "private_key")),
            "instance_url": section.instance_url,
            "domain": _my_domain(section) or "login",
        }
    return lambda: Salesforce(**kwargs, **common)
