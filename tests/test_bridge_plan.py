"""Pure bridge logic: write-plan builder, validation classes, fence rule, cache, backoff, percentiles."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from bridge.alert_writes import ADD_IF_NEW, CITY_COUNTS
from bridge.backoff import Backoff
from bridge.batch_types import Batch, DeadLetter, RecordMeta, Scored
from bridge.detection import CardState
from bridge.health import percentiles
from bridge.plan import SET_STATES, XADD_ROWS, build_plan, txn_row
from bridge.resp import pack
from bridge.sink import fence_conflicts
from bridge.state_cache import StateCache
from bridge.truth import FINISH, OPEN_IDS
from bridge.validation import EMPTY, MALFORMED, SCHEMA, TOO_LARGE, Rejected, preview, validate
from common.alerts import Alert, Reason, alert_id_for
from common.keys import DLQ_SAMPLES_MAX, RECENT_TXNS_MAX, SECOND_BUCKET_TTL_S, RedisKeys
from common.schema import Transaction, encode_event

KEYS = RedisKeys("p:")
T0 = 1_800_000_000_000


def event(i: int, amount: float = 10.25, city: str = "Paris", card: str = "c1") -> Transaction:
    return Transaction(
        txn_id=f"t{i}",
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        card_id=card,
        account_id="a1",
        amount=amount,
        currency="EUR",
        merchant_id="m1",
        merchant_category="grocery",
        city=city,
        country="FR",
        lat=48.85,
        lon=2.35,
        channel="pos",
    )


def alert_for(ev: Transaction, rules: tuple[str, ...], severity: str = "high") -> Alert:
    return Alert(
        alert_id=alert_id_for(ev.txn_id),
        txn_id=ev.txn_id,
        ts="2026-01-01T00:00:00.000Z",
        event_ms=T0,
        card_id=ev.card_id,
        account_id=ev.account_id,
        amount=ev.amount,
        currency=ev.currency,
        merchant_id=ev.merchant_id,
        merchant_category=ev.merchant_category,
        city=ev.city,
        channel=ev.channel,
        score=0.9,
        severity=severity,  # type: ignore[arg-type]
        reasons=tuple(Reason(r, 1.0, 0.5, r) for r in rules),
        rules_version=3,
    )


def scored(
    i: int,
    ts_ms: int,
    alert_rules: tuple[str, ...] = (),
    scenario: str | None = None,
    sid: str | None = None,
    amount: float = 10.25,
    city: str = "Paris",
) -> Scored:
    ev = event(i, amount, city)
    alert = alert_for(ev, alert_rules) if alert_rules else None
    return Scored(
        RecordMeta(0, i, ts_ms, scenario, sid), ev, 0.9 if alert else 0.0, "high" if alert else "low", alert
    )


def plan_of(batch: Batch) -> list[Any]:
    return build_plan(KEYS, "topic", batch, now_ms=T0 + 5, card_ttl_s=600)


def commands(plan: list[tuple], name: str, key: str | None = None) -> list[tuple]:
    return [c for c in plan if c[0] == name and (key is None or c[1] == key)]


def city_groups(plan: list[tuple]) -> list[tuple]:
    """(city, transactions, alerts) of the plan's one capped city update."""
    (call,) = [c for c in plan if c[:2] == ("EVAL", CITY_COUNTS)]
    assert call[2:6] == (3, KEYS.city_txns, KEYS.city_alerts, KEYS.city_geo)
    groups = call[8:]
    return [tuple(groups[i : i + 3]) for i in range(0, len(groups), 4)]


def txn_rows(plan: list[tuple]) -> list[bytes]:
    """The rows the plan appends to the `txns` stream (one script call for the whole batch)."""
    calls = [c for c in plan if c[:4] == ("EVAL", XADD_ROWS, 1, KEYS.txns)]
    assert len(calls) <= 1
    return [row for call in calls for row in call[5:]]


def test_counters_are_aggregated_to_one_command_per_field() -> None:
    items = [scored(i, T0 + i * 10) for i in range(50)] + [scored(50, T0 + 1500, ("velocity", "high_amount"))]
    plan = plan_of(Batch(items, [], {}, {0: 51}))
    incr = commands(plan, "HINCRBY", KEYS.totals)
    assert sorted((c[2], c[3]) for c in incr) == [
        ("alerts", 1),
        ("alerts:high_amount", 1),
        ("alerts:velocity", 1),
        ("txns", 51),
    ]
    sec0, sec1 = KEYS.second(T0 // 1000), KEYS.second(T0 // 1000 + 1)
    assert ("HINCRBY", sec0, "txns", 50) in plan and ("HINCRBY", sec1, "txns", 1) in plan
    assert ("HINCRBYFLOAT", KEYS.totals, "amount", 51 * 10.25) in plan
    assert ("HINCRBYFLOAT", sec0, "amount", 50 * 10.25) in plan
    assert ("EXPIRE", sec0, SECOND_BUCKET_TTL_S) in plan and ("EXPIRE", sec1, SECOND_BUCKET_TTL_S) in plan
    assert city_groups(plan) == [("Paris", 51, 1)]
    keys_fields = [(c[1], c[2]) for c in plan if c[0] in ("HINCRBY", "HINCRBYFLOAT")]
    assert len(keys_fields) == len(set(keys_fields)), "a field is incremented twice"


def test_amount_sums_are_exact_in_cents() -> None:
    items = [scored(i, T0, amount=0.1) for i in range(3)]
    plan = plan_of(Batch(items, [], {}, {0: 3}))
    assert ("HINCRBYFLOAT", KEYS.totals, "amount", 0.3) in plan  # not 0.30000000000000004


def test_alert_records_streams_and_banner() -> None:
    item = scored(7, T0, ("high_amount",))
    plan = plan_of(Batch([item, scored(8, T0)], [], {}, {0: 9}))
    assert item.alert is not None
    aid = item.alert.alert_id
    hsetnx = {c[2]: c[3] for c in commands(plan, "HSETNX", KEYS.alert(aid))}
    assert hsetnx["status"] == "new" and hsetnx["version"] == 1 and hsetnx["assignee"] == ""
    assert hsetnx["updated_by"] == "bridge" and hsetnx["updated_at"] == T0 + 5
    assert msgspec.json.decode(hsetnx["d"], type=Alert) == item.alert
    assert commands(plan, "HSET", KEYS.alert(aid)) == [], "an existing alert's workflow could be reset"
    assert ("ZADD", KEYS.alert_index, T0, aid) in plan
    for key in (KEYS.alerts_by_card("c1"), KEYS.alerts_by_merchant("m1"), KEYS.alerts_by_rule("high_amount")):
        assert ("ZADD", key, T0, aid) in plan
    if_new = [c for c in commands(plan, "EVAL") if c[1] == ADD_IF_NEW]
    new = KEYS.alerts_by_status("new")
    assert if_new == [("EVAL", ADD_IF_NEW, 3, KEYS.alert(aid), new, KEYS.banner, T0, aid)]
    assert len(commands(plan, "XADD", KEYS.alerts)) == 1
    rows = [json.loads(r) for r in txn_rows(plan)]
    assert [(r["txn_id"], r["alert"], r["rt"]) for r in rows] == [("t7", True, T0), ("t8", False, T0)]
    assert rows[0]["severity"] == "high" and rows[0]["amount"] == 10.25 and rows[0]["city"] == "Paris"


def test_medium_alert_is_not_on_the_banner() -> None:
    item = scored(1, T0, ("velocity",))
    assert item.alert is not None
    medium = item._replace(alert=msgspec.structs.replace(item.alert, severity="medium"))
    plan = plan_of(Batch([medium], [], {}, {0: 2}))
    assert commands(plan, "ZADD", KEYS.banner) == []
    if_new = [c for c in commands(plan, "EVAL") if c[1] == ADD_IF_NEW]
    assert if_new == [
        (
            "EVAL",
            ADD_IF_NEW,
            2,
            KEYS.alert(medium.alert.alert_id),
            KEYS.alerts_by_status("new"),
            T0,
            medium.alert.alert_id,
        )
    ]


def test_txns_stream_gets_only_the_newest_events_of_a_big_batch() -> None:
    items = [scored(i, T0) for i in range(RECENT_TXNS_MAX + 25)]
    plan = plan_of(Batch(items, [], {}, {0: len(items)}))
    rows = txn_rows(plan)
    assert len(rows) == RECENT_TXNS_MAX
    assert json.loads(rows[0])["txn_id"] == "t25" and json.loads(rows[-1])["txn_id"] == f"t{len(items) - 1}"
    (call,) = [c for c in plan if c[:2] == ("EVAL", XADD_ROWS)]
    assert call[4] == RECENT_TXNS_MAX, "the stream must be trimmed to its bound"


def test_dead_letters_counted_and_samples_bounded() -> None:
    dead = [
        DeadLetter(RecordMeta(1, 100 + i, T0), "schema" if i % 2 else "malformed_json", f"r{i}", "x" * 5)
        for i in range(DLQ_SAMPLES_MAX + 10)
    ]
    plan = plan_of(Batch([], dead, {}, {1: 100 + len(dead)}))
    assert ("HINCRBY", KEYS.dlq_reasons, "schema", 30) in plan
    assert ("HINCRBY", KEYS.dlq_reasons, "malformed_json", 30) in plan
    assert ("HINCRBY", KEYS.totals, "dlq", 60) in plan and (
        "HINCRBY",
        KEYS.second(T0 // 1000),
        "dlq",
        60,
    ) in plan
    (push,) = commands(plan, "LPUSH", KEYS.dlq_samples)
    samples = [json.loads(x) for x in push[2:]]
    assert len(samples) == DLQ_SAMPLES_MAX and samples[-1]["offset"] == 100 + len(dead) - 1
    assert set(samples[0]) == {"partition", "offset", "reason", "preview"}
    assert ("LTRIM", KEYS.dlq_samples, 0, DLQ_SAMPLES_MAX - 1) in plan


def test_ground_truth_counts() -> None:
    items = [
        scored(1, T0, ("velocity",), "velocity_burst", "s1"),
        scored(2, T0, (), "velocity_burst", "s1"),
        scored(3, T0, (), "card_testing", "s2"),
        scored(4, T0, ("high_amount",), "normal"),
        scored(5, T0),  # no headers: not part of the evaluation
    ]
    plan = plan_of(Batch(items, [], {}, {0: 6}))
    counts = {c[2]: c[3] for c in commands(plan, "HINCRBY", KEYS.eval_counts)}
    assert counts == {
        "events:velocity_burst": 2,
        "alerted:velocity_burst": 1,
        "tp:velocity": 1,
        "events:card_testing": 1,
        "events:normal": 1,
        "alerted:normal": 1,
        "fp:high_amount": 1,
    }
    opened = {c[3]: c[7:] for c in plan if c[:2] == ("EVAL", OPEN_IDS)}
    assert opened == {
        KEYS.eval_instances("velocity_burst"): ("s1",),
        KEYS.eval_instances("card_testing"): ("s2",),
        KEYS.eval_caught("velocity_burst"): ("s1",),
    }
    assert not [c for c in plan if c[:2] == ("EVAL", FINISH)]  # no last event: nothing finished


def test_states_offsets_and_bookkeeping_close_the_plan() -> None:
    plan = plan_of(Batch([scored(1, T0)], [], {"c1": b"[1]"}, {2: 11, 0: 2}))
    assert ("EVAL", SET_STATES, 1, KEYS.card_state("c1"), 600, b"[1]") in plan
    assert plan[-3:] == [
        ("HSET", KEYS.offsets("topic"), 0, 2, 2, 11),
        ("INCR", KEYS.seq),
        ("SET", KEYS.last_write, T0 + 5),
    ]
    (call,) = [c for c in plan if c[:2] == ("EVAL", CITY_COUNTS)]
    assert call[-1] == b'{"lat":48.85,"lon":2.35,"country":"FR"}'


def test_txn_row_is_event_json_plus_verdict() -> None:
    item = scored(1, T0 + 7, ("velocity",))
    row = json.loads(txn_row(item))
    base = json.loads(encode_event(item.event))
    assert {k: row[k] for k in base if k != "ts"} == {k: v for k, v in base.items() if k != "ts"}
    assert datetime.fromisoformat(row["ts"]) == item.event.ts
    assert (row["alert"], row["score"], row["severity"], row["rt"]) == (True, 0.9, "high", T0 + 7)


GOOD = encode_event(event(1))


@pytest.mark.parametrize(
    ("raw", "reason_class"),
    [
        (None, EMPTY),
        (b"", MALFORMED),
        (b"\xff\xfe\x00garbage", MALFORMED),
        (b'{"txn_id": "t1"', MALFORMED),
        (b"[" * 60_000, SCHEMA),
        (b'{"a":' * 10_000, MALFORMED),
        (b"null", SCHEMA),
        (b'{"txn_id": "t1"}', SCHEMA),
        (GOOD.replace(b'"amount":10.25', b'"amount":-1'), SCHEMA),
        (GOOD.replace(b'"channel":"pos"', b'"channel":"p\xffs"'), MALFORMED),
        (GOOD[:-1] + b',"pad":"' + b"x" * 70_000 + b'"}', TOO_LARGE),
    ],
)
def test_validation_classifies_every_bad_value(raw: bytes | None, reason_class: str) -> None:
    result = validate(raw, max_bytes=65_536)
    assert isinstance(result, Rejected) and result.reason_class == reason_class, result
    assert result.reason and "\n" not in result.reason


def test_valid_event_passes_and_preview_survives_bad_utf8() -> None:
    assert validate(GOOD, 65_536) == event(1)
    assert preview(b"\xff" * 500) == "\ufffd" * 200
    assert preview(None) == ""


def test_fence_rule() -> None:
    assert fence_conflicts({0: 10, 1: 0}, {0: 10, 1: None}, {}) == {}
    assert fence_conflicts({0: 5}, {0: 10}, {0: 5}) == {0: 10}  # already applied by someone else
    assert fence_conflicts({0: 12}, {0: 10}, {0: 3}) == {0: 10}  # a gap we did not fetch across
    assert fence_conflicts({0: 12}, {0: 10}, {0: 10}) == {}  # Kafka skipped offsets 10, 11


def test_state_cache_is_bounded_lru_and_drops_by_partition() -> None:
    cache = StateCache(3)
    cache.put_many([("a", 0, CardState(n=1)), ("b", 1, CardState(n=2)), ("c", 0, CardState(n=3))])
    assert cache.get("a") == CardState(n=1)  # a is now the most recent
    cache.put_many([("d", 2, CardState(n=4))])
    assert "b" not in cache and len(cache) == 3
    assert cache.drop_partitions([0]) == 2
    assert "d" in cache and len(cache) == 1


def test_backoff_is_capped_and_resets() -> None:
    b = Backoff(0.1, 0.5)
    assert [b.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    b.reset()
    assert b.next() == 0.1


def test_percentiles_nearest_rank() -> None:
    assert percentiles([]) == {}
    stats = percentiles(float(x) for x in range(1, 101))
    assert stats == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}


def test_pack_matches_resp() -> None:
    assert pack([("SET", "k", b"v", "EX", 5), ("INCRBYFLOAT", "f", 0.5)]) == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nEX\r\n$1\r\n5\r\n"
        b"*3\r\n$11\r\nINCRBYFLOAT\r\n$1\r\nf\r\n$3\r\n0.5\r\n"
    )
    with pytest.raises(TypeError):
        pack([("SET", "k", None)])  # type: ignore[list-item]
