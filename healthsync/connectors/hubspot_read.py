"""HubSpot companies as `Account`s: the first run lists them, later runs search what changed.

- First run (no watermark): `GET /crm/v3/objects/companies` at 100 per page with exactly the mapped
  properties. The list is in id order, not stamp order, so only its last page carries the advanced
  watermark: a run killed halfway lists again rather than resuming past records it never saw.
- Later runs: `POST /crm/v3/objects/companies/search` on `hs_lastmodifieddate >= watermark - lag`,
  sorted ascending, 200 per page. Search stops at 10,000 results per query (paging past them is a
  400), so when a query reaches that cap a new query starts from the last stamp read, skipping the
  ids already yielded at that stamp; if all 10,000 share one stamp, the stamp is walked by
  `hs_object_id` instead, then the search resumes strictly after it.
- Archived companies never appear in search: `GET ...?archived=true` lists them (only them), and
  those archived since the watermark are reported in `Page.deleted`.
- Search shows writes "after a few moments" (index lag), so each search starts `lag` before the
  watermark; `Watermark.accept` drops the (key, stamp) pairs already read there and keeps records
  that became visible late. The watermark never passes the run's start (signpost).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from hubspot.crm.companies import Filter, FilterGroup, PublicObjectSearchRequest

from healthsync.connectors.base import Page
from healthsync.connectors.hubspot_api import HubSpotApi
from healthsync.connectors.incremental import Watermark, WatermarkState
from healthsync.connectors.paging import HubSpotAfterPaginator
from healthsync.mappings import FieldMapping
from healthsync.mappings.transforms import from_crm
from healthsync.model import Account, Band, Override

__all__ = [
    "LIST_PAGE_SIZE",
    "SEARCH_MAX_RESULTS",
    "SEARCH_PAGE_SIZE",
    "CompanyReader",
    "StreamSpec",
    "companies_stream",
    "hubspot_date",
]

LIST_PAGE_SIZE = 100
"""List endpoints' maximum `limit` (`PAGE_MAX_SIZE` in hubspot/utils/objects.py;
https://developers.hubspot.com/docs/api/crm/companies ; vendor-facts.md §8)."""

SEARCH_PAGE_SIZE = 200
"""Search's maximum `limit` (https://developers.hubspot.com/docs/api/crm/search#limitations )."""

SEARCH_MAX_RESULTS = 10_000
"""Results one search query can page through; `after` at or past it answers 400 (same page)."""

MODIFIED = "hs_lastmodifieddate"
"""Companies' last-modified property (`lastmodifieddate` is the contacts' one; vendor-facts.md §10)."""


@dataclass(frozen=True)
class StreamSpec:
    """A stream declared as data: page sizes, cursor and key (STYLE.md §2.3)."""

    name: str
    page_size: int
    full_page_size: int
    cursor: Watermark
    key: str


def companies_stream(lag: timedelta) -> StreamSpec:
    """The companies stream: search at 200, first run listed at 100, `hs_lastmodifieddate` cursor."""
    return StreamSpec(
        name="companies",
        page_size=SEARCH_PAGE_SIZE,
        full_page_size=LIST_PAGE_SIZE,
        cursor=Watermark(MODIFIED, lag=lag),
        key="id",
    )


def hubspot_date(raw: Any) -> str | None:
    """A HubSpot date value as `YYYY-MM-DD`: they come as ISO dates or epoch-ms strings (midnight UTC)."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC).date().isoformat()
    return text[:10]


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _results(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """`results[]` of a list or search answer (decoded JSON), objects only."""
    return [r for r in answer.get("results") or [] if isinstance(r, Mapping)]


def _instant(raw: Any) -> datetime | None:
    """An ISO 8601 instant of HubSpot's (`updatedAt`, `archivedAt`), aware; None when absent or bad."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return _aware(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        return None


class CompanyReader:
    """Reads companies for one connector; see the module docstring for the strategy.

    Args:
        api: the HubSpot wire.
        mapping: which properties are inputs and outputs.
        lag: search index lag allowance (config `sync.lookback_minutes`).
        now: the current instant (tests pass the sandbox's simulated clock).
    """

    def __init__(
        self, api: HubSpotApi, mapping: FieldMapping, *, lag: timedelta, now: Callable[[], datetime]
    ) -> None:
        self.api = api
        self.mapping = mapping
        self.spec = companies_stream(lag)
        self.now = now
        self.modified = mapping.input_field("modified") or MODIFIED
        names = [*mapping.account.inputs.values(), *mapping.account.outputs.values(), self.modified]
        self.properties = list(dict.fromkeys(n for n in names if n))

    # --- streams --------------------------------------------------------------------------------

    def iter_accounts(
        self, since: WatermarkState | None, run_started: datetime | None = None
    ) -> Iterator[Page[Account]]:
        """Companies changed at or after `since` (every live one when None), page by page."""
        cap = run_started or self.now()
        if since is None or since.value is None:
            yield from self._iter_list(since or WatermarkState(), cap)
            return
        state = yield from self._iter_search(since, cap)
        yield from self._iter_archived(since, state, cap)

    def _iter_list(self, start: WatermarkState, cap: datetime) -> Iterator[Page[Account]]:
        api = self.api.api("crm.companies.basic_api")
        paginator = HubSpotAfterPaginator()
        state = start
        while not paginator.done:
            params: dict[str, Any] = {
                "limit": LIST_PAGE_SIZE,
                "properties": self.properties,
                "archived": False,
                **paginator.next_params(),
            }
            response = self.api.call_json(
                "companies.list", partial(api.get_page, **params), idempotent=True, kind="read"
            )
            paginator.read(response)
            accounts = tuple(self.to_account(obj) for obj in _results(response))
            state = self._advance(state, accounts, cap)
            yield Page(accounts, state=state if paginator.done else start)

    def _iter_search(
        self, since: WatermarkState, cap: datetime
    ) -> Generator[Page[Account], None, WatermarkState]:
        """Search pages; returns the state after the last one (for the archived pass)."""
        watermark = self.spec.cursor
        lower = watermark.query_from(since) or datetime.fromtimestamp(0, tz=UTC)
        state = since
        operator, stamp, id_after = "GTE", lower, None
        yielded: dict[str, datetime] = {}  # ids yielded this run at stamps a restarted query repeats
        while True:
            paginator = HubSpotAfterPaginator()
            fetched = ties = 0
            last: tuple[datetime, str] | None = None
            while True:
                body = self._search_body(operator, stamp, id_after, paginator.token)
                response = self.api.call_json(
                    "companies.search",
                    partial(
                        self.api.api("crm.companies.search_api").do_search,
                        public_object_search_request=body,
                    ),
                    idempotent=True,  # a POST, but a read: safe to replay
                    kind="read",
                )
                paginator.read(response)
                results = _results(response)
                fetched += len(results)
                accounts = []
                for obj in results:
                    account = self.to_account(obj)
                    moment = account.modified_at or stamp
                    ties = ties + 1 if last is not None and last[0] == moment else 1
                    last = (moment, account.crm_id)
                    if yielded.get(account.crm_id) == moment:
                        continue
                    if watermark.accept(since, account.crm_id, moment):
                        accounts.append(account)
                        yielded[account.crm_id] = moment
                state = self._advance(state, accounts, cap)
                yield Page(tuple(accounts), state=state)
                if paginator.done or fetched + SEARCH_PAGE_SIZE > SEARCH_MAX_RESULTS:
                    break
            if not paginator.done and last is not None:
                # The query reached the 10,000-result cap: start a new one where it stopped.
                last_stamp, last_id = last
                if id_after is not None:
                    id_after = last_id
                elif ties > SEARCH_MAX_RESULTS - SEARCH_PAGE_SIZE or last_stamp == stamp:
                    # A query from this stamp could not get past it before the cap: walk the stamp
                    # by id from the start (search orders ties arbitrarily; yielded ids are skipped).
                    operator, stamp, id_after = "GTE", last_stamp, "0"
                else:
                    operator, stamp = "GTE", last_stamp
                yielded = {k: v for k, v in yielded.items() if v >= stamp}
                continue
            if id_after is not None:  # the tied stamp is done; go on strictly after it
                operator, id_after = "GT", None
                continue
            return state

    def _search_body(
        self, operator: str, stamp: datetime, id_after: str | None, after: str | None
    ) -> PublicObjectSearchRequest:
        """A fresh request body per page (dlt-hub/verified-sources#337)."""
        if id_after is None:
            filters = [Filter(property_name=self.modified, operator=operator, value=_ms(stamp))]
            sort = self.modified
        else:
            filters = [
                Filter(property_name=self.modified, operator="EQ", value=_ms(stamp)),
                Filter(property_name="hs_object_id", operator="GT", value=id_after),
            ]
            sort = "hs_object_id"
        return PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=filters)],
            # Objects, as HubSpot's docs send them; the published spec types sorts as strings.
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=self.properties,
            limit=SEARCH_PAGE_SIZE,
            after=after,
        )

    def _iter_archived(
        self, since: WatermarkState, state: WatermarkState, cap: datetime
    ) -> Iterator[Page[Account]]:
        """Companies archived since the watermark (by `archivedAt`), as `Page.deleted` keys.

        Archive stamps advance the watermark like changes do, and within the lag overlap a
        (company, archivedAt) pair read before is not reported again, so a deletion is reported once.
        """
        watermark = self.spec.cursor
        api = self.api.api("crm.companies.basic_api")
        paginator = HubSpotAfterPaginator()
        while not paginator.done:
            params: dict[str, Any] = {
                "limit": LIST_PAGE_SIZE,
                "properties": [self.modified],
                "archived": True,  # only archived records (vendor-facts.md §8)
                **paginator.next_params(),
            }
            response = self.api.call_json(
                "companies.list_archived",
                partial(api.get_page, **params),
                idempotent=True,
                kind="read",
            )
            paginator.read(response)
            seen: list[tuple[str, datetime]] = []
            deleted: list[str] = []
            for obj in _results(response):
                crm_id, at = str(obj.get("id")), _instant(obj.get("archivedAt"))
                if at is None:
                    deleted.append(crm_id)  # no stamp to judge by: report it (idempotent downstream)
                elif watermark.accept(since, crm_id, at):
                    deleted.append(crm_id)
                    seen.append((crm_id, at))
            state = watermark.advance(state, seen, run_started=cap)
            if deleted or paginator.done:
                yield Page((), state=state, deleted=tuple(deleted))

    def _advance(
        self, state: WatermarkState, accounts: tuple[Account, ...] | list[Account], cap: datetime
    ) -> WatermarkState:
        seen = [(a.crm_id, a.modified_at) for a in accounts if a.modified_at is not None]
        return self.spec.cursor.advance(state, seen, run_started=cap)

    # --- translation ----------------------------------------------------------------------------

    def to_account(self, obj: Mapping[str, Any]) -> Account:
        """A company (a `results[]` object of the list or search answer) as an `Account`, through
        the mapping's transforms."""
        props: Mapping[str, Any] = obj.get("properties") or {}
        inputs = self.mapping.account.inputs
        raw_inputs = {name: props.get(field) for name, field in inputs.items() if field}

        def value(name: str) -> Any:
            field = inputs.get(name)
            if not field:
                return None
            return self._read(name, props.get(field))

        live = {
            name: self._read(name, props.get(field))
            for name, field in self.mapping.account.outputs.items()
            if field
        }
        domain = _domain(value("domain"))
        modified = value("modified")
        if not isinstance(modified, datetime):
            modified = _instant(obj.get("updatedAt"))
        return Account(
            crm_id=str(obj.get("id")),
            name=str(value("name") or ""),
            domains=(domain,) if domain else (),
            external_keys={
                name: text for name in ("customer_key", "zendesk_org_id") if (text := _text(value(name)))
            },
            owner_id=_text(value("owner")),
            arr=_number(value("arr")),
            licenses=_integer(value("licenses")),
            contract_start=_date(value("contract_start")),
            contract_end=_date(value("contract_end")),
            lifecycle_stage=_text(value("lifecycle_stage")),
            segment=_text(value("segment")),
            override=self._override(value),
            live_outputs=live,
            raw_inputs=raw_inputs,
            modified_at=modified if isinstance(modified, datetime) else None,
        )

    def _read(self, name: str, raw: Any) -> Any:
        transform = self.mapping.transform(name)
        if transform == "date":
            raw = hubspot_date(raw)
        try:
            return from_crm(transform, raw, self.mapping.enums)
        except (ValueError, TypeError, OverflowError):
            return None  # a value the CRM holds but we cannot read: "not known", kept in raw_inputs

    @staticmethod
    def _override(value: Callable[[str], Any]) -> Override | None:
        band, expires = value("override_band"), _date(value("override_expires"))
        if band is None or expires is None:
            return None
        try:
            return Override(band=Band(str(band)), author=str(value("override_author") or ""), expires=expires)
        except ValueError:
            return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _domain(raw: Any) -> str | None:
    if not raw:
        return None
    text = str(raw).strip().lower()
    text = text.split("://", 1)[-1].split("/", 1)[0]
    return text.removeprefix("www.") or None


def _text(raw: Any) -> str | None:
    return str(raw) if raw not in (None, "") else None


def _number(raw: Any) -> float | None:
    return float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def _integer(raw: Any) -> int | None:
    return round(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None


def _date(raw: Any) -> date | None:
    return raw if isinstance(raw, date) and not isinstance(raw, datetime) else None
