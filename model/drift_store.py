"""Each model version's latest drift check in Redis (RedisKeys.models_drift): written by
`python -m model drift`, read by the console and /api/models."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import redis

from common.keys import RedisKeys
from model.drift import drift


class NoReference(ValueError):
    """A model card without drift bins (trained before drift checks existed)."""


class DriftChecks:
    """version -> the JSON of its latest check (model/score.py drift_check)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._key = client, keys.models_drift

    def latest(self) -> dict[str, dict[str, Any]]:
        out = {}
        for k, v in self._r.hgetall(self._key).items():
            try:
                out[k.decode() if isinstance(k, bytes) else str(k)] = msgspec.json.decode(
                    v, type=dict[str, Any]
                )
            except msgspec.DecodeError:
                continue  # a hand edit: that version shows no check
        return out

    def record(self, version: str, check: Mapping[str, Any]) -> None:
        self._r.hset(self._key, version, msgspec.json.encode(check))

    def check(
        self,
        card: Mapping[str, Any],
        x: npt.NDArray[np.float64],
        scores: npt.NDArray[np.float64],
        span: tuple[int, int],
    ) -> dict[str, Any]:
        """Drift of a model's scored rows of [from, to) against its card's training bins, recorded as its
        latest check. NoReference: a model trained before drift checks; ValueError: other features."""
        from model.cli import iso_time  # the card's time format
        from model.features import FeatureConfig

        ref = card.get("drift_reference")
        if not isinstance(ref, dict):
            raise NoReference(
                "the model's card has no drift reference (trained before drift checks): retrain it"
            )
        found = drift(ref, x, scores, FeatureConfig().names())
        version = str(card.get("version"))
        result = {"version": version, "from": iso_time(span[0]), "to": iso_time(span[1]), **found}
        result["checked_at"] = iso_time(int(time.time() * 1000))
        self.record(version, result)
        return result
