"""Real Kafka: `python -m producer --labels-delay S` sends a chargeback label for exactly the planted
fraud transactions whose time + S the event clock reached, each after its transaction."""

from __future__ import annotations

import subprocess
import sys

import pytest

from common.labels import CHARGEBACK, FRAUD, decode_label
from common.schema import HEADER_SCENARIO_ID, decode_event, event_epoch_ms
from infra.services import REPO_ROOT
from tests.test_labels_relay import read_records

pytestmark = pytest.mark.integration

DELAY_S = 20  # event time; 3,000 events at the default 20 ev/s of event time span ~150 s


def test_delayed_labels_name_exactly_the_planted_fraud_each_after_its_transaction(
    kafka_bootstrap: str, topic: str, labels_topic: str
) -> None:
    args = [
        *("--bootstrap-servers", kafka_bootstrap, "--topic", topic, "--labels-topic", labels_topic),
        *("--count", "3000", "--rate", "0", "--seed", "7", "--fraud-ratio", "0.05", "--cards", "400"),
        *("--start", "2026-03-01T12:00:00Z", "--labels-delay", str(DELAY_S)),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "producer", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    txns = read_records(kafka_bootstrap, topic)
    assert len(txns) == 3000
    ts = {}
    fraud = set()
    for r in txns:
        event = decode_event(r.value)
        ts[event.txn_id] = (event_epoch_ms(event), r.timestamp, event.card_id)
        if HEADER_SCENARIO_ID in dict(r.headers):
            fraud.add(event.txn_id)
    clock = max(t for t, _, _ in ts.values())  # the producer's event clock at its last batch
    delay_ms = DELAY_S * 1000
    due = {t for t in fraud if ts[t][0] + delay_ms <= clock}
    assert 20 < len(due) < len(fraud)  # some came due, the latest had not yet

    records = read_records(kafka_bootstrap, labels_topic)
    labels = [decode_label(r.value) for r in records]
    assert [lb.txn_id for lb in labels if lb.txn_id not in due] == []
    assert len(labels) == len(due) == len({lb.label_id for lb in labels})  # once each
    assert {lb.txn_id for lb in labels} == due
    # sent only once a transaction at or after the label's time had been sent (Kafka record times)
    sent_at = sorted((t, rec_ms) for t, rec_ms, _ in ts.values())
    for record, lb in zip(records, labels, strict=True):
        txn_ms, _, card = ts[lb.txn_id]
        assert (lb.label, lb.source, lb.card_id, lb.txn_ms) == (FRAUD, CHARGEBACK, card, txn_ms)
        assert lb.label_ms == txn_ms + delay_ms
        assert record.key == card.encode()
        first_reaching = min(rec_ms for t, rec_ms in sent_at if t >= lb.label_ms)
        assert record.timestamp >= first_reaching
    assert b"labels sent=%d" % len(due) in done.stderr
