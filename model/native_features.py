"""The feature state in native code (fraud_native.FeatureHistory) behind FeatureState's interface.

One seam: `feature_state(config)` gives the native state when the extension is built, else the
Python reference (model/features.py). Both compute the same features byte for byte
(tests/test_model_native_features.py runs them side by side on streams with late events, equal
times, labels arriving late and resent rows); the native one answers a window query with two
binary searches in one card's or terminal's entries instead of in the whole history's sorted runs
(bench section `serving`: the champion's features per batch, both side by side).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from model.features import Events, FeatureConfig, FeatureState, Labels

logger = logging.getLogger(__name__)
F64 = npt.NDArray[np.float64]


def int64_bytes(a: npt.NDArray[Any]) -> bytes:
    """An integer column as the native side reads it (native/src/features.rs `ints`)."""
    return np.ascontiguousarray(a, dtype=np.int64).tobytes()


class NativeFeatureState:
    """FeatureState's interface over the native history (the same definition: model/features.py)."""

    def __init__(self, config: FeatureConfig, history: Any) -> None:
        self.config, self._h = config, history
        self._width = len(config.names())

    def transform(self, batch: Events, remember: bool = True) -> F64:
        """The batch's feature matrix (rows in batch order); then remember it (see FeatureState)."""
        raw = self._h.transform(
            int64_bytes(batch.ts),
            int64_bytes(batch.card),
            int64_bytes(batch.terminal),
            int64_bytes(batch.amount_cents),
            remember,
        )
        return np.frombuffer(raw, dtype=np.float64).reshape(len(batch.ts), self._width)

    def add_labels(self, labels: Labels) -> None:
        lab = labels
        self._h.add_labels(
            int64_bytes(lab.tx_id),
            int64_bytes(lab.terminal),
            int64_bytes(lab.txn_ts),
            int64_bytes(lab.known_at),
        )

    def add_events(self, batch: Events) -> None:
        """Remember a batch without its features (see FeatureState.add_events)."""
        self._h.add_events(
            int64_bytes(batch.ts),
            int64_bytes(batch.card),
            int64_bytes(batch.terminal),
            int64_bytes(batch.amount_cents),
        )

    def advance(self, newest: int) -> None:
        self._h.advance(newest)

    def compact(self) -> None:
        self._h.compact()

    @property
    def remembered(self) -> int:
        """History entries held (expired ones until the next sweep)."""
        return int(self._h.remembered)


def feature_state(config: FeatureConfig, native: bool = True) -> FeatureState | NativeFeatureState:
    """The native feature state when built (and asked for), else the Python reference."""
    if native:
        try:
            from fraud_native import FeatureHistory
        except ImportError:  # a checkout without the extension built: the reference computes the same
            logger.warning("model: native feature state not built; the Python reference computes features")
        else:
            history = FeatureHistory(
                list(config.card_windows_days), list(config.terminal_windows_days), config.label_delay_days
            )
            return NativeFeatureState(config, history)
    return FeatureState(config)
