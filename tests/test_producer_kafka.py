"""Integration tests against the real broker: round trip, CLI, unreachable Kafka, SIGTERM flush."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from common.schema import decode_event
from producer import generate
from producer.kafka_io import DeliveryErrors, KafkaUnavailable, KeyPartitions, make_producer, send_events
from producer.runner import run
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def _consumer(bootstrap: str) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5_000,
    )


def _record_count(bootstrap: str, topic: str) -> int:
    consumer = _consumer(bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(parts).values())
    finally:
        consumer.close()


def _consume_all(bootstrap: str, topic: str, expected: int) -> list:
    consumer = _consumer(bootstrap)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        records: list = []
        deadline = time.monotonic() + 30
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1_000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "producer", *args]


def _run(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_events_consumed_back_equal_events_generated(kafka_bootstrap: str, topic: str) -> None:
    events = generate(seed=4, count=1_500, fraud_ratio=0.1)
    producer = make_producer(kafka_bootstrap)
    try:
        assert send_events(producer, topic, events) == len(events)
    finally:
        producer.close()
    records = _consume_all(kafka_bootstrap, topic, len(events))
    assert len(records) == len(events)
    got = sorted((r.key, r.value, [(k, bytes(v)) for k, v in r.headers]) for r in records)
    assert got == sorted((e.key, e.value, e.headers) for e in events)
    for r in records:
        assert r.key == decode_event(r.value).card_id.encode()
    # Per card, records arrive in generation order (key = card id keeps a card on one partition).
    sent_order: dict[bytes, list[bytes]] = defaultdict(list)
    for e in events:
        sent_order[e.key].append(e.value)
    got_order: dict[bytes, list[bytes]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        got_order[r.key].append(r.value)
    assert got_order == sent_order


def test_send_loop_partitions_each_key_where_kafkas_default_partitioner_does(
    kafka_bootstrap: str, topic: str
) -> None:
    events = generate(seed=9, count=400)
    producer = make_producer(kafka_bootstrap)
    try:
        stats = run(
            producer, topic, iter(events), rate=0, count=400, stop=threading.Event(), errors=DeliveryErrors()
        )
        producer.flush(timeout=30)
        records = _consume_all(kafka_bootstrap, topic, len(events))
        assert stats.sent == len(records) == 400
        placed: dict[bytes, set[int]] = defaultdict(set)
        for r in records:
            placed[r.key].add(r.partition)
        assert len({p for ps in placed.values() for p in ps}) == 3  # the memo spreads keys, as Kafka does
        memo = KeyPartitions(producer, topic)
        memo.refresh()
        assert memo.count == 3
        for key in sorted(placed)[:25]:
            # Without a partition argument kafka-python's DefaultPartitioner picks it.
            plain = producer.send(topic, value=b"probe", key=key).get(timeout=30).partition
            assert placed[key] == {plain} == {memo[key]}, key
    finally:
        producer.close()


def test_send_events_accepts_a_bootstrap_string(kafka_bootstrap: str, topic: str) -> None:
    assert send_events(kafka_bootstrap, topic, generate(seed=1, count=50)) == 50
    assert _record_count(kafka_bootstrap, topic) == 50


def test_make_producer_fails_fast_when_kafka_is_unreachable() -> None:
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match=r"127\.0\.0\.1:1"):
        make_producer("127.0.0.1:1", bootstrap_timeout_ms=2_000)
    assert time.monotonic() - started < 15


def test_cli_sends_count_records_and_exits_0(kafka_bootstrap: str, topic: str) -> None:
    proc = _run(
        _cli(
            "--count",
            "200",
            "--rate",
            "0",
            "--seed",
            "3",
            "--topic",
            topic,
            "--bootstrap-servers",
            kafka_bootstrap,
        )
    )
    assert proc.returncode == 0, proc.stderr
    assert "done sent=200" in proc.stderr
    assert _record_count(kafka_bootstrap, topic) == 200


def test_cli_takes_bootstrap_and_topic_from_the_environment(kafka_bootstrap: str, topic: str) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC": topic}
    proc = _run(_cli("--count", "30", "--rate", "0"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert _record_count(kafka_bootstrap, topic) == 30


def test_cli_unreachable_kafka_exits_nonzero_with_a_clear_message() -> None:
    started = time.monotonic()
    proc = _run(
        _cli("--count", "10", "--bootstrap-servers", "127.0.0.1:1", "--bootstrap-timeout-ms", "3000"),
        timeout=60,
    )
    assert proc.returncode != 0
    assert time.monotonic() - started < 15
    assert "cannot reach Kafka at 127.0.0.1:1" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_missing_topic_exits_nonzero(kafka_bootstrap: str) -> None:
    proc = _run(
        _cli(
            "--count",
            "10",
            "--topic",
            "no-such-topic-for-producer-tests",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--bootstrap-timeout-ms",
            "3000",
        ),
        timeout=60,
    )
    assert proc.returncode != 0 and "does not exist" in proc.stderr


def test_sigterm_flushes_everything_sent_and_exits_0(kafka_bootstrap: str, topic: str) -> None:
    proc = subprocess.Popen(
        _cli("--count", "0", "--rate", "500", "--topic", topic, "--bootstrap-servers", kafka_bootstrap),
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # wait for the first status line: the loop is sending
            if "status sent=" in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, rest
    match = re.search(r"done sent=(\d+)", rest)
    assert match, rest
    sent = int(match.group(1))
    assert sent > 0
    assert _record_count(kafka_bootstrap, topic) == sent


def test_runs_with_different_seeds_share_one_world(kafka_bootstrap: str, tmp_path: Path) -> None:
    """A restart draws a new stream seed; each card must still live where the bridge last saw it."""
    from collections import Counter

    from infra.kafka_topics import ensure_topics
    from tests.conftest import unique

    homes, state, spans = [], tmp_path / "cards.json", []
    for seed in ("11", "12"):
        topic = unique("t-world")
        ensure_topics(kafka_bootstrap, {topic: 1})
        args = ("--count", "600", "--rate", "0", "--fraud-ratio", "0", "--cards", "40", "--seed", seed)
        proc = _run(
            _cli(*args, "--state-file", str(state), "--topic", topic, "--bootstrap-servers", kafka_bootstrap)
        )
        assert proc.returncode == 0, proc.stderr
        assert ("cards resume where the last run left them" in proc.stderr) == (seed == "12")
        assert state.exists()
        cities: dict[str, Counter[str]] = defaultdict(Counter)
        records = _consume_all(kafka_bootstrap, topic, 600)
        for rec in records:
            event = decode_event(rec.value)
            cities[event.card_id][event.city] += 1
        times = [decode_event(rec.value).ts for rec in records]
        spans.append((min(times), max(times)))
        homes.append({card: seen.most_common(1)[0][0] for card, seen in cities.items()})
    both = homes[0].keys() & homes[1].keys()
    assert len(both) >= 30
    same = sum(homes[0][card] == homes[1][card] for card in both)
    assert same >= 0.9 * len(both), f"only {same} of {len(both)} cards kept their home city"
    # --rate 0 runs event time ahead of the wall clock: the resumed run goes on after it
    assert spans[1][0] > spans[0][1], f"the second run's events start before the first's end: {spans}"


def test_inject_sends_one_labelled_instance(kafka_bootstrap: str, topic: str) -> None:
    proc = _run(
        _cli(
            "inject",
            "velocity_burst",
            "--card",
            "C0000042",
            "--topic",
            topic,
            "--bootstrap-servers",
            kafka_bootstrap,
        )
    )
    assert proc.returncode == 0, proc.stderr
    records = _consume_all(kafka_bootstrap, topic, 6)
    assert len(records) >= 6
    assert {r.key for r in records} == {b"C0000042"}
    headers = [dict(r.headers) for r in records]
    assert {h["scenario"] for h in headers} == {b"velocity_burst"}
    assert len({h["scenario_id"] for h in headers}) == 1
