"""`python -m model score`: score every transaction of a range with a registered model, with reasons.

The offline half of serving: the same features as training (`model/features.py`, point in time,
labels as they were known), the registry's champion (or `--model VERSION`), and LightGBM's own
contributions for the top reasons. Writes `txn_id,score,reasons` CSV; with labels in the range it
also logs AUC ROC, average precision and CP@100 of the model on it.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import redis
from kafka.errors import KafkaError

from backtest.replay import RangeError
from common.keys import RedisKeys
from common.model_registry import champion_of
from common.settings import ConfigError, from_env
from model.cli import DAY_S, Ranges, TrainError, read_topics, time_ms
from model.drift_store import DriftChecks
from model.explain import explain
from model.features import FeatureConfig, compute_features
from model.join import Joined, join
from model.metrics import ALERT_THRESHOLD, evaluate
from model.performance import PerformanceChecks, labelled_periods
from model.registry import ModelRegistry
from model.settings import ModelSettings, RetrainSettings
from model.topics import ReadWatch, TopicReadError

logger = logging.getLogger("model.score")


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("score", help="score a record-time range with a registered model; CSV with reasons")
    d = sub.add_parser("drift", help="PSI of a range against the model's training range, recorded")
    f = sub.add_parser(
        "performance", help="precision and recall by the labels over a range (per period), recorded"
    )
    for p in (s, d, f):
        p.add_argument("--from", dest="from_", required=True, help="range start, ISO-8601 (UTC if no zone)")
        p.add_argument("--to", required=True, help="range end (excluded), ISO-8601")
        p.add_argument("--model", help="a registered version (default: the champion)")
    s.add_argument("--out", type=Path, required=True, help="CSV file: txn_id,score,reasons")
    s.add_argument("--reasons", type=int, default=3, help="top features per transaction (0: none)")
    f.add_argument(
        "--threshold", type=float, default=ALERT_THRESHOLD,
        help=f"the score that flags a transaction (default {ALERT_THRESHOLD}, the model_high rule's)",
    )  # fmt: skip
    f.add_argument("--every", type=_duration, help="one check per period of this length (e.g. 7d)")


def _duration(text: str) -> int:
    from model.retrain import duration_ms  # imports model.cli, as this module does

    return duration_ms(text)


def _model(registry: ModelRegistry, version: str | None) -> Any:
    from model.store import ModelFileError, from_registry

    entries = registry.entries()
    entry = entries.get(version) if version else champion_of(entries)
    if entry is None:
        raise TrainError(f"no model version {version!r} is registered" if version else "there is no champion")
    try:
        return from_registry(registry.model_bytes(entry.version), entry.version, entry.card, FeatureConfig())
    except ModelFileError as exc:
        raise TrainError(str(exc)) from None


@dataclass(frozen=True)
class Scored:
    """A range's transactions with their features and a model's scores."""

    span: tuple[int, int]
    model: Any  # model.store.LoadedModel
    joined: Joined
    rows: npt.NDArray[np.int64]
    x: npt.NDArray[np.float64]  # the rows' features
    scores: npt.NDArray[np.float64]


def score_range(settings: RetrainSettings, registry: ModelRegistry, args: argparse.Namespace) -> Scored:
    """Read the range (with the history its features need), compute its features, score them."""
    span = (time_ms(args.from_), time_ms(args.to))
    if span[1] <= span[0]:
        raise TrainError("--to must be after --from")
    return score_span(settings, registry, span, args.model)


def score_span(
    settings: ModelSettings,
    registry: ModelRegistry,
    span: tuple[int, int],
    version: str | None,
    watch: ReadWatch | None = None,
) -> Scored:
    """score_range on a record-time span [from, to) in epoch ms (the champion when `version` is None);
    TrainError when there is no such model or the span holds no transactions; `watch` follows the
    topic's read and may stop it (model.topics.ReadCancelled)."""
    loaded = _model(registry, version)
    data = read_topics(settings, Ranges(span, None), watch)
    joined = join(data.txns, data.labels)
    x = compute_features(joined.events, joined.feature_labels, FeatureConfig())
    rows = np.flatnonzero((joined.record_ms >= span[0]) & (joined.record_ms < span[1]))
    if not len(rows):
        raise TrainError("the range holds no transactions")
    return Scored(
        span, loaded, joined, rows, x[rows], np.asarray(loaded.booster.predict(x[rows]), dtype=np.float64)
    )


def score(settings: RetrainSettings, registry: ModelRegistry, args: argparse.Namespace) -> dict[str, Any]:
    """Score the range into `args.out`; a summary (TrainError: nothing written)."""
    if args.reasons < 0:
        raise TrainError("--reasons must be 0 or more")
    done = score_range(settings, registry, args)
    loaded, joined, rows, scores, config = done.model, done.joined, done.rows, done.scores, FeatureConfig()
    reasons = explain(loaded.booster, done.x, config.names(), args.reasons) if args.reasons else None
    with args.out.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["txn_id", "score", "reasons"])
        for k, i in enumerate(rows):
            why = "; ".join(r.text for r in reasons[k]) if reasons is not None else ""
            out.writerow([joined.txn_ids[i], f"{scores[k]:.6f}", why])
    summary: dict[str, Any] = {
        "model": loaded.card.get("version"),
        "transactions": len(rows),
        "out": str(args.out),
    }
    if joined.labelled[rows].any():
        ev = joined.events
        summary["metrics"] = evaluate(
            ev.ts[rows] // DAY_S, ev.card[rows], joined.fraud[rows], scores
        ).as_dict()
    return summary


def drift_check(
    settings: RetrainSettings, registry: ModelRegistry, args: argparse.Namespace
) -> dict[str, Any]:
    """PSI of the range against the model's training range, recorded as the version's latest check."""
    done = score_range(settings, registry, args)
    try:
        return DriftChecks(registry.client, registry.keys).check(
            done.model.card, done.x, done.scores, done.span
        )
    except ValueError as exc:
        raise TrainError(str(exc)) from None


def performance_check(
    settings: RetrainSettings, registry: ModelRegistry, args: argparse.Namespace
) -> dict[str, Any]:
    """The model's precision and recall by the labels known now, per period of the range, each
    recorded as one of its checks (model/performance.py)."""
    if not 0.0 < args.threshold <= 1.0:
        raise TrainError("--threshold must be in (0, 1]")
    done = score_range(settings, registry, args)
    joined, rows = done.joined, done.rows
    if not joined.labelled[rows].any():
        raise TrainError("the range has no labelled transaction: nothing to measure against")
    version = str(done.model.card.get("version"))
    store = PerformanceChecks(registry.client, registry.keys)
    ev, checks = joined.events, []
    for span, part in labelled_periods(joined.record_ms[rows], joined.labelled[rows], done.span, args.every):
        at = rows[part]
        cols = (ev.ts[at] // DAY_S, ev.card[at], joined.fraud[at], done.scores[part])
        checks.append(store.check(version, span, cols, args.threshold, "cli"))
    return {"model": version, "checks": checks}


def run(args: argparse.Namespace) -> int:
    """Exit 0 written, 2 refused (no model, empty range, bad times), 1 Kafka or Redis unreachable."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        settings = from_env(RetrainSettings)
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=10)
        command = {"drift": drift_check, "performance": performance_check}.get(args.cmd, score)
        summary = command(settings, ModelRegistry(client, RedisKeys(settings.redis_key_prefix)), args)
    except (TrainError, RangeError, TopicReadError, ConfigError) as exc:
        sys.stderr.write(f"model {args.cmd}: {exc}\n")
        return 2
    except (KafkaError, redis.RedisError) as exc:
        sys.stderr.write(f"model {args.cmd}: {type(exc).__name__}: {exc}\n")
        return 1
    logger.info("%s: %s", args.cmd, json.dumps(summary, sort_keys=True))
    return 0
