"""A growing multiset of packed (key, time) entries with integer values, kept as a few sorted runs.

Why runs: serving calls the feature state once per batch, and re-sorting 37 days of history for
every batch costs O(history) each time. New entries join as a small sorted run; runs of similar
size merge (the logarithmic method), so an insert costs amortised O(log n) and a window query
O(runs * log n) with at most about log2(n) runs. Expired entries are dropped when runs merge and,
at the latest, when the whole multiset has doubled since its last full compaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from model import windows as win

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class _Run:
    packed: I64  # sorted
    csum: I64  # prefix sums of the values in `packed` order, one longer than `packed`

    def values(self) -> I64:
        return np.diff(self.csum)


def _run(packed: I64, values: I64) -> _Run:
    order = np.argsort(packed, kind="stable")
    csum = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(values[order])])
    return _Run(packed[order], csum)


def _times(packed: I64) -> I64:
    return packed % win.SHIFT  # event times are >= 0, so the low bits are the time


class SortedRuns:
    """Entries (key, time, value); counts and sums of a key's values over time intervals."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self._compacted = 0  # size after the last full compaction

    def __len__(self) -> int:
        return sum(len(r.packed) for r in self._runs)

    @property
    def runs(self) -> int:
        """How many sorted runs hold the entries (at most about log2 of their number)."""
        return len(self._runs)

    def add(self, keys: I64, times: I64, values: I64, expired_upto: int) -> None:
        """Add entries; entries with time <= `expired_upto` may be dropped from now on."""
        if len(keys):
            self._runs.append(_run(win.pack(keys, times), values))
        while len(self._runs) > 1 and len(self._runs[-2].packed) <= 2 * len(self._runs[-1].packed):
            last = self._runs.pop()
            self._runs[-1] = self._merge([self._runs[-1], last], expired_upto)
        if len(self) > 2 * max(self._compacted, 1024):
            self._runs = [self._merge(self._runs, expired_upto)] if self._runs else []
            self._compacted = len(self)

    def compact(self, expired_upto: int) -> None:
        """Merge every run into one, dropping what has expired (the bound is checked on live entries)."""
        self._runs = [self._merge(self._runs, expired_upto)] if self._runs else []
        self._compacted = len(self)

    @staticmethod
    def _merge(runs: list[_Run], expired_upto: int) -> _Run:
        packed = np.concatenate([r.packed for r in runs])
        values = np.concatenate([r.values() for r in runs])
        live = _times(packed) > expired_upto
        return _run(packed[live], values[live])

    def count_sum(self, keys: I64, lo: I64, hi: I64) -> tuple[I64, I64]:
        """For each key: the count and the sum of values of its entries with time in (lo, hi]."""
        return self.count_sums(keys, [lo], hi)[0]

    def count_sums(self, keys: I64, los: Sequence[I64], hi: I64) -> list[tuple[I64, I64]]:
        """count_sum for several lower bounds sharing one upper bound, one list entry per bound.

        The queries are searched in (key, hi) order and the answers put back in batch order: sorted
        queries walk each run almost in order (about 3x faster than batch order over a million
        entries, measured), and the upper bound is searched once per run for every window."""
        n = len(keys)
        counts = [np.zeros(n, dtype=np.int64) for _ in los]
        totals = [np.zeros(n, dtype=np.int64) for _ in los]
        if not n or not self._runs:
            return list(zip(counts, totals, strict=True))
        hi_p = win.pack(keys, hi)
        order = np.argsort(hi_p, kind="stable")
        hi_p = hi_p[order]
        # for one key a lower bound moves with the upper one, so these come out (nearly) sorted too
        lo_ps = [win.pack(keys, lo)[order] for lo in los]
        for r in self._runs:
            b = np.searchsorted(r.packed, hi_p, side="right")
            for i, lo_p in enumerate(lo_ps):
                a = np.searchsorted(r.packed, lo_p, side="right")
                ab = np.maximum(b, a)
                counts[i] += ab - a
                totals[i] += r.csum[ab] - r.csum[a]
        out = []
        for c, t in zip(counts, totals, strict=True):
            count, total = np.empty_like(c), np.empty_like(t)
            count[order], total[order] = c, t  # back to batch order
            out.append((count, total))
        return out
