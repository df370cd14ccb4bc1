"""Ground truth in the bridge (pure): scenario labels from headers, finished instances, the plan."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from kafka.consumer.fetcher import ConsumerRecord

from bridge.batch_types import Batch, RecordMeta, Scored
from bridge.plan import build_plan, tally_scored
from bridge.processor import validate_records
from bridge.truth import FINISH, OPEN_IDS
from common.keys import EVAL_OPEN_MAX, RedisKeys
from common.schema import (
    FRAUD_SCENARIOS,
    HEADER_SCENARIO,
    HEADER_SCENARIO_ID,
    HEADER_SCENARIO_LAST,
    OTHER_SCENARIO,
    Transaction,
    encode_event,
    scenario_label,
)

KEYS = RedisKeys("p:")
LABELS = {"normal", *FRAUD_SCENARIOS, OTHER_SCENARIO}


def txn(i: int) -> Transaction:
    return Transaction(
        txn_id=f"t{i}",
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        card_id=f"c{i % 7}",
        account_id="a1",
        amount=12.5,
        currency="EUR",
        merchant_id="m1",
        merchant_category="grocery",
        city="Paris",
        lat=48.85,
        lon=2.35,
        channel="pos",
    )


def record(i: int, headers: list[tuple[str, bytes]]) -> ConsumerRecord:
    value = encode_event(txn(i))
    return ConsumerRecord("t", 0, -1, i, 1_000, 0, b"k", value, headers, None, 1, len(value), -1)


def random_name(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))


def test_scenario_headers_map_to_a_bounded_set_of_labels() -> None:
    rng = random.Random(3)
    names = [random_name(rng) for _ in range(10_000)]
    assert {scenario_label(n) for n in names} == {OTHER_SCENARIO}
    assert scenario_label(b"velocity_burst") == "velocity_burst" and scenario_label(b"normal") == "normal"
    assert scenario_label(b"velocity_burst ") == OTHER_SCENARIO  # exact names only


def test_10000_random_scenario_names_write_a_bounded_set_of_keys_and_fields() -> None:
    rng = random.Random(7)
    headers = [
        [
            (HEADER_SCENARIO, random_name(rng) if i % 10 else rng.choice(FRAUD_SCENARIOS).encode()),
            (HEADER_SCENARIO_ID, f"id-{i}".encode()),
        ]
        for i in range(10_000)
    ]
    polled = validate_records([record(i, h) for i, h in enumerate(headers)], 4096)
    assert {p.meta.scenario for p in polled} <= LABELS
    items = [Scored(p.meta, p.result, 0.0, "low", None) for p in polled]  # type: ignore[arg-type]
    plan = build_plan(KEYS, "t", Batch(items, [], {}, {0: 10_000}), now_ms=1, card_ttl_s=60)
    keys = {c[1] for c in plan if c[0] != "EVAL"} | {c[3] for c in plan if c[0] == "EVAL" and c[2]}
    eval_keys = {k for k in keys if isinstance(k, str) and k.startswith("p:eval:")}
    assert eval_keys <= {KEYS.eval_counts} | {KEYS.eval_instances(s) for s in LABELS}
    fields = {c[2] for c in plan if c[:2] == ("HINCRBY", KEYS.eval_counts)}
    assert fields <= {f"events:{s}" for s in LABELS}


def test_the_last_header_finishes_an_instance() -> None:
    last = [(HEADER_SCENARIO, b"card_testing"), (HEADER_SCENARIO_ID, b"ct-1"), (HEADER_SCENARIO_LAST, b"1")]
    first = last[:2]
    polled = validate_records(
        [record(1, first), record(2, last), record(3, [(HEADER_SCENARIO, b"normal")])], 4096
    )
    assert [p.meta.last for p in polled] == [False, True, False]
    items = [Scored(p.meta, p.result, 0.0, "low", None) for p in polled]  # type: ignore[arg-type]
    assert tally_scored(items, {}).finished == [("card_testing", "ct-1")]


def test_the_plan_opens_marks_caught_then_finishes_in_that_order() -> None:
    ev = txn(1)
    items = [
        Scored(RecordMeta(0, 1, 5, "velocity_burst", "v1"), ev, 0.0, "low", None),
        Scored(RecordMeta(0, 2, 5, "velocity_burst", "v1", last=True), ev, 0.0, "low", None),
        Scored(RecordMeta(0, 3, 5, "normal", None, last=True), ev, 0.0, "low", None),  # not an instance
    ]
    plan = build_plan(KEYS, "t", Batch(items, [], {}, {0: 4}), now_ms=1, card_ttl_s=60)
    truth = [c for c in plan if c[:2] in {("EVAL", OPEN_IDS), ("EVAL", FINISH)}]
    assert truth == [
        (
            "EVAL",
            OPEN_IDS,
            2,
            KEYS.eval_instances("velocity_burst"),
            KEYS.eval_counts,
            EVAL_OPEN_MAX,
            "abandoned:velocity_burst",
            "v1",
        ),
        (
            "EVAL",
            FINISH,
            3,
            KEYS.eval_instances("velocity_burst"),
            KEYS.eval_caught("velocity_burst"),
            KEYS.eval_counts,
            "velocity_burst",
            "v1",
        ),
    ]
