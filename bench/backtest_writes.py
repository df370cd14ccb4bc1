"""The backtest's one shortcut on the native path, measured: detect with and without building writes.

A backtest stores nothing, so backtest/native_pair.py asks bridge.native.NativePath for no rows and
no encoded card states (`writes=False`). Here the same generated records go through two fresh
NativePaths per repetition, alternating which goes first, in one process: CPU seconds of each
detect pass, so the ratio is the shortcut's gain alone (no Kafka, no Redis in either).
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from bench.stats import ratios, summarize
from bridge.detection import Detector
from bridge.native import NativePath
from common.rules import RulesConfig
from producer import generate

BATCH = 5_000  # the backtest worker's poll size
MAX_BYTES = 2048


def _records(count: int, seed: int) -> list[ConsumerRecord]:
    """Generated events as kafka-python hands them over, keyed onto 3 partitions by card."""
    offsets: Counter[int] = Counter()
    out = []
    for ev in generate(seed=seed, count=count):
        p = zlib.crc32(ev.key) % 3
        size = len(ev.value)
        out.append(
            ConsumerRecord(
                "transactions",
                p,
                -1,
                offsets[p],
                ev.ts_ms,
                0,
                ev.key,
                ev.value,
                list(ev.headers),
                None,
                len(ev.key),
                size,
                -1,
            )
        )
        offsets[p] += 1
    return out


def _pass(records: list[Any], rules: RulesConfig, writes: bool) -> float:
    """CPU seconds for one fresh path over every record, batch by batch, as the backtest runs it."""
    path, detector = NativePath(rules, MAX_BYTES, len(records)), Detector(rules)
    t0 = time.process_time()
    for at in range(0, len(records), BATCH):
        batch = records[at : at + BATCH]
        missing = path.scan(batch)
        path.detect(batch, detector, 1, dict.fromkeys(missing), writes=writes)
        path.commit()
    return time.process_time() - t0


def measure(rules: RulesConfig, events: int, reps: int, seed: int = 11) -> dict[str, Any]:
    """CPU µs per event with and without writes, and without ÷ with, side by side per repetition."""
    records = _records(events, seed)
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for rep in range(reps):
        for writes in (True, False) if rep % 2 == 0 else (False, True):
            cpu[writes].append(_pass(records, rules, writes))
    return {
        "events": events,
        "cpu_us_per_event_with_writes": summarize([c / events * 1e6 for c in cpu[True]]),
        "cpu_us_per_event_without": summarize([c / events * 1e6 for c in cpu[False]]),
        "cpu_ratio_without_vs_with": summarize(ratios(cpu[False], cpu[True])),
    }
