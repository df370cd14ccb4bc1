"""Per-card history (the cs2 ring and seen-values), its aggregates and the derived features, purely."""

from __future__ import annotations

import math

import msgspec
import pytest

from bridge.detection import features as feat
from bridge.detection.geo import haversine_km
from bridge.detection.history import (
    HistoryPlan,
    Ring,
    Row,
    aggregate,
    compile_where,
    crc,
    remember,
    ring_of,
    slide_ring,
    window_span,
)
from bridge.detection.state import (
    HIST_MAX,
    NO_TIME,
    SEEN_MAX,
    CardState,
    HistoryState,
    decode_state,
    encode_state,
)
from common.rulelang.model import Cond
from tests.test_detection_rules import ev

MIN = 60_000
ALL = HistoryPlan(longest_ms=60 * MIN, keep=(True,) * 6, seen=(True,) * 3)
EMPTY: Ring = ([], tuple([] for _ in range(6)))


def row(amount: float, merchant: str = "M1", country: str = "GB", city: str = "London") -> Row:
    return (amount, crc(merchant), crc(country), crc(city), crc("grocery"), crc("pos"))


def feed(events: list[tuple[int, Row]], plan: HistoryPlan = ALL) -> tuple[Ring, bool]:
    """Slide the ring through (event time, row) pairs as the engine does; the last step's result."""
    ring, newest, inside = EMPTY, NO_TIME, False
    for t, r in events:
        newest = max(newest, t)
        ring, inside = slide_ring(ring, t, newest, r, plan)
    return ring, inside


def agg(
    kind: str, ring: Ring, t: int, window_ms: int, of: str | None = None, where: Cond | None = None
) -> float:
    ms, cols = ring
    lo, hi = window_span(ms, t, window_ms)
    return aggregate(kind, of, compile_where(where) if where else None, cols, range(lo, hi))


# --- the ring --------------------------------------------------------------------------------------
def test_aggregates_match_a_hand_computed_history() -> None:
    # five transactions over 40 minutes; the aggregate at the last one (t = 40 min)
    history = [
        (0, row(10.0, "M1", "GB")),
        (10 * MIN, row(1.5, "M2", "FR")),
        (20 * MIN, row(1.0, "M3", "FR")),
        (30 * MIN, row(500.0, "M1", "DE")),
        (40 * MIN, row(90.0, "M4", "GB")),
    ]
    ring, inside = feed(history)
    t = 40 * MIN
    assert inside and ring[0] == [0, 10 * MIN, 20 * MIN, 30 * MIN, 40 * MIN]
    # window 25 min = entries after 15 min: 1.0 (FR), 500.0 (DE), 90.0 (GB), the event included
    assert agg("count", ring, t, 25 * MIN) == 3
    assert agg("sum", ring, t, 25 * MIN, "amount_usd") == pytest.approx(591.0)
    assert agg("avg", ring, t, 25 * MIN, "amount_usd") == pytest.approx(197.0)
    assert agg("max", ring, t, 25 * MIN, "amount_usd") == 500.0
    assert agg("distinct", ring, t, 25 * MIN, "country") == 3
    assert agg("distinct", ring, t, 60 * MIN, "country") == 3  # GB, FR, DE
    assert agg("distinct", ring, t, 60 * MIN, "merchant_id") == 4
    # where: probes under $2 in the hour, and non-FR amounts; filters apply to every entry read
    probes = Cond(field="amount_usd", op="lt", value=2.0)
    assert agg("count", ring, t, 60 * MIN, where=probes) == 2
    not_fr = Cond(not_=Cond(field="country", op="eq", value="FR"))
    assert agg("sum", ring, t, 60 * MIN, "amount_usd", not_fr) == pytest.approx(600.0)
    either = Cond(any_=(Cond(field="merchant_id", op="in", value=("M1", "M4")), probes))
    assert agg("count", ring, t, 60 * MIN, where=either) == 5
    both = Cond(
        all_=(
            Cond(field="amount_usd", op="between", value=(1.0, 10.0)),
            Cond(field="city", op="ne", value="Paris"),
        )
    )
    assert agg("count", ring, t, 60 * MIN, where=both) == 3
    # nothing matches: count 0, money aggregates 0.0
    none = Cond(field="channel", op="eq", value="atm")
    assert agg("count", ring, t, 60 * MIN, where=none) == 0
    assert agg("max", ring, t, 60 * MIN, "amount_usd", none) == 0.0


def test_the_window_slides_with_event_time() -> None:
    ring, _ = feed([(i * 10 * MIN, row(1.0)) for i in range(7)])  # 0 .. 60 min
    t = 60 * MIN
    assert agg("count", ring, t, 30 * MIN) == 3  # 40, 50, 60: the entry at exactly t - W is out
    assert agg("count", ring, t, 30 * MIN + 1) == 4
    # the ring itself keeps only what the longest window (60 min) can read at the newest time
    assert ring[0] == [10 * MIN, 20 * MIN, 30 * MIN, 40 * MIN, 50 * MIN, 60 * MIN]
    ring, _ = feed([*[(i * 10 * MIN, row(1.0)) for i in range(7)], (200 * MIN, row(1.0))])
    assert ring[0] == [200 * MIN]


def test_a_late_event_is_counted_in_its_own_window_not_the_newest() -> None:
    history = [(0, row(1.0)), (30 * MIN, row(2.0)), (50 * MIN, row(4.0)), (20 * MIN, row(8.0))]
    ring, inside = feed(history)
    assert inside and ring[0] == [0, 20 * MIN, 30 * MIN, 50 * MIN]  # inserted in time order
    assert ring[1][0] == [1.0, 8.0, 2.0, 4.0]
    t = 20 * MIN  # at the late event: entries in (t - 25 min, t] are 0 and itself, not the later ones
    assert agg("count", ring, t, 25 * MIN) == 2
    assert agg("sum", ring, t, 25 * MIN, "amount_usd") == 9.0


def test_a_late_event_before_the_longest_window_is_read_alone_and_not_kept() -> None:
    plan = HistoryPlan(longest_ms=10 * MIN, keep=(True,) * 6, seen=(False,) * 3)
    ring, inside = feed([(60 * MIN, row(1.0)), (65 * MIN, row(2.0)), (30 * MIN, row(4.0))], plan)
    assert not inside
    assert ring[0] == [60 * MIN, 65 * MIN]


def test_the_ring_keeps_the_newest_32_transactions() -> None:
    ring, inside = feed([(i * 1000, row(float(i))) for i in range(40)])
    ms, cols = ring
    assert inside and len(ms) == HIST_MAX == 32
    assert ms == [i * 1000 for i in range(8, 40)]
    assert all(len(c) == HIST_MAX for c in cols)
    assert agg("count", ring, 39_000, 60 * MIN) == 32  # more than 32 in the window reads the newest 32
    assert agg("sum", ring, 39_000, 60 * MIN, "amount_usd") == float(sum(range(8, 40)))
    # a late event older than all 32 falls off at once: the aggregate then reads it alone
    ring2, inside2 = slide_ring(ring, 500, 39_000, row(7.0), ALL)
    assert not inside2 and ring2[0] == ms


def test_columns_no_rule_reads_stay_empty() -> None:
    plan = HistoryPlan(longest_ms=60 * MIN, keep=(True, False, True, False, False, False), seen=(False,) * 3)
    (ms, cols), _ = feed([(0, row(1.0)), (MIN, row(2.0, country="FR"))], plan)
    assert ms == [0, MIN] and cols[0] == [1.0, 2.0] and cols[2] == [crc("GB"), crc("FR")]
    assert cols[1] == cols[3] == cols[4] == cols[5] == []


def test_a_column_newly_needed_restarts_the_history_instead_of_guessing() -> None:
    stored = HistoryState(hist_ms=[0, MIN], hist_amt=[1.0, 2.0])  # written when only amounts were read
    amounts = HistoryPlan(longest_ms=60 * MIN, keep=(True,) + (False,) * 5, seen=(False,) * 3)
    assert ring_of(stored, amounts)[0] == [0, MIN]
    with_country = amounts._replace(keep=(True, False, True, False, False, False))
    assert ring_of(stored, with_country) == EMPTY


def test_where_refuses_what_a_crc32_cannot_answer() -> None:
    with pytest.raises(ValueError, match="starts_with"):
        compile_where(Cond(field="merchant_id", op="starts_with", value="M"))


# --- seen values -----------------------------------------------------------------------------------
def test_seen_values_are_distinct_newest_last_and_bounded() -> None:
    seen: list[int] = []
    for v in [1, 2, 3, 1]:
        seen = remember(seen, v)
    assert seen == [2, 3, 1]
    for v in range(100, 120):
        seen = remember(seen, v)
    assert len(seen) == SEEN_MAX == 16 and seen == list(range(104, 120))
    assert feat.is_new(seen, 103) and not feat.is_new(seen, 104)


# --- derived features ------------------------------------------------------------------------------
def test_features_of_a_card_without_history() -> None:
    fresh, e = CardState(), ev(0, 40.0)
    assert feat.distance_km(e, fresh) == 0.0
    assert feat.speed_kmh(e, fresh, 0, 0.0) == 0.0
    assert feat.amount_ratio(40.0, fresh) == 1.0
    assert feat.since_prev_s(fresh, 0) == 1_000_000_000.0


def test_distance_and_speed_from_the_previous_located_transaction() -> None:
    london = CardState(last_ms=0, geo_ms=0, lat=51.5074, lon=-0.1278, city="London")
    paris = ev(0, city="Paris")
    km = feat.distance_km(paris, london)
    assert km == pytest.approx(haversine_km(51.5074, -0.1278, 48.8566, 2.3522)) and 330 < km < 350
    two_hours = 2 * 3_600_000
    assert feat.speed_kmh(paris, london, two_hours, km) == pytest.approx(km / 2)
    assert feat.speed_kmh(paris, london, 10_000, km) == pytest.approx(km * 60)  # 10 s counts as 1 min
    assert feat.speed_kmh(paris, london, -two_hours, km) == pytest.approx(km / 2)  # late: still a hop
    assert feat.distance_km(ev(0, city="Nowhere"), london) == 0.0  # no coordinates on the event


def test_amount_ratio_needs_five_learned_amounts() -> None:
    assert feat.amount_ratio(400.0, CardState(n=4, log_mean=math.log(40.0))) == 1.0
    assert feat.amount_ratio(400.0, CardState(n=5, log_mean=math.log(40.0))) == pytest.approx(10.0)


def test_since_prev_is_signed_seconds_since_the_newest_transaction() -> None:
    prev = CardState(last_ms=100_000)
    assert feat.since_prev_s(prev, 190_000) == 90.0
    assert feat.since_prev_s(prev, 40_000) == -60.0


# --- state bytes -----------------------------------------------------------------------------------
def test_a_state_without_history_is_cs1_byte_for_byte() -> None:
    cs1 = CardState(last_ms=5, recent_ms=[5], recent_amt=[1.0], n=1, log_mean=0.5)
    same = HistoryState(last_ms=5, recent_ms=[5], recent_amt=[1.0], n=1, log_mean=0.5)
    assert encode_state(same) == encode_state(cs1)
    assert encode_state(cs1) == msgspec.json.encode(
        ["cs1", 5, NO_TIME, None, None, "", [5], [1.0], [], [], NO_TIME, 0, 1, 0.5, 0.0]
    )


GOOD_CS2 = ["cs2", 9, NO_TIME, None, None, "", [], [], [], [], NO_TIME, 0, 0, 0.0, 0.0]


def test_cs2_round_trips_with_the_documented_layout() -> None:
    state = HistoryState(
        last_ms=9,
        hist_ms=[1, 9],
        hist_amt=[2.5, 3.0],
        hist_country=[crc("GB"), crc("FR")],
        seen_merchants=[crc("M1")],
    )
    raw = encode_state(state)
    assert raw == msgspec.json.encode(
        [*GOOD_CS2, [1, 9], [2.5, 3.0], [], [crc("GB"), crc("FR")], [], [], [], [], [crc("M1")], []]
    )
    assert decode_state(raw) == state


@pytest.mark.parametrize(
    "extension",
    [
        [[1, 9], [2.5]],  # hist_amt neither empty nor parallel to hist_ms
        [[9, 1], [2.5, 3.0]],  # times not ascending
        [list(range(33))],  # more than 32 entries
        [[1], [], [2**32]],  # not a crc32
        [[1], [math.inf]],  # not a finite amount (encodes as null)
        [[], [], [], [], [], [], [], [1, 1]],  # seen values repeated
        [[], [], [], [], [], [], [], list(range(17))],  # more than 16 seen values
        [[], [], [], [], [], [], [], ["GB"]],  # a seen country stored as text, not its crc32
    ],
)
def test_inconsistent_cs2_decodes_as_a_fresh_card(extension: list[list[object]]) -> None:
    assert decode_state(msgspec.json.encode(GOOD_CS2 + extension)) == CardState()
