"""Redis stays bounded: the retention sweep keeps alert memory flat, the city map is capped (real Redis)."""

from __future__ import annotations

import json
import random

import msgspec
import pytest
import redis
from kafka.consumer.fetcher import ConsumerRecord

from bridge.alert_writes import alert_commands
from bridge.batch_types import Batch, Outcome
from bridge.detection import Detector
from bridge.native import NativePath
from bridge.plan import outcome_of, plan_outcome
from bridge.processor import dead_letters, detect, encoded_states, validate_records
from bridge.retention import DAY_MS, AlertRetention
from bridge.sink import RedisSink
from bridge.state_cache import StateCache
from common.alerts import Alert
from common.keys import CITIES_MAX, OTHER_CITY, RedisKeys
from common.rules import default_rules
from dashapp.store import DashboardReader
from dashapp.store.alert_rows import row_from_alert
from dashapp.store.workflow import transition
from producer import generate
from tests.sink_support import commit
from tests.test_store_fixtures import make_alert

pytestmark = pytest.mark.integration

T0 = 1_790_000_000_000
STEP_MS = 10  # simulated: 100 alerts per second
WINDOW = 10_000  # alerts inside the retention at any time
BATCH = 2_000
KEPT_OPEN = 100  # the first alerts are never resolved: they must survive the whole run


def prefix_footprint(client: redis.Redis, keys: RedisKeys) -> tuple[int, int, int]:
    """(keys, bytes, ZSET members) under the test's prefix; bytes are MEMORY USAGE per key."""
    names = list(client.scan_iter(match=f"{keys.prefix}*", count=5_000))
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.memory_usage(name, samples=0)
        pipe.type(name)
    replies = pipe.execute()
    zsets = [name for name, kind in zip(names, replies[1::2], strict=True) if kind == b"zset"]
    pipe = client.pipeline(transaction=False)
    for name in zsets:
        pipe.zcard(name)
    return len(names), sum(int(n or 0) for n in replies[::2]), sum(pipe.execute())


def alert_batch(base: Alert, start: int) -> list[Alert]:
    return [
        msgspec.structs.replace(
            base,
            alert_id=f"a{i}",
            txn_id=f"t{i}",
            event_ms=T0 + i * STEP_MS,
            card_id=f"card-{i % 3_000}",
            merchant_id=f"m-{i % 1_000}",
        )
        for i in range(start, start + BATCH)
    ]


@pytest.mark.parametrize(
    "total", [60_000, pytest.param(1_000_000, marks=[pytest.mark.soak, pytest.mark.timeout(3000)])]
)
def test_alert_memory_stays_flat_while_alerts_flow_through(redis_client, keys, total: int) -> None:
    """Alerts written by the bridge's writer, resolved by the workflow's writes, swept by retention."""
    sink = RedisSink(redis_client, keys, "t")
    sweeper = AlertRetention(redis_client, keys, days=WINDOW * STEP_MS / DAY_MS, per_pass=BATCH)
    base = make_alert(1, rules=("high_amount", "velocity"))
    samples: list[tuple[int, int, int]] = []
    for start in range(0, total, BATCH):
        alerts = alert_batch(base, start)
        plan = alert_commands(keys, alerts, now_ms=T0)
        for alert in alerts[KEPT_OPEN if start == 0 else 0 :]:
            plan += transition(keys, row_from_alert(alert), "resolve_fraud", "ana", note="ok", now_ms=T0)[1]
        commit(sink, plan, {})
        now_ms = alerts[-1].event_ms
        while sweeper.sweep(now_ms).swept:
            pass
        if (start + BATCH) % (total // 5) == 0:
            samples.append(prefix_footprint(redis_client, keys))
    first_keys, first_bytes, first_entries = samples[0]
    for n_keys, n_bytes, n_entries in samples[1:]:  # steady state after the first fifth
        assert n_keys <= first_keys * 1.05, samples
        assert n_bytes <= first_bytes * 1.10, samples
        assert n_entries <= first_entries * 1.05, samples  # a leaked index entry is small but counted
    kept = redis_client.zcard(keys.alert_index)
    assert WINDOW <= kept <= WINDOW + BATCH + KEPT_OPEN
    report = redis_client.hgetall(keys.alert_retention)
    assert int(report[b"kept_unresolved"]) == KEPT_OPEN  # reported, not dropped
    open_ids = [f"a{i}" for i in range(KEPT_OPEN)]
    assert all(redis_client.exists(keys.alert(a)) for a in open_ids)
    assert int(report[b"swept"]) == total - kept


def test_sweep_spares_reopened_and_open_alerts_and_removes_every_index_entry(redis_client, keys) -> None:
    sink = RedisSink(redis_client, keys, "t")
    alerts = [
        msgspec.structs.replace(a, event_ms=T0 + n) for n, a in enumerate(make_alert(n) for n in range(4))
    ]
    plan = alert_commands(keys, alerts, now_ms=T0)
    rows = {a.alert_id: row_from_alert(a) for a in alerts}
    first, second, third, still_new = (a.alert_id for a in alerts)
    assigned, writes = transition(keys, rows[first], "assign_to_me", "ana", note="", now_ms=T0)
    plan += writes + transition(keys, assigned, "resolve_fraud", "ana", note="", now_ms=T0)[1]
    plan += transition(keys, rows[second], "resolve_false_positive", "bo", note="", now_ms=T0)[1]
    resolved, writes = transition(keys, rows[third], "resolve_fraud", "bo", note="", now_ms=T0)
    plan += writes + transition(keys, resolved, "reopen", "bo", note="", now_ms=T0)[1]
    commit(sink, plan, {})
    report = AlertRetention(redis_client, keys, days=1).sweep(T0 + 2 * DAY_MS)
    assert report.swept == 2 and report.kept_unresolved == 2
    left = {k.decode() for k in redis_client.scan_iter(match=f"{keys.prefix}*")}
    assert not any(first in k or second in k for k in left)
    for key in left:  # no index still names a dropped alert
        if redis_client.type(key) == b"zset":
            members = {m.decode() for m in redis_client.zrange(key, 0, -1)}
            assert not members & {first, second}, key
    assert keys.alert(third) in left and keys.alert(still_new) in left
    assert keys.alerts_by_assignee("ana") not in left  # emptied ZSETs are gone


def test_a_fresh_resolved_alert_is_kept(redis_client, keys) -> None:
    alert = make_alert(5, event_ms=T0)
    plan = alert_commands(keys, [alert], now_ms=T0)
    plan += transition(keys, row_from_alert(alert), "resolve_fraud", "ana", note="", now_ms=T0)[1]
    commit(RedisSink(redis_client, keys, "t"), plan, {})
    assert AlertRetention(redis_client, keys, days=30).sweep(T0 + 29 * DAY_MS).swept == 0
    assert redis_client.exists(keys.alert(alert.alert_id))


def city_records(count: int) -> list[ConsumerRecord]:
    """Producer events, each given a random city name (the map's worst case)."""
    rng, out = random.Random(5), []
    for i, ev in enumerate(generate(seed=3, count=count, fraud_ratio=0.01)):
        body = json.loads(ev.value)
        body["city"] = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=12))
        value = json.dumps(body).encode()
        out.append(
            ConsumerRecord("t", 0, -1, i, T0 + i, 0, ev.key, value, ev.headers, None, 0, len(value), -1)
        )
    return out


def test_random_cities_leave_the_map_bounded_on_both_engine_paths(redis_client, keys) -> None:
    recs = city_records(100_000)
    detector, cache, nat = (
        Detector(default_rules()),
        StateCache(200_000),
        NativePath(default_rules(), 65_536, 200_000),
    )
    sink = RedisSink(redis_client, keys, "t")
    for n, start in enumerate(range(0, len(recs), 10_000)):
        batch = recs[start : start + 10_000]
        if n % 2:  # odd batches: the native engine; even: the Python engine
            res = nat.detect(
                batch, detector, 1, dict.fromkeys(nat.scan(batch)), state_key_prefix=keys.card_state("")
            )
            nat.commit()
            outcome = Outcome(
                res.tally, res.alerted, dead_letters(res.rejected), res.states, {}, res.scored, res.packed
            )
        else:
            det = detect(validate_records(batch, 65_536), detector, 1, cache.get, {})
            cache.put_many((c, p, s) for c, (p, s) in det.states.items())
            outcome = outcome_of(
                Batch(det.scored, dead_letters(det.rejected), encoded_states(det.states), {}),
                detector.rules.currency,
            )
        commit(sink, plan_outcome(keys, "t", outcome, T0, 600), {})
    for key in (keys.city_txns, keys.city_alerts, keys.city_geo):
        assert redis_client.hlen(key) <= CITIES_MAX + 1, key
    cities = DashboardReader(redis_client, keys).cities()
    assert len(cities) == CITIES_MAX + 1
    other = next(c for c in cities if c.city == OTHER_CITY)
    assert other.txns == len(recs) - CITIES_MAX and other.lat is None  # counted, not lost
    assert sum(c.txns for c in cities) == len(recs)
    assert sum(c.alerts for c in cities) == int(redis_client.hget(keys.totals, "alerts") or 0)
