"""Unit tests: each fraud scenario has its defining property, alone and inside the stream."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict

import pytest

from common.rules import default_rules
from common.schema import UNKNOWN_CITY, Transaction
from producer import SCENARIOS, GeneratedEvent, World, generate, instance_events, make_instance
from producer.geo import haversine_km

HIGH = 5_000.0
SEEDS = range(25)
RATES = default_rules().currency


def usd(t: Transaction) -> float:
    """The amount in US dollars (scenarios plan in dollars; events carry the local currency)."""
    return t.amount * RATES.get(t.currency, 1.0)


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(5)


def _instance(name: str, world: World, seed: int) -> list[Transaction]:
    rng = random.Random(seed)
    card = rng.randrange(len(world.cards))
    inst = make_instance(name, world, rng, card, 1_780_000_000_000 + seed)
    events = instance_events(world, inst)
    assert {e.scenario_id for e in events} == {inst.scenario_id}
    assert {e.scenario for e in events} == {name}
    assert {e.card_id for e in events} == {world.cards[card].card_id}
    return [e.event for e in events]


def _kmh(a: Transaction, b: Transaction) -> tuple[float, float]:
    assert a.lat is not None and a.lon is not None and b.lat is not None and b.lon is not None
    km = haversine_km(a.lat, a.lon, b.lat, b.lon)
    hours = (b.ts - a.ts).total_seconds() / 3600
    return km, km / hours


def check(name: str, txns: list[Transaction], history: list[float] | None = None) -> None:
    """Assert the defining property of one instance of scenario `name`."""
    ts = [t.ts for t in txns]
    assert ts == sorted(ts)
    if name == "high_amount":
        assert len(txns) == 1 and HIGH <= usd(txns[0]) <= 20_000 and txns[0].lat is not None
    elif name in ("unknown_location", "high_amount_unknown_location"):
        (t,) = txns
        assert t.city == UNKNOWN_CITY and t.lat is None and t.lon is None and t.country is None
        assert t.channel == "online"
        assert (HIGH <= usd(t) <= 20_000) if name.startswith("high") else (usd(t) < HIGH)
    elif name == "velocity_burst":
        assert 6 <= len(txns) <= 10
        assert (txns[5].ts - txns[0].ts).total_seconds() <= 60
        assert len({t.city for t in txns}) == 1 and all(usd(t) < HIGH for t in txns)
    elif name == "impossible_travel":
        a, b = txns
        km, kmh = _kmh(a, b)
        assert km > 1_000 and kmh > 1_000
    elif name == "card_testing":
        *small, large = txns
        assert len(small) >= 3 and all(usd(t) < 2.0 for t in small)
        assert len({t.merchant_id for t in txns}) == len(txns)
        assert usd(large) >= 1_000 and usd(large) < HIGH
    elif name == "amount_spike":
        (t,) = txns
        assert usd(t) < HIGH
        if history is not None:
            assert len(history) >= 5
            assert usd(t) > 5 * statistics.fmean(history) and usd(t) > max(history)
    else:
        raise AssertionError(name)


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("seed", SEEDS)
def test_make_instance_has_the_scenario_property(world: World, name: str, seed: int) -> None:
    check(name, _instance(name, world, seed))


def test_amount_spike_is_far_above_the_card_profile(world: World) -> None:
    for seed in SEEDS:
        rng = random.Random(seed)
        card = rng.randrange(len(world.cards))
        (p,) = make_instance("amount_spike", world, rng, card, 0).events
        assert p.amount >= 15 * world.cards[card].median and p.amount < HIGH


def test_unknown_scenario_is_rejected(world: World) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        make_instance("nope", world, random.Random(0), 0, 0)


@pytest.fixture(scope="module")
def stream(world: World) -> list[GeneratedEvent]:
    # sim_rate 2: 40,000 events span ~5.5 h of event time, so nearly every instance completes.
    return generate(
        seed=9, count=40_000, fraud_ratio=0.05, start="2026-05-01T00:00:00Z", world=world, sim_rate=2.0
    )


def test_every_scenario_in_the_stream_has_its_property(stream: list[GeneratedEvent]) -> None:
    history: dict[str, list[float]] = defaultdict(list)
    instances: dict[str, list[Transaction]] = defaultdict(list)
    spike_history: dict[str, list[float]] = {}
    names: dict[str, str] = {}
    for ev in stream:
        t = ev.event
        if ev.scenario_id is None:
            history[t.card_id].append(usd(t))
            continue
        if ev.scenario == "amount_spike":
            spike_history[ev.scenario_id] = list(history[t.card_id])
        instances[ev.scenario_id].append(t)
        names[ev.scenario_id] = ev.scenario
    assert set(names.values()) == set(SCENARIOS)
    end = stream[-1].ts_ms / 1000
    # Instances started in the last hour may still be in flight (impossible_travel spans <= 1 h).
    complete = {sid: txns for sid, txns in instances.items() if end - txns[0].ts.timestamp() > 3_600}
    assert len(complete) > 100
    for sid, txns in complete.items():
        check(names[sid], txns, spike_history.get(sid))
