"""Benchmark sizes: the full run (`make bench`) and the smoke run (`make bench-smoke`)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sizes:
    """How much work each section does; every figure is repeated `reps` times."""

    reps: int = 3
    partitions: int = 4  # even split for 1 and 2 bridge instances
    # The sizes: 200k bridge events, 1M memory events over 100k cards, 60 s dashboard windows.
    bridge_events: int = 200_000
    naive_events: int = 10_000  # the naive baseline is slow; its rate is measured on a prefix
    window_frac: float = 0.2  # throughput window starts after this fraction (group join, start-up)
    latency_rates: tuple[int, ...] = (100, 1_000, 5_000)
    latency_duration_s: float = 10.0
    banner_probes: int = 10
    producer_events: int = 60_000  # ~5 s per loop: shorter runs are at the mercy of load bursts
    producer_rates: tuple[int, ...] = (10, 100, 1_000, 5_000)  # --rate accuracy, issue 3: ±5%
    producer_rate_duration_s: float = 10.0
    producer_rate_min_events: int = 200  # slow rates run longer (10 ev/s: 20 s)
    analysts: tuple[int, ...] = (50, 200, 500)  # increasing: each level keeps the tabs already open
    dash_duration_s: float = 60.0  # the issue: 60 s per analyst level
    dash_idle_s: float = 20.0  # polls of a quiet pipeline (stream stopped)
    dash_stream_rate: int = 1_000
    memory_events: int = 1_000_000
    memory_cards: int = 100_000
    quality_events: int = 200_000  # the bridge section's dataset, reused
    timeout_s: float = 900.0
    # BRIDGE_BATCH_MAX for every bridge and consumer the bench starts (None: the bridge default).
    # The smoke run's few thousand records would otherwise come in one poll: no rate to measure.
    batch_max: int | None = None


FULL = Sizes()

SMOKE = Sizes(
    reps=1,
    partitions=2,
    bridge_events=3_000,
    naive_events=1_000,
    latency_rates=(200,),
    latency_duration_s=1.5,
    banner_probes=1,
    producer_events=3_000,
    producer_rates=(100,),
    producer_rate_duration_s=1.5,
    producer_rate_min_events=100,
    analysts=(2, 3),
    dash_duration_s=2.0,
    dash_idle_s=2.0,
    dash_stream_rate=100,
    memory_events=3_000,
    memory_cards=500,
    quality_events=3_000,
    timeout_s=60.0,
    batch_max=300,
)


def sizes_for(smoke: bool, reps: int | None = None) -> Sizes:
    """The sizes of one run; `reps` overrides the repetition count."""
    base = SMOKE if smoke else FULL
    return replace(base, reps=reps) if reps else base
