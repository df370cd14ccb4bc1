"""Infrastructure faults: Redis freezing mid-stream, Kafka absent at start; nothing lost or doubled."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import redis
from kafka import TopicPartition

from bridge.config import load_settings
from bridge.detection import Detector
from bridge.kafka_io import make_consumer, make_producer
from bridge.service import Bridge
from common.alerts import alert_id_for
from common.keys import RedisKeys
from common.rules import default_rules
from common.schema import decode_event
from tests.conftest import REPO_ROOT, unique
from tests.streams import generated, produce, snapshot

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A throwaway redis-server this test may freeze (SIGSTOP) without disturbing anyone else."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is required"
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "private redis-server did not start"
            time.sleep(0.05)
    client.close()
    yield url, proc
    proc.send_signal(signal.SIGCONT)
    proc.terminate()
    proc.wait(10)


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def progressed(bridge: Bridge, n: int) -> bool:
    return bridge.processed > n


def test_redis_freezes_mid_stream_and_the_result_is_still_exact(
    private_redis: tuple[str, subprocess.Popen[bytes]],
    kafka_bootstrap: str,
    topic: str,
    dlq_topic: str,
) -> None:
    url, server = private_redis
    settings = load_settings(
        env={},
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic=topic,
        kafka_dlq_topic=dlq_topic,
        redis_url=url,
        redis_key_prefix="f:",
        group_id=unique("g-freeze"),
        batch_max=200,
        poll_timeout_ms=50,
        backoff_max_s=0.5,
    )
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    consumer, producer = make_consumer(settings), make_producer(settings)
    bridge = Bridge(settings, consumer, producer, client)
    runner = threading.Thread(target=bridge.run, daemon=True)
    records = generated(4_000, seed=21)
    runner.start()
    try:
        for chunk in range(4):
            at = chunk * 1000
            produce(kafka_bootstrap, topic, records[at : at + 500])
            if chunk < 3:
                wait_for("some progress", partial(progressed, bridge, at))
                server.send_signal(signal.SIGSTOP)  # replies stop mid-batch: outcome unknown to the bridge
                # The chunk's second half arrives while Redis is frozen, so the bridge has batches to
                # write then, however fast it finished the first half.
                produce(kafka_bootstrap, topic, records[at + 500 : at + 1000])
                time.sleep(1.5)
                server.send_signal(signal.SIGCONT)
            else:
                produce(kafka_bootstrap, topic, records[at + 500 : at + 1000])
        # Count what Redis holds, not bridge.processed: an EXEC that applied while its reply was
        # frozen is fenced on the retry, so the bridge never counts those records itself.
        offsets = RedisKeys("f:").offsets(topic)
        applied = redis.Redis.from_url(url)
        wait_for(
            "everything applied",
            lambda: sum(int(v) for v in applied.hvals(offsets)) >= len(records),
        )
    finally:
        bridge.stop()
        runner.join(30)
        consumer.close(autocommit=False)
        producer.close(timeout=5)
    assert not runner.is_alive()
    retried = sum(
        s.value for m in bridge.metrics.retries.collect() for s in m.samples if s.name.endswith("_total")
    )
    assert retried > 0, "the freeze never hit the bridge: the test proved nothing"

    reader = redis.Redis.from_url(url)
    snap = snapshot(reader, RedisKeys("f:"), topic)
    detector, states, alerts = Detector(default_rules()), dict[str, object](), set()
    for value, _, _ in records:
        ev = decode_event(value)
        decision, states[ev.card_id] = detector.evaluate(ev, states.get(ev.card_id))  # type: ignore[arg-type]
        if decision.is_alert:
            alerts.add(alert_id_for(ev.txn_id))
    # Not `bridge.processed`: records whose EXEC applied under a frozen reply are fenced on the retry
    # and never counted by the bridge, though Redis holds them exactly once (checked here).
    assert int(snap["totals"]["txns"]) == len(records)
    assert len(records) - 1_000 <= bridge.processed <= len(records)
    assert snap["alert_ids"] == sorted(alerts)
    assert sum(int(h["txns"]) for h in snap["seconds"].values()) == len(records)
    assert sum(map(int, snap["offsets"].values())) == len(records)
    reader.close()
    client.close()


def test_rebalance_listener_never_waits_for_redis(kafka_bootstrap: str, topic: str, dlq_topic: str) -> None:
    """kafka-python runs the listener on its IO thread (heartbeats too): it must not read Redis there.

    "Redis" here is a socket that accepts connections but never answers: any read from it blocks
    for the client's socket timeout. The listener must leave it untouched and hand the partitions
    to the main loop, which seeks them.
    """
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    silent.setblocking(False)
    url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    settings = load_settings(
        env={},
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic=topic,
        kafka_dlq_topic=dlq_topic,
        redis_url=url,
        redis_key_prefix="f:",
        group_id=unique("g-listener"),
    )
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    consumer, producer = make_consumer(settings), make_producer(settings)
    try:
        bridge = Bridge(settings, consumer, producer, client)
        bridge.rebalancer.on_partitions_revoked(set())
        bridge.rebalancer.on_partitions_assigned({TopicPartition(topic, 0), TopicPartition("other", 1)})
        with pytest.raises(BlockingIOError):
            silent.accept()  # nothing connected: the listener did not go to Redis
        events = bridge.rebalancer.drain()
        assert events.assigned == {0}, "the assignment was not handed to the main loop"
        assert bridge.rebalancer.drain().assigned == set(), "drain() must reset the events"
    finally:
        consumer.close(autocommit=False)
        producer.close(timeout=5)
        client.close()
        silent.close()


def test_kafka_absent_at_start_is_retried_and_sigterm_exits_zero(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
    }
    log = tmp_path / "bridge.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for("a retry", lambda: "unavailable retry_in" in log.read_text(errors="replace"), 60)
        assert proc.poll() is None, "the bridge gave up instead of retrying"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
