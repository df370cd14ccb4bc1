"""Model explanations: LightGBM's own contributions, the features that raised a score, phrased with values."""

from __future__ import annotations

import numpy as np
import pytest

from model.explain import explain, phrase
from model.features import FeatureConfig
from model.train import fit_lightgbm

NAMES = FeatureConfig().names()
SPEND_JUMP = NAMES.index("amount_over_card_avg_30d")


@pytest.fixture(scope="module")
def booster():  # type: ignore[no-untyped-def]
    """Fraud exactly when the amount is over 4x the card's 30-day average: one feature carries it."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4_000, len(NAMES)))
    x[:, SPEND_JUMP] = rng.uniform(0, 8, size=4_000)
    return fit_lightgbm(x, x[:, SPEND_JUMP] > 4)


def test_the_feature_that_decides_is_the_first_reason(booster) -> None:  # type: ignore[no-untyped-def]
    row = np.zeros((2, len(NAMES)))
    row[0, SPEND_JUMP], row[1, SPEND_JUMP] = 6.5, 0.5
    high, low = explain(booster, row, NAMES, top=3)
    assert high[0].feature == "amount_over_card_avg_30d"
    assert high[0].text == "amount 6.5\u00d7 the card's 30-day average"
    assert high[0].value == 6.5 and high[0].contribution > 1.0
    assert all(r.contribution > 0 for r in high) and len(high) <= 3
    assert all(r.feature != "amount_over_card_avg_30d" for r in low)  # it lowered that score: no reason


def test_contributions_add_up_to_the_raw_score(booster) -> None:  # type: ignore[no-untyped-def]
    x = np.random.default_rng(1).normal(size=(50, len(NAMES)))
    contrib = booster.predict(x, pred_contrib=True)
    assert np.allclose(contrib.sum(axis=1), booster.predict(x, raw_score=True))
    reasons = explain(booster, x, NAMES, top=len(NAMES))
    for parts, found in zip(contrib[:, :-1], reasons, strict=True):
        assert sorted(r.contribution for r in found) == sorted(float(p) for p in parts if p > 0)


def test_every_feature_has_words() -> None:
    texts = {name: phrase(name, 0.25) for name in NAMES}
    assert not [n for n, t in texts.items() if "=" in t], texts  # none falls back to `name = value`
    assert phrase("terminal_fraud_rate_7d", 0.38) == "merchant fraud rate 38% over 7 d"
    assert phrase("card_count_1d", 4) == "4 transactions on the card in 1 d"
    assert phrase("card_count_1d", 1) == "1 transaction on the card in 1 d"
    assert phrase("night", 1) == "at night" and phrase("hour", 3) == "at 03:00"
    assert phrase("something_new", 2) == "something_new = 2"


def test_a_model_of_another_width_is_refused(booster) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="expected"):
        explain(booster, np.zeros((1, len(NAMES))), NAMES[:-1])
