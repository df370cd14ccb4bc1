"""The handbook's test weeks through the system's own commands, as a fraud team would run them.

The days are on a topic at their event time and every fraud's chargeback is on a labels topic 7
days after its transaction. Per test week: `python -m model train` on the training week (features
rebuilt from the topics, labels as they arrived), `python -m model registry register`, and
`python -m model score` on the test week. The book's test set (cards with a fraud known by then
removed) and its metrics are then computed on those scores, beside the direct path's.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from kafka import KafkaProducer

from bench.handbook.kafka_trip import CARD, TXN
from bench.handbook.simulator import DAY_S, Transactions
from common.labels import label_record, make_label
from model.metrics import evaluate
from model.train import Labelled, Protocol, split

logger = logging.getLogger(__name__)
KEEP = {"retention.ms": "-1"}  # records timed in 2018: kept, not expired by the broker's retention
REPO_ROOT = Path(__file__).resolve().parents[2]


class CommandFailed(RuntimeError):
    """A system command exited non-zero (its stderr is in the message)."""


def produce_labels(
    producer: KafkaProducer, topic: str, tx: Transactions, rows: np.ndarray, delay_s: int
) -> int:
    """Every fraud among `rows` labelled by a chargeback `delay_s` after it, at that record time."""
    n = 0
    for i in rows[tx.fraud[rows]]:
        label = make_label(
            txn_id=f"{TXN}{tx.tx_id[i]}",
            card_id=f"{CARD}{tx.card[i]}",
            label="fraud",
            source="chargeback",
            label_ms=(int(tx.ts[i]) + delay_s) * 1000,
            txn_ms=int(tx.ts[i]) * 1000,
        )
        key, value, headers = label_record(label)
        producer.send(topic, key=key, value=value, headers=headers, timestamp_ms=label.label_ms)
        n += 1
    producer.flush()
    return n


def _iso(ts_s: int) -> str:
    return datetime.fromtimestamp(ts_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(args: list[str], env: dict[str, str]) -> str:
    """`python -m model ARGS`; its stdout. CommandFailed on a non-zero exit or after 30 minutes."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "model", *args],
            check=False,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1_800,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(f"python -m model {' '.join(args)}: no answer in {exc.timeout:.0f} s") from None
    if done.returncode != 0:
        raise CommandFailed(
            f"python -m model {' '.join(args)}: exit {done.returncode}: {done.stderr[-2_000:]}"
        )
    return done.stdout


def _scores(path: Path, n: int) -> np.ndarray:
    """The CSV's scores by simulator row (NaN where a row was not scored)."""
    out = np.full(n, np.nan)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            out[int(row["txn_id"][len(TXN) :])] = float(row["score"])
    return out


def _week(
    env: dict[str, str], out: Path, start_ts: int, data: Labelled, w: int, p: Protocol
) -> dict[str, Any]:
    """One test week: train on [w, w + 7 days), register, score the test week; the book's metrics."""

    def day(d: int) -> str:
        return _iso(start_ts + d * DAY_S)

    test_from = w + p.train_days + p.delay_days
    models = out / f"week-{w}"  # this week's `--out`: the one version directory in it is its model
    t0 = time.perf_counter()
    _run(["train", "--from", day(w), "--to", day(w + p.train_days), "--out", str(models)], env)
    train_s = time.perf_counter() - t0
    (saved,) = [d for d in models.iterdir() if d.is_dir()]
    version = json.loads(_run(["registry", "register", str(saved), "--by", "bench"], env))["registered"]
    csv_path = out / f"scores-{w}.csv"
    t0 = time.perf_counter()
    _run(["score", "--from", day(test_from), "--to", day(test_from + p.test_days),
          "--model", version, "--out", str(csv_path), "--reasons", "0"], env)  # fmt: skip
    score_s = time.perf_counter() - t0
    scores = _scores(csv_path, len(data.day))
    test = split(data.day, data.card, data.fraud, w, p).test
    missing = int(np.isnan(scores[test]).sum())
    if missing:
        raise CommandFailed(
            f"model score left {missing} of the week's {len(test)} test transactions unscored"
        )
    m = evaluate(data.day[test], data.card[test], data.fraud[test], scores[test]).as_dict()
    logger.info("handbook: commands, week from day %d: %s", w, m)
    return {"train_start_day": w, "train_seconds": round(train_s, 1), "score_seconds": round(score_s, 1), **m}


def run_weeks(
    env: dict[str, str],
    start_ts: int,
    data: Labelled,
    weeks: tuple[int, ...],
    protocol: Protocol | None = None,
) -> dict[str, Any]:
    """Train, register and score each week with the commands (`env` names the topics, the broker and
    the registry's Redis); the book's metrics on the scores, per week and their mean."""
    with tempfile.TemporaryDirectory(prefix="handbook-commands-") as tmp:
        results = [_week(env, Path(tmp), start_ts, data, w, protocol or Protocol()) for w in weeks]
    keys = ("auc_roc", "average_precision", "card_precision_at_100")
    mean = {k: round(float(np.mean([r[k] for r in results])), 4) for k in keys}
    return {"weeks": results, "mean": mean}


def command_env(bootstrap: str, redis_url: str, topic: str, labels_topic: str, prefix: str) -> dict[str, str]:
    """The environment the commands read their settings from (the documented variables)."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_LABELS_TOPIC": labels_topic,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
    }
