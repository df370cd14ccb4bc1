"""Unit tests of the generated stream: determinism, schema, distributions, fraud ratio, travel."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

import pytest

from common.money import decimals
from common.rules import default_rules
from common.schema import (
    FRAUD_SCENARIOS,
    HEADER_SCENARIO,
    HEADER_SCENARIO_ID,
    HEADER_SCENARIO_LAST,
    NORMAL_SCENARIO,
    decode_event,
    encode_event,
    event_epoch_ms,
)
from producer import SCENARIOS, GeneratedEvent, Generator, World, generate
from producer.geo import haversine_km
from producer.normal import MIN_GAP_MS

START = "2026-03-01T12:00:00Z"


@pytest.fixture(scope="module")
def world() -> World:
    return World.build(11)


@pytest.fixture(scope="module")
def stream(world: World) -> list[GeneratedEvent]:
    return generate(seed=11, count=20_000, start=START, world=world)


def test_same_seed_and_options_give_identical_bytes(world: World) -> None:
    a = generate(seed=5, count=3_000, start=START, world=world)
    b = generate(seed=5, count=3_000, start=START, world=world)
    assert [(e.value, e.key, e.headers) for e in a] == [(e.value, e.key, e.headers) for e in b]
    assert a == b


def test_seed_and_start_change_the_stream(world: World) -> None:
    base = generate(seed=5, count=200, start=START, world=world)
    assert generate(seed=6, count=200, start=START, world=world) != base
    later = generate(seed=5, count=200, start="2026-03-01T13:00:00Z", world=world)
    assert later[0].event.txn_id != base[0].event.txn_id  # ids depend on the anchor too


def test_every_event_decodes_to_the_canonical_bytes(stream: list[GeneratedEvent]) -> None:
    for ev in stream:
        txn = decode_event(ev.value)
        assert encode_event(txn) == ev.value  # our fast encoder matches common.schema exactly
        assert ev.key == txn.card_id.encode() and ev.card_id == txn.card_id
        assert event_epoch_ms(txn) == ev.ts_ms
    assert len({ev.event.txn_id for ev in stream}) == len(stream)


def test_headers_carry_ground_truth_only(stream: list[GeneratedEvent]) -> None:
    order: dict[str, list[bool]] = defaultdict(list)  # scenario_id -> "marked last" per event
    for ev in stream:
        if ev.scenario == NORMAL_SCENARIO:
            assert ev.headers == [(HEADER_SCENARIO, b"normal")] and ev.scenario_id is None
        else:
            assert ev.scenario_id is not None and ev.scenario in FRAUD_SCENARIOS
            head = [(HEADER_SCENARIO, ev.scenario.encode()), (HEADER_SCENARIO_ID, ev.scenario_id.encode())]
            last = ev.headers == [*head, (HEADER_SCENARIO_LAST, b"1")]
            assert last or ev.headers == head
            order[ev.scenario_id].append(last)
        assert b"scenario" not in ev.value
    # the instance's last event says so (the bridge counts it missed only after that one); only
    # instances the stream's end cuts off lack it
    assert all(not any(marks[:-1]) for marks in order.values())
    finished = sum(marks[-1] for marks in order.values())
    assert 0.8 * len(order) <= finished < len(order)


def test_every_scenario_is_a_known_label() -> None:
    assert set(SCENARIOS) == set(FRAUD_SCENARIOS)  # the bridge counts other labels as "other"


def test_a_tiny_dense_world_still_streams() -> None:
    # 40 cards at 20 events/s: every card pays more often than MIN_GAP_MS allows
    events = generate(seed=1, count=5_000, n_cards=40)
    assert len({ev.card_id for ev in events}) == 40


def test_event_time_starts_at_anchor_and_advances_at_sim_rate(stream: list[GeneratedEvent]) -> None:
    ts = [ev.ts_ms for ev in stream]
    assert ts == sorted(ts)
    assert ts[0] - stream[0].ts_ms == 0 and 0 <= ts[0] - 1772366400000 < 1_000
    mean_gap_ms = (ts[-1] - ts[0]) / (len(ts) - 1)
    assert 45 < mean_gap_ms < 52  # 1/20 s, slightly less because fraud events come on top


def test_sim_rate_is_independent_of_anything_else(world: World) -> None:
    slow = generate(seed=1, count=2_000, start=START, world=world, sim_rate=2.0)
    mean_gap_ms = (slow[-1].ts_ms - slow[0].ts_ms) / (len(slow) - 1)
    assert 440 < mean_gap_ms < 540


def test_normal_amounts_channels_cities_and_merchants(stream: list[GeneratedEvent], world: World) -> None:
    normal = [ev.event for ev in stream if ev.scenario == NORMAL_SCENARIO]
    rates = default_rules().currency
    # planned in US dollars, sent in the local currency in its minor units (whole yen and won)
    amounts = [t.amount * rates.get(t.currency, 1.0) for t in normal]
    assert min(amounts) >= 2.49 and max(amounts) <= 2_500
    assert 15 < statistics.median(amounts) < 120
    assert all(round(t.amount, decimals(t.currency)) == t.amount for t in normal)
    assert {t.currency for t in normal} >= {"USD", "EUR", "GBP", "JPY", "KRW", "ARS"}
    assert all(t.amount >= 1_000 for t in normal if t.currency == "KRW")  # not dollars labelled won
    channels = Counter(t.channel for t in normal)
    assert set(channels) == {"pos", "online", "atm"}
    shares = {k: v / len(normal) for k, v in channels.items()}
    assert 0.45 < shares["pos"] < 0.8 and 0.15 < shares["online"] < 0.45 and 0.03 < shares["atm"] < 0.15
    assert all(t.amount % 20 == 0 for t in normal if t.channel == "atm" and t.currency == "USD")
    assert all(t.amount == round(t.amount) for t in normal if t.channel == "atm")
    assert len({t.city for t in normal}) >= 30
    assert len({t.merchant_id for t in normal}) >= 200
    assert all(t.lat is not None and t.country is not None for t in normal)


def test_cards_are_chosen_by_activity(stream: list[GeneratedEvent], world: World) -> None:
    counts = Counter(ev.card_id for ev in stream if ev.scenario == NORMAL_SCENARIO)
    by_activity = sorted(world.cards, key=lambda c: c.activity)
    quiet, busy = by_activity[:500], by_activity[-500:]
    assert sum(counts[c.card_id] for c in busy) > 5 * sum(counts[c.card_id] for c in quiet)


def test_cards_mostly_transact_at_home(stream: list[GeneratedEvent], world: World) -> None:
    home = {c.card_id: world.cities[c.home].name for c in world.cards}
    normal = [ev.event for ev in stream if ev.scenario == NORMAL_SCENARIO]
    assert sum(t.city == home[t.card_id] for t in normal) / len(normal) > 0.9


@pytest.mark.parametrize("ratio", [0.0, 0.02, 0.1])
def test_fraud_ratio_near_target(world: World, ratio: float) -> None:
    events = generate(seed=2, count=20_000, start=START, world=world, fraud_ratio=ratio)
    share = sum(ev.is_fraud for ev in events) / len(events)
    assert abs(share - ratio) <= max(0.1 * ratio, 0.001)


def test_scenario_subset_and_weights(world: World) -> None:
    events = generate(
        seed=3,
        count=30_000,
        start=START,
        world=world,
        fraud_ratio=0.05,
        scenarios="high_amount=3,unknown_location=1",
    )
    instances = {ev.scenario_id: ev.scenario for ev in events if ev.is_fraud}
    counts = Counter(instances.values())
    assert set(counts) == {"high_amount", "unknown_location"}
    assert 2.0 < counts["high_amount"] / counts["unknown_location"] < 4.5


def _speed_violations(events: list[GeneratedEvent], limit_kmh: float) -> tuple[int, int]:
    """(normal events faster than limit from the card's previous located event, normal city moves)."""
    last: dict[str, tuple[int, float, float]] = {}
    violations = moves = 0
    for ev in events:
        t = ev.event
        if t.lat is None or t.lon is None:
            continue
        prev = last.get(t.card_id)
        if prev is not None and ev.scenario == NORMAL_SCENARIO:
            km = haversine_km(prev[1], prev[2], t.lat, t.lon)
            if km > 0:
                moves += 1
                hours = (ev.ts_ms - prev[0]) / 3_600_000
                if hours <= 0 or km / hours > limit_kmh:
                    violations += 1
        last[t.card_id] = (ev.ts_ms, t.lat, t.lon)
    return violations, moves


@pytest.mark.parametrize(
    ("n_cards", "sim_rate", "fraud_ratio", "scenarios"),
    [
        (5_000, 20.0, 0.02, None),  # the defaults
        (150, 0.05, 0.1, "impossible_travel=5,velocity_burst=1,high_amount=1"),  # sparse cards travel a lot
    ],
)
def test_normal_cards_never_exceed_900_kmh(
    n_cards: int, sim_rate: float, fraud_ratio: float, scenarios: str | None
) -> None:
    world = World.build(21, n_cards)
    gen = Generator(world, 21, fraud_ratio, scenarios, None, sim_rate)
    events = gen.take(50_000)
    violations, moves = _speed_violations(events, 900.0)
    assert violations == 0
    if n_cards < 1_000:
        assert moves > 200  # the test exercises travel, it is not vacuous


def test_fraud_instances_keep_to_one_card_and_normal_traffic_stays_off_it(
    stream: list[GeneratedEvent],
) -> None:
    by_id: dict[str, list[GeneratedEvent]] = defaultdict(list)
    for ev in stream:
        if ev.scenario_id is not None:
            by_id[ev.scenario_id].append(ev)
    assert len(by_id) > 50
    windows = {}
    for sid, evs in by_id.items():
        assert len({e.card_id for e in evs}) == 1 and len({e.scenario for e in evs}) == 1
        windows[sid] = (evs[0].card_id, evs[0].ts_ms, evs[-1].ts_ms)
    for ev in stream:
        if ev.scenario_id is None:
            for card, first, last in windows.values():
                assert not (ev.card_id == card and first <= ev.ts_ms <= last + 60_000)


def test_a_holders_own_purchases_never_pace_like_a_velocity_burst(stream: list[GeneratedEvent]) -> None:
    # The busiest cards used to pay every ~20 s at random: 6 in a minute, a burst by the rule.
    last: dict[str, int] = {}
    gaps = []
    for ev in stream:
        if ev.scenario_id is None:
            if ev.card_id in last:
                gaps.append(ev.ts_ms - last[ev.card_id])
            last[ev.card_id] = ev.ts_ms
    assert len(gaps) > 10_000
    assert min(gaps) >= MIN_GAP_MS
