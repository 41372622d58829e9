"""Writes to HubSpot: company fields, renewal deals and tasks, by batch at the 100-input maximum.

- Field updates: `POST /crm/v3/objects/companies/batch/update`. Each input carries only its own
  changed properties (sqlite-utils#873: no blanks for what a record left out). A partial failure is
  a 207 whose `errors[].context.ids` name the refused inputs; the rest are written.
- Deals: `POST /crm/v3/objects/deals/batch/upsert` with `idProperty` = the mapping's unique key
  property on each input, pipeline and stage as internal **ids** resolved from the mapping's labels.
  Batch upsert takes no `associations` (the SDK's `SimplePublicObjectBatchInputUpsert` has none), so
  the deal→company link (type 341) is a request of its own: `link_deals` sends v4 batch association
  creates of up to 2,000 pairs, for every new deal and for every other deal whose link a v4 batch
  read (1,000 deals a call) finds missing. `upsert_deals` links its own batch by default; the plan
  writer upserts with `link=False` and links the whole run's deals in one pass.
- Tasks: the keys are first looked up with one `batch/read` by the key property per 100 (a 207 for
  missing keys is normal), then only the missing ones are created with `batch/create`, each with its
  key and its association to the company (type 192) inline.
- HubSpot validates a create/upsert batch as a whole and refuses it with one 400 when a single input
  is bad. Such a batch is split in halves until the bad input stands alone (a different request
  each time, not a retry); if both halves fail with the batch's own message, the problem is not one
  record's and every input gets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Any

from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicAssociationMultiPost,
)
from hubspot.crm.associations.v4 import PublicFetchAssociationsBatchRequest as FetchAssociations
from hubspot.crm.associations.v4 import PublicObjectId as AssociationObjectId
from hubspot.crm.companies import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput
from hubspot.crm.deals import BatchInputSimplePublicObjectBatchInputUpsert as DealUpsertBatch
from hubspot.crm.deals import BatchReadInputSimplePublicObjectId as DealRead
from hubspot.crm.deals import SimplePublicObjectBatchInputUpsert as DealUpsertInput
from hubspot.crm.deals import SimplePublicObjectId as DealId
from hubspot.crm.objects.tasks import AssociationSpec as TaskAssociationSpec
from hubspot.crm.objects.tasks import (
    BatchInputSimplePublicObjectBatchInputForCreate as TaskCreateBatch,
)
from hubspot.crm.objects.tasks import BatchReadInputSimplePublicObjectId as TaskRead
from hubspot.crm.objects.tasks import Filter as TaskFilter
from hubspot.crm.objects.tasks import FilterGroup as TaskFilterGroup
from hubspot.crm.objects.tasks import PublicAssociationsForObject, PublicObjectId
from hubspot.crm.objects.tasks import PublicObjectSearchRequest as TaskSearch
from hubspot.crm.objects.tasks import SimplePublicObjectBatchInputForCreate as TaskInput
from hubspot.crm.objects.tasks import SimplePublicObjectId as TaskId

from healthsync.connectors.base import CrmDeal, CrmTask, DealLink, FieldUpdate, WriteOutcome
from healthsync.connectors.hubspot_api import HubSpotApi
from healthsync.connectors.paging import HubSpotAfterPaginator
from healthsync.errors import AuthError, MappingError, QuotaExhausted, TransientError, VendorError
from healthsync.mappings import FieldMapping
from healthsync.model import DealUpsert, RenewalStage, TaskUpsert

__all__ = [
    "BATCH_SIZE",
    "DEAL_TO_COMPANY",
    "TASK_TO_COMPANY",
    "Pipeline",
    "Writer",
    "wire_value",
]

BATCH_SIZE = 100
"""Inputs per batch create/read/update/upsert ("Batch operations are limited to 100 records at a
time", https://developers.hubspot.com/docs/api/crm/contacts ; vendor-facts.md §9)."""

TASK_SEARCH_PAGE = 200
"""Search's page maximum (https://developers.hubspot.com/docs/api/crm/search#limitations )."""

TASK_SEARCH_MAX = 10_000
"""Results one search query pages through (paging past them answers 400; same source)."""

ASSOCIATION_READ_MAX = 1000
"""Ids per v4 association batch read (https://developers.hubspot.com/changelog/
bug-fix-batch-read-limit-for-hubspot-associations-api)."""

ASSOCIATION_CREATE_MAX = 2000
"""Pairs per v4 association batch create (the v4 batch association endpoints take up to 2,000)."""

TASK_TO_COMPANY = 192
"""HUBSPOT_DEFINED association type task→company (hubspot/crm/association_type.py, vendor-facts §14)."""

DEAL_TO_COMPANY = 341
"""HUBSPOT_DEFINED unlabeled association type deal→company (same source)."""

_CATEGORY = "HUBSPOT_DEFINED"

TASK_PROPERTIES = ("hs_task_status", "hubspot_owner_id", "hs_timestamp")
"""What a task read asks for besides the key: enough to tell open from done, and its owner and due date."""


@dataclass(frozen=True)
class Pipeline:
    """A deal pipeline: its id and its stages' ids by label."""

    id: str
    label: str
    stages: dict[str, str]


def wire_value(value: Any) -> str:
    """A value as HubSpot takes it: strings; "" clears; instants as epoch ms; dates as `YYYY-MM-DD`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return str(int(stamp.timestamp() * 1000))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _instant_ms(stamp: str) -> str:
    """An ISO 8601 instant HubSpot reported, as the epoch milliseconds search filters take."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1000))


def _midnight_ms(day: date) -> str:
    return str(int(datetime.combine(day, time(0), tzinfo=UTC).timestamp() * 1000))


def _chunks(items: Sequence[Any], size: int = BATCH_SIZE) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _results(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """`results[]` of a batch answer (decoded JSON), objects only."""
    return [r for r in answer.get("results") or [] if isinstance(r, dict)]


def _errors(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """`errors[]` of a 207 answer (StandardError objects)."""
    return [e for e in answer.get("errors") or [] if isinstance(e, dict)]


def _first_error(answer: dict[str, Any]) -> str:
    errors = _errors(answer)
    return str(errors[0].get("message") or "refused") if errors else "HubSpot did not report it"


def _errors_by_id(answer: dict[str, Any]) -> dict[str, str]:
    """`errors[].context.ids` of a 207 answer, id → HubSpot's message."""
    out: dict[str, str] = {}
    for error in _errors(answer):
        context = error.get("context") or {}
        for raw in context.get("ids") or context.get("id") or []:
            out.setdefault(str(raw), str(error.get("message") or error.get("category") or "refused"))
    return out


def _key_of(record: dict[str, Any], key_field: str) -> str:
    return str((record.get("properties") or {}).get(key_field) or "")


def _task_of(key: str, crm_id: str, values: dict[str, Any], created_at: str | None = None) -> CrmTask:
    """A task's properties (`TASK_PROPERTIES`) as a `CrmTask`."""
    return CrmTask(
        key=key,
        crm_id=crm_id,
        status=values.get("hs_task_status"),
        is_closed=values.get("hs_task_status") == "COMPLETED",
        owner_id=values.get("hubspot_owner_id") or None,
        account_id=None,
        due=_day(values.get("hs_timestamp")),
        created_at=created_at,
    )


def _record_level(error: VendorError) -> bool:
    """A refusal that may concern one input of the batch (not auth, quota, outage or a bug of ours)."""
    return not isinstance(error, AuthError | QuotaExhausted | TransientError) and error.status in {400, 409}


class Writer:
    """Batch writes for one connector.

    Args:
        api: the HubSpot wire.
        mapping: object names, key properties, task values and deal stages.
        pipelines: deal pipelines by label, fetched once when first needed.
    """

    def __init__(self, api: HubSpotApi, mapping: FieldMapping, pipelines: Callable[[], dict[str, Pipeline]]):
        self.api = api
        self.mapping = mapping
        self._pipelines = pipelines

    # --- company fields -------------------------------------------------------------------------

    def update_fields(self, batch: Sequence[FieldUpdate]) -> list[WriteOutcome]:
        """Write changed properties, 100 records per call; refused records come back as outcomes."""
        merged: dict[str, dict[str, str]] = {}
        for update in batch:  # one input per record: HubSpot refuses duplicate ids in a batch
            merged.setdefault(update.record_id, {}).update(
                {name: wire_value(value) for name, value in update.values.items()}
            )
        results: dict[str, WriteOutcome] = {}
        api = self.api.api("crm.companies.batch_api")
        conf = self.api.models("crm.companies.batch_api")
        for chunk in _chunks(list(merged.items())):
            body = BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    SimplePublicObjectBatchInput(id=rid, properties=props, local_vars_configuration=conf)
                    for rid, props in chunk
                ],
                local_vars_configuration=conf,
            )
            response = self.api.call_json(
                "companies.batch_update",
                partial(api.update, batch_input_simple_public_object_batch_input=body),
                idempotent=True,  # setting the same values again changes nothing
                kind="write",
            )
            written = {str(r.get("id")) for r in _results(response)}
            refused = _errors_by_id(response)
            for rid, _ in chunk:
                if rid in refused:
                    results[rid] = WriteOutcome(rid, False, crm_id=rid, error=refused[rid])
                elif rid in written:
                    results[rid] = WriteOutcome(rid, True, crm_id=rid, created=False)
                else:
                    results[rid] = WriteOutcome(rid, False, crm_id=rid, error="HubSpot did not report it")
        return [results[u.record_id] for u in batch]

    # --- renewal deals --------------------------------------------------------------------------

    def _pipeline_ids(self, deal: DealUpsert) -> tuple[str, str]:
        deals = self.mapping.deals
        label = deals.pipeline or deal.pipeline
        pipelines = self._pipelines()
        pipeline = pipelines.get(label) or next(
            (p for p in pipelines.values() if p.label.casefold() == label.casefold() or p.id == label), None
        )
        if pipeline is None:
            raise MappingError(
                f"deal pipeline '{label}' (mapping deals.pipeline) does not exist in HubSpot; "
                f"known: {', '.join(sorted(pipelines)) or 'none'} (fix: create it with "
                "`healthsync fields apply` or set deals.pipeline to an existing label)"
            )
        stage_label = deals.stages.get(deal.stage.value, deal.stage.value)
        stage = pipeline.stages.get(stage_label) or next(
            (sid for lab, sid in pipeline.stages.items() if lab.casefold() == stage_label.casefold()), None
        )
        if stage is None:
            raise MappingError(
                f"stage '{stage_label}' (mapping deals.stages.{deal.stage.value}) is not a stage of "
                f"pipeline '{pipeline.label}'; its stages: {', '.join(pipeline.stages)}"
            )
        return pipeline.id, stage

    def _deal_properties(self, deal: DealUpsert) -> dict[str, str]:
        pipeline, stage = self._pipeline_ids(deal)
        props = {
            self.mapping.deals.key_field: deal.key,
            "dealname": deal.name,
            "closedate": _midnight_ms(deal.close_date),
            "pipeline": pipeline,
            "dealstage": stage,
        }
        if deal.amount is not None:
            props["amount"] = wire_value(float(deal.amount))
        if deal.owner_id:
            props["hubspot_owner_id"] = deal.owner_id
        return props

    def upsert_deals(self, batch: Sequence[DealUpsert], *, link: bool = True) -> list[WriteOutcome]:
        """Upsert renewal deals by their key property, 100 a call; with `link`, link them afterwards.

        `link=False` leaves the links to a later `link_deals` call covering many batches (what the
        plan writer does: the links of a whole run then go out 2,000 a call).
        """
        unique = list({d.key: d for d in batch}.values())
        outcomes: dict[str, WriteOutcome] = {}
        for chunk in _chunks(unique):
            for outcome in self._isolate(list(chunk), self._upsert_deal_chunk):
                outcomes[outcome.key] = outcome
        if link:
            saved = [(d, outcomes[d.key]) for d in unique if outcomes[d.key].ok]
            links = [DealLink(d.key, str(o.crm_id), d.account_id, new=bool(o.created)) for d, o in saved]
            for (deal, saved_as), linked in zip(saved, self.link_deals(links), strict=True):
                if not linked.ok:
                    outcomes[deal.key] = replace(saved_as, ok=False, error=linked.error)
        return [outcomes[d.key] for d in batch]

    def _upsert_deal_chunk(self, chunk: list[DealUpsert]) -> list[WriteOutcome]:
        key_field = self.mapping.deals.key_field
        conf = self.api.models("crm.deals.batch_api")
        body = DealUpsertBatch(
            inputs=[
                DealUpsertInput(
                    id_property=key_field,
                    id=d.key,
                    properties=self._deal_properties(d),
                    local_vars_configuration=conf,
                )
                for d in chunk
            ],
            local_vars_configuration=conf,
        )
        api = self.api.api("crm.deals.batch_api")
        response = self.api.call_json(
            "deals.batch_upsert",
            partial(api.upsert, batch_input_simple_public_object_batch_input_upsert=body),
            idempotent=True,  # by a unique key: a replay updates what the first call created
            kind="write",
        )
        by_key = {_key_of(r, key_field): r for r in _results(response)}
        refused = _errors_by_id(response)
        out = []
        for deal in chunk:
            found = by_key.get(deal.key)
            if found is not None:
                out.append(
                    WriteOutcome(deal.key, True, crm_id=str(found.get("id")), created=bool(found.get("new")))
                )
            else:
                out.append(
                    WriteOutcome(deal.key, False, error=refused.get(deal.key, "HubSpot did not report it"))
                )
        return out

    def link_deals(self, links: Sequence[DealLink]) -> list[WriteOutcome]:
        """Associate deals with their companies where the link is missing (type 341), in v4 batches.

        New deals need their link; for the others the existing links are read first (1,000 deals a
        call), so a linked deal costs no write. A refused pair comes back as "deal saved but not
        linked"; outcomes are in input order.
        """
        unique = list({link.key: link for link in links}.values())
        outcomes = {
            link.key: WriteOutcome(link.key, True, crm_id=link.crm_id, created=link.new) for link in unique
        }
        linked = self._company_links([link.crm_id for link in unique if not link.new])
        missing = [link for link in unique if link.account_id not in linked.get(link.crm_id, set())]
        api = self.api.api("crm.associations.v4.batch_api")
        conf = self.api.models("crm.associations.v4.batch_api")
        spec = [
            AssociationSpec(
                association_category=_CATEGORY,
                association_type_id=DEAL_TO_COMPANY,
                local_vars_configuration=conf,
            )
        ]
        for chunk in _chunks(missing, ASSOCIATION_CREATE_MAX):
            pairs = BatchInputPublicAssociationMultiPost(
                inputs=[
                    PublicAssociationMultiPost(
                        _from=AssociationObjectId(id=link.crm_id, local_vars_configuration=conf),
                        to=AssociationObjectId(id=link.account_id, local_vars_configuration=conf),
                        types=spec,
                        local_vars_configuration=conf,
                    )
                    for link in chunk
                ],
                local_vars_configuration=conf,
            )
            try:
                response = self.api.call_json(
                    "deals.associate",
                    partial(
                        api.create,
                        from_object_type="deals",
                        to_object_type="companies",
                        batch_input_public_association_multi_post=pairs,
                    ),
                    idempotent=True,  # associating a linked pair again changes nothing
                    kind="write",
                )
            except VendorError as exc:
                if not _record_level(exc):
                    raise
                for link in chunk:
                    outcomes[link.key] = _unlinked(link, str(exc))
                continue
            done = {(str(r.get("fromObjectId")), str(r.get("toObjectId"))) for r in _results(response)}
            message = _first_error(response)
            for link in chunk:
                if (link.crm_id, link.account_id) not in done:
                    outcomes[link.key] = _unlinked(link, message)
        return [outcomes[link.key] for link in links]

    def _company_links(self, deal_ids: Sequence[str]) -> dict[str, set[str]]:
        """The companies each deal is linked to, by deal id (one v4 batch read per 1,000 deals)."""
        linked: dict[str, set[str]] = {}
        api = self.api.api("crm.associations.v4.batch_api")
        conf = self.api.models("crm.associations.v4.batch_api")
        for chunk in _chunks(list(dict.fromkeys(deal_ids)), ASSOCIATION_READ_MAX):
            body = BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[FetchAssociations(id=i, local_vars_configuration=conf) for i in chunk],
                local_vars_configuration=conf,
            )
            response = self.api.call_json(
                "deals.associations_read",
                partial(
                    api.get_page,
                    from_object_type="deals",
                    to_object_type="companies",
                    batch_input_public_fetch_associations_batch_request=body,
                ),
                idempotent=True,
                kind="read",
            )
            for item in _results(response):
                source = item.get("from") or {}
                linked[str(source.get("id"))] = {
                    str(t.get("toObjectId")) for t in item.get("to") or [] if isinstance(t, dict)
                }
        return linked

    def fetch_deals(self, keys: Sequence[str]) -> dict[str, CrmDeal]:
        """The renewal deals that exist for `keys`, with stage and closed state, 100 keys per call."""
        deals = self.mapping.deals
        props = [deals.key_field, "dealstage", "pipeline", "closedate", "amount"]
        if deals.loss_reason_field:
            props.append(deals.loss_reason_field)
        rows = self._rows_by_key(
            "crm.deals.batch_api",
            "deals.batch_read",
            deals.key_field,
            keys,
            lambda key_field, chunk, conf: DealRead(
                id_property=key_field,
                inputs=[DealId(id=k, local_vars_configuration=conf) for k in chunk],
                properties=props,
                local_vars_configuration=conf,
            ),
        )
        labels = {sid: label for p in self._pipelines().values() for label, sid in p.stages.items()}
        canonical = {crm.casefold(): RenewalStage(name) for name, crm in deals.stages.items()}
        closed = {c.casefold() for c in deals.closed_stages}
        found: dict[str, CrmDeal] = {}
        for key, (crm_id, values) in rows.items():
            stage_name = labels.get(str(values.get("dealstage")), values.get("dealstage"))
            folded = str(stage_name or "").casefold()
            amount = values.get("amount")
            found[key] = CrmDeal(
                key=key,
                crm_id=crm_id,
                stage_name=stage_name,
                stage=canonical.get(folded),
                is_closed=folded in closed,
                close_date=_day(values.get("closedate")),
                amount=float(amount) if amount not in (None, "") else None,
                account_id=None,  # batch read carries no associations; the key names the account
                loss_reason=(str(values.get(deals.loss_reason_field) or "") or None)
                if deals.loss_reason_field
                else None,
            )
        return found

    def _rows_by_key(
        self,
        api_path: str,
        endpoint: str,
        key_field: str,
        keys: Sequence[str],
        body: Callable[[str, Sequence[str], Any], Any],
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """Batch-read records by a unique key property: (id, properties) by key; 207s for missing keys."""
        api = self.api.api(api_path)
        conf = self.api.models(api_path)
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        for chunk in _chunks(list(dict.fromkeys(keys))):
            response = self.api.call_json(
                endpoint,
                partial(
                    api.read,
                    batch_read_input_simple_public_object_id=body(key_field, chunk, conf),
                    archived=False,
                ),
                idempotent=True,
                kind="read",
            )
            for record in _results(response):
                values = dict(record.get("properties") or {})
                found[str(values.get(key_field))] = (str(record.get("id")), values)
        return found

    # --- tasks ----------------------------------------------------------------------------------

    def fetch_tasks(self, keys: Sequence[str]) -> dict[str, CrmTask]:
        """The healthsync tasks that exist for `keys`, 100 keys per call (207 for missing ones)."""
        key_field = self.mapping.tasks.key_field
        props = [key_field, *TASK_PROPERTIES]
        rows = self._rows_by_key(
            "crm.objects.tasks.batch_api",
            "tasks.batch_read",
            key_field,
            keys,
            lambda key_field, chunk, conf: TaskRead(
                id_property=key_field,
                inputs=[TaskId(id=k, local_vars_configuration=conf) for k in chunk],
                properties=props,
                local_vars_configuration=conf,
            ),
        )
        return {key: _task_of(key, crm_id, values) for key, (crm_id, values) in rows.items()}

    def keyed_tasks(self, since: str | None) -> Iterator[CrmTask]:
        """Tasks carrying the key property, created at or after `since` (all when None).

        Search, 200 a page, in `hs_object_id` order: ids are unique, so when a query reaches
        search's 10,000-result cap the next one starts after the last id read, with no ties to walk
        (creation times are not unique: a batch create stamps its tasks alike).
        """
        key_field = self.mapping.tasks.key_field
        api = self.api.api("crm.objects.tasks.search_api")
        conf = self.api.models("crm.objects.tasks.search_api")
        base = [TaskFilter(property_name=key_field, operator="HAS_PROPERTY", local_vars_configuration=conf)]
        if since is not None:
            base.append(
                TaskFilter(
                    property_name="hs_createdate",
                    operator="GTE",
                    value=_instant_ms(since),
                    local_vars_configuration=conf,
                )
            )
        id_after: str | None = None
        while True:
            filters = list(base)
            if id_after is not None:
                filters.append(
                    TaskFilter(
                        property_name="hs_object_id",
                        operator="GT",
                        value=id_after,
                        local_vars_configuration=conf,
                    )
                )
            paginator = HubSpotAfterPaginator()
            read = 0
            while True:
                body = TaskSearch(
                    filter_groups=[TaskFilterGroup(filters=filters, local_vars_configuration=conf)],
                    sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    properties=[key_field, *TASK_PROPERTIES],
                    limit=TASK_SEARCH_PAGE,
                    after=paginator.token,
                    local_vars_configuration=conf,
                )
                answer = self.api.call_json(
                    "tasks.search",
                    partial(api.do_search, public_object_search_request=body),
                    idempotent=True,
                    kind="read",
                )
                paginator.read(answer)
                results = _results(answer)
                for record in results:
                    id_after = str(record.get("id"))
                    values = record.get("properties") or {}
                    stamp = str(record.get("createdAt") or "") or None
                    yield _task_of(str(values.get(key_field) or ""), id_after, values, stamp)
                read += len(results)
                if paginator.done or not results:
                    return
                if read + TASK_SEARCH_PAGE > TASK_SEARCH_MAX:
                    break  # the next page would pass the cap: a new query after the last id

    def upsert_tasks(self, batch: Sequence[TaskUpsert], *, look_up: bool = True) -> list[WriteOutcome]:
        """Create the tasks whose key is not in HubSpot yet; existing keys are reported, not re-created.

        HubSpot has no task upsert, so unless the caller vouches for the keys (`look_up=False`) they
        are batch-read first, 100 a call.
        """
        unique = list({t.key: t for t in batch}.values())
        if not unique:
            return []
        existing = self.fetch_tasks([t.key for t in unique]) if look_up else {}
        outcomes = {
            key: WriteOutcome(key, True, crm_id=task.crm_id, created=False) for key, task in existing.items()
        }
        missing = [t for t in unique if t.key not in existing]
        for chunk in _chunks(missing):
            for outcome in self._isolate(list(chunk), self._create_task_chunk):
                outcomes[outcome.key] = outcome
        return [outcomes[t.key] for t in batch]

    def _task_input(self, task: TaskUpsert, conf: Any) -> TaskInput:
        tasks = self.mapping.tasks
        props = {
            tasks.key_field: task.key,
            "hs_task_subject": task.subject,
            "hs_task_body": task.body,
            "hs_timestamp": _midnight_ms(task.due),  # required: the due date (vendor-facts §14)
            "hs_task_status": tasks.status,
            "hs_task_priority": tasks.priorities.get(task.priority.value, task.priority.value.upper()),
            "hs_task_type": "TODO",
        }
        if task.owner_id:
            props["hubspot_owner_id"] = task.owner_id
        association = PublicAssociationsForObject(
            to=PublicObjectId(id=task.account_id, local_vars_configuration=conf),
            types=[self._task_link(conf)],
            local_vars_configuration=conf,
        )
        return TaskInput(properties=props, associations=[association], local_vars_configuration=conf)

    @staticmethod
    def _task_link(conf: Any) -> TaskAssociationSpec:
        return TaskAssociationSpec(
            association_category=_CATEGORY,
            association_type_id=TASK_TO_COMPANY,
            local_vars_configuration=conf,
        )

    def _create_task_chunk(self, chunk: list[TaskUpsert]) -> list[WriteOutcome]:
        key_field = self.mapping.tasks.key_field
        conf = self.api.models("crm.objects.tasks.batch_api")
        body = TaskCreateBatch(
            inputs=[self._task_input(t, conf) for t in chunk], local_vars_configuration=conf
        )
        api = self.api.api("crm.objects.tasks.batch_api")
        response = self.api.call_json(
            "tasks.batch_create",
            partial(api.create, batch_input_simple_public_object_batch_input_for_create=body),
            idempotent=False,  # a create: never replayed blindly; the outbox reconciles by key
            kind="write",
        )
        by_key = {_key_of(r, key_field): r for r in _results(response)}
        message = _first_error(response)
        out = []
        for t in chunk:
            found = by_key.get(t.key)
            if found is None:
                out.append(WriteOutcome(t.key, False, error=message))
                continue
            stamp = str(found.get("createdAt") or "") or None
            out.append(WriteOutcome(t.key, True, crm_id=str(found.get("id")), created=True, created_at=stamp))
        return out

    # --- partial failure ------------------------------------------------------------------------

    def _isolate(
        self, chunk: list[Any], send: Callable[[list[Any]], list[WriteOutcome]]
    ) -> list[WriteOutcome]:
        """`send(chunk)`, splitting a batch HubSpot refuses as a whole until the bad input stands alone."""
        try:
            return send(chunk)
        except VendorError as exc:
            if not _record_level(exc):
                raise
            return self._split(chunk, send, str(exc))

    def _split(
        self, chunk: list[Any], send: Callable[[list[Any]], list[WriteOutcome]], message: str
    ) -> list[WriteOutcome]:
        if len(chunk) == 1:
            return [WriteOutcome(chunk[0].key, False, error=message)]
        middle = len(chunk) // 2
        halves = [chunk[:middle], chunk[middle:]]
        answers: list[list[WriteOutcome] | VendorError] = []
        for half in halves:
            try:
                answers.append(send(half))
            except VendorError as exc:
                if not _record_level(exc):
                    raise
                answers.append(exc)
        if all(isinstance(a, VendorError) and str(a) == message for a in answers):
            # Both halves refused for the batch's own reason: not one record's fault.
            return [WriteOutcome(item.key, False, error=message) for item in chunk]
        out: list[WriteOutcome] = []
        for half, answer in zip(halves, answers, strict=True):
            out += self._split(half, send, str(answer)) if isinstance(answer, VendorError) else answer
        return out


def _unlinked(link: DealLink, message: str) -> WriteOutcome:
    return WriteOutcome(
        link.key,
        False,
        crm_id=link.crm_id,
        created=link.new,
        error=f"deal saved but not linked to company {link.account_id}: {message}",
    )


def _day(raw: Any) -> date | None:
    """A HubSpot date or datetime property (ISO text or epoch ms) as a date; None when unreadable."""
    if raw in (None, ""):
        return None
    text = str(raw)
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC).date()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None
