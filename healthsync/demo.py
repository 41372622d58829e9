"""`healthsync demo`: the product end to end on the bundled sandbox, in under a minute.

It starts the sandbox CRMs in-process, writes a config for them into a working folder, and syncs
once a simulated week for a few weeks (the sandbox's clock moves its customers on between syncs:
usage rises and falls, tickets open, NPS answers arrive, renewals draw near), so trends and renewal
stages exist, and people close renewal deals (won, or lost with a reason). Then it prints what a CSM
would see in her CRM, writes the portfolio report (a quarter of history, so every metric has data),
and says where to look next.

The demo owns only the files it creates in the folder (config, state database, sandbox data), and
replaces them on every run, so a second `make demo` starts clean and gives the same result.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table

from healthsync.config import Config, load_config
from healthsync.model import Band, Direction
from healthsync.sandbox import Sandbox
from healthsync.sandbox.runtime import default_start
from healthsync.sandbox.serve import write_config
from healthsync.scoring.renewal import OPEN_STAGES
from healthsync.sync.engine import Reporter, SyncResult, open_store, run_sync
from healthsync.sync.plan import reasons_text

__all__ = ["DemoResult", "run_demo"]

CONFIG_NAME = "healthsync.toml"
REPORT_NAME = "portfolio-report.html"
DEFAULT_WEEKS = 15
"""A quarter and a week: the quarterly report's baseline (its start day) then has a sync before it."""


@dataclass
class DemoResult:
    """The demo's runs and where it left its files."""

    workdir: Path
    config_path: Path
    state_path: Path
    runs: list[SyncResult] = field(default_factory=list)
    report_path: Path | None = None

    @property
    def last(self) -> SyncResult:
        """The final week's run."""
        return self.runs[-1]


def _reset(workdir: Path) -> None:
    """Remove what an earlier demo left here (only the demo's own files)."""
    stem = Path(CONFIG_NAME).stem
    for name in (CONFIG_NAME, f"{stem}.db", f"{stem}.db-wal", f"{stem}.db-shm", REPORT_NAME):
        (workdir / name).unlink(missing_ok=True)
    for folder in (f"{stem}-secrets", "sandbox"):
        shutil.rmtree(workdir / folder, ignore_errors=True)


def run_demo(
    workdir: Path,
    *,
    accounts: int = 300,
    weeks: int = DEFAULT_WEEKS,
    seed: int = 1,
    crm: Literal["hubspot", "salesforce"] = "hubspot",
    console: Console | None = None,
) -> DemoResult:
    """Sync a fresh sandbox once a simulated week for `weeks` weeks, ending today; print a summary."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    console = console or Console(highlight=False)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    _reset(workdir)
    start = default_start() - timedelta(days=7 * (weeks - 1))
    console.print(
        f"Starting the sandbox CRMs ({crm} as the CRM, Zendesk, a usage database): {accounts} accounts"
    )
    with Sandbox(accounts=accounts, seed=seed, start=start, workdir=workdir / "sandbox") as box:
        config_path = write_config(box, workdir / CONFIG_NAME, crm=crm)
        config = load_config(config_path)
        result = DemoResult(workdir, config_path, config_path.with_suffix(".db"))
        for week in range(weeks):
            if week:
                box.advance(7)
            run = run_sync(
                config, as_of=box.clock.today(), clock=box.clock.now, reporter=Reporter(), keep_details=True
            )
            result.runs.append(run)
            calls = sum(c["read"] + c["write"] for c in run.api_calls.values())
            console.print(
                f"week {week + 1} ({run.as_of}): {run.accounts.get('scored', 0)} accounts scored; "
                f"{run.writes['fields']} updated, {run.writes['tasks']} tasks, {run.writes['deals']} renewal "
                f"deals written in {calls} API calls ({run.status})"
            )
    result.report_path = _write_report(config, workdir / REPORT_NAME, result.last)
    print_summary(console, result)
    return result


def _write_report(config: Config, path: Path, last: SyncResult) -> Path:
    """The quarterly portfolio report as of the last sync's day, next to the demo's config (a quarter,
    because onboarding customers take weeks to reach their value milestone)."""
    from healthsync.report.render_html import write_html
    from healthsync.report.run import portfolio_report

    store = open_store(config)
    try:
        report = portfolio_report(config, store, as_of=last.as_of, period="quarter")
    finally:
        store.close()
    return write_html(report, path)


_ARROW = {Direction.UP: "\u2191", Direction.DOWN: "\u2193", Direction.FLAT: "\u2192"}


def print_summary(console: Console, demo: DemoResult) -> None:
    """What a CSM would see in her CRM after the demo's last sync, and where to look next."""
    last = demo.last
    assessments = last.assessments
    console.print()
    table = Table(title=f"Accounts by health band, as of {last.as_of}")
    for column in ("band", "accounts", "\u2191 rising", "\u2192 flat", "\u2193 falling", "ARR"):
        table.add_column(column, justify="right" if column != "band" else "left")
    for band in (Band.GREEN, Band.YELLOW, Band.RED):
        members = [a for a in assessments if a.result.band is band]
        moves = Counter(a.result.trend.direction for a in members if a.result.trend is not None)
        arr = sum(a.account.arr or 0 for a in members)
        table.add_row(
            f"[{band.value}]{band.value}[/]",
            str(len(members)),
            str(moves[Direction.UP]),
            str(moves[Direction.FLAT]),
            str(moves[Direction.DOWN]),
            f"{arr:,.0f}",
        )
    console.print(table)

    table = Table(title="Renewals in the next 120 days, by stage (each is a deal in the renewal pipeline)")
    for column in ("stage", "accounts", "ARR", "of which red or yellow"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    for stage in OPEN_STAGES:
        members = [a for a in assessments if a.stage is stage]
        risky = sum(1 for a in members if a.result.band is not Band.GREEN)
        arr = sum(a.account.arr or 0 for a in members)
        table.add_row(stage.value, str(len(members)), f"{arr:,.0f}", str(risky))
    console.print(table)

    kinds: Counter[str] = Counter()
    for run in demo.runs:
        for task in run.plan.task_upserts:
            kinds[task.reason.split(".")[0]] += 1
    total = sum(run.writes["tasks"] for run in demo.runs)
    listed = ", ".join(f"{n} {kind}" for kind, n in kinds.most_common())
    console.print(f"Tasks created for account owners over {len(demo.runs)} weeks: {total} ({listed})")

    at_risk = sorted(
        (a for a in assessments if a.result.band is Band.RED),
        key=lambda a: -(a.account.arr or 0),
    )[:5]
    if at_risk:
        table = Table(title="Top at-risk accounts by ARR")
        for column in ("account", "ARR", "score", "trend", "renewal", "why"):
            table.add_column(column)
        for a in at_risk:
            trend = a.result.trend
            arrow = _ARROW.get(trend.direction, "") if trend is not None and trend.direction else ""
            delta = f"{arrow} {trend.delta:+.0f}" if trend is not None and trend.delta is not None else ""
            renewal = a.stage.value if a.stage is not None else ""
            table.add_row(
                a.account.name,
                f"{a.account.arr or 0:,.0f}",
                f"{a.result.score:g}",
                delta,
                renewal,
                reasons_text(a.result),
            )
        console.print(table)
        example = at_risk[0].account.name
    else:
        example = assessments[0].account.name if assessments else "ACCOUNT"
    config = demo.config_path
    console.print()
    console.print("Where to look next:")
    console.print(f'  healthsync explain "{example}" --config {config}   (every rule behind a score)')
    console.print(f"  healthsync status --config {config}   (runs, API calls, dead letters)")
    console.print(f"  healthsync report --config {config} --period quarter   (the portfolio metrics)")
    if demo.report_path is not None:
        console.print(f"  portfolio report: {demo.report_path}   (open it in a browser; works offline)")
    console.print(f"  state database: {demo.state_path}")
