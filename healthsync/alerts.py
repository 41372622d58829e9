"""Run alerts: a webhook and/or an e-mail when a sync fails, is partial, or recovers (issue #8).

healthsync runs unattended (the scheduler, cron), so an admin must hear when it stops working, and
must not hear it once an hour for the same outage. A *failure streak* is a run of consecutive
failed, partial or interrupted runs of one config, read back from the state store's run records
(dry runs and backfills do not count: they write nothing to the CRM). Each streak alerts at most
once, on its first run whose status `[alerts] on` lists; the first ok run after a streak that
alerted sends one "recovered" alert. Nothing extra is stored: the run records already say it all.

One summary goes out in two shapes. The webhook gets a JSON body that Slack incoming webhooks (and
Slack-compatible chats) render from `text` and `blocks`, and that any other receiver can read from
its `healthsync` object. E-mail goes over SMTP (STARTTLS or TLS from the first byte), plain text.
This module decides when an alert is due; `alert_messages` writes it and `alert_delivery` sends it.

A failed alert is logged and never fails the run. Neither the webhook URL (its path is the
credential) nor the SMTP password ever appears in a log line or a payload: payloads are scrubbed with
`healthsync.secrets.redact` on top of carrying only the run summary, which holds no secrets.

Example:
    ``result = run_sync(config); notify_after_run(config, store, result)``
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import closing
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from healthsync.alert_delivery import post_webhook, send_email, url_secrets, webhook_host
from healthsync.alert_messages import Due, email_message, scrub, summary_of, webhook_payload
from healthsync.errors import ConfigError, HealthsyncError
from healthsync.secrets import Secret, redact, resolve
from healthsync.sync.state_records import RunRecord, RunStatus

if TYPE_CHECKING:
    from healthsync.config import Config
    from healthsync.sync.engine import SyncResult
    from healthsync.sync.state import StateStore

__all__ = ["notify_after_run"]

log = logging.getLogger("healthsync.alerts")

_LOOKBACK_RUNS = 500
"""Runs read back to find where the current streak began (dry runs included, so generous)."""

_FAILURES = (RunStatus.FAILED, RunStatus.PARTIAL)
_STOPPED = "stopped"
"""The error `kind` the engine and writer record when a run stops on request (`engine.RunStopped`)."""


def _names(cls: type[BaseException]) -> set[str]:
    return {cls.__name__}.union(*(_names(sub) for sub in cls.__subclasses__()))


_CONFIG_ERROR_KINDS = frozenset(_names(ConfigError))
"""How the engine records a run that ended on a configuration error (`kind` of its error entry)."""


def notify_after_run(config: Config, store: StateStore | None, result: SyncResult) -> list[str]:
    """Alert on a failed or partial run, or on the first ok run after an alerted failure streak.

    Call it after every run with the run's result (already recorded by `run_sync`). A failure
    streak alerts once, so an hourly schedule during a day-long outage sends one alert, then one
    "recovered". Delivery problems are logged, never raised: an alert must not fail the run.

    Args:
        config: the run's config; `[alerts]` says which outcomes alert and where alerts go.
        store: the state store the run was recorded in (None: the config's, opened here).
        result: what `run_sync` returned.

    Returns:
        The channels the alert was delivered to, `"webhook"` and/or `"email"`; empty when no alert
        was due (or every delivery failed, which is logged).
    """
    section = config.alerts
    if section is None or result.dry_run or result.backfill:
        return []
    try:
        due = _due(config, store, result, section.on)
    except HealthsyncError as exc:  # the state store is unreadable: say so, the run stands
        log.warning("alerts: cannot read the run history, no alert sent: %s", redact(str(exc)))
        return []
    if due is None:
        return []
    secrets: list[str] = []
    url = _resolve(section.webhook_url, "alerts.webhook_url", config) if section.webhook_url else None
    password = None
    if section.email is not None and section.email.password is not None:
        password = _resolve(section.email.password, "alerts.email.password", config)
    if url is not None:
        secrets += url_secrets(url.reveal())
    if password is not None:
        secrets.append(password.reveal())
    secrets.sort(key=len, reverse=True)  # a URL before its own path
    summary = scrub(summary_of(config, result, due, secrets), secrets)
    sent: list[str] = []
    if url is not None:
        problem = post_webhook(url.reveal(), webhook_payload(summary), secrets)
        if problem is None:
            sent.append("webhook")
        else:
            log.warning("alerts: webhook to %s failed: %s", webhook_host(url.reveal()), problem)
    if section.email is not None and (section.email.password is None or password is not None):
        problem = send_email(section.email, password, email_message(summary, section.email), secrets)
        if problem is None:
            sent.append("email")
        else:
            log.warning(
                "alerts: e-mail via %s:%s failed: %s", section.email.host, section.email.port, problem
            )
    if sent:
        log.info("alerts: %s alert for run %s sent by %s", due.event, result.run_id, " and ".join(sent))
    return sent


def _due(config: Config, store: StateStore | None, result: SyncResult, on: Sequence[str]) -> Due | None:
    """Which alert this run calls for, if any, from the runs recorded before it."""
    try:
        status = RunStatus(result.status)
    except ValueError:
        return None
    if status is not RunStatus.OK and status not in _FAILURES:
        return None
    streak = _streak_before(config, store, result.run_id)
    alerted = any(_assumed_alerted(run, on) for run in streak)
    first = streak[-1].id if streak else result.run_id
    if status in _FAILURES:
        if _stopped_on_request(result.errors):
            log.debug("alerts: run %s stopped on request; nothing to alert", result.run_id)
        elif status.value not in on:
            log.debug("alerts: run %s %s; [alerts] on does not list it", result.run_id, status.value)
        elif alerted:
            log.debug("alerts: run %s %s; this failure streak already alerted", result.run_id, status.value)
        else:
            return Due(status.value, len(streak) + 1, first)
        return None
    if streak and alerted and "recovered" in on:
        return Due("recovered", len(streak), first)
    return None


def _streak_before(config: Config, store: StateStore | None, run_id: int | None) -> list[RunRecord]:
    """The non-ok runs of this config right before `run_id`, newest first (dry runs and backfills skipped)."""
    if store is None:
        from healthsync.sync.engine import open_store

        with closing(open_store(config)) as opened:
            return _streak_before(config, opened, run_id)
    zone = ZoneInfo(config.healthsync.timezone)
    streak: list[RunRecord] = []
    for run in store.recent_runs(limit=_LOOKBACK_RUNS, config_name=config.name):
        if run_id is not None and run.id >= run_id:
            continue
        if run.dry_run or run.status is RunStatus.RUNNING or _is_backfill(run, zone):
            continue
        if run.status is RunStatus.OK:
            break
        streak.append(run)
    return streak


def _assumed_alerted(run: RunRecord, on: Sequence[str]) -> bool:
    """Whether an earlier run of the streak will have sent its alert.

    A run that ended on a configuration error (a missing secret, a revoked token) is recorded as
    failed, but `run_sync` raises instead of returning a result, so no alert followed it; it must not
    silence the next failure of the same streak.
    """
    if run.status not in _FAILURES or run.status.value not in on or _stopped_on_request(run.errors):
        return False
    return not any(isinstance(e, Mapping) and e.get("kind") in _CONFIG_ERROR_KINDS for e in run.errors)


def _stopped_on_request(errors: Sequence[Any]) -> bool:
    """A partial run whose only "error" is that it was asked to stop (SIGTERM to the scheduler).

    It stopped between batches on purpose and the next run resumes: a deployment restarting the
    scheduler is no failure to page anyone about. It still belongs to a streak, like a crash.
    """
    kinds = {e.get("kind") if isinstance(e, Mapping) else None for e in errors}
    return kinds == {_STOPPED}


def _is_backfill(run: RunRecord, zone: ZoneInfo) -> bool:
    """A run that assessed a past day (its own `backfill` count if recorded, else as_of < start day)."""
    flag = run.counts.get("backfill")
    if isinstance(flag, bool):
        return flag
    as_of = run.counts.get("as_of")
    if not isinstance(as_of, str):
        return False
    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        return False
    return day < run.started_at.astimezone(zone).date()


def _resolve(ref: Any, key: str, config: Config) -> Secret | None:
    try:
        return resolve(ref, context=key, base_dir=config.base_dir)
    except ConfigError as exc:
        log.warning("alerts: %s", exc)
        return None
