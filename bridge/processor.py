"""Turn polled records into a Batch: validate, run detection over card states, collect dead letters."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bridge.batch_types import DeadLetter, Detected, Polled, RecordMeta, Scored
from bridge.detection import CardState, Detector, decode_state, encode_state, make_alert
from bridge.validation import DETECTOR, Rejected, preview, validate
from common.schema import (
    HEADER_SCENARIO,
    HEADER_SCENARIO_ID,
    HEADER_SCENARIO_LAST,
    Transaction,
    decode_event,
    scenario_label,
)

logger = logging.getLogger(__name__)


def _truth(headers: Iterable[tuple[str, bytes]]) -> tuple[str | None, str | None, bool]:
    """(scenario label, instance id, whether this is the instance's last event) from the headers."""
    scenario = scenario_id = None
    last = False
    for name, value in headers:
        if value is None:
            continue
        if name == HEADER_SCENARIO:
            scenario = scenario_label(value)
        elif name == HEADER_SCENARIO_ID:
            scenario_id = value.decode("utf-8", errors="replace")[:128]
        elif name == HEADER_SCENARIO_LAST:
            last = True
    return scenario, scenario_id, last


def validate_records(records: Iterable[Any], max_bytes: int) -> list[Polled]:
    """Validate consumer records (in order); never raises on record content."""
    out: list[Polled] = []
    append = out.append
    for rec in records:
        value, headers = rec.value, rec.headers
        if value is not None and len(value) <= max_bytes:
            try:  # fast path; validate() below classifies every failure
                result: Transaction | Rejected = decode_event(value)
            except Exception:
                result = validate(value, max_bytes)
        else:
            result = validate(value, max_bytes)
        if headers:
            scenario, sid, last = _truth(headers)
            meta = RecordMeta(rec.partition, rec.offset, rec.timestamp, scenario, sid, last)
        else:
            meta = RecordMeta(rec.partition, rec.offset, rec.timestamp)
        append(Polled(meta, rec, result))
    return out


def missing_cards(polled: Iterable[Polled], cached: Callable[[str], bool]) -> list[str]:
    """Distinct card ids of valid events whose state is not in the in-process cache."""
    seen: dict[str, None] = {}
    for item in polled:
        ev = item.result
        if not isinstance(ev, Rejected) and ev.card_id not in seen and not cached(ev.card_id):
            seen[ev.card_id] = None
    return list(seen)


def evaluate(
    item: Polled, ev: Transaction, detector: Detector, rules_version: int, state: CardState | None
) -> tuple[Scored, CardState] | Polled:
    """Score one valid event; a detector failure comes back as the record bound for the DLQ."""
    try:
        decision, new_state = detector.evaluate(ev, state)
        alert = make_alert(ev, decision, rules_version) if decision.is_alert else None
    except Exception as exc:  # one poison event must not stall its partition
        logger.exception(
            "bridge: detector failed partition=%s offset=%s", item.meta.partition, item.meta.offset
        )
        return item._replace(result=Rejected(DETECTOR, f"detector: {type(exc).__name__}: {exc}"[:500]))
    return Scored(item.meta, ev, decision.score, decision.severity, alert), new_state


def detect(
    polled: list[Polled],
    detector: Detector,
    rules_version: int,
    cached: Callable[[str], CardState | None],
    loaded: Mapping[str, bytes | None],
) -> Detected:
    """Evaluate every valid event in order, threading each card's state through the batch."""
    scored: list[Scored] = []
    rejected: list[Polled] = []
    states: dict[str, tuple[int, CardState]] = {}
    for item in polled:
        ev = item.result
        if isinstance(ev, Rejected):
            rejected.append(item)
            continue
        card = ev.card_id
        hit = states.get(card)
        state = hit[1] if hit is not None else cached(card)
        if state is None and card in loaded:
            raw = loaded[card]
            state = decode_state(raw) if raw is not None else None
        done = evaluate(item, ev, detector, rules_version, state)
        if isinstance(done, Polled):
            rejected.append(done)
            continue
        states[card] = (item.meta.partition, done[1])
        scored.append(done[0])
    return Detected(scored, rejected, states)


def dead_letters(rejected: Iterable[Polled]) -> list[DeadLetter]:
    """The Redis-side record of rejected records (reason + bounded preview)."""
    out = []
    for item in rejected:
        assert isinstance(item.result, Rejected)
        out.append(
            DeadLetter(item.meta, item.result.reason_class, item.result.reason, preview(item.record.value))
        )
    return out


def encoded_states(states: Mapping[str, tuple[int, CardState]]) -> dict[str, bytes]:
    """card_id -> state bytes for the write plan."""
    return {card: encode_state(state) for card, (_, state) in states.items()}
