"""Engine contract: determinism, immutability, bounded compact state, scoring and alerts."""

from __future__ import annotations

import random

import msgspec
import pytest

from bridge.detection import QUIET, CardState, Detector, decode_state, encode_state, make_alert
from bridge.detection.state import RECENT_MAX, TINY_MAX, slide_window
from common.alerts import alert_id_for, decode_alert, encode_alert
from common.rules import apply_changes, default_rules
from common.schema import UNKNOWN_CITY, Transaction
from tests.test_detection_rules import CITIES, ev, run


def random_events(n: int, seed: int = 1) -> list[Transaction]:
    """A messy card: random cities, amounts from cents to $20k, jittery and out-of-order times."""
    rng = random.Random(seed)
    names = [*CITIES, UNKNOWN_CITY]
    return [
        ev(
            max(0.0, i * 7.0 + rng.uniform(-600, 30)),
            round(rng.choice([0.5, 40.0, 900.0, 20_000.0]) * rng.uniform(0.5, 1.5), 2),
            city=rng.choice(names),
            merchant=f"M{rng.randrange(50)}",
        )
        for i in range(n)
    ]


def test_same_input_gives_same_decisions_states_and_alert_ids() -> None:
    events = random_events(500)
    first, second = Detector(default_rules()), Detector(default_rules())
    s1 = s2 = None
    for event in events:
        (d1, s1), (d2, s2) = first.evaluate(event, s1), second.evaluate(event, s2)
        assert d1 == d2 and s1 == s2
        assert make_alert(event, d1, 3) == make_alert(event, d2, 3)


def test_evaluate_never_mutates_the_input_state() -> None:
    detector, state = Detector(default_rules()), None
    for event in random_events(300):
        before = encode_state(state) if state is not None else None
        _, new = detector.evaluate(event, state)
        assert (encode_state(state) if state is not None else None) == before
        state = new


@pytest.mark.parametrize("amount", [0.5, 40.0])  # tiny probes and normal spend fill different lists
def test_state_stays_bounded_after_10000_events(amount: float) -> None:
    detector, state = Detector(default_rules()), None
    for i in range(10_000):
        _, state = detector.evaluate(ev(i * 0.01, amount, merchant=f"M{i}"), state)
    assert state is not None
    assert len(state.recent_ms) == len(state.recent_amt) <= RECENT_MAX
    assert len(state.tiny_ms) == len(state.tiny_merchants) <= TINY_MAX
    assert len(encode_state(state)) < 2_000


def test_random_stream_state_is_bounded_and_round_trips() -> None:
    detector, state = Detector(default_rules()), None
    for event in random_events(10_000, seed=7):
        _, state = detector.evaluate(event, state)
        assert decode_state(encode_state(state)) == state
    assert state is not None and len(encode_state(state)) < 2_000


def test_out_of_order_events_neither_crash_nor_move_the_clock_back() -> None:
    detector = Detector(default_rules())
    _, state = detector.evaluate(ev(3600, city="Paris"), None)
    decision, late = detector.evaluate(ev(0, city="Tokyo"), state)
    assert late.last_ms == state.last_ms and (late.lat, late.lon) == (state.lat, state.lon)
    assert all(float(r.observed) > 0 for r in decision.reasons)


GOOD = encode_state(Detector(default_rules()).evaluate(ev(0, 1.0), None)[1])


@pytest.mark.parametrize(
    "raw",
    [
        b'["cs0",1,2]',  # an older layout
        None,
        b"",
        b"garbage",
        b"\xff\xfe\x00",
        b"[1,2]",
        b"{}",
        b"null",
        b"[" * 5000,
        GOOD[:-3],
        GOOD.replace(b"[1.0]", b"[1.0,2.0]"),  # recent_amt longer than recent_ms
        msgspec.json.encode(
            ["cs1", 0, 0, 1.0, None, "x", [], [], [], [], 0, 0, 0, 0.0, 0.0]
        ),  # lat without lon
        msgspec.json.encode(
            ["cs1", 0, 0, None, None, "x", [], [], [], [], 0, 0, 3, 0.0, -1.0]
        ),  # negative M2
        b'["cs1",0,0,null,null,"\xff",[],[],[],[],0,0,0,0.0,0.0]',  # invalid UTF-8 (used to raise)
        msgspec.json.encode(["cs1", 2**63, 0, None, None, "x", [], [], [], [], 0, 0, 0, 0.0, 0.0]),
        msgspec.json.encode(["cs1", 0, 0, None, None, "x", [], [], [0], [2**64], 0, 0, 0, 0.0, 0.0]),
    ],
)
def test_garbage_state_bytes_give_a_fresh_state(raw: bytes | None) -> None:
    assert decode_state(raw) == CardState()


def test_good_state_bytes_decode() -> None:
    assert decode_state(GOOD) != CardState()


def test_scores_combine_as_independent_evidence() -> None:
    rules = default_rules()
    (both,) = run([ev(0, 9000.0, city=UNKNOWN_CITY, channel="online")])
    (one,) = run([ev(0, 9000.0)])
    a = one.score
    b = rules.unknown_location.weight
    assert both.score == pytest.approx(1 - (1 - a) * (1 - b), abs=1e-6)
    assert {r.rule for r in both.reasons} == {"high_amount", "unknown_location"}
    assert 0.0 <= one.score < both.score <= 1.0


@pytest.mark.parametrize(
    ("alerting", "severity", "is_alert"),
    [
        ({"min_score": 0.5, "medium_score": 0.7, "high_score": 0.85}, "medium", True),
        ({"min_score": 0.8, "medium_score": 0.7, "high_score": 0.85}, "medium", False),
        ({"min_score": 0.5, "medium_score": 0.7, "high_score": 0.72}, "high", True),
        ({"min_score": 0.5, "medium_score": 0.75, "high_score": 0.8}, "low", True),
    ],
)
def test_alerting_thresholds_set_severity_and_alert(alerting: dict, severity: str, is_alert: bool) -> None:
    (decision,) = run([ev(0, 6000.0)], apply_changes(default_rules(), {"alerting": alerting}))
    assert 0.7 < decision.score < 0.75  # high_amount: weight 0.7, a little over the limit
    assert (decision.severity, decision.is_alert) == (severity, is_alert)


def test_a_normal_event_is_quiet() -> None:
    assert run([ev(0)]) == [QUIET]


def test_make_alert_copies_the_event_and_round_trips() -> None:
    event = ev(12.345, 7250.0, city="Paris")
    (decision,) = run([event])
    alert = make_alert(event, decision, rules_version=4)
    assert alert.alert_id == alert_id_for(event.txn_id)
    assert (alert.ts, alert.event_ms) == ("2026-11-29T12:00:12.345Z", 1795953612345)
    assert (alert.city, alert.lat, alert.amount, alert.rules_version) == (
        "Paris",
        CITIES["Paris"][0],
        7250.0,
        4,
    )
    assert (alert.score, alert.severity, alert.reasons) == (
        decision.score,
        decision.severity,
        decision.reasons,
    )
    assert decode_alert(encode_alert(alert)) == alert


def test_with_rules_keeps_the_ml_model() -> None:
    on = apply_changes(default_rules(), {"ml_anomaly": {"enabled": True, "warmup": 10}})
    detector = Detector(on)
    state = None
    for i in range(20):
        _, state = detector.evaluate(ev(i * 60.0), state)
    assert detector.ml_status().seen == 20 and detector.ml_status().warm
    assert detector.with_rules(on).ml_status().seen == 20
    assert Detector(on).ml_status().seen == 0


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (100_000, [70_000, 80_000, 90_000, 100_000]),  # in order: appended
        (75_000, [70_000, 75_000, 80_000, 90_000]),  # late but inside: inserted in order
        (20_000, [70_000, 80_000, 90_000]),  # late and outside the 60 s window: not counted
    ],
)
def test_slide_window_keeps_the_window_sorted_and_bounded_in_time(t: int, expected: list[int]) -> None:
    prev = CardState(
        last_ms=90_000, recent_ms=[10_000, 70_000, 80_000, 90_000], recent_amt=[1.0, 2.0, 3.0, 4.0]
    )
    times, amounts = slide_window(prev, t, max(t, prev.last_ms), 9.0, 60_000)
    assert times == expected and len(amounts) == len(times)
    assert prev.recent_ms == [10_000, 70_000, 80_000, 90_000]  # untouched
