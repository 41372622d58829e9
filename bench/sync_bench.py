"""What a sync costs: API calls against the vendors' minimum, wall time against the rate-limit floor,
local compute and peak memory, at 1k, 10k and 100k accounts (issue #6, item 7; DESIGN.md §9, §12).

For each size and CRM the sandbox runs in a process of its own (`healthsync sandbox serve
--write-config`, with the tickets and 90 days of usage `sandbox/datagen*.py` generates for that many
accounts), and each measured job runs `healthsync.sync.engine.run_sync` in a fresh process, so its
peak RSS is the sync's alone. Jobs per size and CRM, each against a fresh sandbox:

- limits off: a first full sync, then an unchanged re-sync straight after (same as-of day). "Off"
  means the sandbox enforces no rate limit *and* the bench's `Http` ignores the connectors'
  client-side limiters, so the wall time is compute plus transport;
- realistic limits (`--realistic-sizes`, default 1k and 10k): the sandbox enforces the vendors' limits
  (`--rate-limits realistic`) and the connectors' client-side limiters pace the run as in production;
- naive baseline (`--naive-size`, default 1k): one request per record, no diffing (below).

Prints figures and asserts nothing (DESIGN.md §12).

**Minimum calls of a first full sync** (DESIGN.md §9 page and batch sizes, record counts of that run;
a read of nothing still costs one call, a write of nothing none; ceil = rounded up). Every line is a
call a correct run cannot do without, at the most records the vendor allows per call:

    hubspot    read   schema           mapped objects + 1            properties of each mapped object
                                                                     (companies, deals, tasks: not paged)
                                                                     + the deal pipelines, once a run: the
                                                                     mapping is checked against them
    hubspot    read   owners           ceil(owners / 500)            owners list, 500 per page (owner names)
    hubspot    read   companies        ceil(accounts / 100)          list, 100 per page
    hubspot    read   renewal deals    ceil(deal keys / 100)         batch read by key property, 100 inputs
    hubspot    write  company fields   ceil(accounts updated / 100)  batch update, 100 inputs
    hubspot    write  tasks            ceil(tasks / 100)             batch create, 100 inputs
    hubspot    write  renewal deals    ceil(deals / 100)             batch upsert, 100 inputs
    hubspot    write  deal links       ceil(new deals / 2,000)       v4 association batch create, 2,000
                                                                     pairs: batch upsert (DESIGN.md §7's
                                                                     crash-safe write) takes no associations
    salesforce read   schema           mapped objects                sobjects/{object}/describe, one each
    salesforce read   owners           ceil(users / 2,000)           SOQL on User, 2,000 per page
    salesforce read   accounts         ceil(accounts / 2,000)        SOQL, 2,000 per page
    salesforce read   renewal deals    ceil(key chars / 4,000)       queryAll ... WHERE key IN (...): 4,000
                                                                     characters of quoted keys a call, what a
                                                                     GET query string carries safely under the
                                                                     16,384-byte URI and header limit
                                                                     (`salesforce_read.IN_LIST_CHARS`)
    salesforce write  account fields   ceil(accounts updated / 200)  composite/sobjects, 200 records
    salesforce write  tasks and deals  ceil(tasks / 200) + ceil(deals / 200)
                                                                     composite upsert by external id,
                                                                     200 records, one sObject a call
    zendesk    read   organizations    ceil(organizations / 1,000)   incremental export from time 0
    zendesk    read   tickets          ceil(tickets / 1,000)         cursor export, 1,000 per page
    zendesk    read   CSAT ratings     ceil(ratings / 100)           list, 100 per page
    zendesk    read   rated tickets    ceil(tickets looked up / 100) tickets/show_many, 100 ids: a rating
                                                                     names its ticket, not its organization,
                                                                     and tickets older than the export's
                                                                     90-day start are not mirrored

"deal keys" are the renewal deals a first run must look up (`outcomes.deal_keys_to_check`: contracts
ending within the renewal horizon or ended in the last 120 days; the bench recomputes them from the
run's accounts). "accounts updated" are the accounts with at least one changed field; tasks and
deals are the planned ones; "new deals" those the upserts created; organizations, tickets, ratings,
owners and looked-up tickets are the records those endpoints returned. Every other call is listed
separately under "beyond the records", with its count, and is *not* in the minimum: the ratio
actual/minimum per vendor and kind counts it against us. One is deliberate (README "Performance"):
HubSpot's search for keyed tasks created since the newest the state store knows of, one call a run
that creates tasks (so a lost or restored state database cannot double tasks; `sync/writer.py`).

**Rate-limit floor** of the calls a run made (attempts the vendor refused, such as 429s, left out:
they take no slot), per vendor, from the limits the config gives the connectors, which are the ones
the sandbox enforces: a window of L calls per P seconds lets N calls finish no sooner than
(ceil(N / L) - 1) × P seconds. HubSpot: 100 per 10 s (the starter tier the sandbox config names) and
5 searches per second; Zendesk: 400 per minute (the sandbox's and the config's default plan) and 10
per minute for `/incremental/`; Salesforce: no per-second limit, only the org's daily allocation
(100,000 in the sandbox). The floor is the slowest vendor's, as their limits are independent; the
engine calls the vendors one after the other, so the sum of the vendors' floors is printed too.

**Local compute** = wall time − time inside the HTTP transport (around `requests.Session.send` and
urllib3's `HTTPConnectionPool.urlopen`, outermost call only; it includes the sandbox's serving time)
− time sleeping in `Http` (limiters, retry backoff). It includes the SDKs' (de)serialization, the
state store and reading the usage database.

**Naive baseline**: the same reads (a dry run of the engine pulls and scores), then one write request
per record without diffing, through the SDK clients the connectors build (so every call is counted
by the same `Http`): per account one PATCH of every output field on the single-record endpoint, one
create per task, one upsert per renewal deal (HubSpot has no single-record upsert: a batch upsert of
one, plus the company link the engine also makes for a new deal).

    .venv/bin/python bench/sync_bench.py [--sizes 1000,10000,100000] [--crm hubspot,salesforce]
        [--realistic-sizes 1000,10000] [--naive-size 1000] [--seed 1] [--markdown]
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from healthsync.connectors.salesforce_read import IN_LIST_CHARS, soql_string
from healthsync.http import PACE_MARGIN, Http, Kind, Limiter, Translate
from healthsync.sync.engine import Reporter

T = TypeVar("T")

SIZES = (1_000, 10_000, 100_000)
REALISTIC_SIZES = (1_000, 10_000)
NAIVE_SIZE = 1_000
CRMS = ("hubspot", "salesforce")

# The vendor limits the sandbox enforces with `--rate-limits realistic` (DESIGN.md §9, vendor-facts.md);
# a job reports the config's own values for the first three, and those are used.
DEFAULT_LIMITS = {
    "hubspot_per_10s": 100,  # starter tier, as `sandbox serve --write-config` writes it
    "zendesk_per_min": 400,  # the sandbox's and the config's default plan
    "zendesk_incremental_per_min": 10,
}
HUBSPOT_SEARCH_PER_S = 5
HUBSPOT_PER_DAY = 250_000  # starter tier
SALESFORCE_PER_DAY = 100_000  # the sandbox org's daily allocation with realistic limits


@dataclass(frozen=True)
class Line:
    """Calls that move records, and the vendor's records per call: the minimum's terms."""

    vendor: str
    kind: str
    what: str
    endpoints: tuple[str, ...]
    terms: tuple[tuple[str, int], ...]
    """(record count, records per call at the vendor limit), summed for the minimum."""
    formula: str


_HUBSPOT_SCHEMA = ("properties.companies", "properties.deals", "properties.tasks", "pipelines.deals")

# fmt: off
LINES = {
    crm: tuple(Line(crm, kind, what, endpoints, terms, formula) for kind, what, endpoints, terms, formula in rows)
    for crm, rows in {
        "hubspot": (
            ("read", "schema", _HUBSPOT_SCHEMA, (("schema", 1),), "objects + pipelines"),
            ("read", "owners", ("owners.list",), (("owners", 500),), "ceil(owners/500)"),
            ("read", "companies", ("companies.list",), (("accounts", 100),), "ceil(accounts/100)"),
            ("read", "renewal deals", ("deals.batch_read",), (("deal keys", 100),), "ceil(deal keys/100)"),
            ("write", "company fields", ("companies.batch_update",), (("fields", 100),), "ceil(updated/100)"),
            ("write", "tasks", ("tasks.batch_create",), (("tasks", 100),), "ceil(tasks/100)"),
            ("write", "renewal deals", ("deals.batch_upsert",), (("deals", 100),), "ceil(deals/100)"),
            ("write", "deal links", ("deals.associate",), (("new deals", 2000),), "ceil(new deals/2000)"),
        ),
        "salesforce": (
            ("read", "schema", ("sobjects.describe",), (("schema", 1),), "mapped objects"),
            ("read", "owners", ("query [lookups]", "query_more [lookups]"), (("owners", 2000),), "ceil(users/2000)"),
            ("read", "accounts", ("query [accounts]", "query_more [accounts]"), (("accounts", 2000),), "ceil(accounts/2000)"),
            ("read", "renewal deals", ("queryAll [lookups]",), (("deal key chars", IN_LIST_CHARS),), "ceil(key chars/4000)"),
            ("write", "account fields", ("composite.sobjects.update",), (("fields", 200),), "ceil(updated/200)"),
            ("write", "tasks and deals", ("composite.sobjects.upsert",), (("tasks", 200), ("deals", 200)), "ceil(tasks/200)+ceil(deals/200)"),
        ),
        "zendesk": (
            ("read", "organizations", ("organizations", "incremental/organizations"), (("organizations", 1000),), "ceil(orgs/1000) by export"),
            ("read", "tickets", ("incremental/tickets/cursor",), (("tickets", 1000),), "ceil(tickets/1000)"),
            ("read", "CSAT ratings", ("satisfaction_ratings",), (("ratings", 100),), "ceil(ratings/100)"),
            ("read", "rated tickets", ("tickets/show_many",), (("rated tickets", 100),), "ceil(looked up/100)"),
        ),
    }.items()
}
# fmt: on

BEYOND = {
    "tasks.search": "keyed tasks created since the state store's newest (a run creating tasks): deliberate",
    "tasks.batch_read": "task keys looked up (outbox reconciliation, or after a failed task search)",
    "deals.associations_read": "company links of existing deals (1,000 a call)",
    "queryAll [lookups]": "renewal deals / tasks looked up by key (SOQL IN lists)",
}
for _object in ("companies", "deals", "tasks"):
    BEYOND[f"property_groups.{_object}"] = "property groups (provisioning only; a sync reads none)"

_SOQL = frozenset({"query", "queryAll", "query_more"})


# --- measuring, in the job's process -----------------------------------------------------------


class _Transport:
    """Seconds spent inside the HTTP transport, outermost call only (requests sits on urllib3)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._local = threading.local()

    def install(self) -> None:
        import requests
        import urllib3.connectionpool

        # Timing only, in the job's own process; nothing under healthsync/ is touched.
        requests.Session.send = self._timed(requests.Session.send)  # type: ignore[method-assign]
        pool = urllib3.connectionpool.HTTPConnectionPool
        pool.urlopen = self._timed(pool.urlopen)  # type: ignore[method-assign]

    def _timed(self, original: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> T:
            depth = getattr(self._local, "depth", 0)
            self._local.depth = depth + 1
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._local.depth = depth
                if depth == 0:
                    self.seconds += time.perf_counter() - started

        return timed


def _records_in(answer: Any) -> int:
    """Records a vendor answer carries: SOQL `records`, Zendesk's named lists, HubSpot `results`."""
    if isinstance(answer, dict):
        for key in ("records", "organizations", "tickets", "satisfaction_ratings", "users", "results"):
            if isinstance(answer.get(key), list):
                return len(answer[key])
        return 0
    if isinstance(answer, list):
        return len(answer)
    results = getattr(answer, "results", None)  # an SDK model, where a path still takes them
    return len(results) if isinstance(results, list) else 0


class _BenchHttp(Http):
    """`Http` that counts calls and records per line, times its calls and sleeps, and can stop pacing."""

    def __init__(self, *, pace: bool, retry_budget: int) -> None:
        super().__init__(retry_budget=retry_budget, sleep=self._timed_sleep)
        self.pace = pace
        self.phase = "accounts"
        self.slept = 0.0
        self.in_calls = 0.0
        self.lines: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        self.new_deals = 0
        """Deals HubSpot's batch upserts report created (`new`): the ones that need a link."""

    def _timed_sleep(self, seconds: float) -> None:
        started = time.perf_counter()
        time.sleep(seconds)
        self.slept += time.perf_counter() - started

    def limit(
        self,
        vendor: str,
        limit: int,
        period: float,
        *,
        endpoints: Callable[[str], bool] | None = None,
        name: str | None = None,
        margin: float = PACE_MARGIN,
    ) -> Limiter:
        if self.pace:
            return super().limit(vendor, limit, period, endpoints=endpoints, name=name, margin=margin)
        return Limiter(name or f"{vendor}:{limit}/{period:g}s (off)", limit, period)  # registered nowhere

    def call(
        self,
        vendor: str,
        endpoint: str,
        fn: Callable[[], T],
        *,
        idempotent: bool,
        kind: Kind,
        translate: Translate | None = None,
    ) -> T:
        # SOQL endpoints serve both the account pull and key look-ups: the engine's stage tells them apart.
        line = f"{endpoint} [{self.phase}]" if vendor == "salesforce" and endpoint in _SOQL else endpoint
        counts = self.lines[(vendor, line, kind)]

        def attempt() -> T:
            counts[0] += 1
            try:
                answer = fn()
            except BaseException:
                counts[2] += 1  # refused (a 429, say) or failed: the vendor's window did not count it
                raise
            counts[1] += _records_in(answer)
            if endpoint == "deals.batch_upsert" and isinstance(answer, dict):
                self.new_deals += sum(1 for r in answer.get("results") or [] if r.get("new"))
            return answer

        started = time.perf_counter()
        try:
            return super().call(
                vendor, endpoint, attempt, idempotent=idempotent, kind=kind, translate=translate
            )
        finally:
            self.in_calls += time.perf_counter() - started


class _Stages(Reporter):
    """Seconds per engine stage; tells the bench's `Http` whether SOQL reads accounts or looks up keys."""

    def __init__(self, http: _BenchHttp) -> None:
        self.http = http
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}
        self._scored: float | None = None

    def stage(self, name: str, total: int | None = None) -> None:
        now = time.perf_counter()
        if name == "write" and self._scored is not None:
            self.seconds["history+plan"] = now - self._scored
        self._started[name] = now
        self.http.phase = "accounts" if name == "accounts" else "lookups"

    def done(self, name: str, summary: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._started.pop(name, now)
        self.http.phase = "lookups"
        if name == "score":
            self._scored = now


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _sandbox_clock(control: str) -> tuple[Callable[[], datetime], date]:
    """The sandbox's simulated clock as seen from here (it follows real time within a day), and today."""
    with urllib.request.urlopen(control + "clock", timeout=30) as answer:  # noqa: S310 - loopback
        body = json.loads(answer.read())
    offset = datetime.fromisoformat(body["now"]) - datetime.now(UTC)
    return (lambda: datetime.now(UTC) + offset), date.fromisoformat(body["today"])


def _retried(retries: list[tuple[str, str, str, float]]) -> list[str]:
    """Retries per vendor, endpoint and error, with the seconds waited before them."""
    grouped: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for vendor, endpoint, error, wait in retries:
        grouped[(vendor, endpoint, error)].append(wait)
    return [f"{v} {e} {err} x{len(w)} ({sum(w):.0f} s)" for (v, e, err), w in sorted(grouped.items())]


def _limits(config: Any) -> dict[str, int]:
    """The limits the config gives the connectors' client-side limiters (what the floor is computed with)."""
    limits = dict(DEFAULT_LIMITS)
    if config.hubspot is not None:
        limits["hubspot_per_10s"] = config.hubspot.requests_per_10s
    if config.zendesk is not None:
        limits["zendesk_per_min"] = config.zendesk.requests_per_minute
        limits["zendesk_incremental_per_min"] = config.zendesk.incremental_per_minute
    return limits


def _figures(result: Any, http: _BenchHttp, stages: _Stages, wall: float, transport: float) -> dict[str, Any]:
    return {
        "status": result.status,
        "wall_s": wall,
        "transport_s": transport,
        "sleep_s": http.slept,
        "in_calls_s": http.in_calls,
        "stages": stages.seconds,
        "lines": [
            [v, line, kind, n, records] for (v, line, kind), (n, records, _) in sorted(http.lines.items())
        ],
        "refused": {f"{v} {line}": failed for (v, line, _), (_, _, failed) in http.lines.items() if failed},
        "accounts": result.accounts.get("crm", 0),
        "planned": result.planned,
        "writes": result.writes,
        "failed": sum(result.failed.values()),
        "errors": [str(e.get("message", ""))[:200] for e in result.errors[:3]],
        "retries": len(http.retries),
        "retried": _retried(http.retries),
        "changed_fields": dict(sorted(result.changed_fields.items(), key=lambda kv: -kv[1])),
    }


def _one_sync(
    config: Any, clock: Callable[[], datetime], today: date, pace: bool, transport: _Transport
) -> dict[str, Any]:
    from healthsync.mappings import load_mapping
    from healthsync.mappings.schema import required_schema
    from healthsync.sync.engine import run_sync
    from healthsync.sync.outcomes import deal_keys_to_check

    http = _BenchHttp(pace=pace, retry_budget=config.sync.retry_budget)
    stages = _Stages(http)
    before = transport.seconds
    started = time.perf_counter()
    result = run_sync(config, as_of=today, clock=clock, reporter=stages, http=http)
    wall = time.perf_counter() - started
    figures = _figures(result, http, stages, wall, transport.seconds - before)
    # What the minimum needs beyond the records the endpoints returned (see the module docstring).
    # The deal keys of a *first* run: no earlier contract ends or verdicts are stored yet.
    keys = deal_keys_to_check(_run_accounts(config, result.run_id, today), (), (), today)
    objects = len(required_schema(load_mapping(config.crm.system, config.crm.mapping)).objects)
    figures["minimum_inputs"] = {
        "schema": objects + (1 if config.crm.system == "hubspot" else 0),  # + the deal pipelines
        "deal keys": len(keys),
        "deal key chars": sum(len(soql_string(k)) + 2 for k in keys),  # quoted, ", " between
        "new deals": http.new_deals,
    }
    return figures


def _run_accounts(config: Any, run_id: int | None, day: date) -> list[Any]:
    """The accounts a run scored, from its account snapshots in the state store (contract ends
    included): a large run keeps no assessments in memory (`engine.DETAILS_MAX_ACCOUNTS`)."""
    from healthsync.model import Account
    from healthsync.sync.state import StateStore

    with StateStore.open(config.state.url) as store:
        rows = store.snapshot_window(day - timedelta(days=1), day)
        return [
            Account(r.account, r.name or "", contract_end=r.contract_end) for r in rows if r.run_id == run_id
        ]


def sync_job(config_path: str, control: str, realistic: bool) -> dict[str, Any]:
    """A first full sync and an unchanged re-sync straight after, in this (fresh) process."""
    from healthsync.config import load_config

    transport = _Transport()
    transport.install()
    config = load_config(Path(config_path))
    clock, today = _sandbox_clock(control)
    start_mb = _rss_mb()
    first = _one_sync(config, clock, today, realistic, transport)
    first_mb = _rss_mb()
    again = _one_sync(config, clock, today, realistic, transport)
    return {
        "limits": _limits(config),
        "first": first,
        "again": again,
        "rss_start_mb": start_mb,
        "rss_mb": first_mb,
        "rss_again_mb": _rss_mb(),
    }


# --- the naive baseline ----------------------------------------------------------------------------


def _output_values(assessment: Any, mapping: Any, now: datetime) -> dict[str, Any]:
    """Every mapped output of one account in the CRM's form (no diffing)."""
    from healthsync.mappings.transforms import to_crm
    from healthsync.sync.plan import desired_outputs

    values = {}
    for name, value in desired_outputs(assessment, now).items():
        field = mapping.output_field(name)
        if field:
            values[field] = to_crm(mapping.transform(name), value, mapping.enums)
    return values


def _naive_hubspot(crm: Any, mapping: Any, assessments: list[Any], plan: Any, now: datetime) -> int:
    """One PATCH per company, one create per task, one upsert (and link) per deal; refusals counted."""
    from hubspot.crm.companies import SimplePublicObjectInput
    from hubspot.crm.objects.tasks import (
        AssociationSpec,
        PublicAssociationsForObject,
        PublicObjectId,
        SimplePublicObjectInputForCreate,
    )

    from healthsync.connectors.hubspot_write import TASK_TO_COMPANY, wire_value
    from healthsync.errors import VendorError

    failed = 0
    companies = crm.api.api("crm.companies.basic_api")
    for a in assessments:
        props = {k: wire_value(v) for k, v in _output_values(a, mapping, now).items()}
        update = functools.partial(
            companies.update,
            company_id=a.account.crm_id,
            simple_public_object_input=SimplePublicObjectInput(properties=props),
        )
        try:
            crm.api.call("companies.update", update, idempotent=True, kind="write")
        except VendorError:
            failed += 1
    tasks_api, tasks = crm.api.api("crm.objects.tasks.basic_api"), mapping.tasks
    for t in plan.task_upserts:
        props = {
            tasks.key_field: t.key,
            "hs_task_subject": t.subject,
            "hs_task_body": t.body,
            "hs_timestamp": wire_value(datetime.combine(t.due, dtime(0), tzinfo=UTC)),
            "hs_task_status": tasks.status,
            "hs_task_priority": tasks.priorities.get(t.priority.value, t.priority.value.upper()),
            "hs_task_type": "TODO",
        }
        if t.owner_id:
            props["hubspot_owner_id"] = t.owner_id
        link = PublicAssociationsForObject(
            to=PublicObjectId(id=t.account_id),
            types=[
                AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=TASK_TO_COMPANY)
            ],
        )
        create = functools.partial(
            tasks_api.create,
            simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
                properties=props, associations=[link]
            ),
        )
        try:
            crm.api.call("tasks.create", create, idempotent=False, kind="write")
        except VendorError:
            failed += 1
    for d in plan.deal_upserts:
        failed += sum(1 for outcome in crm.upsert_deals([d]) if not outcome.ok)
    return failed


def _sf_value(value: Any) -> Any:
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _naive_salesforce(crm: Any, mapping: Any, assessments: list[Any], plan: Any, now: datetime) -> int:
    """One PATCH per account, one POST per task, one upsert by external id per deal; refusals counted."""
    from healthsync.connectors.salesforce_write import deal_record, task_record
    from healthsync.errors import VendorError

    account, tasks, deals = mapping.account.object, mapping.tasks.object, mapping.deals
    writes: list[tuple[str, str, str, dict[str, Any], bool]] = []
    for a in assessments:
        body = {k: _sf_value(v) for k, v in _output_values(a, mapping, now).items()}
        writes.append(("sobjects.update", f"sobjects/{account}/{a.account.crm_id}", "PATCH", body, True))
    for t in plan.task_upserts:
        body = {k: v for k, v in task_record(t, mapping).items() if k != "attributes"}
        writes.append(("sobjects.create", f"sobjects/{tasks}", "POST", body, False))
    for d in plan.deal_upserts:
        body = {k: v for k, v in deal_record(d, mapping).items() if k not in ("attributes", deals.key_field)}
        path = f"sobjects/{deals.object}/{deals.key_field}/{quote(d.key, safe='')}"
        writes.append(("sobjects.upsert", path, "PATCH", body, True))
    failed = 0
    for endpoint, path, method, body, idempotent in writes:
        try:
            crm.api.rest(endpoint, path, method=method, body=body, idempotent=idempotent, kind="write")
        except VendorError:
            failed += 1
    return failed


def naive_job(config_path: str, control: str) -> dict[str, Any]:
    """The engine's reads (a dry run), then one write request per record, no diffing."""
    from healthsync.config import load_config
    from healthsync.connectors.registry import crm_connector
    from healthsync.mappings import load_mapping
    from healthsync.sync.engine import run_sync
    from healthsync.sync.plan import build_plan

    transport = _Transport()
    transport.install()
    config = load_config(Path(config_path))
    clock, today = _sandbox_clock(control)
    http = _BenchHttp(pace=False, retry_budget=config.sync.retry_budget)
    stages = _Stages(http)
    started = time.perf_counter()
    result = run_sync(config, as_of=today, clock=clock, reporter=stages, http=http, dry_run=True)
    mapping = load_mapping(config.crm.system, config.crm.mapping)
    crm = crm_connector(config, http, mapping, clock=clock)
    now = clock()
    live = [a for a in result.assessments if not a.account.deleted]
    # No outbox and no look-ups: every signal is a task and every open renewal a deal.
    plan = build_plan(live, mapping, as_of=today, now=now, known_tasks={}, live_deals={})
    write = _naive_hubspot if config.crm.system == "hubspot" else _naive_salesforce
    failed = write(crm, mapping, live, plan, now)
    wall = time.perf_counter() - started
    figures = _figures(result, http, stages, wall, transport.seconds)
    figures["planned"] = {
        "fields": len(live),
        "tasks": len(plan.task_upserts),
        "deals": len(plan.deal_upserts),
    }
    figures["failed"] = failed
    return {"limits": _limits(config), "naive": figures, "rss_mb": _rss_mb()}


# --- the sandbox process ---------------------------------------------------------------------------


@dataclass
class SandboxProcess:
    """A running `healthsync sandbox serve` and the config it wrote."""

    process: subprocess.Popen[str]
    config: Path
    control: str
    ready_s: float

    def peak_rss_mb(self) -> float | None:
        """The sandbox process's peak RSS so far (VmHWM)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None


@contextmanager
def sandbox(accounts: int, crm: str, *, realistic: bool, seed: int) -> Iterator[SandboxProcess]:
    """Start the sandbox in its own process, wait for its ready line, point its config at `crm`."""
    with tempfile.TemporaryDirectory(prefix="healthsync-syncbench-") as folder:
        config = Path(folder) / "sandbox.toml"
        log_path = Path(folder) / "sandbox.log"
        command = [
            *(sys.executable, "-m", "healthsync.cli", "sandbox", "serve"),
            *("--accounts", str(accounts), "--seed", str(seed), "--write-config", str(config)),
            *("--rate-limits", "realistic" if realistic else "off"),
        ]
        started = time.perf_counter()
        with log_path.open("w") as log:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
            try:
                assert process.stdout is not None
                line = process.stdout.readline()  # the ready line, once the data is generated
                if not line:
                    process.wait(timeout=30)
                    raise RuntimeError(f"the sandbox exited ({process.returncode}): {_tail(log_path)}")
                info = json.loads(line)
                ready = time.perf_counter() - started
                text = config.read_text()
                pointed = text.replace('[crm]\nsystem = "hubspot"', f'[crm]\nsystem = "{crm}"')
                if crm != "hubspot" and pointed == text:
                    raise RuntimeError(f"the sandbox config has no [crm] system line to point at {crm}")
                config.write_text(pointed)
                yield SandboxProcess(process, config, info["control"], ready)
            finally:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                if process.stdout is not None:
                    process.stdout.close()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _in_fresh_process(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    # Spawn, not fork: a fresh interpreter, so the peak RSS is this job's alone.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --- arithmetic on the figures ---------------------------------------------------------------------


def _ceil(n: int, per: int) -> int:
    return -(-n // per)


def _calls(run: dict[str, Any]) -> dict[tuple[str, str, str], tuple[int, int]]:
    return {(v, line, kind): (n, records) for v, line, kind, n, records in run["lines"]}


def record_counts(run: dict[str, Any]) -> dict[str, int]:
    """The counts the minimum is made of (see the module docstring)."""
    returned: Counter[str] = Counter()
    for (vendor, line, _), (_, records) in _calls(run).items():
        returned[f"{vendor}:{line}"] += records
    planned = run["planned"]
    crm_owners = returned["hubspot:owners.list"] + returned["salesforce:query [lookups]"]
    return {
        "accounts": run["accounts"],
        "owners": crm_owners + returned["salesforce:query_more [lookups]"],
        "organizations": returned["zendesk:organizations"] + returned["zendesk:incremental/organizations"],
        "tickets": returned["zendesk:incremental/tickets/cursor"],
        "ratings": returned["zendesk:satisfaction_ratings"],
        "rated tickets": returned["zendesk:tickets/show_many"],
        "fields": planned["fields"],
        "tasks": planned["tasks"],
        "deals": planned["deals"],
        "schema": 0,
        "deal keys": 0,
        "deal key chars": 0,
        "new deals": 0,
        **run.get("minimum_inputs", {}),
    }


def line_minimum(line: Line, counts: dict[str, int]) -> int:
    """Calls the line needs at the vendor's limits; a read of nothing is still one call."""
    calls = sum(_ceil(counts[name], per) for name, per in line.terms)
    return max(calls, 1) if line.kind == "read" else calls


def minimum_table(
    run: dict[str, Any], crm: str
) -> tuple[list[tuple[Line, int, int, int]], list[tuple[str, str, str, int]]]:
    """(line, records, actual, minimum) per record line; (vendor, kind, endpoint, calls) beyond them."""
    counts = record_counts(run)
    calls = _calls(run)
    lines = [*LINES[crm], *LINES["zendesk"]]
    claimed = {(line.vendor, e) for line in lines for e in line.endpoints}
    rows = []
    for line in lines:
        actual = sum(n for (v, e, _), (n, _) in calls.items() if v == line.vendor and e in line.endpoints)
        records = sum(counts[name] for name, _ in line.terms)
        rows.append((line, records, actual, line_minimum(line, counts)))
    beyond = [(v, kind, e, n) for (v, e, kind), (n, _) in sorted(calls.items()) if (v, e) not in claimed]
    return rows, beyond


def totals(run: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Calls per (vendor, kind)."""
    out: Counter[tuple[str, str]] = Counter()
    for (vendor, _, kind), (n, _) in _calls(run).items():
        out[(vendor, kind)] += n
    return dict(out)


def _window_floor(calls: int, limit: int, period: float) -> float:
    return (_ceil(calls, limit) - 1) * period if calls else 0.0


def rate_floor(run: dict[str, Any], limits: dict[str, int]) -> dict[str, float]:
    """Seconds the vendors' limits require for the calls `run` made, per vendor called."""
    n: Counter[str] = Counter()
    refused = run.get("refused", {})
    for (vendor, endpoint, _), (attempts, _) in _calls(run).items():
        count = attempts - refused.get(f"{vendor} {endpoint}", 0)  # refused calls use no window slot
        n[vendor] += count
        if vendor == "hubspot" and endpoint.endswith(".search"):
            n["hubspot-search"] += count
        if vendor == "zendesk" and endpoint.startswith("incremental/"):
            n["zendesk-incremental"] += count
    floors = {
        "hubspot": max(
            _window_floor(n["hubspot"], limits["hubspot_per_10s"], 10.0),
            _window_floor(n["hubspot-search"], HUBSPOT_SEARCH_PER_S, 1.0),
        ),
        "salesforce": _window_floor(n["salesforce"], SALESFORCE_PER_DAY, 86_400.0),
        "zendesk": max(
            _window_floor(n["zendesk"], limits["zendesk_per_min"], 60.0),
            _window_floor(n["zendesk-incremental"], limits["zendesk_incremental_per_min"], 60.0),
        ),
    }
    return {vendor: seconds for vendor, seconds in floors.items() if n[vendor]}


def local_compute(run: dict[str, Any]) -> float:
    """Wall time minus transport and sleeps (see the module docstring)."""
    return max(0.0, float(run["wall_s"] - run["transport_s"] - run["sleep_s"]))


# --- printing --------------------------------------------------------------------------------------


def _ratio(actual: float, minimum: float) -> str:
    return f"{actual / minimum:.2f}" if minimum else ("1.00" if not actual else "n/a")


def _by_vendor(run: dict[str, Any]) -> str:
    t = totals(run)
    return "; ".join(
        f"{vendor} {t.get((vendor, 'read'), 0):,} read / {t.get((vendor, 'write'), 0):,} write"
        for vendor in sorted({v for v, _ in t})
    )


def _stages(run: dict[str, Any]) -> str:
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in run["stages"].items())


def _writes(run: dict[str, Any]) -> int:
    return sum(n for (_, kind), n in totals(run).items() if kind == "write")


def print_first_sync(run: dict[str, Any], crm: str) -> dict[str, Any]:
    """Item 1: calls per vendor and kind against the minimum; returns the totals for the summary."""
    counts = record_counts(run)
    rows, beyond = minimum_table(run, crm)
    print(
        f"  1. API calls of the first full sync ({run['status']}): {counts['accounts']:,} accounts, "
        f"{counts['owners']:,} owners, {counts['organizations']:,} organizations, {counts['tickets']:,} "
        f"tickets, {counts['ratings']:,} ratings and {counts['rated tickets']:,} rated tickets read; "
        f"{counts['deal keys']:,} renewal-deal keys looked up; {counts['fields']:,} accounts updated, "
        f"{counts['tasks']:,} tasks, {counts['deals']:,} deals planned"
        + (f" ({counts['new deals']:,} created)" if crm == "hubspot" else "")
    )
    print(
        f"     {'vendor':<10} {'kind':<5} {'records':<16} {'count':>9} {'calls':>7} {'minimum':>7} {'ratio':>6}  minimum ="
    )
    for line, records, calls, least in rows:
        print(
            f"     {line.vendor:<10} {line.kind:<5} {line.what:<16} {records:>9,} {calls:>7,} {least:>7,} "
            f"{_ratio(calls, least):>6}  {line.formula}"
        )
    if beyond:
        print("     beyond the records (not in the minimum):")
        for vendor, kind, endpoint, n in beyond:
            print(f"     {vendor:<10} {kind:<5} {endpoint:<26} {n:>7,}  {BEYOND.get(endpoint, '')}")
    minimum: Counter[tuple[str, str]] = Counter()
    for line, _, _, m in rows:
        minimum[(line.vendor, line.kind)] += m
    actual = totals(run)
    cells = [
        f"{vendor} {kind} {actual.get((vendor, kind), 0):,}/{minimum[(vendor, kind)]:,} = "
        f"{_ratio(actual.get((vendor, kind), 0), minimum[(vendor, kind)])}"
        for vendor, kind in sorted(set(minimum) | set(actual))
    ]
    all_actual, all_minimum = sum(actual.values()), sum(minimum.values())
    print(f"     actual/minimum per vendor and kind: {'; '.join(cells)}")
    print(
        f"     all calls: {all_actual:,}/{all_minimum:,} = {_ratio(all_actual, all_minimum)} (target <= 1.05)"
    )
    if run["failed"] or run["errors"]:
        print(f"     refused records: {run['failed']}; errors: {run['errors']}")
    return {"calls": all_actual, "minimum": all_minimum}


def print_block(
    crm: str,
    size: int,
    off: dict[str, Any] | None,
    real: dict[str, Any] | None,
    naive: dict[str, Any] | None,
    boxes: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Items 1 to 7 for one size and CRM; returns its row of the summary."""
    row: dict[str, Any] = {"size": size, "crm": crm}
    print(f"\n== {size:,} accounts, {crm} as the CRM ==")
    for name, box in boxes.items():
        print(
            f"  sandbox for '{name}': ready in {box['ready_s']:.1f} s, its own process peaked at "
            f"{box['rss_mb'] or 0:.0f} MB RSS"
        )
    if off is not None:
        first, again = off["first"], off["again"]
        row |= print_first_sync(first, crm)
        changed = ", ".join(f"{k} {v:,}" for k, v in again["changed_fields"].items())
        w = again["writes"]
        print(
            f"  2. unchanged re-sync: {_by_vendor(again)} calls in {again['wall_s']:.1f} s; write calls "
            f"{_writes(again):,} (target 0): {w['fields']:,} accounts updated"
            + (f" ({changed})" if changed else "")
            + f", {w['tasks']:,} tasks, {w['deals']:,} deals"
        )
        local = local_compute(first)
        print(
            f"  3. wall time, rate limits off: {first['wall_s']:.1f} s (seconds per stage: {_stages(first)})"
        )
        print(
            f"     in the transport {first['transport_s']:.1f} s, local compute {local:.1f} s "
            f"({local / first['wall_s']:.0%}), of which in the SDKs' (de)serialization "
            f"{max(0.0, first['in_calls_s'] - first['transport_s'] - first['sleep_s']):.1f} s"
        )
        row |= {
            "again_read": sum(n for (_, kind), n in totals(again).items() if kind == "read"),
            "again_write": _writes(again),
            "wall_off": first["wall_s"],
            "rss": off["rss_mb"],
        }
    if real is not None:
        first = real["first"]
        floors = rate_floor(first, real["limits"])
        floor, serial = max(floors.values(), default=0.0), sum(floors.values())
        per_vendor = ", ".join(f"{v} {s:.0f} s" for v, s in floors.items())
        limits = real["limits"]
        if floor:
            versus = (
                f"vs floor {floor:.0f} s = {_ratio(first['wall_s'], floor)} (per vendor: {per_vendor}; "
                f"one after the other {serial:.0f} s = {_ratio(first['wall_s'], serial)})"
            )
        else:
            versus = "vs floor 0 s: every vendor's calls fit in its first window"
        print(f"  4. wall time, realistic limits: {first['wall_s']:.1f} s {versus}")
        print(
            f"     limits: hubspot {limits['hubspot_per_10s']}/10 s and {HUBSPOT_SEARCH_PER_S} searches/s, "
            f"zendesk {limits['zendesk_per_min']}/min and {limits['zendesk_incremental_per_min']}/min "
            "incremental, salesforce none per second (daily allocation only)"
        )
        print(
            f"     waited on limiters and backoff {first['sleep_s']:.1f} s, status {first['status']}; "
            f"seconds per stage: {_stages(first)}"
        )
        print(f"     calls: {_by_vendor(first)}; retries: {', '.join(first.get('retried', [])) or 'none'}")
        print(f"     unchanged re-sync under the same limits: {real['again']['wall_s']:.1f} s")
        local = local_compute(first)
        print(
            f"  5. local compute, realistic limits: {local:.1f} s of {first['wall_s']:.1f} s = "
            f"{local / first['wall_s']:.1%} (target <= 5%); in the transport {first['transport_s']:.1f} s"
        )
        row |= {"wall_real": first["wall_s"], "floor": floor, "local": local / first["wall_s"]}
    elif off is not None:
        floors = rate_floor(off["first"], off["limits"])
        per_vendor = ", ".join(f"{v} {s:.0f} s" for v, s in floors.items())
        row["floor"] = max(floors.values(), default=0.0)
        print(
            f"  4./5. realistic limits: skipped at this size (--realistic-sizes); the calls above would "
            f"need at least {row['floor']:.0f} s under them (per vendor: {per_vendor})"
        )
    if off is not None:
        print(
            f"  6. peak RSS of the sync process: {off['rss_mb']:.0f} MB after the first sync, "
            f"{off['rss_again_mb']:.0f} MB after the re-sync ({off['rss_start_mb']:.0f} MB after imports; "
            "target < 500 MB at 100k)"
        )
    if naive is not None and off is not None:
        run, mine = naive["naive"], off["first"]
        n_calls, h_calls = sum(totals(run).values()), sum(totals(mine).values())
        n_floor = max(rate_floor(run, naive["limits"]).values(), default=0.0)
        h_floor = max(rate_floor(mine, off["limits"]).values(), default=0.0)
        cap = HUBSPOT_PER_DAY if crm == "hubspot" else SALESFORCE_PER_DAY
        n_crm = sum(n for (v, _), n in totals(run).items() if v == crm)
        h_crm = sum(n for (v, _), n in totals(mine).items() if v == crm)
        writes = ", ".join(f"{line} {n:,}" for _, line, kind, n, _ in run["lines"] if kind == "write")
        print(
            f"  7. naive baseline (same reads, then one request per record, no diffing): {n_calls:,} calls "
            f"({writes}) in {run['wall_s']:.1f} s with limits off; {run['failed']} refused"
        )
        print(
            f"     healthsync: {h_calls:,} calls in {mine['wall_s']:.1f} s -> naive/healthsync: calls "
            f"{_ratio(n_calls, h_calls)}x, wall {_ratio(run['wall_s'], mine['wall_s'])}x; rate-limit floor "
            f"{n_floor:.0f} s vs {h_floor:.0f} s; {crm} daily cap ({cap:,}) spent: {n_crm / cap:.2%} vs "
            f"{h_crm / cap:.2%}"
        )
        row |= {
            "naive_calls": n_calls,
            "naive_s": run["wall_s"],
            "naive_floor": n_floor,
            "floor_off": h_floor,
        }
    return row


def print_markdown(rows: list[dict[str, Any]]) -> None:
    """The summary as markdown tables, for the README."""
    print(
        "\n| accounts | CRM | API calls / minimum | unchanged re-sync calls (read / write) | wall, limits off "
        "| wall, realistic limits / floor | local compute (realistic) | peak RSS (sync) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        calls = f"{r['calls']:,} / {r['minimum']:,} = {_ratio(r['calls'], r['minimum'])}"
        real = (
            (
                f"{r['wall_real']:.0f} s / {r['floor']:.0f} s = {_ratio(r['wall_real'], r['floor'])}"
                if r["floor"]
                else f"{r['wall_real']:.1f} s / 0 s"
            )
            if "wall_real" in r
            else f"not run (floor {r['floor']:.0f} s)"
        )
        local = f"{r['local']:.1%}" if "local" in r else "-"
        print(
            f"| {r['size']:,} | {r['crm']} | {calls} | {r['again_read']:,} / {r['again_write']:,} | "
            f"{r['wall_off']:.1f} s | {real} | {local} | {r['rss']:.0f} MB |"
        )
    naive = [r for r in rows if "naive_calls" in r]
    if naive:
        print(
            "\n| naive baseline | CRM | API calls (healthsync) | wall, limits off (healthsync) "
            "| rate-limit floor (healthsync) |"
        )
        print("|---|---|---|---|---|")
        for r in naive:
            print(
                f"| {r['size']:,} accounts | {r['crm']} | {r['naive_calls']:,} ({r['calls']:,}) | "
                f"{r['naive_s']:.1f} s ({r['wall_off']:.1f} s) | {r['naive_floor']:.0f} s ({r['floor_off']:.0f} s) |"
            )


# --- main ------------------------------------------------------------------------------------------


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.strip().replace("_", "")) for part in text.split(",") if part.strip())


def _job(
    name: str, size: int, crm: str, seed: int, realistic: bool, boxes: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    """One job against a fresh sandbox; a failure is printed, and the other jobs still run."""
    try:
        with sandbox(size, crm, realistic=realistic, seed=seed) as box:
            if name == "naive":
                figures = _in_fresh_process(naive_job, str(box.config), box.control)
            else:
                figures = _in_fresh_process(sync_job, str(box.config), box.control, realistic)
            boxes[name] = {"ready_s": box.ready_s, "rss_mb": box.peak_rss_mb()}
            return figures
    except Exception as exc:  # a benchmark reports a failed job and goes on
        print(
            f"  the {name} job at {size:,} accounts with {crm} failed: {type(exc).__name__}: {exc}",
            flush=True,
        )
        return None


def main() -> None:
    """Run every size and CRM, print the figures, and the markdown summary on request."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=SIZES, help="accounts, comma-separated")
    parser.add_argument("--crm", default=",".join(CRMS), help="hubspot, salesforce or both, comma-separated")
    parser.add_argument(
        "--realistic-sizes", type=_sizes, default=REALISTIC_SIZES, help="sizes run with rate limits"
    )
    parser.add_argument(
        "--naive-size", type=int, default=NAIVE_SIZE, help="size of the naive baseline (0: none)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--markdown", action="store_true", help="also print the summary as markdown tables")
    args = parser.parse_args()
    crms = tuple(c.strip() for c in args.crm.split(",") if c.strip())
    if not crms or any(c not in CRMS for c in crms):
        parser.error("--crm takes hubspot, salesforce or both, comma-separated")

    skipped = [s for s in args.sizes if s not in args.realistic_sizes]
    realistic = ", ".join(f"{s:,}" for s in args.sizes if s in args.realistic_sizes) or "none"
    naive = f"at {args.naive_size:,}" if args.naive_size in args.sizes else "not run (not among --sizes)"
    print(
        f"sync benchmark: sizes {', '.join(f'{s:,}' for s in args.sizes)}; CRMs {', '.join(crms)}; "
        f"realistic limits at {realistic}"
        + (f" (skipped at {', '.join(f'{s:,}' for s in skipped)})" if skipped else "")
        + f"; naive baseline {naive}",
        flush=True,
    )
    rows = []
    for size in args.sizes:
        for crm in crms:
            boxes: dict[str, dict[str, Any]] = {}
            started = time.perf_counter()
            off = _job("limits off", size, crm, args.seed, False, boxes)
            real = (
                _job("realistic", size, crm, args.seed, True, boxes) if size in args.realistic_sizes else None
            )
            naive_run = _job("naive", size, crm, args.seed, False, boxes) if size == args.naive_size else None
            rows.append(print_block(crm, size, off, real, naive_run, boxes))
            elapsed = timedelta(seconds=round(time.perf_counter() - started))
            print(f"  (this size and CRM took {elapsed} in all, sandboxes included)", flush=True)
    if args.markdown:
        print_markdown([r for r in rows if "calls" in r])


if __name__ == "__main__":
    main()
