"""The backtest's share of the machine: a cap on replayed events per second (BACKTEST_MAX_EPS), and
the rate and time left that its progress reports give."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

SLICE_S = 0.2  # a paused run still sees a cancel (or the worker's SIGTERM) within this


def pause_s(events: int, elapsed_s: float, max_eps: float) -> float:
    """Seconds to wait so that `events` since the start stay at or under `max_eps` (0: no cap)."""
    if max_eps <= 0:
        return 0.0
    return max(events / max_eps - elapsed_s, 0.0)


def poll_records(batch_max: int, max_eps: float) -> int:
    """Records per poll: with a cap, about a tenth of a second's quota, so the work comes in small
    slices between pauses instead of one burst of a whole batch (a burst is what live latency feels)."""
    if max_eps <= 0:
        return batch_max
    return max(1, min(batch_max, int(max_eps // 10)))


def throttled(
    batches: Iterator[tuple[bool, list[Any]]],
    max_eps: float,
    stop: Callable[[], bool],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[bool, list[Any]]]:
    """Pass the batches through, pausing after each one while the run is ahead of `max_eps`."""
    if max_eps <= 0:
        yield from batches
        return
    started, events = clock(), 0
    for batch in batches:
        yield batch
        events += len(batch[1])
        while not stop():
            wait = pause_s(events, clock() - started, max_eps)
            if wait <= 0:
                break
            sleep(min(wait, SLICE_S))


def pace(done: int, total: int, elapsed_s: float) -> dict[str, Any]:
    """The progress figures every phase reports: done of total, records a second, seconds left."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    left = max(total - done, 0)
    return {
        "done": done,
        "total": total,
        "rate": round(rate, 1),
        "eta_s": round(left / rate, 1) if rate > 0 else None,
    }
