"""Zendesk's side of the customer base: support users, 120 days of tickets and CSAT ratings.

Ticket statuses follow age the way a working support team leaves them: old tickets are solved or
closed (Zendesk closes a solved ticket after a few days), recent ones are new, open, pending or on
hold. Critical tickets (urgent/high) of churn risks stay open 8-30 days, so the "critical ticket open
more than 7 days" rule fires. Everyone else's critical tickets get solved within a week, but open
young ones exist too, so the rule has examples on both sides. Ids are dense from 1 in creation order,
as Zendesk's are.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from healthsync.sandbox.datagen_model import CRITICAL, cumulative, one, pick, poisson, ticket_rate, timestamp
from healthsync.sandbox.dataset import (
    Archetype,
    Customer,
    SupportTicket,
    SupportUser,
    SurveyRating,
    ZendeskLink,
)
from healthsync.sandbox.names import (
    CSAT_COMMENTS_BAD,
    CSAT_COMMENTS_GOOD,
    FIRST_NAMES,
    LAST_NAMES,
    TICKET_SUBJECTS,
    VENDOR_DOMAIN,
    email_local,
)

__all__ = [
    "TICKET_DAYS",
    "SupportHistory",
    "draw_priority",
    "draw_type",
    "make_agents",
    "make_rating",
    "make_users",
    "resolution_seconds",
    "write_support",
]

TICKET_DAYS = 120
DAY = 86400.0

_PRIORITIES = ("urgent", "high", "normal", "low", None)
_PRIORITY_WEIGHTS = cumulative((0.05, 0.15, 0.58, 0.2, 0.02))
_TYPES = ("question", "incident", "problem", "task")
_TYPE_WEIGHTS = cumulative((0.4, 0.3, 0.15, 0.15))
# Mean days from creation to solved, per priority.
_RESOLUTION_DAYS = {"urgent": 0.3, "high": 1.0, "normal": 3.0, "low": 5.0, None: 3.0}
GOOD_SHARE = {
    Archetype.HEALTHY: 0.9,
    Archetype.DECLINING: 0.7,
    Archetype.CHURN_RISK: 0.35,
    Archetype.ONBOARDING: 0.85,
    Archetype.EXPANDING: 0.95,
}


def draw_priority(rng: random.Random) -> str | None:
    """Urgent ~5 %, high ~15 %, normal ~58 %, low ~20 %, none ~2 %."""
    return pick(rng, _PRIORITIES, _PRIORITY_WEIGHTS)


def draw_type(rng: random.Random) -> tuple[str, str]:
    """(type, subject)."""
    kind = pick(rng, _TYPES, _TYPE_WEIGHTS)
    return kind, one(rng, TICKET_SUBJECTS[kind])


def resolution_seconds(rng: random.Random, priority: str | None) -> float:
    """Time to solve: exponential around the priority's mean, at least 10 minutes."""
    return max(600.0, rng.expovariate(1.0 / (_RESOLUTION_DAYS[priority] * DAY)))


def _person(rng: random.Random, domain: str, taken: set[str]) -> tuple[str, str]:
    first, last = one(rng, FIRST_NAMES), one(rng, LAST_NAMES)
    local = email_local(first, last)
    email, n = f"{local}@{domain}", 1
    while email in taken:
        n += 1
        email = f"{local}{n}@{domain}"
    taken.add(email)
    return f"{first} {last}", email


def make_agents(rng: random.Random, count: int, first_id: int, created: datetime) -> list[SupportUser]:
    """The vendor's own support agents: no organization, role "agent"."""
    taken: set[str] = set()
    out = []
    for i in range(count):
        name, email = _person(rng, f"support.{VENDOR_DOMAIN}", taken)
        out.append(SupportUser(first_id + i, None, name, email, "agent", created, created))
    return out


def make_users(
    rng: random.Random, customer: Customer, count: int, first_id: int, created: datetime
) -> list[SupportUser]:
    """`count` of the customer's employees, emails at its domain, created within an hour of each
    other from `created` on, in id order."""
    taken: set[str] = set()
    out = []
    at = created
    for i in range(count):
        name, email = _person(rng, customer.domain, taken)
        at += timedelta(seconds=1 + int(rng.random() * 3600))
        out.append(SupportUser(first_id + i, customer.index, name, email, "end-user", at, at))
    return out


def make_rating(
    rng: random.Random, rating_id: int, ticket: SupportTicket, archetype: Archetype, at: datetime
) -> SurveyRating:
    """A CSAT answer on a solved ticket: mostly good, less so for unhappy archetypes."""
    good = rng.random() < GOOD_SHARE[archetype]
    comments = CSAT_COMMENTS_GOOD if good else CSAT_COMMENTS_BAD
    comment = one(rng, comments) if rng.random() < 0.4 else ""
    return SurveyRating(
        rating_id, ticket.customer, ticket.id, ticket.requester, "good" if good else "bad", at, at, comment
    )


@dataclass
class SupportHistory:
    """What `write_support` made: users (agents first), tickets by id, ratings by id."""

    users: list[SupportUser]
    tickets: list[SupportTicket]
    ratings: list[SurveyRating]


def _status(rng: random.Random, age_days: float, critical: bool, archetype: Archetype) -> tuple[str, bool]:
    # (status, resolved) for a ticket of this age; resolved tickets get a solved_at.
    if critical and age_days > 7 and archetype not in (Archetype.CHURN_RISK, Archetype.DECLINING):
        return "solved", True
    if age_days > 30:
        return ("open", False) if not critical and rng.random() < 0.02 else ("solved", True)
    if age_days > 7:
        draw = rng.random()
        if draw < 0.85:
            return "solved", True
        return ("open", False) if draw < 0.93 else ("pending", False) if draw < 0.98 else ("hold", False)
    draw = rng.random()
    if draw < 0.3:
        return "solved", True
    if draw < 0.45:
        return "new", False
    return ("open", False) if draw < 0.8 else ("pending", False) if draw < 0.95 else ("hold", False)


def _ticket(
    rng: random.Random,
    customer: int | None,
    requester: int,
    created: datetime,
    now: datetime,
    archetype: Archetype,
    *,
    priority: str | None,
    status: str | None = None,
) -> SupportTicket:
    kind, subject = draw_type(rng)
    age = (now - created).total_seconds()
    if status is None and rng.random() < 0.01:
        updated = timestamp(created, rng.uniform(0, min(age, 2 * DAY)))
        return SupportTicket(
            0, customer, requester, subject, priority, "deleted", kind, created, updated, None, True
        )
    critical = priority in CRITICAL
    resolved = False
    if status is None:
        status, resolved = _status(rng, age / DAY, critical, archetype)
    if resolved:
        solved = timestamp(created, min(resolution_seconds(rng, priority), age - 60))
        since = (now - solved).total_seconds()
        if since > 4 * DAY and rng.random() < 0.9:
            closed = timestamp(solved, rng.uniform(4 * DAY, min(since, 8 * DAY)))
            return SupportTicket(
                0, customer, requester, subject, priority, "closed", kind, created, closed, solved
            )
        return SupportTicket(
            0, customer, requester, subject, priority, "solved", kind, created, solved, solved
        )
    updated = timestamp(created, rng.uniform(0, age))
    return SupportTicket(0, customer, requester, subject, priority, status, kind, created, updated)


def write_support(
    rng: random.Random, customers: Sequence[Customer], now: datetime, *, agents: int
) -> SupportHistory:
    """Support users (1-5 per organization), 120 days of tickets and CSAT on ~30 % of solved ones.

    Customers without a Zendesk organization (`ZendeskLink.NONE`) have no users and no tickets.
    """
    start = now - timedelta(days=TICKET_DAYS)
    users = make_agents(rng, agents, 1, start - timedelta(days=400))
    tickets: list[SupportTicket] = []
    archetypes: dict[int, Archetype] = {}
    for customer in customers:
        if customer.zendesk_link is ZendeskLink.NONE:
            continue
        archetypes[customer.index] = customer.archetype
        begin = max(start, datetime.combine(customer.contract_start, now.timetz()))
        begin = min(begin, now - timedelta(hours=1))
        mine = make_users(
            rng, customer, 1 + int(rng.random() * 5), len(users) + 1, begin - timedelta(hours=6)
        )
        users.extend(mine)
        window = (now - begin).total_seconds()
        count = poisson(rng, ticket_rate(customer) * window / (30 * DAY))
        for _ in range(count):
            created = timestamp(begin, rng.uniform(0, window - 600))
            requester = one(rng, mine).id
            tickets.append(
                _ticket(
                    rng,
                    customer.index,
                    requester,
                    created,
                    now,
                    customer.archetype,
                    priority=draw_priority(rng),
                )
            )
        if customer.archetype is Archetype.CHURN_RISK:
            # The stale critical ticket the risk rules look for: 8-30 days old and still open.
            created = timestamp(now, -rng.uniform(8 * DAY, 30 * DAY))
            tickets.append(
                _ticket(
                    rng,
                    customer.index,
                    rng.choice(mine).id,
                    created,
                    now,
                    customer.archetype,
                    priority=rng.choice(("urgent", "high")),
                    status=rng.choice(("open", "open", "pending", "hold")),
                )
            )
    for _ in range(max(1, len(customers) // 200)):
        # Internal tickets agents file for themselves: no organization.
        agent = rng.choice(users[:agents])
        created = timestamp(start, rng.uniform(0, TICKET_DAYS * DAY - 600))
        tickets.append(
            _ticket(rng, None, agent.id, created, now, Archetype.HEALTHY, priority=draw_priority(rng))
        )
    tickets.sort(key=lambda t: t.created_at)  # stable: ties keep generation order
    for number, ticket in enumerate(tickets, start=1):
        ticket.id = number
    ratings: list[SurveyRating] = []
    for ticket in tickets:
        if ticket.solved_at is None or ticket.customer is None or rng.random() >= 0.3:
            continue
        at = min(now, timestamp(ticket.solved_at, rng.uniform(3600, 2 * DAY)))
        ratings.append(make_rating(rng, 0, ticket, archetypes[ticket.customer], at))
    ratings.sort(key=lambda r: r.created_at)
    for number, rating in enumerate(ratings, start=1):
        rating.id = number
    return SupportHistory(users, tickets, ratings)
