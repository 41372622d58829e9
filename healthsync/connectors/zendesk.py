"""Zendesk Support as a `TicketSource`: organizations, tickets and CSAT ratings, over unmodified zenpy.

Streams (DESIGN.md §3, §9; vendor-facts.md §16-20):

- organizations: on a first run `GET organizations?page[size]=100` (cursor pages of 100); later,
  the time-based export `incremental/organizations?start_time=` (pages of 1,000) from an
  `updated_at` watermark;
- tickets: the cursor export `incremental/tickets/cursor` (pages of 1,000), `?start_time=` on a
  first run, then `?cursor=<after_cursor>` as stored by the engine;
- ratings: `satisfaction_ratings?score=received&page[size]=100`, with `&start_time=` from a
  `created_at` watermark once one is stored.

Ratings carry a ticket id but no organization. Tickets the caller's mirror knows cost nothing;
the others are looked up with `tickets/show_many`, 100 ids a call, gathered across ratings pages
(a rating waits until its ticket is looked up), so R unknown tickets cost ceil(R / 100) calls
however they spread over the pages.

How zenpy is driven (one raw page per call) is explained in `zendesk_client`.

**Retries and pacing** belong to `healthsync.http`: the session raises 429s before zenpy can sleep
on them (`zendesk_errors.raise_on_throttle`, with `ratelimit_budget=0` as a second guard), and two
client-side limiters keep a run under the plan's requests per minute and the export's own limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import partial

from healthsync.config import Config
from healthsync.connectors.base import Page
from healthsync.connectors.incremental import Watermark, WatermarkState
from healthsync.connectors.paging import (
    ZendeskCursorPaginator,
    ZendeskExportPaginator,
    ZendeskTimeExportPaginator,
)
from healthsync.connectors.zendesk_client import JsonPage, ZendeskClient
from healthsync.connectors.zendesk_errors import VENDOR, translate
from healthsync.connectors.zendesk_records import (
    ZendeskUser,
    records_of,
    to_organization,
    to_rating,
    to_ticket,
    to_user,
)
from healthsync.errors import ConfigError, PaginationError
from healthsync.http import Http
from healthsync.mappings import FieldMapping
from healthsync.model import Rating, SupportOrganization, Ticket
from healthsync.secrets import resolve

log = logging.getLogger(__name__)

__all__ = [
    "EXPORT_PAGE_SIZE",
    "LIST_PAGE_SIZE",
    "ORGANIZATIONS",
    "RATINGS",
    "SHOW_MANY_MAX",
    "ZendeskConnector",
]

LIST_PAGE_SIZE = 100
"""Cursor pagination `page[size]` maximum: https://developer.zendesk.com/api-reference/introduction/pagination/"""
EXPORT_PAGE_SIZE = 1000
"""Incremental export `per_page` maximum (also the default):
https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/#per_page"""
SHOW_MANY_MAX = 100
"""`tickets/show_many` takes up to 100 ids:
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#show-multiple-tickets"""
RATE_PERIOD_S = 60.0
"""Zendesk limits are per minute (account plan limit; 10/min, or 30 with High Volume, for exports):
https://developer.zendesk.com/api-reference/introduction/rate-limits/"""
EXPORT_MIN_AGE = timedelta(seconds=61)
"""An export `start_time` "must be at least one minute in the past" (incremental exports reference)."""
_INCREMENTAL = "incremental/"

ORGANIZATIONS = Watermark("updated_at")
"""Organizations resume from the latest `updated_at` read (lag: config `sync.lookback_minutes`)."""
RATINGS = Watermark("created_at")
"""Ratings resume from the latest `created_at` read: the endpoint's `start_time` filters on it."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _is_incremental(endpoint: str) -> bool:
    return endpoint.startswith(_INCREMENTAL)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class ZendeskConnector:
    """Organizations, tickets and CSAT ratings from Zendesk Support (a `TicketSource`).

    Args:
        client: zenpy, wrapped to fetch one raw page per call.
        http: the run's retry, pacing and counting layer.
        critical_priorities: ticket priorities that count as critical.
        requests_per_minute: the plan's account limit (config `zendesk.requests_per_minute`).
        incremental_per_minute: the export limit (config `zendesk.incremental_per_minute`).
        lookback: how far before a watermark a query starts (config `sync.lookback_minutes`).
        credential: the config key of the credential in use, for authentication errors.
        clock: the current UTC time; caps watermarks at the run's start (the signpost).
    """

    def __init__(
        self,
        client: ZendeskClient,
        http: Http,
        *,
        critical_priorities: Collection[str] = ("urgent", "high"),
        requests_per_minute: int = 400,
        incremental_per_minute: int = 10,
        lookback: timedelta = timedelta(minutes=5),
        credential: str = "zendesk.token",
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._client = client
        self._http = http
        self._critical = frozenset(critical_priorities)
        self._translate = partial(translate, credential=credential)
        self._clock = clock
        self.organizations_watermark = Watermark(ORGANIZATIONS.field, lookback)
        self.ratings_watermark = Watermark(RATINGS.field, lookback)
        # Both paced `PACE_MARGIN` (95 %) under the plan's limits: Zendesk counts a call when it
        # arrives, the limiter when it leaves, and the difference varies (healthsync.http.PACE_MARGIN).
        http.limit(VENDOR, requests_per_minute, RATE_PERIOD_S, name=f"zendesk:{requests_per_minute}/min")
        http.limit(
            VENDOR,
            incremental_per_minute,
            RATE_PERIOD_S,
            endpoints=_is_incremental,
            name=f"zendesk-incremental:{incremental_per_minute}/min",
        )

    @classmethod
    def from_config(
        cls,
        config: Config,
        http: Http,
        mapping: FieldMapping | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> ZendeskConnector:
        """The connector for `config.zendesk`, its credential resolved and its limiters registered.

        `mapping` is accepted for symmetry with the CRM connectors; Zendesk needs none.
        """
        section = config.zendesk
        if section is None:
            raise ConfigError("the [zendesk] section is missing; add it to read tickets from Zendesk")
        credential = "zendesk.oauth_token" if section.oauth_token is not None else "zendesk.token"
        ref = section.oauth_token if section.oauth_token is not None else section.token
        if ref is None:  # config validation already requires one of them
            raise ConfigError("zendesk: give token (with email) or oauth_token")
        secret = resolve(ref, context=credential, base_dir=config.base_dir)
        client = ZendeskClient.build(
            section,
            credential=credential,
            secret=secret.reveal(),
            ca_bundle=str(section.ca_bundle) if section.ca_bundle is not None else None,
        )
        return cls(
            client,
            http,
            critical_priorities=section.critical_priorities,
            requests_per_minute=section.requests_per_minute,
            incremental_per_minute=section.incremental_per_minute,
            lookback=timedelta(minutes=config.sync.lookback_minutes),
            credential=credential,
            clock=clock,
        )

    # --- plumbing -------------------------------------------------------------------------------

    def _fetch(self, endpoint: str, params: Mapping[str, str]) -> JsonPage:
        """One read through `Http`: paced, counted, retried when transient (reads are idempotent)."""
        return self._http.call(
            VENDOR,
            endpoint,
            lambda: self._client.get(endpoint, params),
            idempotent=True,
            kind="read",
            translate=self._translate,
        )

    def close(self) -> None:
        """Release the session's connections."""
        self._client.close()

    def __enter__(self) -> ZendeskConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _export_start(self, wanted: datetime) -> int:
        """An export `start_time` no later than a minute ago (earlier only re-reads, never skips)."""
        return _epoch(min(wanted, self._clock() - EXPORT_MIN_AGE))

    # --- identity -------------------------------------------------------------------------------

    def whoami(self) -> ZendeskUser:
        """The user the credentials sign in as (`GET users/me`)."""
        body = self._fetch("users/me", {})
        user = body.get("user")
        if not isinstance(user, Mapping):
            raise PaginationError("users/me answered without a `user`", vendor=VENDOR)
        return to_user(user)

    # --- organizations --------------------------------------------------------------------------

    def iter_organizations(self, since: WatermarkState | None = None) -> Iterator[Page[SupportOrganization]]:
        """Organizations: all of them on a first run, then those changed at or after `since`.

        Both come from the time-based export, 1,000 a call, the first run's from time 0: Zendesk's
        own workflow ("export a complete list of items from some arbitrary milestone, then
        periodically poll", developer.zendesk.com "Using the Incremental Export API"), in a tenth
        of the list's calls. The export shares its 10-a-minute limit with the ticket export, so a
        first run takes longer in wall time; later runs read one page. The export pages in time
        order, so each page advances the watermark. Should the first run's export stall (a page
        whose `end_time` does not move: more organizations stamped in one second than a page
        holds), the organizations are listed instead, 100 a call in id order; the list's pages
        carry the state they started from and only the last one the advanced watermark.
        """
        run_started = self._clock()
        if since is not None and since.value is not None:
            yield from self._export_organizations(since, run_started)
            return
        try:
            yield from self._export_organizations(WatermarkState(), run_started)
        except PaginationError as exc:
            log.warning("the organization export stalled (%s); listing the organizations instead", exc)
            yield from self._list_organizations(run_started)

    def _list_organizations(self, run_started: datetime) -> Iterator[Page[SupportOrganization]]:
        paginator = ZendeskCursorPaginator()
        start = WatermarkState()
        state = start
        while not paginator.done:
            body = self._fetch(
                "organizations", {"page[size]": str(LIST_PAGE_SIZE), **paginator.next_params()}
            )
            orgs = tuple(to_organization(r) for r in records_of(body, "organizations"))
            paginator.read(body)
            state = self.organizations_watermark.advance(state, _stamps(orgs), run_started=run_started)
            deleted = tuple(o.id for o in orgs if o.deleted)
            yield Page(orgs, state=state if paginator.done else start, deleted=deleted)

    def _export_organizations(
        self, since: WatermarkState, run_started: datetime
    ) -> Iterator[Page[SupportOrganization]]:
        watermark = self.organizations_watermark
        lower = watermark.query_from(since) or datetime.fromtimestamp(0, tz=UTC)
        paginator = ZendeskTimeExportPaginator()
        paginator.begin(self._export_start(lower))
        state = since
        while not paginator.done:
            params = {**paginator.next_params(), "per_page": str(EXPORT_PAGE_SIZE)}
            body = self._fetch("incremental/organizations", params)
            read = [to_organization(r) for r in records_of(body, "organizations")]
            paginator.read(body)
            fresh = tuple(
                o for o in read if o.updated_at is None or watermark.accept(state, o.id, o.updated_at)
            )
            state = watermark.advance(state, _stamps(fresh), run_started=run_started)
            yield Page(fresh, state=state, deleted=tuple(o.id for o in fresh if o.deleted))

    # --- tickets --------------------------------------------------------------------------------

    def iter_tickets(self, cursor: str | None, *, start: date | None = None) -> Iterator[Page[Ticket]]:
        """Tickets changed since the export `cursor` (or since `start` on a first run; None: all).

        Each page's state is its `after_cursor`; the last page's (`end_of_stream`) is where the
        next run resumes. Deleted tickets come as `Ticket(deleted=True)` and in `Page.deleted`.
        """
        paginator = ZendeskExportPaginator()
        if cursor:
            params = {"cursor": cursor}
        else:
            first = datetime.combine(start, time(0), tzinfo=UTC) if start is not None else None
            params = {"start_time": str(self._export_start(first) if first is not None else 0)}
        while True:
            body = self._fetch("incremental/tickets/cursor", {**params, "per_page": str(EXPORT_PAGE_SIZE)})
            tickets = tuple(to_ticket(r, critical=self._critical) for r in records_of(body, "tickets"))
            paginator.read(body)
            yield Page(
                tickets,
                state=paginator.resume_cursor or cursor,
                deleted=tuple(t.id for t in tickets if t.deleted),
            )
            if paginator.done:
                return
            params = paginator.next_params()

    # --- satisfaction ratings -------------------------------------------------------------------

    def iter_ratings(
        self,
        since: WatermarkState | None = None,
        *,
        known_organizations: Callable[[Iterable[str]], Mapping[str, str]] | None = None,
    ) -> Iterator[Page[Rating]]:
        """Received CSAT ratings (good 1 / bad 0) created at or after `since`, keyed by organization id.

        Ratings page by id, not by time, so only the last page carries the advanced watermark; the
        others carry `since`, which is what lets a rating whose ticket is not known yet wait for a
        full `tickets/show_many` call and come out in a later page. A rating whose ticket has no
        organization (or was deleted) has no account and is skipped.
        """
        run_started = self._clock()
        watermark = self.ratings_watermark
        start = since or WatermarkState()
        params = {"score": "received", "page[size]": str(LIST_PAGE_SIZE)}
        lower = watermark.query_from(start)
        if lower is not None:
            params["start_time"] = str(_epoch(lower))
        paginator = ZendeskCursorPaginator()
        state = start
        organizations: dict[str, str] = {}
        """Organization by ticket id, "" for a ticket that counts for nobody (deleted, or none)."""
        unknown: dict[str, None] = {}
        """Tickets still to look up, in first-seen order."""
        held: list[tuple[str, Rating]] = []
        while not paginator.done:
            body = self._fetch("satisfaction_ratings", {**params, **paginator.next_params()})
            raw = records_of(body, "satisfaction_ratings")
            paginator.read(body)
            last = bool(paginator.done)
            # Parsed unkeyed first: which ratings are new decides which tickets to look up.
            read = [
                (str(record.get("ticket_id")), rating)
                for record in raw
                if (rating := to_rating(record, organization_id="")) is not None
                and rating.id is not None
                and watermark.accept(start, rating.id, rating.at)
            ]
            asked = {ticket for ticket, _ in read} - organizations.keys() - unknown.keys()
            # Tickets the caller already knows (its ticket mirror) cost no call.
            if known_organizations is not None and asked:
                organizations.update(known_organizations(asked))
            unknown.update((ticket, None) for ticket, _ in read if ticket not in organizations)
            held += read
            # Only full calls mid-stream; the rest once the last page is read.
            while len(unknown) >= SHOW_MANY_MAX or (last and unknown):
                chunk = list(unknown)[:SHOW_MANY_MAX]
                organizations.update(self._ticket_organizations(chunk))
                for ticket in chunk:
                    del unknown[ticket]
            ready = [(ticket, rating) for ticket, rating in held if ticket not in unknown]
            held = [(ticket, rating) for ticket, rating in held if ticket in unknown]
            ratings = tuple(
                replace(rating, account_key=organizations[ticket])
                for ticket, rating in ready
                if organizations.get(ticket)
            )
            seen = [(rating.id, rating.at) for _, rating in read if rating.id is not None]
            state = watermark.advance(state, seen, run_started=run_started)
            yield Page(ratings, state=state if last else start)

    def _ticket_organizations(self, ticket_ids: Iterable[str]) -> dict[str, str]:
        """Organization id by ticket id, `SHOW_MANY_MAX` tickets per call; "" for a ticket Zendesk
        does not return (deleted) or that has no organization."""
        wanted = list(dict.fromkeys(ticket_ids))
        found = dict.fromkeys(wanted, "")
        digits = sorted((t for t in wanted if t.isdigit()), key=int)
        for offset in range(0, len(digits), SHOW_MANY_MAX):
            chunk = digits[offset : offset + SHOW_MANY_MAX]
            body = self._fetch("tickets/show_many", {"ids": ",".join(chunk)})
            for record in records_of(body, "tickets"):
                organization = record.get("organization_id")
                if organization is not None and record.get("id") is not None:
                    found[str(record["id"])] = str(organization)
        return found


def _stamps(records: Iterable[SupportOrganization]) -> list[tuple[str, datetime]]:
    return [(r.id, r.updated_at) for r in records if r.updated_at is not None]
