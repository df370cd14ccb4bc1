"""A fresh start (empty Redis, fresh producer): the first 2,000 events must not raise false alarms."""

from __future__ import annotations

import pytest

from bench.fresh_quality import FRESH_EVENTS, first_events
from producer import World


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(0)  # the world `make run` uses (PRODUCER_WORLD_SEED default)


@pytest.mark.parametrize("seed", [4, 5, 13, 21])
def test_first_2000_events_of_a_fresh_run_are_precise(world: World, seed: int) -> None:
    true, false = first_events(world, seed, FRESH_EVENTS)  # pure: generator -> detection engine
    assert true >= 5  # the stream does carry fraud this early: precision is not vacuous
    assert true / (true + sum(false.values())) >= 0.95, f"false alerts by rule: {dict(false)}"
