"""`python -m model train` (a model from the `transactions` and `labels` topics) and `... registry`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from kafka.errors import KafkaError

from backtest.replay import RangeError
from common.rules import default_rules
from common.settings import ConfigError, from_env
from model.drift import reference
from model.features import DAY_S, FeatureConfig, compute_features
from model.join import Joined, join
from model.metrics import evaluate
from model.registry_cli import add_parser as add_registry_parser
from model.registry_cli import run as run_registry
from model.settings import ModelSettings
from model.store import save
from model.topics import Read, ReadWatch, TopicReadError, read
from model.train import LGBM_PARAMS, LGBM_ROUNDS, fit_lightgbm

logger = logging.getLogger("model")
IDS_FILE = "ids.json"


class TrainError(ValueError):
    """Data that cannot give a model (no labels, one class, an empty range): exit 2, nothing written."""


@dataclass(frozen=True)
class Ranges:
    """Record-time ranges [from, to) in epoch ms; the test range is optional and later."""

    train: tuple[int, int]
    test: tuple[int, int] | None

    def read_span(self) -> tuple[int, int]:
        return self.train[0], (self.test or self.train)[1]


def time_ms(text: str) -> int:
    """An ISO-8601 time (UTC when it names no zone) -> epoch ms; TrainError when it is not one."""
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise TrainError(f"not an ISO-8601 time: {text!r}") from None
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)


def iso_time(ms: int) -> str:
    """Epoch ms -> ISO-8601 UTC with milliseconds (the card's ranges)."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ranges_of(args: argparse.Namespace) -> Ranges:
    """The ranges the arguments ask for; TrainError when reversed, half given or overlapping."""
    train = (time_ms(args.from_), time_ms(args.to))
    if train[1] <= train[0]:
        raise TrainError("--to must be after --from")
    if (args.test_from is None) != (args.test_to is None):
        raise TrainError("give both --test-from and --test-to, or neither")
    if args.test_from is None:
        return Ranges(train, None)
    test = (time_ms(args.test_from), time_ms(args.test_to))
    if test[1] <= test[0] or test[0] < train[1]:
        raise TrainError("the test range must end after it starts and start at or after --to")
    return Ranges(train, test)


def _rows(joined: Joined, span: tuple[int, int]) -> npt.NDArray[np.int64]:
    return np.flatnonzero((joined.record_ms >= span[0]) & (joined.record_ms < span[1]))


def _range_counts(joined: Joined, rows: npt.NDArray[np.int64]) -> dict[str, int]:
    return {
        "transactions": len(rows),
        "labelled": int(joined.labelled[rows].sum()),
        "fraud": int(joined.fraud[rows].sum()),
    }


def _two_classes(joined: Joined, rows: npt.NDArray[np.int64], what: str) -> None:
    if not len(rows):
        raise TrainError(f"the {what} range holds no transactions")
    frauds = int(joined.fraud[rows].sum())
    if not joined.labelled[rows].any() or frauds == 0:
        raise TrainError(
            f"the {what} range has no fraud labels ({len(rows)} transactions, "
            f"{int(joined.labelled[rows].sum())} labelled): nothing to learn from or score against"
        )
    if frauds == len(rows):
        raise TrainError(f"the {what} range has only fraud: one class")


@dataclass(frozen=True)
class HeldOut:
    """The test range's feature rows and targets: any model can be scored on them (retrain compares)."""

    x: npt.NDArray[np.float64]
    day: npt.NDArray[np.int64]
    card: npt.NDArray[np.int64]
    fraud: npt.NDArray[np.bool_]
    span: tuple[int, int] | None = None  # the record-time range, [from, to) in ms

    def metrics(self, booster: Any) -> dict[str, float | int | None]:
        """AUC ROC, average precision and CP@100 of `booster` (a LightGBM Booster) on these rows."""
        scores = np.asarray(booster.predict(self.x), dtype=np.float64)
        return evaluate(self.day, self.card, self.fraud, scores).as_dict()


def train(
    data: Read, ranges: Ranges, *, topic: str, labels_topic: str, out: Path, as_of_ms: int | None
) -> Path:
    """Join, build point-in-time features, fit LightGBM, evaluate on the test range, save; the directory."""
    return train_held_out(data, ranges, topic=topic, labels_topic=labels_topic, out=out, as_of_ms=as_of_ms)[0]


def train_held_out(
    data: Read, ranges: Ranges, *, topic: str, labels_topic: str, out: Path, as_of_ms: int | None
) -> tuple[Path, HeldOut | None]:
    """train(), and the test range's rows (None without one) to score other models on."""
    config = FeatureConfig()
    joined = join(data.txns, data.labels, labels_as_of_ms=as_of_ms)
    train_rows = _rows(joined, ranges.train)
    _two_classes(joined, train_rows, "training")
    test_rows = _rows(joined, ranges.test) if ranges.test else None
    if test_rows is not None:
        _two_classes(joined, test_rows, "test")
    x = compute_features(joined.events, joined.feature_labels, config)
    booster = fit_lightgbm(x[train_rows], joined.fraud[train_rows])
    train_scores = np.asarray(booster.predict(x[train_rows]), dtype=np.float64)
    card: dict[str, Any] = {
        "drift_reference": reference(x[train_rows], train_scores, config.names()),  # python -m model drift
        "data": f"kafka topics {topic!r} (transactions) and {labels_topic!r} (labels)",
        "topic": topic,
        "labels_topic": labels_topic,
        "range_time": "record time (Kafka timestamp), [from, to)",
        "train_range": [iso_time(ranges.train[0]), iso_time(ranges.train[1])],
        "test_range": [iso_time(ranges.test[0]), iso_time(ranges.test[1])] if ranges.test else None,
        "labels_as_of": iso_time(as_of_ms) if as_of_ms is not None else "all labels read",
        "train_rows": len(train_rows),
        "label_counts": {
            "read": len(data.labels),
            "bad_records": data.bad_labels,
            **joined.counts,
            "train": _range_counts(joined, train_rows),
            **({"test": _range_counts(joined, test_rows)} if test_rows is not None else {}),
        },
        "bad_transactions": data.bad_transactions,
        "id_mapping": "dense integers in event-time order of the read (warm-up included): see ids.json",
        "amounts": "US dollars at the default rules document's currency rates",
        "params": {**LGBM_PARAMS, "num_boost_round": LGBM_ROUNDS},
    }
    held: HeldOut | None = None
    if test_rows is not None:
        ev = joined.events
        held = HeldOut(
            x[test_rows], ev.ts[test_rows] // DAY_S, ev.card[test_rows], joined.fraud[test_rows], ranges.test
        )
        card["metrics"] = held.metrics(booster)
    path = save(out, booster, config, card)
    ids = {"card_id": joined.cards.ids, "merchant_id": joined.merchants.ids}
    (path / IDS_FILE).write_text(json.dumps(ids, sort_keys=True) + "\n")
    return path, held


def read_topics(settings: ModelSettings, ranges: Ranges, watch: ReadWatch | None = None) -> Read:
    """The transactions of the ranges, with the history their features look back on, and every label
    (`watch`: model.topics.read's progress and stop)."""
    # Features look back at most the label delay plus the longest merchant window (37 days).
    cfg = FeatureConfig()
    warmup_ms = (
        (cfg.label_delay_days + max(*cfg.terminal_windows_days, *cfg.card_windows_days)) * DAY_S * 1000
    )
    data = read(
        settings.kafka_bootstrap_servers, settings.kafka_topic, settings.kafka_labels_topic,
        ranges.read_span(), warmup_ms=warmup_ms, rates=default_rules().currency, watch=watch,
    )  # fmt: skip
    logger.info(
        "model: read transactions=%d bad=%d labels=%d bad=%d",
        len(data.txns), data.bad_transactions, len(data.labels), data.bad_labels,
    )  # fmt: skip
    return data


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train on a record-time range of the topics and save the model")
    t.add_argument("--from", dest="from_", required=True, help="range start, ISO-8601 (UTC if no zone)")
    t.add_argument("--to", required=True, help="range end (excluded), ISO-8601")
    t.add_argument("--test-from", help="held-out range start (at or after --to)")
    t.add_argument("--test-to", help="held-out range end (excluded)")
    t.add_argument("--labels-as-of", help="use only labels known by this time (default: all read)")
    t.add_argument("--out", type=Path, required=True, help="models directory (a versioned subdirectory)")
    add_registry_parser(sub)
    from model.retrain import add_parser as add_retrain_parser
    from model.score import add_parser as add_score_parser

    add_retrain_parser(sub)
    add_score_parser(sub)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    if args.cmd == "registry":
        return run_registry(args)
    if args.cmd == "retrain":
        from model.retrain import run as run_retrain  # imports this module: resolved at call time

        return run_retrain(args)
    if args.cmd in {"score", "drift", "performance"}:
        from model.score import run as run_score

        return run_score(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        settings = from_env(ModelSettings)
        ranges = ranges_of(args)
        as_of = time_ms(args.labels_as_of) if args.labels_as_of else None
        data = read_topics(settings, ranges)
        path = train(
            data, ranges, topic=settings.kafka_topic, labels_topic=settings.kafka_labels_topic,
            out=args.out, as_of_ms=as_of,
        )  # fmt: skip
    except (TrainError, RangeError, TopicReadError, ConfigError) as exc:
        sys.stderr.write(f"model train: {exc}\n")
        return 2
    except KafkaError as exc:
        sys.stderr.write(f"model train: Kafka: {exc}\n")
        return 1
    metrics = json.loads((path / "card.json").read_text()).get("metrics")
    logger.info("model: saved %s metrics=%s", path, json.dumps(metrics))
    return 0
