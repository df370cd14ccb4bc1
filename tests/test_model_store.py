"""Saved models: the card records what the model is; a corrupt or other-version model is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.features import FEATURE_VERSION, FeatureConfig
from model.store import CARD_FILE, MODEL_FILE, ModelFileError, load, save
from model.train import fit_lightgbm

CONFIG = FeatureConfig()


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2_000, len(CONFIG.names())))
    y = x[:, 0] + rng.normal(scale=0.5, size=2_000) > 1.5
    booster = fit_lightgbm(x, y)
    return save(tmp_path_factory.mktemp("models"), booster, CONFIG, {"data_range": ["a", "b"], "metrics": {}})


def test_a_saved_model_loads_with_its_card(saved: Path) -> None:
    m = load(saved, CONFIG)
    assert m.card["feature_version"] == FEATURE_VERSION
    assert m.card["features"] == list(CONFIG.names())
    assert m.card["data_range"] == ["a", "b"]
    assert {"lightgbm", "scikit-learn", "numpy", "python"} <= set(m.card["libraries"])
    assert m.card["version"] == saved.name
    scores = np.asarray(m.booster.predict(np.zeros((2, len(CONFIG.names())))))
    assert scores.shape == (2,)


def _copy(saved: Path, tmp_path: Path) -> Path:
    out = tmp_path / saved.name
    out.mkdir()
    for name in (CARD_FILE, MODEL_FILE):
        (out / name).write_bytes((saved / name).read_bytes())
    return out


def test_a_model_of_another_feature_version_is_refused(saved: Path, tmp_path: Path) -> None:
    other = _copy(saved, tmp_path)
    card = json.loads((other / CARD_FILE).read_text())
    card["feature_version"] = "pit-0"
    (other / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="feature version 'pit-0'"):
        load(other, CONFIG)
    with pytest.raises(ModelFileError, match="built for features"):
        load(saved, FeatureConfig(label_delay_days=3))


def test_a_corrupt_model_or_card_is_refused(saved: Path, tmp_path: Path) -> None:
    bad = _copy(saved, tmp_path)
    text = (bad / MODEL_FILE).read_text()
    (bad / MODEL_FILE).write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match="checksum"):
        load(bad, CONFIG)
    (bad / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelFileError, match="unreadable"):
        load(bad, CONFIG)
    with pytest.raises(ModelFileError, match="unreadable"):
        load(tmp_path / "missing", CONFIG)
