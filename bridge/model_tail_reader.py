"""The merchant tail's reader: a group-less consumer on a thread of its own that reads the
partitions it is told to follow and hands over what it read as chunks (bridge/model_tail.py).

A chunk is one read of one partition: every offset in [start, end), so whoever takes it knows
which offsets it covers even where records did not decode (their owner dead-letters them).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from common.schema import InvalidEvent, decode_event
from model.serving_rows import Row

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """One read of a partition: every record in [start, end) that decoded, as (offset, row)."""

    partition: int
    start: int
    end: int
    rows: list[tuple[int, Row]]


class TailReader:
    """A group-less consumer on its own thread, reading the partitions it is told to `follow`."""

    def __init__(
        self,
        connect: Callable[[], KafkaConsumer],
        topic: str,
        rates: Mapping[str, float],
        max_chunks: int = 64,
    ) -> None:
        """`connect()` makes the consumer, on the reader's thread (a broker that is down then
        stops the reader, with why, not the bridge's loop)."""
        self._connect, self._topic, self._rates = connect, topic, rates
        self._consumer: Any = None
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
        def consumer() -> KafkaConsumer:
            return KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="none",  # a read out of range stops the tail: never skip records
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
            self._consumer = self._connect()
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
            if self._consumer is not None:
                self._consumer.close(autocommit=False)

    def _read(self, partitions: list[int]) -> None:
        tps = [TopicPartition(self._topic, p) for p in partitions]
        before = {tp: self._consumer.position(tp) for tp in tps}
        polled = self._consumer.poll(timeout_ms=200, max_records=5_000)
        behind: dict[int, int] = {}
        for tp in tps:
            after = self._consumer.position(tp)
            if after is None or before[tp] is None:  # not a range this read can vouch for
                raise RuntimeError(f"partition {tp.partition}: no position after a read")
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
