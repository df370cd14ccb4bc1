"""Which offsets may be committed: a record's offset only once every delivery of it is done."""

from __future__ import annotations

import threading
from collections import deque

from kafka.structs import TopicPartition


class OffsetTracker:
    """Per partition, the records in flight in offset order and how many deliveries each still owes.

    Thread-safe: senders call `done` from their threads; the consumer loop adds and takes commits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._order: dict[TopicPartition, deque[int]] = {}
        self._owed: dict[TopicPartition, dict[int, int]] = {}
        self._ready: dict[TopicPartition, int] = {}  # next offset to commit, not yet taken

    def add(self, tp: TopicPartition, offset: int, deliveries: int) -> None:
        """Track a record that owes `deliveries` (0: done at once)."""
        with self._lock:
            self._order.setdefault(tp, deque()).append(offset)
            self._owed.setdefault(tp, {})[offset] = deliveries
            self._advance(tp)

    def done(self, tp: TopicPartition, offset: int) -> None:
        """One delivery of the record is finished (delivered, dead-lettered or cancelled)."""
        with self._lock:
            owed = self._owed.get(tp)
            if owed is None or offset not in owed:
                return  # the partition was revoked meanwhile: its new owner redelivers
            owed[offset] -= 1
            self._advance(tp)

    def _advance(self, tp: TopicPartition) -> None:
        order, owed = self._order[tp], self._owed[tp]
        while order and owed[order[0]] <= 0:
            del owed[order[0]]
            self._ready[tp] = order.popleft() + 1

    def take(self) -> dict[TopicPartition, int]:
        """Offsets to commit now (each partition's first record still owed, or past the last done)."""
        with self._lock:
            ready, self._ready = self._ready, {}
            return ready

    def forget(self, partitions: list[TopicPartition]) -> None:
        """Drop revoked partitions (their records in flight are redelivered by the next owner)."""
        with self._lock:
            for tp in partitions:
                self._order.pop(tp, None)
                self._owed.pop(tp, None)
                self._ready.pop(tp, None)

    def in_flight(self) -> int:
        """Records read whose deliveries are not all done."""
        with self._lock:
            return sum(len(o) for o in self._order.values())
