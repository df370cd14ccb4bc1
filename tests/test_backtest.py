"""Backtests on real Kafka + Redis: a planted known answer, replay determinism, untouched live keys."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
import redis

from backtest.compare import ANY_RULE, fingerprint
from backtest.runs import FINISHED, RunStore
from backtest.settings import BacktestSettings
from backtest.settings import load_settings as backtest_settings
from backtest.worker import serve
from bridge import native
from bridge.config import load_settings as bridge_settings
from bridge.detection import Detector
from bridge.kafka_io import make_consumer, make_producer
from bridge.service import Bridge
from common.alerts import alert_id_for
from common.keys import RedisKeys
from common.rulelang import to_document
from common.rules import default_rules
from common.schema import NORMAL_SCENARIO, decode_event
from tests.conftest import unique
from tests.streams import Record, generated, produce

pytestmark = pytest.mark.integration
PLANTED = "m-planted"


def planted_draft() -> dict[str, Any]:
    """The shipped rules plus one custom rule that fires on exactly the planted merchant."""
    doc = to_document(default_rules())
    doc["rules"].append(
        {
            "id": "planted_merchant",
            "score": 0.9,
            "when": {"field": "merchant_id", "op": "eq", "value": PLANTED},
            "explain": "planted merchant {merchant_id}",
        }
    )
    return doc


def plant(records: list[Record], every: int) -> tuple[list[Record], set[str]]:
    """Move every `every`-th event to the planted merchant; return the records and their txn ids."""
    out: list[Record] = []
    planted: set[str] = set()
    for i, (value, key, headers) in enumerate(records):
        if i % every == every - 1 and value is not None:
            body = msgspec.json.decode(value)
            body["merchant_id"] = PLANTED
            planted.add(body["txn_id"])
            out.append((msgspec.json.encode(body), key, headers))
        else:
            out.append((value, key, headers))
    return out, planted


class Worker:
    """One backtest worker in a thread of this test, and the run store it serves."""

    def __init__(self, settings: BacktestSettings, client: redis.Redis) -> None:
        self.settings = settings
        self.store = RunStore(client, RedisKeys(settings.redis_key_prefix))
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=serve, args=(settings, self.stopping), daemon=True)
        self.thread.start()

    def wait(
        self, run_id: str, until: Callable[[dict[str, Any]], bool], timeout_s: float = 120
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            run = self.store.get(run_id)
            if until(run):
                return run
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} never got there: {self.store.get(run_id)}")

    def stop(self) -> None:
        """Stop taking runs (after the one in hand): runs submitted from now on stay queued."""
        self.stopping.set()
        self.thread.join(timeout=10)

    def finished(self, run_id: str) -> dict[str, Any]:
        return self.wait(run_id, lambda r: r["status"] in FINISHED)


@pytest.fixture
def worker(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    labels_topic: str,
    redis_prefix: str,
    redis_client: redis.Redis,
) -> Iterator[Worker]:
    """A worker on this test's topics and prefix; parametrize it indirectly with "auto" or "python"."""
    settings = backtest_settings(
        engine=getattr(request, "param", "auto"),
        env={},
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic=topic,
        kafka_labels_topic=labels_topic,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        batch_max=500,
        sample_max=1_000,
    )
    w = Worker(settings, redis_client)
    yield w
    w.stop()


def expected_live(records: list[Record]) -> dict[str, str]:
    """alert_id -> scenario label of the shipped rules' alerts, computed here without the backtest."""
    detector, states = Detector(default_rules()), dict[str, Any]()
    out = {}
    for value, _, headers in records:
        ev = decode_event(value)
        decision, states[ev.card_id] = detector.evaluate(ev, states.get(ev.card_id))
        if decision.is_alert:
            out[alert_id_for(ev.txn_id)] = dict(headers)["scenario"].decode()
    return out


def rows(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["rule"]: row for row in result["rules"]}


def engine_used(worker: Worker) -> str:
    """What the worker's summary must name: the native engine whenever `auto` can have it."""
    return "native" if worker.settings.engine == "auto" and native.available() else "python"


ENGINES = pytest.mark.parametrize("worker", ["auto", "python"], indirect=True)


@ENGINES
def test_a_draft_rule_fires_on_exactly_the_planted_events(
    worker: Worker, kafka_bootstrap: str, topic: str
) -> None:
    records, planted = plant(generated(4_000, seed=21), every=97)
    start_ms = int(time.time() * 1000) - 1_000
    produce(kafka_bootstrap, topic, records)
    run_id = worker.store.submit(planted_draft(), start_ms, int(time.time() * 1000) + 1_000, by="test")
    run = worker.finished(run_id)
    assert run["status"] == "done", run
    result = worker.store.result(run_id)
    assert result is not None
    by_rule = rows(result)

    row = by_rule["planted_merchant"]
    assert (row["live"]["alerts"], row["draft"]["alerts"]) == (0, len(planted))
    assert (row["added"], row["removed"], row["unchanged"]) == (len(planted), 0, 0)
    live = expected_live(records)
    assert result["alert_sets"]["live"] == fingerprint(list(live))
    whole = by_rule[ANY_RULE]
    assert whole["live"]["alerts"] == len(live)
    assert whole["added"] == len(planted - {t for t in planted if alert_id_for(t) in live})
    tp = sum(1 for s in live.values() if s != NORMAL_SCENARIO)
    assert (whole["live"]["tp"], whole["live"]["fp"]) == (tp, len(live) - tp)
    added = {s["txn_id"] for s in result["samples"]["added"]}
    assert added and added <= planted
    assert result["summary"]["range_events"] == len(records)
    assert result["summary"]["engine"] == engine_used(worker)
    hourly = sum(h["draft"] for h in result["hours"] if h["rule"] == "planted_merchant")
    assert hourly == len(planted)


def _live_snapshot(client: redis.Redis, prefix: str) -> dict[bytes, bytes | None]:
    """Every key of the live namespace (backtest keys excluded) with its DUMP."""
    own = f"{prefix}backtest:".encode()
    names = [k for k in client.scan_iter(match=f"{prefix}*", count=1000) if not k.startswith(own)]
    return {k: client.dump(k) for k in sorted(names)}


@ENGINES
def test_replaying_the_live_rules_reproduces_the_bridges_alerts_and_touches_no_live_key(
    worker: Worker,
    kafka_bootstrap: str,
    redis_url: str,
    topic: str,
    dlq_topic: str,
    redis_prefix: str,
    redis_client: redis.Redis,
) -> None:
    records = generated(5_000, seed=33)
    start_ms = int(time.time() * 1000) - 1_000
    produce(kafka_bootstrap, topic, records)
    settings = bridge_settings(
        env={},
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic=topic,
        kafka_dlq_topic=dlq_topic,
        redis_url=redis_url,
        redis_key_prefix=redis_prefix,
        group_id=unique("g-bt"),
        poll_timeout_ms=50,
    )
    consumer, producer = make_consumer(settings), make_producer(settings)
    client = redis.Redis.from_url(redis_url)
    try:
        assert Bridge(settings, consumer, producer, client).run(max_events=len(records)) == len(records)
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=5)
        client.close()
    keys = RedisKeys(redis_prefix)
    raised = [x.decode() for x in redis_client.zrange(keys.alert_index, 0, -1)]  # type: ignore[union-attr]
    assert raised
    before = _live_snapshot(redis_client, redis_prefix)
    live_doc = to_document(default_rules())  # what the bridge seeded as version 1 (ml_anomaly off)

    run_id = worker.store.submit(live_doc, start_ms, int(time.time() * 1000) + 1_000, by="test")
    assert worker.finished(run_id)["status"] == "done"
    result = worker.store.result(run_id)
    assert result is not None
    assert result["summary"]["draft_equals_live"] is True
    assert result["summary"]["engine"] == engine_used(worker)
    assert result["alert_sets"]["live"] == fingerprint(raised) == result["alert_sets"]["draft"]
    whole = rows(result)[ANY_RULE]
    assert (whole["added"], whole["removed"], whole["unchanged"]) == (0, 0, len(raised))
    assert _live_snapshot(redis_client, redis_prefix) == before
