"""The merchant tail: a serving bridge also reads the partitions other bridges consume, on a thread
of its own, so that its merchant windows and label placements span the whole topic as training's do.

Why: a merchant's transactions land in every partition (the topic is keyed by card), and training
counts them all. A bridge that consumes only some partitions would count only theirs. The merchant
windows end the label delay (7 days) before the transaction, so the tail may lag by anything under
that and the counts stay exact. It also keeps the other partitions' cards in the history, so a
partition this bridge gains in a rebalance needs no rebuild: the tail holds it up to where the
previous owner stopped (bridge/model_coverage.py checks that it does).

Records are identified by (partition, offset): a chunk says which offsets one read covered, and
only offsets past what the history holds are taken, so stale reads (from before a seek) and
overlaps with the bridge's own batches never count twice (model.serving also dedups by txn id).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bridge.model_coverage import Coverage
from common.schema import InvalidEvent, decode_event
from model.serving_rows import Row

logger = logging.getLogger(__name__)
CATCH_UP_S = 10.0  # a gained partition waits this long for the tail to reach its resume offset


@dataclass(frozen=True)
class Chunk:
    """One read of a partition: every record in [start, end) that decoded, as (offset, row)."""

    partition: int
    start: int
    end: int
    rows: list[tuple[int, Row]]


def new_rows(chunk: Chunk, held: int) -> tuple[list[Row], int] | None:
    """The chunk's rows the history does not hold yet (offsets at or past `held`) and what it then
    holds; None when the chunk starts past `held` (taking it would leave a hole)."""
    if chunk.start > held:
        return None
    return [row for offset, row in chunk.rows if offset >= held], max(held, chunk.end)


class TailReader:
    """A group-less consumer on its own thread, reading the partitions it is told to `follow`."""

    def __init__(self, consumer: KafkaConsumer, topic: str, rates: Mapping[str, float], max_chunks: int = 64):
        self._consumer, self._topic, self._rates = consumer, topic, rates
        self._chunks: queue.Queue[Chunk] = queue.Queue(max_chunks)  # full: the reader waits
        self._lock = threading.Lock()
        self._wanted: dict[int, tuple[int, int]] = {}  # partition -> (generation, start offset)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bridge-merchant-tail", daemon=True)
        self.behind = 0  # records between the reader's positions and the partitions' ends
        self.behind_in: dict[int, int] = {}  # the same per partition
        self.bad = 0  # records that did not decode (their owner dead-letters them)
        self.error: str | None = None

    @classmethod
    def connect(cls, bootstrap: str, topic: str, rates: Mapping[str, float]) -> TailReader:
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            bootstrap_timeout_ms=5_000,
            request_timeout_ms=15_000,
        )
        return cls(consumer, topic, rates)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def follow(self, wanted: Mapping[int, tuple[int, int]]) -> None:
        """Read these partitions: a partition whose generation changed starts again at its offset."""
        with self._lock:
            self._wanted = dict(wanted)

    def drain(self) -> list[Chunk]:
        out = []
        while True:
            try:
                out.append(self._chunks.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        seeked: dict[int, int] = {}  # partition -> generation its position comes from
        try:
            while not self._stop.is_set():
                with self._lock:
                    wanted = dict(self._wanted)
                if set(wanted) != set(seeked):
                    self._consumer.assign([TopicPartition(self._topic, p) for p in sorted(wanted)])
                    seeked = {p: g for p, g in seeked.items() if p in wanted}
                for p, (gen, start) in wanted.items():
                    if seeked.get(p) != gen:
                        self._consumer.seek(TopicPartition(self._topic, p), start)
                        seeked[p] = gen
                if not wanted:
                    self.behind, self.behind_in = 0, {}
                    self._stop.wait(0.2)
                    continue
                self._read(sorted(wanted))
        except Exception as exc:  # gains then find a hole and rebuild; the panel says why
            self.error = f"{type(exc).__name__}: {exc}"
            logger.exception("bridge: merchant tail stopped")
        finally:
            self._consumer.close(autocommit=False)

    def _read(self, partitions: list[int]) -> None:
        tps = [TopicPartition(self._topic, p) for p in partitions]
        before = {tp: self._consumer.position(tp) for tp in tps}
        polled = self._consumer.poll(timeout_ms=200, max_records=5_000)
        behind: dict[int, int] = {}
        for tp in tps:
            after = self._consumer.position(tp)
            records = polled.get(tp, [])
            if records or after != before[tp]:
                self._put(Chunk(tp.partition, before[tp], after, self._decode(records)))
            end = self._consumer.highwater(tp)
            behind[tp.partition] = max(0, end - after) if end is not None else 0
        self.behind_in, self.behind = behind, sum(behind.values())

    def _decode(self, records: Iterable[Any]) -> list[tuple[int, Row]]:
        rows = []
        for rec in records:
            try:
                rows.append((rec.offset, Row.of(decode_event(rec.value), self._rates)))
            except InvalidEvent:
                self.bad += 1
        return rows

    def _put(self, chunk: Chunk) -> None:
        while not self._stop.is_set():
            try:
                self._chunks.put(chunk, timeout=0.2)
                return
            except queue.Full:
                continue


class MerchantTail:
    """The tail on the bridge's side (its own thread, no batch in flight): which partitions the
    reader follows (every one this bridge does not own) and the rows it adds to the history."""

    def __init__(self, reader: TailReader, coverage: Coverage, partitions: Iterable[int]) -> None:
        self.reader, self._coverage = reader, coverage
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
        added, reseek = 0, False
        for chunk in self.reader.drain():
            p = chunk.partition
            if p not in self._wanted:
                continue  # owned now: its own batches add it
            taken = new_rows(chunk, self._coverage.held_of(p))
            if taken is None:
                self.holes += 1
                logger.warning(
                    "bridge: merchant tail read partition %d from %d, past what the history holds: "
                    "read again from there",
                    p,
                    chunk.start,
                )
                self._seek(p)
                reseek = True
                continue
            rows, held = taken
            if rows:
                scorer.remember(rows)
                added += len(rows)
                self._newest[p] = max(self._newest.get(p, 0), *(r.ts_s for r in rows))
            self._coverage.hold(p, held)
        if reseek:
            self.reader.follow(self._wanted)
        self.added += added
        self._check_lag(scorer)
        return added

    def _check_lag(self, scorer: Any) -> None:
        """Late: a followed partition with records still to read whose newest event added is more
        than the label delay older than the newest event the history holds, so a merchant window
        may end after what the tail has read (said on the panel, not silently scored around)."""
        newest = getattr(scorer, "newest", None)
        if newest is None:
            return
        delay = scorer.config.label_delay_days * 86_400
        behind = self.reader.behind_in
        self.late = any(
            behind.get(p, 0) > 0 and self._newest.get(p, newest) < newest - delay for p in self._wanted
        )  # a partition nothing was added from yet is not judged

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
            return f"merchant tail stopped: {self.reader.error}"
        if not self._wanted:
            return ""  # this bridge owns every partition: nothing to follow
        line = (
            f"merchant tail: {len(self._wanted)} partitions of other bridges followed, "
            f"{self.reader.behind:,} records behind, {self.added:,} transactions added"
        )
        if self.late:
            line += " (MORE THAN THE LABEL DELAY BEHIND: merchant counts may be short)"
        return line
