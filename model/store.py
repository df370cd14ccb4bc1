"""Saved models: a versioned directory with the LightGBM model and its model card, refused when unusable."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from model.features import FEATURE_VERSION, FeatureConfig
from model.native_trees import compile_trees

MODEL_FILE = "model.txt"  # LightGBM's own text format: no pickle, readable, portable
CARD_FILE = "card.json"


class ModelFileError(Exception):
    """A saved model that cannot be used: missing, corrupt, or built for other features."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready to score feature rows, and what it was trained on."""

    booster: lgb.Booster
    card: dict[str, Any]
    path: Path | None  # None: loaded from the registry in Redis
    native: Any = None  # the native trees' scorer (model/native_trees.py), None: LightGBM's only

    def predict(self, x: Any, native: bool = True) -> Any:
        """Probabilities of the feature rows: the native trees' (equal to LightGBM's, checked at
        load) when they took the model and `native`, else LightGBM's."""
        if native and self.native is not None:
            return self.native(x)
        return np.asarray(self.booster.predict(x), dtype=np.float64)


def library_versions() -> dict[str, str]:
    """The versions a model card records."""
    return {
        "python": platform.python_version(),
        **{name: version(name) for name in ("lightgbm", "scikit-learn", "numpy")},
    }


def save(root: Path, booster: lgb.Booster, config: FeatureConfig, card: dict[str, Any]) -> Path:
    """Write `<root>/<version>/` with the model and its card; return the directory."""
    text = booster.model_to_string()
    digest = hashlib.sha256(text.encode()).hexdigest()
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{digest[:8]}"
    out = root / name
    out.mkdir(parents=True, exist_ok=False)
    (out / MODEL_FILE).write_text(text)
    full = {
        **card,
        "version": name,
        "feature_version": FEATURE_VERSION,
        "feature_config": asdict(config),
        "features": list(config.names()),
        "model_sha256": digest,
        "libraries": library_versions(),
    }
    (out / CARD_FILE).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return out


def load(path: Path, config: FeatureConfig) -> LoadedModel:
    """Load a saved model for features built with `config`; ModelFileError says why it cannot be used."""
    try:
        card = json.loads((path / CARD_FILE).read_text())
        text = (path / MODEL_FILE).read_text()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"model {path}: unreadable ({type(exc).__name__}: {exc})") from exc
    return from_text(text, card, config, where=str(path), path=path)


def from_registry(raw: bytes | None, version: str, card: Any, config: FeatureConfig) -> LoadedModel:
    """from_text on a registry version's stored bytes (ModelRegistry.model_bytes): missing or not text
    is a ModelFileError too, so every caller refuses a bad file the same way."""
    if raw is None:
        raise ModelFileError(f"model {version}: its file is not in Redis")
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise ModelFileError(f"model {version}: its file is not UTF-8 text (corrupt)") from None
    return from_text(text, card, config, where=f"registry {version}")


def from_text(
    text: str, card: Any, config: FeatureConfig, *, where: str, path: Path | None = None
) -> LoadedModel:
    """A model from its text and card (a directory's, or the registry's in Redis); ModelFileError
    names `where` and why it cannot be used: another feature version or windows, a checksum that
    does not match, text LightGBM cannot read, or another number of features."""
    if not isinstance(card, dict):
        raise ModelFileError(f"model {where}: {CARD_FILE} is not a JSON object")
    if card.get("feature_version") != FEATURE_VERSION:
        raise ModelFileError(
            f"model {where}: built for feature version {card.get('feature_version')!r}, "
            f"this code computes {FEATURE_VERSION!r}; retrain it"
        )
    if card.get("feature_config") != json.loads(json.dumps(asdict(config))):
        raise ModelFileError(
            f"model {where}: built for features {card.get('feature_config')}, not {asdict(config)}"
        )
    if hashlib.sha256(text.encode()).hexdigest() != card.get("model_sha256"):
        raise ModelFileError(f"model {where}: {MODEL_FILE} does not match the checksum in its card (corrupt)")
    try:
        booster = lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise ModelFileError(f"model {where}: LightGBM cannot read it ({exc})") from exc
    if booster.num_feature() != len(config.names()):
        raise ModelFileError(
            f"model {where}: expects {booster.num_feature()} features, not {len(config.names())}"
        )
    return LoadedModel(booster=booster, card=card, path=path, native=compile_trees(text, booster))
