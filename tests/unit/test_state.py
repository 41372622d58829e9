"""The state store on SQLite and PostgreSQL: schema and migrations, atomic pages, upserts, lease, outbox."""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Connection, Engine, create_engine, inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError, StatementError

from healthsync.errors import StateError
from healthsync.model import (
    Band,
    ContractOutcome,
    Contribution,
    HealthResult,
    Payment,
    Rating,
    RatingKind,
    SupportOrganization,
    Ticket,
    UsageDay,
)
from healthsync.sync import state_schema
from healthsync.sync.state import (
    MAX_CURSOR_KEYS,
    AccountSnapshot,
    CursorState,
    HistoryPoint,
    OutboxStatus,
    RunStatus,
    StateStore,
)
from healthsync.sync.state_engine import create_state_engine
from healthsync.sync.state_outbox import ERROR_LIMIT
from healthsync.sync.state_reads import IN_CHUNK
from healthsync.sync.state_tx import UPSERT_BATCH

PG_URL = os.environ.get("HEALTHSYNC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock tests move by hand, so leases expire without sleeping."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Target:
    """One empty database to test against: a SQLite file, or a fresh PostgreSQL schema."""

    url: str
    schema: str | None = None

    @property
    def backend(self) -> str:
        return "sqlite" if self.schema is None else "postgresql"

    def open(self, clock: FakeClock | None = None) -> StateStore:
        return StateStore.open(self.url, schema=self.schema, clock=clock)

    def raw_engine(self) -> Engine:
        """A plain engine on the same database/schema, for building layouts by hand."""
        if self.schema is None:
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            return create_engine(self.url)
        return create_engine(self.url, connect_args={"options": f"-csearch_path={self.schema}"})


@functools.cache
def _pg_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when a server answers."""
    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
    except Exception as exc:
        return f"cannot use {PG_URL}: {exc}"
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"no PostgreSQL server at {PG_URL} (set HEALTHSYNC_TEST_PG_URL): {exc.__class__.__name__}"
    finally:
        engine.dispose()
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target(f"sqlite:///{tmp_path}/nested/dir/state.db")
        return
    reason = _pg_unavailable()
    if reason is not None:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield Target(PG_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(target: Target, clock: FakeClock) -> Iterator[StateStore]:
    with target.open(clock) as opened:
        yield opened


# --- helpers -------------------------------------------------------------------------------------


def ticket(
    tid: str, org: str | None = "org-1", *, status: str = "open", updated: datetime = T0, **kw: object
) -> Ticket:
    fields: dict[str, object] = {
        "id": tid,
        "organization_id": org,
        "priority": "urgent",
        "status": status,
        "is_critical": True,
        "created_at": T0 - timedelta(days=10),
        "updated_at": updated,
    }
    fields.update(kw)
    return Ticket(**fields)  # type: ignore[arg-type]


def health(account: str, score: float, band: Band, day: date) -> HealthResult:
    return HealthResult(
        account=account,
        score=score,
        band=band,
        computed_band=band,
        contributions=(Contribution("logins", "login_days_30d", 30.0, "logged in 20 of 30 days", 20),),
        missing=("last_nps",),
        coverage=0.8,
        rules_version="builtin-1",
        computed_at=day,
    )


def meta_version(target: Target) -> str:
    engine = target.raw_engine()
    try:
        with engine.connect() as conn:
            value = conn.execute(
                select(state_schema.meta.c.value).where(state_schema.meta.c.key == "schema_version")
            ).scalar_one()
            return str(value)
    finally:
        engine.dispose()


def build_version_0(target: Target) -> int:
    """Lay out a 0.0-era store by hand (no dead_letters, no runs.api_calls) holding one finished run."""
    engine = target.raw_engine()
    try:
        with engine.begin() as conn:
            state_schema.metadata.create_all(conn)
            conn.execute(text("DROP TABLE dead_letters"))
            conn.execute(text("DROP TABLE organizations"))
            conn.execute(text("ALTER TABLE runs DROP COLUMN api_calls"))
            conn.execute(
                state_schema.meta.insert(),
                [{"key": "application", "value": "healthsync"}, {"key": "schema_version", "value": "0"}],
            )
            run_id = conn.execute(
                text(
                    "INSERT INTO runs (config_name, started_at, status, dry_run) "
                    "VALUES ('prod', :at, 'ok', :dry) RETURNING id"
                ),
                {"at": T0.replace(tzinfo=None) if target.backend == "sqlite" else T0, "dry": False},
            ).scalar_one()
        return int(run_id)
    finally:
        engine.dispose()


def run_columns(target: Target) -> set[str]:
    engine = target.raw_engine()
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns("runs")}
    finally:
        engine.dispose()


def columns_of(target: Target, table: str) -> set[str]:
    engine = target.raw_engine()
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


def table_names(target: Target) -> set[str]:
    engine = target.raw_engine()
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


# --- schema: create, reopen, migrate, refuse -----------------------------------------------------


def test_fresh_database_gets_current_schema_and_reopens(target: Target, clock: FakeClock) -> None:
    with target.open(clock) as store:
        run_id = store.start_run("prod", dry_run=False, config_fingerprint="sha256:abc")
    assert table_names(target) >= set(state_schema.metadata.tables)
    assert meta_version(target) == str(state_schema.SCHEMA_VERSION)

    with target.open(clock) as again:
        run = again.get_run(run_id)
    assert run is not None
    assert (run.config_name, run.config_fingerprint, run.status) == ("prod", "sha256:abc", RunStatus.RUNNING)
    assert run.started_at == T0
    assert run.started_at.tzinfo is UTC


def test_version_0_database_is_migrated_forward(target: Target, clock: FakeClock) -> None:
    old_run = build_version_0(target)
    assert "api_calls" not in run_columns(target)

    with target.open(clock) as store:
        run = store.get_run(old_run)
        assert run is not None
        assert (run.config_name, run.status, dict(run.api_calls)) == ("prod", RunStatus.OK, {})
        letter = store.add_dead_letter("hubspot", "companies", "42", "update", "PROPERTY_DOESNT_EXIST")
        assert letter.attempts == 1
        new_run = store.start_run("prod", dry_run=False)
        finished = store.finish_run(new_run, RunStatus.OK, api_calls={"hubspot": {"companies.search": 5}})
        assert finished.api_calls == {"hubspot": {"companies.search": 5}}

    assert "api_calls" in run_columns(target)
    assert "dead_letters" in table_names(target)
    assert "organizations" in table_names(target)
    assert {"owner_name", "reasons", "signals", "value_day"} <= columns_of(target, "account_snapshots")
    assert {"decided_on", "deal_key"} <= columns_of(target, "contract_outcomes")
    assert meta_version(target) == str(state_schema.SCHEMA_VERSION) == "3"


def test_failed_migration_leaves_the_database_as_it_was(target: Target) -> None:
    build_version_0(target)

    def half_done(conn: Connection) -> None:
        conn.execute(text("ALTER TABLE runs ADD COLUMN api_calls TEXT"))
        raise RuntimeError("disk full")

    # The store's own engine: on SQLite it is the one that makes DDL transactional.
    engine, _ = create_state_engine(target.url, schema=target.schema)
    try:
        with pytest.raises(RuntimeError, match="disk full"), engine.begin() as conn:
            state_schema.ensure_schema(conn, "test db", migrations={0: half_done})
    finally:
        engine.dispose()
    assert "api_calls" not in run_columns(target)
    assert meta_version(target) == "0"


def test_missing_migration_step_is_refused(target: Target) -> None:
    build_version_0(target)
    engine = target.raw_engine()
    try:
        with pytest.raises(StateError, match="no migration from version 0 to 1"), engine.begin() as conn:
            state_schema.ensure_schema(conn, "test db", migrations={})
    finally:
        engine.dispose()


def test_newer_schema_version_is_refused(target: Target) -> None:
    with target.open() as store:
        store.start_run("prod", dry_run=True)
    engine = target.raw_engine()
    try:
        with engine.begin() as conn:
            conn.execute(
                update(state_schema.meta).where(state_schema.meta.c.key == "schema_version").values(value="7")
            )
    finally:
        engine.dispose()

    with pytest.raises(StateError, match=r"version 7.*versions up to 3.*newer healthsync"):
        target.open()


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param(["CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"], id="unrelated-tables"),
        pytest.param(
            [
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
                "INSERT INTO meta VALUES ('owner', 'crm')",
            ],
            id="someone-elses-meta",
        ),
    ],
)
def test_database_of_another_application_is_refused(target: Target, statements: list[str]) -> None:
    engine = target.raw_engine()
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()

    with pytest.raises(StateError, match="is not a healthsync state database"):
        target.open()
    # Refusing must not have touched it.
    assert table_names(target) == ({"customers"} if "customers" in statements[0] else {"meta"})


def test_sqlite_file_gets_directories_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.db"
    with StateStore.open(f"sqlite:///{path}") as store, store._read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert path.exists()


def test_in_memory_sqlite_works_for_throwaway_stores() -> None:
    with StateStore.open("sqlite://") as store:
        store.set_cursor("zendesk", "tickets", "1700000000")
        assert store.get_cursor("zendesk", "tickets") == CursorState("1700000000", ())


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        pytest.param("not a url", {}, "is not a database URL", id="malformed"),
        pytest.param(
            "mysql://u@localhost/db", {}, "supports SQLite and PostgreSQL", id="unsupported-backend"
        ),
        pytest.param(
            "sqlite:///x.db", {"schema": "hs"}, "only be chosen on PostgreSQL", id="schema-on-sqlite"
        ),
        pytest.param(
            "postgresql+psycopg://u@127.0.0.1/db", {"schema": "a;drop"}, "plain identifier", id="bad-schema"
        ),
    ],
)
def test_unusable_urls_are_state_errors(url: str, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(StateError, match=message):
        StateStore.open(url, **kwargs)  # type: ignore[arg-type]


def test_unreachable_server_is_a_state_error_without_the_password() -> None:
    with pytest.raises(StateError, match="cannot open the state database") as caught:
        StateStore.open("postgresql+psycopg://hs:sekrit@127.0.0.1:1/db", connect_args={"connect_timeout": 2})
    assert "sekrit" not in str(caught.value)


def test_closed_store_refuses_use(store: StateStore) -> None:
    store.close()
    with pytest.raises(StateError, match="is closed"):
        store.recent_runs()


# --- cursors and atomic pages --------------------------------------------------------------------


def test_rows_and_cursor_commit_together(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.upsert_tickets([ticket("1"), ticket("2")])
        tx.set_cursor("zendesk", "tickets", "cursor-a", ["2"])
        assert tx.get_cursor("zendesk", "tickets") == CursorState("cursor-a", ("2",))

    assert [t.id for t in store.tickets_for(["org-1"])] == ["1", "2"]
    assert store.get_cursor("zendesk", "tickets") == CursorState("cursor-a", ("2",))


def test_failure_inside_transaction_writes_neither_rows_nor_cursor(store: StateStore) -> None:
    def write_page_then_fail() -> None:
        with store.transaction() as tx:
            tx.upsert_tickets([ticket("1")])
            tx.upsert_usage_days([UsageDay("acme", date(2025, 3, 1), 3, 4)])
            tx.set_cursor("zendesk", "tickets", "cursor-b", ["1"])
            raise RuntimeError("connection dropped")

    store.set_cursor("zendesk", "tickets", "cursor-a")
    with pytest.raises(RuntimeError, match="connection dropped"):
        write_page_then_fail()

    assert store.tickets_for(["org-1"]) == []
    assert store.usage_for(["acme"], date(2025, 1, 1), date(2025, 12, 31)) == []
    assert store.get_cursor("zendesk", "tickets") == CursorState("cursor-a", ())


def test_cursor_keys_are_deduplicated_and_bounded(store: StateStore) -> None:
    keys = [str(i) for i in range(MAX_CURSOR_KEYS + 500)]
    stored = store.set_cursor("hubspot", "companies", "2025-03-01T09:00:00Z", ["0", *keys, "3"])

    assert len(stored.keys_at_value) == MAX_CURSOR_KEYS
    assert stored.keys_at_value[-1] == str(MAX_CURSOR_KEYS + 499)  # newest kept, oldest dropped
    assert "3" not in stored.keys_at_value  # the duplicate does not count twice or move
    assert store.get_cursor("hubspot", "companies") == stored
    assert store.get_cursor("hubspot", "deals") is None


def test_damaged_cursor_row_is_a_state_error(store: StateStore) -> None:
    store.set_cursor("zendesk", "tickets", "x", ["1"])
    with store._write() as conn:
        conn.execute(update(state_schema.cursors).values(keys_at_value={"not": "a list"}))
    with pytest.raises(StateError, match="cursor row zendesk/tickets is damaged"):
        store.get_cursor("zendesk", "tickets")


# --- mirrors -------------------------------------------------------------------------------------


def test_upserts_are_idempotent_and_read_back_as_model_objects(store: StateStore) -> None:
    tickets = [ticket("1", subject=None), ticket("2", "org-2", status="solved", solved_at=T0)]
    ratings = [
        Rating("acme", RatingKind.NPS, 9, T0, id="r1"),
        Rating("acme", RatingKind.CSAT, 1, T0 - timedelta(days=1)),  # no vendor id
    ]
    days = [UsageDay("acme", date(2025, 2, d), d, d * 2, {"reports": d}) for d in range(1, 6)]
    payments = [
        Payment("acme", date(2025, 1, 31), date(2025, 1, 30), "inv-1", 100.0),
        Payment("acme", date(2025, 2, 28)),  # no invoice id: keyed by due date
    ]
    for _ in range(2):
        assert store.upsert_tickets(tickets) == 2
        assert store.upsert_ratings(ratings) == 2
        assert store.upsert_usage_days(days) == 5
        assert store.upsert_payments(payments) == 2

    assert store.tickets_for(["org-1", "org-2"]) == tickets
    assert store.ratings_for(["acme"]) == [ratings[1], ratings[0]]  # oldest first
    assert store.ratings_for(["acme"], since=T0) == [ratings[0]]
    assert store.usage_for(["acme"], date(2025, 2, 2), date(2025, 2, 4)) == days[1:4]
    assert store.payments_for(["acme"]) == payments
    assert store.payments_for(["acme"], since=date(2025, 2, 1)) == payments[1:]

    store.upsert_usage_days([UsageDay("acme", date(2025, 2, 1), 50, 60)])  # re-aggregated day replaces
    assert store.usage_for(["acme"], date(2025, 2, 1), date(2025, 2, 1)) == [
        UsageDay("acme", date(2025, 2, 1), 50, 60, {})
    ]


def test_times_come_back_as_the_same_instant_in_utc(store: StateStore) -> None:
    cest = timezone(timedelta(hours=2))
    local = datetime(2025, 6, 1, 11, 30, 15, 123456, tzinfo=cest)
    store.upsert_tickets([ticket("1", created_at=local, updated=local)])

    [back] = store.tickets_for(["org-1"])
    assert back.created_at == local
    assert back.created_at.tzinfo is UTC
    assert back.created_at.hour == 9


def test_naive_times_are_refused(store: StateStore) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        store.upsert_tickets([ticket("1", updated=datetime(2025, 3, 1, 9, 0))])


def test_older_ticket_update_does_not_overwrite_a_newer_one(store: StateStore) -> None:
    store.upsert_tickets([ticket("1", status="pending", updated=T0)])
    store.upsert_tickets([ticket("1", status="open", updated=T0 - timedelta(hours=1))])  # replayed page
    assert [t.status for t in store.tickets_for(["org-1"])] == ["pending"]


def test_deleted_tickets_become_tombstones_not_ghosts(store: StateStore) -> None:
    store.upsert_tickets([ticket("1"), ticket("2")])
    assert [t.id for t in store.open_tickets()] == ["1", "2"]

    # Zendesk's incremental export reports a deletion sparsely.
    later = T0 + timedelta(hours=1)
    store.upsert_tickets([ticket("1", None, status="deleted", updated=later, priority=None, deleted=True)])
    store.upsert_tickets([ticket("9", "org-1", status="deleted", updated=later, deleted=True)])  # never seen

    assert [t.id for t in store.open_tickets()] == ["2"]
    assert [t.id for t in store.tickets_for(["org-1"])] == ["2"]
    gone = {t.id: t for t in store.tickets_for(["org-1"], include_deleted=True) if t.deleted}
    assert set(gone) == {"1", "9"}
    assert (gone["1"].organization_id, gone["1"].priority, gone["1"].status) == ("org-1", "urgent", "deleted")

    # A stale replay of the live version cannot resurrect it.
    store.upsert_tickets([ticket("1", updated=T0)])
    assert [t.id for t in store.open_tickets()] == ["2"]


def test_twenty_thousand_usage_days_in_one_call(store: StateStore) -> None:
    start = date(2024, 1, 1)
    days = (
        UsageDay(f"acct-{a:03d}", start + timedelta(days=d), a % 7, d % 5, {"exports": d})
        for a in range(200)
        for d in range(100)
    )
    assert store.upsert_usage_days(days) == 20_000
    accounts = [f"acct-{a:03d}" for a in range(200)]
    rows = store.usage_for(accounts, start, start + timedelta(days=99))
    assert len(rows) == 20_000
    assert rows[0] == UsageDay("acct-000", start, 0, 0, {"exports": 0})


def test_rows_repeated_in_one_call_collapse_to_the_last(store: StateStore) -> None:
    feb = [date(2025, 2, d) for d in (1, 2)]
    days = [UsageDay("acme", feb[0], 1, 1), UsageDay("acme", feb[1], 2, 2), UsageDay("acme", feb[0], 9, 9)]
    assert store.upsert_usage_days(days) == 2
    assert store.usage_for(["acme"], feb[0], feb[1]) == [
        UsageDay("acme", feb[0], 9, 9, {}),
        UsageDay("acme", feb[1], 2, 2, {}),
    ]

    orgs = [
        SupportOrganization("o1", "Acme", "a-1", ("acme.com",), T0),
        SupportOrganization("o2", "Globex", None, (), T0),
        SupportOrganization("o1", "Acme Corp", None, ("acme.io",), T0 + timedelta(hours=1)),
        SupportOrganization("o3", "Initech", None, (), T0, deleted=True),
    ]
    assert store.upsert_organizations(orgs) == 3
    assert store.organizations() == [orgs[2], orgs[1]]  # the last o1 won; the tombstone is left out


def test_statements_built_once_serve_every_store_and_backend(target: Target, clock: FakeClock) -> None:
    """Upsert statements are built once per backend and reused: each store still writes only its own rows."""
    with target.open(clock) as first:
        first.set_cursor("zendesk", "tickets", "a", ["1"])
    with StateStore.open("sqlite://", clock=clock) as memory:  # another backend (or file) in between
        memory.set_cursor("zendesk", "tickets", "m")
        assert memory.get_cursor("zendesk", "tickets") == CursorState("m", ())
    with target.open(clock) as again:
        again.set_cursor("zendesk", "tickets", "b", ["2"])
        assert again.get_cursor("zendesk", "tickets") == CursorState("b", ("2",))


# --- health history, snapshots, outcomes ---------------------------------------------------------


def test_history_is_ordered_and_a_later_run_the_same_day_replaces(store: StateStore) -> None:
    first, second = store.start_run("prod", False), store.start_run("prod", False)
    d1, d2, d3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)
    store.record_health(first, [health("acme", 80, Band.GREEN, d3)])
    store.record_health(first, [health("acme", 60, Band.YELLOW, d1), health("beta", 30, Band.RED, d1)])
    store.record_health(first, [health("acme", 70, Band.GREEN, d2)])
    store.record_health(second, [health("acme", 35, Band.RED, d3)])  # same day, later run

    assert store.history("acme") == [
        HistoryPoint(d1, 60.0, Band.YELLOW),
        HistoryPoint(d2, 70.0, Band.GREEN),
        HistoryPoint(d3, 35.0, Band.RED),
    ]
    assert store.history("acme", since=d2) == [
        HistoryPoint(d2, 70.0, Band.GREEN),
        HistoryPoint(d3, 35.0, Band.RED),
    ]
    assert store.history_many(["acme", "beta", "nobody"], since=d1) == {
        "acme": store.history("acme"),
        "beta": [HistoryPoint(d1, 30.0, Band.RED)],
        "nobody": [],
    }
    assert store.previous_band("acme", d3) is Band.GREEN
    assert store.previous_band("acme", d1) is None
    with store._read() as conn:
        run_of_d3 = conn.execute(
            select(state_schema.health_history.c.run_id).where(state_schema.health_history.c.day == d3)
        ).scalar_one()
    assert run_of_d3 == second


def test_history_many_spans_more_accounts_than_one_query_holds(store: StateStore) -> None:
    run = store.start_run("prod", False)
    day = date(2025, 3, 1)
    accounts = [f"a{i:05d}" for i in range(IN_CHUNK + 150)]
    store.record_health(run, (health(a, i % 100, Band.YELLOW, day) for i, a in enumerate(accounts)))

    history = store.history_many(accounts)
    assert len(history) == len(accounts)
    assert history[accounts[-1]] == [HistoryPoint(day, float((len(accounts) - 1) % 100), Band.YELLOW)]


def test_snapshots_per_run_and_latest_before_a_day(store: StateStore) -> None:
    r1, r2 = store.start_run("prod", False), store.start_run("prod", False)
    store.record_snapshots(
        r1, date(2025, 3, 1), [AccountSnapshot("acme", arr=1000.0, licenses=10, band=Band.GREEN)]
    )
    store.record_snapshots(
        r2, date(2025, 3, 8), [AccountSnapshot("acme", arr=1200.0, licenses=12), AccountSnapshot("beta")]
    )

    assert [s.account for s in store.snapshots_for_run(r2)] == ["acme", "beta"]
    assert [s.licenses for s in store.snapshot_history("acme")] == [10, 12]
    latest = store.latest_snapshots(["acme", "beta", "gamma"], before_day=date(2025, 3, 8))
    assert set(latest) == {"acme"}
    assert (latest["acme"].run_id, latest["acme"].licenses, latest["acme"].band) == (r1, 10, Band.GREEN)
    assert store.latest_snapshots(["acme"], before_day=date(2025, 3, 9))["acme"].licenses == 12


def test_report_readers_window_starts_nps_and_outcomes(store: StateStore) -> None:
    runs = [store.start_run("prod", False) for _ in range(4)]
    signal = {"kind": "expansion", "code": "expansion.utilization", "subject": "Seats", "reason": "90 %"}
    store.record_snapshots(
        runs[0], date(2025, 3, 1), [AccountSnapshot("acme", arr=1000.0, contract_start=date(2025, 2, 1))]
    )
    store.record_snapshots(
        runs[1], date(2025, 3, 8), [AccountSnapshot("acme", arr=1100.0), AccountSnapshot("beta")]
    )
    store.record_snapshots(
        runs[2],
        date(2025, 3, 15),
        [
            AccountSnapshot(
                "acme",
                arr=1200.0,
                contract_start=date(2025, 1, 15),
                contract_end=date(2026, 1, 14),
                owner_name="Dana Owner",
                reasons=("+20 logins", "-5 tickets"),
                signals=(signal,),
                value_day=date(2025, 3, 2),
            )
        ],
    )
    # A second run on the same day: the window keeps the day's last run only.
    store.record_snapshots(runs[3], date(2025, 3, 15), [AccountSnapshot("acme", arr=1250.0)])

    rows = list(store.snapshot_window(date(2025, 3, 8), date(2025, 3, 31)))
    # acme: its state on the window's start (the 03-08 row), then the 03-15 day's last run; beta: 03-08.
    assert [(r.account, r.day, r.arr) for r in rows] == [
        ("acme", date(2025, 3, 8), 1100.0),
        ("acme", date(2025, 3, 15), 1250.0),
        ("beta", date(2025, 3, 8), None),
    ]
    third = store.snapshots_for_run(runs[2])[0]
    assert (third.owner_name, third.reasons, third.signals, third.value_day) == (
        "Dana Owner",
        ("+20 logins", "-5 tickets"),
        (signal,),
        date(2025, 3, 2),
    )
    starts = {r.account: r for r in store.account_starts(date(2025, 3, 31))}
    assert starts["acme"].first_seen == date(2025, 3, 1)
    assert starts["acme"].first_contract_start == date(2025, 1, 15)
    assert starts["acme"].value_day == date(2025, 3, 2)
    assert store.first_snapshot_day() == date(2025, 3, 1)

    at = datetime(2025, 3, 10, 12, tzinfo=UTC)
    store.upsert_ratings(
        [
            Rating(account_key="acme", kind=RatingKind.NPS, score=9, at=at, id="n1"),
            Rating(account_key="acme", kind=RatingKind.CSAT, score=1, at=at, id="c1"),
            Rating(account_key="beta", kind=RatingKind.NPS, score=3, at=at - timedelta(days=9), id="n2"),
        ]
    )
    assert [(r.account, r.score) for r in store.nps_answers(date(2025, 3, 8), date(2025, 3, 31))] == [
        ("acme", 9)
    ]

    store.record_outcome("acme", date(2025, 3, 31), ContractOutcome.RENEWED, decided_on=date(2025, 3, 20))
    store.record_outcome("beta", date(2025, 4, 30), ContractOutcome.CHURNED, decided_on=date(2025, 4, 2))
    assert [o.account for o in store.outcomes_decided(date(2025, 3, 31))] == ["acme"]
    assert store.recent_contract_ends(date(2025, 3, 8)) == {("acme", date(2026, 1, 14))}
    assert store.recent_contract_ends(date(2025, 3, 16)) == set()


def test_contract_outcome_recorded_and_corrected(store: StateStore, clock: FakeClock) -> None:
    end = date(2025, 6, 30)
    store.record_outcome("acme", end, ContractOutcome.CHURNED, reason="budget")
    clock.advance(days=1)
    store.record_outcome(
        "acme",
        end,
        ContractOutcome.RENEWED,
        new_contract_end=date(2026, 6, 30),
        arr=5000.0,
        decided_on=date(2025, 6, 28),
        deal_key="renewal:acme:2025-06-30",
    )

    [outcome] = store.outcomes(since=date(2025, 1, 1))
    assert (
        outcome.outcome,
        outcome.reason,
        outcome.new_contract_end,
        outcome.decided_on,
        outcome.deal_key,
    ) == (
        ContractOutcome.RENEWED,
        None,
        date(2026, 6, 30),
        date(2025, 6, 28),
        "renewal:acme:2025-06-30",
    )
    assert outcome.recorded_at == T0 + timedelta(days=1)
    assert store.outcomes(since=date(2025, 7, 1)) == []


# --- outbox and dead letters ---------------------------------------------------------------------


def test_outbox_put_is_insert_if_absent(store: StateStore) -> None:
    run = store.start_run("prod", False)
    assert store.outbox_put("acme:risk:2025-W10", "task", "acme", {"subject": "Call Acme"}, run) is True
    assert store.outbox_put("acme:risk:2025-W10", "task", "acme", {"subject": "changed"}, run) is False

    entry = store.outbox_get("acme:risk:2025-W10")
    assert entry is not None
    assert (entry.status, entry.payload, entry.attempts, entry.run_id) == (
        OutboxStatus.PENDING,
        {"subject": "Call Acme"},
        0,
        run,
    )
    assert [e.key for e in store.outbox_pending()] == ["acme:risk:2025-W10"]

    failed = store.outbox_mark("acme:risk:2025-W10", OutboxStatus.FAILED, error="HTTP 503")
    assert (failed.attempts, failed.last_error) == (1, "HTTP 503")
    assert [e.key for e in store.outbox_pending(kind="task")] == ["acme:risk:2025-W10"]
    sent = store.outbox_mark("acme:risk:2025-W10", OutboxStatus.SENT, crm_id="00T1")
    assert (sent.status, sent.crm_id, sent.attempts, sent.last_error) == (OutboxStatus.SENT, "00T1", 2, None)
    confirmed = store.outbox_mark("acme:risk:2025-W10", OutboxStatus.CONFIRMED)
    assert (confirmed.crm_id, confirmed.attempts) == ("00T1", 2)
    assert store.outbox_pending() == []
    assert store.outbox_get("nope") is None
    with pytest.raises(StateError, match="no outbox entry"):
        store.outbox_mark("nope", OutboxStatus.SENT)


@dataclass(frozen=True)
class NewTask:
    """What the writer hands `outbox_put_many`: a key, a kind, an account and a payload."""

    key: str
    kind: str
    account: str
    payload: dict[str, object]


def test_outbox_put_many_writes_ahead_and_leaves_existing_keys_alone(
    store: StateStore, clock: FakeClock
) -> None:
    run = store.start_run("prod", False)
    assert store.outbox_put("t-00001", "task", "a1", {"subject": "first"}, run) is True
    clock.advance(hours=1)
    n = UPSERT_BATCH + 1_200  # several parameter batches, each over SQLAlchemy's 1,000-row pages
    entries = [NewTask(f"t-{i:05d}", "task", f"a{i}", {"subject": f"Call {i}", "n": i}) for i in range(n)]
    repeated = NewTask("t-00003", "task", "a3", {"subject": "repeated in the same call"})

    # t-00001 existed; a key given twice in one call is written once, first payload kept.
    assert store.outbox_put_many([*entries[:4], repeated, *entries[4:]], run_id=run) == n - 1

    stored = store.outbox_lookup(e.key for e in entries)
    assert len(stored) == n
    assert (stored["t-00001"].payload, stored["t-00001"].created_at) == ({"subject": "first"}, T0)
    e = stored["t-00003"]
    assert (e.kind, e.account, e.payload, e.status, e.crm_id, e.last_error, e.attempts, e.run_id) == (
        "task",
        "a3",
        {"subject": "Call 3", "n": 3},
        OutboxStatus.PENDING,
        None,
        None,
        0,
        run,
    )
    assert e.created_at == e.updated_at == T0 + timedelta(hours=1)
    assert stored[f"t-{n - 1:05d}"].payload == {"subject": f"Call {n - 1}", "n": n - 1}
    assert len(store.outbox_pending(kind="task")) == n
    assert store.outbox_put_many(entries[-10:]) == 0
    assert store.outbox_put_many([]) == 0


def test_outbox_put_many_is_all_or_nothing(store: StateStore) -> None:
    def planned() -> Iterator[NewTask]:
        yield NewTask("t-1", "task", "acme", {"subject": "Call Acme"})
        raise RuntimeError("planner failed")

    with pytest.raises(RuntimeError, match="planner failed"):
        store.outbox_put_many(planned())
    assert store.outbox_get("t-1") is None


def test_outbox_mark_many_applies_marks_in_order_and_skips_unknown_keys(
    store: StateStore, clock: FakeClock
) -> None:
    keys = [f"k{i}" for i in range(6)]
    assert store.outbox_put_many(NewTask(k, "task", "acme", {"n": i}) for i, k in enumerate(keys)) == 6
    store.outbox_mark("k2", OutboxStatus.SENT, crm_id="00T2")
    clock.advance(minutes=5)
    store.outbox_mark_many(
        [
            ("k0", OutboxStatus.SENT, "00T0", "kept for FAILED only"),
            ("k1", OutboxStatus.FAILED, None, "x" * 50_000),
            ("k2", OutboxStatus.CONFIRMED, None, None),  # a known CRM id is kept
            ("k3", OutboxStatus.FAILED, None, "HTTP 503"),
            ("k3", OutboxStatus.SENT, "00T3", None),  # marked twice: the last status, both attempts
            ("nope", OutboxStatus.SENT, "00T9", None),  # unknown: skipped
            ("k4", OutboxStatus.PENDING, None, "kept for FAILED only"),
        ]
    )

    got = store.outbox_lookup([*keys, "nope"])
    assert "nope" not in got
    summary = {k: (e.status, e.crm_id, e.last_error, e.attempts) for k, e in got.items()}
    assert summary == {
        "k0": (OutboxStatus.SENT, "00T0", None, 1),
        "k1": (OutboxStatus.FAILED, None, got["k1"].last_error, 1),
        "k2": (OutboxStatus.CONFIRMED, "00T2", None, 1),
        "k3": (OutboxStatus.SENT, "00T3", None, 2),
        "k4": (OutboxStatus.PENDING, None, None, 0),
        "k5": (OutboxStatus.PENDING, None, None, 0),
    }
    assert got["k1"].last_error is not None
    assert got["k1"].last_error.startswith("x" * ERROR_LIMIT + "…")
    assert {k: e.updated_at for k, e in got.items()} == {
        **{k: T0 + timedelta(minutes=5) for k in keys[:5]},
        "k5": T0,
    }
    store.outbox_mark_many([])  # nothing to do


def test_outbox_mark_many_is_all_or_nothing(store: StateStore) -> None:
    store.outbox_put("k", "task", "acme", {})
    bogus = cast(OutboxStatus, "bogus")  # not a status: refused before anything is written
    with pytest.raises(ValueError, match="bogus"):
        store.outbox_mark_many([("k", OutboxStatus.SENT, "00T1", None), ("k", bogus, None, None)])
    entry = store.outbox_get("k")
    assert entry is not None
    assert (entry.status, entry.crm_id, entry.attempts) == (OutboxStatus.PENDING, None, 0)


def test_dead_letters_are_deduplicated_while_open(store: StateStore, clock: FakeClock) -> None:
    r1, r2 = store.start_run("prod", False), store.start_run("prod", False)
    first = store.add_dead_letter(
        "hubspot", "companies", "42", "update", "INVALID_OPTION", payload={"a": 1}, run_id=r1
    )
    clock.advance(hours=1)
    again = store.add_dead_letter(
        "hubspot", "companies", "42", "update", "still invalid", payload={"a": 2}, run_id=r2
    )
    other = store.add_dead_letter("hubspot", "companies", "42", "create", "DUPLICATE")

    assert again.id == first.id
    assert (again.attempts, again.error, again.payload, again.run_id) == (2, "still invalid", {"a": 2}, r2)
    assert (again.first_seen, again.last_seen) == (T0, T0 + timedelta(hours=1))
    assert [d.id for d in store.open_dead_letters()] == [first.id, other.id]

    store.resolve_dead_letter(first.id)
    assert [d.id for d in store.open_dead_letters(vendor="hubspot")] == [other.id]
    fresh = store.add_dead_letter("hubspot", "companies", "42", "update", "broke again")
    assert fresh.id not in (first.id, other.id)
    assert fresh.attempts == 1
    assert store.resolve_dead_letters("hubspot", "companies", "42") == 2
    assert store.open_dead_letters() == []
    with pytest.raises(StateError, match="no dead letter 999"):
        store.resolve_dead_letter(999)


def test_dead_letter_error_text_is_bounded(store: StateStore) -> None:
    letter = store.add_dead_letter("salesforce", "Account", "001", "update", "x" * 50_000)
    assert len(letter.error) < 2_100


# --- run lease and stale runs --------------------------------------------------------------------


def test_held_lease_is_refused_with_holder_and_expiry(store: StateStore) -> None:
    lease = store.acquire_lease("prod", ttl_seconds=600)
    assert lease.expires_at == T0 + timedelta(minutes=10)
    assert lease.holder.count(":") >= 2  # host:pid:uuid

    with pytest.raises(StateError) as refused:
        store.acquire_lease("prod", ttl_seconds=600)
    assert lease.holder in str(refused.value)
    assert "2025-03-01 09:10:00 UTC" in str(refused.value)
    assert store.acquire_lease("staging", ttl_seconds=600).name == "staging"  # other configs are free


def test_lease_between_two_stores_expiry_and_takeover(target: Target, clock: FakeClock) -> None:
    with target.open(clock) as first, target.open(clock) as second:
        held = first.acquire_lease("prod", ttl_seconds=60)
        with pytest.raises(StateError, match="holds the lease 'prod'"):
            second.acquire_lease("prod", ttl_seconds=60)

        clock.advance(seconds=30)
        held = first.renew_lease(held, ttl_seconds=60)  # now expires at +90 s
        clock.advance(seconds=59)
        with pytest.raises(StateError):
            second.acquire_lease("prod", ttl_seconds=60)

        clock.advance(seconds=2)  # the first process stopped renewing: crashed
        taken = second.acquire_lease("prod", ttl_seconds=60)
        assert taken.holder != held.holder
        with pytest.raises(StateError, match=r"lost the lease 'prod' \(now held by"):
            first.renew_lease(held, ttl_seconds=60)
        assert first.release_lease(held) is False  # cannot release someone else's lease
        assert second.release_lease(taken) is True
        with first.hold_lease("prod", ttl_seconds=60), pytest.raises(StateError):
            second.acquire_lease("prod", ttl_seconds=60)
        assert second.release_lease(second.acquire_lease("prod", ttl_seconds=60))


def test_only_one_of_many_racing_processes_gets_the_lease(target: Target, clock: FakeClock) -> None:
    with target.open(clock):
        pass  # create the schema once, so the racers only race for the lease
    racers = 8
    barrier = threading.Barrier(racers)
    won: list[str] = []
    refused: list[str] = []
    failures: list[BaseException] = []

    def race() -> None:
        try:
            with target.open(clock) as mine:
                barrier.wait(timeout=30)
                try:
                    won.append(mine.acquire_lease("prod", ttl_seconds=600).holder)
                except StateError as exc:
                    refused.append(str(exc))
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            failures.append(exc)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    assert len(won) == 1
    assert len(refused) == racers - 1
    assert all(won[0] in message for message in refused)


def test_stale_runs_are_marked_interrupted(store: StateStore, clock: FakeClock) -> None:
    dead_lease = store.acquire_lease("prod", ttl_seconds=60)
    crashed = store.start_run("prod", False, lease=dead_lease)
    live_lease = store.acquire_lease("staging", ttl_seconds=600)
    alive = store.start_run("staging", False, lease=live_lease)
    no_lease = store.start_run("adhoc", True)

    assert store.mark_stale_runs() == []  # nothing has expired yet
    clock.advance(seconds=120)
    assert store.mark_stale_runs() == [crashed]
    assert store.mark_stale_runs(started_before=clock.now - timedelta(hours=1)) == []
    assert store.mark_stale_runs(started_before=clock.now) == [no_lease]

    run = store.get_run(crashed)
    assert run is not None
    assert (run.status, run.ended_at) == (RunStatus.INTERRUPTED, T0 + timedelta(seconds=120))
    assert store.get_run(alive).status is RunStatus.RUNNING  # type: ignore[union-attr]

    # The "dead" process turns out to finish after all: its real outcome wins, once.
    done = store.finish_run(crashed, RunStatus.PARTIAL, counts={"accounts": 3}, errors=["1 dead letter"])
    assert (done.status, dict(done.counts), done.errors) == (
        RunStatus.PARTIAL,
        {"accounts": 3},
        ("1 dead letter",),
    )
    with pytest.raises(StateError, match="already finished with status 'partial'"):
        store.finish_run(crashed, RunStatus.OK)
    with pytest.raises(StateError, match="no run 9999"):
        store.finish_run(9999, RunStatus.OK)
    with pytest.raises(StateError, match="cannot be finished with status 'running'"):
        store.finish_run(alive, RunStatus.RUNNING)


def test_recent_runs_newest_first(store: StateStore) -> None:
    ids = [store.start_run("prod" if i % 2 else "staging", dry_run=bool(i % 2)) for i in range(5)]
    assert [r.id for r in store.recent_runs(limit=3)] == ids[::-1][:3]
    assert [r.id for r in store.recent_runs(config_name="prod")] == [ids[3], ids[1]]
    assert store.get_run(12345) is None
