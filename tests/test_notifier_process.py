"""The notifier as a real process: stopped or killed mid-delivery, a restart delivers everything."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from common.keys import RedisKeys
from common.webhook_log import DELIVERED, DeliveryLog
from common.webhooks import EndpointStore
from tests.conftest import REPO_ROOT, unique
from tests.notifier_receiver import Receiver, send_alerts, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def alerts_topic(kafka_bootstrap: str) -> str:
    from infra.kafka_topics import ensure_topics

    name = unique("t-alerts")
    ensure_topics(kafka_bootstrap, {name: 1})
    return name


@pytest.fixture
def env(kafka_bootstrap: str, redis_url: str, redis_prefix: str, alerts_topic: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "KAFKA_ALERTS_TOPIC": alerts_topic,
        "KAFKA_ALERT_EVENTS_TOPIC": "",  # alerts only here
        "NOTIFIER_GROUP_ID": unique("notifier"),
        "NOTIFIER_BACKOFF_BASE_S": "0.2",
        "NOTIFIER_BACKOFF_MAX_S": "1",
        "NOTIFIER_MAX_ATTEMPTS": "1000",
        "NOTIFIER_COMMIT_INTERVAL_S": "0.2",
        "NOTIFIER_REFRESH_S": "0.2",
    }


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(topic, 0))
    finally:
        consumer.close(autocommit=False)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_restart_mid_delivery_loses_nothing(
    sig: signal.Signals,
    env: dict[str, str],
    procs: list[subprocess.Popen[bytes]],
    kafka_bootstrap: str,
    alerts_topic: str,
    redis_client: redis.Redis,
    keys: RedisKeys,
    tmp_path: Path,
) -> None:
    receiver = Receiver()
    port = receiver.port
    receiver.stop()  # down while the first notifier runs
    try:
        url = f"http://127.0.0.1:{port}/hook?token=url-secret"  # chat webhook URLs are secrets too
        endpoint = EndpointStore(redis_client, keys).create({"name": "ops", "url": url}, "admin")
        cmd = [sys.executable, "-m", "notifier"]
        out = (tmp_path / "notifier.log").open("wb")
        first = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
        procs.append(first)
        sent = send_alerts(kafka_bootstrap, alerts_topic, 10)
        log = DeliveryLog(redis_client, keys)
        # 4 senders per endpoint: 4 alerts are in retry, the other 6 wait in the endpoint's queue
        wait_until(lambda: log.stats().get("failed_attempts", 0) >= 8, 60, "alerts in retry")
        first.send_signal(sig)
        code = first.wait(60)
        assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
        # nothing was delivered, so nothing may be committed
        assert _committed(kafka_bootstrap, env["NOTIFIER_GROUP_ID"], alerts_topic) in (None, 0)

        receiver = Receiver(port=port)
        second = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT)
        procs.append(second)
        wait_until(lambda: set(receiver.event_ids()) == set(sent), 90, "every alert after the restart")
        wait_until(lambda: all(r["status"] == DELIVERED for r in log.recent(100)), 30, "the log")
        wait_until(
            lambda: _committed(kafka_bootstrap, env["NOTIFIER_GROUP_ID"], alerts_topic) == 10,
            30,
            "the commit",
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(60) == 0
        assert sorted(receiver.event_ids()) == sorted(sent)  # and each once: none was done before
        out.close()
        logged = (tmp_path / "notifier.log").read_text()
        assert "attempt 1 failed" in logged  # the log was captured...
        assert endpoint.secret not in logged and "url-secret" not in logged  # ...and holds no secret
    finally:
        receiver.stop()


def test_the_notifier_lowers_its_own_cpu_priority(
    env: dict[str, str], procs: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """NOTIFIER_NICE: deliveries are off the detection path, so the process yields the cores.
    Linux keeps a nice value per thread: every thread of the running notifier must carry it."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base >= 19:
        pytest.skip("the test runs at nice 19 already: nothing lower to observe")
    with (tmp_path / "notifier.log").open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "notifier"],
            env={**env, "NOTIFIER_NICE": "7"},
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    procs.append(proc)
    log = tmp_path / "notifier.log"
    wait_until(lambda: "assigned partitions" in log.read_text(), 60, "the notifier to join its group")
    threads = _thread_nice(proc.pid)
    assert len(threads) > 1, threads  # the Kafka client's threads are running by now
    assert set(threads.values()) == {min(19, base + 7)}, threads
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


def _thread_nice(pid: int) -> dict[int, int]:
    """Each thread's nice value, from /proc/<pid>/task/<tid>/stat (field 19)."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(task.name)] = int(fields[16])  # fields[0] is field 3 (state)
    return out
