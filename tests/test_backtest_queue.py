"""Backtest runs on real Kafka + Redis: queueing behind one worker, cancel mid-run, refusals, dispositions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from backtest.compare import ANY_RULE
from common.alerts import alert_id_for
from common.keys import RedisKeys
from tests.conftest import REPO_ROOT
from tests.streams import generated, produce
from tests.test_backtest import Worker, plant, planted_draft, rows, worker

pytestmark = pytest.mark.integration
__all__ = ["worker"]  # the fixture, shared with test_backtest.py


def test_runs_queue_behind_one_worker_and_a_cancel_stops_the_running_one(
    worker: Worker, kafka_bootstrap: str, topic: str
) -> None:
    start_ms = int(time.time() * 1000) - 1_000
    produce(kafka_bootstrap, topic, generated(40_000, seed=3))
    end_ms = int(time.time() * 1000) + 1_000
    first = worker.store.submit(planted_draft(), start_ms, end_ms, by="a")
    second = worker.store.submit(planted_draft(), start_ms, end_ms, by="b")
    running = worker.wait(
        first, lambda r: r["status"] == "running" and (r["progress"] or {}).get("done", 0) > 0
    )
    assert worker.store.get(second)["status"] == "queued"  # one worker runs one run at a time
    assert running["progress"]["total"] == 40_000

    assert worker.store.cancel(first) == "running"
    cancelled = worker.finished(first)
    assert cancelled["status"] == "cancelled" and cancelled["error"] is None
    # The cancel can land after the last event was read but before the result is written: the run
    # still ends cancelled without a result, which is what "stops" means here.
    assert cancelled["progress"]["done"] <= 40_000
    assert worker.store.result(first) is None

    done = worker.finished(second)
    assert done["status"] == "done"
    result = worker.store.result(second)
    assert result is not None and result["summary"]["range_events"] == 40_000
    assert [r["id"] for r in worker.store.runs()] == [second, first]


def test_a_queued_run_cancels_at_once_and_a_deleted_run_is_gone(worker: Worker) -> None:
    worker.stop()  # no worker takes runs: they stay queued
    run_id = worker.store.submit(planted_draft(), None, None, by="a")
    assert worker.store.cancel(run_id) == "cancelled"
    assert worker.store.get(run_id)["status"] == "cancelled"
    assert worker.store.delete(run_id) is True
    assert worker.store.runs() == []


def test_ranges_the_topic_cannot_replay_are_refused_with_a_clear_error(worker: Worker) -> None:
    now = int(time.time() * 1000)
    future = worker.store.submit(planted_draft(), now + 3_600_000, now + 7_200_000, by="a")
    run = worker.finished(future)
    assert run["status"] == "failed" and "future" in run["error"]
    backwards = worker.store.submit(planted_draft(), now, now - 1, by="a")
    assert "must end after it starts" in worker.finished(backwards)["error"]


def test_quality_from_analysts_dispositions_of_those_transactions(
    worker: Worker, kafka_bootstrap: str, topic: str, redis_client: redis.Redis
) -> None:
    records, planted = plant(generated(600, seed=9), every=50)
    start_ms = int(time.time() * 1000) - 1_000
    produce(kafka_bootstrap, topic, records)
    keys = RedisKeys(worker.settings.redis_key_prefix)
    fraud, false_positive = sorted(planted)[:2]
    # what the workflow writes when analysts resolve (dashapp/store/workflow.py): the status index
    redis_client.zadd(keys.alerts_by_status("resolved_fraud"), {alert_id_for(fraud): 1})
    redis_client.zadd(keys.alerts_by_status("resolved_false_positive"), {alert_id_for(false_positive): 1})
    redis_client.zadd(keys.alerts_by_status("acknowledged"), {alert_id_for(sorted(planted)[2]): 1})

    run_id = worker.store.submit(planted_draft(), start_ms, int(time.time() * 1000) + 1_000, by="a")
    assert worker.finished(run_id)["status"] == "done"
    result = worker.store.result(run_id)
    assert result is not None
    draft = rows(result)["planted_merchant"]["draft"]
    assert (draft["resolved_fraud"], draft["resolved_false_positive"], draft["analyst_precision"]) == (
        1,
        1,
        0.5,
    )
    assert rows(result)[ANY_RULE]["draft"]["resolved_fraud"] == 1


def test_sigterm_stops_the_running_backtest_and_the_worker_exits_0(
    worker: Worker, kafka_bootstrap: str, topic: str, tmp_path: Path
) -> None:
    worker.stop()  # the process below takes the run
    start_ms = int(time.time() * 1000) - 1_000
    produce(kafka_bootstrap, topic, generated(60_000, seed=8))
    run_id = worker.store.submit(planted_draft(), start_ms, int(time.time() * 1000) + 1_000, by="a")
    s = worker.settings
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
        "KAFKA_TOPIC": s.kafka_topic,
        "REDIS_URL": s.redis_url,
        "REDIS_KEY_PREFIX": s.redis_key_prefix,
        "BACKTEST_BATCH_MAX": "500",
    }
    with (tmp_path / "worker.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "backtest", "worker"], env=env, stdout=log, stderr=log)
    try:
        worker.wait(run_id, lambda r: r["status"] == "running" and (r["progress"] or {}).get("done", 0) > 0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    run = worker.store.get(run_id)
    assert run["status"] == "cancelled" and run["error"] == "stopped by the worker's shutdown"
    assert run["progress"]["done"] < run["progress"]["total"]


def test_a_range_older_than_what_kafka_keeps_is_refused(
    worker: Worker, kafka_bootstrap: str, topic: str
) -> None:
    start_ms = int(time.time() * 1000) - 1_000
    produce(kafka_bootstrap, topic, generated(300, seed=2), partition=0)
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:  # what retention does to old segments: the log start offset moves past the first records
        admin.delete_records({TopicPartition(topic, 0): 100})
    finally:
        admin.close()
    run_id = worker.store.submit(planted_draft(), start_ms, int(time.time() * 1000) + 1_000, by="a")
    run = worker.finished(run_id)
    assert run["status"] == "failed" and "before the oldest record Kafka keeps" in run["error"]
    assert worker.store.result(run_id) is None

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    try:  # a range from the oldest record kept on is replayed
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek(TopicPartition(topic, 0), 100)
        polled: list[Any] = []
        deadline = time.monotonic() + 30
        while not polled and time.monotonic() < deadline:
            polled = [r for recs in consumer.poll(timeout_ms=500).values() for r in recs]
        oldest = polled[0].timestamp
    finally:
        consumer.close()
    run_id = worker.store.submit(planted_draft(), oldest, int(time.time() * 1000) + 1_000, by="a")
    assert worker.finished(run_id)["status"] == "done"
    result = worker.store.result(run_id)
    assert result is not None and result["summary"]["range_events"] == 200
