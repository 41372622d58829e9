"""A long run keeps its lease alive, and stops before writing once it has lost it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from healthsync.errors import StateError
from healthsync.sync.engine import _LeaseKeeper
from healthsync.sync.state import StateStore


def test_the_lease_is_renewed_while_the_run_works(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        lease = store.acquire_lease("nightly", ttl_seconds=0.3)
        with _LeaseKeeper(store, lease, 0.3) as keeper:
            time.sleep(1.0)  # three lease lifetimes
            keeper.check()
            assert keeper.lease.expires_at > lease.expires_at
        with pytest.raises(StateError, match="another healthsync run holds the lease"):
            store.acquire_lease("nightly", ttl_seconds=60)  # still held: renewed, not lapsed
    finally:
        store.close()


def test_a_lease_taken_over_stops_the_run_before_it_writes(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        lease = store.acquire_lease("nightly", ttl_seconds=0.3)
        with _LeaseKeeper(store, lease, 0.3) as keeper:
            store.release_lease(lease)
            store.acquire_lease("nightly", ttl_seconds=60)  # another run took it
            time.sleep(0.5)
            with pytest.raises(StateError, match="lost its lease"):
                keeper.check()
    finally:
        store.close()
