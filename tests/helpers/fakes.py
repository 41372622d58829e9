"""A clock that only recorded sleeps move, so limiters and retries cost no real time."""

from __future__ import annotations

import random
from typing import Any

from healthsync.http import Http

__all__ = ["FakeTime", "make_http"]


class FakeTime:
    """A monotonic clock that only `sleep` moves; the sleeps are recorded (to the millisecond).

    Call it (or `clock`) for the time; give it to `Http(clock=...)` and to a sandbox's rate-limit
    windows so "a minute later" means the same thing to client and server.
    """

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def make_http(fake: FakeTime | None = None, *, seed: int = 0, **kw: Any) -> Http:
    """An `Http` on `fake` (a new `FakeTime` if None), with seeded jitter."""
    fake = fake or FakeTime()
    return Http(sleep=fake.sleep, clock=fake, rng=random.Random(seed), **kw)
