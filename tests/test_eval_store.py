"""Ground truth through real Redis: the bridge's eval writes as the dashboard's quality reads them."""

from __future__ import annotations

import random

import pytest

from bridge.batch_types import Batch, RecordMeta, Scored
from bridge.plan import build_plan
from bridge.processor import validate_records
from common.keys import EVAL_OPEN_MAX
from common.schema import FRAUD_SCENARIOS, HEADER_SCENARIO, HEADER_SCENARIO_ID, OTHER_SCENARIO
from dashapp.store.health import read_quality
from tests.test_bridge_plan import alert_for
from tests.test_eval_truth import record, txn

pytestmark = pytest.mark.integration


def write(client, keys, items: list[Scored]) -> None:
    pipe = client.pipeline(transaction=True)
    for command in build_plan(keys, "t", Batch(items, [], {}, {0: 1}), now_ms=1, card_ttl_s=60):
        pipe.execute_command(*command)
    pipe.execute()


def item(i: int, scenario: str, sid: str | None, *, last: bool = False, alert: bool = False) -> Scored:
    ev = txn(i)
    hit = alert_for(ev, ("velocity",)) if alert else None
    return Scored(RecordMeta(0, i, 1_000, scenario, sid, last), ev, 0.9 if hit else 0.0, "low", hit)


def by_scenario(client, keys):
    return {s.scenario: s for s in read_quality(client, keys).scenarios}


def test_an_instance_is_missed_only_once_its_last_event_was_processed(redis_client, keys):
    write(
        redis_client,
        keys,
        [
            item(1, "velocity_burst", "v1", alert=True),  # caught early, still in progress
            item(2, "velocity_burst", "v2"),  # its decisive event is still to come
            item(3, "card_testing", "c1", last=True),  # over, never alerted: missed
            item(4, "normal", None),
        ],
    )
    q = by_scenario(redis_client, keys)
    vb, ct = q["velocity_burst"], q["card_testing"]
    assert (vb.caught, vb.missed, vb.in_progress, vb.recall) == (0, 0, 2, None)
    assert (ct.caught, ct.missed, ct.in_progress, ct.recall) == (0, 1, 0, 0.0)
    assert q["normal"].recall is None and q["normal"].events == 1

    write(redis_client, keys, [item(5, "velocity_burst", "v1", last=True), item(6, "velocity_burst", "v2")])
    vb = by_scenario(redis_client, keys)["velocity_burst"]
    assert (vb.caught, vb.missed, vb.in_progress) == (1, 0, 1)
    assert vb.recall == 1.0  # v2 is not counted as missed while it runs

    write(redis_client, keys, [item(7, "velocity_burst", "v2", alert=True, last=True)])  # caught at the end
    vb = by_scenario(redis_client, keys)["velocity_burst"]
    assert (vb.caught, vb.missed, vb.in_progress, vb.recall) == (2, 0, 0, 1.0)
    # finished instances leave the sets: they do not grow over a long run
    assert redis_client.scard(keys.eval_instances("velocity_burst")) == 0
    assert redis_client.scard(keys.eval_caught("velocity_burst")) == 0


def test_open_instances_stay_bounded(redis_client, keys):
    extra = 25
    items = [item(i, "impossible_travel", f"it-{i}") for i in range(EVAL_OPEN_MAX + extra)]
    write(redis_client, keys, items)
    assert redis_client.scard(keys.eval_instances("impossible_travel")) == EVAL_OPEN_MAX
    assert int(redis_client.hget(keys.eval_counts, "abandoned:impossible_travel")) == extra
    assert by_scenario(redis_client, keys)["impossible_travel"].in_progress == EVAL_OPEN_MAX


def test_10000_random_scenario_names_leave_a_bounded_set_of_keys(redis_client, keys):
    rng = random.Random(11)
    records = [
        record(
            i,
            [
                (HEADER_SCENARIO, bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30)))),
                (HEADER_SCENARIO_ID, f"x-{i}".encode()),
            ],
        )
        for i in range(10_000)
    ]
    polled = validate_records(records, 4096)
    write(redis_client, keys, [Scored(p.meta, p.result, 0.0, "low", None) for p in polled])  # type: ignore[arg-type]
    written = {k.decode() for k in redis_client.scan_iter(match=f"{keys.prefix}eval:*", count=1000)}
    assert written == {keys.eval_counts, keys.eval_instances(OTHER_SCENARIO)}
    assert redis_client.hkeys(keys.eval_counts) == [f"events:{OTHER_SCENARIO}".encode()]
    assert set(by_scenario(redis_client, keys)) == {OTHER_SCENARIO}
    assert not set(FRAUD_SCENARIOS) & set(by_scenario(redis_client, keys))
