"""One run, end to end: pull → match → assess → plan → write → record (DESIGN.md section 1).

`run_sync` is the Python API behind `healthsync sync`, `plan` and `demo`. It holds the run lease for
the whole run (no two syncs of one config at once), records the run in the state store whatever
happens, and returns a `SyncResult` whose `to_json()` is what `sync --json` prints.

Ordering makes a crash harmless at any point: mirrors and cursors commit page by page; health
history is recorded before anything is written to the CRM; tasks go through the write-ahead
outbox; deals and fields are idempotent by construction. A re-run therefore converges on the state
an uninterrupted run would have produced.

Memory: after the pull, accounts are assessed, recorded (health history and snapshots, one
transaction per chunk) and planned `CHUNK_ACCOUNTS` at a time, each chunk's accounts let go once
planned; history and snapshots are read per chunk. What a run holds across chunks is the plan,
compactly (`PlanView`: field writes and their reasons are made as the writer reads them), and
counts. The plan is written once, whole, after every account's history is recorded, as before.
The result keeps the assessments and the plan only for small runs and dry runs
(`run_sync(keep_details=...)`, `SyncResult`).
"""

from __future__ import annotations

import logging
import math
import threading
import time as _time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from healthsync.config import Config
from healthsync.connectors.base import CrmDeal
from healthsync.connectors.registry import CrmConnector, crm_connector, ticket_source, usage_source
from healthsync.errors import ConfigError, HealthsyncError, QuotaExhausted, StateError
from healthsync.http import Http
from healthsync.logs import bind, unbind
from healthsync.mappings import FieldMapping, load_mapping
from healthsync.mappings.schema import required_schema
from healthsync.mappings.validate import check_live_schema, raise_for
from healthsync.model import Account, FieldWrite, Plan, Rating
from healthsync.scoring.rules import RuleSet, default_rules, load_rules
from healthsync.scoring.signals import SignalThresholds
from healthsync.scoring.trend import TrendSettings
from healthsync.sync.assess import Assessor, Inputs, key_normalizer, usage_key
from healthsync.sync.features import UsageSummary
from healthsync.sync.matching import match_organizations
from healthsync.sync.outcomes import LOOKBACK_DAYS, apply_outcomes, deal_keys_to_check, outcomes_from_deals
from healthsync.sync.plan import (
    Assessment,
    CallEstimate,
    Planner,
    PlanPart,
    PlanView,
    estimate_counts,
    top_reasons,
)
from healthsync.sync.pull import pull_accounts, pull_support, pull_usage
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import AccountSnapshot, Lease, RunStatus
from healthsync.sync.writer import PlanWriter, WriteReport

__all__ = ["Reporter", "SyncResult", "open_store", "run_sync"]

log = logging.getLogger("healthsync.sync")

Clock = Callable[[], datetime]

HISTORY_DAYS = 60
"""History read per run: the trend window and the last band before today (weekly syncs included)."""
CHUNK_ACCOUNTS = 2_000
"""Accounts assessed, recorded and planned together: what a run holds of per-account results at once."""
DETAILS_MAX_ACCOUNTS = 10_000
"""Runs of up to this many accounts keep every assessment and the whole plan on their `SyncResult`
unless told otherwise (`run_sync(keep_details=...)`)."""
PLAN_KEPT_MAX = 10_000
"""A larger run still keeps its plan when it has at most this many records (accounts with field
writes, tasks and deals), as an unchanged re-sync's has."""
MILESTONE_DAYS = 120
"""The value milestone is watched for this many days after a contract start (onboarding and a margin);
older accounts' first day of value lies outside any usage window a run reads."""
NPS_MIRROR_DAYS = 100
"""NPS answers this recent are mirrored (re-keyed to the CRM account) for the report's quarterly NPS."""


class RunStopped(HealthsyncError):
    """A run asked to stop (SIGTERM) stopped between batches; it is recorded as partial."""


class Reporter:
    """Where a run reports progress; the CLI draws bars (terminal) or log lines (pipe) from it."""

    def stage(self, name: str, total: int | None = None) -> None:
        """A stage begins; `total` records when known."""

    def advance(self, name: str, n: int) -> None:
        """`n` more records done in stage `name`."""

    def done(self, name: str, summary: str) -> None:
        """A stage ended; `summary` is one human line."""


class _LoggedReporter(Reporter):
    """Passes progress on to the caller's reporter and logs each stage's summary (INFO) and start (DEBUG).

    The logs carry the stage summaries whoever watches the run: progress bars, plain lines, or
    nothing (the scheduler), so a run's log alone tells what it did.
    """

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self._started: dict[str, float] = {}

    def stage(self, name: str, total: int | None = None) -> None:
        self._started[name] = _time.monotonic()
        log.debug("stage %s started", name, extra={"stage": name, "total": total})
        self.inner.stage(name, total)

    def advance(self, name: str, n: int) -> None:
        self.inner.advance(name, n)

    def done(self, name: str, summary: str) -> None:
        started = self._started.pop(name, None)
        took = round((_time.monotonic() - started) * 1000) if started is not None else None
        log.info("%s: %s", name, summary, extra={"stage": name, "duration_ms": took})
        self.inner.done(name, summary)


@dataclass
class SyncResult:
    """How a run went: the shape of `sync --json`, plus the plan and assessments for callers.

    `plan` holds every planned write of a dry run, of a run of up to `DETAILS_MAX_ACCOUNTS` accounts
    (or any run told to keep details) and of any plan of up to `PLAN_KEPT_MAX` records; otherwise it
    is empty and `plan_kept` is False (`planned`, `estimate` and `changed_fields` still count it).
    `assessments` holds every assessment of a run of up to `DETAILS_MAX_ACCOUNTS` accounts (or one
    told to keep details), in account order; otherwise it is empty.
    """

    run_id: int | None
    status: str
    dry_run: bool
    as_of: date
    backfill: bool = False
    """The as-of day lies in the past: history was recorded, the CRM left as it is."""
    accounts: dict[str, int] = field(default_factory=dict)
    writes: dict[str, int] = field(default_factory=lambda: {"fields": 0, "tasks": 0, "deals": 0})
    planned: dict[str, int] = field(default_factory=lambda: {"fields": 0, "tasks": 0, "deals": 0})
    failed: dict[str, int] = field(default_factory=lambda: {"fields": 0, "tasks": 0, "deals": 0})
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    duration_s: float = 0.0
    match: dict[str, int] = field(default_factory=dict)
    estimate: CallEstimate | None = None
    plan: Plan | PlanView = field(default_factory=Plan)
    plan_kept: bool = True
    """False when the plan was too big to keep on the result (see above); `plan` is then empty."""
    names: dict[str, str] = field(default_factory=dict)
    """Account names by CRM id, for the accounts in the kept plan."""
    changed_fields: dict[str, int] = field(default_factory=dict)
    """Planned field writes per CRM field (kept plan or not)."""
    assessments: list[Assessment] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """One JSON object: what `sync --json` prints."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "dry_run": self.dry_run,
            "as_of": self.as_of.isoformat(),
            "backfill": self.backfill,
            "accounts": self.accounts,
            "writes": self.writes,
            "planned": self.planned,
            "failed": self.failed,
            "api_calls": self.api_calls,
            "errors": self.errors,
            "duration_s": round(self.duration_s, 3),
            "match": self.match,
            "estimated_write_calls": self.estimate.total if self.estimate else 0,
        }


class _LeaseKeeper:
    """Renews the run lease every third of its time to live while a run works, from a thread.

    A run can outlast the lease (100,000 accounts under realistic rate limits); without renewal a
    second sync could take the lease and write concurrently. If renewal ever fails (the lease was
    taken over), `lost` is set and the run stops before writing.
    """

    def __init__(self, store: StateStore, lease: Lease, ttl: float) -> None:
        self.store, self.lease, self.ttl = store, lease, ttl
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthsync-lease", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.lease = self.store.renew_lease(self.lease, self.ttl)
            except StateError as err:
                self.lost = str(err)
                return

    def check(self) -> None:
        """Raise when the lease was lost, so nothing is written without it."""
        if self.lost is not None:
            raise StateError(f"the run lost its lease and stops before writing: {self.lost}")


def open_store(config: Config, *, clock: Clock | None = None) -> StateStore:
    """The config's state store (SQLite by default), created or migrated as needed."""
    return StateStore.open(config.state.url, clock=clock)


def _rules(config: Config) -> RuleSet:
    return load_rules(config.scoring.rules) if config.scoring.rules else default_rules()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _moment(as_of: date | None, now: datetime, zone: str) -> tuple[date, datetime]:
    """The as-of day and the instant features are measured at.

    Today (in the config's time zone) is measured now; another day at its last second, as it stood
    by the end of that day.
    """
    today = now.astimezone(ZoneInfo(zone)).date()
    if as_of is None or as_of == today:
        return today, now
    end = datetime.combine(as_of, time(23, 59, 59), tzinfo=ZoneInfo(zone))
    return as_of, end.astimezone(UTC)


@dataclass
class _Run:
    config: Config
    store: StateStore
    http: Http
    clock: Clock
    reporter: Reporter
    mapping: FieldMapping
    result: SyncResult
    at: datetime
    keeper: _LeaseKeeper | None = None
    mode: str = "incremental"
    stop: threading.Event | None = None
    keep_details: bool | None = None

    def check_stop(self, where: str) -> None:
        """Stop here when asked to (SIGTERM), recording where: the next run resumes from there."""
        if self.stop is not None and self.stop.is_set():
            raise RunStopped(f"stopped on request {where}; the next run resumes")


def run_sync(
    config: Config,
    *,
    as_of: date | None = None,
    dry_run: bool = False,
    clock: Clock | None = None,
    reporter: Reporter | None = None,
    http: Http | None = None,
    store: StateStore | None = None,
    mode: str = "incremental",
    stop: threading.Event | None = None,
    trigger: str = "manual",
    keep_details: bool | None = None,
) -> SyncResult:
    """Run one sync (or, with `dry_run`, everything up to the plan) and record it.

    Args:
        config: the loaded config.
        as_of: the day to assess (default: today in `[healthsync] timezone`); the sandbox's
            simulated clock and `--as-of` work together: pass the sandbox's today. A past day is a
            backfill: features, scores and history are computed for it and recorded, nothing is
            written to the CRM.
        dry_run: plan only; nothing is written to the CRM (mirrors and cursors still advance,
            since they only cache what the sources hold).
        clock: the current instant (aware UTC); defaults to the system clock. Demos pass the
            sandbox's clock so its simulated weeks pass for the engine too.
        reporter: progress sink.
        http: the HTTP layer (tests pass one with a recording `sleep`).
        store: an open state store (default: the config's, opened and closed here).
        mode: "incremental" (Zendesk changes since the stored cursors) or "full" (Zendesk read from
            scratch, reconciling whatever an incremental read missed).
        stop: when set (SIGTERM in the scheduler), the run stops after its current batch, records
            where it stopped as a partial run, and the next run resumes.
        trigger: what started the run (`manual`, `schedule:<name>`), for the run record.
        keep_details: keep every assessment and the whole plan on the result (True), or only
            counts (False); by default kept for runs of up to `DETAILS_MAX_ACCOUNTS` accounts, and
            the plan also for dry runs and small plans (see `SyncResult`).

    Raises:
        ConfigError: a config, mapping or credential problem (nothing was written).
        StateError: the state store cannot be used, or another run holds the lease.
    """
    clock = clock or _utc_now
    started = _time.monotonic()
    own_store = store is None
    store = store or open_store(config)
    bound = None
    try:
        started_at = clock()
        day, at = _moment(as_of, started_at, config.healthsync.timezone)
        # A past day is a backfill, judged once at the start (a run crossing midnight stays a run).
        backfill = day < started_at.astimezone(ZoneInfo(config.healthsync.timezone)).date()
        ttl = config.sync.lease_ttl_minutes * 60
        with store.hold_lease(config.name, ttl) as lease:
            store.mark_stale_runs()
            run_id = store.start_run(
                config.name, dry_run, config_fingerprint=config.fingerprint(), lease=lease
            )
            bound = bind(run_id=run_id, config=config.name)  # every record of the run carries its id
            log.info(
                "run %s started",
                run_id,
                extra={
                    "crm": config.crm.system,
                    "as_of": day,
                    "dry_run": dry_run,
                    "mode": mode,
                    "trigger": trigger,
                },
            )
            result = SyncResult(run_id, RunStatus.RUNNING.value, dry_run, day, backfill=backfill)
            run = _Run(
                config,
                store,
                http or Http(retry_budget=config.sync.retry_budget),
                clock,
                _LoggedReporter(reporter or Reporter()),
                load_mapping(config.crm.system, config.crm.mapping),
                result,
                at,
                mode=mode,
                stop=stop,
                keep_details=keep_details,
            )
            status = RunStatus.FAILED
            try:
                with _LeaseKeeper(store, lease, ttl) as keeper:
                    run.keeper = keeper
                    status = _execute(run)
            except QuotaExhausted as exc:
                status = RunStatus.PARTIAL
                result.errors.append({"kind": "quota", "vendor": exc.vendor, "message": str(exc)})
            except RunStopped as exc:
                status = RunStatus.PARTIAL
                result.errors.append({"kind": "stopped", "message": str(exc)})
            except ConfigError as exc:
                # Bad config, mapping or credentials: the caller fixes it (exit 2); nothing was written.
                # The recorded run travels with the error, so callers can still alert on it.
                result.errors.append({"kind": type(exc).__name__, "message": str(exc)})
                exc.run_result = result  # type: ignore[attr-defined]
                raise
            except HealthsyncError as exc:
                # A vendor or the state store failed mid-run: recorded as a failed run and returned, so
                # `sync --json` still prints what happened. A re-run resumes (see the module docstring).
                log.error("run %s failed: %s", run_id, exc)
                result.errors.append({"kind": type(exc).__name__, "message": str(exc)})
            finally:
                result.api_calls = run.http.counter.totals()
                result.duration_s = _time.monotonic() - started
                result.status = status.value
                store.finish_run(
                    run_id,
                    status,
                    counts={
                        "accounts": result.accounts,
                        "writes": result.writes,
                        "planned": result.planned,
                        "failed": result.failed,
                        "match": result.match,
                        "as_of": day.isoformat(),
                        "mode": mode,
                        "trigger": trigger,
                        "backfill": backfill,
                    },
                    api_calls=run.http.counter.by_endpoint(),
                    errors=result.errors,
                )
                _log_finished(result)
            return result
    finally:
        if own_store:
            store.close()
        if bound is not None:
            unbind(bound)


def _log_finished(result: SyncResult) -> None:
    """The run's summary line: INFO, or WARNING for a partial run (a failure was logged as it happened)."""
    level = logging.WARNING if result.status == RunStatus.PARTIAL.value else logging.INFO
    log.log(
        level,
        "run %s finished: %s",
        result.run_id,
        result.status,
        extra={
            "status": result.status,
            "dry_run": result.dry_run,
            "accounts": result.accounts,
            "planned": result.planned,
            "writes": result.writes,
            "failed": result.failed,
            "match": result.match,
            "api_calls": result.api_calls,
            "errors": len(result.errors),
            "error_kinds": sorted({str(e.get("kind")) for e in result.errors}),
            "duration_ms": round(result.duration_s * 1000),
        },
    )


def _execute(run: _Run) -> RunStatus:
    config, store, result, reporter = run.config, run.store, run.result, run.reporter
    crm = crm_connector(config, run.http, run.mapping, clock=run.clock)
    zendesk = ticket_source(config, run.http, clock=run.clock)
    usage = usage_source(config)
    day = result.as_of

    # --- the mapping against the live schema: read once per run, so a field added since is seen ---
    needs = required_schema(run.mapping)
    raise_for(run.mapping, check_live_schema(run.mapping, crm.live_schema(needs.objects), needs))

    # --- pull ---------------------------------------------------------------------------------
    reporter.stage("accounts")
    accounts = pull_accounts(crm, run_started=run.clock(), progress=reporter.advance)
    reporter.done("accounts", f"{len(accounts)} accounts read from {config.crm.system}")
    organizations_of: dict[str, list[str]] = {}
    if zendesk is not None:
        reporter.stage("support")
        counts = pull_support(zendesk, store, as_of=day, progress=reporter.advance, full=run.mode == "full")
        report = match_organizations(accounts, store.organizations(), key_field="customer_key")
        organizations_of, result.match, linked = report.organizations_of(), report.counts(), len(report.links)
        del report  # the run needs only the links per account and the counts
        reporter.done(
            "support",
            f"{counts.organizations} organizations, {counts.tickets} tickets, {counts.ratings} ratings "
            f"changed; {linked} organizations linked",
        )
    key_kind = config.usage.account_key if config.usage is not None else "crm_id"
    usage_inputs = None
    if usage is not None:
        section = config.usage
        assert section is not None  # usage_source returned one
        reporter.stage("usage")
        try:
            usage_inputs = pull_usage(
                usage,
                as_of=day,
                has_payments=section.payments is not None,
                has_nps=section.nps is not None,
                progress=reporter.advance,
                milestones=_milestones(accounts, section.account_key, config.report.value_share, day),
                normalize=key_normalizer(section.account_key),
                at=run.at,
                nps_recent_since=_nps_since(day),
            )
        finally:
            usage.close()
        reporter.done("usage", f"usage of {len(usage_inputs.window.summaries)} accounts folded")

    # --- how contracts ended: the renewal deals people closed since the last run ---------------
    known = store.outcomes(since=day - timedelta(days=LOOKBACK_DAYS))
    to_check = deal_keys_to_check(
        accounts,
        store.recent_contract_ends(day - timedelta(days=LOOKBACK_DAYS)),
        [(o.account, o.contract_end) for o in known],
        day,
    )
    live_deals: dict[str, CrmDeal] = crm.fetch_deals(to_check) if to_check else {}
    decided = outcomes_from_deals(live_deals, {a.crm_id: a for a in accounts}, day=day, now=run.clock())
    accounts = apply_outcomes(accounts, [*known, *decided], day)
    owners = _owner_names(crm)

    run.check_stop("after the pull")

    # --- assess, record and plan, a chunk of accounts at a time -----------------------------------
    assessor = Assessor(
        Inputs(
            accounts=(),
            organizations_of=organizations_of,
            critical_tickets=store.critical_tickets_open_at(run.at) if zendesk is not None else None,
            usage=usage_inputs.window.summaries if usage_inputs is not None else None,
            nps=usage_inputs.nps if usage_inputs is not None else None,
            payments_on_time=usage_inputs.payments if usage_inputs is not None else None,
            usage_key_kind=key_kind,
        ),
        _rules(config),
        at=run.at,
        thresholds=SignalThresholds(**config.signals.as_dict()),
        trend=TrendSettings(**config.scoring.trend.model_dump()),
    )
    mirror_nps = usage_inputs is not None and bool(usage_inputs.nps)
    del usage_inputs  # the assessor holds what is read of it
    writer = PlanWriter(
        crm,
        store,
        vendor=config.crm.system,
        run_id=result.run_id or 0,
        max_attempts=config.sync.dead_letter_max_attempts,
        progress=reporter.advance,
        stop=run.stop,
    )
    # A past day is a backfill: its history is recorded, but the CRM shows today, so it is not
    # written (old scores and long-gone tasks would only confuse the CSM).
    read_only = result.dry_run or result.backfill
    resend = [] if read_only else writer.reconcile_tasks()
    planner = Planner(run.mapping, as_of=day, now=run.clock(), live_deals=live_deals)
    details = run.keep_details if run.keep_details is not None else len(accounts) <= DETAILS_MAX_ACCOUNTS
    tally = _Tally(
        run, planner, keep_plan=details or result.dry_run, hold_plan=not read_only, keep_assessments=details
    )
    if resend:  # tasks an earlier run left unsent go first, as they always have
        tally.planned(PlanPart(tasks=resend), accounts)

    total = len(accounts)
    reporter.stage("score", total)
    tally.start(total)
    pending, start = accounts, 0  # each chunk's accounts are let go once it is planned
    del accounts
    while pending:
        chunk = pending[:CHUNK_ACCOUNTS]
        del pending[:CHUNK_ACCOUNTS]
        keys = [a.crm_id for a in chunk]
        history = store.history_many(keys, since=day - timedelta(days=HISTORY_DAYS))
        snapshots = store.latest_snapshots(keys, before_day=day)
        assessments = assessor.assess(chunk, history, {k: s.licenses for k, s in snapshots.items()})
        del history, snapshots
        reporter.advance("score", len(assessments))
        tally.assessed(assessments, organizations_of, done=not pending)

        # History first: a crash after this point re-plans these accounts from the same scores.
        with store.transaction() as tx:
            tx.record_health(result.run_id or 0, [a.result for a in assessments], day=day)
            tx.record_snapshots(
                result.run_id or 0,
                day,
                [_snapshot(a, owners, _usage_of(assessor, a.account)) for a in assessments],
            )
            if start == 0:
                tx.record_outcomes(decided)
            if mirror_nps:
                tx.upsert_ratings(_nps_by_account(assessments, assessor, day))

        signal_keys = [s.key for a in assessments for s in a.signals]
        tally.planned(planner.plan(assessments, store.outbox_lookup(signal_keys)), chunk, live_deals)
        start += len(chunk)
        del chunk, assessments
    if total == 0:
        with store.transaction() as tx:
            tx.record_outcomes(decided)
    del assessor, organizations_of, owners  # what the chunks read: the writer needs none of it
    if read_only:
        tally.finish()
        return RunStatus.OK

    # --- write --------------------------------------------------------------------------------
    run.check_stop("before writing")
    if run.keeper is not None:
        run.keeper.check()
    plan = tally.plan_to_write()
    tally.finish()
    reporter.stage("write", result.planned["fields"] + len(plan.task_upserts) + len(plan.deal_upserts))
    written: WriteReport = writer.write(plan)
    del plan
    result.writes = {"fields": written.fields, "tasks": written.tasks, "deals": written.deals}
    result.failed = dict(written.failed)
    result.errors += written.errors
    reporter.done(
        "write",
        f"{written.fields} accounts updated, {written.tasks} tasks created, {written.deals} deals upserted"
        + (f"; {sum(written.failed.values())} refused (see `healthsync status`)" if written.errors else ""),
    )
    if written.stopped or any(written.failed.values()):
        return RunStatus.PARTIAL
    return RunStatus.OK


class _Tally:
    """What a run keeps of its chunks: counts for the result, the plan to write, and the details
    callers may read.

    Args:
        keep_plan: the result keeps the whole plan (otherwise only a plan of up to `PLAN_KEPT_MAX`).
        hold_plan: the plan is to be written, so it is held whole until then.
        keep_assessments: the result keeps every assessment.
    """

    def __init__(
        self, run: _Run, planner: Planner, *, keep_plan: bool, hold_plan: bool, keep_assessments: bool
    ) -> None:
        self.run, self.result, self.planner = run, run.result, planner
        self.keep_plan, self.hold_plan = keep_plan, hold_plan
        self.keep_assessments = keep_assessments
        self.view: PlanView | None = PlanView(planner)
        self.crm = self.scored = 0
        self.matched: set[str] = set()
        self.bands: dict[str, int] = {}
        self.records = self.tasks = self.deals = self.new_deals = 0
        self.result.assessments = []

    def start(self, accounts: int) -> None:
        """The run has `accounts` CRM accounts to assess (none: the score stage ends here)."""
        self.crm = accounts
        self._count()
        if not accounts:
            self.run.reporter.done("score", "no accounts")

    def _count(self) -> None:
        matched = len(self.matched)
        self.result.accounts = {
            "crm": self.crm,
            "matched": matched,
            "unmatched": self.crm - matched,
            "scored": self.scored,
        }

    def assessed(self, assessments: list[Assessment], linked: Mapping[str, Any], *, done: bool) -> None:
        """Count a chunk's assessments (`linked`: the accounts with support organizations); `done`:
        it was the last chunk, and the score stage ends."""
        for a in assessments:
            self.bands[a.result.band.value] = self.bands.get(a.result.band.value, 0) + 1
            if a.key in linked or a.features.login_days_30d is not None:
                self.matched.add(a.account.crm_id)
        self.scored += len(assessments)
        self._count()
        if self.keep_assessments:
            self.result.assessments += assessments
        if done:
            bands = ", ".join(f"{n} {b}" for b, n in sorted(self.bands.items()))
            self.run.reporter.done("score", bands or "no accounts")

    def planned(
        self, part: PlanPart, accounts: Sequence[Account], live_deals: Mapping[str, CrmDeal] | None = None
    ) -> None:
        """Count the plan of `accounts` (the new deals: those not in `live_deals`), and hold it while
        it is to be written or kept."""
        result, mapping = self.result, self.planner.mapping
        self.records += len(part.fields)
        self.tasks += len(part.tasks)
        self.deals += len(part.deals)
        if live_deals is not None:
            self.new_deals += sum(1 for d in part.deals if d.key not in live_deals)
        changed = result.changed_fields
        synced = mapping.output_field("last_synced")
        for entry in part.fields:
            for at in range(2, len(entry), 3):
                crm_field = mapping.output_field(entry[at]) or entry[at]
                changed[crm_field] = changed.get(crm_field, 0) + 1
            if synced:
                changed[synced] = changed.get(synced, 0) + 1
        result.planned = {"fields": self.records, "tasks": self.tasks, "deals": self.deals}
        result.estimate = estimate_counts(
            self.run.config.crm.system,
            records=self.records,
            tasks=self.tasks,
            deals=self.deals,
            new_deals=self.new_deals,
        )
        if self.view is None:
            return
        self.view.add(part)
        names = {a.crm_id: a.name for a in accounts}
        ids = [e[0] for e in part.fields]
        ids += [t.account_id for t in part.tasks]
        ids += [d.account_id for d in part.deals]
        for crm_id in ids:
            name = names.get(crm_id)
            if name is not None:
                result.names[crm_id] = name
        if not (self.keep_plan or self.hold_plan) and not self._small():
            self.view = None  # too big to keep and not to be written: counted above
            result.names = {}

    def _small(self) -> bool:
        return self.view is not None and self.view.size <= PLAN_KEPT_MAX

    def plan_to_write(self) -> Plan:
        """The whole plan for the writer. Its field writes are made as the writer reads them, so
        the hundreds of thousands of `FieldWrite`s (and reason texts) of a big first sync never
        exist at once; the writer reads them only as a sequence (`group_updates`)."""
        view = self.view
        assert view is not None  # held whole when it is to be written
        return Plan(cast(tuple[FieldWrite, ...], view.field_writes), view.task_upserts, view.deal_upserts)

    def finish(self) -> None:
        """Hand the plan to the result, if it is to be kept."""
        kept = self.view if self.view is not None and (self.keep_plan or self._small()) else None
        self.result.plan = kept if kept is not None else PlanView()
        self.result.plan_kept = kept is not None
        if kept is None:
            self.result.names = {}
        self.view = None


def _milestones(
    accounts: list[Account], key_kind: str, share: float, day: date
) -> dict[str, tuple[int, date]]:
    """The value milestone of each account in its first months: active users >= `share` of licenses,
    counted from the contract start (keyed as the usage source keys accounts)."""
    out: dict[str, tuple[int, date]] = {}
    for account in accounts:
        start, licenses = account.contract_start, account.licenses
        if start is None or not licenses or not 0 <= (day - start).days <= MILESTONE_DAYS:
            continue
        key = usage_key(account, key_kind)
        if key is not None:
            out[key] = (max(1, math.ceil(share * licenses)), start)
    return out


def _owner_names(crm: CrmConnector) -> dict[str, str]:
    """Owner names by id for the report (one paged read); empty when the CRM refuses the read."""
    try:
        return {o.id: o.name for o in crm.owners().values()}
    except HealthsyncError as exc:
        log.warning("owner names not read (the report shows owner ids): %s", exc)
        return {}


def _nps_since(day: date) -> datetime:
    """The oldest NPS answer a run mirrors (`NPS_MIRROR_DAYS`)."""
    return datetime.combine(day - timedelta(days=NPS_MIRROR_DAYS), time.min, tzinfo=UTC)


def _nps_by_account(assessments: list[Assessment], assessor: Assessor, day: date) -> list[Rating]:
    """Recent NPS answers re-keyed to the CRM account, for the report's NPS (a quarter and a bit)."""
    since = _nps_since(day)
    out: list[Rating] = []
    for a in assessments:
        for rating in assessor.nps_of(a.account):
            if rating.at >= since:
                out.append(replace(rating, account_key=a.key))
    return out


def _usage_of(assessor: Assessor, account: Account) -> UsageSummary | None:
    """The account's folded usage for its snapshot (its first day of value)."""
    usage = assessor.usage
    return usage.get(usage_key(account, assessor.kind) or "") if usage is not None else None


def _snapshot(a: Assessment, owners: Mapping[str, str], usage: UsageSummary | None) -> AccountSnapshot:
    account = a.account
    return AccountSnapshot(
        account=a.key,
        arr=account.arr,
        licenses=account.licenses,
        band=a.result.band,
        score=a.result.score,
        contract_start=account.contract_start,
        contract_end=account.contract_end,
        owner_id=account.owner_id,
        segment=account.segment,
        name=account.name,
        owner_name=owners.get(account.owner_id) if account.owner_id else None,
        reasons=tuple(top_reasons(a.result)),
        signals=tuple(
            {"kind": s.kind.value, "code": s.code, "subject": s.subject, "reason": s.reason}
            for s in a.signals
        ),
        value_day=usage.value_day if usage is not None else None,
    )
