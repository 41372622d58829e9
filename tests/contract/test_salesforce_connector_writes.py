"""Salesforce connector, writes: collections at 200, per-record outcomes, upserts by key, lock retries.

Minimum calls for a write of N records: ceil(N / 200); a batch of zero makes zero calls. A row lock
adds exactly one later call holding only the locked records.
"""

from __future__ import annotations

from datetime import date

import pytest
from salesforce_support import UPDATE, UPSERT, dataset, org

from healthsync.connectors.base import FieldUpdate
from healthsync.model import DealUpsert, RenewalStage, TaskPriority, TaskUpsert


@pytest.fixture
def many(tmp_path):
    with org(tmp_path, data=dataset(tmp_path / "data", 450)) as o:
        o.ids = sorted(r["Id"] for r in o.state("Account"))
        yield o


@pytest.fixture
def small(tmp_path):
    with org(tmp_path, data=dataset(tmp_path / "data", 5)) as o:
        o.ids = sorted(r["Id"] for r in o.state("Account"))
        yield o


def by_id(o, sobject="Account"):
    return {r["Id"]: r for r in o.state(sobject)}


def test_450_updates_take_3_calls_and_one_bad_record_does_not_sink_its_batch(many):
    batch = [FieldUpdate("Account", i, {"Health_Score__c": 50.0 + n % 40}) for n, i in enumerate(many.ids)]
    bad = 250
    batch[bad] = FieldUpdate("Account", many.ids[bad], {"Health_Band__c": "Purple"})
    many.reset()
    outcomes = many.connector.update_fields(batch)
    assert many.calls() == {UPDATE: 3}  # 200 + 200 + 50
    assert [o.key for o in outcomes] == many.ids
    refused = [o for o in outcomes if not o.ok]
    assert [o.key for o in refused] == [many.ids[bad]]
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in (refused[0].error or "")
    assert not refused[0].retryable
    state = by_id(many)
    assert all(
        state[u.record_id]["Health_Score__c"] == u.values["Health_Score__c"]
        for n, u in enumerate(batch)
        if n != bad
    )
    assert state[many.ids[bad]]["Health_Band__c"] is None
    assert all(o.crm_id == o.key for o in outcomes if o.ok)


def test_records_with_different_field_sets_blank_nothing(small):
    """STYLE.md pitfall 7 (simonw/sqlite-utils#873): a field a record leaves out keeps its value."""
    a, b = small.ids[0], small.ids[1]
    small.connector.update_fields(
        [
            FieldUpdate("Account", a, {"Health_Band__c": "Green", "Health_Reasons__c": "kept"}),
            FieldUpdate("Account", b, {"Health_Score__c": 12.5}),
        ]
    )
    outcomes = small.connector.update_fields(
        [
            FieldUpdate("Account", a, {"Health_Score__c": 80.0}),
            FieldUpdate("Account", b, {"Health_Band__c": "Red", "Health_Last_Synced__c": date(2026, 11, 2)}),
        ]
    )
    assert all(o.ok for o in outcomes), outcomes
    state = by_id(small)
    assert (state[a]["Health_Band__c"], state[a]["Health_Reasons__c"], state[a]["Health_Score__c"]) == (
        "Green",
        "kept",
        80.0,
    )
    assert (state[b]["Health_Score__c"], state[b]["Health_Band__c"]) == (12.5, "Red")
    assert state[b]["Health_Last_Synced__c"].startswith("2026-11-02")


def test_empty_batches_make_no_calls(small):
    small.reset()
    assert small.connector.update_fields([]) == []
    assert small.connector.upsert_tasks([]) == []
    assert small.connector.upsert_deals([]) == []
    nothing = small.connector.update_fields([FieldUpdate("Account", small.ids[0], {})])
    assert [(o.key, o.ok) for o in nothing] == [(small.ids[0], True)]
    assert small.calls() == {}


def _task(n, account, owner=None, **kw):
    values = {
        "key": f"{account}:risk:2026-W45:{n}",
        "account_id": account,
        "subject": f"Call the customer ({n})",
        "body": "Usage halved over 14 days.",
        "due": date(2026, 11, 3 + n),
        "owner_id": owner,
        "priority": TaskPriority.HIGH if n == 0 else TaskPriority.MEDIUM,
        "reason": "usage drop",
    }
    values.update(kw)
    return TaskUpsert(**values)


def test_task_upsert_twice_makes_no_duplicate(small):
    owner = by_id(small)[small.ids[0]]["OwnerId"]
    tasks = [_task(n, small.ids[n], owner if n != 2 else None) for n in range(3)]
    small.reset()
    first = small.connector.upsert_tasks(tasks)
    assert [(o.key, o.ok, o.created) for o in first] == [(t.key, True, True) for t in tasks]
    assert small.calls() == {UPSERT: 1}
    again = small.connector.upsert_tasks([*tasks[:2], _task(2, small.ids[2], subject="Call them now")])
    assert [(o.ok, o.created) for o in again] == [(True, False)] * 3
    assert [o.crm_id for o in again] == [o.crm_id for o in first]
    rows = small.state("Task")
    assert len(rows) == 3
    row = next(r for r in rows if r["Healthsync_Key__c"] == tasks[0].key)
    assert (row["WhatId"], row["AccountId"], row["OwnerId"]) == (small.ids[0], small.ids[0], owner)
    assert (row["Priority"], row["Status"], row["ActivityDate"]) == ("High", "Not Started", "2026-11-03")
    assert row["Description"] == "Usage halved over 14 days."
    assert next(r for r in rows if r["Healthsync_Key__c"] == tasks[2].key)["Subject"] == "Call them now"
    found = small.connector.fetch_tasks([t.key for t in tasks] + ["no-such-key"])
    assert set(found) == {t.key for t in tasks}
    assert found[tasks[1].key].status == "Not Started"
    assert not found[tasks[1].key].is_closed
    assert found[tasks[1].key].due == date(2026, 11, 4)


def _deal(account, stage, **kw):
    values = {
        "key": f"{account}:renewal:2027-01-01",
        "account_id": account,
        "name": "Customer 00000 renewal 2027",
        "pipeline": "renewals",
        "stage": stage,
        "amount": 12000.0,
        "close_date": date(2027, 1, 1),
        "owner_id": None,
        "reason": "90 days to renewal",
    }
    values.update(kw)
    return DealUpsert(**values)


def test_deal_upsert_by_external_id_and_fetch(small):
    account = small.ids[0]
    deal = _deal(account, RenewalStage.PREPARATION)
    small.reset()
    [created] = small.connector.upsert_deals([deal])
    assert created.ok
    assert created.created
    assert small.calls() == {UPSERT: 1}
    [row] = small.state("Opportunity")
    assert (row["StageName"], row["Type"], row["CloseDate"], row["Amount"], row["AccountId"]) == (
        "Preparation",
        "Renewal",
        "2027-01-01",
        12000.0,
        account,
    )
    [moved] = small.connector.upsert_deals([_deal(account, RenewalStage.NEGOTIATION, amount=None)])
    assert moved.ok
    assert moved.created is False
    assert moved.crm_id == created.crm_id
    [row] = small.state("Opportunity")
    assert (row["StageName"], row["Amount"]) == ("Negotiation", 12000.0)  # unknown amount not blanked
    found = small.connector.fetch_deals([deal.key])
    assert found[deal.key].stage is RenewalStage.NEGOTIATION
    assert not found[deal.key].is_closed
    small.sdk().Opportunity.update(created.crm_id, {"StageName": "Closed Won"})
    closed = small.connector.fetch_deals([deal.key])[deal.key]
    assert closed.is_closed
    assert closed.stage is RenewalStage.RENEWED
    assert (closed.close_date, closed.amount, closed.account_id) == (date(2027, 1, 1), 12000.0, account)


def test_a_locked_row_is_retried_once_in_a_later_smaller_call(small):
    small.app.lock_rows([small.ids[1]], times=1)
    small.reset()
    outcomes = small.connector.update_fields(
        [FieldUpdate("Account", i, {"Health_Score__c": 70.0}) for i in small.ids]
    )
    assert all(o.ok for o in outcomes), outcomes
    assert small.calls() == {UPDATE: 2}
    assert all(r["Health_Score__c"] == 70.0 for r in small.state("Account"))
    assert small.state("_locks") == []


def test_a_row_still_locked_comes_back_retryable(small):
    small.app.lock_rows([small.ids[1]], times=2)
    small.reset()
    outcomes = small.connector.update_fields(
        [FieldUpdate("Account", i, {"Health_Score__c": 70.0}) for i in small.ids]
    )
    assert small.calls() == {UPDATE: 2}
    locked = [o for o in outcomes if not o.ok]
    assert [(o.key, o.retryable) for o in locked] == [(small.ids[1], True)]
    assert "UNABLE_TO_LOCK_ROW" in (locked[0].error or "")
    assert sum(1 for r in small.state("Account") if r["Health_Score__c"] == 70.0) == 4


def test_a_task_whose_account_is_locked_is_retried(small):
    small.app.lock_rows([small.ids[0]], times=1)  # inserting a child locks its parent
    [outcome] = small.connector.upsert_tasks([_task(0, small.ids[0])])
    assert outcome.ok
    assert outcome.created


def test_a_5xx_on_an_idempotent_write_is_retried(small):
    small.faults({"path_prefix": "/services/data/v62.0/composite/sobjects", "method": "PATCH", "status": 503})
    small.reset()
    outcomes = small.connector.update_fields([FieldUpdate("Account", small.ids[0], {"Health_Score__c": 1.0})])
    assert outcomes[0].ok
    assert small.calls() == {UPDATE: 2}
    assert small.http.retries[0][1:3] == ("composite.sobjects.update", "TransientError")


def test_a_call_refused_whole_becomes_outcomes_not_an_exception(small):
    # Salesforce fails the whole call (400 JSON_PARSER_ERROR) for one unparseable date.
    batch = [
        FieldUpdate("Account", small.ids[0], {"Health_Score__c": 5.0}),
        FieldUpdate("Account", small.ids[1], {"Contract_End__c": "31/12/2026"}),
    ]
    outcomes = small.connector.update_fields(batch)
    assert [o.ok for o in outcomes] == [False, False]
    assert all("JSON_PARSER_ERROR" in (o.error or "") for o in outcomes)
    assert not any(o.retryable for o in outcomes)
