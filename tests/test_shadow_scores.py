"""A shadow rule set reads the batch's model scores as the live one does (so the native gate, which
reads them too, agrees with Python), and its failures count across the copies with_scores makes."""

from __future__ import annotations

import msgspec

from bridge.detection import Detector
from bridge.shadow import ShadowSet, ShadowTee
from common.rulelang.document import parse_custom
from common.rules import RulesConfig, default_rules
from common.schema import Transaction, decode_event
from tests.streams import generated

HIGH = {
    "id": "shadow_model",
    "name": "Model high (draft)",
    "enabled": True,
    "score": 0.9,
    "when": {"feature": "model_score", "op": "ge", "value": 0.7},
    "explain": "model high",
}


class Scores:
    """Every event scores `value` (bridge.detection.facts.EventScores)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, event: Transaction) -> float:
        return self.value

    def reasons(self, event: Transaction) -> str:
        return ""


def with_rule(rule: dict[str, object]) -> RulesConfig:
    return msgspec.structs.replace(default_rules(), custom=(parse_custom(rule, "rules[7]"),))


def quiet_event() -> Transaction:
    for value, _, _ in generated(200, seed=1):
        event = decode_event(value)
        if not Detector(default_rules()).evaluate(event, None)[0].is_alert:
            return event
    raise AssertionError("no quiet event in the stream")


def test_the_shadow_set_reads_the_scores_the_live_set_reads() -> None:
    event = quiet_event()
    tee = ShadowTee(Detector(default_rules()), ShadowSet(3, Detector(with_rule(HIGH))))
    tee.with_scores(Scores(0.2)).evaluate(event, None)
    assert tee.found == []  # 0.2: the draft does not fire
    live, _ = tee.with_scores(Scores(0.9)).evaluate(event, None)
    assert not live.is_alert  # the live set has no model rule
    [(seen, decision, shadow)] = tee.found  # the copies share what they found
    assert seen is event and not decision.is_alert
    assert shadow is not None and [r.rule for r in shadow.reasons] == ["shadow_model"]


def test_shadow_failures_count_across_copies() -> None:
    class Broken(Detector):
        def evaluate(self, event, state):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    tee = ShadowTee(Detector(default_rules()), ShadowSet(3, Broken(default_rules())))
    tee.with_scores(Scores(0.5)).evaluate(quiet_event(), None)
    assert tee.failed == 1
