"""Tables of the state store, their schema version, and the steps that migrate older files forward.

The store is SQLAlchemy Core over SQLite (default) or PostgreSQL (DESIGN.md section 8). Everything
here is dialect-neutral: times are ``UTCDateTime`` (aware UTC on the way in and out, whatever the
backend does in between), documents are ``JSON``, and statuses are plain strings checked by the
enums in `state_records`, so adding a status never needs a table rebuild on SQLite.

Schema versions:

* **0**: the 0.0 pre-release layout. Every table of version 1 except ``dead_letters``, and ``runs``
  had no ``api_calls`` column.
* **1**: the 0.1 layout: every table below except ``organizations``.
* **2**: adds the ``organizations`` mirror (Zendesk organizations, so a re-sync reads only the
  changed ones from the incremental export) and account names in ``account_snapshots`` (so
  ``explain`` finds an account by name without calling the CRM).
* **3**: the current layout, defined below: what the portfolio report needs. ``account_snapshots``
  gain the owner's name, the top reasons, the signals raised and the value-milestone day;
  ``contract_outcomes`` gain the day the deal was decided and the deal's key.

To change the layout: bump `SCHEMA_VERSION`, add a step to `MIGRATIONS` keyed by the version it
upgrades *from*, and make the step spell out its DDL (do not create today's table objects in an old
step once they have changed since, or a three-versions-old file would skip a layout).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy.types import TypeDecorator

from healthsync.errors import StateError

__all__ = [
    "APPLICATION",
    "MIGRATIONS",
    "OPEN_DEAD_LETTER_COLUMNS",
    "SCHEMA_VERSION",
    "UTCDateTime",
    "account_snapshots",
    "contract_outcomes",
    "cursors",
    "dead_letters",
    "ensure_schema",
    "health_history",
    "meta",
    "metadata",
    "organizations",
    "outbox",
    "payments",
    "ratings",
    "run_lease",
    "runs",
    "tickets",
    "usage_days",
]

SCHEMA_VERSION = 3
"""The layout this code reads and writes; older files are migrated, newer ones refused."""

APPLICATION = "healthsync"
"""Value of the ``application`` meta row: tells our database apart from any other with a ``meta`` table."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant on every backend.

    PostgreSQL keeps the offset (``timestamptz``) but hands values back in the session's time zone;
    SQLite keeps none and hands back naive values. Both are normalised to aware UTC on read, and
    naive values are refused on write because a naive time in this store is always a bug upstream.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given to the state store; pass an aware UTC time"
            )
        value = value.astimezone(UTC)
        # SQLite's DATETIME storage drops the offset anyway; dropping it here makes the stored text
        # uniform UTC, so string comparison in SQL (lease expiry) orders instants correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise StateError(f"expected a timestamp in the state store, found {value!r}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json() -> JSON:
    # none_as_null: Python None is SQL NULL, so "never recorded" and "empty" stay distinct.
    return JSON(none_as_null=True)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("config_name", String, nullable=False),
    Column("config_fingerprint", String),
    Column("started_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Column("status", String, nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("counts", _json()),
    Column("api_calls", _json()),
    Column("errors", _json()),
    Column("lease_name", String),
    Column("lease_holder", String),
    Index(None, "config_name", "id"),
    Index(None, "status"),
    # Run ids are referenced from history and snapshots: never hand out a deleted run's id again.
    sqlite_autoincrement=True,
)

cursors = Table(
    "cursors",
    metadata,
    Column("source", String, primary_key=True),
    Column("stream", String, primary_key=True),
    Column("value", String, nullable=False),
    Column("keys_at_value", _json(), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", String, primary_key=True),
    Column("organization_id", String),
    Column("priority", String),
    Column("status", String, nullable=False),
    Column("is_critical", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("solved_at", UTCDateTime),
    Column("deleted", Boolean, nullable=False),
    Index(None, "organization_id"),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("external_id", String),
    Column("domains", _json(), nullable=False),
    Column("updated_at", UTCDateTime),
    Column("deleted", Boolean, nullable=False),
)

ratings = Table(
    "ratings",
    metadata,
    # `key` is the vendor id when there is one, else derived from (account, kind, time); see state_writes.
    Column("key", String, primary_key=True),
    Column("id", String),
    Column("account_key", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("score", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "account_key", "at"),
)

usage_days = Table(
    "usage_days",
    metadata,
    Column("account_key", String, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("active_users", Integer, nullable=False),
    Column("logins", Integer, nullable=False),
    Column("feature_counts", _json()),
)

payments = Table(
    "payments",
    metadata,
    Column("account_key", String, primary_key=True),
    # The invoice id when the source has one, else "due:<date>" (one invoice per account and due date).
    Column("payment_key", String, primary_key=True),
    Column("invoice_id", String),
    Column("due_date", Date, nullable=False),
    Column("paid_date", Date),
    Column("amount", Float),
)

health_history = Table(
    "health_history",
    metadata,
    Column("account", String, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("score", Float, nullable=False),
    Column("band", String, nullable=False),
    Column("computed_band", String, nullable=False),
    Column("contributions", _json()),
    Column("missing", _json()),
    Column("coverage", Float),
    Column("rules_version", String, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL")),
    Index(None, "day"),
    Index(None, "run_id"),
)

account_snapshots = Table(
    "account_snapshots",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("account", String, primary_key=True),
    Column("day", Date, nullable=False),
    Column("arr", Float),
    Column("licenses", Integer),
    Column("band", String),
    Column("score", Float),
    Column("contract_start", Date),
    Column("contract_end", Date),
    Column("owner_id", String),
    Column("segment", String),
    Column("name", String),
    Column("owner_name", String),
    Column("reasons", _json()),
    Column("signals", _json()),
    Column("value_day", Date),
    Index(None, "account", "day"),
    Index(None, "day"),
)

contract_outcomes = Table(
    "contract_outcomes",
    metadata,
    Column("account", String, primary_key=True),
    Column("contract_end", Date, primary_key=True),
    Column("outcome", String, nullable=False),
    Column("reason", String),
    Column("new_contract_end", Date),
    Column("arr", Float),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("decided_on", Date),
    Column("deal_key", String),
)

outbox = Table(
    "outbox",
    metadata,
    Column("key", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("account", String, nullable=False),
    Column("payload", _json()),
    Column("status", String, nullable=False),
    Column("crm_id", String),
    Column("last_error", String),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("attempts", Integer, nullable=False),
    Index(None, "status"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="SET NULL")),
    Column("vendor", String, nullable=False),
    Column("object", String, nullable=False),
    Column("record_key", String, nullable=False),
    Column("operation", String, nullable=False),
    Column("payload", _json()),
    Column("error", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    sqlite_autoincrement=True,
)
# At most one *open* letter per (vendor, object, record, operation): the upsert in add_dead_letter
# targets this partial index, so two writers failing the same record cannot create two rows.
_OPEN_DEAD_LETTER = Index(
    "uq_dead_letters_open",
    dead_letters.c.vendor,
    dead_letters.c.object,
    dead_letters.c.record_key,
    dead_letters.c.operation,
    unique=True,
    sqlite_where=dead_letters.c.resolved_at.is_(None),
    postgresql_where=dead_letters.c.resolved_at.is_(None),
)
OPEN_DEAD_LETTER_COLUMNS = ("vendor", "object", "record_key", "operation")

run_lease = Table(
    "run_lease",
    metadata,
    Column("name", String, primary_key=True),
    Column("holder", String, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)


# --- migrations ----------------------------------------------------------------------------------


def _add_column(conn: Connection, table: str, column: Column[Any]) -> None:
    """ALTER TABLE … ADD COLUMN, rendered for the connection's dialect (both backends accept it)."""
    preparer = conn.dialect.identifier_preparer
    ddl = (
        f"ALTER TABLE {preparer.quote(table)} ADD COLUMN {preparer.quote(column.name)} "
        f"{column.type.compile(dialect=conn.dialect)}"
    )
    conn.execute(text(ddl))


def _migrate_0_to_1(conn: Connection) -> None:
    """0.0 stores had no dead-letter queue and did not record API calls per run."""
    if "api_calls" not in {c["name"] for c in inspect(conn).get_columns("runs")}:
        _add_column(conn, "runs", Column("api_calls", _json()))
    # Version 1's dead_letters table, frozen: if a later version changes dead_letters, copy its v1
    # definition here instead of referring to the live table object.
    dead_letters.create(conn, checkfirst=True)


def _migrate_1_to_2(conn: Connection) -> None:
    """0.1 stores kept no Zendesk organizations (the next run lists them all once) and no account names."""
    if "name" not in {c["name"] for c in inspect(conn).get_columns("account_snapshots")}:
        _add_column(conn, "account_snapshots", Column("name", String))
    Table(
        "organizations",
        MetaData(),
        Column("id", String, primary_key=True),
        Column("name", String, nullable=False),
        Column("external_id", String),
        Column("domains", _json(), nullable=False),
        Column("updated_at", UTCDateTime),
        Column("deleted", Boolean, nullable=False),
    ).create(conn, checkfirst=True)


def _migrate_2_to_3(conn: Connection) -> None:
    """0.2 stores recorded no report inputs; the report says "not enough data since" the upgrade."""
    have = {c["name"] for c in inspect(conn).get_columns("account_snapshots")}
    for column in (
        Column("owner_name", String),
        Column("reasons", _json()),
        Column("signals", _json()),
        Column("value_day", Date),
    ):
        if column.name not in have:
            _add_column(conn, "account_snapshots", column)
    indexes = {i["name"] for i in inspect(conn).get_indexes("account_snapshots")}
    if "ix_account_snapshots_day" not in indexes:
        conn.execute(text("CREATE INDEX ix_account_snapshots_day ON account_snapshots (day)"))
    have = {c["name"] for c in inspect(conn).get_columns("contract_outcomes")}
    for column in (Column("decided_on", Date), Column("deal_key", String)):
        if column.name not in have:
            _add_column(conn, "contract_outcomes", column)


MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    0: _migrate_0_to_1,
    1: _migrate_1_to_2,
    2: _migrate_2_to_3,
}
"""Step that upgrades a database *from* the key's version to the next; all run in one transaction."""


FOREIGN_TABLES = frozenset({"healthsync_scheduler_jobs"})
"""Tables others keep in the state database (the scheduler's job store), not part of our schema."""


def _schema_lock(conn: Connection) -> None:
    """Serialise schema creation between processes opening the same new database at once.

    SQLite needs nothing: the caller's transaction began IMMEDIATE, which already holds the write
    lock. PostgreSQL gets a transaction-scoped advisory lock keyed by the schema in use.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('healthsync:' || coalesce(current_schema(), '')))")
        )


def _read_meta(conn: Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in conn.execute(select(meta.c.key, meta.c.value))}


def _stamp(conn: Connection, version: int) -> None:
    conn.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(version)))


def ensure_schema(
    conn: Connection, where: str, migrations: dict[int, Callable[[Connection], None]] | None = None
) -> int:
    """Create the schema on an empty database, migrate an older one, or refuse with the reason.

    Runs inside the caller's transaction, so a migration that fails half-way leaves the file as it
    was (both SQLite and PostgreSQL have transactional DDL).

    Args:
        conn: a connection inside a write transaction.
        where: the database as users know it (redacted URL), for error messages.
        migrations: the steps to use; defaults to `MIGRATIONS` (tests pass their own).

    Returns:
        The version the database had when opened; `SCHEMA_VERSION` for a new or current one.

    Raises:
        StateError: the database belongs to something else, is newer than this code, cannot be
            migrated, or is missing tables its version promises.
    """
    steps = MIGRATIONS if migrations is None else migrations
    _schema_lock(conn)
    tables = set(inspect(conn).get_table_names()) - FOREIGN_TABLES
    if meta.name not in tables:
        if tables:
            listed = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
            raise StateError(
                f"{where} is not a healthsync state database: it has tables ({listed}) but no "
                f"healthsync 'meta' table. Point the state URL at a new file or an empty schema."
            )
        metadata.create_all(conn)
        conn.execute(
            meta.insert(),
            [
                {"key": "application", "value": APPLICATION},
                {"key": "schema_version", "value": str(SCHEMA_VERSION)},
            ],
        )
        return SCHEMA_VERSION

    rows = _read_meta(conn)
    if rows.get("application") != APPLICATION:
        raise StateError(
            f"{where} is not a healthsync state database: its 'meta' table does not say "
            f"application={APPLICATION!r}. Point the state URL at a new file or an empty schema."
        )
    try:
        found = int(rows["schema_version"])
    except (KeyError, ValueError) as exc:
        raise StateError(
            f"{where}: the healthsync meta table has no valid schema_version "
            f"({rows.get('schema_version')!r}); the file is damaged, restore it from a backup"
        ) from exc
    if found > SCHEMA_VERSION:
        raise StateError(
            f"{where} has state schema version {found}, but this healthsync understands versions up to "
            f"{SCHEMA_VERSION}: it was written by a newer healthsync. Upgrade healthsync to open it."
        )
    for version in range(found, SCHEMA_VERSION):
        step = steps.get(version)
        if step is None:
            raise StateError(
                f"{where} has state schema version {found} and there is no migration from version "
                f"{version} to {version + 1}; this healthsync can open versions "
                f"{min(steps, default=SCHEMA_VERSION)} to {SCHEMA_VERSION}."
            )
        step(conn)
    if found != SCHEMA_VERSION:
        _stamp(conn, SCHEMA_VERSION)

    missing = sorted(set(metadata.tables) - set(inspect(conn).get_table_names()))
    if missing:
        raise StateError(
            f"{where} is a healthsync state database at version {SCHEMA_VERSION} but lacks tables "
            f"{', '.join(missing)}; the file is damaged, restore it from a backup"
        )
    return found
