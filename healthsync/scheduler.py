"""Scheduled syncs: APScheduler 3 jobs from the config's `[[schedule]]` entries (thin on purpose).

`run_scheduler` runs in the foreground (for systemd and containers). Jobs live in an SQLAlchemy job
store in the state database, so a restart remembers when each job last fired; jobs are rebuilt from
the config at every start, so the config stays the one source of truth, while an unchanged job keeps
its stored next fire time.

- `max_instances=1` and the run lease: a run that outlasts its interval is never overlapped; the
  next fire time is skipped, not queued.
- `coalesce=True` with a `misfire_grace_time`: fire times missed while the scheduler was down are
  run once on its return, not once each.
- SIGTERM/SIGINT: the running sync is asked to stop after its current batch (it records where it
  stopped; the next run resumes), then the scheduler shuts down.
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_SCHEDULER_START
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from healthsync.config import Config, Schedule, load_config
from healthsync.config_values import interval_seconds
from healthsync.errors import HealthsyncError

__all__ = [
    "MISFIRE_GRACE_SECONDS",
    "JobInfo",
    "jobs",
    "next_run",
    "run_job",
    "run_scheduler",
    "stop_requested",
]

log = logging.getLogger("healthsync.scheduler")

MISFIRE_GRACE_SECONDS = 3600
"""A fire time missed by up to an hour (scheduler down, machine asleep) still runs, once."""

JOB_TABLE = "healthsync_scheduler_jobs"

stop_requested = threading.Event()
"""Set on SIGTERM/SIGINT; a running sync checks it between batches and stops cleanly."""


@dataclass(frozen=True)
class JobInfo:
    """A scheduled job as `schedule list` shows it."""

    name: str
    trigger: str
    timezone: str
    mode: str
    next_run: datetime | None


def _zone(config: Config, entry: Schedule) -> str:
    return entry.timezone if "timezone" in entry.model_fields_set else config.healthsync.timezone


def trigger_for(config: Config, entry: Schedule) -> BaseTrigger:
    """The APScheduler trigger of one `[[schedule]]` entry."""
    zone = _zone(config, entry)
    if entry.every is not None:
        return IntervalTrigger(seconds=interval_seconds(entry.every), timezone=zone)
    assert entry.cron is not None  # the config model requires one of the two
    return CronTrigger.from_crontab(entry.cron, timezone=zone)


def jobs(config: Config, now: datetime | None = None) -> list[JobInfo]:
    """The config's jobs and when each fires next (computed from the config, no scheduler needed)."""
    moment = now or datetime.now(UTC)
    out = []
    for entry in config.schedule:
        trigger = trigger_for(config, entry)
        fire = trigger.get_next_fire_time(None, moment)
        what = f"every {entry.every}" if entry.every else f"cron {entry.cron}"
        out.append(JobInfo(entry.name, what, _zone(config, entry), entry.mode, fire))
    return out


def next_run(config: Config, now: datetime | None = None) -> JobInfo | None:
    """The job that fires first, for `status`."""
    upcoming = [j for j in jobs(config, now) if j.next_run is not None]
    return min(upcoming, key=lambda j: j.next_run or datetime.max.replace(tzinfo=UTC)) if upcoming else None


def run_job(config_path: str, name: str, mode: str) -> None:
    """One scheduled sync. Module level, so the persistent job store can reference it by name.

    The config is read afresh each time, so an edited mapping or rule file applies from the next run.
    A failure is logged (and alerted by the sync) but never stops the scheduler.
    """
    if stop_requested.is_set():
        return
    from healthsync.sync.engine import run_sync

    try:
        config = load_config(Path(config_path))
        result = run_sync(config, mode=mode, stop=stop_requested, trigger=f"schedule:{name}")
        _alert(config, result)
        log.info("scheduled run %s (%s): %s", result.run_id, name, result.status)
    except HealthsyncError as exc:
        log.error("scheduled run %s failed: %s", name, exc)
        recorded = getattr(exc, "run_result", None)
        if recorded is not None:  # a run that failed on its config or credentials: alert on it too
            _alert(load_config(Path(config_path)), recorded)


def _alert(config: Config, result: Any) -> None:
    try:
        from healthsync import alerts
    except ImportError:  # pragma: no cover - alerts arrive with issue #8
        return
    notify = getattr(alerts, "notify_after_run", None)
    if notify is None:
        return
    from healthsync.sync.engine import open_store

    store = open_store(config)
    try:
        notify(config, store, result)
    finally:
        store.close()


def build_scheduler(config: Config, config_path: Path) -> BlockingScheduler:
    """A foreground scheduler with the config's jobs, persisted in the state database."""
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=config.state.url, tablename=JOB_TABLE)},
        executors={"default": ThreadPoolExecutor(max_workers=max(1, len(config.schedule)))},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
        timezone=config.healthsync.timezone,
    )
    wanted = {entry.name: entry for entry in config.schedule}
    path = str(config_path.resolve())

    def sync_jobs(event: Any) -> None:
        """Make the stored jobs match the config, keeping each unchanged job's stored next fire time.

        Keeping it is what lets a restart see the fire times it missed (and coalesce them into one
        run); a job whose schedule changed starts afresh from its new trigger.
        """
        for job in scheduler.get_jobs():
            if job.id not in wanted:
                log.info("schedule %s is no longer in the config: removed", job.id)
                job.remove()
        for name, entry in wanted.items():
            trigger = trigger_for(config, entry)
            args = [path, entry.name, entry.mode]
            stored = scheduler.get_job(name)
            if stored is not None and str(stored.trigger) == str(trigger) and list(stored.args) == args:
                continue
            scheduler.add_job(run_job, trigger=trigger, args=args, id=name, name=name, replace_existing=True)

    scheduler.add_listener(sync_jobs, EVENT_SCHEDULER_START)
    return scheduler


def run_scheduler(config_path: Path) -> None:
    """Run the config's jobs in the foreground until SIGTERM or SIGINT.

    Raises:
        ConfigError: the config is invalid or has no `[[schedule]]` entry.
    """
    from healthsync.errors import ConfigError

    config = load_config(config_path)
    from healthsync.logs import setup_logging

    setup_logging(config, default_level="info")
    if not config.schedule:
        raise ConfigError(
            f"{config_path} has no [[schedule]] entry, so there is nothing to run; add one "
            '(name = "nightly", cron = "0 2 * * *") or run `healthsync sync` from your own scheduler'
        )
    from healthsync.sync.engine import open_store

    open_store(config).close()  # create or migrate the state database before the job table joins it
    scheduler = build_scheduler(config, config_path)
    stop_requested.clear()

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: finishing the current batch, then stopping", signum)
        stop_requested.set()
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()  # blocks until shutdown
    log.info("scheduler stopped")
