"""Drift checks without I/O: PSI by the usual formula, a shifted feature found first, edge cases named."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.drift import drift, psi, rating, reference

NAMES = ("amount", "night", "card_count_1d")


def sample(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.lognormal(3, 1, n) + shift, np.zeros(n), rng.poisson(2, n)])
    return x.astype(np.float64)


def test_psi_is_the_usual_formula() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0.0
    want = 0.4 * math.log(0.9 / 0.5) + (-0.4) * math.log(0.1 / 0.5)
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(want)
    assert math.isfinite(psi([0.5, 0.5], [1.0, 0.0]))  # an empty bin does not make it infinite
    assert [rating(v) for v in (0.05, 0.1, 0.25, 0.3)] == [
        "stable",
        "moderate shift",
        "moderate shift",
        "significant shift",
    ]


def test_the_same_population_is_stable_a_shifted_feature_comes_first() -> None:
    train = sample(20_000, 1)
    ref = reference(train, train[:, 0] / 1000, NAMES)
    assert len(ref["amount"]["shares"]) == len(ref["amount"]["edges"]) + 1 == 10
    assert ref["night"]["edges"] == [0.0]  # a constant feature: one edge, no error
    same = sample(20_000, 2)
    found = drift(ref, same, same[:, 0] / 1000, NAMES)
    assert found["score_rating"] == "stable" and all(f["psi"] < 0.02 for f in found["features"])
    moved = sample(20_000, 3, shift=40.0)  # every amount 40 higher: amounts, and so scores, shift
    found = drift(ref, moved, moved[:, 0] / 1000, NAMES)
    assert (
        found["features"][0]["feature"] == "amount" and found["features"][0]["rating"] == "significant shift"
    )
    assert found["score_rating"] == "significant shift"
    assert {f["feature"]: f["rating"] for f in found["features"]}["card_count_1d"] == "stable"
    assert found["rows"] == 20_000


def test_a_reference_for_other_features_is_refused() -> None:
    train = sample(1_000, 1)
    ref = reference(train[:, :2], train[:, 0], NAMES[:2])
    with pytest.raises(ValueError, match="lacks \\['card_count_1d'\\]"):
        drift(ref, train, train[:, 0], NAMES)


def test_live_drift_equals_the_offline_check_and_moves_with_a_shift() -> None:
    from model.drift import LiveDrift

    train = sample(5_000, 1)
    ref = reference(train, train[:, 0] / 100, NAMES)
    live = LiveDrift(ref, NAMES, window=6_000)
    same = sample(4_000, 2)
    assert live.current() is None  # nothing counted yet
    for lo in range(0, 4_000, 500):  # batch by batch, as the bridge counts
        live.add(same[lo : lo + 500], same[lo : lo + 500, 0] / 100)
    offline = drift(ref, same, same[:, 0] / 100, NAMES)
    got = live.current()
    assert got is not None
    assert got["score"] == pytest.approx(offline["score_psi"], abs=1e-4)
    assert {f["feature"]: f["psi"] for f in offline["features"]} == pytest.approx(
        {n: got[n] for n in NAMES}, abs=1e-4
    )
    shifted = sample(6_000, 3, shift=40.0)
    live.add(shifted, shifted[:, 0] / 100)  # fills a window: the PSI is the full window's
    moved = live.current()
    assert moved is not None and moved["amount"] > 0.25 > got["amount"]


def test_the_live_summary_names_the_score_and_the_most_shifted_feature() -> None:
    from model.drift import live_summary

    text = live_summary({"score": 0.31, "amount": 0.02, "card_count_1d": 0.12})
    assert text == "live drift: score PSI 0.31 (significant shift); most shifted card_count_1d 0.12"
    assert live_summary({"score": 0.05}) == "live drift: score PSI 0.05 (stable)"
