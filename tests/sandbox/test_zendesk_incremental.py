"""Contract tests for the sandbox's Zendesk incremental exports and rate limits, through zenpy.

The cursor export is what healthsync's ticket sync stands on: pages of 1,000 in (change time, id)
order, `end_of_stream` on the last page, an `after_cursor` that resumes a later run with exactly
the tickets changed since, deleted tickets included with status `deleted`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from helpers.data import NOW, support_dataset
from helpers.sandboxes import zendesk_calls, zendesk_sandbox
from test_zendesk import check_spec, zenpy_client
from zenpy.lib.exception import APIException, RatelimitBudgetExceeded

from healthsync.sandbox import Sandbox
from healthsync.sandbox.dataset import Delta, SupportTicket, SurveyRating

ONE_DAY = 86_400


def epoch_days_ago(days: int) -> int:
    return int((NOW - timedelta(days=days)).timestamp())


@pytest.fixture
def tickets_box(tmp_path):
    box = zendesk_sandbox(support_dataset(tmp_path, orgs=50, tickets=2500, deleted_every=100))
    yield box
    box.stop()


@pytest.fixture
def http(tickets_box: Sandbox):
    creds = tickets_box.info()["zendesk"]
    with requests.Session() as session:
        session.auth = (f"{creds['email']}/token", creds["token"])
        yield session


def export_url(box: Sandbox, **params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{box.info()['zendesk']['url']}/api/v2/incremental/tickets/cursor.json?{query}"


def test_export_pages_2500_tickets_in_three_calls(tickets_box, monkeypatch):
    with requests.Session() as session:
        zen = zenpy_client(tickets_box, monkeypatch, session)
        export = zen.tickets.incremental(start_time=epoch_days_ago(60))
        tickets = list(export)
        assert len(tickets) == 2500
        assert export.end_of_stream is True
        assert export.after_cursor
    assert zendesk_calls(tickets_box, "GET /api/v2/incremental/tickets/cursor") == 3
    stamps = [(t.generated_timestamp, t.id) for t in tickets]
    assert stamps == sorted(stamps)  # ordered by change time, then id
    assert {t.status for t in tickets if t.id % 100 == 0} == {"deleted"}


@pytest.mark.undersized_pages(reason="checks that the export honours a per_page below the maximum")
def test_export_pages_match_the_spec(tickets_box, http):
    # The published OAS's ticket status enum lacks "deleted", which the export documents; pages are
    # validated without deleted tickets, and those are checked by hand in the test above.
    url = export_url(tickets_box, start_time=epoch_days_ago(60), exclude_deleted="true")
    sizes = []
    while True:
        body = check_spec(http.get(url))
        sizes.append(len(body["tickets"]))
        assert all(t["status"] != "deleted" for t in body["tickets"])
        assert body["after_url"].startswith(tickets_box.info()["zendesk"]["url"])
        if body["end_of_stream"]:
            break
        url = body["after_url"]
    assert sizes == [1000, 1000, 475]
    assert "exclude_deleted=true" in body["after_url"]
    no_suffix = http.get(
        export_url(tickets_box, start_time=epoch_days_ago(60), per_page=5000).replace(".json", "")
    )
    assert len(no_suffix.json()["tickets"]) == 1000  # per_page is capped at 1,000
    small = http.get(export_url(tickets_box, start_time=epoch_days_ago(60), per_page=10)).json()
    assert (len(small["tickets"]), small["end_of_stream"], small["before_cursor"]) == (10, False, None)


def test_resume_returns_exactly_the_changed_tickets(tickets_box, monkeypatch):
    app = tickets_box.app("zendesk")
    with requests.Session() as session:
        zen = zenpy_client(tickets_box, monkeypatch, session)
        first = zen.tickets.incremental(start_time=epoch_days_ago(60))
        assert len(list(first)) == 2500
        cursor = first.after_cursor
        again = zen.tickets.incremental(cursor=cursor)
        assert list(again) == []  # nothing changed: an empty last page that still resumes
        assert again.end_of_stream is True
        # A day passes: one ticket is solved, one deleted, one new, and a rating lands on a fourth.
        tickets_box.clock.advance(1)
        now = tickets_box.clock.now()
        solved = SupportTicket(
            7, 6, 10_006, "Ticket 7", "high", "solved", "question", NOW, now - timedelta(hours=3)
        )
        deleted = SupportTicket(
            8, 7, 10_007, "Ticket 8", "low", "open", "question", NOW, now - timedelta(hours=2), deleted=True
        )
        new = SupportTicket(
            9001, 1, 10_001, "Brand new", "urgent", "new", "incident", now, now - timedelta(hours=1)
        )
        rating = SurveyRating(77, 9, 10, 10_009, "bad", now - timedelta(hours=4), now - timedelta(hours=4))
        app.apply(Delta(now=now, new_tickets=[new], changed_tickets=[solved, deleted], new_ratings=[rating]))
        resumed = zen.tickets.incremental(cursor=cursor)
        changed = [(t.id, t.status) for t in resumed]
        assert changed == [(10, "pending"), (7, "solved"), (8, "deleted"), (9001, "new")]
        assert list(zen.tickets.incremental(cursor=resumed.after_cursor)) == []  # each change once
        assert zen.tickets(id=10).satisfaction_rating.score == "bad"


def test_changes_inside_the_last_minute_wait_for_the_next_pull(tickets_box, http):
    app = tickets_box.app("zendesk")
    first = http.get(export_url(tickets_box, start_time=epoch_days_ago(60), per_page=1000))
    body = first.json()
    while not body["end_of_stream"]:
        body = http.get(body["after_url"]).json()
    cursor = body["after_cursor"]
    now = tickets_box.clock.now()
    touched = SupportTicket(3, 2, 10_002, "Ticket 3", "urgent", "hold", "question", NOW, now)
    app.apply(Delta(now=now, changed_tickets=[touched]))
    assert http.get(export_url(tickets_box, cursor=cursor)).json()["tickets"] == []  # held back a minute
    tickets_box.clock.advance(1)
    later = http.get(export_url(tickets_box, cursor=cursor)).json()
    assert [(t["id"], t["status"]) for t in later["tickets"]] == [(3, "hold")]


def test_export_refusals(tickets_box, http):
    recent = int(tickets_box.clock.now().timestamp()) - 10
    too_recent = http.get(export_url(tickets_box, start_time=recent))
    assert too_recent.status_code == 422
    assert too_recent.json()["error"] == "InvalidValue"
    assert "Too recent start_time" in too_recent.json()["description"]
    assert http.get(export_url(tickets_box)).status_code == 400
    assert http.get(export_url(tickets_box, cursor="garbage!")).status_code == 400


def test_before_cursor_walks_back(tickets_box, http):
    page1 = http.get(export_url(tickets_box, start_time=epoch_days_ago(60), per_page=1000)).json()
    page2 = http.get(page1["after_url"]).json()
    back = http.get(page2["before_url"]).json()
    assert [t["id"] for t in back["tickets"]] == [t["id"] for t in page1["tickets"]]


def test_user_exports_by_cursor_and_time(tickets_box, monkeypatch, http):
    with requests.Session() as session:
        zen = zenpy_client(tickets_box, monkeypatch, session)
        users = list(zen.users.incremental(start_time=epoch_days_ago(60)))
        assert len(users) == 52  # 50 end users, the agent and the API admin
    base = tickets_box.info()["zendesk"]["url"]
    body = check_spec(
        http.get(f"{base}/api/v2/incremental/users/cursor.json", params={"start_time": epoch_days_ago(60)})
    )
    assert (len(body["users"]), body["end_of_stream"]) == (52, True)
    timed = check_spec(
        http.get(
            f"{base}/api/v2/incremental/users.json", params={"start_time": epoch_days_ago(60), "per_page": 20}
        )
    )
    assert (len(timed["users"]), timed["end_of_stream"]) == (52, True)  # all share one timestamp
    params = {"start_time": epoch_days_ago(60), "per_page": 1000, "exclude_deleted": "true"}
    tickets = check_spec(http.get(f"{base}/api/v2/incremental/tickets.json", params=params))
    assert (tickets["count"], tickets["end_of_stream"]) == (1000, False)
    assert tickets["next_page"].endswith(f"start_time={tickets['end_time']}")


@pytest.mark.undersized_pages(
    reason="pages 250 organizations by 100 to pin the item repeated at each page's end_time"
)
def test_organization_export_is_time_based(tmp_path, monkeypatch):
    box = zendesk_sandbox(support_dataset(tmp_path, orgs=250))
    try:
        creds = box.info()["zendesk"]
        with requests.Session() as http:
            http.auth = (f"{creds['email']}/token", creds["token"])
            url = f"{creds['url']}/api/v2/incremental/organizations.json?start_time={epoch_days_ago(60)}&per_page=100"
            seen: list[int] = []
            pages = 0
            while True:
                body = check_spec(http.get(url))
                pages += 1
                seen += [o["id"] for o in body["organizations"]]
                assert body["count"] == len(body["organizations"])
                if body["end_of_stream"]:
                    break
                url = body["next_page"]
            assert pages == 3
            # The next page starts at end_time, so the item at that second repeats (documented).
            assert len(set(seen)) == 250
            assert len(seen) == 252
        with requests.Session() as session:
            zen = zenpy_client(box, monkeypatch, session)
            first = zen.organizations.incremental(start_time=epoch_days_ago(60), per_page=100)
            assert next(iter(first)).id == 360_000_000_249  # oldest change first
    finally:
        box.stop()


# --- rate limits -----------------------------------------------------------------------------------


def test_incremental_exports_allow_10_per_minute(tmp_path, monkeypatch):
    box = zendesk_sandbox(support_dataset(tmp_path, orgs=5, tickets=5), rate_limits=True)
    try:
        creds = box.info()["zendesk"]
        with requests.Session() as http:
            http.auth = (f"{creds['email']}/token", creds["token"])
            url = export_url(box, start_time=epoch_days_ago(60))
            ok = [http.get(url) for _ in range(10)]
            assert {r.status_code for r in ok} == {200}
            assert ok[-1].headers["X-Rate-Limit"] == "400"
            assert ok[-1].headers["X-Rate-Limit-Remaining"] == "390"
            refused = http.get(url)
            assert refused.status_code == 429
            assert 1 <= int(refused.headers["Retry-After"]) <= 60
            assert refused.text == "Number of allowed API requests per minute exceeded"
            assert (
                http.get(f"{creds['url']}/api/v2/tickets.json").status_code == 200
            )  # other endpoints still fine
        with requests.Session() as session:
            zen = zenpy_client(box, monkeypatch, session, ratelimit_budget=1)
            with pytest.raises(RatelimitBudgetExceeded):
                list(zen.tickets.incremental(start_time=epoch_days_ago(60)))
        assert box.stats.snapshot()["zendesk"]["throttled"] == 2
    finally:
        box.stop()


def test_account_limit_per_minute(tmp_path, monkeypatch):
    box = zendesk_sandbox(support_dataset(tmp_path, orgs=5), rate_limits=True)
    try:
        box.app("zendesk").account_limit = 3
        with requests.Session() as session:
            zen = zenpy_client(box, monkeypatch, session, ratelimit_budget=1)
            for _ in range(3):
                zen.users.me()
            with pytest.raises(RatelimitBudgetExceeded):
                zen.users.me()
        creds = box.info()["zendesk"]
        refused = requests.get(
            f"{creds['url']}/api/v2/users/me.json",
            auth=(f"{creds['email']}/token", creds["token"]),
            timeout=5,
        )
        assert (
            refused.status_code,
            refused.headers["X-Rate-Limit"],
            refused.headers["ratelimit-remaining"],
        ) == (429, "3", "0")
    finally:
        box.stop()


def test_a_429_without_wait_is_an_error_for_zenpy(tmp_path, monkeypatch):
    box = zendesk_sandbox(support_dataset(tmp_path, orgs=5))
    try:
        rule = {"rules": [{"path_prefix": "/api/v2/users", "status": 429, "retry_after": 0}]}
        requests.post(f"{box.url}/_sandbox/faults", json=rule, timeout=5)
        with requests.Session() as session:
            zen = zenpy_client(box, monkeypatch, session)
            with pytest.raises((APIException, requests.HTTPError)):
                zen.users.me()
    finally:
        box.stop()
