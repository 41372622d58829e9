"""Salesforce reads: accounts by SOQL with a `SystemModstamp` watermark, describe, owners, and lookups.

Accounts are read with one SOQL statement over the mapped account object, 2,000 records a page,
ordered by `SystemModstamp, Id` so that the watermark committed with each page is a true resume
point. A first pull uses `query`; an incremental pull uses `queryAll`, whose results include
records in the recycle bin (`IsDeleted = true`, stamped when they were deleted), so deletions and
merges since the last run come back as `Page.deleted`
(https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm).

`SystemModstamp` rather than `LastModifiedDate`: it also moves when the system changes a record
(automation, deletes), so it never trails a change a person or a process made.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from healthsync.connectors.base import CrmDeal, CrmTask, FieldSchema, ObjectSchema, Owner, Page
from healthsync.connectors.incremental import Watermark, WatermarkState
from healthsync.connectors.salesforce_api import SalesforceApi
from healthsync.errors import MappingError, PaginationError
from healthsync.mappings import FieldMapping
from healthsync.mappings.transforms import from_crm
from healthsync.model import Account, Band, Override, RenewalStage

__all__ = [
    "ACCOUNT_WATERMARK",
    "SYSTEM_MODSTAMP",
    "CrmDeal",
    "CrmTask",
    "account_soql",
    "api_name",
    "fetch_deals",
    "fetch_owners",
    "fetch_schema",
    "fetch_tasks",
    "iter_accounts",
    "soql_datetime",
    "soql_string",
    "to_account",
    "to_object_schema",
]

log = logging.getLogger("healthsync.connectors.salesforce")

SYSTEM_MODSTAMP = "SystemModstamp"

ACCOUNT_WATERMARK = Watermark(SYSTEM_MODSTAMP, lag=timedelta(minutes=2))
"""Closed lower bound on `SystemModstamp`, with a small overlap for clocks and late commits."""

IN_LIST_CHARS = 4_000
"""Characters of quoted keys per `IN (...)` lookup: the whole SOQL travels in a GET query string,
URI and headers together may not pass 16,384 bytes (414 URI Too Long / 431), and URL encoding can
double a key's length (https://help.salesforce.com/s/articleView?id=000386264&type=1)."""

_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*")

# How each canonical value is read when the mapping names no transform: the types the built-in
# Salesforce fields have (a number field arrives as a JSON number, a date as "YYYY-MM-DD").
# --- SOQL text -------------------------------------------------------------------------------


def soql_datetime(stamp: datetime) -> str:
    """A SOQL dateTime literal in UTC, floored to the second (a floor keeps a closed bound closed)."""
    utc = stamp.astimezone(UTC) if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return utc.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_string(value: str) -> str:
    """A quoted SOQL string literal (backslash escapes, as the SOQL reference lists them)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    return f"'{escaped}'"


def api_name(field: str, where: str) -> str:
    """`field` if it is a Salesforce API name (or relationship path); names from mappings reach SOQL
    and URL paths, so anything else is a mapping error, never text to splice in."""
    if not _FIELD_NAME.fullmatch(field):
        raise MappingError(f"{where}: '{field}' is not a Salesforce field API name")
    return field


def _unique(fields: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for name in fields:
        if name.casefold() not in seen:  # SOQL refuses a field selected twice (case-insensitively)
            seen.add(name.casefold())
            out.append(name)
    return out


def _select_fields(mapping: FieldMapping) -> list[str]:
    inputs = [api_name(f, f"account.inputs.{n}") for n, f in mapping.account.inputs.items() if f]
    outputs = [api_name(f, f"account.outputs.{n}") for n, f in mapping.account.outputs.items() if f]
    return _unique(["Id", "IsDeleted", SYSTEM_MODSTAMP, *inputs, *outputs])


def account_soql(mapping: FieldMapping, since: datetime | None) -> str:
    """The account query: mapped inputs and outputs, changed at or after `since` when given."""
    obj = api_name(mapping.account.object, "account.object")
    where = f" WHERE {SYSTEM_MODSTAMP} >= {soql_datetime(since)}" if since is not None else ""
    fields = ", ".join(_select_fields(mapping))
    return f"SELECT {fields} FROM {obj}{where} ORDER BY {SYSTEM_MODSTAMP}, Id"  # noqa: S608 - checked names


# --- accounts --------------------------------------------------------------------------------


def _path(row: Mapping[str, Any], field: str) -> Any:
    """A field of a query row; `Owner.Email` walks the relationship (None when it is empty)."""
    value: Any = row
    for part in field.split("."):
        if not isinstance(value, Mapping):
            return None
        value = next((v for k, v in value.items() if k.casefold() == part.casefold()), None)
    return value


def _domains(raw: Any) -> tuple[str, ...]:
    """Web domains from a Website value (`https://www.acme.com/about`, `acme.com; acme.io`)."""
    if not isinstance(raw, str):
        return ()
    out: list[str] = []
    for part in re.split(r"[\s,;]+", raw.strip()):
        if not part:
            continue
        host = urlsplit(part if "//" in part else f"//{part}").hostname or ""
        host = host.lower().removeprefix("www.").rstrip(".")
        if "." in host and host not in out:
            out.append(host)
    return tuple(out)


def _stamp(row: Mapping[str, Any]) -> datetime:
    raw = row.get(SYSTEM_MODSTAMP)
    try:
        stamp = from_crm("datetime", raw, {})
    except ValueError:
        stamp = None
    if not isinstance(stamp, datetime):
        raise PaginationError(f"record {row.get('Id')} has no valid {SYSTEM_MODSTAMP}", vendor="salesforce")
    return stamp


class _Reader:
    """Reads canonical values out of one query row under the mapping's transforms."""

    def __init__(self, mapping: FieldMapping, row: Mapping[str, Any]) -> None:
        self.mapping = mapping
        self.row = row

    def raw(self, name: str, *, output: bool = False) -> Any:
        field = self.mapping.output_field(name) if output else self.mapping.input_field(name)
        return _path(self.row, field) if field else None

    def value(self, name: str, *, output: bool = False) -> Any:
        transform = self.mapping.transform(name)
        raw = self.raw(name, output=output)
        try:
            return from_crm(transform, raw, self.mapping.enums)
        except (TypeError, ValueError):
            # One malformed value must not stop the pull; the account reads as "no data" there.
            log.warning("account %s: %s does not read as %s; ignored", self.row.get("Id"), name, transform)
            return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a Number(18,0) key arrives as 1234.0
    return str(value)


def _override(read: _Reader) -> Override | None:
    band = read.value("override_band")
    if band is None:
        return None
    try:
        chosen = Band(str(band).lower())
    except ValueError:
        log.warning("account %s: override band is not a band; ignored", read.row.get("Id"))
        return None
    expires = read.value("override_expires")
    # No expiry recorded: the judgement holds until a person clears it (never silently erased).
    return Override(
        band=chosen,
        author=_text(read.value("override_author")) or "",
        expires=expires if isinstance(expires, date) else date.max,
    )


def to_account(row: Mapping[str, Any], mapping: FieldMapping) -> Account:
    """One SOQL row as an `Account` (live output values read back for the plan's diff)."""
    read = _Reader(mapping, row)
    external = {
        name: text
        for name in ("customer_key", "zendesk_org_id")
        if (text := _text(read.value(name))) is not None
    }
    licenses = read.value("licenses")
    return Account(
        crm_id=str(row["Id"]),
        name=_text(read.value("name")) or "",
        domains=_domains(read.raw("domain")),
        external_keys=external,
        owner_id=_text(read.raw("owner")),
        arr=read.value("arr"),
        licenses=int(licenses) if licenses is not None else None,
        contract_start=read.value("contract_start"),
        contract_end=read.value("contract_end"),
        lifecycle_stage=_text(read.value("lifecycle_stage")),
        segment=_text(read.value("segment")),
        override=_override(read),
        live_outputs={
            name: read.value(name, output=True) for name, field in mapping.account.outputs.items() if field
        },
        raw_inputs={name: _path(row, field) for name, field in mapping.account.inputs.items() if field},
        modified_at=_stamp(row),
        deleted=bool(row.get("IsDeleted")),
    )


def iter_accounts(
    api: SalesforceApi, mapping: FieldMapping, since: WatermarkState | None, *, run_started: datetime
) -> Iterator[Page[Account]]:
    """Accounts changed at or after `since` (all live ones when None), 2,000 a page.

    Each page carries the watermark to commit with it. Records stamped before the watermark (the
    lag overlap) or at it with a remembered key were read already and are skipped; deleted ones
    become `Page.deleted` keys (only an incremental pull can see them, through `queryAll`).
    """
    start = since or WatermarkState()
    bound = ACCOUNT_WATERMARK.query_from(start)
    state = start
    pages = api.iter_query(account_soql(mapping, bound), include_deleted=bound is not None)
    for rows in pages:
        records: list[Account] = []
        deleted: list[str] = []
        seen: list[tuple[str, datetime]] = []
        for row in rows:
            key, stamp = str(row["Id"]), _stamp(row)
            if not ACCOUNT_WATERMARK.accept(start, key, stamp):
                continue
            seen.append((key, stamp))
            if row.get("IsDeleted"):
                deleted.append(key)
            else:
                records.append(to_account(row, mapping))
        state = ACCOUNT_WATERMARK.advance(state, seen, run_started=run_started)
        yield Page(tuple(records), state=state, deleted=tuple(deleted))


# --- describe and owners ---------------------------------------------------------------------


def to_object_schema(describe: Mapping[str, Any]) -> ObjectSchema:
    """A `sobjects/{object}/describe` answer as an `ObjectSchema` (active picklist values only)."""
    fields: dict[str, FieldSchema] = {}
    for item in describe.get("fields") or []:
        options = tuple(
            str(p["value"])
            for p in item.get("picklistValues") or []
            if p.get("active", True) and "value" in p
        )
        fields[str(item["name"])] = FieldSchema(
            name=str(item["name"]),
            label=str(item.get("label") or item["name"]),
            type=str(item.get("type") or ""),
            writable=bool(item.get("updateable")),
            unique=bool(item.get("unique")),
            external_id=bool(item.get("externalId")),
            options=options,
            custom=bool(item.get("custom")),
        )
    return ObjectSchema(
        object=str(describe.get("name") or ""),
        fields=fields,
        createable=bool(describe.get("createable", True)),
        updateable=bool(describe.get("updateable", True)),
    )


def fetch_schema(api: SalesforceApi, object_name: str) -> ObjectSchema:
    """The live schema of one sObject (one describe call)."""
    name = api_name(object_name, "object")
    answer = api.rest("sobjects.describe", f"sobjects/{name}/describe", idempotent=True, kind="read")
    if not isinstance(answer, Mapping):
        raise PaginationError(f"describe of {name} came back in an unexpected shape", vendor="salesforce")
    return to_object_schema(answer)


def fetch_owners(api: SalesforceApi) -> dict[str, Owner]:
    """Active users by id: everyone who can own an account or receive a task."""
    soql = "SELECT Id, Name, Email, IsActive FROM User WHERE IsActive = true ORDER BY Id"
    owners: dict[str, Owner] = {}
    for rows in api.iter_query(soql):
        for row in rows:
            owners[str(row["Id"])] = Owner(
                id=str(row["Id"]),
                name=str(row.get("Name") or ""),
                email=row.get("Email"),
                active=bool(row.get("IsActive", True)),
            )
    return owners


# --- existing deals and tasks, for the outbox's reconciliation --------------------------------


def _key_chunks(keys: Sequence[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for key in dict.fromkeys(keys):  # unique, in order
        quoted = len(soql_string(key)) + 2
        if chunk and size + quoted > IN_LIST_CHARS:
            yield chunk
            chunk, size = [], 0
        chunk.append(key)
        size += quoted
    if chunk:
        yield chunk


def _lookup(
    api: SalesforceApi, obj: str, key_field: str, fields: Sequence[str], keys: Sequence[str]
) -> Iterator[dict[str, Any]]:
    """Rows of `obj` whose `key_field` is one of `keys`, recycle bin included (`queryAll`)."""
    select = ", ".join(_unique(["Id", "IsDeleted", key_field, *fields]))
    for chunk in _key_chunks(keys):
        values = ", ".join(soql_string(k) for k in chunk)
        soql = f"SELECT {select} FROM {obj} WHERE {key_field} IN ({values})"  # noqa: S608 - quoted literals
        for rows in api.iter_query(soql, include_deleted=True):
            yield from rows


def _date(raw: Any) -> date | None:
    try:
        value = from_crm("date", raw, {})
    except ValueError:
        return None
    return value if isinstance(value, date) else None


def _by_key(found: dict[str, Any], key: str, row: dict[str, Any]) -> bool:
    """Keep a live record over a deleted one with the same key (external ids are unique among live ones)."""
    current = found.get(key)
    return current is None or (current.deleted and not row.get("IsDeleted"))


def fetch_deals(api: SalesforceApi, mapping: FieldMapping, keys: Sequence[str]) -> dict[str, CrmDeal]:
    """Existing renewal deals by key (keys with no deal are absent)."""
    deals = mapping.deals
    obj = api_name(deals.object, "deals.object")
    key_field = api_name(deals.key_field, "deals.key_field")
    stages = {crm.casefold(): RenewalStage(name) for name, crm in deals.stages.items()}
    fields = ["StageName", "IsClosed", "CloseDate", "Amount", "AccountId"]
    loss_field = (
        api_name(deals.loss_reason_field, "deals.loss_reason_field") if deals.loss_reason_field else None
    )
    if loss_field is not None:
        fields.append(loss_field)
    found: dict[str, CrmDeal] = {}
    for row in _lookup(api, obj, key_field, fields, keys):
        key = _text(_path(row, key_field))
        if key is None or not _by_key(found, key, row):
            continue
        stage_name = row.get("StageName")
        amount = row.get("Amount")
        found[key] = CrmDeal(
            key=key,
            crm_id=str(row["Id"]),
            stage_name=stage_name,
            stage=stages.get(str(stage_name).casefold()) if stage_name else None,
            is_closed=bool(row.get("IsClosed")) or stage_name in deals.closed_stages,
            close_date=_date(row.get("CloseDate")),
            amount=float(amount) if amount is not None else None,
            account_id=row.get("AccountId"),
            deleted=bool(row.get("IsDeleted")),
            loss_reason=_text(_path(row, loss_field)) if loss_field is not None else None,
        )
    return found


def fetch_tasks(api: SalesforceApi, mapping: FieldMapping, keys: Sequence[str]) -> dict[str, CrmTask]:
    """Existing healthsync tasks by key (keys with no task are absent)."""
    tasks = mapping.tasks
    obj = api_name(tasks.object, "tasks.object")
    key_field = api_name(tasks.key_field, "tasks.key_field")
    fields = ["Status", "IsClosed", "OwnerId", "WhatId", "ActivityDate"]
    found: dict[str, CrmTask] = {}
    for row in _lookup(api, obj, key_field, fields, keys):
        key = _text(_path(row, key_field))
        if key is None or not _by_key(found, key, row):
            continue
        found[key] = CrmTask(
            key=key,
            crm_id=str(row["Id"]),
            status=row.get("Status"),
            is_closed=bool(row.get("IsClosed")),
            owner_id=row.get("OwnerId"),
            account_id=row.get("WhatId"),
            due=_date(row.get("ActivityDate")),
            deleted=bool(row.get("IsDeleted")),
        )
    return found
