"""The optional ml_anomaly rule: warm-up gating, bounded features, status reporting."""

from __future__ import annotations

import pytest

from bridge.detection import CardState, Detector
from bridge.detection.ml import features
from common.rules import RulesConfig, apply_changes, default_rules
from common.schema import UNKNOWN_CITY, Transaction, event_epoch_ms
from tests.test_detection_rules import ev, only


def ml_rules(warmup: int, threshold: float = 0.0) -> RulesConfig:
    return only("ml_anomaly", warmup=warmup, threshold=threshold)


def test_ml_is_off_by_default_and_builds_no_model() -> None:
    status = Detector(default_rules()).ml_status()
    assert (status.enabled, status.seen, status.warm) == (False, 0, False)


def test_ml_never_fires_during_warm_up_then_fires_at_threshold_zero() -> None:
    detector, state, fired = Detector(ml_rules(warmup=30)), None, []
    for i in range(60):
        decision, state = detector.evaluate(ev(i * 90.0, 20.0 + i % 9), state)
        fired.append(any(r.rule == "ml_anomaly" for r in decision.reasons))
    assert fired[:30] == [False] * 30 and all(fired[30:])
    status = detector.ml_status()
    assert (status.enabled, status.seen, status.warmup, status.warm) == (True, 60, 30, True)


def test_ml_high_threshold_stays_quiet_on_ordinary_spend() -> None:
    detector, state = Detector(ml_rules(warmup=0, threshold=1.0)), None
    for i in range(300):
        decision, state = detector.evaluate(ev(i * 90.0, 20.0 + i % 9), state)
        assert not decision.reasons


@pytest.mark.parametrize(
    "event",
    [
        ev(0, 999_999.0, city=UNKNOWN_CITY, channel="online"),
        ev(10**6, 0.01, city="Tokyo", channel="atm"),
        ev(0, 40.0),
    ],
)
@pytest.mark.parametrize(
    "prev", [CardState(), CardState(last_ms=10**15, lat=51.5, lon=-0.1, n=9, log_mean=9.0)]
)
def test_features_stay_in_the_unit_interval(event: Transaction, prev: CardState) -> None:
    x = features(event, event_epoch_ms(event), prev)
    assert set(x) >= {"amount", "hour", "online", "atm", "km", "gap", "ratio"}
    assert all(0.0 <= v <= 1.0 for v in x.values()), x


def test_enabling_ml_later_builds_a_model_and_disabling_keeps_it() -> None:
    detector = Detector(default_rules())
    on = detector.with_rules(apply_changes(default_rules(), {"ml_anomaly": {"enabled": True}}))
    on.evaluate(ev(0), None)
    assert on.ml_status().seen == 1
    assert on.with_rules(default_rules()).with_rules(on.rules).ml_status().seen == 1
