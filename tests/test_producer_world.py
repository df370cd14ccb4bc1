"""Unit tests of the simulated world and the scenario-weight parser (pure, no I/O)."""

from __future__ import annotations

import random

import pytest

from producer import SCENARIOS, World, parse_scenarios
from producer.geo import CITIES, haversine_km
from producer.world import typical_amount


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(7)


def test_world_has_enough_real_cities_merchants_and_cards(world: World) -> None:
    assert len(world.cities) >= 30
    assert len({c.name for c in world.cities}) == len(world.cities)
    assert all(-90 <= c.lat <= 90 and -180 <= c.lon <= 180 for c in world.cities)
    assert all(len(c.country) == 2 and len(c.currency) == 3 for c in world.cities)
    assert len(world.merchants) >= 200
    assert len({m.merchant_id for m in world.merchants}) == len(world.merchants)
    assert len({m.category for m in world.merchants}) >= 10
    assert len(world.cards) == 5_000
    assert len({c.card_id for c in world.cards}) == 5_000
    assert 3_000 < len({c.account_id for c in world.cards}) < 5_000  # some accounts hold two cards


def test_distances_are_real() -> None:
    london = next(c for c in CITIES if c.name == "London")
    paris = next(c for c in CITIES if c.name == "Paris")
    assert 330 < haversine_km(london.lat, london.lon, paris.lat, paris.lon) < 360


def test_world_is_deterministic_and_seed_dependent() -> None:
    assert World.build(3, 500) == World.build(3, 500)
    assert World.build(3, 500).cards != World.build(4, 500).cards


def test_card_profiles_within_bounds(world: World) -> None:
    for card in world.cards:
        assert 5 <= card.median <= 250
        assert 0 < card.p_online + card.p_atm < 0.6
        assert card.cap <= 2_500


def test_typical_amounts_stay_under_the_card_cap(world: World) -> None:
    rng = random.Random(1)
    card = world.cards[0]
    amounts = [typical_amount(card, 4.0, rng) for _ in range(2_000)]
    assert max(amounts) <= card.cap and min(amounts) >= 2.5


def test_card_index_lookup(world: World) -> None:
    assert world.card_index("C0000042") == 42
    with pytest.raises(KeyError):
        world.card_index("nope")


def test_parse_scenarios() -> None:
    assert parse_scenarios(None) == dict.fromkeys(SCENARIOS, 1.0)
    assert parse_scenarios("high_amount=2,velocity_burst=1") == {"high_amount": 2.0, "velocity_burst": 1.0}
    assert parse_scenarios("card_testing") == {"card_testing": 1.0}
    assert parse_scenarios("card_testing=0,amount_spike=1") == {"amount_spike": 1.0}
    for bad in ("nope=1", "high_amount=x", "high_amount=-1", "high_amount=0"):
        with pytest.raises(ValueError):
            parse_scenarios(bad)
