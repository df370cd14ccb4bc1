"""`python -m model train` on the real broker: a generated stream and its delayed labels in, a model out."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer

from common.labels import ANALYST, CHARGEBACK, FRAUD, LEGITIMATE, label_record, make_label
from model.cli import Ranges, TrainError, ranges_of, train
from model.join import Txn
from model.topics import Read
from producer import generate
from producer.labels import DelayedLabels
from tests.conftest import REPO_ROOT

EVENTS = 20_000
SIM_RATE = 0.5  # events per second of event time: 20,000 events span ~11 h (the local broker keeps 24 h)
LABEL_DELAY_MS = 600_000


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _send(bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes, int]]) -> None:
    """(value, key, timestamp ms): the record time is the event time, as a live producer's roughly is."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=256 * 1024)
    try:
        for value, key, ts in records:
            producer.send(topic, value=value, key=key, timestamp_ms=ts)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)


def _stream(bootstrap: str, topic: str) -> tuple[list[int], DelayedLabels]:
    """Produce the generated events (plus two bad records) ending an hour ago; their pending labels."""
    now = int(time.time() * 1000)
    start = now - int(EVENTS / SIM_RATE * 1000) - 3_600_000
    events = generate(seed=3, count=EVENTS, start=start, sim_rate=SIM_RATE)
    records: list[tuple[bytes | None, bytes, int]] = [(e.value, e.key, e.ts_ms) for e in events]
    records.insert(100, (b"not json", b"card-x", events[100].ts_ms))
    before_1970 = json.loads(events[200].value) | {"txn_id": "old-1", "ts": "1960-01-01T00:00:00Z"}
    records.insert(200, (json.dumps(before_1970).encode(), events[200].key, events[200].ts_ms))
    _send(bootstrap, topic, records)
    labels = DelayedLabels(LABEL_DELAY_MS)
    labels.add(events)
    return [e.ts_ms for e in events], labels


def _train(
    bootstrap: str, topic: str, labels_topic: str, out: Path, *ranges: str
) -> subprocess.CompletedProcess[str]:
    names = ("--from", "--to", "--test-from", "--test-to")
    argv = [sys.executable, "-m", "model", "train", "--out", str(out)]
    for name, value in zip(names, ranges, strict=False):
        argv += [name, value]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_LABELS_TOPIC": labels_topic,
    }
    return subprocess.run(
        argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_train_from_topics_saves_a_model_that_ranks_a_later_range(
    kafka_bootstrap: str, topic: str, labels_topic: str, tmp_path: Path
) -> None:
    times, pending = _stream(kafka_bootstrap, topic)
    labels = pending.due(times[-1])  # the chargebacks due by the last event, as the producer sends them
    sent = [label_record(lab) for lab in labels]
    values: list[tuple[bytes | None, bytes, int]] = [
        (v, k, lab.label_ms) for (k, v, _), lab in zip(sent, labels, strict=True)
    ]
    values += [(b"{}", b"card-x", times[-1]), (None, b"card-y", times[-1])]  # refused, counted
    _send(kafka_bootstrap, labels_topic, values)

    cut = times[int(len(times) * 0.7)]
    rng = (_iso(times[0]), _iso(cut), _iso(cut), _iso(times[-1] + 1))
    done = _train(kafka_bootstrap, topic, labels_topic, tmp_path, *rng)
    assert done.returncode == 0, done.stderr

    (model_dir,) = list(tmp_path.iterdir())
    card = json.loads((model_dir / "card.json").read_text())
    assert card["topic"] == topic and card["labels_topic"] == labels_topic
    assert card["train_range"] == [rng[0], rng[1]] and card["test_range"] == [rng[2], rng[3]]
    counts = card["label_counts"]
    assert counts["read"] == len(labels) and counts["bad_records"] == 2
    assert counts["standing_chargeback_fraud"] == len(labels)
    assert card["bad_transactions"] == 2  # not JSON; an event time the features cannot take
    assert counts["train"]["transactions"] + counts["test"]["transactions"] == EVENTS
    assert counts["train"]["fraud"] > 50 and counts["test"]["fraud"] > 20
    metrics = card["metrics"]
    fraud_rate = metrics["frauds"] / metrics["transactions"]
    assert metrics["average_precision"] > 3 * fraud_rate  # a learnt signal, far above a random ranking
    ids = json.loads((model_dir / "ids.json").read_text())
    assert len(ids["card_id"]) > 100 and all(isinstance(v, int) for v in ids["merchant_id"].values())


def test_a_range_without_labels_exits_2_and_writes_nothing(
    kafka_bootstrap: str, topic: str, labels_topic: str, tmp_path: Path
) -> None:
    times, _ = _stream(kafka_bootstrap, topic)  # no labels sent
    out = tmp_path / "models"
    done = _train(kafka_bootstrap, topic, labels_topic, out, _iso(times[0]), _iso(times[-1] + 1))
    assert done.returncode == 2
    assert "no fraud labels" in done.stderr
    assert not out.exists()


def _ns(**kw: str | None) -> argparse.Namespace:
    base: dict[str, str | None] = {
        "from_": "2026-12-01T00:00Z",
        "to": "2026-12-02T00:00Z",
        "test_from": None,
        "test_to": None,
    }
    return argparse.Namespace(**(base | kw))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"to": "2026-11-30T00:00Z"}, "--to must be after --from"),
        ({"test_from": "2026-12-02T00:00Z"}, "give both"),
        ({"test_from": "2026-12-01T12:00Z", "test_to": "2026-12-03T00:00Z"}, "start at or after --to"),
        ({"from_": "yesterday"}, "not an ISO-8601 time"),
    ],
)
def test_ranges_refused_with_the_reason(args: dict[str, str], message: str) -> None:
    with pytest.raises(TrainError, match=message):
        ranges_of(_ns(**args))


def test_only_legitimate_labels_in_the_test_range_refused_before_anything_is_written(tmp_path: Path) -> None:
    h = 3_600_000
    txns = [Txn(f"t{i}", i * h, f"c{i % 3}", "m", 1_000, i * h) for i in range(10)]
    labels = [make_label(txn_id="t1", card_id="c1", label=FRAUD, source=CHARGEBACK, label_ms=2 * h)]
    labels += [
        make_label(txn_id="t8", card_id="c2", label=LEGITIMATE, source=ANALYST, label_ms=9 * h, ref="r")
    ]
    data = Read(txns, labels, 0, 0)
    ranges = Ranges(train=(0, 5 * h), test=(5 * h, 10 * h))
    with pytest.raises(TrainError, match="the test range has no fraud labels"):
        train(data, ranges, topic="t", labels_topic="l", out=tmp_path / "m", as_of_ms=None)
    assert not (tmp_path / "m").exists()
