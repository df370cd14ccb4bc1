"""bridge.resp's memo of packed str arguments: what repeats is reused, what never repeats is not hoarded."""

from __future__ import annotations

import gc
import tracemalloc

from bridge.resp import pack

# What the memo may keep however many distinct strings pass through: a bridge sends a new alert
# key, alert id and index keys for every alert and a new per-second key every second, forever.
MEMO_BUDGET_BYTES = 1_000_000


def test_never_repeating_arguments_do_not_accumulate() -> None:
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(60_000):
            aid = f"a-{i:012x}"
            pack([("HSET", f"soak:alert:{aid}", "d", b"{}"), ("ZADD", f"soak:alerts:by-card:c{i}", i, aid)])
        gc.collect()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept - before < MEMO_BUDGET_BYTES, f"packing kept {(kept - before) / 1e6:.1f} MB"


def test_repeated_arguments_pack_the_same_as_fresh_ones() -> None:
    cmd = ("HINCRBY", "fraud:totals", "txns", 3)
    expected = b"*4\r\n$7\r\nHINCRBY\r\n$12\r\nfraud:totals\r\n$4\r\ntxns\r\n$1\r\n3\r\n"
    assert pack([cmd]) == expected
    assert pack([cmd, cmd]) == expected * 2  # the second time from the memo
    assert pack([("SET", "fraud:é", 1.5)]) == b"*3\r\n$3\r\nSET\r\n$8\r\nfraud:\xc3\xa9\r\n$3\r\n1.5\r\n"
