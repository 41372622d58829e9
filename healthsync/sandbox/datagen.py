"""The sandbox's seeded, deterministic customer base: `generate` builds it, `advance` evolves it.

Same (accounts, seed, now) gives byte-identical data: the dataclasses compare equal and the usage
database file has the same bytes. Everything random comes from one `random.Random(seed)` consumed
in a fixed order: owners, customers, then support (users, tickets, ratings). The usage database,
written customer by customer, has a stream of its own, so a worker process can write it while this
one makes the tickets. Traits `advance` needs again come from `datagen_model.trait`, and each
simulated day of `advance` has its own stream (`datagen_model.day_rng`).

What the data is built to show, with healthsync's default rules:

- healthy (45 %): logins on well over 15 of the last 30 days, most seats in use, promoters and
  passives, invoices paid on time;
- declining (15 %): usage in the last 14 days at 22-38 % of the 14 before (the "halved" risk);
- churn risk (12 %): a few percent of seats in use, a critical ticket open 8-30 days, a detractor
  as the last NPS answer, an invoice of the last 6 months paid late or overdue;
- onboarding (13 %): contract started 0-100 days ago, usage from that day on, ramping up over 60
  days (the day-30 and day-90 checkpoints fall inside);
- expanding (15 %): 86-97 % of seats active on weekdays, a promoter as the last NPS answer, seats
  added while the clock advances.

Usage has a weekday/weekend pattern: "active users" of an account means its weekday level (the
peak of the last week), not a Sunday's.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

from healthsync.sandbox.datagen_customers import build_customers, make_owners, owner_count
from healthsync.sandbox.datagen_evolve import advance
from healthsync.sandbox.datagen_model import AccountFacts, floor_minute
from healthsync.sandbox.datagen_support import write_support
from healthsync.sandbox.datagen_usage import write_history, write_history_rows
from healthsync.sandbox.dataset import Dataset

__all__ = ["PARALLEL_FROM", "USAGE_DB_NAME", "advance", "agent_count", "generate"]

USAGE_DB_NAME = "usage.db"


PARALLEL_FROM = 20_000
"""From this many accounts the usage database is written by a second process, beside the tickets."""


def agent_count(accounts: int) -> int:
    """A handful of support agents: 3, plus one per 10,000 accounts, at most 12."""
    return min(12, 3 + accounts // 10_000)


def generate(
    accounts: int, seed: int, *, now: datetime, workdir: Path, processes: int | None = None
) -> Dataset:
    """Generate `accounts` CRM customers (plus ~2 % only support knows) and everything around them.

    Args:
        accounts: customers in the CRM.
        seed: the random seed; the same (accounts, seed, now) gives the same data.
        now: the moment the data describes (aware). Timestamps are anchored on its whole minute,
            so the few milliseconds the sandbox's clock runs before generation change nothing.
        workdir: where `usage.db` is written (an existing one is replaced).
        processes: 2 writes the usage database in a worker process while this one makes the
            tickets, 1 does everything here; None picks 2 from `PARALLEL_FROM` accounts on a
            machine with more than one CPU. The data is the same either way.

    Returns:
        The dataset; `usage_db` points at the SQLite file.

    Raises:
        ValueError: negative `accounts` or a naive `now`.
    """
    if accounts < 0:
        raise ValueError(f"accounts must not be negative, got {accounts}")
    as_of = floor_minute(now)
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not cryptography
    owners = make_owners(rng, owner_count(accounts))
    customers = build_customers(rng, accounts, as_of, len(owners))
    workdir.mkdir(parents=True, exist_ok=True)
    usage_db = workdir / USAGE_DB_NAME
    if processes is None:
        processes = 2 if accounts >= PARALLEL_FROM and (os.cpu_count() or 1) > 1 else 1
    if processes > 1:
        # Spawn, not fork: the sandbox may already run server threads, which fork would copy.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            rows = [AccountFacts.as_row(c) for c in customers]
            written = pool.submit(write_history_rows, usage_db, rows, seed, as_of)
            support = write_support(rng, customers, as_of, agents=agent_count(accounts))
            written.result()
    else:
        support = write_support(rng, customers, as_of, agents=agent_count(accounts))
        write_history(usage_db, customers, seed, as_of)
    return Dataset(
        seed=seed,
        now=now,
        owners=owners,
        customers=customers,
        support_users=support.users,
        tickets=support.tickets,
        ratings=support.ratings,
        usage_db=usage_db,
    )
