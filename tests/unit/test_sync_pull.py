"""Pull: what a run holds of what the sources give it.

Accounts are held lean (repeated texts shared, blank live values and the connectors' raw inputs
left out) without changing what the plan reads; invoices are folded to their verdict per usage key
and NPS answers kept only as far as a run reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from healthsync.connectors.base import Page
from healthsync.model import Account, Payment, Rating, RatingKind, UsageDay
from healthsync.sync.features import payments_on_time
from healthsync.sync.pull import pull_accounts, pull_usage

AS_OF = date(2026, 3, 31)
AT = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


class Accounts:
    """An account source that gives its pages as they are."""

    def __init__(self, *pages: tuple[Account, ...]) -> None:
        self.pages = pages

    def iter_accounts(
        self, since: Any = None, *, run_started: datetime | None = None
    ) -> Iterator[Page[Account]]:
        for records in self.pages:
            yield Page(records)


def account(crm_id: str, **values: Any) -> Account:
    owner = "".join(["owner-", "7"])  # a fresh string each time, as a parsed record brings
    fields: dict[str, Any] = {
        "owner_id": owner,
        "segment": "".join(["Enter", "prise"]),
        "live_outputs": {"score": 61.0, "band": None, "reasons": None},
        "raw_inputs": {"domain": "https://acme.example"},
        "modified_at": AT,
    }
    return Account(crm_id, f"Acme {crm_id}", **{**fields, **values})


def test_accounts_are_held_lean_and_read_the_same() -> None:
    pages = ((account("1"), account("2", deleted=True)), (account("3", live_outputs={"band": None}),))
    first, third = pull_accounts(Accounts(*pages), run_started=AT)
    assert [first.crm_id, third.crm_id] == ["1", "3"]  # deleted accounts are not held
    assert first.owner_id == third.owner_id == "owner-7"
    assert first.owner_id is third.owner_id  # one copy of a repeated text
    assert first.segment is third.segment
    assert dict(first.live_outputs) == {"score": 61.0}
    for name in ("score", "band", "reasons", "trend"):
        assert first.live_outputs.get(name) == account("1").live_outputs.get(name)
    assert dict(third.live_outputs) == {}
    assert dict(first.raw_inputs) == {}
    assert first.modified_at is None
    assert (first.name, first.segment) == ("Acme 1", "Enterprise")


class Usage:
    """A usage source with fixed rows, handed out in batches of two."""

    def __init__(self, payments: list[Payment], nps: list[Rating]) -> None:
        self.payments, self.nps = payments, nps

    def iter_daily_usage(self, start: date, end: date) -> Iterator[list[UsageDay]]:
        yield [UsageDay("a", AS_OF, 3, 1)]

    def iter_payments(self, since: date) -> Iterator[list[Payment]]:
        rows = [p for p in self.payments if p.due_date >= since]
        for at in range(0, len(rows), 2):
            yield rows[at : at + 2]

    def iter_nps(self, since: date) -> Iterator[list[Rating]]:
        rows = [r for r in self.nps if r.at.date() >= since]
        for at in range(0, len(rows), 2):
            yield rows[at : at + 2]

    def close(self) -> None:
        return None


def _days(n: int) -> date:
    return AS_OF - timedelta(days=n)


def test_invoices_are_folded_to_the_verdict_of_each_key() -> None:
    invoices = [
        Payment("a", _days(30), _days(30)),
        Payment("b", _days(60), _days(50)),  # late
        Payment("a", _days(90), _days(91)),
        Payment("c", _days(1)),  # due yesterday, unpaid
        Payment("d", _days(-3)),  # not due yet
        Payment("b", _days(20), _days(25)),
    ]
    pulled = pull_usage(Usage(invoices, []), as_of=AS_OF, has_payments=True, has_nps=False, at=AT)
    by_key: dict[str, list[Payment]] = {}
    for invoice in invoices:
        by_key.setdefault(invoice.account_key, []).append(invoice)
    assert pulled.payments == {key: payments_on_time(rows, AS_OF) for key, rows in by_key.items()}
    assert pulled.payments == {"a": True, "b": False, "c": False, "d": None}
    assert pulled.nps is None
    assert pulled.window.summaries["a"].login_days == 1


def test_nps_answers_are_kept_as_far_as_a_run_reads_them() -> None:
    def nps(key: str, score: int, days: int) -> Rating:
        return Rating(key, RatingKind.NPS, score, AT - timedelta(days=days), f"{key}-{days}")

    answers = [nps("a", 3, 300), nps("a", 9, 200), nps("a", 6, 20), nps("b", 10, 150), nps("b", 2, 250)]
    since = AT - timedelta(days=100)
    pulled = pull_usage(
        Usage([], answers), as_of=AS_OF, has_payments=False, has_nps=True, at=AT, nps_recent_since=since
    )
    assert pulled.nps == {"a": [answers[2], answers[1]], "b": [answers[3]]}
    everything = pull_usage(Usage([], answers), as_of=AS_OF, has_payments=False, has_nps=True, at=AT)
    assert everything.nps == {"a": answers[:3], "b": answers[3:]}  # nothing is recent-only by default
    assert everything.payments is None
