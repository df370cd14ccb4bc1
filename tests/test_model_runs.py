"""Sorted runs: window counts and sums equal a direct count; runs stay few; expired entries go."""

from __future__ import annotations

import numpy as np

from model.runs import SortedRuns


def test_counts_and_sums_equal_a_direct_count_however_the_entries_arrived() -> None:
    rng = np.random.default_rng(4)
    runs, keys, times, values = SortedRuns(), [], [], []
    for _ in range(200):
        m = int(rng.integers(0, 40))
        k, t, v = rng.integers(0, 30, m), rng.integers(0, 10_000, m), rng.integers(-5, 100, m)
        runs.add(k, t, v, expired_upto=-1)
        keys += k.tolist()
        times += t.tolist()
        values += v.tolist()
    assert runs.runs <= int(np.log2(len(keys))) + 1
    all_k, all_t, all_v = np.array(keys), np.array(times), np.array(values)
    qk, lo = rng.integers(0, 31, 500), rng.integers(-10, 10_000, 500)
    hi = lo + rng.integers(-5, 3_000, 500)
    count, total = runs.count_sum(qk, lo, hi)
    for i in range(500):
        sel = (all_k == qk[i]) & (all_t > lo[i]) & (all_t <= hi[i])
        assert (count[i], total[i]) == (sel.sum(), all_v[sel].sum()), i


def test_expired_entries_are_dropped_and_memory_stays_near_what_is_live() -> None:
    runs = SortedRuns()
    for day in range(1_000):
        t = np.full(100, day, dtype=np.int64)
        runs.add(np.arange(100, dtype=np.int64), t, np.ones(100, dtype=np.int64), expired_upto=day - 30)
    assert len(runs) <= 4 * 31 * 100  # live: 31 days of 100 entries; lazily dropped within a factor
    count, _ = runs.count_sum(np.array([7]), np.array([969]), np.array([999]))
    assert count.tolist() == [30]
