"""A LightGBM model's trees scored in native code (fraud_native.Trees) behind one seam.

Why: LightGBM's predict costs about as much per event as the rest of a serving bridge's model work
(its Python wrapper, its thread pool, a branchy walk); the native walk takes a fraction of it (bench
section `serving`: the champion with each, side by side). It must not change one score, since a
rule compares `model_score` exactly. So `compile_trees` gives the native scorer only when the
extension takes the model (no categorical or linear trees, one class, a binary objective) and its
scores equal LightGBM's bit for bit on probe rows built from the model's own thresholds (each
threshold, the doubles either side of it, NaN, zero, values within ±1e-35); otherwise it logs why
and the caller keeps LightGBM's predict. `BRIDGE_MODEL_TREES=lightgbm` keeps it in the bridges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)
F64 = npt.NDArray[np.float64]
Predict = Callable[[F64], F64]
PROBE_ROWS = 4_096


def _thresholds(booster: Any, width: int) -> list[list[float]]:
    """Each feature's split thresholds in the model."""
    found: list[set[float]] = [set() for _ in range(width)]

    def walk(node: dict[str, Any]) -> None:
        if "split_feature" in node:
            found[int(node["split_feature"])].add(float(node["threshold"]))
            walk(node["left_child"])
            walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return [sorted(f) for f in found]


def probe_rows(booster: Any, width: int, rows: int = PROBE_ROWS, seed: int = 0) -> F64:
    """Rows whose every value sits where a walk could go wrong: on a threshold, a double either side
    of one, NaN, zero, within ±1e-35 of zero, or far out."""
    rng = np.random.default_rng(seed)
    x = np.empty((rows, width))
    for j, cuts in enumerate(_thresholds(booster, width)):
        t = np.array(cuts or [0.0])
        near = np.concatenate([t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)])
        odd = np.array([np.nan, 0.0, -0.0, 1e-36, -1e-36, 1e-30, -1e300, 1e300])
        x[:, j] = rng.choice(np.concatenate([near, odd]), rows)
    return x


def scores_of(model: Any, x: F64, native: bool = True) -> F64:
    """The model's probabilities of the rows: model.store.LoadedModel.predict (the native trees when
    they took it and `native`), or LightGBM's for any other holder of a `booster`."""
    predict = getattr(model, "predict", None)
    if predict is not None:
        return np.asarray(predict(x, native), dtype=np.float64)
    return np.asarray(model.booster.predict(x), dtype=np.float64)


def compile_trees(text: str, booster: Any) -> Predict | None:
    """The native scorer of the model `text` (its LightGBM `booster` beside it), or None: the
    extension is not built, does not take the model, or disagrees with LightGBM on a probe row."""
    try:
        import fraud_native
    except ImportError:
        return None
    try:
        trees = fraud_native.Trees(text)
    except ValueError as exc:
        logger.warning("model: scored by LightGBM, not the native trees: %s", exc)
        return None
    width = int(booster.num_feature())

    def predict(x: F64) -> F64:
        rows = np.ascontiguousarray(x, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != width:
            raise ValueError(f"rows of {width} features expected, not shape {rows.shape}")
        return np.frombuffer(trees.predict(rows.tobytes()), dtype=np.float64)

    probe = probe_rows(booster, width)
    want = np.asarray(booster.predict(probe), dtype=np.float64)
    if trees.width != width or predict(probe).tobytes() != want.tobytes():
        logger.error("model: the native trees disagree with LightGBM on probe rows: LightGBM scores")
        return None
    return predict
