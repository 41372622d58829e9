"""Building the SQLAlchemy engine behind the state store: URL checks, SQLite pragmas, PostgreSQL schema.

Kept apart from `state.py` because it is all backend quirks: what SQLite needs to be a dependable
multi-process store (WAL, foreign keys, a busy timeout, real transactions) and how a PostgreSQL
store is confined to one schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from healthsync.errors import StateError

__all__ = ["WRITE_OPTION", "create_state_engine", "describe_url", "dumps"]

WRITE_OPTION = "healthsync_write"
"""Execution option marking a connection whose transaction will write (SQLite: BEGIN IMMEDIATE)."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another process's write transaction before failing."""

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    # Contribution values are for display; anything else JSON cannot hold is stored as its text.
    return str(value)


def dumps(value: Any) -> str:
    """Serialise a JSON column: dates as ISO text, mappings as objects, other oddities as text."""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def describe_url(url: URL) -> str:
    """The URL with any password hidden, for messages and logs."""
    return url.render_as_string(hide_password=True)


def _sqlite_file(url: URL) -> Path | None:
    """The file a SQLite URL points at, or None for in-memory and ``file:`` URI databases."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri") or url.query.get("mode") == "memory":
        return None
    return Path(database)


def _install_sqlite_hooks(engine: Engine, *, wal: bool) -> None:
    """Make every pooled SQLite connection a proper transactional, concurrent one.

    The sqlite3 module's legacy transaction handling begins no transaction for DDL or SELECT; we
    switch it off and emit BEGIN ourselves (the recipe in SQLAlchemy's SQLite dialect docs), so a
    migration is atomic and a write transaction starts IMMEDIATE: it takes the write lock up front
    instead of failing with "database is locked" when it upgrades from reading to writing, which is
    what makes the lease and outbox races safe between processes.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                # WAL lets readers (status, report) proceed while a sync writes.
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _ensure_pg_schema(url: URL, schema: str, connect_args: Mapping[str, Any]) -> None:
    """Create the schema the store is confined to, before any connection puts it on search_path.

    It has to exist first: SQLAlchemy reads ``current_schema()`` once per engine, and with a
    missing schema on the path that is NULL and table reflection looks in the wrong place.
    """
    bootstrap = create_engine(url, connect_args=dict(connect_args))
    try:
        with bootstrap.begin() as conn:
            quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
    finally:
        bootstrap.dispose()


def create_state_engine(
    url: str, *, schema: str | None = None, connect_args: Mapping[str, Any] | None = None
) -> tuple[Engine, str]:
    """Build the engine for a state URL, with the per-backend settings the store relies on.

    Args:
        url: any SQLAlchemy URL; ``sqlite:///path/state.db`` (parent directories are created) or
            ``postgresql+psycopg://user@host/db``.
        schema: PostgreSQL only: keep every table in this schema (created if missing), so several
            configs or test workers can share one database.
        connect_args: passed to the DBAPI ``connect()`` as is.

    Returns:
        The engine, and the URL with its password hidden for messages.

    Raises:
        StateError: the URL is malformed, names an unsupported backend or driver, or `schema` is
            invalid or used with SQLite.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StateError(f"state URL {url!r} is not a database URL (e.g. sqlite:///state.db): {exc}") from exc
    where = describe_url(parsed)
    backend = parsed.get_backend_name()
    args: dict[str, Any] = dict(connect_args or {})
    try:
        if backend == "sqlite":
            if schema is not None:
                raise StateError(f"{where}: a schema can only be chosen on PostgreSQL, not SQLite")
            path = _sqlite_file(parsed)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(parsed, json_serializer=dumps, connect_args=args)
            else:
                # One shared connection, or each checkout would see its own empty in-memory database.
                args.setdefault("check_same_thread", False)
                engine = create_engine(parsed, json_serializer=dumps, connect_args=args, poolclass=StaticPool)
            _install_sqlite_hooks(engine, wal=path is not None)
            return engine, where
        if backend == "postgresql":
            if schema is not None:
                if not _SCHEMA_NAME.match(schema):
                    raise StateError(
                        f"{where}: schema name {schema!r} must be a plain identifier (letters, digits, _)"
                    )
                _ensure_pg_schema(parsed, schema, args)
                args["options"] = f"{args.get('options', '')} -c search_path={schema}".strip()
            engine = create_engine(parsed, json_serializer=dumps, connect_args=args, pool_pre_ping=True)
            return engine, where
    except NoSuchModuleError as exc:
        raise StateError(
            f"{where}: the database driver is not installed ({exc}); for PostgreSQL "
            f"install healthsync[postgres] and use postgresql+psycopg://"
        ) from exc
    except SQLAlchemyError as exc:
        raise StateError(f"cannot open the state database {where}: {exc}") from exc
    except OSError as exc:
        raise StateError(f"cannot create the directory for the state database {where}: {exc}") from exc
    raise StateError(f"{where}: the state store supports SQLite and PostgreSQL URLs, not {backend!r}")
