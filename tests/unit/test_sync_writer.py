"""The plan writer's renewal deals: one link pass per run, written ahead, and healed on the next run.

HubSpot's batch upsert takes no associations, so a deal's link to its company is a request of its
own. The writer upserts every deal first and then links the whole run's deals in one
`link_deals` pass (the connector sends it 2,000 pairs a call). Each link is in the outbox before
its deal's upsert, so a crash, a stop or a refusal between the two is healed by the next run even
when that run has no reason to upsert the deal again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from threading import Event

import pytest

from healthsync.connectors.base import CrmDeal, CrmTask, DealLink, FieldUpdate, WriteOutcome
from healthsync.model import DealUpsert, Plan, RenewalStage, TaskUpsert
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import OutboxStatus
from healthsync.sync.writer import DEAL_LINK, PlanWriter, link_key


@dataclass
class FakeCrm:
    """A CRM that keeps deals and their account links apart, as HubSpot does (or not, `separate`)."""

    separate_deal_links: bool = True
    upserts_tasks: bool = True
    refuse_links: set[str] = field(default_factory=set)
    deals: dict[str, str] = field(default_factory=dict)
    """Deal key -> CRM id."""
    links: dict[str, str] = field(default_factory=dict)
    """CRM id -> account id."""
    upserts: list[tuple[int, bool]] = field(default_factory=list)
    """(batch size, link) of every upsert call."""
    link_calls: list[list[DealLink]] = field(default_factory=list)
    lookups: list[list[str]] = field(default_factory=list)

    def update_fields(self, batch: Sequence[FieldUpdate]) -> list[WriteOutcome]:
        return [WriteOutcome(u.record_id, True) for u in batch]

    def upsert_tasks(self, batch: Sequence[TaskUpsert], *, look_up: bool = True) -> list[WriteOutcome]:
        return [WriteOutcome(t.key, True, crm_id=t.key, created=True) for t in batch]

    def upsert_deals(self, batch: Sequence[DealUpsert], *, link: bool = True) -> list[WriteOutcome]:
        self.upserts.append((len(batch), link))
        out = []
        for deal in batch:
            new = deal.key not in self.deals
            crm_id = self.deals.setdefault(deal.key, f"D{len(self.deals) + 1}")
            if link or not self.separate_deal_links:
                self.links[crm_id] = deal.account_id
            out.append(WriteOutcome(deal.key, True, crm_id=crm_id, created=new))
        return out

    def link_deals(self, links: Sequence[DealLink]) -> list[WriteOutcome]:
        self.link_calls.append(list(links))
        out = []
        for link in links:
            if link.key in self.refuse_links:
                error = f"deal saved but not linked to company {link.account_id}: refused"
                out.append(WriteOutcome(link.key, False, crm_id=link.crm_id, error=error))
            else:
                self.links[link.crm_id] = link.account_id
                out.append(WriteOutcome(link.key, True, crm_id=link.crm_id, created=link.new))
        return out

    def fetch_deals(self, keys: Sequence[str]) -> dict[str, CrmDeal]:
        self.lookups.append(list(keys))
        return {
            k: CrmDeal(k, self.deals[k], "Preparation", RenewalStage.PREPARATION, False, None, None, None)
            for k in keys
            if k in self.deals
        }

    def fetch_tasks(self, keys: Sequence[str]) -> dict[str, CrmTask]:
        return {}

    def keyed_tasks(self, since: str | None) -> Iterator[CrmTask]:
        return iter(())


def deal(i: int) -> DealUpsert:
    return DealUpsert(
        key=f"renewal:{i:04d}:2027-01-01",
        account_id=f"{i:04d}",
        name=f"Account {i} renewal",
        pipeline="Renewals",
        stage=RenewalStage.PREPARATION,
        amount=1200.0,
        close_date=date(2027, 1, 1),
        owner_id=None,
        reason="contract ends 2027-01-01",
    )


def plan(deals: Sequence[DealUpsert] = ()) -> Plan:
    return Plan((), (), tuple(deals))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    clock = lambda: datetime(2026, 11, 2, 9, tzinfo=UTC)  # noqa: E731
    with StateStore.open(f"sqlite:///{tmp_path / 'state.db'}", clock=clock) as opened:
        yield opened


def writer(crm: FakeCrm, store: StateStore, stop: Event | None = None) -> PlanWriter:
    run_id = store.start_run("test", dry_run=False)
    return PlanWriter(crm, store, vendor="hubspot", run_id=run_id, max_attempts=3, stop=stop)


def link_status(store: StateStore) -> dict[str, OutboxStatus]:
    entries = store.outbox_pending(kind=DEAL_LINK, statuses=tuple(OutboxStatus))
    return {str(e.payload["deal"]): e.status for e in entries}


def test_a_runs_deals_are_upserted_in_batches_and_linked_in_one_pass(store: StateStore) -> None:
    crm = FakeCrm()
    deals = [deal(i) for i in range(250)]
    report = writer(crm, store).write(plan(deals))

    assert crm.upserts == [(100, False), (100, False), (50, False)]
    assert [len(call) for call in crm.link_calls] == [250]  # one pass, not one per upsert batch
    assert all(link.new for link in crm.link_calls[0])
    assert crm.links == {crm.deals[d.key]: d.account_id for d in deals}
    assert (report.deals, report.failed["deals"], report.errors) == (250, 0, [])
    assert set(link_status(store).values()) == {OutboxStatus.CONFIRMED}


def test_a_refused_link_is_a_dead_letter_and_the_next_run_links_it(store: StateStore) -> None:
    crm = FakeCrm(refuse_links={deal(1).key})
    report = writer(crm, store).write(plan([deal(0), deal(1)]))
    assert (report.deals, report.failed["deals"]) == (1, 1)
    assert "deal saved but not linked to company 0001" in report.errors[0]["message"]
    [letter] = store.open_dead_letters()
    assert (letter.object, letter.record_key) == ("renewal_deal", deal(1).key)
    assert link_status(store) == {deal(0).key: OutboxStatus.CONFIRMED, deal(1).key: OutboxStatus.FAILED}

    # The deal is as planned now, so the next plan has no upsert for it; the outbox still links it.
    crm.refuse_links.clear()
    again = writer(crm, store).write(plan())
    assert crm.upserts == [(2, False)]
    assert [(link.key, link.new) for link in crm.link_calls[-1]] == [(deal(1).key, False)]
    assert crm.links[crm.deals[deal(1).key]] == "0001"
    assert (again.deals, again.failed["deals"]) == (0, 0)
    assert store.open_dead_letters() == []
    assert set(link_status(store).values()) == {OutboxStatus.CONFIRMED}

    writer(crm, store).write(plan())
    assert len(crm.link_calls) == 2  # settled: nothing more to link


def test_deals_saved_before_a_stop_are_linked_by_the_next_run(store: StateStore) -> None:
    """The run stops (or dies) after its upserts: the links are PENDING without the deals' ids."""
    stop = Event()
    crm = FakeCrm()

    class StopAfterUpserts(FakeCrm):
        def upsert_deals(self, batch: Sequence[DealUpsert], *, link: bool = True) -> list[WriteOutcome]:
            out = crm.upsert_deals(batch, link=link)
            if len(crm.upserts) == 2:
                stop.set()
            return out

    report = writer(StopAfterUpserts(), store, stop).write(plan([deal(i) for i in range(150)]))
    assert report.stopped
    assert report.deals == 150
    assert crm.link_calls == []
    assert crm.links == {}
    assert set(link_status(store).values()) == {OutboxStatus.PENDING}

    writer(crm, store).write(plan([deal(149)]))  # the next run upserts one of them again
    assert crm.lookups == [[deal(i).key for i in range(149)]]  # ids of the others, by key
    [links] = crm.link_calls
    assert sorted(link.key for link in links) == sorted(deal(i).key for i in range(150))
    assert crm.links == {crm.deals[deal(i).key]: deal(i).account_id for i in range(150)}
    assert set(link_status(store).values()) == {OutboxStatus.CONFIRMED}


def test_a_pending_link_of_a_deal_the_crm_lacks_is_settled_without_a_call(store: StateStore) -> None:
    store.outbox_put(link_key(deal(7).key), DEAL_LINK, "0007", {"deal": deal(7).key})
    crm = FakeCrm()
    writer(crm, store).write(plan())
    assert crm.lookups == [[deal(7).key]]
    assert crm.link_calls == []
    assert link_status(store) == {deal(7).key: OutboxStatus.CONFIRMED}


def test_a_link_refused_max_attempts_times_is_no_longer_sent(store: StateStore) -> None:
    crm = FakeCrm(refuse_links={deal(3).key})
    writer(crm, store).write(plan([deal(3)]))
    for _ in range(4):
        writer(crm, store).write(plan())
    assert len(crm.link_calls) == 3  # max_attempts: the dead letter stays open for a person
    assert len(store.open_dead_letters()) == 1


def test_a_crm_that_links_in_the_upsert_keeps_no_link_entries(store: StateStore) -> None:
    crm = FakeCrm(separate_deal_links=False)
    report = writer(crm, store).write(plan([deal(i) for i in range(3)]))
    assert crm.upserts == [(3, True)]
    assert crm.link_calls == []
    assert report.deals == 3
    assert link_status(store) == {}
