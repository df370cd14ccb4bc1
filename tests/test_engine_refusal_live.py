"""On the real stack: an aggregate custom rule raises every one of its alerts through a native bridge.

The native engine evaluates aggregates itself since issue #15 (tests/test_engine_refusal.py covers
the refusal of shapes it does not know, with every event handed to Python)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
import redis

from bridge.config import BridgeSettings, load_settings
from bridge.detection import Detector, make_alert
from common.alerts import decode_alert
from common.keys import RedisKeys
from common.rulelang.document import parse_custom
from common.rules import RulesConfig, default_rules
from common.rules_doc import RulesDoc, encode_rules_doc
from common.schema import decode_event
from dashapp.store.health import read_health
from dashapp.views.health import engine_lines
from tests.conftest import unique
from tests.native_gate import needs_native
from tests.running_bridge import RunningBridge
from tests.streams import generated, produce

pytestmark = [pytest.mark.integration, needs_native()]

# Fires on every online event (any card's max in the hour is >= 0), through an aggregate: an
# engine that skipped it, or read the card's history wrong, would call some of them quiet.
ONLINE_SEEN = {
    "id": "online_seen_today",
    "name": "Online, card active this hour",
    "description": "Every online purchase (aggregate over the card's hour).",
    "enabled": True,
    "score": 0.8,
    "when": {
        "all": [
            {"field": "channel", "op": "eq", "value": "online"},
            {"agg": "max", "of": "amount_usd", "window": "1h", "op": "ge", "value": 0, "as": "top"},
        ]
    },
    "explain": "online; top {top} this hour",
}
LINE = "native"  # the health panel's line: the native engine decides, no refusal


def rules() -> RulesConfig:
    return msgspec.structs.replace(default_rules(), custom=(parse_custom(ONLINE_SEEN, "rules[7]"),))


def expected_alerts(records: list[tuple[Any, Any, Any]], cfg: RulesConfig) -> dict[str, Any]:
    """The reference: the Python engine over the events in production order (per card, topic order)."""
    detector, states = Detector(cfg), dict[str, Any]()
    alerts = {}
    for value, _, _ in records:
        ev = decode_event(value)
        decision, states[ev.card_id] = detector.evaluate(ev, states.get(ev.card_id))
        if decision.is_alert:
            alerts[ev.txn_id] = make_alert(ev, decision, 1)
    return alerts


def eventually(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 60) -> None:
    assert eventually(check, timeout_s), f"timed out waiting for {what}"


@pytest.mark.parametrize("engine", ["native", "auto"])
def test_aggregate_custom_rule_raises_its_alerts_through_a_native_bridge(
    engine: str,
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    dlq_topic: str,
    redis_prefix: str,
    redis_client: redis.Redis,
    keys: RedisKeys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings: BridgeSettings = load_settings(
        env={},
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic=topic,
        kafka_dlq_topic=dlq_topic,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        group_id=unique("g-refusal"),
        poll_timeout_ms=50,
        batch_max=700,
        heartbeat_s=0.2,
        engine=engine,
    )
    cfg = rules()
    doc = RulesDoc(version=1, rules=cfg, updated_by="analyst", updated_at="2026-01-01T00:00:00Z")
    redis_client.set(keys.rules, encode_rules_doc(doc))  # the bridge's seed (SET NX) keeps it
    records = generated(2_000, seed=9)
    running = RunningBridge(settings)
    bridge = running.bridge
    assert bridge.engines.native is not None  # the native engine was asked for and is built
    caplog.set_level("ERROR", logger="bridge.engines")
    running.start()
    try:
        produce(kafka_bootstrap, topic, records)
        wait_for("every record", lambda: bridge.processed == len(records))
        beat = keys.bridge(settings.instance_id)
        said_why = eventually(lambda: redis_client.hget(beat, "engine") == LINE.encode(), 10)
        health = read_health(redis_client, keys, int(time.time() * 1000))
    finally:
        running.stop()
    ids: list[bytes] = redis_client.zrange(keys.alert_index, 0, -1)  # type: ignore[assignment]
    blobs: list[bytes] = [redis_client.hget(keys.alert(x.decode()), "d") for x in ids]  # type: ignore[misc]
    got = {a.txn_id: a for a in map(decode_alert, blobs)}
    want = expected_alerts(records, cfg)
    online = [ev.txn_id for ev in (decode_event(v) for v, _, _ in records) if ev.channel == "online"]
    assert len(online) > 300
    assert all(any(r.rule == "online_seen_today" for r in want[t].reasons) for t in online)
    assert set(got) == set(want)  # every alert of the rule, and nothing else
    assert {t: a.reasons for t, a in got.items()} == {t: a.reasons for t, a in want.items()}
    # the native engine decided (nothing refused, nothing logged) and the health panel says so
    assert said_why, redis_client.hget(keys.bridge(settings.instance_id), "engine")
    assert not [r.getMessage() for r in caplog.records if "native engine off" in r.getMessage()]
    assert engine_lines(health) == [f"{LINE} ({settings.instance_id})"]
