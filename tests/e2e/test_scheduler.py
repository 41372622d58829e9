"""The scheduler for real: `healthsync schedule run` as a process, against the sandbox, with short intervals.

Each test reads the run records from the state database, as `healthsync status` would.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from e2e_support import config_for

from healthsync.sandbox import Sandbox
from healthsync.sync.state import StateStore
from healthsync.sync.state_records import RunRecord, RunStatus


def _scheduled(box: Sandbox, folder: Path, every: str) -> Path:
    config = config_for(box, folder, "hubspot")
    with config.open("a") as toml:
        toml.write(f'\n[[schedule]]\nname = "often"\nevery = "{every}"\n')
    return config


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "healthsync", "schedule", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return err


def _runs(config: Path) -> list[RunRecord]:
    store = StateStore.open(f"sqlite:///{config.with_suffix('.db')}")
    try:
        return sorted(store.recent_runs(100), key=lambda r: r.id)
    finally:
        store.close()


def _wait_for(config: Path, count: int, timeout: float = 60) -> list[RunRecord]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if config.with_suffix(".db").exists():
            done = [r for r in _runs(config) if r.status is not RunStatus.RUNNING]
            if len(done) >= count:
                return done
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} runs finished in {timeout} s")


def test_two_scheduled_syncs_complete_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    with Sandbox(accounts=15, seed=4, workdir=tmp_path / "box") as box:
        config = _scheduled(box, tmp_path, "2s")
        process = _start(config)
        try:
            done = _wait_for(config, 2)
        finally:
            _stop(process)
        assert [r.status for r in done[:2]] == [RunStatus.OK, RunStatus.OK]
        assert {r.counts["trigger"] for r in done} == {"schedule:often"}
        assert done[1].started_at - done[0].started_at >= timedelta(seconds=1.5)
        assert all(r.status is not RunStatus.RUNNING for r in _runs(config))  # nothing left half-done


def test_a_run_longer_than_its_interval_is_never_overlapped_and_stops_gracefully(tmp_path: Path) -> None:
    with Sandbox(accounts=15, seed=4, workdir=tmp_path / "box") as box:
        box.faults.configure({"latency_ms": 300})  # a run takes several seconds; it fires every second
        config = _scheduled(box, tmp_path, "1s")
        process = _start(config)
        try:
            _wait_for(config, 2)
            time.sleep(1.0)  # SIGTERM lands in the middle of a run
        finally:
            err = _stop(process)
        runs = _runs(config)
        assert all(r.status is not RunStatus.RUNNING for r in runs), err
        for earlier, later in itertools.pairwise(runs):
            assert earlier.ended_at is not None
            assert later.started_at >= earlier.ended_at  # one at a time
        stopped = [r for r in runs if any(e.get("kind") == "stopped" for e in r.errors)]
        assert [r.id for r in stopped] == [runs[-1].id], [(r.id, r.status, r.errors) for r in runs]
        assert stopped[0].status is RunStatus.PARTIAL  # the run under way finished its batch and said where


def test_fire_times_missed_while_down_are_coalesced_into_one_run(tmp_path: Path) -> None:
    with Sandbox(accounts=15, seed=4, workdir=tmp_path / "box") as box:
        config = _scheduled(box, tmp_path, "2s")
        process = _start(config)
        try:
            _wait_for(config, 1)
        finally:
            _stop(process)
        before = len(_runs(config))
        time.sleep(7)  # three fire times pass while the scheduler is down
        restarted = time.monotonic()
        process = _start(config)
        try:
            _wait_for(config, before + 1)
            time.sleep(max(0.0, 1.5 - (time.monotonic() - restarted)))
            caught_up = _runs(config)[before:]
        finally:
            _stop(process)
        # The missed fire times ran once on return, not three times.
        assert len(caught_up) == 1, [(r.id, r.started_at) for r in caught_up]
