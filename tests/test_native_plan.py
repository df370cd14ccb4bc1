"""The native path's packed write plan is byte-for-byte the Python path's transaction."""

from __future__ import annotations

import pytest
from kafka.consumer.fetcher import ConsumerRecord

from bridge.batch_types import Batch, Outcome
from bridge.detection import Detector
from bridge.native import NativePath
from bridge.plan import outcome_of, plan_outcome
from bridge.processor import dead_letters, detect, encoded_states, validate_records
from bridge.resp import RawCommand, pack
from bridge.state_cache import StateCache
from common.keys import RedisKeys
from common.rules import default_rules
from producer import generate

KEYS = RedisKeys("np:")
MAX_BYTES = 65_536
T0_MS = 1_796_000_000_000


def records(count: int, seed: int, fraud_ratio: float) -> list[ConsumerRecord]:
    out = []
    for i, ev in enumerate(generate(seed=seed, count=count, fraud_ratio=fraud_ratio)):
        value = ev.value if i % 97 else b'{"txn_id": 1}'  # a dead letter now and then
        out.append(
            ConsumerRecord(
                "t", i % 3, -1, i, T0_MS + i * 7, 0, ev.key, value, ev.headers, None, 0, len(value), -1
            )
        )
    return out


def python_plans(batches: list[list[ConsumerRecord]]) -> list[bytes]:
    detector, cache, out = Detector(default_rules()), StateCache(100_000), []
    for n, batch in enumerate(batches):
        polled = validate_records(batch, MAX_BYTES)
        det = detect(polled, detector, 1, cache.get, {})
        cache.put_many((c, p, s) for c, (p, s) in det.states.items())
        outcome = outcome_of(
            Batch(det.scored, dead_letters(det.rejected), encoded_states(det.states), {0: n}),
            detector.rules.currency,
        )
        out.append(pack(plan_outcome(KEYS, "t", outcome, T0_MS, 600)))
    return out


def native_plans(batches: list[list[ConsumerRecord]]) -> tuple[list[bytes], int]:
    detector, nat, out, raw = (
        Detector(default_rules()),
        NativePath(default_rules(), MAX_BYTES, 100_000),
        [],
        0,
    )
    for n, batch in enumerate(batches):
        loaded: dict[str, bytes | None] = dict.fromkeys(nat.scan(batch))
        res = nat.detect(batch, detector, 1, loaded, state_key_prefix=KEYS.card_state(""))
        nat.commit()
        dead = dead_letters(res.rejected)
        outcome = Outcome(res.tally, res.alerted, dead, res.states, {0: n}, res.scored, res.packed)
        plan = plan_outcome(KEYS, "t", outcome, T0_MS, 600)
        raw += sum(type(c) is RawCommand for c in plan)
        out.append(pack(plan))
    return out, raw


@pytest.mark.parametrize("fraud_ratio", [0.02, 0.3])
def test_packed_native_plan_equals_the_python_plan(fraud_ratio: float) -> None:
    recs = records(6_000, seed=11, fraud_ratio=fraud_ratio)
    batches = [recs[i : i + 500] for i in range(0, len(recs), 500)]
    expected = python_plans(batches)
    got, raw_commands = native_plans(batches)
    assert raw_commands == 2 * len(batches)  # rows and states really came packed
    for n, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have == want, f"batch {n} differs"
