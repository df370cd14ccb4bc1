"""The native tree walk gives LightGBM's scores bit for bit, refuses what it does not evaluate, and a
disagreement on the probe rows keeps LightGBM's predict."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from bench.handbook.data import labelled
from bench.handbook.simulator import SimParams
from model.features import FeatureConfig
from model.native_trees import compile_trees, probe_rows, scores_of
from model.store import load, save
from model.train import fit_lightgbm

fraud_native = pytest.importorskip("fraud_native")
CONFIG = FeatureConfig()


@pytest.fixture(scope="module")
def handbook():  # type: ignore[no-untyped-def]
    """Real features and a model trained on them."""
    _, data = labelled(SimParams(n_customers=300, n_terminals=500, n_days=60, seed=3))
    return data, fit_lightgbm(data.x, data.fraud)


def _native(text: str, x: np.ndarray) -> np.ndarray:
    return np.frombuffer(
        fraud_native.Trees(text).predict(np.ascontiguousarray(x).tobytes()), dtype=np.float64
    )


def test_native_scores_equal_lightgbms_bit_for_bit(handbook) -> None:  # type: ignore[no-untyped-def]
    data, booster = handbook
    text = booster.model_to_string()
    for x in (data.x, probe_rows(booster, data.x.shape[1], seed=7), data.x[:5]):  # 5: fewer than a block
        want = np.asarray(lgb.Booster(model_str=text).predict(x), dtype=np.float64)
        assert _native(text, x).tobytes() == want.tobytes()


def test_missing_values_go_where_lightgbm_sends_them() -> None:
    """Trees that learnt a NaN direction (both ways) and trees that never saw NaN (it reads as 0.0)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4_000, 4))
    y = (x[:, 0] > 0.5) | np.isnan(x[:, 1])
    x[rng.random(4_000) < 0.2, 1] = np.nan  # NaN seen in training: missing type NaN
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1}
    booster = lgb.train(params, lgb.Dataset(x, label=y.astype(float)), num_boost_round=30)
    test = rng.normal(size=(3_000, 4))
    test[::3, 0] = np.nan  # never NaN in training: LightGBM reads it as 0.0
    test[::4, 1] = np.nan
    test[::5, 2] = 1e-36  # within ±1e-35: zero to LightGBM
    text = booster.model_to_string()
    assert "decision_type=" in text
    assert _native(text, test).tobytes() == np.asarray(booster.predict(test), dtype=np.float64).tobytes()


@pytest.mark.parametrize(
    "params, why",
    [
        ({"objective": "multiclass", "num_class": 3}, "num_class"),
        ({"objective": "regression"}, "objective"),
        ({"objective": "binary", "linear_tree": True}, "linear trees"),
    ],
)
def test_models_it_does_not_evaluate_are_refused_with_the_reason(params, why) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 3))
    y = (x[:, 0] > 0).astype(float) + (x[:, 1] > 1) * (params.get("num_class", 2) > 2)
    booster = lgb.train(
        {**params, "verbose": -1, "num_threads": 1}, lgb.Dataset(x, label=y), num_boost_round=5
    )
    with pytest.raises(ValueError, match=why):
        fraud_native.Trees(booster.model_to_string())
    assert compile_trees(booster.model_to_string(), booster) is None  # the caller keeps LightGBM's


def test_categorical_splits_are_refused() -> None:
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.integers(0, 6, 2_000), rng.normal(size=2_000)]).astype(float)
    y = np.isin(x[:, 0], [1, 4]).astype(float)
    data = lgb.Dataset(x, label=y, categorical_feature=[0])
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_per_group": 5}, data, 10
    )
    with pytest.raises(ValueError, match="categorical"):
        fraud_native.Trees(booster.model_to_string())


def test_a_disagreement_on_the_probe_rows_keeps_lightgbm(handbook) -> None:  # type: ignore[no-untyped-def]
    """Trees that would score otherwise than the booster beside them are not used."""
    booster = handbook[1]
    text = booster.model_to_string()
    assert compile_trees(text, booster) is not None
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("threshold="))
    first, *rest = lines[k].removeprefix("threshold=").split(" ")
    lines[k] = "threshold=" + " ".join([repr(np.nextafter(float(first), np.inf)), *rest])
    assert compile_trees("\n".join(lines), booster) is None


def test_a_loaded_model_scores_natively_and_equally(handbook, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, booster = handbook
    model = load(save(tmp_path, booster, CONFIG, {"metrics": {}}), CONFIG)
    assert model.native is not None
    x = data.x[:2_000]
    native, lightgbm = scores_of(model, x), scores_of(model, x, native=False)
    assert (
        native.tobytes() == lightgbm.tobytes() == np.asarray(booster.predict(x), dtype=np.float64).tobytes()
    )
    with pytest.raises(ValueError, match="features expected"):
        model.predict(x[:, :3])
