"""Lifecycle and connection handling shared by every part of the state store.

`StateStore` is assembled from `StoreBase` plus one mixin per concern (reads, outbox and dead
letters, lease), so each module holds one thing; they all get connections and the time from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from healthsync.errors import StateError
from healthsync.sync.state_engine import WRITE_OPTION

__all__ = ["StoreBase", "utc_now"]


def utc_now() -> datetime:
    """The default clock: now, aware, in UTC."""
    return datetime.now(UTC)


class StoreBase:
    """An engine, a clock and the two ways to get a connection: for reading or for writing."""

    def __init__(self, engine: Engine, where: str, clock: Callable[[], datetime]) -> None:
        """Wrap an engine whose schema is already current; use `StateStore.open`, which ensures that."""
        self._engine = engine
        self._where = where
        self._clock = clock
        self._closed = False

    def close(self) -> None:
        """Close every pooled connection; the store cannot be used afterwards."""
        self._closed = True
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where!r})"

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self._where

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise StateError("the state store's clock returned a naive datetime; it must return aware UTC")
        return now.astimezone(UTC)

    def _connect(self) -> Connection:
        if self._closed:
            raise StateError(f"the state store {self._where} is closed")
        return self._engine.connect()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection in a transaction that will write; commits on success, rolls back on error.

        On SQLite the transaction begins IMMEDIATE (see `state_engine`), taking the write lock first.
        """
        with self._connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def _read(self) -> AbstractContextManager[Connection]:
        """A connection for reading; its implicit transaction is rolled back on close."""
        return self._connect()
