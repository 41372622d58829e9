"""HubSpot as the CRM: companies read as accounts, health fields, renewal deals and tasks written back.

Over the unmodified hubspot-api-client 12. The wire (client, limits, error translation) is in
`hubspot_api.py`, reads in `hubspot_read.py`, writes in `hubspot_write.py`; this module assembles
them into one object that is both an `AccountSource` and a `CrmWriter`, plus the schema, owners
and pipelines the mapping is checked and resolved against.

Requests a run makes beyond the records themselves (the "fixed handful" the contract tests count):
the schema check's properties read per mapped object (companies, deals, tasks: 1 each, not paged)
and deal pipelines read (1, kept for the connector's life; `describe` alone is 1), `owners` 1 per
500 owners, and on incremental pulls 1 per 100 archived companies. Property groups are read only
when provisioning looks at them (`fields apply`), never by a sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from healthsync.config import Config
from healthsync.connectors.base import (
    CrmDeal,
    CrmTask,
    DealLink,
    FieldSchema,
    FieldUpdate,
    ObjectSchema,
    Owner,
    Page,
    WriteOutcome,
)
from healthsync.connectors.hubspot_api import HubSpotApi
from healthsync.connectors.hubspot_read import CompanyReader, StreamSpec
from healthsync.connectors.hubspot_schema import apply_changes as apply_schema_changes
from healthsync.connectors.hubspot_write import Pipeline, Writer
from healthsync.connectors.incremental import WatermarkState
from healthsync.connectors.paging import HubSpotAfterPaginator
from healthsync.errors import ConfigError, VendorError
from healthsync.http import Http
from healthsync.mappings import FieldMapping, load_mapping
from healthsync.mappings.provision import Change
from healthsync.mappings.validate import LiveSchema
from healthsync.model import Account, DealUpsert, TaskUpsert
from healthsync.secrets import resolve

__all__ = ["OWNERS_PAGE_SIZE", "HubSpotConnector"]

OWNERS_PAGE_SIZE = 500
"""Owners API maximum `limit` (https://developers.hubspot.com/docs/api/crm/owners )."""


SYNC_SCOPES: dict[str, frozenset[str]] = {
    "read companies": frozenset({"crm.objects.companies.read"}),
    "write companies": frozenset({"crm.objects.companies.write"}),
    "read deals": frozenset({"crm.objects.deals.read"}),
    "write deals": frozenset({"crm.objects.deals.write"}),
    "create tasks": frozenset({"crm.objects.contacts.write", "crm.objects.tasks.write"}),
    "read owners": frozenset({"crm.objects.owners.read"}),
    "read company properties": frozenset({"crm.schemas.companies.read", "crm.objects.companies.read"}),
}
"""What a sync needs, and the private-app scopes that grant it (tasks take the contacts scopes in
the v3 tasks spec's `security`; https://developers.hubspot.com/scopes)."""


class _LazyGroups(Mapping[str, tuple[str, ...]]):
    """Property group names per object, read on first use (see `HubSpotConnector.live_schema`)."""

    def __init__(self, load: Callable[[], dict[str, tuple[str, ...]]]) -> None:
        self._load = load
        self._groups: dict[str, tuple[str, ...]] | None = None

    def _loaded(self) -> dict[str, tuple[str, ...]]:
        if self._groups is None:
            self._groups = self._load()
        return self._groups

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


class HubSpotConnector:
    """Companies, owners, schema and pipelines of one HubSpot portal; batch writes back.

    Build it with `from_config`. Every request goes through the run's `Http`.
    """

    separate_deal_links = True
    """Batch upsert takes no associations: deals are linked to companies by v4 batch creates."""
    upserts_tasks = False
    """Tasks have no upsert (their key property is not a unique one): a create is a create."""

    def __init__(
        self,
        api: HubSpotApi,
        mapping: FieldMapping,
        *,
        lag: timedelta,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.api = api
        self.mapping = mapping
        self.reader = CompanyReader(api, mapping, lag=lag, now=clock or (lambda: datetime.now(UTC)))
        self.writer = Writer(api, mapping, self.pipelines)
        self._pipelines: dict[str, Pipeline] | None = None

    @classmethod
    def from_config(
        cls,
        config: Config,
        http: Http,
        mapping: FieldMapping | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> HubSpotConnector:
        """Resolve the token, register the limiters and build the client.

        Args:
            config: needs a [hubspot] section.
            http: the run's retry, limit and count layer.
            mapping: the field mapping (default: the built-in one, overridden by `crm.mapping`).
            clock: the current instant, for the watermark's signpost (tests pass a simulated clock).

        Raises:
            ConfigError: no [hubspot] section, or the token cannot be found.
        """
        section = config.hubspot
        if section is None:
            raise ConfigError("[hubspot] is missing: add access_token (and tier) to the config")
        token = resolve(section.access_token, context="hubspot.access_token", base_dir=config.base_dir)
        api = HubSpotApi(
            token=token.reveal(),
            host=str(section.host),
            http=http,
            requests_per_10s=section.requests_per_10s,
            daily_requests=section.daily_requests,
            ca_bundle=str(section.ca_bundle) if section.ca_bundle is not None else None,
        )
        if mapping is None:
            mapping = load_mapping("hubspot", config.crm.mapping)
        return cls(api, mapping, lag=timedelta(minutes=config.sync.lookback_minutes), clock=clock)

    @property
    def companies(self) -> StreamSpec:
        """The companies stream's declaration (page sizes, cursor, key)."""
        return self.reader.spec

    # --- AccountSource --------------------------------------------------------------------------

    def iter_accounts(
        self, since: WatermarkState | None = None, *, run_started: datetime | None = None
    ) -> Iterator[Page[Account]]:
        """Companies changed at or after `since` (all when None); archived ones in `Page.deleted`.

        `run_started` (default: the clock, now) caps the watermark, as for Salesforce.
        """
        return self.reader.iter_accounts(since, run_started)

    def describe(self) -> ObjectSchema:
        """The live company properties (one call to the properties API)."""
        object_name = self.mapping.account.object
        return self.describe_object(object_name)

    def describe_object(self, object_name: str) -> ObjectSchema:
        """The live properties of any CRM object (`companies`, `deals`, `tasks`)."""
        api = self.api.api("crm.properties.core_api")
        response = self.api.call(
            f"properties.{object_name}",
            lambda: api.get_all(object_type=object_name, archived=False),
            idempotent=True,
            kind="read",
        )
        fields = {}
        for prop in response.results or []:
            meta = prop.modification_metadata
            read_only = bool(getattr(meta, "read_only_value", False)) or bool(prop.calculated)
            fields[str(prop.name)] = FieldSchema(
                name=str(prop.name),
                label=str(prop.label or prop.name),
                type=str(prop.type),
                writable=not read_only,
                unique=bool(prop.has_unique_value),
                external_id=bool(prop.has_unique_value),
                options=tuple(str(o.value) for o in prop.options or []),
                custom=not bool(prop.hubspot_defined),
            )
        return ObjectSchema(object_name, fields)

    def owners(self) -> dict[str, Owner]:
        """Active owners by id, 500 per call."""
        api = self.api.api("crm.owners.owners_api")
        paginator = HubSpotAfterPaginator()
        out: dict[str, Owner] = {}
        while not paginator.done:
            params: dict[str, Any] = {"limit": OWNERS_PAGE_SIZE, "archived": False, **paginator.next_params()}
            response = self.api.call(
                "owners.list", partial(api.get_page, **params), idempotent=True, kind="read"
            )
            paging = response.paging.to_dict() if response.paging is not None else None
            paginator.read({"results": list(response.results or []), "paging": paging})
            for owner in response.results or []:
                name = " ".join(p for p in (owner.first_name, owner.last_name) if p) or str(
                    owner.email or owner.id
                )
                out[str(owner.id)] = Owner(
                    id=str(owner.id), name=name, email=owner.email, active=not bool(owner.archived)
                )
        return out

    def live_schema(self, objects: Sequence[str]) -> LiveSchema:
        """The live properties of `objects` and the deal pipelines, read afresh (one call each).

        Property groups matter only to provisioning (`fields apply` puts new properties in one),
        not to the check a sync makes, so they are read when first looked at: a sync reads none.
        """
        found: dict[str, ObjectSchema] = {}
        for name in dict.fromkeys(objects):
            try:
                found[name] = self.describe_object(name)
            except VendorError as exc:
                if exc.status not in (400, 404):
                    raise
        self._pipelines = None
        pipelines = {label: dict(p.stages) for label, p in self.pipelines().items()}
        return LiveSchema(found, pipelines, _LazyGroups(partial(self._property_groups, tuple(found))))

    def _property_groups(self, objects: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The live property group names of `objects` (one call each)."""
        groups_api = self.api.api("crm.properties.groups_api")
        groups: dict[str, tuple[str, ...]] = {}
        for name in objects:
            answer = self.api.call(
                f"property_groups.{name}",
                partial(groups_api.get_all, object_type=name),
                idempotent=True,
                kind="read",
            )
            groups[name] = tuple(
                str(g.name) for g in answer.results or [] if not getattr(g, "archived", False)
            )
        return groups

    def apply_changes(self, changes: Sequence[Change]) -> list[str]:
        """Create property groups, properties, options, the renewal pipeline and stages."""
        done = apply_schema_changes(
            self.api, changes, group=self.mapping.account.property_group, pipelines=self.pipelines()
        )
        self._pipelines = None  # stages and pipelines changed: read them afresh when next needed
        return done

    def token_info(self) -> dict[str, Any] | None:
        """`POST /oauth/v2/private-apps/get/access-token-info`: `{userId, hubId, appId, scopes}` of a
        private-app token, errors raised (`auth test` tells a refusal from an OAuth token by them)."""
        token = self.api.client.config.get("access_token")
        # Through an SDK api_client, so the configured host, TLS settings and error translation apply.
        api_client = self.api.api("crm.companies.basic_api").api_client
        answer = self.api.call(
            "oauth.token_info",
            lambda: api_client.call_api(
                "/oauth/v2/private-apps/get/access-token-info",
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

    def token_scopes(self) -> frozenset[str] | None:
        """The private-app token's scopes, or None when HubSpot does not say (e.g. an OAuth token):
        then the object reads must tell."""
        try:
            info = self.token_info()
        except VendorError:
            return None  # not a private-app token, or introspection unavailable
        scopes = info.get("scopes") if info is not None else None
        return frozenset(str(s) for s in scopes) if isinstance(scopes, list) else None

    def missing_permissions(self, live: LiveSchema) -> list[str]:
        """What the token may not do but a sync must: each missing need with the scope that grants it."""
        missing = [
            f"read {obj}"
            for obj in dict.fromkeys(
                (self.mapping.account.object, self.mapping.tasks.object, self.mapping.deals.object)
            )
            if obj not in live.objects
        ]
        scopes = self.token_scopes()
        if scopes is not None:
            missing += [
                f"{need} (scope {' or '.join(sorted(options))})"
                for need, options in SYNC_SCOPES.items()
                if not scopes & options
            ]
        return missing

    def pipelines(self) -> dict[str, Pipeline]:
        """Deal pipelines by label with their stage ids by label; read once, then cached."""
        if self._pipelines is None:
            api = self.api.api("crm.pipelines.pipelines_api")
            response = self.api.call(
                "pipelines.deals",
                lambda: api.get_all(object_type="deals"),
                idempotent=True,
                kind="read",
            )
            self._pipelines = {
                str(p.label): Pipeline(
                    id=str(p.id),
                    label=str(p.label),
                    stages={str(s.label): str(s.id) for s in p.stages or [] if not s.archived},
                )
                for p in response.results or []
                if not p.archived
            }
        return self._pipelines

    # --- CrmWriter ------------------------------------------------------------------------------

    def update_fields(self, batch: Sequence[FieldUpdate]) -> list[WriteOutcome]:
        """Write changed company properties, 100 records per batch update; outcomes in input order."""
        return self.writer.update_fields(batch)

    def upsert_deals(self, batch: Sequence[DealUpsert], *, link: bool = True) -> list[WriteOutcome]:
        """Upsert renewal deals by their key property; link them to their companies unless `link=False`."""
        return self.writer.upsert_deals(batch, link=link)

    def link_deals(self, links: Sequence[DealLink]) -> list[WriteOutcome]:
        """Link saved deals to their companies where missing, 2,000 pairs per v4 batch create."""
        return self.writer.link_deals(links)

    def upsert_tasks(self, batch: Sequence[TaskUpsert], *, look_up: bool = True) -> list[WriteOutcome]:
        """Create tasks whose key HubSpot does not hold yet (never twice for one key); `look_up=False`
        skips the key reads where the caller vouches for the keys."""
        return self.writer.upsert_tasks(batch, look_up=look_up)

    def keyed_tasks(self, since: str | None) -> Iterator[CrmTask]:
        """Tasks with the key property created at or after `since` (all when None), by search."""
        return self.writer.keyed_tasks(since)

    def fetch_deals(self, keys: Sequence[str]) -> dict[str, CrmDeal]:
        """The renewal deals that exist for `keys`, with their stage, 100 keys per call."""
        return self.writer.fetch_deals(keys)

    def fetch_tasks(self, keys: Sequence[str]) -> dict[str, CrmTask]:
        """The healthsync tasks that exist for `keys`, 100 keys per call (outbox reconciliation)."""
        return self.writer.fetch_tasks(keys)
