"""`advance`: the world moves on when the sandbox's clock does.

Each simulated day is one 24-hour window starting at the previous `dataset.now` (on its whole
minute). In that window, in a fixed order:

- contracts that ended are renewed, mostly for a year and sometimes with more or fewer seats, or
  the customer churns with a reason;
- some customers add or remove seats mid-term;
- now and then a new customer signs and starts onboarding (these three are recorded as
  `ContractEvent`s, in the delta and in `dataset.contract_events`);
- open tickets move on, get solved (some rated), closed, reopened or deleted, and new ones come in;
- NPS answers and invoices (on the billing day) arrive, and overdue invoices get paid, late.

The completed calendar days get their usage rows, continuing each archetype's curve. Every
timestamp in the returned `Delta` falls after the old `dataset.now` and no later than the new one.
Each day has its own random stream, seeded from (seed, that day), so the same previous state and
the same `days` always give the same result.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from healthsync.sandbox.datagen_customers import make_customer
from healthsync.sandbox.datagen_model import (
    CRITICAL,
    LINK_SHARES,
    SEGMENT_SHARES,
    UsageProfile,
    add_years,
    billing_day,
    day_rng,
    floor_minute,
    poisson,
    ticket_rate,
    usage_profile,
)
from healthsync.sandbox.datagen_support import draw_priority, draw_type, make_rating, make_users
from healthsync.sandbox.datagen_usage import invoice_fate, invoice_row, nps_score, nps_time
from healthsync.sandbox.dataset import (
    Archetype,
    ContractEvent,
    ContractEventKind,
    Customer,
    Dataset,
    Delta,
    SupportTicket,
    SurveyRating,
    ZendeskLink,
)
from healthsync.sandbox.names import CHURN_REASONS

__all__ = ["advance"]

_DAY = 86400.0
_CHURN_ON_RENEWAL = {
    Archetype.HEALTHY: 0.05,
    Archetype.DECLINING: 0.3,
    Archetype.CHURN_RISK: 0.65,
    Archetype.ONBOARDING: 0.03,
    Archetype.EXPANDING: 0.01,
}
# (low, high) seat factor at renewal.
_RENEWAL_SEATS = {
    Archetype.HEALTHY: (0.95, 1.1),
    Archetype.DECLINING: (0.7, 1.0),
    Archetype.CHURN_RISK: (0.5, 0.9),
    Archetype.ONBOARDING: (1.0, 1.2),
    Archetype.EXPANDING: (1.1, 1.4),
}
# (daily chance, low, high seat factor) of a mid-term change.
_MIDTERM = {
    Archetype.HEALTHY: (1 / 500, 1.05, 1.15),
    Archetype.DECLINING: (1 / 200, 0.8, 0.95),
    Archetype.CHURN_RISK: (1 / 150, 0.7, 0.95),
    Archetype.ONBOARDING: (1 / 300, 1.05, 1.2),
    Archetype.EXPANDING: (1 / 45, 1.05, 1.25),
}
# Weights over CHURN_REASONS: unhappy customers blame support and gaps, happy ones budget and fate.
_REASON_WEIGHTS = {
    Archetype.CHURN_RISK: (3, 3, 2, 4, 2, 2, 3, 1, 1),
    Archetype.DECLINING: (3, 2, 2, 1, 4, 2, 3, 1, 1),
}
_OTHER_REASONS = (2, 1, 1, 1, 2, 4, 2, 3, 2)
_INSERT_NPS = "INSERT INTO nps_responses (response_id, account_key, score, responded_at) VALUES (?, ?, ?, ?)"
_INSERT_INVOICE = (
    "INSERT INTO invoices (invoice_id, account_key, due_date, paid_date, amount) VALUES (?, ?, ?, ?, ?)"
)
_SOLVE = {"urgent": 0.5, "high": 0.35, "normal": 0.2, "low": 0.12, None: 0.15}


class _World:
    """Lookups `advance` needs, built once per call from the dataset."""

    def __init__(self, dataset: Dataset, old: datetime, now: datetime) -> None:
        self.dataset = dataset
        self.seed = dataset.seed
        self.now = now
        self.base = floor_minute(old)
        self.by_index = {c.index: c for c in dataset.customers}
        self.users: dict[int, list[int]] = {}
        for user in dataset.support_users:
            if user.customer is not None:
                self.users.setdefault(user.customer, []).append(user.id)
        self.live = [t for t in dataset.tickets if not t.deleted and t.status != "closed"]
        self.taken = {c.domain.split(".")[0] for c in dataset.customers}
        self.next_user = max((u.id for u in dataset.support_users), default=0) + 1
        self.next_ticket = max((t.id for t in dataset.tickets), default=0) + 1
        self.next_rating = max((r.id for r in dataset.ratings), default=0) + 1
        self.next_index = max((c.index for c in dataset.customers), default=-1) + 1
        self.crm_count = sum(1 for c in dataset.customers if c.in_crm)
        self.owners = max(1, len(dataset.owners))
        self.changed_customers: dict[int, Customer] = {}
        self.new_customer_ids: set[int] = set()
        self.changed_tickets: dict[int, SupportTicket] = {}
        self.new_ticket_ids: set[int] = set()
        self.delta = Delta(now=now)
        self._profiles: dict[int, tuple[tuple[int, Archetype, date], UsageProfile]] = {}
        self._billing: dict[int, int] = {}

    def profile(self, customer: Customer) -> UsageProfile:
        """The customer's usage profile, recomputed only when its seats or contract change."""
        key = (customer.seats, customer.archetype, customer.contract_start)
        cached = self._profiles.get(customer.index)
        if cached is None or cached[0] != key:
            cached = key, usage_profile(self.seed, customer)
            self._profiles[customer.index] = cached
        return cached[1]

    def billing_day(self, customer: Customer) -> int:
        day = self._billing.get(customer.index)
        if day is None:
            day = self._billing[customer.index] = billing_day(self.seed, customer)
        return day

    def moment(self, rng: random.Random, day_start: datetime, latest: float = _DAY) -> datetime:
        """A moment in the simulated day: after its first minute, never after `now`."""
        return min(self.now, day_start + timedelta(seconds=int(rng.uniform(60, latest))))

    def archetype(self, index: int | None) -> Archetype:
        customer = self.by_index.get(index) if index is not None else None
        return customer.archetype if customer is not None else Archetype.HEALTHY

    def touch(self, customer: Customer, at: datetime) -> None:
        customer.modified_at = at
        if customer.index not in self.new_customer_ids:
            self.changed_customers[customer.index] = customer

    def record(
        self,
        customer: Customer,
        kind: ContractEventKind,
        at: datetime,
        before: tuple[float, int, date] | None,
    ) -> None:
        """Record a contract event; `before` is (ARR, seats, contract end) before it, None for a signing."""
        churned = kind == "churned"
        self.delta.contract_events.append(
            ContractEvent(
                at=at,
                account_key=customer.key,
                index=customer.index,
                kind=kind,
                arr_before=before[0] if before else 0.0,
                arr_after=0.0 if churned else customer.arr,
                seats_before=before[1] if before else 0,
                seats_after=0 if churned else customer.seats,
                contract_end_before=before[2] if before else None,
                contract_end_after=None if churned else customer.contract_end,
                reason=customer.churn_reason if churned else None,
            )
        )

    def update(self, ticket: SupportTicket, status: str, at: datetime) -> None:
        ticket.status = status
        ticket.updated_at = at
        if ticket.id not in self.new_ticket_ids:
            self.changed_tickets[ticket.id] = ticket


def _active(customers: Iterable[Customer]) -> Iterable[Customer]:
    return (c for c in customers if c.in_crm and not c.churned)


def _resize(customer: Customer, factor: float) -> None:
    seats = max(1, round(customer.seats * factor))
    customer.arr = float(round(customer.arr * seats / max(1, customer.seats), -2) or 100)
    customer.seats = seats


def _contracts(world: _World, rng: random.Random, day_start: datetime) -> None:
    today = day_start.date()
    for customer in _active(world.dataset.customers):
        at = None
        before = (customer.arr, customer.seats, customer.contract_end)
        kind: ContractEventKind | None = None
        if customer.contract_end <= today:
            at = world.moment(rng, day_start)
            if rng.random() < _CHURN_ON_RENEWAL[customer.archetype]:
                weights = _REASON_WEIGHTS.get(customer.archetype, _OTHER_REASONS)
                customer.churned, customer.renewed = True, False
                customer.churn_reason = rng.choices(CHURN_REASONS, weights)[0]
                kind = "churned"
            else:
                low, high = _RENEWAL_SEATS[customer.archetype]
                _resize(customer, rng.uniform(low, high))
                customer.arr = float(round(customer.arr * rng.uniform(1.0, 1.05), -2) or 100)
                customer.renewed = True
                customer.contract_start = customer.contract_end + timedelta(days=1)
                customer.contract_end = add_years(customer.contract_end, 1)
                kind = "renewed"
        else:
            chance, low, high = _MIDTERM[customer.archetype]
            if rng.random() < chance:
                at = world.moment(rng, day_start)
                _resize(customer, rng.uniform(low, high))
                kind = _resize_kind(before[0], before[1], customer)
        if at is not None:
            world.touch(customer, at)
            if kind is not None:
                world.record(customer, kind, at, before)


def _resize_kind(arr: float, seats: int, customer: Customer) -> ContractEventKind | None:
    """A resize is expanded or contracted by its ARR (by its seats when the ARR rounded the same);
    None when nothing changed."""
    if customer.arr != arr:
        return "expanded" if customer.arr > arr else "contracted"
    if customer.seats != seats:
        return "expanded" if customer.seats > seats else "contracted"
    return None


def _new_customers(world: _World, rng: random.Random, day_start: datetime) -> None:
    count = poisson(rng, max(0.15, world.crm_count * 0.0005))
    # Late enough in the day that their support users (created within hours) stay inside it.
    moments = sorted(world.moment(rng, day_start, _DAY - 5 * 3600) for _ in range(count))
    segments = [s for s, _ in SEGMENT_SHARES]
    links = [link for link, _ in LINK_SHARES]
    for at in moments:
        customer = make_customer(
            rng,
            world.next_index,
            at,
            world.taken,
            owners=world.owners,
            archetype=Archetype.ONBOARDING,
            segment=rng.choices(segments, [w for _, w in SEGMENT_SHARES])[0],
            link=rng.choices(links, [w for _, w in LINK_SHARES])[0],
            signed=at,
        )
        world.next_index += 1
        world.crm_count += 1
        world.dataset.customers.append(customer)
        world.by_index[customer.index] = customer
        world.new_customer_ids.add(customer.index)
        world.delta.new_customers.append(customer)
        world.record(customer, "signed", at, None)
        if customer.zendesk_link is not ZendeskLink.NONE:
            users = make_users(rng, customer, rng.randint(1, 3), world.next_user, at)
            world.next_user += len(users)
            world.users[customer.index] = [u.id for u in users]
            world.dataset.support_users.extend(users)
            world.delta.new_support_users.extend(users)


def _move_tickets(world: _World, rng: random.Random, day_start: datetime) -> list[SurveyRating]:
    ratings: list[SurveyRating] = []
    still_live = []
    for ticket in world.live:
        archetype = world.archetype(ticket.customer)
        status, draw = ticket.status, rng.random()
        at = None
        if status == "solved":
            solved = ticket.solved_at or ticket.updated_at
            if day_start - solved >= timedelta(days=4) and draw < 0.5:
                at = world.moment(rng, day_start)
                world.update(ticket, "closed", at)
            elif draw > 0.99:
                at = world.moment(rng, day_start)
                ticket.solved_at = None
                world.update(ticket, "open", at)
        elif draw < 0.0005:
            at = world.moment(rng, day_start)
            ticket.deleted = True
            world.update(ticket, "deleted", at)
        else:
            stale = archetype is Archetype.CHURN_RISK and ticket.priority in CRITICAL
            solve = 0.03 if stale else _SOLVE.get(ticket.priority, 0.15)
            if draw < solve:
                at = world.moment(rng, day_start)
                ticket.solved_at = at
                world.update(ticket, "solved", at)
                if ticket.customer is not None and rng.random() < 0.3:
                    rated = min(world.now, at + timedelta(seconds=rng.randint(60, 3600)))
                    ratings.append(make_rating(rng, 0, ticket, archetype, rated))
            elif status == "new" and draw < solve + 0.5:
                world.update(ticket, "open", world.moment(rng, day_start))
            elif status == "open" and draw < solve + 0.1:
                world.update(ticket, "pending", world.moment(rng, day_start))
            elif status in ("pending", "hold") and draw < solve + 0.1:
                world.update(ticket, "open", world.moment(rng, day_start))
        if not ticket.deleted and ticket.status != "closed":
            still_live.append(ticket)
    world.live = still_live
    return ratings


def _new_tickets(world: _World, rng: random.Random, day_start: datetime) -> None:
    fresh: list[SupportTicket] = []
    for customer in world.dataset.customers:
        users = world.users.get(customer.index)
        if customer.churned or not users or rng.random() >= ticket_rate(customer) / 30:
            continue
        at = world.moment(rng, day_start)
        kind, subject = draw_type(rng)
        requester = rng.choice(users)
        fresh.append(
            SupportTicket(0, customer.index, requester, subject, draw_priority(rng), "new", kind, at, at)
        )
    fresh.sort(key=lambda t: t.created_at)
    for ticket in fresh:
        ticket.id = world.next_ticket
        world.next_ticket += 1
        world.new_ticket_ids.add(ticket.id)
    world.live.extend(fresh)
    world.dataset.tickets.extend(fresh)
    world.delta.new_tickets.extend(fresh)


def _surveys_and_billing(
    world: _World,
    rng: random.Random,
    day_start: datetime,
    db: sqlite3.Connection,
    unpaid: list[tuple[str, date]],
) -> None:
    due = day_start.date() + timedelta(days=1)
    still_unpaid = []
    unpaid.sort()  # by invoice id, so one 14-day advance and two 7-day ones pay the same invoices
    for invoice_id, due_date in unpaid:
        if due_date < due and rng.random() < 0.12:
            db.execute(
                "UPDATE invoices SET paid_date = ? WHERE invoice_id = ?", (due.isoformat(), invoice_id)
            )
        else:
            still_unpaid.append((invoice_id, due_date))
    unpaid[:] = still_unpaid
    for customer in _active(world.dataset.customers):
        if rng.random() < 1 / 90:
            at = world.moment(rng, day_start)
            last = customer.archetype in (Archetype.CHURN_RISK, Archetype.EXPANDING)
            db.execute(
                _INSERT_NPS,
                (
                    f"NPS-{customer.key}-{day_start:%Y%m%d}",
                    customer.key,
                    nps_score(rng, customer.archetype, last=last),
                    nps_time(at),
                ),
            )
        if world.billing_day(customer) == due.day:
            row = invoice_row(rng, customer, due, invoice_fate(rng, customer.archetype), due)
            db.execute(
                _INSERT_INVOICE,
                row,
            )
            if row[3] is None:
                unpaid.append((row[0], due))


def _usage(world: _World, db: sqlite3.Connection, day: date) -> None:
    rng = day_rng(world.seed, "usage", day)
    rows = []
    for customer in _active(world.dataset.customers):
        profile = world.profile(customer)
        if day < profile.start:
            continue
        active, logins = profile.draw(profile.expected(day), rng)
        rows.append((customer.key, day.isoformat(), active, logins))
    db.executemany(
        "INSERT INTO usage_daily (account_key, day, active_users, logins) VALUES (?, ?, ?, ?)", rows
    )


def advance(dataset: Dataset, *, days: int, now: datetime) -> Delta:
    """Evolve `dataset` from `dataset.now` to `now`, `days` simulated days, and say what changed.

    Mutates the dataset (customers, support users, tickets, ratings) and its usage database, then
    sets `dataset.now = now`. Changed records appear in the delta once, with their final values;
    records created in this window are only in the `new_*` lists.

    Args:
        dataset: the world to evolve (generated, or built by hand with the same tables).
        days: whole days simulated (the sandbox clock has already moved by this much).
        now: the new simulated now; at least `days` after `dataset.now`.

    Returns:
        The delta, each list in time order.

    Raises:
        ValueError: negative `days`, or `now` before `dataset.now`.
    """
    old = dataset.now
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    if now < old:
        raise ValueError(f"cannot advance backwards from {old.isoformat()} to {now.isoformat()}")
    world = _World(dataset, old, now)
    usage_days = (now.date() - old.date()).days
    db = sqlite3.connect(dataset.usage_db, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute("BEGIN")
        unpaid = [
            (invoice_id, date.fromisoformat(due))
            for invoice_id, due in db.execute(
                "SELECT invoice_id, due_date FROM invoices WHERE paid_date IS NULL ORDER BY invoice_id"
            )
        ]
        for k in range(max(days, usage_days)):
            day_start = world.base + timedelta(days=k)
            if k < days:
                rng = day_rng(dataset.seed, "events", day_start.date())
                _contracts(world, rng, day_start)
                _new_customers(world, rng, day_start)
                ratings = _move_tickets(world, rng, day_start)
                _new_tickets(world, rng, day_start)
                ratings.sort(key=lambda r: r.created_at)
                for rating in ratings:
                    rating.id = world.next_rating
                    world.next_rating += 1
                dataset.ratings.extend(ratings)
                world.delta.new_ratings.extend(ratings)
                _surveys_and_billing(world, rng, day_start, db, unpaid)
            if k < usage_days:
                _usage(world, db, old.date() + timedelta(days=k))
        db.execute("COMMIT")
    finally:
        db.close()
    dataset.now = now
    delta = world.delta
    delta.changed_customers = sorted(world.changed_customers.values(), key=lambda c: (c.modified_at, c.index))
    delta.changed_tickets = sorted(world.changed_tickets.values(), key=lambda t: (t.updated_at, t.id))
    # Per day, customers are visited in index order but each change has its own moment in the day.
    delta.contract_events.sort(key=lambda e: (e.at, e.index))
    dataset.contract_events.extend(delta.contract_events)
    return delta
