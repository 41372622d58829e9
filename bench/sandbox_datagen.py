"""How long the sandbox's data generator takes, and how much memory it needs, for 1k to 100k accounts.

Each size runs in a fresh process, so its peak RSS is its own. Prints figures and asserts nothing.

    .venv/bin/python bench/sandbox_datagen.py [ACCOUNTS ...]
"""

from __future__ import annotations

import multiprocessing
import resource
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from healthsync.sandbox.datagen import advance, generate

SIZES = (1_000, 10_000, 100_000)
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _run(accounts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="healthsync-datagen-") as workdir:
        started = time.perf_counter()
        dataset = generate(accounts, 1, now=NOW, workdir=Path(workdir))
        seconds = time.perf_counter() - started
        db = sqlite3.connect(dataset.usage_db)
        try:
            counts = {
                table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
                for table in ("usage_daily", "invoices", "nps_responses")
            }
        finally:
            db.close()
        size_mb = dataset.usage_db.stat().st_size / 2**20
        started = time.perf_counter()
        delta = advance(dataset, days=7, now=NOW.replace(day=9))
        advance_seconds = time.perf_counter() - started
        # ru_maxrss is in KiB on Linux; from 20,000 accounts a worker process writes the usage
        # database, and RUSAGE_CHILDREN reports its peak.
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        return {
            "accounts": accounts,
            "customers": len(dataset.customers),
            "support_users": len(dataset.support_users),
            "tickets": len(dataset.tickets),
            "ratings": len(dataset.ratings),
            **counts,
            "db_mb": size_mb,
            "seconds": seconds,
            "advance_7d_seconds": advance_seconds,
            "advance_changed_tickets": len(delta.changed_tickets),
            "peak_rss_mb": peak_mb,
            "worker_rss_mb": worker_mb,
        }


def main(sizes: tuple[int, ...]) -> None:
    """Generate each size in its own process and print one line per size."""
    header = (
        f"{'accounts':>9} {'customers':>9} {'users':>7} {'tickets':>8} {'ratings':>7} {'usage_daily':>11} "
        f"{'invoices':>9} {'nps':>7} {'db MB':>6} {'gen s':>6} {'adv7d s':>7} {'peak RSS MB':>11} {'worker MB':>9}"
    )
    print(header)
    context = multiprocessing.get_context("spawn")
    for accounts in sizes:
        # A fresh process per size (its peak RSS is its own), allowed to start a worker of its own.
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            r = pool.submit(_run, accounts).result()
        print(
            f"{r['accounts']:>9,.0f} {r['customers']:>9,.0f} {r['support_users']:>7,.0f} {r['tickets']:>8,.0f} "
            f"{r['ratings']:>7,.0f} {r['usage_daily']:>11,.0f} {r['invoices']:>9,.0f} {r['nps_responses']:>7,.0f} "
            f"{r['db_mb']:>6.0f} {r['seconds']:>6.1f} {r['advance_7d_seconds']:>7.1f} {r['peak_rss_mb']:>11.0f} "
            f"{r['worker_rss_mb']:>9.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main(tuple(int(arg) for arg in sys.argv[1:]) or SIZES)
