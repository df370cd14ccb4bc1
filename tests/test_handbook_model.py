"""Smoke size of the yardstick: on a small handbook world the model learns the fraud from delayed labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.handbook.__main__ import main as handbook_main
from bench.handbook.data import labelled
from bench.handbook.simulator import SimParams
from model.features import FeatureConfig
from model.store import load
from model.train import run_week

SMALL = SimParams(n_customers=1_000, n_terminals=2_000, n_days=60, seed=11)


@pytest.mark.parametrize("candidate", ["lightgbm", "sklearn_hist_gbm"])
def test_the_model_finds_far_more_fraud_than_chance_on_the_next_week(candidate: str) -> None:
    _, data = labelled(SMALL)
    result = run_week(data, train_start=30, candidate=candidate)
    rate = result.scores.frauds / result.scores.transactions
    assert result.train_frauds > 50 and result.scores.frauds > 30
    assert result.scores.average_precision > 5 * rate  # chance: the fraud rate
    assert result.scores.auc_roc > 0.75
    assert result.scores.card_precision_at_k > 0.0


def test_a_variant_world_is_learnt_too() -> None:
    # another amount cut, multiplier and durations: nothing in the features knows the constants
    variant = SimParams(
        **{
            **SMALL.__dict__,
            "amount_cut": 150.0,
            "customer_multiplier": 3.0,
            "terminal_days": 14,
            "customer_days": 21,
        }
    )
    _, data = labelled(variant)
    result = run_week(data, train_start=30)
    assert result.scores.average_precision > 5 * result.scores.frauds / result.scores.transactions


def test_the_train_command_saves_a_loadable_model_with_its_card(tmp_path: Path) -> None:
    small = ["--customers", "1000", "--terminals", "2000", "--days", "60", "--seed", "11"]
    assert handbook_main(["train", "--out", str(tmp_path), "--train-start", "30", *small]) == 0
    (saved,) = tmp_path.iterdir()
    model = load(saved, FeatureConfig())
    card = json.loads((saved / "card.json").read_text())
    assert card["train_range"] == ["2018-05-01", "2018-05-08"]
    assert card["metrics"]["average_precision"] > 0.3
    assert np.asarray(model.booster.predict(np.zeros((1, len(FeatureConfig().names()))))).shape == (1,)
