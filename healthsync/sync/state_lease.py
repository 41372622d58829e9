"""The run lease: no two syncs of one config at once, whether started by cron or by hand (DESIGN.md 8).

A lease is a row (name, holder, expiry). Taking it is one conditional upsert that succeeds only
when the row is absent or expired, so two processes racing for it cannot both win, and a crashed
holder's lease simply lapses. Holders renew while they work; `clock` injection lets tests expire a
lease without sleeping.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select, update

from healthsync.errors import StateError
from healthsync.sync import state_schema as s
from healthsync.sync.state_base import StoreBase
from healthsync.sync.state_records import Lease
from healthsync.sync.state_tx import dialect_insert

__all__ = ["LeaseMixin"]

_LEASE_ATTEMPTS = 3
"""Acquire retries when the holder released the lease between our insert and our look at it."""


def _holder_is_dead(holder: str) -> bool:
    """True when `holder` names a process on this host that no longer exists.

    Only this host's processes can be checked; a holder elsewhere is trusted until its lease expires.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    return False


def _holder_id() -> str:
    """``host:pid:uuid``: names the process for humans, and is unique per acquisition."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"


class LeaseMixin(StoreBase):
    """Run-lease operations; mixed into `StateStore`."""

    def acquire_lease(self, name: str, ttl_seconds: float) -> Lease:
        """Take the lease that lets one process at a time run the sync called `name`.

        A lease past its expiry belongs to a process that died (or stopped renewing) and is taken
        over. Taking it is one ``INSERT … ON CONFLICT DO UPDATE … WHERE expired`` statement, so of two
        processes racing for it exactly one wins.

        Raises:
            StateError: someone else holds an unexpired lease; the message names them and when it
                expires.
        """
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        t = s.run_lease
        for _ in range(_LEASE_ATTEMPTS):
            now = self._now()
            lease = Lease(name, _holder_id(), now, now + timedelta(seconds=ttl_seconds))
            with self._write() as conn:
                ins = dialect_insert(conn, t)
                stmt = (
                    ins.values(
                        name=lease.name,
                        holder=lease.holder,
                        acquired_at=lease.acquired_at,
                        expires_at=lease.expires_at,
                    )
                    .on_conflict_do_update(
                        index_elements=["name"],
                        set_={c: ins.excluded[c] for c in ("holder", "acquired_at", "expires_at")},
                        where=t.c.expires_at <= now,
                    )
                    .returning(t.c.holder)
                )
                if conn.execute(stmt).first() is not None:
                    return lease
                current = conn.execute(select(t).where(t.c.name == name)).first()
                if current is not None and _holder_is_dead(current.holder):
                    # Its process died on this host (kill -9, OOM): no need to wait for the expiry.
                    taken = conn.execute(
                        update(t)
                        .where(t.c.name == name, t.c.holder == current.holder)
                        .values(
                            holder=lease.holder, acquired_at=lease.acquired_at, expires_at=lease.expires_at
                        )
                        .returning(t.c.holder)
                    ).first()
                    if taken is not None:
                        return lease
            if current is not None:
                stamp = "%Y-%m-%d %H:%M:%S UTC"
                raise StateError(
                    f"another healthsync run holds the lease {name!r}: holder {current.holder}, "
                    f"acquired {current.acquired_at:{stamp}}, expires {current.expires_at:{stamp}}. "
                    f"Wait for that run to finish; if its process is gone, the lease lapses at expiry."
                )
        raise StateError(f"the lease {name!r} kept changing hands; try again")

    def renew_lease(self, lease: Lease, ttl_seconds: float) -> Lease:
        """Extend a held lease to now + `ttl_seconds`; long runs call this well before expiry.

        Raises:
            StateError: the lease was released or taken over (it expired and another process
                acquired it); the caller must stop writing.
        """
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
        t = s.run_lease
        expires = self._now() + timedelta(seconds=ttl_seconds)
        with self._write() as conn:
            renewed = conn.execute(
                update(t)
                .where(t.c.name == lease.name, t.c.holder == lease.holder)
                .values(expires_at=expires)
                .returning(t.c.name)
            ).first()
            current = None if renewed else conn.execute(select(t).where(t.c.name == lease.name)).first()
        if renewed is None:
            who = f"now held by {current.holder}" if current is not None else "it was released"
            raise StateError(f"lost the lease {lease.name!r} ({who}); stop this run and start again")
        return Lease(lease.name, lease.holder, lease.acquired_at, expires)

    def release_lease(self, lease: Lease) -> bool:
        """Give the lease up; returns False if it was no longer ours (expired and taken over)."""
        t = s.run_lease
        with self._write() as conn:
            gone = conn.execute(
                t.delete().where(t.c.name == lease.name, t.c.holder == lease.holder).returning(t.c.name)
            ).first()
        return gone is not None

    @contextmanager
    def hold_lease(self, name: str, ttl_seconds: float) -> Iterator[Lease]:
        """Acquire the lease for the duration of a ``with`` block and release it however the block ends."""
        lease = self.acquire_lease(name, ttl_seconds)
        try:
            yield lease
        finally:
            self.release_lease(lease)
