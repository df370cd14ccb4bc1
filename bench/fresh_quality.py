"""Event precision over the first events of fresh runs, through the pure engine (no I/O)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.stats import summarize
from bridge.detection import CardState, Detector
from common.rules import default_rules
from producer import Generator, World

FRESH_EVENTS = 2_000
FRESH_SEEDS = tuple(range(20))  # `make run` draws a random stream seed each start
START_MS = 1_796_083_200_000


def first_events(world: World, seed: int, count: int) -> tuple[int, Counter[str]]:
    """(true alerts, false alerts by rule) over the first `count` events of a fresh stream."""
    detector, states = Detector(default_rules()), dict[str, CardState]()
    true, false = 0, Counter[str]()
    for ev in Generator(world, seed, start_ms=START_MS).take(count):
        txn = ev.event
        decision, states[txn.card_id] = detector.evaluate(txn, states.get(txn.card_id))
        if decision.is_alert and ev.is_fraud:
            true += 1
        elif decision.is_alert:
            false.update(r.rule for r in decision.reasons)
    return true, false


def fresh_precision(count: int = FRESH_EVENTS, seeds: tuple[int, ...] = FRESH_SEEDS) -> dict[str, Any]:
    """Precision per fresh run of `make run`'s world (world seed 0), empty state, over `seeds`."""
    world = World.build(0)
    precision: list[float] = []
    alerts = 0
    false_by_rule: Counter[str] = Counter()
    for seed in seeds:
        true, false = first_events(world, seed, count)
        wrong = sum(false.values())
        alerts += true + wrong
        false_by_rule.update(false)
        precision.append(true / (true + wrong) if true + wrong else float("nan"))
    return {
        "events_per_run": count,
        "seeds": len(seeds),
        "event_precision": summarize(precision),
        "worst_run_precision": min(precision),
        "alerts": alerts,
        "false_alerts_by_rule": dict(false_by_rule),
    }
