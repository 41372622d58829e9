"""Contract tests for the Zendesk connector against the sandbox, through the unmodified zenpy SDK.

Request counts are asserted exactly, at the server and in `Http`'s counter; each is the minimum the
API allows: ceil(n / page maximum) pages, plus the `tickets/show_many` lookups that keying ratings
by organization costs (a rating names its ticket, not its organization): ceil(unknown tickets / 100).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
import responses
from helpers.configs import zendesk_config
from helpers.data import NOW
from helpers.data import support_dataset as dataset
from helpers.sandboxes import zendesk_calls as endpoint_calls
from helpers.sandboxes import zendesk_sandbox

from healthsync.config import ZendeskSection
from healthsync.connectors.incremental import WatermarkState
from healthsync.connectors.zendesk import ZendeskConnector
from healthsync.connectors.zendesk_client import PLACEHOLDER_SUBDOMAIN, zendesk_target
from healthsync.errors import AuthError
from healthsync.http import Http
from healthsync.model import RatingKind
from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Delta, SurveyRating
from healthsync.sandbox.zendesk import ZendeskApp
from healthsync.sandbox.zendesk.records import ORG_ID_BASE

LONG_AGO = date(2026, 1, 1)


def connect(sandbox: Sandbox, folder: Path, http: Http | None = None, **config: object) -> ZendeskConnector:
    """A connector built the production way: a config file, its secret resolved, limiters registered."""
    return ZendeskConnector.from_config(
        zendesk_config(sandbox, folder, **config), http or Http(), clock=sandbox.clock.now
    )


@pytest.fixture(scope="module")
def tickets_box(tmp_path_factory: pytest.TempPathFactory):
    """250 organizations, 2,500 tickets (every 100th deleted) and 250 ratings; read-only tests."""
    folder = tmp_path_factory.mktemp("zendesk")
    box = zendesk_sandbox(dataset(folder, orgs=250, tickets=2500, ratings=250, deleted_every=100))
    yield box
    box.stop()


@pytest.fixture
def fresh_counts(tickets_box: Sandbox) -> Sandbox:
    tickets_box.stats.reset()
    return tickets_box


# --- organizations ---------------------------------------------------------------------------------


def test_first_run_exports_250_organizations_in_one_call(fresh_counts, tmp_path):
    """The first run reads the time-based export from time 0 at 1,000 a page (not the list at 100)."""
    http = Http()
    with connect(fresh_counts, tmp_path, http) as zendesk:
        pages = list(zendesk.iter_organizations())
    assert [len(p.records) for p in pages] == [250]
    assert endpoint_calls(fresh_counts, "incremental/organizations") == 1
    assert endpoint_calls(fresh_counts, "organizations") == 0
    assert http.counter.by_endpoint() == {"zendesk": {"incremental/organizations": 1}}
    orgs = {o.id: o for p in pages for o in p.records}
    assert len(orgs) == 250
    by_domain, by_external = orgs[str(ORG_ID_BASE)], orgs[str(ORG_ID_BASE + 1)]
    assert (by_domain.name, by_domain.external_id, by_domain.domains) == ("Customer 0", None, ("c0.example",))
    assert (by_external.external_id, by_external.domains) == ("C000001", ("c1.example",))
    assert not any(o.deleted for o in orgs.values())
    # The export pages in time order: its page moves the watermark to the newest stamp.
    newest = max(o.updated_at for o in orgs.values() if o.updated_at)
    state = pages[-1].state
    assert isinstance(state, WatermarkState)
    assert state.value == newest
    # what was read within the lookback of the newest stamp is remembered
    assert any(key.startswith(newest.isoformat()) for key in state.keys_at_value)


def test_a_stalled_first_export_falls_back_to_the_list(fresh_counts, tmp_path):
    """`responses` shows what the sandbox does not: an export whose `end_time` does not move (more
    organizations stamped in one second than a page holds). The first run then lists them instead,
    and only the list's last page moves the watermark."""
    with connect(fresh_counts, tmp_path, Http(sleep=lambda _: None)) as zendesk:
        base = fresh_counts.info()["zendesk"]["url"].rstrip("/")

        def org(i: int) -> dict[str, object]:
            stamp = "2026-10-01T08:00:00Z"
            return {"id": i, "name": f"Org {i}", "created_at": stamp, "updated_at": stamp, "domain_names": []}

        stalled = {"organizations": [org(1)], "end_time": 1759305600, "end_of_stream": False, "count": 1}
        with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
            rsps.get(re.compile(re.escape(f"{base}/api/v2/incremental/organizations") + ".*"), json=stalled)
            rsps.get(
                re.compile(re.escape(f"{base}/api/v2/organizations") + r"(\.json)?\?.*"),
                json={"organizations": [org(1), org(2)], "meta": {"has_more": False}, "links": {}},
            )
            pages = list(zendesk.iter_organizations())
    assert [o.id for p in pages for o in p.records] == ["1", "1", "2"]  # re-read: upserts downstream
    final = pages[-1].state
    assert isinstance(final, WatermarkState)
    assert final.value is not None


def test_organizations_resume_with_exactly_the_changes(tmp_path):
    box = zendesk_sandbox(dataset(tmp_path, orgs=30))
    try:
        http = Http()
        with connect(box, tmp_path / "cfg", http) as zendesk:
            state = list(zendesk.iter_organizations())[-1].state
            assert isinstance(state, WatermarkState)
            now = box.clock.advance(1)
            data = box.dataset
            assert data is not None
            changed = [
                replace(c, zendesk_name=f"{c.zendesk_name} (renamed)", modified_at=now - timedelta(hours=2))
                for c in data.customers[3:5]
            ]
            added = replace(data.customers[0], index=99, key="C000099", modified_at=now - timedelta(hours=1))
            box.app("zendesk").apply(Delta(now=now, changed_customers=changed, new_customers=[added]))
            pages = list(zendesk.iter_organizations(state))
            again = list(zendesk.iter_organizations(pages[-1].state))
        assert [(o.id, o.name) for p in pages for o in p.records] == [
            (str(ORG_ID_BASE + 3), "Customer 3 (renamed)"),
            (str(ORG_ID_BASE + 4), "Customer 4 (renamed)"),
            (str(ORG_ID_BASE + 99), "Customer 0"),
        ]
        assert [o for p in again for o in p.records] == []  # the ties at the watermark are not re-read
        assert again[-1].state == pages[-1].state
        assert endpoint_calls(box, "incremental/organizations") == 3  # the first run's, one a resumed run
        assert http.counter.by_endpoint()["zendesk"] == {"incremental/organizations": 3}
    finally:
        box.stop()


# --- tickets ---------------------------------------------------------------------------------------


def test_resume_after_a_week_returns_exactly_the_changed_tickets(tmp_path):
    box = Sandbox(accounts=60, seed=11, apps=[ZendeskApp], workdir=tmp_path, start=NOW).start()
    try:
        app = box.app("zendesk")
        http = Http()
        with connect(box, tmp_path / "cfg", http) as zendesk:
            first = list(zendesk.iter_tickets(None))
            before = {t["id"]: t["generated_timestamp"] for t in app.state("tickets")}
            assert {t.id for p in first for t in p.records} == {str(i) for i in before}
            box.advance(7)
            # The week's churn rarely deletes a ticket; delete one on top, as an agent would.
            now, data = box.clock.now(), box.dataset
            assert data is not None
            victim = next(t for t in data.tickets if not t.deleted)
            gone = replace(victim, deleted=True, updated_at=now - timedelta(hours=1))
            app.apply(Delta(now=now, changed_tickets=[gone]))
            after = {t["id"]: (t["generated_timestamp"], t["status"]) for t in app.state("tickets")}
            pages = list(zendesk.iter_tickets(str(first[-1].state)))
        expected = {str(i) for i, (stamp, _) in after.items() if before.get(i) != stamp}
        got = [t for p in pages for t in p.records]
        assert len(got) == len({t.id for t in got})  # each change exactly once
        assert {t.id for t in got} == expected
        deleted = {str(i) for i, (_, status) in after.items() if status == "deleted" and str(i) in expected}
        assert str(victim.id) in deleted
        assert {t.id for t in got if t.deleted} == deleted
        assert {k for p in pages for k in p.deleted} == deleted
        assert endpoint_calls(box, "incremental/tickets/cursor") == len(first) + len(pages)
        assert len(pages) == max(1, -(-len(expected) // 1000))
    finally:
        box.stop()


# --- satisfaction ratings --------------------------------------------------------------------------


def test_ratings_page_by_cursor_keyed_by_organization(tmp_path):
    box = zendesk_sandbox(dataset(tmp_path, orgs=250, tickets=250, ratings=250))
    try:
        http = Http()
        with connect(box, tmp_path / "cfg", http) as zendesk:
            pages = list(zendesk.iter_ratings())
            now = box.clock.advance(1)
            late = SurveyRating(251, 7, 8, 10_007, "bad", now - timedelta(hours=3), now - timedelta(hours=3))
            box.app("zendesk").apply(Delta(now=now, new_ratings=[late]))
            resumed = list(zendesk.iter_ratings(pages[-1].state))  # type: ignore[arg-type]
        assert [len(p.records) for p in pages] == [100, 100, 50]
        ratings = {r.id: r for p in pages for r in p.records}
        assert {r.kind for r in ratings.values()} == {RatingKind.CSAT}
        assert [ratings[str(i)].score for i in (1, 2, 3)] == [1, 1, 0]  # good, good, bad
        assert ratings["3"].account_key == str(ORG_ID_BASE + 2)  # ticket 3 belongs to organization 2
        assert ratings["3"].at == NOW - timedelta(days=4, hours=3)
        assert [p.state for p in pages[:-1]] == [WatermarkState(), WatermarkState()]
        state = pages[-1].state
        assert isinstance(state, WatermarkState)
        assert state.value == NOW - timedelta(days=4, hours=1)
        assert state.keys_at_value == {f"{(NOW - timedelta(days=4, hours=1)).isoformat()} 1"}
        assert [(r.id, r.score, r.account_key) for p in resumed for r in p.records] == [
            ("251", 0, str(ORG_ID_BASE + 7))
        ]
        # 3 pages of 100 + the show_many lookups keying ratings by organization, 100 ids a call
        # (every ticket is unknown here: ceil(250 / 100) = 3); then 1 + 1.
        assert endpoint_calls(box, "satisfaction_ratings") == 4
        assert endpoint_calls(box, "tickets/show_many") == 4
    finally:
        box.stop()


def test_ratings_on_deleted_or_organizationless_tickets_are_skipped(tmp_path):
    data = dataset(tmp_path, orgs=5, tickets=4, ratings=4, deleted_every=4)
    data.tickets[1] = replace(data.tickets[1], customer=None)  # ticket 2: no organization
    box = zendesk_sandbox(data)
    try:
        with connect(box, tmp_path / "cfg") as zendesk:
            pages = list(zendesk.iter_ratings())
        assert [r.id for p in pages for r in p.records] == ["1", "3"]
        assert pages[-1].state.value == NOW - timedelta(days=4, hours=1)  # type: ignore[union-attr]
    finally:
        box.stop()


# --- identity and authentication -------------------------------------------------------------------


def test_whoami_with_an_api_token_and_with_oauth(fresh_counts, tmp_path):
    creds = fresh_counts.info()["zendesk"]
    with connect(fresh_counts, tmp_path / "token") as zendesk:
        me = zendesk.whoami()
    with connect(fresh_counts, tmp_path / "oauth", oauth=True) as zendesk:
        assert zendesk.whoami() == me
    assert (me.name, me.email, me.role) == ("Sandbox API Admin", creds["email"], "admin")


@pytest.mark.parametrize(("oauth", "key"), [(False, "zendesk.token"), (True, "zendesk.oauth_token")])
def test_a_refused_credential_names_its_config_key_and_the_fix(fresh_counts, tmp_path, oauth, key):
    http = Http(sleep=lambda _: pytest.fail("an auth failure must not be retried"))
    with (
        connect(fresh_counts, tmp_path, http, oauth=oauth, token="not-the-token") as zendesk,
        pytest.raises(AuthError) as caught,
    ):
        list(zendesk.iter_tickets(None, start=LONG_AGO))
    text = str(caught.value)
    assert key in text
    assert "fix:" in text
    assert "Couldn't authenticate you" in text
    assert "not-the-token" not in text
    assert "start_time" not in text  # URLs lose their query strings
    assert caught.value.status == 401
    assert http.retries == []
    assert endpoint_calls(fresh_counts, "incremental/tickets/cursor") == 1


# --- where zenpy is pointed ------------------------------------------------------------------------


def _section(**values: object) -> ZendeskSection:
    return ZendeskSection.model_validate(
        {"email": "admin@acme.example", "token": {"env": "ZENDESK_TOKEN"}, **values}
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"subdomain": "acme"}, ("acme", None)),
        ({"url": "https://acme.zendesk.com"}, ("acme", None)),
        (
            {"url": "http://127.0.0.1:8080"},
            (PLACEHOLDER_SUBDOMAIN, ("https://healthsync.zendesk.com", "http://127.0.0.1:8080")),
        ),
        (
            {"url": "https://support.acme.example/zendesk"},
            (
                PLACEHOLDER_SUBDOMAIN,
                ("https://healthsync.zendesk.com", "https://support.acme.example/zendesk"),
            ),
        ),
    ],
    ids=["subdomain", "zendesk-url", "sandbox", "proxy-path"],
)
def test_zendesk_target(values, expected):
    assert zendesk_target(_section(**values)) == expected


def test_ticket_is_critical_by_the_configured_priorities(fresh_counts, tmp_path):
    with connect(fresh_counts, tmp_path, critical_priorities=["urgent"]) as zendesk:
        tickets = [t for p in zendesk.iter_tickets(None, start=LONG_AGO) for t in p.records]
    assert {t.priority for t in tickets if t.is_critical} == {"urgent"}
