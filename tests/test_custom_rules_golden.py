"""The default rule set raises exactly the alerts recorded from the engine before custom rules existed.

The fixture was written by `python -m tests.test_custom_rules_golden` on the engine as it was
before rules became data (issue #15 item 2): the default producer mix, one fixed seed, every
event through the pure Detector with the card states kept in a dict. Regenerate it only when a
change to the built-in rules is meant to change alerts, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from bridge.detection import CardState, Detector, encode_state
from common.rules import default_rules
from producer import Generator, World

SEED = 7
EVENTS = 100_000
START_MS = 1_796_083_200_000  # 2026-12-01T00:00:00Z, as bench.fresh_quality anchors its streams
FIXTURE = Path(__file__).parent / "fixtures" / f"default_alerts_seed{SEED}.json"


def run_default_rules(seed: int = SEED, count: int = EVENTS) -> dict[str, Any]:
    """Alerts (txn id, rules fired, texts, score, severity) and a digest of the final card states."""
    detector, states = Detector(default_rules()), dict[str, CardState]()
    alerts: list[dict[str, Any]] = []
    for ev in Generator(World.build(seed), seed, start_ms=START_MS).take(count):
        txn = ev.event
        decision, states[txn.card_id] = detector.evaluate(txn, states.get(txn.card_id))
        if decision.is_alert:
            alerts.append(
                {
                    "txn_id": txn.txn_id,
                    "rules": [r.rule for r in decision.reasons],
                    "texts": [r.text for r in decision.reasons],
                    "score": decision.score,
                    "severity": decision.severity,
                }
            )
    digest = hashlib.sha256()
    for card in sorted(states):
        digest.update(card.encode() + b"\0" + encode_state(states[card]) + b"\n")
    return {
        "seed": seed,
        "events": count,
        "start_ms": START_MS,
        "alerts": alerts,
        "states_sha256": digest.hexdigest(),
    }


def test_default_rules_raise_exactly_the_recorded_alerts() -> None:
    want = json.loads(FIXTURE.read_text())
    got = run_default_rules(want["seed"], want["events"])
    assert len(want["alerts"]) >= 100  # the stream carries enough fraud for the comparison to bite
    assert got["alerts"] == want["alerts"]
    # with no custom rule every card's state is the cs1 array, byte for byte as before
    assert got["states_sha256"] == want["states_sha256"]


if __name__ == "__main__":  # regenerate: python -m tests.test_custom_rules_golden
    body = run_default_rules()
    rows = ",\n".join(json.dumps(a) for a in body.pop("alerts"))  # one alert a line: reviewable diffs
    FIXTURE.write_text(json.dumps(body)[:-1] + ', "alerts": [\n' + rows + "\n]}\n")
    sys.stdout.write(f"wrote {FIXTURE}\n")
