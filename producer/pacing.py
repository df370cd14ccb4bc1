"""Absolute-schedule pacing: the i-th event is due at t0 + i/rate, so timing errors never accumulate."""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_BATCH = 1_000  # events sent between two checks of the clock and the stop flag


class Pacer:
    """Tells the send loop how many events are due now (rate <= 0 means as fast as possible)."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        max_batch: int = MAX_BATCH,
        tick_s: float = 0.0,
    ):
        self.rate = rate
        self.tick_s = tick_s
        self.clock = clock
        self.max_batch = max_batch
        self.t0 = clock()
        self.done = 0  # events released so far

    def due(self) -> int:
        """How many events may be sent now (0 = wait first)."""
        if self.rate <= 0:
            return self.max_batch
        owed = int((self.clock() - self.t0) * self.rate + 1e-9) + 1 - self.done  # 1e-9: float slack
        return max(0, min(owed, self.max_batch))

    def wait_s(self) -> float:
        """Seconds until the next event is due."""
        if self.rate <= 0:
            return 0.0
        return max(0.0, self.t0 + self.done / self.rate - self.clock())

    def sleep_s(self) -> float:
        """How long to sleep when nothing is due: until the next event, but at least one tick.

        Events then go out in small bursts (at 1,000 ev/s and a 5 ms tick, 5 at a time) on the same
        absolute schedule, so the rate is unchanged.
        """
        return max(self.wait_s(), self.tick_s) if self.rate > 0 else 0.0

    def mark(self, n: int) -> None:
        """Record that n more events were sent."""
        self.done += n
