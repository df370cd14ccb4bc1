"""The handbook's protocol: train on one period, skip the label delay, test on the next period."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from model.metrics import Scores, evaluate

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Scorer = Callable[[F64], F64]

# Chosen before looking at any test week (the book's sizes: one week, ~550 frauds): small trees,
# many rows per leaf, a modest learning rate. Not tuned on the test weeks.
LGBM_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "num_threads": 2,
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
    "verbosity": -1,
}
LGBM_ROUNDS = 200
# Below this many rows a second thread's synchronisation at every boosting round costs more than it
# saves (seconds for a few thousand rows on a loaded machine): fit on one thread.
SMALL_FIT_ROWS = 20_000


@dataclass(frozen=True)
class Protocol:
    """Period lengths in days (the book: 7 / 7 / 7)."""

    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7


@dataclass(frozen=True)
class Split:
    """Row indices of one training period and its test period."""

    train: I64
    test: I64  # without the transactions of cards already known compromised that day


def split(
    day: I64, card: I64, fraud: npt.NDArray[np.bool_], train_start: int, p: Protocol = Protocol()
) -> Split:
    """The book's train/test sets: a test day drops the cards with a fraud known by then, i.e. a
    fraud on a day since the training start that is at least the delay before it."""
    train = np.flatnonzero((day >= train_start) & (day < train_start + p.train_days))
    test_start = train_start + p.train_days + p.delay_days
    parts = []
    for d in range(test_start, test_start + p.test_days):
        known_rows = (day >= train_start) & (day < d - p.delay_days) & fraud
        rows = np.flatnonzero(day == d)
        parts.append(rows[~np.isin(card[rows], card[known_rows])])
    return Split(train=train, test=np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))


def fit_lightgbm(x: F64, y: npt.NDArray[np.bool_], params: dict[str, Any] | None = None) -> lgb.Booster:
    """Gradient-boosted trees with LightGBM (the candidate kept: see docs/model.md)."""
    chosen = dict(params or LGBM_PARAMS)
    if len(x) < SMALL_FIT_ROWS:
        chosen["num_threads"] = 1
    data = lgb.Dataset(x, label=y.astype(np.float64), free_raw_data=True)
    return lgb.train(chosen, data, num_boost_round=LGBM_ROUNDS)


def _lightgbm(x: F64, y: npt.NDArray[np.bool_]) -> Scorer:
    booster = fit_lightgbm(x, y)
    return lambda z: np.asarray(booster.predict(z), dtype=np.float64)


def _hist_gbm(x: F64, y: npt.NDArray[np.bool_]) -> Scorer:
    clf = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=LGBM_ROUNDS,
        max_leaf_nodes=15,
        min_samples_leaf=100,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
    )
    with threadpool_limits(1 if len(x) < SMALL_FIT_ROWS else None, user_api="openmp"):
        clf.fit(x, y)
    return lambda z: np.asarray(clf.predict_proba(z)[:, 1], dtype=np.float64)


def _logistic(x: F64, y: npt.NDArray[np.bool_]) -> Scorer:
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1_000))
    clf.fit(x, y)
    return lambda z: np.asarray(clf.predict_proba(z)[:, 1], dtype=np.float64)


CANDIDATES: dict[str, Callable[[F64, npt.NDArray[np.bool_]], Scorer]] = {
    "lightgbm": _lightgbm,
    "sklearn_hist_gbm": _hist_gbm,
    "logistic_regression": _logistic,  # the book's baseline, for reference
}


@dataclass(frozen=True)
class WeekResult:
    """One protocol run: the test period's scores and the cost of fitting."""

    candidate: str
    train_start: int
    scores: Scores
    fit_seconds: float
    train_rows: int
    train_frauds: int


@dataclass(frozen=True)
class Labelled:
    """Every transaction's features, day index, card and ground truth, in one row order."""

    x: F64
    day: I64
    card: I64
    fraud: npt.NDArray[np.bool_]


def run_week(
    data: Labelled, train_start: int, candidate: str = "lightgbm", p: Protocol = Protocol()
) -> WeekResult:
    """Fit `candidate` on the training period, score the test period, evaluate."""
    s = split(data.day, data.card, data.fraud, train_start, p)
    t0 = time.perf_counter()
    scorer = CANDIDATES[candidate](data.x[s.train], data.fraud[s.train])
    fit_s = time.perf_counter() - t0
    test = s.test
    scores = evaluate(data.day[test], data.card[test], data.fraud[test], scorer(data.x[test]))
    return WeekResult(candidate, train_start, scores, fit_s, len(s.train), int(data.fraud[s.train].sum()))
