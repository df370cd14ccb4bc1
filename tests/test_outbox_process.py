"""`python -m outbox relay` as a real process: it publishes the outbox, and SIGTERM exits 0; the
rebuild command refuses a namespace that has keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from common.alert_events import decode_event
from dashapp.store import AlertWorkflow
from infra.kafka_topics import ensure_topics
from infra.services import REPO_ROOT
from tests.conftest import unique
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration


def test_relay_process_publishes_and_stops_on_sigterm(redis_client, keys, kafka_bootstrap, redis_url) -> None:
    topic = unique("t-alert-events")
    ensure_topics(kafka_bootstrap, {topic: 1})
    wf = AlertWorkflow(redis_client, keys)
    ids = [put_alert(redis_client, keys, make_alert(n)) for n in range(3)]
    for aid in ids:
        wf.act(aid, "acknowledge", "ana", 1)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_ALERT_EVENTS_TOPIC": topic,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": keys.prefix,
    }
    proc = subprocess.Popen([sys.executable, "-m", "outbox", "relay"], env=env, cwd=REPO_ROOT)
    try:
        deadline = time.monotonic() + 60  # a bound on waiting, not a speed assertion
        while redis_client.xlen(keys.events_outbox) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert redis_client.xlen(keys.events_outbox) == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    from kafka import KafkaConsumer

    from outbox.topic_read import read_topic

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, bootstrap_timeout_ms=5_000
    )
    try:
        subjects = [decode_event(r.value).subject for r in read_topic(consumer, topic)]
    finally:
        consumer.close()
    assert subjects == ids

    rebuild = subprocess.run(
        [sys.executable, "-m", "outbox", "rebuild"],
        check=False,
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert rebuild.returncode == 2 and b"is not empty" in rebuild.stderr
