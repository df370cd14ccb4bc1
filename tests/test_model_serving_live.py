"""On the real stack: the registry's champion scores every event in the bridge, a rule reads the
score as `model_score`, and its alerts quote the features that raised it."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import redis
from kafka import KafkaProducer

from bridge.config import load_settings
from bridge.native import available
from common.alerts import decode_alert
from common.keys import RedisKeys
from common.labels import label_record, make_label
from common.model_registry import CHAMPION, SHADOW
from common.rulelang.document import parse_custom
from common.rules import default_rules
from common.rules_doc import RulesDoc, encode_rules_doc
from common.schema import decode_event
from model.features import Events, FeatureConfig
from model.live_compare import read_live
from model.registry import ModelRegistry
from model.serving import OnlineScorer
from model.serving_rows import Row
from model.store import save
from model.train import fit_lightgbm
from tests.conftest import unique
from tests.running_bridge import RunningBridge
from tests.streams import generated, produce
from tests.test_engine_refusal_live import wait_for
from tests.test_model_registry_store import register

pytestmark = pytest.mark.integration
CONFIG = FeatureConfig()
CUT_USD = 300.0
MODEL_HIGH = {
    "id": "model_high",
    "name": "Model says fraud",
    "description": "The champion model's probability of fraud is 0.8 or more.",
    "enabled": True,
    "score": 0.9,
    "when": {"feature": "model_score", "op": "ge", "value": 0.8, "as": "p"},
    "explain": "model score {p}",
}


def amount_only_model(root: Path, cut_usd: float = CUT_USD) -> tuple[Path, Any]:
    """A real LightGBM model of the real feature layout that learnt fraud = amount over `cut_usd` (the
    other columns constant, so its score is a function of the amount alone)."""
    rng = np.random.default_rng(0)
    x = np.zeros((3_000, len(CONFIG.names())))
    x[:, 0] = np.exp(rng.uniform(0, np.log(20_000), 3_000))
    booster = fit_lightgbm(x, x[:, 0] > cut_usd)
    card = {"train_range": ["2026-12-01T00:00:00.000Z", "2026-12-02T00:00:00.000Z"], "metrics": {}}
    return save(root / f"cut{cut_usd:.0f}", booster, CONFIG, card), booster


def test_the_champion_scores_every_event_and_a_rule_alerts_on_its_score(
    kafka_bootstrap: str, redis_url: str, topic: str, dlq_topic: str, labels_topic: str,
    redis_prefix: str, redis_client: redis.Redis, keys: RedisKeys, tmp_path: Path,
) -> None:  # fmt: skip
    path, booster = amount_only_model(tmp_path)
    shadow_path, shadow_booster = amount_only_model(tmp_path, 100.0)
    reg = ModelRegistry(redis_client, keys)
    version = register(reg, path)
    reg.set_state(version, CHAMPION, "root")
    cfg = msgspec.structs.replace(default_rules(), custom=(parse_custom(MODEL_HIGH, "rules[7]"),))
    doc = RulesDoc(version=1, rules=cfg, updated_by="analyst", updated_at="2026-01-01T00:00:00Z")
    redis_client.set(keys.rules, encode_rules_doc(doc))
    records = generated(2_000, seed=9)
    events = [decode_event(v) for v, _, _ in records]
    # a chargeback that arrives before its transaction is read: it waits for it
    first = events[0]
    label = make_label(txn_id=first.txn_id, card_id=first.card_id, label="fraud", source="chargeback",
                       label_ms=int(time.time() * 1000))  # fmt: skip
    out = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    key, value, headers = label_record(label)
    out.send(labels_topic, key=key, value=value, headers=headers)
    out.flush(10)
    out.close()
    settings = load_settings(
        env={}, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic=topic, kafka_dlq_topic=dlq_topic,
        kafka_labels_topic=labels_topic, redis_url=redis_url, redis_key_prefix=redis_prefix,
        group_id=unique("g-serving"), poll_timeout_ms=50, batch_max=500, heartbeat_s=0.2, rules_poll_s=0.1,
    )  # fmt: skip
    produce(kafka_bootstrap, topic, records[:1_000])  # the history a starting bridge warms up from
    running = RunningBridge(settings, publish_alerts=False)
    bridge, serving = running.bridge, running.serving
    running.start()
    beat = keys.bridge(settings.instance_id)
    try:
        wait_for(
            "the warm-up read", lambda: serving.history.warmup is not None and serving.history.warmup.done, 60
        )
        assert serving.history.warmup is not None and serving.history.warmup.error is None
        assert serving.history.warmup.read_events == 1_000
        wait_for("the first half", lambda: bridge.processed == 1_000)
        wait_for(
            "the label read",
            lambda: serving.history.labels is not None and serving.history.labels.read == 1,
            20,
        )
        # a shadow version (it would flag from $100) joins now: it scores exactly the second half
        reg_shadow = register(ModelRegistry(redis_client, keys), shadow_path)
        ModelRegistry(redis_client, keys).set_state(reg_shadow, SHADOW, "root")
        shadows = serving.shadows
        assert shadows is not None
        wait_for("the shadow loaded", lambda: reg_shadow in shadows.models, 20)
        produce(kafka_bootstrap, topic, records[1_000:])  # scored once the history is taken over
        wait_for("every record", lambda: bridge.processed == len(records))
        scorer = serving.history.scorer
        # the label's transaction was read by the warm-up; what both read and polled counts once
        assert scorer.labels_used == 1 and scorer.seen == len(records)
        wait_for(
            "a heartbeat with scores",
            lambda: b"scored 2,000 events" in (redis_client.hget(beat, "model") or b""),
            10,
        )
        engine_line = (redis_client.hget(beat, "engine") or b"").decode()
        model_line = (redis_client.hget(beat, "model") or b"").decode()
        wait_for("the shadow counts", lambda: read_live(redis_client, keys), 10)
        live = read_live(redis_client, keys)[reg_shadow][version]
        reg = bridge.metrics.registry
        bands = [
            reg.get_sample_value("bridge_model_scores_total", {"band": f"{b / 10:.1f}-{(b + 1) / 10:.1f}"})
            for b in range(10)
        ]
        scoring = reg.get_sample_value("bridge_model_scoring")
    finally:
        running.stop()
    ids: list[bytes] = redis_client.zrange(keys.alert_index, 0, -1)  # type: ignore[assignment]
    alerts = [decode_alert(redis_client.hget(keys.alert(x.decode()), "d")) for x in ids]  # type: ignore[arg-type]
    by_model = {a.txn_id: a for a in alerts if any(r.rule == "model_high" for r in a.reasons)}
    rates = default_rules().currency
    amounts = {e.txn_id: Row.of(e, rates).amount_cents / 100 for e in events}
    x = np.zeros((len(events), len(CONFIG.names())))
    x[:, 0] = [amounts[e.txn_id] for e in events]
    want = {e.txn_id for e, p in zip(events, booster.predict(x), strict=True) if p >= 0.8}  # type: ignore[attr-defined]
    assert len(want) > 10 and all(amounts[t] > CUT_USD * 0.9 for t in want)
    second = {e.txn_id for e in events[1_000:]}
    assert len(want & second) > 5
    # every event after the warm-up was scored (none missed, none invented); the first half was
    # decided while the history was read, so only those polled after the hand-over may be scored
    assert set(by_model) & second == want & second and set(by_model) <= want
    some = by_model[sorted(want & second)[0]]
    text = next(r.text for r in some.reasons if r.rule == "model_high")
    assert text.startswith("model score ") and "(amount $" in text  # the score, then why, with values
    # Prometheus: the score distribution covers every scored event; the bridge says it scores
    high = (bands[8] or 0) + (bands[9] or 0)
    assert 1_000 <= sum(n or 0 for n in bands) <= 2_000 and high >= len(want & second)
    assert scoring == 1.0
    # the shadow scored the second half beside the champion and changed no alert (want, above)
    x2 = x[1_000:]
    champ, shade = booster.predict(x2), shadow_booster.predict(x2)
    assert live["events"] == 1_000
    assert live["champion_flags"] == (champ >= 0.5).sum() and live["shadow_flags"] == (shade >= 0.5).sum()
    assert live["both_flags"] == ((champ >= 0.5) & (shade >= 0.5)).sum() < live["shadow_flags"]
    assert live["abs_diff"] == pytest.approx(np.abs(champ - shade).sum(), rel=1e-6)
    assert engine_line == ("native, with the champion's score of every event" if available() else "python")
    assert ("trees scored natively" if available() else "trees scored by LightGBM") in model_line


def merchant_columns(scorer: Any, merchants: list[str], after_s: int) -> Any:
    """The merchant columns of a probe transaction of each merchant, a label delay and a second
    after `after_s`: its windows then hold every transaction of the history up to `after_s`."""
    card, term = scorer.keys.number(["probe-card"] * len(merchants), merchants)
    n, at = len(merchants), after_s + CONFIG.label_delay_days * 86_400 + 1
    probe = Events(np.full(n, at), card, term, np.full(n, 100, dtype=np.int64))
    x = scorer.state.transform(probe, remember=False)
    return x[:, [i for i, name in enumerate(CONFIG.names()) if name.startswith("terminal_")]]


def whole_topic(records: list[Any]) -> tuple[Any, list[str], int]:
    """Training's view of these records: a history fed all of them in event-time order."""
    rates = default_rules().currency
    rows = sorted((Row.of(decode_event(r[0]), rates) for r in records), key=lambda r: r.ts_s)
    reference = OnlineScorer(CONFIG, 10_000_000, native=False)
    reference.features(rows)
    return reference, sorted({r.merchant_id for r in rows}), rows[-1].ts_s


@pytest.mark.parametrize("tail", [True, False], ids=["tail", "no-tail"])
def test_a_partition_regained_after_another_bridge_applied_it(
    kafka_bootstrap: str, redis_url: str, topic: str, dlq_topic: str, labels_topic: str,
    redis_prefix: str, redis_client: redis.Redis, keys: RedisKeys, tmp_path: Path, tail: bool,
) -> None:  # fmt: skip
    """Two bridges in one group. With the merchant tail, A reads the partitions B owns: its merchant
    windows count the whole topic, as training's do, and when B leaves A takes them back without a
    rebuild. Without it, A's history missed their events, so it rebuilds from the topic (not scoring
    on a hole meanwhile) and scores again. B, which joined with nothing missing, never rebuilds."""
    path, _ = amount_only_model(tmp_path)
    reg = ModelRegistry(redis_client, keys)
    reg.set_state(register(reg, path), CHAMPION, "root")
    records = generated(1_800, seed=11)
    group = unique("g-regain")

    def start(name: str) -> RunningBridge:
        settings = load_settings(
            env={}, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic=topic, kafka_dlq_topic=dlq_topic,
            kafka_labels_topic=labels_topic, redis_url=redis_url, redis_key_prefix=redis_prefix,
            group_id=group, instance_id=name, poll_timeout_ms=50, batch_max=200, heartbeat_s=0.2,
            rules_poll_s=0.1, model_tail=tail,
        )  # fmt: skip
        return RunningBridge(settings, publish_alerts=False).start()

    def applied() -> int:
        stored: dict[bytes, bytes] = redis_client.hgetall(keys.offsets(topic))  # type: ignore[assignment]
        return sum(int(v) for v in stored.values())

    def warmed(serving: Any) -> bool:
        return serving.history.warmup is not None and serving.history.warmup.done

    produce(kafka_bootstrap, topic, records[:600])
    a = start("bridge-a")
    b: RunningBridge | None = None
    try:
        serving_a = a.serving
        wait_for("A warmed up", lambda: warmed(serving_a) and applied() == 600, 60)
        first = serving_a.history.warmup
        b = start("bridge-b")
        serving_b = b.serving
        wait_for("B owning partitions", lambda: b is not None and bool(b.bridge.ledger.pos), 60)
        wait_for("A owning fewer", lambda: 0 < len(a.bridge.ledger.pos) < 3, 60)
        owned_b = set(b.bridge.ledger.pos)
        produce(kafka_bootstrap, topic, records[600:1_200])
        wait_for("both applied", lambda: applied() == 1_200, 60)
        wait_for("B warmed up", lambda: warmed(serving_b), 60)
        assert serving_a.history.rewarms == serving_b.history.rewarms == 0  # nothing missing either side
        if tail:
            stored = {int(k): int(v) for k, v in redis_client.hgetall(keys.offsets(topic)).items()}  # type: ignore[union-attr]
            wait_for(
                "A's tail reading B's partitions to their ends",
                lambda: all(serving_a.history.coverage.held_of(p) >= stored[p] for p in owned_b),
                60,
            )
            reference, merchants, newest = whole_topic(records[:1_200])
            scorer = serving_a.history.scorer
            want = merchant_columns(reference, merchants, newest)
            assert want.any() and merchant_columns(scorer, merchants, newest).tobytes() == want.tobytes()
            assert serving_a.history.tail is not None and serving_a.history.tail.followed == owned_b
            wait_for(
                "the panel's tail line",
                lambda: (
                    f"merchant tail: {len(owned_b)} partitions of other bridges followed, 0 records behind"
                    in (redis_client.hget(keys.bridge("bridge-a"), "model") or b"").decode()
                ),
                10,
            )
        b.stop()
        b = None
        if tail:  # A's tail held B's partitions to where B stopped: taken back without a rebuild
            wait_for("A owning every partition", lambda: len(a.bridge.ledger.pos) == 3, 60)
            produce(kafka_bootstrap, topic, records[1_200:])
            wait_for("every record", lambda: applied() == 1_800, 60)
            wait_for("A scoring", lambda: serving_a.scoring, 20)
            assert serving_a.history.rewarms == 0 and serving_a.history.scorer is scorer
            reference, merchants, newest = whole_topic(records)
            want = merchant_columns(reference, merchants, newest)
            assert merchant_columns(scorer, merchants, newest).tobytes() == want.tobytes()
            assert serving_a.history.tail.followed == set()
            return
        wait_for("A taking B's partitions back", lambda: serving_a.history.rewarms > 0, 60)
        assert (
            serving_a.history.rewarms == 1 and len(a.bridge.ledger.pos) == 3
        )  # resumed past where A left them
        wait_for("A warmed up again", lambda: serving_a.history.warmup is not first and warmed(serving_a), 60)
        assert serving_a.history.warmup.error is None and serving_a.history.warmup.read_events == 1_200
        produce(kafka_bootstrap, topic, records[1_200:])
        wait_for("every record", lambda: applied() == 1_800, 60)
        wait_for("A scoring again", lambda: serving_a.scoring, 20)
        wait_for(
            "the panel's count",
            lambda: (
                b"for partitions gained past what it held"
                in (redis_client.hget(keys.bridge("bridge-a"), "model") or b"")
            ),
            10,
        )
        assert owned_b and serving_a.history.scorer.seen >= 1_200  # the rebuilt history, then live events
    finally:
        if b is not None:
            b.stop()
        a.stop()


@pytest.mark.parametrize("tail", [True, False], ids=["tail", "no-tail"])
def test_a_fenced_batch_resuming_past_the_history(
    kafka_bootstrap: str, redis_url: str, topic: str, dlq_topic: str, labels_topic: str,
    redis_prefix: str, redis_client: redis.Redis, keys: RedisKeys, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, tail: bool,
) -> None:  # fmt: skip
    """Another instance applied records of partition 0 this bridge never saw (the stored offset moved
    past its position): its next batch there is fenced and resumes at the stored offset. The model's
    history lacks those records: the merchant tail reads them before the bridge resumes; without it,
    the history is rebuilt from the topic, not scored on a hole. (Should the group rebalance
    meanwhile, the reassignment resumes at the stored offset instead, and must find the same hole.)"""
    caplog.set_level(logging.INFO, logger="bridge")
    path, _ = amount_only_model(tmp_path)
    reg = ModelRegistry(redis_client, keys)
    reg.set_state(register(reg, path), CHAMPION, "root")
    records = generated(900, seed=12)
    offsets = keys.offsets(topic)
    produce(kafka_bootstrap, topic, records[:300])
    settings = load_settings(
        env={}, kafka_bootstrap_servers=kafka_bootstrap, kafka_topic=topic, kafka_dlq_topic=dlq_topic,
        kafka_labels_topic=labels_topic, redis_url=redis_url, redis_key_prefix=redis_prefix,
        group_id=unique("g-fence"), instance_id="bridge-f", poll_timeout_ms=50, batch_max=200,
        heartbeat_s=0.2, rules_poll_s=0.1, model_tail=tail,
    )  # fmt: skip
    running = RunningBridge(settings, publish_alerts=False).start()
    bridge = running.bridge

    def stored(p: int) -> int:
        return int(redis_client.hget(offsets, p) or 0)

    def applied() -> int:  # next offsets, summed: the records applied, by this bridge or the "other"
        return sum(map(stored, range(3)))

    try:
        serving = bridge.serving
        assert serving is not None
        wait_for(
            "the warm-up and the first records",
            lambda: serving.history.warmup is not None and serving.history.warmup.done and applied() == 300,
            60,
        )
        if tail:  # taken over at the next housekeeping: from then on its tail exists
            wait_for("the tail", lambda: serving.history.tail is not None, 10)
        first, at = serving.history.warmup, stored(0)
        assigned = sum("partitions assigned" in r.getMessage() for r in caplog.records)
        redis_client.hset(offsets, 0, at + 100)  # another owner applied 100 records this one never saw
        produce(kafka_bootstrap, topic, records[300:600], partition=0)
        if tail:  # the tail reads the other's 100 records before the bridge resumes past them
            wait_for("partition 0 applied past the other's records", lambda: stored(0) == at + 300, 60)
            assert (
                serving.history.rewarms == 0
                and serving.history.tail is not None
                and serving.history.tail.added >= 100
            )
            reassigned = sum("partitions assigned" in r.getMessage() for r in caplog.records) > assigned
            assert bridge.metrics.fenced._value.get() >= 1 or reassigned
            produce(kafka_bootstrap, topic, records[600:])
            wait_for("every later record", lambda: applied() == 900, 60)
            wait_for("scoring", lambda: serving.scoring, 20)
            reference, merchants, newest = whole_topic(records)
            want = merchant_columns(reference, merchants, newest)
            assert merchant_columns(serving.history.scorer, merchants, newest).tobytes() == want.tobytes()
            assert serving.history.rewarms == 0
            return
        wait_for("the fence's rebuild", lambda: serving.history.rewarms > 0, 60)
        wait_for("partition 0 applied past the other's records", lambda: stored(0) == at + 300, 60)
        reassigned = sum("partitions assigned" in r.getMessage() for r in caplog.records) > assigned
        assert serving.history.rewarms == 1 and (bridge.metrics.fenced._value.get() >= 1 or reassigned)
        hole = f"partition 0 resumes at {at + 100}, history holds it to {at}"
        assert any(hole in r.getMessage() for r in caplog.records)
        wait_for(
            "warmed up again", lambda: serving.history.warmup is not first and serving.history.warmup.done, 60
        )
        assert serving.history.warmup.error is None and serving.history.warmup.read_events == 600
        produce(kafka_bootstrap, topic, records[600:])
        wait_for("every later record", lambda: applied() == 900, 60)
        wait_for("scoring again", lambda: serving.scoring, 20)
        assert serving.history.rewarms == 1  # the records after the rebuild left no new hole
    finally:
        running.stop()
