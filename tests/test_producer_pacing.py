"""Unit tests of absolute-schedule pacing with a fake clock."""

from __future__ import annotations

import math

from producer.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_event_is_due_immediately_then_one_per_interval() -> None:
    clock = FakeClock()
    pacer = Pacer(10.0, clock)
    assert pacer.due() == 1
    pacer.mark(1)
    assert pacer.due() == 0
    assert abs(pacer.wait_s() - 0.1) < 1e-9
    clock.now += 0.1
    assert pacer.due() == 1


def test_schedule_is_absolute_so_a_late_loop_catches_up_in_one_batch() -> None:
    clock = FakeClock()
    pacer = Pacer(1_000.0, clock)
    pacer.mark(pacer.due())
    clock.now += 0.5  # the loop stalled for half a second
    assert pacer.due() == 500
    pacer.mark(500)
    assert pacer.due() == 0


def test_batches_are_bounded_and_rate_zero_means_unpaced() -> None:
    clock = FakeClock()
    pacer = Pacer(5_000.0, clock, max_batch=100)
    clock.now += 10
    assert pacer.due() == 100
    free = Pacer(0, clock, max_batch=64)
    assert free.due() == 64 and free.wait_s() == 0.0


def test_paced_sends_come_in_ticks_on_the_same_schedule() -> None:
    clock = FakeClock()
    pacer = Pacer(1_000.0, clock, tick_s=0.005)
    pacer.mark(pacer.due())
    assert abs(pacer.sleep_s() - 0.005) < 1e-9  # the next event is 1 ms away: sleep a whole tick
    clock.now += pacer.sleep_s()
    assert pacer.due() == 5  # then the tick's five events at once
    slow = Pacer(10.0, clock, tick_s=0.005)
    slow.mark(slow.due())
    assert abs(slow.sleep_s() - 0.1) < 1e-9  # slower than one event per tick: unchanged
    assert Pacer(0, clock, tick_s=0.005).sleep_s() == 0.0


def test_long_run_average_matches_rate_exactly() -> None:
    clock = FakeClock()
    pacer = Pacer(37.0, clock)
    sent = 0
    for _ in range(10_000):  # 10 s in 1 ms steps
        n = pacer.due()
        pacer.mark(n)
        sent += n
        clock.now += 0.001
    assert abs(sent - 370) <= 1


def test_bench_pace_figures_from_record_times() -> None:
    from bench.sec_producer import pace_figures

    # 5,000 ev/s for exactly 1 s (record times in ms), then the next one.
    on_time = [1_000_000 + i // 5 for i in range(5_000)] + [1_001_000]
    exact = pace_figures(on_time, 5_000.0)
    assert exact["ratio"] == 1.0 and exact["worst_1s"] == exact["best_1s"] == 1.0
    # 100 ev/s, but nothing in the second second: whole-run rate can hide what a second shows.
    stalled = (
        [t * 10 for t in range(100)] + [2_000 + t for t in range(100)] + [2_000 + t * 10 for t in range(100)]
    )
    figs = pace_figures(sorted(stalled), 100.0)
    assert figs["worst_1s"] == 0.0 and figs["best_1s"] == 1.0
    assert abs(figs["ratio"] - 1.0) < 1e-9  # 299 gaps in 2.99 s
    assert math.isnan(pace_figures([5], 10.0)["ratio"])  # one record: nothing to measure
