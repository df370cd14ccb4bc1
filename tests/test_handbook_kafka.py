"""The handbook's transactions through the real broker come back as they left: same features, same model."""

from __future__ import annotations

import numpy as np
import pytest
from kafka import KafkaProducer

from bench.handbook.data import ground_truth_labels
from bench.handbook.kafka_trip import produce, read_back
from bench.handbook.simulator import SimParams, simulate
from model.features import Events, Labels, compute_features

pytestmark = pytest.mark.integration
SMALL = SimParams(n_customers=200, n_terminals=300, n_days=40, seed=5)


def test_streamed_through_kafka_the_features_are_byte_equal(kafka_bootstrap: str, topic: str) -> None:
    tx = simulate(SMALL)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20, batch_size=256 * 1024)
    try:
        sent = produce(producer, topic, tx, np.arange(len(tx)))
        producer.send(topic, key=b"x", value=b"{not json")  # a bad record on the topic
        producer.flush()
    finally:
        producer.close()
    back = read_back(kafka_bootstrap, topic, sent + 1, timeout_s=120)
    assert back.refused == 1
    assert np.array_equal(back.tx_id, tx.tx_id)  # every transaction, in event-time order
    for name in ("ts", "card", "terminal", "amount_cents", "fraud"):
        assert np.array_equal(getattr(back, name), getattr(tx, name)), name
    f = back.fraud
    read = compute_features(
        Events(back.ts, back.card, back.terminal, back.amount_cents),
        Labels(back.tx_id[f], back.terminal[f], back.ts[f], back.ts[f] + 7 * 86_400),
    )
    direct = compute_features(
        Events(tx.ts, tx.card, tx.terminal, tx.amount_cents), ground_truth_labels(tx, 7)
    )
    assert read.tobytes() == direct.tobytes()
