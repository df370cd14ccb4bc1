"""A serving bridge's warm-up: the feature history rebuilt from the topic's last 37 days, off the loop.

Why: the model's features reach 30 days back per card and 37 per merchant. A bridge that starts (or
restarts) with an empty history would score every card as new for a month. The warm-up reads what
Kafka keeps of that span on a thread of its own, in event-time order as training does; live events
that arrive meanwhile wait in a bounded queue and join the history when it is handed over. A
transaction both read and queued counts once (model.serving dedups on its id).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model.topics import History

logger = logging.getLogger(__name__)
CHUNK = 20_000


class Warmup:
    """Builds a scorer from history on its own thread; `take()` it once `done`."""

    def __init__(self, make_scorer: Callable[[], Any], read: Callable[[], History], max_pending: int) -> None:
        self._make, self._read, self._max_pending = make_scorer, read, max_pending
        self._pending: list[Any] = []  # model.serving.Row of live batches, in arrival order
        self._scorer: Any = None
        self.error: str | None = None
        self.read_events = 0
        self.reached: dict[int, int] = {}  # per partition: every record before it was read
        self.overflowed = False
        self._thread = threading.Thread(target=self._run, name="bridge-model-warmup", daemon=True)
        self._started = time.monotonic()
        self.seconds = 0.0

    def start(self) -> None:
        self._thread.start()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def hold(self, rows: Sequence[Any]) -> None:
        """Keep a live batch's rows for the hand-over (beyond the bound: dropped, and said so)."""
        if len(self._pending) + len(rows) > self._max_pending:
            self.overflowed = True
            return
        self._pending.extend(rows)

    def take(self) -> tuple[Any, list[Any]]:
        """The warmed scorer (None when the warm-up failed: see `error`) and the rows held meanwhile."""
        pending, self._pending = self._pending, []
        return self._scorer, pending

    def _run(self) -> None:
        from model.serving import HistoryFull
        from model.serving_rows import Row

        try:
            got = self._read()
            txns = sorted(got.txns, key=lambda t: t.ts_ms)  # stable: as training's join orders them
            self.read_events = len(txns)
            scorer = self._make()
            for lo in range(0, len(txns), CHUNK):
                chunk = txns[lo : lo + CHUNK]
                scorer.features([Row.of_txn(t) for t in chunk])
            self._scorer, self.reached = scorer, dict(got.reached)
        except HistoryFull as exc:
            self.error = f"the last 37 days do not fit the bound: {exc}"
        except Exception as exc:  # Kafka gone, a topic missing: the bridge scores from live events only
            self.error = f"{type(exc).__name__}: {exc}"
        self.seconds = time.monotonic() - self._started
