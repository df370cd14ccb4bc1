"""The backtest's pacing without I/O: the events/s cap, and the replay read ahead in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from backtest.replay import Prefetch
from backtest.settings import load_settings
from backtest.throttle import pace, pause_s, poll_records, throttled
from common.settings import ConfigError


def batches(n: int, size: int = 100) -> list[tuple[bool, list[Any]]]:
    return [(i == 0, list(range(i * size, (i + 1) * size))) for i in range(n)]


class Clock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now, self.slept = 0.0, 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        assert s > 0
        self.now += s
        self.slept += s


def test_the_pause_keeps_the_run_at_or_under_the_cap() -> None:
    assert pause_s(1_000, 0.5, 0) == 0.0  # no cap
    assert pause_s(1_000, 0.5, 1_000) == pytest.approx(0.5)  # ahead by half a second
    assert pause_s(1_000, 2.0, 1_000) == 0.0  # behind: no pause


def test_progress_figures_give_the_rate_and_the_time_left() -> None:
    assert pace(500, 2_000, 2.0) == {"done": 500, "total": 2_000, "rate": 250.0, "eta_s": 6.0}
    assert pace(0, 2_000, 0.0)["eta_s"] is None  # nothing done yet: no rate, no guess
    assert pace(2_500, 2_000, 1.0)["eta_s"] == 0.0  # past an estimated total: none left, not negative


def test_a_capped_run_polls_a_tenth_of_a_second_of_quota() -> None:
    assert poll_records(5_000, 0) == 5_000
    assert poll_records(5_000, 2_000) == 200
    assert poll_records(5_000, 1_000_000) == 5_000
    assert poll_records(5_000, 3) == 1


def test_throttled_passes_every_batch_in_order_and_sleeps_to_the_cap() -> None:
    clock = Clock()
    got = list(throttled(iter(batches(5)), 100, lambda: False, clock=clock, sleep=clock.sleep))
    assert got == batches(5)
    assert clock.slept == pytest.approx(5.0)  # 500 events at 100/s with no time spent working


def test_throttled_without_a_cap_never_sleeps() -> None:
    clock = Clock()
    assert list(throttled(iter(batches(3)), 0, lambda: False, clock=clock, sleep=clock.sleep)) == batches(3)
    assert clock.slept == 0.0


def test_a_paused_run_sees_a_stop_between_slices() -> None:
    clock = Clock()
    stopped = [False]

    def sleep(s: float) -> None:
        clock.sleep(s)
        stopped[0] = True  # a cancel arrives during the first slice

    it = throttled(iter(batches(2, 1_000)), 10, lambda: stopped[0], clock=clock, sleep=sleep)
    next(it)
    next(it)  # the pause of 100 s ended after one slice
    assert clock.slept <= 0.2 + 1e-9


def test_prefetch_keeps_the_order_and_the_content() -> None:
    for depth in (0, 1, 3):
        with Prefetch(iter(batches(20)), depth) as ahead:
            assert list(ahead) == batches(20)


def test_prefetch_raises_the_replays_error_in_the_caller() -> None:
    def failing() -> Iterator[tuple[bool, list[Any]]]:
        yield False, [1]
        raise ValueError("broker gone")

    with Prefetch(failing(), 2) as ahead, pytest.raises(ValueError, match="broker gone"):
        list(ahead)


def test_leaving_early_stops_the_thread_and_closes_the_replay() -> None:
    closed = threading.Event()

    def endless() -> Iterator[tuple[bool, list[Any]]]:
        try:
            while True:
                yield False, [0]
        finally:
            closed.set()

    prefetch = Prefetch(endless(), 2)
    with prefetch as ahead:
        for _ in zip(range(5), ahead, strict=False):
            pass
    assert closed.is_set() and not prefetch._thread.is_alive()


def test_pacing_settings_are_checked() -> None:
    assert load_settings({}).max_eps == 0 and load_settings({}).prefetch == 2
    with pytest.raises(ConfigError):
        load_settings({"BACKTEST_MAX_EPS": "-1"})
    with pytest.raises(ConfigError):
        load_settings({"BACKTEST_PREFETCH": "-1"})
