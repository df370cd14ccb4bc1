"""Exact time-window counts and sums over (key, time) pairs with sorted int64 arrays."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
SHIFT = np.int64(1) << np.int64(33)  # key * SHIFT + time keeps each key's times contiguous and ordered
MAX_KEY = 1 << 29
MAX_TIME = (1 << 33) - (1 << 27)  # room above any event time for window ends (years past 2200)


def check_keys_times(keys: I64, times: I64, what: str) -> None:
    """Raise ValueError when ids or times fall outside what the packed keys can hold."""
    if len(keys) and (keys.min() < 0 or keys.max() >= MAX_KEY):
        raise ValueError(f"{what}: ids must be in [0, {MAX_KEY}), got {keys.min()}..{keys.max()}")
    if len(times) and (times.min() < 0 or times.max() >= MAX_TIME):
        raise ValueError(f"{what}: event times must be epoch seconds in [0, {MAX_TIME})")


def pack(keys: I64, times: I64) -> I64:
    """One sortable int64 per (key, time); times below 0 are clamped to -1 (before everything)."""
    return keys * SHIFT + np.maximum(times, -1)


def count_upto(sorted_packed: I64, keys: I64, times: I64) -> I64:
    """For each (key, time): how many packed entries of that key have a time <= `time`."""
    base = np.searchsorted(sorted_packed, keys * SHIFT - 1, side="right")
    return np.searchsorted(sorted_packed, pack(keys, times), side="right") - base


def count_between(sorted_packed: I64, keys: I64, lo: I64, hi: I64) -> I64:
    """For each key: how many entries have a time in the half-open interval (lo, hi]."""
    lo_idx = np.searchsorted(sorted_packed, pack(keys, lo), side="right")
    hi_idx = np.searchsorted(sorted_packed, pack(keys, hi), side="right")
    return np.maximum(hi_idx - lo_idx, 0)


def trailing(
    keys: I64, times: I64, values: I64, n_new: int, windows_s: tuple[int, ...]
) -> list[tuple[I64, I64]]:
    """Count and sum of `values` over each of the last `n_new` rows' trailing windows (t - w, t].

    Rows are in arrival order (history first); a row sees itself and the earlier-arriving rows of
    its key, never a row that arrived after it with the same time (stable sort)."""
    packed = pack(keys, times)
    order = np.argsort(packed, kind="stable")
    sorted_packed = packed[order]
    csum = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(values[order])])
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    new = slice(len(keys) - n_new, len(keys))
    p = pos[new]
    out = []
    for w in windows_s:
        start = np.searchsorted(sorted_packed, pack(keys[new], times[new] - w), side="right")
        out.append((p - start + 1, csum[p + 1] - csum[start]))
    return out
