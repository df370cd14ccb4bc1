"""Per-process frames: what every tab gets alike, read from Redis at most once per frame and period."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from dash.development.base_component import Component


def plain(value: Any) -> Any:
    """Dash components turned into their JSON form once, so the response serialises without cleaning."""
    if isinstance(value, Component):
        return plain(value.to_plotly_json())
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


class _Slot:
    """Values memoised for one frame (or one slow period), each built under its own lock."""

    __slots__ = ("index", "locks", "values")

    def __init__(self, index: int) -> None:
        self.index = index
        self.values: dict[Hashable, Any] = {}
        self.locks: dict[Hashable, threading.Lock] = {}


class Frame:
    """One tick's view of the memo: the frame's seq and its two slots, fixed for the whole tick."""

    def __init__(self, memo: FrameMemo, seq: int, frame: _Slot, period: _Slot) -> None:
        self.seq = seq
        self._memo, self._frame, self._period = memo, frame, period

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value of `key` in this frame, built once on a miss (other threads wait for it)."""
        return self._get(self._frame, key, build)

    def slow(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value of `key` in this slow period (the slow-refresh data every tab checks)."""
        return self._get(self._period, key, build)

    def keep(self, name: Hashable, key: Hashable, build: Callable[[], Any]) -> Any:
        """The value built for `key`, kept across frames until `name` is asked for with another key.

        For values fully determined by a cheap read (the key): the expensive read is skipped while
        the key stays the same.
        """
        memo = self._memo
        with memo.kept_lock:
            held = memo.kept.get(name)
            if held is None or held[0] != key:
                held = memo.kept[name] = (key, build())
            return held[1]

    def _get(self, slot: _Slot, key: Hashable, build: Callable[[], Any]) -> Any:
        values = slot.values
        if key in values:
            return values[key]
        with self._memo.lock:
            lock = slot.locks.setdefault(key, threading.Lock())
        # the first tick needing a value builds it; the ones arriving meanwhile wait for that one
        # value only (a slow table read never holds up the live data of other ticks)
        with lock:
            if key not in values:
                values[key] = build()
            return values[key]


class FrameMemo:
    """Per-process cache of Redis reads, keyed by wall-clock frame (frame_ms) and period (period_ms).

    Not shared state: every worker keeps its own and it only ever holds what Redis said. The first
    tick of a frame reads `seq`; every tick in that frame uses that seq and the data built after it.
    Every writer bumps seq after writing, so data is as new as or newer than its seq, at most one
    frame old for live data and one period old for the slow views (which tabs check once a period).
    Tabs polling in one frame with the same cursors get the very same built values.
    """

    def __init__(self, frame_ms: int = 500, period_ms: int = 5000) -> None:
        self.frame_ms, self.period_ms = max(1, frame_ms), max(1, period_ms)
        self.lock = threading.Lock()  # guards the slots and the per-value locks
        self._frame = _Slot(-1)
        self._period = _Slot(-1)
        self._seq = 0
        self.kept: dict[Hashable, Any] = {}
        self.kept_lock = threading.Lock()

    def frame(self, now_ms: int, read_seq: Callable[[], int]) -> Frame:
        """The frame of `now_ms`; its first tick reads seq (the only Redis read of an unchanged tick)."""
        index, period = now_ms // self.frame_ms, now_ms // self.period_ms
        with self.lock:
            if index > self._frame.index:  # only forward: a thread with an older clock reuses newer data
                self._seq = read_seq()  # raises on a Redis error: nothing is cached
                self._frame = _Slot(index)
            if period > self._period.index:
                self._period = _Slot(period)
            return Frame(self, self._seq, self._frame, self._period)
