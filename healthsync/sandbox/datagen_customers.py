"""The CRM side of the customer base: owners and customers with segments, ARR, seats and contracts.

Segments follow a typical B2B book: about 60 % SMB, 30 % Mid-Market, 10 % Enterprise. Seats and the
price per seat scale with the segment and are log-normal within it, so ARR has the long right tail
real books have. Contract ends spread evenly over the next 18 months, which puts about a fifth of
the book within 120 days of renewal: every renewal stage has accounts in it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from healthsync.sandbox.datagen_model import (
    ARCHETYPE_SHARES,
    LINK_SHARES,
    SEGMENT_SHARES,
    add_years,
    one,
    quota_shuffle,
    timestamp,
)
from healthsync.sandbox.dataset import Archetype, Customer, Owner, ZendeskLink
from healthsync.sandbox.names import (
    FIRST_NAMES,
    INDUSTRIES,
    LAST_NAMES,
    VENDOR_DOMAIN,
    company_name,
    email_local,
    name_variant,
)

__all__ = [
    "build_customers",
    "customer_key",
    "make_customer",
    "make_owners",
    "owner_count",
    "support_only_count",
]

# segment: (median seats, sigma, min seats, max seats, price per seat per year low/high)
_SEGMENTS: dict[str, tuple[float, float, int, int, float, float]] = {
    "SMB": (12, 0.55, 3, 60, 420, 900),
    "Mid-Market": (90, 0.45, 40, 400, 350, 700),
    "Enterprise": (700, 0.5, 300, 5000, 250, 550),
}
_DAY = 86400.0


def customer_key(index: int) -> str:
    """The account key healthsync links systems by, e.g. "C000042"."""
    return f"C{index:06d}"


def owner_count(accounts: int) -> int:
    """About one CSM per 40 accounts, at least two."""
    return max(2, round(accounts / 40))


def make_owners(rng: random.Random, count: int) -> list[Owner]:
    """CSMs with unique emails at the vendor's domain."""
    taken: set[str] = set()
    owners = []
    for index in range(count):
        first, last = one(rng, FIRST_NAMES), one(rng, LAST_NAMES)
        email, n = f"{email_local(first, last)}@{VENDOR_DOMAIN}", 1
        while email in taken:
            n += 1
            email = f"{email_local(first, last)}{n}@{VENDOR_DOMAIN}"
        taken.add(email)
        owners.append(Owner(index, first, last, email))
    return owners


def _seats_and_arr(rng: random.Random, segment: str) -> tuple[int, float]:
    median, sigma, low, high, price_low, price_high = _SEGMENTS[segment]
    seats = min(high, max(low, round(rng.lognormvariate(0, sigma) * median)))
    price = rng.uniform(price_low, price_high)
    return seats, float(round(seats * price, -2) or 100)


def make_customer(
    rng: random.Random,
    index: int,
    now: datetime,
    taken: set[str],
    *,
    owners: int,
    archetype: Archetype,
    segment: str,
    link: ZendeskLink,
    in_crm: bool = True,
    signed: datetime | None = None,
) -> Customer:
    """One customer with a unique name and domain.

    Args:
        rng: the random stream.
        index: its dense index (and so its key).
        now: the moment the data describes.
        taken: slugs (domains' first labels) already used; the new one is added.
        owners: how many owners there are to assign from.
        archetype: its story.
        segment: SMB, Mid-Market or Enterprise.
        link: how its Zendesk organization is linked.
        in_crm: False for a customer only support knows.
        signed: a brand-new customer (`advance`): its contract starts and its record is created
            at this moment.
    """
    company = company_name(rng, taken)
    seats, arr = _seats_and_arr(rng, segment)
    today = now.date()
    if signed is not None:
        start = signed.date()
        end = add_years(start, 1)
    elif archetype is Archetype.ONBOARDING:
        start = today - timedelta(days=rng.randint(0, 100))
        end = add_years(start, 1)
    else:
        # Ends within 18 months; 2- or 3-year terms keep the start 1-3 years back.
        to_end = rng.randint(0, 547)
        years = 3 if to_end > 365 or rng.random() < 0.4 else 2
        end = today + timedelta(days=to_end)
        start = add_years(end, -years)
    if signed is not None:
        created = modified = signed
    else:
        sales_cycle = rng.uniform(14 * _DAY, 120 * _DAY)
        created = timestamp(datetime.combine(start, datetime.min.time(), UTC), -sales_cycle)
        created = min(created, now - timedelta(days=1))
        modified = max(created, timestamp(now, -rng.uniform(600, 60 * _DAY)))
    zendesk_name = name_variant(rng, company) if link is ZendeskLink.NAME else company.name
    return Customer(
        index=index,
        key=customer_key(index),
        name=company.name,
        domain=company.domain,
        owner=rng.randrange(owners),
        industry=one(rng, INDUSTRIES),
        segment=segment,
        archetype=archetype,
        arr=arr,
        seats=seats,
        contract_start=start,
        contract_end=end,
        created_at=created,
        modified_at=modified,
        zendesk_link=link,
        zendesk_name=zendesk_name,
        in_crm=in_crm,
    )


def support_only_count(accounts: int) -> int:
    """About 2 % extra organizations only support knows (at least one)."""
    return max(1, round(accounts * 0.02)) if accounts > 0 else 0


def build_customers(rng: random.Random, accounts: int, now: datetime, owners: int) -> list[Customer]:
    """`accounts` CRM customers in exact archetype, segment and link shares, then ~2 % support-only ones."""
    archetypes = quota_shuffle(rng, ARCHETYPE_SHARES, accounts)
    segments = quota_shuffle(rng, SEGMENT_SHARES, accounts)
    links = quota_shuffle(rng, LINK_SHARES, accounts)
    taken: set[str] = set()
    customers = [
        make_customer(
            rng, i, now, taken, owners=owners, archetype=archetypes[i], segment=segments[i], link=links[i]
        )
        for i in range(accounts)
    ]
    for i in range(accounts, accounts + support_only_count(accounts)):
        link = ZendeskLink.NAME if rng.random() < 0.5 else ZendeskLink.DOMAIN
        customers.append(
            make_customer(
                rng,
                i,
                now,
                taken,
                owners=owners,
                archetype=Archetype.HEALTHY,
                segment="SMB",
                link=link,
                in_crm=False,
            )
        )
    return customers
