"""The champion's feature history in a bridge, kept whole: warmed up from the topic, taken over,
followed across rebalances, and dropped and rebuilt when it cannot be.

Why it must be whole: the features reach 30 days back per card and 37 per merchant, and a window
with a hole in it scores a card as newer than it is. The warm-up (bridge/model_warmup.py) reads
what Kafka keeps of that span; the merchant tail (bridge/model_tail.py) reads the partitions other
bridges consume; the coverage (bridge/model_coverage.py) finds a partition gained past what the
history holds. Everything here runs on the bridge's own thread with no batch in flight
(housekeeping, rebalances), except `warm`, which the batch thread calls while warming up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bridge.label_feed import LabelFeed
from bridge.model_coverage import Coverage
from bridge.model_tail import MerchantTail
from bridge.model_tail_reader import TailReader
from bridge.model_warmup import Warmup

if TYPE_CHECKING:
    from model.topics import History

logger = logging.getLogger(__name__)


class ServingHistory:
    """The scorer (model.serving.OnlineScorer) once warmed, and how it is kept whole."""

    def __init__(
        self,
        make_scorer: Callable[[], Any],
        max_events: int,
        *,
        read: Callable[[int], History] | None = None,
        label_feed: Callable[[], LabelFeed] | None = None,
        tail: Callable[[], TailReader] | None = None,
        max_ids: int | None = None,
    ) -> None:
        """`read(reach_ms)` reads the topic's last `reach_ms` of transactions for the warm-up; without
        it the history starts from the live events. Past `max_ids` ids numbered (default
        `max_events`), the history is rebuilt: see `tick`. `tail()` makes the reader of the
        partitions other bridges consume, started once the warmed history is taken over."""
        self._make, self._read, self._label_feed, self._tail_reader = make_scorer, read, label_feed, tail
        self._max = max_events
        # The bound keeps 37 days within max_events entries (about three a transaction), so a
        # rebuilt history numbers at most about 2/3 of max_events ids: it never renews again at once.
        self._max_ids = max_events if max_ids is None else max_ids
        self.renewals = 0  # histories rebuilt to bound the id maps
        self.rewarms = 0  # histories rebuilt for a partition gained past what they held
        self.coverage = Coverage()  # which offsets of each partition the history holds
        self.scorer: Any = None
        self.warmup: Warmup | None = None
        self.labels: LabelFeed | None = None  # started with the history: no champion, no labels read
        self.tail: MerchantTail | None = None
        self._owned: set[int] = set()  # the partitions this bridge consumes
        self._said_done = False
        self.warm_error: str | None = None  # why the warm-up failed (shown until the history is dropped)
        self.problem: str | None = None  # why the last batch was not scored

    def fail(self, why: str) -> None:
        if why != self.problem:
            logger.error("bridge: model not scoring this batch: %s; rules read model_score as 0", why)
        self.problem = why

    def tick(self, active: bool) -> None:
        """Start the warm-up once a champion is loaded (`active`), say when it is done and take the
        warmed history over; add what the tail read. A history whose id maps passed their bound is
        dropped here and warmed up again (ids never leave a history)."""
        if not active and (self.scorer is not None or self.warmup is not None):
            self.drop("no champion")
            return
        held = self.scorer.ids_held if self.scorer is not None else 0
        if held > self._max_ids:  # ids outlive the windows: rebuilt from the topic, as at start-up
            self.renewals += 1
            logger.warning("bridge: model id maps past their bound: the history is rebuilt")
            self.drop(f"{held:,} ids numbered, over {self._max_ids:,}: rebuilt from the topic")
        warm = self.warmup
        if warm is not None and warm.done and not self._said_done:
            self._said_done = True
            if warm.error is None:
                logger.info("bridge: model warm-up done in %.1f s: %d events", warm.seconds, warm.read_events)
                self.coverage.read(warm.reached)
                self._check_gains()  # before the hand-over: a gained partition past its reach drops it
                warm = self.warmup  # None when dropped: warmed up again right below
            else:  # a live-only history has holes anyway: gains are not checked against it
                self.warm_error = warm.error
                logger.error("bridge: model warm-up failed, history from live events only: %s", warm.error)
                self.coverage.clear()
        if warm is not None and self._said_done and self.scorer is None:
            self._guard(lambda: self._take_over(warm))
        self._tick_tail()
        if warm is not None or self.scorer is not None or self._read is None or not active:
            return
        self._start_labels()
        read = self._read
        reach_ms = self._make().reach_s * 1000
        warmup = Warmup(self._make, lambda: read(reach_ms), self._max // 3)
        warmup.start()
        self.warmup = warmup  # only now: the batch thread sees a started warm-up or none
        logger.info("bridge: model warm-up: reading the last %d days of the topic", reach_ms // 86_400_000)

    def _tick_tail(self) -> None:
        """Once a history warmed from the topic is taken over, follow the other bridges' partitions;
        add what the tail read since the last housekeeping."""
        warm, scorer, reader = self.warmup, self.scorer, self._tail_reader
        warmed = warm is not None and warm.error is None and self._said_done
        if self.tail is None and scorer is not None and warm is not None and warmed and reader is not None:
            self.tail = MerchantTail(reader, self.coverage, warm.reached)
            self.tail.start(self._owned)
        tail = self.tail
        if tail is not None and scorer is not None:
            self._guard(lambda: tail.apply(scorer))

    def _guard(self, step: Callable[[], Any]) -> None:
        """Run a history step off the batch path: HistoryFull or an error is said as a batch's is."""
        from model.serving import HistoryFull

        try:
            step()
        except HistoryFull as exc:
            self.fail(str(exc))
        except Exception as exc:
            logger.exception("bridge: the model's history was not updated")
            self.fail(f"{type(exc).__name__}: {exc}")

    def partitions_left(self, positions: Mapping[int, int | None]) -> None:
        """Partitions revoked at these next offsets; the merchant tail follows them from there."""
        self._owned -= set(positions)
        if self._in_play:
            self.coverage.left(positions)
        if self.tail is not None:
            self.tail.follow(self._owned)

    def partitions_gained(self, positions: Mapping[int, int | None]) -> None:
        """Partitions assigned, resuming at these (stored) offsets. One the merchant tail follows is
        first read by it up to there (a bounded wait). A gain past what the history holds of it
        drops the history, to be warmed up again with it; while a warm-up is still reading, the
        check waits for its reach."""
        tail, scorer = self.tail, self.scorer
        if tail is not None and scorer is not None:
            self._guard(lambda: tail.catch_up(scorer, positions))
        self._owned |= set(positions)
        if tail is not None:
            tail.follow(self._owned)
        if self._in_play:
            self.coverage.gained(positions)
            self._check_gains()

    @property
    def _in_play(self) -> bool:
        """A history warmed from the topic is held or being read (live-only histories have holes anyway)."""
        if self._read is None or self.warm_error is not None:
            return False
        return self.scorer is not None or self.warmup is not None

    def _check_gains(self) -> None:
        gaps = self.coverage.gaps()
        if gaps:
            self.rewarms += 1
            logger.warning("bridge: model history lacks a gained partition's events: %s", gaps[0])
            self.drop(f"{'; '.join(map(str, gaps))}: rebuilt from the topic")

    def drop(self, why: str) -> None:
        """Drop the history and stop its threads: no champion any more, id maps past their bound, or a
        hole. Events decided meanwhile never reach a history, so the next champion (or the same one)
        warms up again rather than scoring on a history with a hole in it."""
        self.close()
        self.labels, self.warmup, self.scorer, self.tail = None, None, None, None
        self.coverage.clear()
        self._said_done, self.problem, self.warm_error = False, None, None
        logger.info("bridge: the model's feature history is dropped: %s", why)

    def _start_labels(self) -> None:
        if self._label_feed is not None:
            self.labels = self._label_feed()
            self.labels.start()

    def warm(self, rows: list[Any]) -> bool:
        """The batch thread, no scorer yet: start cold without a warm-up (True: score `rows`), or
        hold the rows for the warmed history, which tick() takes over."""
        if self._read is None:
            self._start_labels()
            self.scorer = self._make()
            return True
        if self.warmup is not None:
            self.warmup.hold(rows)
        return False  # (with no warm-up yet, tick() starts it at the next housekeeping)

    def _take_over(self, warm: Warmup) -> None:
        """The warmed history becomes the scorer; the live rows held meanwhile join it."""
        scorer, pending = warm.take()
        if scorer is None:  # the warm-up failed: tick() said why
            scorer = self._make()
        self.scorer = scorer
        if warm.overflowed:
            logger.error("bridge: model warm-up: live events beyond the bound were not added to the history")
        for lo in range(0, len(pending), 20_000):
            scorer.features(pending[lo : lo + 20_000])  # HistoryFull: said by _guard

    def close(self) -> None:
        """Stop the labels and tail threads."""
        if self.labels is not None:
            self.labels.stop()
        if self.tail is not None:
            self.tail.reader.stop()

    def status_parts(self) -> list[str]:
        """What the panel's model line says of the history's upkeep."""
        parts = []
        if self.renewals:
            parts.append(
                f"history rebuilt {self.renewals:,}\u00d7 to bound its id maps ({self._max_ids:,} ids)"
            )
        if self.rewarms:
            parts.append(f"history rebuilt {self.rewarms:,}\u00d7 for partitions gained past what it held")
        tail = self.tail.status() if self.tail is not None else ""
        if tail:
            parts.append(tail)
        if self.warm_error:
            parts.append(f"history from live events only (warm-up failed: {self.warm_error})")
        if self.labels is not None and self.labels.error:
            parts.append(f"labels feed stopped: {self.labels.error}")
        return parts
