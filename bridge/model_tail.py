"""The merchant tail: a serving bridge also reads the partitions other bridges consume, on a thread
of its own, so that its merchant windows and label placements span the whole topic as training's do.

Why: a merchant's transactions land in every partition (the topic is keyed by card), and training
counts them all. A bridge that consumes only some partitions would count only theirs. The merchant
windows end the label delay (7 days) before the transaction, so the tail may lag by anything under
that and the counts stay exact. It also keeps the other partitions' cards in the history, so a
partition this bridge gains in a rebalance needs no rebuild: the tail holds it up to where the
previous owner stopped (bridge/model_coverage.py checks that it does).

Records are identified by (partition, offset): a chunk (bridge/model_tail_reader.py) says which
offsets one read covered, and only offsets past what the history holds are taken, so stale reads
(from before a seek) and overlaps with the bridge's own batches never count twice (model.serving
also dedups by txn id). A reader that stops (the broker restarted) is replaced after a pause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bridge.model_coverage import Coverage
from bridge.model_tail_reader import Chunk, TailReader
from model.serving_rows import Row

logger = logging.getLogger(__name__)
CATCH_UP_S = 10.0  # a gained partition waits this long for the tail to reach its resume offset
RETRY_S = 30.0  # a reader that stopped (the broker gone) is started again this long after


def new_rows(chunk: Chunk, held: int) -> tuple[list[Row], int] | None:
    """The chunk's rows the history does not hold yet (offsets at or past `held`) and what it then
    holds; None when the chunk starts past `held` (taking it would leave a hole)."""
    if chunk.start > held:
        return None
    return [row for offset, row in chunk.rows if offset >= held], max(held, chunk.end)


class MerchantTail:
    """The tail on the bridge's side (its own thread, no batch in flight): which partitions the
    reader follows (every one this bridge does not own) and the rows it adds to the history."""

    def __init__(
        self, make_reader: Callable[[], TailReader], coverage: Coverage, partitions: Iterable[int]
    ) -> None:
        self._make_reader, self._coverage = make_reader, coverage
        self.reader = make_reader()
        self._retry_at = 0.0
        self._all = set(partitions)
        self._wanted: dict[int, tuple[int, int]] = {}
        self._generation = 0
        self.added = 0  # rows added to the history
        self.holes = 0  # reads that started past what the history held (read again from there)
        self._newest: dict[int, int] = {}  # per partition, the newest event time (s) added
        self.late = False  # behind by more than the label delay: merchant counts may be short

    def start(self, owned: Iterable[int]) -> None:
        self.follow(owned)
        self.reader.start()

    def follow(self, owned: Iterable[int]) -> None:
        """Follow every partition not owned; one newly followed starts where the history holds it."""
        want = self._all - set(owned)
        self._wanted = {p: g for p, g in self._wanted.items() if p in want}
        for p in sorted(want - set(self._wanted)):
            self._seek(p)
        self.reader.follow(self._wanted)

    @property
    def followed(self) -> set[int]:
        return set(self._wanted)

    def _seek(self, p: int) -> None:
        self._generation += 1
        self._wanted[p] = (self._generation, self._coverage.held_of(p))

    def apply(self, scorer: Any) -> int:
        """Add the rows read since the last call to the scorer's history (model.serving.OnlineScorer
        .remember); HistoryFull passes to the caller. Returns the rows added."""
        self._restart_if_stopped()
        added, reseek = 0, set()
        chunks = self.reader.drain()
        try:
            for chunk in chunks:
                p = chunk.partition
                if p not in self._wanted:
                    continue  # owned now: its own batches add it
                taken = new_rows(chunk, self._coverage.held_of(p))
                if taken is None:
                    self.holes += 1
                    logger.warning(
                        "bridge: merchant tail read partition %d from %d, past what the history "
                        "holds: read again from there",
                        p,
                        chunk.start,
                    )
                    reseek.add(p)
                    continue
                rows, held = taken
                if rows:
                    scorer.remember(rows)
                    added += len(rows)
                    self._newest[p] = max(self._newest.get(p, 0), *(r.ts_s for r in rows))
                self._coverage.hold(p, held)
        except BaseException:  # (HistoryFull) what was not added is read again, from what is held
            reseek |= {c.partition for c in chunks if c.partition in self._wanted}
            raise
        finally:
            for p in sorted(reseek):
                self._seek(p)
            if reseek:
                self.reader.follow(self._wanted)
        self.added += added
        self._check_lag(scorer)
        return added

    def _check_lag(self, scorer: Any) -> None:
        """Late: a followed partition with records still to read whose newest event added is more
        than the label delay older than the newest event the history holds, so a merchant window
        may end after what the tail has read (said on the panel, not silently scored around)."""
        newest, delay = scorer.newest, scorer.config.label_delay_days * 86_400
        behind = self.reader.behind_in
        self.late = any(
            behind.get(p, 0) > 0 and self._newest.get(p, newest) < newest - delay for p in self._wanted
        )  # a partition nothing was added from yet is not judged

    def _restart_if_stopped(self) -> None:
        """A reader that stopped (the broker restarted, a read out of range) is replaced after a
        pause, reading every followed partition again from what the history holds."""
        if self.reader.error is None or time.monotonic() < self._retry_at:
            return
        if self._retry_at:
            logger.warning("bridge: merchant tail restarting after: %s", self.reader.error)
            self.reader.stop()
            self.reader = self._make_reader()
            for p in sorted(self._wanted):
                self._seek(p)
            self.reader.follow(self._wanted)
            self.reader.start()
            self._retry_at = 0.0
        else:
            self._retry_at = time.monotonic() + RETRY_S

    def catch_up(self, scorer: Any, resumes: Mapping[int, int | None], timeout_s: float = CATCH_UP_S) -> bool:
        """Partitions about to be owned, resuming at these offsets: wait (bounded) until the tail
        holds each up to its offset. False when it did not (the gap check then rebuilds)."""
        targets = {p: o for p, o in resumes.items() if p in self._wanted and o is not None}
        deadline = time.monotonic() + timeout_s
        while True:
            self.apply(scorer)
            if all(self._coverage.held_of(p) >= o for p, o in targets.items()):
                return True
            if time.monotonic() > deadline or self.reader.error is not None:
                return False
            time.sleep(0.02)

    def status(self) -> str:
        if self.reader.error:
            return f"merchant tail stopped (restarted every {RETRY_S:.0f} s): {self.reader.error}"
        if not self._wanted:
            return ""  # this bridge owns every partition: nothing to follow
        line = (
            f"merchant tail: {len(self._wanted)} partitions of other bridges followed, "
            f"{self.reader.behind:,} records behind, {self.added:,} transactions added"
        )
        if self.late:
            line += " (MORE THAN THE LABEL DELAY BEHIND: merchant counts may be short)"
        return line
