"""The handbook's protocol through the system's own commands (model train, registry register, model
score) on real topics gives the direct path's figures."""

from __future__ import annotations

import numpy as np
import pytest
from kafka import KafkaAdminClient, KafkaProducer

from bench.handbook.commands import KEEP, CommandFailed, command_env, produce_labels, run_weeks
from bench.handbook.data import labelled
from bench.handbook.kafka_trip import produce
from bench.handbook.simulator import DAY_S, SimParams
from infra.kafka_topics import ensure_topics
from model.train import run_week
from tests.conftest import unique

pytestmark = pytest.mark.integration
WORLD = SimParams(n_customers=300, n_terminals=500, n_days=45)
WEEK = 20


def _delete(bootstrap: str, topics: list[str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15_000)
    try:
        admin.delete_topics(topics)
    finally:
        admin.close()


def test_the_commands_on_the_topics_give_the_direct_paths_figures(
    kafka_bootstrap: str, redis_url: str, redis_prefix: str
) -> None:
    tx, data = labelled(WORLD)
    topic, labels_topic = unique("t-handbook"), unique("t-handbook-labels")
    ensure_topics(kafka_bootstrap, {topic: 3, labels_topic: 1}, configs=KEEP)
    rows = np.arange(len(tx))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20, batch_size=256 * 1024)
    try:
        produce(producer, topic, tx, rows, at_event_time=True)
        labels = produce_labels(producer, labels_topic, tx, rows, 7 * DAY_S)
    finally:
        producer.close()
    assert labels == int(tx.fraud.sum()) > 0
    env = command_env(kafka_bootstrap, redis_url, topic, labels_topic, redis_prefix)
    try:
        got = run_weeks(env, tx.params.start_ts, data, (WEEK,))["weeks"][0]
    finally:
        _delete(kafka_bootstrap, [topic, labels_topic])  # kept forever otherwise (retention -1)
    direct = run_week(data, WEEK, "lightgbm").scores.as_dict()
    for key in ("transactions", "frauds", "auc_roc", "average_precision", "card_precision_at_100", "flagged"):
        assert got[key] == direct[key], key
    assert 0 < got["frauds"] < got["transactions"]


def test_a_command_that_fails_is_reported_with_its_error(kafka_bootstrap: str, redis_url: str) -> None:
    tx, data = labelled(SimParams(n_customers=50, n_terminals=60, n_days=30))
    env = command_env(kafka_bootstrap, redis_url, unique("t-absent"), unique("t-absent-labels"), "x:")
    with pytest.raises(CommandFailed, match="python -m model train"):
        run_weeks(env, tx.params.start_ts, data, (1,))
