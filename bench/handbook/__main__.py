"""`python -m bench.handbook train --out DIR`: train on a handbook week, test, save the model and its card."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.handbook.data import labelled
from bench.handbook.simulator import DAY_S, SimParams
from model.drift import reference
from model.features import FeatureConfig
from model.metrics import evaluate
from model.store import save
from model.train import LGBM_PARAMS, LGBM_ROUNDS, Protocol, fit_lightgbm, split

logger = logging.getLogger("bench.handbook")
CHAPTER3_TRAIN_START = 115  # 2018-07-25, the book's chapter 3 training week


def _date(params: SimParams, day: int) -> str:
    return datetime.fromtimestamp(params.start_ts + day * DAY_S, UTC).strftime("%Y-%m-%d")


def train(out: Path, train_start: int, params: SimParams) -> Path:
    """Simulate, train LightGBM on one week, evaluate on the week after the delay, save; the directory."""
    config, protocol = FeatureConfig(), Protocol()
    _, data = labelled(params, config)
    s = split(data.day, data.card, data.fraud, train_start, protocol)
    booster = fit_lightgbm(data.x[s.train], data.fraud[s.train])
    scores = evaluate(
        data.day[s.test],
        data.card[s.test],
        data.fraud[s.test],
        np.asarray(booster.predict(data.x[s.test]), dtype=np.float64),
    )
    test_start = train_start + protocol.train_days + protocol.delay_days
    card = {
        "data": f"handbook simulator: {params}",
        "train_range": [_date(params, train_start), _date(params, train_start + protocol.train_days)],
        "test_range": [_date(params, test_start), _date(params, test_start + protocol.test_days)],
        "train_rows": len(s.train),
        "params": {**LGBM_PARAMS, "num_boost_round": LGBM_ROUNDS},
        "metrics": scores.as_dict(),
        # the training week's bins, for `python -m model drift` (docs/model.md)
        "drift_reference": reference(
            data.x[s.train], np.asarray(booster.predict(data.x[s.train]), dtype=np.float64), config.names()
        ),
    }
    return save(out, booster, config, card)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.handbook", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train and save a model on the handbook's data")
    t.add_argument(
        "--out", type=Path, required=True, help="models directory (a versioned subdirectory is made)"
    )
    t.add_argument(
        "--train-start", type=int, default=CHAPTER3_TRAIN_START, help="first training day (0 = 2018-04-01)"
    )
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--customers", type=int, default=SimParams.n_customers)
    t.add_argument("--terminals", type=int, default=SimParams.n_terminals)
    t.add_argument("--days", type=int, default=SimParams.n_days)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sim = SimParams(n_customers=args.customers, n_terminals=args.terminals, n_days=args.days, seed=args.seed)
    path = train(args.out, args.train_start, sim)
    logger.info(
        "handbook: saved %s metrics=%s",
        path,
        json.dumps(json.loads((path / "card.json").read_text())["metrics"]),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
