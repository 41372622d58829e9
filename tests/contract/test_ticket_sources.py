"""Contracts every ticket source keeps: the same suite style as `test_account_sources.py`.

Parametrized over the ticket sources (today Zendesk), each built through the registry from the config
`healthsync sandbox serve --write-config` writes, talking to the sandbox over HTTP through the
unmodified SDK. Read-only contracts share a module-scoped sandbox; the others get their own.

Request counts are exact. The formulas pinned here, for O organizations, M tickets and R ratings:

- tickets: ceil(M / 1,000) export pages (`incremental/tickets/cursor`, `per_page` maximum 1,000);
  resuming from a stored cursor with C changes: ceil(C / 1,000), and at least 1;
- a full read of the source: ceil(O / 1,000) organization export pages (time-based, from time 0) +
  ceil(M / 1,000) ticket export pages +
  ceil(R / 100) rating pages + ceil(U / 100) `tickets/show_many` calls for the U rated tickets the
  caller does not know (a rating names its ticket, not its organization; up to 100 ids a call,
  gathered across ratings pages), none for tickets the caller already knows (the engine passes its
  ticket mirror).

Pages are audited suite-wide (tests/conftest.py); the `show_many` batches are asserted here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from helpers.configs import crm_config
from helpers.data import support_dataset
from helpers.fakes import FakeTime, make_http
from helpers.sandboxes import faults, zendesk_calls

from healthsync.connectors.base import Page
from healthsync.connectors.registry import ticket_source
from healthsync.errors import AuthError
from healthsync.http import PACE_MARGIN, Http
from healthsync.model import Ticket
from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Dataset, Delta, SupportTicket
from healthsync.sandbox.zendesk.ratelimit import RateLimits
from healthsync.sandbox.zendesk.records import ORG_ID_BASE

ORGS, TICKETS, RATINGS, DELETED_EVERY = 250, 2500, 250, 100


@dataclass(frozen=True)
class Source:
    """What the contracts need to know about one ticket source: vendor maxima, names, endpoints."""

    name: Literal["zendesk"]
    export_max: int
    """Tickets per page of the incremental export."""
    list_max: int
    """Records per page of the organization and rating lists."""
    lookup_max: int
    """Ids per ticket lookup."""
    credential: str
    export_path: str
    """Path prefix of the ticket export, for injected faults."""
    endpoints: dict[str, str]
    """Role → the endpoint as `Http` counts it (the sandbox counts `GET /api/v2/<it>[.json]`)."""


ZENDESK = Source(
    name="zendesk",
    export_max=1000,  # incremental export `per_page` maximum
    list_max=100,  # cursor pagination `page[size]` maximum
    lookup_max=100,  # `tickets/show_many` ids
    credential="zendesk.token",
    export_path="/api/v2/incremental/tickets",
    endpoints={
        "export": "incremental/tickets/cursor",
        "organizations": "incremental/organizations",
        "ratings": "satisfaction_ratings",
        "lookup": "tickets/show_many",
    },
)
SOURCES = [ZENDESK]


def _ceil(count: int, size: int) -> int:
    return math.ceil(count / size)


def _data(workdir: Path, **counts: int) -> Dataset:
    return support_dataset(workdir, **counts)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """Read-only contracts: 250 organizations, 2,500 tickets (every 100th deleted), 250 ratings."""
    folder = tmp_path_factory.mktemp("tickets")
    data = _data(folder, orgs=ORGS, tickets=TICKETS, ratings=RATINGS, deleted_every=DELETED_EVERY)
    with Sandbox(dataset=data, generate=False, start=data.now, workdir=folder) as box:
        yield box


@pytest.fixture(params=SOURCES, ids=lambda source: source.name)
def source(request: pytest.FixtureRequest) -> Source:
    return request.param


def connect(sandbox: Sandbox, folder: Path, http: Http | None = None) -> Any:
    """The ticket source the registry builds from a config written for `sandbox` (fake-clock `Http`)."""
    config = crm_config(sandbox, folder, "hubspot")
    return ticket_source(config, http or make_http(), clock=sandbox.clock.now)


def tickets(pages: list[Page[Ticket]]) -> list[Ticket]:
    return [t for p in pages for t in p.records]


def export_calls(sandbox: Sandbox, source: Source) -> int:
    return zendesk_calls(sandbox, source.endpoints["export"])


# --- paging --------------------------------------------------------------------------------------


def test_the_ticket_export_pages_to_the_end_at_the_vendor_maximum(
    sandbox: Sandbox, tmp_path: Path, source: Source
) -> None:
    http = make_http()
    sandbox.stats.reset()
    with connect(sandbox, tmp_path, http) as connector:
        pages = list(connector.iter_tickets(None))
        resumed = list(connector.iter_tickets(str(pages[-1].state)))
    assert [len(p.records) for p in pages] == [1000, 1000, 500]
    got = tickets(pages)
    assert sorted(int(t.id) for t in got) == list(range(1, TICKETS + 1))  # each once
    cursors = [p.state for p in pages]
    assert all(isinstance(c, str) and c for c in cursors)
    assert len(set(cursors)) == len(pages)  # each page carries its own after_cursor to commit with it
    # Deleted tickets come as records marked deleted, and their ids in Page.deleted.
    gone = [str(i) for i in range(DELETED_EVERY, TICKETS + 1, DELETED_EVERY)]
    assert sorted((t.id for t in got if t.deleted), key=int) == gone
    assert all(t.status == "deleted" and not t.is_open for t in got if t.deleted)
    assert sorted((k for p in pages for k in p.deleted), key=int) == gone
    one = next(t for t in got if t.id == "7")  # priority by i % 4: 7 → urgent
    assert (one.priority, one.is_critical, one.organization_id, one.subject) == (
        "urgent",
        True,
        str(ORG_ID_BASE + 6),
        "Ticket 7",
    )
    assert {t.priority for t in got if t.is_critical} == {"urgent", "high"}
    # Resuming from the end-of-stream cursor: one call, nothing new, the same place to resume.
    assert [(len(p.records), p.state) for p in resumed] == [(0, pages[-1].state)]
    export = _ceil(TICKETS, source.export_max) + 1  # the theoretical minimum, plus the resume
    assert export_calls(sandbox, source) == export
    assert http.counter.by_endpoint() == {source.name: {source.endpoints["export"]: export}}


def test_a_full_read_is_the_minimum_pages_plus_full_lookups_of_the_rated_tickets(
    sandbox: Sandbox, tmp_path: Path, source: Source
) -> None:
    http = make_http()
    sandbox.stats.reset()
    with connect(sandbox, tmp_path, http) as connector:
        organizations = [o for p in connector.iter_organizations() for o in p.records]
        got = tickets(list(connector.iter_tickets(None)))
        ratings = [r for p in connector.iter_ratings() for r in p.records]
    assert sorted(int(o.id) for o in organizations) == [ORG_ID_BASE + i for i in range(ORGS)]
    assert len(got) == TICKETS
    # Ratings on deleted tickets have no organization to count for: 250 - 2 (tickets 100 and 200).
    assert sorted(int(r.id) for r in ratings if r.id) == [
        i for i in range(1, RATINGS + 1) if i % DELETED_EVERY
    ]
    rating_pages = _ceil(RATINGS, source.list_max)
    assert http.counter.by_endpoint() == {
        source.name: {
            source.endpoints["organizations"]: _ceil(ORGS, source.export_max),
            source.endpoints["export"]: _ceil(TICKETS, source.export_max),
            source.endpoints["ratings"]: rating_pages,
            source.endpoints["lookup"]: rating_pages,
        }
    }
    lookups = [b.inputs for b in sandbox.stats.batches(source.name)]
    assert lookups == [source.lookup_max, source.lookup_max, RATINGS - 2 * source.lookup_max]


def test_ratings_on_tickets_the_caller_knows_cost_no_lookup(
    sandbox: Sandbox, tmp_path: Path, source: Source
) -> None:
    with connect(sandbox, tmp_path) as connector:
        got = tickets(list(connector.iter_tickets(None)))
        expected = sorted((r.id, r.account_key) for p in connector.iter_ratings() for r in p.records)
    mirror = {t.id: "" if t.deleted else (t.organization_id or "") for t in got}  # "" counts for nobody
    http = make_http()
    with connect(sandbox, tmp_path, http) as connector:
        ratings = [
            r
            for p in connector.iter_ratings(
                known_organizations=lambda ids: {i: mirror[i] for i in ids if i in mirror}
            )
            for r in p.records
        ]
    assert sorted((r.id, r.account_key) for r in ratings) == expected  # the same ratings, same accounts
    assert http.counter.by_endpoint()[source.name] == {
        source.endpoints["ratings"]: _ceil(RATINGS, source.list_max)  # and no show_many at all
    }


def test_unknown_rated_tickets_spread_over_pages_are_looked_up_in_full_calls(
    sandbox: Sandbox, tmp_path: Path, source: Source
) -> None:
    """The mirror lacks every 10th ticket: 25 unknown across 3 ratings pages cost 1 lookup, not 3."""
    with connect(sandbox, tmp_path) as connector:
        got = tickets(list(connector.iter_tickets(None)))
        expected = sorted((r.id, r.account_key) for p in connector.iter_ratings() for r in p.records)
    mirror = {t.id: "" if t.deleted else (t.organization_id or "") for t in got if int(t.id) % 10}
    http = make_http()
    sandbox.stats.reset()
    with connect(sandbox, tmp_path, http) as connector:
        pages = list(
            connector.iter_ratings(known_organizations=lambda ids: {i: mirror[i] for i in ids if i in mirror})
        )
    ratings = [r for p in pages for r in p.records]
    assert sorted((r.id, r.account_key) for r in ratings) == expected  # the same ratings, same accounts
    assert len(pages) == _ceil(RATINGS, source.list_max)  # one page out per page read
    assert all(p.state == pages[0].state for p in pages[:-1])  # only the last advances the watermark
    assert http.counter.by_endpoint()[source.name] == {
        source.endpoints["ratings"]: _ceil(RATINGS, source.list_max),
        source.endpoints["lookup"]: 1,
    }
    assert [b.inputs for b in sandbox.stats.batches(source.name)] == [RATINGS // 10]


# --- incremental -------------------------------------------------------------------------------


def test_a_resume_from_the_stored_cursor_returns_exactly_the_changed_tickets(
    tmp_path: Path, source: Source
) -> None:
    data = _data(tmp_path, orgs=20, tickets=60)
    with Sandbox(dataset=data, generate=False, start=data.now, workdir=tmp_path) as box:
        http = make_http()
        with connect(box, tmp_path / "cfg", http) as connector:
            first = list(connector.iter_tickets(None))
            cursor = str(first[-1].state)
            now = box.clock.advance(1)
            stamp = now - timedelta(hours=2)
            solved = [replace(data.tickets[i], status="solved", updated_at=stamp) for i in (4, 9, 30)]
            gone = replace(data.tickets[11], deleted=True, updated_at=stamp)
            new = SupportTicket(61, 3, 10_003, "Brand new", "urgent", "new", "incident", stamp, stamp)
            box.app(source.name).apply(Delta(now=now, changed_tickets=[*solved, gone], new_tickets=[new]))
            box.stats.reset()
            pages = list(connector.iter_tickets(cursor))
            resumed_with = export_calls(box, source)
            again = list(connector.iter_tickets(str(pages[-1].state)))
        got = tickets(pages)
        assert sorted(int(t.id) for t in got) == [5, 10, 12, 31, 61]  # each change exactly once
        assert {t.id: t.status for t in got} == {
            "5": "solved",
            "10": "solved",
            "12": "deleted",
            "31": "solved",
            "61": "new",
        }
        assert [t.id for t in got if t.deleted] == ["12"]
        assert [k for p in pages for k in p.deleted] == ["12"]
        assert resumed_with == _ceil(5, source.export_max)
        assert tickets(again) == []
        assert again[-1].state == pages[-1].state


# --- failures ------------------------------------------------------------------------------------


def test_a_429_is_honoured_and_the_export_limit_is_never_hit(tmp_path: Path, source: Source) -> None:
    """Retry-After is waited out, and the client's pacing keeps the server's 10/min limit from firing."""
    data = _data(tmp_path, orgs=20, tickets=TICKETS)
    with Sandbox(dataset=data, generate=False, start=data.now, workdir=tmp_path, rate_limits=True) as box:
        time = FakeTime(1_000.0)
        # The sandbox's per-minute windows on the same fake clock: "a minute later" agrees.
        box.app(source.name).limits = RateLimits(account=400, incremental=10, clock=time.clock)  # type: ignore[attr-defined]
        faults(box, {"path_prefix": source.export_path, "status": 429, "retry_after": 5, "count": 1})
        http = make_http(time)
        with connect(box, tmp_path / "cfg", http) as connector:
            pages = list(connector.iter_tickets(None))
            state = pages[-1].state
            for _ in range(9):  # nine resumes: twelve exports in all, more than ten a minute
                state = list(connector.iter_tickets(str(state)))[-1].state
        assert sorted(int(t.id) for t in tickets(pages)) == list(range(1, TICKETS + 1))
        assert http.retries == [(source.name, source.endpoints["export"], "RateLimited", 5.0)]
        # 5 s of Retry-After, then the limiter, whose minute is 60 s / PACE_MARGIN = 63.16 s: ten
        # attempts by t=1005, the 11th waits for t=1063.16, the 12th for t=1068.16 (the client
        # counts the refused attempt too: it cannot know it was free).
        window = 60.0 / PACE_MARGIN
        assert time.sleeps == pytest.approx([5.0, window - 5.0, 5.0], abs=1e-3)
        assert export_calls(box, source) == 3 + 9 + 1
        assert box.stats.snapshot()[source.name]["throttled"] == 1  # only the injected one


def test_a_5xx_and_a_dropped_connection_mid_page_are_recovered(
    sandbox: Sandbox, tmp_path: Path, source: Source
) -> None:
    fired = sandbox.faults.fired
    faults(
        sandbox,
        {"path_prefix": source.export_path, "status": 500, "count": 1},
        {"path_prefix": source.export_path, "drop": True, "count": 1},
    )
    http = make_http()
    sandbox.stats.reset()
    with connect(sandbox, tmp_path, http) as connector:
        got = tickets(list(connector.iter_tickets(None)))
    assert sorted(int(t.id) for t in got) == list(range(1, TICKETS + 1))  # nothing lost, nothing doubled
    assert sandbox.faults.fired - fired == 2
    assert [(endpoint, kind) for _, endpoint, kind, _ in http.retries] == [
        (source.endpoints["export"], "TransientError"),
        (source.endpoints["export"], "TransientError"),
    ]
    assert export_calls(sandbox, source) == _ceil(TICKETS, source.export_max) + 2


def test_a_wrong_credential_is_an_auth_error_naming_it(
    sandbox: Sandbox, tmp_path: Path, source: Source
) -> None:
    config = crm_config(sandbox, tmp_path, "hubspot")
    (tmp_path / "healthsync-secrets" / f"{source.name}_token").write_text("not-the-token\n")
    http = Http(sleep=lambda _: pytest.fail("an auth failure must not be retried"))
    sandbox.stats.reset()
    with ticket_source(config, http, clock=sandbox.clock.now) as connector, pytest.raises(AuthError) as info:
        list(connector.iter_tickets(None))
    message = str(info.value)
    assert source.credential in message
    assert "fix:" in message
    assert "not-the-token" not in message
    assert info.value.status == 401
    assert http.retries == []
    assert export_calls(sandbox, source) == 1
