"""Section: handbook — the fraud handbook's yardstick: its simulator, protocol and metrics, beside its table.

The book's world (5,000 customers, 10,000 terminals, 183 days) is simulated once; features are built
once in bulk by model/features.py (point-in-time: labels known 7 days after their transaction).
Quality: the chapter 3 week (train from 2018-07-25) for each candidate, then four prequential test
weeks (training starts a week apart) for the two tree candidates, then the same four weeks on a
variant of the simulator (other amount cut, multiplier and durations). Parameters were fixed before
any test week was scored. Kafka: the days those weeks need are streamed through a topic as schema-v1
events at their event time, and every fraud's chargeback through a labels topic 7 days later; the
events are read back, the features rebuilt from what came back and the weeks rerun on them; then
each week again through the system's own commands (model train, registry register, model score:
bench/handbook/commands.py), the book's metrics computed on the scores `model score` wrote.
Cost: features + LightGBM fit on the first 1,000,000 labelled events,
`reps` times (and scikit-learn's histogram GBM once, beside it). The smoke run uses a small world.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from typing import Any

import numpy as np
from kafka import KafkaProducer

from bench.handbook.commands import KEEP, command_env, produce_labels, run_weeks
from bench.handbook.data import ground_truth_labels, labelled
from bench.handbook.kafka_trip import produce, read_back
from bench.handbook.simulator import DAY_S, SimParams, Transactions, simulate
from bench.stack import Context, machine_note
from bench.stats import summarize
from model.features import Events, FeatureConfig, Labels, compute_features
from model.train import CANDIDATES, LGBM_PARAMS, LGBM_ROUNDS, Labelled, WeekResult, fit_lightgbm, run_week

logger = logging.getLogger(__name__)
CHAPTER3 = 115  # 2018-07-25
WEEKS = (115, 122, 129, 136)  # test weeks from 2018-08-08, 08-15, 08-22, 08-29
BOOK = {
    "chapter3": {"logistic_regression": [0.871, 0.606, 0.291], "random_forest": [0.867, 0.658, 0.287]},
    "best_four_weeks": [0.87, 0.69, 0.30],
    "targets": {"card_precision_at_100": 0.30, "average_precision": 0.65, "train_1m_seconds": 120},
}
VARIANT = {"amount_cut": 150.0, "customer_multiplier": 3.0, "terminal_days": 14, "customer_days": 21}
SMOKE_WORLD = SimParams(n_customers=300, n_terminals=500, n_days=45)  # seconds, inside `make test`
HISTORY_DAYS = 37  # the longest window (30 days) plus the label delay: what a first training day needs


def _week(r: WeekResult) -> dict[str, Any]:
    return {
        "train_start_day": r.train_start,
        "train_rows": r.train_rows,
        "train_frauds": r.train_frauds,
        "fit_seconds": round(r.fit_seconds, 3),
        **r.scores.as_dict(),
    }


def _mean(weeks: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("auc_roc", "average_precision", "card_precision_at_100")
    return {k: round(float(np.mean([w[k] for w in weeks])), 4) for k in keys}


def _weeks(data: Any, starts: tuple[int, ...], candidate: str) -> dict[str, Any]:
    weeks = [_week(run_week(data, s, candidate)) for s in starts]
    logger.info("handbook: %s weeks %s mean %s", candidate, starts, _mean(weeks))
    return {"weeks": weeks, "mean": _mean(weeks)}


def _train_cost(params: SimParams, n: int, reps: int) -> dict[str, Any]:
    """Seconds to build the features of the first `n` labelled events and fit each tree candidate."""
    tx = simulate(params)
    n = min(n, len(tx))
    events = Events(tx.ts[:n], tx.card[:n], tx.terminal[:n], tx.amount_cents[:n])
    labels = ground_truth_labels(tx, FeatureConfig().label_delay_days)
    feat_s, fit_s, hgb_s = [], [], []
    x = np.zeros((0, 0))
    for _ in range(reps):
        t0 = time.perf_counter()
        x = compute_features(events, labels)
        feat_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fit_lightgbm(x, tx.fraud[:n])
        fit_s.append(time.perf_counter() - t0)
        logger.info("handbook: %d events: features %.1f s, LightGBM fit %.1f s", n, feat_s[-1], fit_s[-1])
    t0 = time.perf_counter()
    CANDIDATES["sklearn_hist_gbm"](x, tx.fraud[:n])
    hgb_s.append(time.perf_counter() - t0)
    total = [a + b for a, b in zip(feat_s, fit_s, strict=True)]
    return {
        "events": n,
        "frauds": int(tx.fraud[:n].sum()),
        "features_seconds": summarize(feat_s),
        "lightgbm_fit_seconds": summarize(fit_s),
        "lightgbm_total_seconds": summarize(total),
        "sklearn_hist_gbm_fit_seconds": summarize(hgb_s),
    }


def _kafka_trip(ctx: Context, tx: Transactions, data: Labelled, weeks: tuple[int, ...]) -> dict[str, Any]:
    """Stream the days the test weeks need through a topic, read them back, build the features from
    what came back and run the LightGBM weeks on them: the same figures as the direct path?"""
    first = max(0, weeks[0] - HISTORY_DAYS)
    rows = np.flatnonzero((tx.day >= first) & (tx.day < weeks[-1] + 21))
    topic = ctx.new_topic("handbook", configs=KEEP)
    labels_topic = ctx.new_topic("handbook-labels", 1, configs=KEEP)
    delay = FeatureConfig().label_delay_days * DAY_S
    producer = KafkaProducer(bootstrap_servers=ctx.bootstrap, linger_ms=20, batch_size=512 * 1024)
    t0 = time.perf_counter()
    try:
        sent = produce(producer, topic, tx, rows, at_event_time=True)
        produce_s = time.perf_counter() - t0
        labels = produce_labels(producer, labels_topic, tx, rows, delay)
    finally:
        producer.close()
    t0 = time.perf_counter()
    back = read_back(ctx.bootstrap, topic, sent, ctx.sizes.timeout_s)
    read_s = time.perf_counter() - t0
    f = back.fraud
    x = compute_features(
        Events(back.ts, back.card, back.terminal, back.amount_cents),
        Labels(back.tx_id[f], back.terminal[f], back.ts[f], back.ts[f] + delay),
    )
    day = (back.ts - tx.params.start_ts) // DAY_S
    full = day >= weeks[0]  # rows whose windows lie wholly inside the streamed days
    same = x[full].tobytes() == data.x[back.tx_id[full]].tobytes()
    streamed = _weeks(Labelled(x=x, day=day, card=back.card, fraud=f), weeks, "lightgbm")
    logger.info("handbook: %d events through Kafka, features equal to the direct path: %s", sent, same)
    keys = ctx.new_keys("handbook-registry")
    env = command_env(ctx.bootstrap, ctx.redis_url, topic, labels_topic, keys.prefix)
    try:
        commands = run_weeks(env, tx.params.start_ts, data, weeks)
    finally:
        ctx.drop_prefix(keys)
    return {
        "events": sent,
        "labels": labels,
        "refused": back.refused,
        "produce_eps": round(sent / produce_s),
        "read_eps": round(sent / read_s),
        "features_equal_direct": same,
        "lightgbm": streamed,
        "commands": commands,
    }


def run(ctx: Context) -> dict[str, Any]:
    """Simulate, run the protocol on every week and candidate, measure the 1M-event training cost."""
    world = SMOKE_WORLD if ctx.smoke else SimParams()
    chapter3, weeks = ((20,), (20,)) if ctx.smoke else ((CHAPTER3,), WEEKS)
    t0 = time.perf_counter()
    tx, data = labelled(world)
    logger.info(
        "handbook: %d transactions, %.2f %% fraud, %.0f s",
        len(tx),
        100 * tx.fraud.mean(),
        time.perf_counter() - t0,
    )
    out: dict[str, Any] = {
        "world": asdict(world),
        "transactions": len(tx),
        "fraud_rate": round(float(tx.fraud.mean()), 5),
        "frauds_by_scenario": np.bincount(tx.scenario, minlength=4)[1:].tolist(),
        "params": {"lightgbm": {**LGBM_PARAMS, "num_boost_round": LGBM_ROUNDS}},
        "book": BOOK,
        "chapter3": {c: _week(run_week(data, chapter3[0], c)) for c in CANDIDATES},
        "four_weeks": {c: _weeks(data, weeks, c) for c in ("lightgbm", "sklearn_hist_gbm")},
    }
    variant = SimParams(**{**asdict(world), **VARIANT})
    vtx, vdata = labelled(variant)
    out["variant"] = {
        "changes": VARIANT,
        "transactions": len(vtx),
        "fraud_rate": round(float(vtx.fraud.mean()), 5),
        "lightgbm": _weeks(vdata, weeks, "lightgbm"),
    }
    out["kafka"] = _kafka_trip(ctx, tx, data, weeks)
    out["train_1m"] = _train_cost(world, 3_000 if ctx.smoke else 1_000_000, ctx.sizes.reps)
    out["machine"] = machine_note()
    return out
