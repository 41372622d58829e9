"""How long the portfolio report takes, and how much memory it needs, for 1k to 100k accounts.

Each size fills a fresh SQLite state store with weekly snapshots (a month and a week of history:
ARR changes, churn outcomes, bands, reasons and signals as a sync records them), then times loading
the history, building the report and rendering its HTML, in a fresh process so its peak RSS is its
own. Prints figures and asserts nothing.

    .venv/bin/python bench/report_bench.py [ACCOUNTS ...]
"""

from __future__ import annotations

import multiprocessing
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from healthsync.model import Band, ContractOutcome
from healthsync.report.build import build_report
from healthsync.report.load import load_history
from healthsync.report.periods import period_for
from healthsync.report.render_html import render_html
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import AccountSnapshot, OutcomeRecord

SIZES = (1_000, 10_000, 100_000)
AS_OF = date(2026, 11, 24)
WEEKS = 6
BANDS = (Band.GREEN, Band.GREEN, Band.GREEN, Band.YELLOW, Band.RED)
SIGNAL = {
    "kind": "expansion",
    "code": "expansion.utilization",
    "subject": "Seats nearly full",
    "reason": "92 %",
}


def _fill(store: StateStore, accounts: int) -> None:
    rng = random.Random(accounts)
    arr = [float(rng.randrange(5, 400) * 100) for _ in range(accounts)]
    start = [AS_OF - timedelta(days=rng.randrange(0, 700)) for _ in range(accounts)]
    churned: list[OutcomeRecord] = []
    for week in range(WEEKS):
        day = AS_OF - timedelta(days=7 * (WEEKS - 1 - week))
        run = store.start_run("bench", dry_run=False)
        rows = []
        for i in range(accounts):
            if rng.random() < 0.01:
                arr[i] = float(round(arr[i] * rng.uniform(0.8, 1.25), -2))
            band = BANDS[(i + week) % len(BANDS)]
            rows.append(
                AccountSnapshot(
                    account=f"A{i:06d}",
                    arr=arr[i],
                    licenses=20,
                    band=band,
                    score=float(rng.randrange(0, 101)),
                    contract_start=start[i],
                    contract_end=start[i] + timedelta(days=365),
                    owner_id=f"U{i % 40}",
                    owner_name=f"Owner {i % 40}",
                    name=f"Account {i}",
                    reasons=("+30 Logged in on 29 of the last 30 days", "-15 Last NPS answer was 5"),
                    signals=(SIGNAL,) if i % 7 == 0 else (),
                    value_day=start[i] + timedelta(days=9) if (AS_OF - start[i]).days < 120 else None,
                )
            )
        store.record_snapshots(run, day, rows)
        if week:
            for i in rng.sample(range(accounts), max(1, accounts // 400)):
                churned.append(
                    OutcomeRecord(
                        f"A{i:06d}",
                        day,
                        ContractOutcome.CHURNED,
                        "price",
                        None,
                        arr[i],
                        datetime.now(UTC),
                        day,
                    )
                )
    with store.transaction() as tx:
        tx.record_outcomes(churned)


def _run(accounts: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="healthsync-report-") as workdir:
        store = StateStore.open(f"sqlite:///{Path(workdir) / 'state.db'}")
        try:
            began = time.perf_counter()
            _fill(store, accounts)
            filled = time.perf_counter() - began
            period = period_for(AS_OF, "month")
            began = time.perf_counter()
            history = load_history(store, as_of=AS_OF, since=period.start, crm="hubspot")
            loaded = time.perf_counter() - began
            began = time.perf_counter()
            report = build_report(history, period_kind="month")
            built = time.perf_counter() - began
            began = time.perf_counter()
            page = render_html(report)
            rendered = time.perf_counter() - began
        finally:
            store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "fill": filled,
        "load": loaded,
        "build": built,
        "render": rendered,
        "snapshots": float(len(history.snapshots)),
        "page_kb": len(page.encode()) / 1024,
        "peak_mb": peak,
    }


def main(sizes: tuple[int, ...]) -> None:
    print(f"portfolio report over {WEEKS} weekly syncs (trailing month), SQLite state store")
    print(
        f"{'accounts':>9} {'snapshots':>10} {'load s':>7} {'build s':>8} {'html s':>7} {'page KB':>8} {'peak MB':>8}"
    )
    context = multiprocessing.get_context("spawn")
    for accounts in sizes:
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            r = pool.submit(_run, accounts).result()
        print(
            f"{accounts:>9,} {int(r['snapshots']):>10,} {r['load']:>7.1f} {r['build']:>8.1f} "
            f"{r['render']:>7.1f} {r['page_kb']:>8.0f} {r['peak_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main(tuple(int(a) for a in sys.argv[1:]) or SIZES)
