"""Fraud scenarios: each call builds one labelled instance (its events, on one card) from the world."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from producer.events import UNKNOWN, PlannedEvent
from producer.world import World, typical_amount

HIGH_AMOUNT = 5_000.0  # the global high-amount threshold the detection rules share
MAX_FRAUD_AMOUNT = 20_000.0
SAFE_SPEED_KMH = 800.0  # a normal card never moves faster than this (plus one hour on the ground)
QUIET_AFTER_MS = 120_000  # keep normal traffic off a card for a while after its fraud instance
MIN_TRAVEL_KM = 1_500.0  # impossible_travel jumps at least this far (the rule needs > 1,000 km)
HOUR_MS = 3_600_000

Builder = Callable[[World, random.Random, int, int, int], list[PlannedEvent]]


@dataclass(frozen=True)
class Instance:
    """One injected fraud instance: all its events share `scenario_id` and one card."""

    scenario: str
    scenario_id: str
    card: int
    events: tuple[PlannedEvent, ...]
    free_at_ms: int  # from then on normal traffic on the card is plausible again


def flight_ms(km: float) -> int:
    """The least time a normal card needs to move `km` (flight at SAFE_SPEED_KMH + 1 h)."""
    return 0 if km <= 0 else int((km / SAFE_SPEED_KMH) * HOUR_MS) + HOUR_MS


def _local(world: World, rng: random.Random, city: int) -> int:
    return rng.choice(world.pos_by_city[city])


def _high_amount(world: World, rng: random.Random, card: int, city: int, now: int) -> list[PlannedEvent]:
    amount = round(rng.uniform(HIGH_AMOUNT, MAX_FRAUD_AMOUNT), 2)
    if rng.random() < 0.5:
        return [PlannedEvent(now, card, amount, _local(world, rng, city), city, "pos")]
    return [PlannedEvent(now, card, amount, rng.choice(world.online), city, "online")]


def _unknown_location(world: World, rng: random.Random, card: int, city: int, now: int) -> list[PlannedEvent]:
    merchant = rng.choice(world.online)
    base = typical_amount(world.cards[card], world.merchants[merchant].level, rng)
    amount = round(min(base * rng.uniform(1.0, 3.0), HIGH_AMOUNT / 2), 2)
    return [PlannedEvent(now, card, amount, merchant, UNKNOWN, "online")]


def _high_unknown(world: World, rng: random.Random, card: int, city: int, now: int) -> list[PlannedEvent]:
    amount = round(rng.uniform(HIGH_AMOUNT, MAX_FRAUD_AMOUNT), 2)
    return [PlannedEvent(now, card, amount, rng.choice(world.online), UNKNOWN, "online")]


def _velocity_burst(world: World, rng: random.Random, card: int, city: int, now: int) -> list[PlannedEvent]:
    events, ts = [], now
    for _ in range(rng.randint(6, 10)):  # 10 events, gaps <= 6 s: the first 6 fit in 30 s
        online = rng.random() < 0.4
        merchant = rng.choice(world.online) if online else _local(world, rng, city)
        amount = typical_amount(world.cards[card], world.merchants[merchant].level, rng)
        events.append(PlannedEvent(ts, card, amount, merchant, city, "online" if online else "pos"))
        ts += rng.randint(1_500, 6_000)
    return events


def _impossible_travel(
    world: World, rng: random.Random, card: int, city: int, now: int
) -> list[PlannedEvent]:
    far = [j for j, km in enumerate(world.dist_km[city]) if km >= MIN_TRAVEL_KM]
    dest = rng.choice(far)
    # A cloned card used abroad minutes after a local purchase: 1-10 min over >= 1,500 km is
    # >= 9,000 km/h, which no airliner manages. Minutes (not hours) apart also keeps both events
    # inside short streams, so tests and benchmarks see whole instances.
    gap_ms = rng.randint(60_000, 10 * 60_000)
    profile = world.cards[card]
    first, second = _local(world, rng, city), _local(world, rng, dest)
    amounts = [typical_amount(profile, world.merchants[m].level, rng) for m in (first, second)]
    return [
        PlannedEvent(now, card, amounts[0], first, city, "pos"),
        PlannedEvent(now + gap_ms, card, amounts[1], second, dest, "pos"),
    ]


def _card_testing(world: World, rng: random.Random, card: int, city: int, now: int) -> list[PlannedEvent]:
    n_small = rng.randint(3, 6)
    merchants = rng.sample(world.online, n_small + 1)  # all different
    events, ts = [], now
    for merchant in merchants[:-1]:
        events.append(PlannedEvent(ts, card, round(rng.uniform(0.1, 1.99), 2), merchant, city, "online"))
        ts += rng.randint(5_000, 40_000)
    large = round(rng.uniform(1_000.0, 4_900.0), 2)
    events.append(PlannedEvent(ts, card, large, merchants[-1], city, "online"))
    return events


def _amount_spike(world: World, rng: random.Random, card: int, city: int, now: int) -> list[PlannedEvent]:
    median = world.cards[card].median
    # 20-30x the median: a card's typical (geometric-mean) spend runs up to ~2x its median once the
    # category levels are in, so 15x sometimes was not the rule's 10x anomaly at all (3 in 200 missed)
    amount = round(min(median * rng.uniform(20.0, 30.0), HIGH_AMOUNT - 10.0), 2)
    if amount < median * 15.0:
        raise ValueError(f"card {world.cards[card].card_id} spends too much for an amount_spike")
    return [PlannedEvent(now, card, amount, _local(world, rng, city), city, "pos")]


BUILDERS: dict[str, Builder] = {
    "high_amount": _high_amount,
    "unknown_location": _unknown_location,
    "high_amount_unknown_location": _high_unknown,
    "velocity_burst": _velocity_burst,
    "impossible_travel": _impossible_travel,
    "card_testing": _card_testing,
    "amount_spike": _amount_spike,
}
SCENARIOS: tuple[str, ...] = tuple(BUILDERS)


def make_instance(
    name: str,
    world: World,
    rng: random.Random,
    card: int,
    now_ms: int,
    *,
    city: int | None = None,
    scenario_id: str | None = None,
) -> Instance:
    """Build one instance of scenario `name` on card index `card`, starting at `now_ms`.

    `city` is where the card was last seen (default: its home); the instance starts there so
    that only the scenario's own property looks suspicious.
    """
    if name not in BUILDERS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    here = world.cards[card].home if city is None else city
    events = tuple(BUILDERS[name](world, rng, card, here, now_ms))
    last = events[-1]
    # Normal traffic resumes where the owner is; if the fraud ended elsewhere, wait for a flight.
    back = flight_ms(world.dist_km[last.city][here]) if last.city != UNKNOWN else 0
    return Instance(
        scenario=name,
        scenario_id=scenario_id or f"{name}-{rng.getrandbits(48):012x}",
        card=card,
        events=events,
        free_at_ms=last.ts_ms + max(QUIET_AFTER_MS, back),
    )


def parse_scenarios(text: str | None) -> dict[str, float]:
    """Parse `name=weight,...` (weight defaults to 1; empty or `all` = every scenario equally)."""
    if not text or text.strip() == "all":
        return dict.fromkeys(SCENARIOS, 1.0)
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, raw = part.partition("=")
        name = name.strip()
        if name not in BUILDERS:
            raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
        try:
            weight = float(raw) if raw else 1.0
        except ValueError:
            raise ValueError(f"scenario weight for {name!r} is not a number: {raw!r}") from None
        if not weight >= 0:
            raise ValueError(f"scenario weight for {name!r} must be >= 0")
        weights[name] = weight
    if not any(w > 0 for w in weights.values()):
        raise ValueError("--scenarios needs at least one scenario with a positive weight")
    return {k: w for k, w in weights.items() if w > 0}
