"""Salesforce writes through sObject Collections: field updates, task and renewal-deal upserts.

- Field updates: `PATCH composite/sobjects`, 200 records a call, `allOrNone: false`, each record
  carrying only its own changed fields — a field a record leaves out is left alone, so records
  with different field sets can share a call without blanking anything (STYLE.md pitfall 7).
- Tasks and renewal deals: `PATCH composite/sobjects/{SObject}/{ExternalIdField}` (API v46+), an
  upsert by our key: replaying it updates the same record instead of creating a second one, which
  makes these calls safe to retry.
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html

A well-formed collections call answers 200 with one result per record, in input order, even when
some fail; each failure becomes a `WriteOutcome` with the vendor's message. Records refused with
`UNABLE_TO_LOCK_ROW` (row-lock contention with another transaction) are tried once more, after the
rest of the batch, in a call of their own; those still locked come back `retryable=True`.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from healthsync.connectors.base import FieldUpdate, WriteOutcome
from healthsync.connectors.salesforce_api import LOCK_ERROR, MAX_COLLECTION_RECORDS, SalesforceApi
from healthsync.connectors.salesforce_read import api_name
from healthsync.errors import AuthError, PaginationError, QuotaExhausted, TransientError, VendorError
from healthsync.mappings import FieldMapping
from healthsync.model import DealUpsert, TaskUpsert

__all__ = [
    "SUBJECT_MAX",
    "apply_deal_upserts",
    "apply_field_updates",
    "apply_task_upserts",
    "deal_record",
    "task_record",
]

SUBJECT_MAX = 255
"""Task.Subject length (a 255-character combobox); longer text is refused as STRING_TOO_LONG.
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_task.htm"""
DESCRIPTION_MAX = 32_000
"""Task.Description (Comments) length, same page."""
OPPORTUNITY_NAME_MAX = 120
"""Opportunity.Name length.
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_opportunity.htm"""

Keyed = tuple[str, dict[str, Any]]
"""(outcome key, record body) for one input."""


def _wire(value: Any) -> Any:
    """A value as JSON Salesforce accepts: dates as `YYYY-MM-DD`, instants in UTC, enums by value."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _error_text(errors: Sequence[Mapping[str, Any]]) -> tuple[str, bool]:
    """The vendor's message(s) for a refused record, and whether it was a row lock."""
    parts: list[str] = []
    locked = False
    for error in errors:
        code = str(error.get("statusCode") or error.get("errorCode") or "ERROR")
        message = str(error.get("message") or "")
        # A lock can also arrive wrapped, e.g. CANNOT_EXECUTE_FLOW_TRIGGER "... UNABLE_TO_LOCK_ROW ...".
        locked = locked or code == LOCK_ERROR or LOCK_ERROR in message
        fields = error.get("fields") or []
        parts.append(f"{code}: {message}" + (f" (fields: {', '.join(map(str, fields))})" if fields else ""))
    return "; ".join(parts) or "refused without a message", locked


def _outcome(key: str, result: Any) -> WriteOutcome:
    if not isinstance(result, Mapping):
        return WriteOutcome(key=key, ok=False, error=f"unexpected result {type(result).__name__}")
    created = result.get("created")
    crm_id = result.get("id")
    if result.get("success"):
        return WriteOutcome(
            key=key,
            ok=True,
            crm_id=str(crm_id) if crm_id else None,
            created=bool(created) if created is not None else None,
        )
    error, locked = _error_text([e for e in result.get("errors") or [] if isinstance(e, Mapping)])
    return WriteOutcome(
        key=key, ok=False, crm_id=str(crm_id) if crm_id else None, error=error, retryable=locked
    )


def _send(api: SalesforceApi, endpoint: str, path: str, chunk: list[Keyed]) -> list[WriteOutcome]:
    """One collections call; a call refused as a whole turns into one outcome per record."""
    body = {"allOrNone": False, "records": [record for _, record in chunk]}
    try:
        # Idempotent: an update sets absolute values, and an upsert by external id finds the record
        # a lost first attempt created, so a replay never doubles anything.
        results = api.rest(endpoint, path, method="PATCH", body=body, idempotent=True, kind="write")
    except (AuthError, QuotaExhausted, TransientError, PaginationError):
        raise  # the run stops (or Http already retried): not about these records
    except VendorError as exc:
        # e.g. 400 JSON_PARSER_ERROR: one malformed value fails the whole call on Salesforce.
        return [WriteOutcome(key=key, ok=False, error=str(exc)) for key, _ in chunk]
    if not isinstance(results, list) or len(results) != len(chunk):
        raise PaginationError(
            f"{endpoint}: expected {len(chunk)} results in input order, got "
            f"{len(results) if isinstance(results, list) else type(results).__name__}",
            vendor="salesforce",
            endpoint=endpoint,
        )
    return [_outcome(key, result) for (key, _), result in zip(chunk, results, strict=True)]


def _write(api: SalesforceApi, endpoint: str, path: str, inputs: Sequence[Keyed]) -> list[WriteOutcome]:
    """Send `inputs` 200 at a time; retry row-locked records once, after the rest, then report them."""
    outcomes: list[WriteOutcome | None] = [None] * len(inputs)
    pending = list(range(len(inputs)))
    for last_try in (False, True):
        locked: list[int] = []
        for chunk in _chunks(pending, MAX_COLLECTION_RECORDS):
            results = _send(api, endpoint, path, [inputs[i] for i in chunk])
            for index, outcome in zip(chunk, results, strict=True):
                if outcome.retryable and not last_try:
                    locked.append(index)
                else:
                    outcomes[index] = outcome
        if not locked:
            break
        pending = locked  # a later call, holding only the records that met a lock
    return [o for o in outcomes if o is not None]


# --- field updates ---------------------------------------------------------------------------


def apply_field_updates(api: SalesforceApi, batch: Sequence[FieldUpdate]) -> list[WriteOutcome]:
    """Write changed fields; one outcome per update, in input order. No values, no call."""
    outcomes: list[WriteOutcome | None] = [None] * len(batch)
    inputs: list[Keyed] = []
    positions: list[int] = []
    for index, update in enumerate(batch):
        if not update.values:
            outcomes[index] = WriteOutcome(key=update.record_id, ok=True, crm_id=update.record_id)
            continue
        record = {"attributes": {"type": update.object}, "id": update.record_id}
        record.update({name: _wire(value) for name, value in update.values.items()})
        inputs.append((update.record_id, record))
        positions.append(index)
    if inputs:
        for index, outcome in zip(
            positions, _write(api, "composite.sobjects.update", "composite/sobjects", inputs), strict=True
        ):
            outcomes[index] = outcome
    return [o for o in outcomes if o is not None]


# --- tasks and deals -------------------------------------------------------------------------


def task_record(task: TaskUpsert, mapping: FieldMapping) -> dict[str, Any]:
    """A task as an upsert record: keyed, linked to its account (`WhatId`) and owner."""
    tasks = mapping.tasks
    record: dict[str, Any] = {
        "attributes": {"type": tasks.object},
        tasks.key_field: task.key,
        "Subject": task.subject[:SUBJECT_MAX],
        "Description": task.body[:DESCRIPTION_MAX],
        "ActivityDate": _wire(task.due),
        "WhatId": task.account_id,
        "Priority": tasks.priorities[task.priority.value],
        "Status": tasks.status,
    }
    if task.owner_id is not None:  # else Salesforce assigns the API user
        record["OwnerId"] = task.owner_id
    if tasks.record_type is not None:
        record["RecordTypeId"] = tasks.record_type
    return record


def deal_record(deal: DealUpsert, mapping: FieldMapping) -> dict[str, Any]:
    """A renewal deal as an upsert record; unknown amount or owner are left out, never blanked."""
    deals = mapping.deals
    record: dict[str, Any] = {
        "attributes": {"type": deals.object},
        deals.key_field: deal.key,
        "Name": deal.name[:OPPORTUNITY_NAME_MAX],
        "StageName": deals.stages[deal.stage.value],
        "CloseDate": _wire(deal.close_date),
        "AccountId": deal.account_id,
    }
    if deal.amount is not None:
        record["Amount"] = _wire(float(deal.amount))
    if deal.owner_id is not None:
        record["OwnerId"] = deal.owner_id
    if deals.type:
        record["Type"] = deals.type
    if deals.pipeline:  # a Salesforce "pipeline" is a record type tied to a sales process
        record["RecordTypeId"] = deals.pipeline
    return record


def _upsert_path(object_name: str, key_field: str, section: str) -> str:
    """`composite/sobjects/{Object}/{ExternalIdField}`, both checked as API names named by mapping key."""
    obj = api_name(object_name, f"{section}.object")
    return f"composite/sobjects/{obj}/{api_name(key_field, f'{section}.key_field')}"


def apply_task_upserts(
    api: SalesforceApi, mapping: FieldMapping, batch: Sequence[TaskUpsert]
) -> list[WriteOutcome]:
    """Upsert tasks by their key field: a key already in the CRM updates that task, never a second one."""
    if not batch:
        return []
    path = _upsert_path(mapping.tasks.object, mapping.tasks.key_field, "tasks")
    return _write(api, "composite.sobjects.upsert", path, [(t.key, task_record(t, mapping)) for t in batch])


def apply_deal_upserts(
    api: SalesforceApi, mapping: FieldMapping, batch: Sequence[DealUpsert]
) -> list[WriteOutcome]:
    """Upsert renewal deals by their external id (the engine decides stages; this only writes)."""
    if not batch:
        return []
    path = _upsert_path(mapping.deals.object, mapping.deals.key_field, "deals")
    return _write(api, "composite.sobjects.upsert", path, [(d.key, deal_record(d, mapping)) for d in batch])
