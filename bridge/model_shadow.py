"""Shadow models in the bridge: each registry version in `shadow` scores the same features as the
champion, never alerts, and its agreement with the champion is counted in Redis for the console.

Loading runs on a thread of its own (LightGBM parses a model in about a second); the counts of each
batch (batch thread) are kept in memory and added to `models:live` at each heartbeat (the bridge's
own thread), so scoring never waits for Redis.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import redis

from common.keys import RedisKeys
from common.model_registry import ModelEntry
from model.live_compare import compare, live_field
from model.native_trees import scores_of
from model.registry import ModelRegistry

logger = logging.getLogger(__name__)
F64 = npt.NDArray[np.float64]


class ShadowModels:
    """The loaded shadow versions (`models`, replaced whole) and the counts not yet in Redis."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, native_trees: bool = True) -> None:
        self._client, self._keys = client, keys
        self._native_trees = native_trees  # model/native_trees.py: the same scores, faster
        self._registry = ModelRegistry(client, keys)
        self.models: dict[str, Any] = {}  # version -> model.store.LoadedModel
        self._loading: threading.Thread | None = None
        self._refused: set[str] = set()  # versions are immutable: one that cannot load never will
        self._wanted: set[str] = set()
        self._counts: dict[str, float] = {}
        self._lock = threading.Lock()

    def refresh(self, wanted: Sequence[ModelEntry]) -> None:
        """Keep the loaded models of `wanted`, load the others in the background (the bridge's thread)."""
        want = {e.version: e for e in wanted}
        self._wanted = set(want)
        if set(self.models) - set(want):
            self.models = {v: m for v, m in self.models.items() if v in want}
        missing = [e for v, e in want.items() if v not in self.models and v not in self._refused]
        if not missing or (self._loading is not None and self._loading.is_alive()):
            return
        raws = {e.version: self._registry.model_bytes(e.version) for e in missing}
        self._loading = threading.Thread(
            target=self._load, args=(missing, raws), name="bridge-shadow-load", daemon=True
        )
        self._loading.start()

    def _load(self, entries: list[ModelEntry], raws: dict[str, bytes | None]) -> None:
        from model.features import FeatureConfig
        from model.store import from_registry

        loaded = dict(self.models)
        for e in entries:
            raw = raws.get(e.version)
            try:
                if raw is None:
                    raise ValueError("its model file is not in Redis")
                loaded[e.version] = from_registry(raw, e.version, e.card, FeatureConfig())
                logger.info("bridge: shadow model %s loaded", e.version)
            except Exception as exc:  # a shadow that cannot load is skipped, never fatal
                self._refused.add(e.version)
                logger.error("bridge: shadow model %s refused: %s", e.version, exc)
        self.models = {v: m for v, m in loaded.items() if v in self._wanted}  # demoted meanwhile: not back

    def score(self, champion: str, champion_scores: F64, x: F64) -> None:
        """Score a batch's features with every shadow and count how it compares (the batch thread)."""
        batch: dict[str, float] = {}
        for version, model in list(self.models.items()):
            scores = scores_of(model, x, self._native_trees)
            for stat, n in compare(champion_scores, scores).items():
                batch[live_field(version, champion, stat)] = n
        if batch:
            self._add(batch)

    def _add(self, counts: dict[str, float]) -> None:
        with self._lock:
            for key, n in counts.items():
                self._counts[key] = self._counts.get(key, 0.0) + n

    def flush(self) -> None:
        """Add the counts so far to `models:live` (the bridge's thread, each heartbeat)."""
        with self._lock:
            counts, self._counts = self._counts, {}
        if not counts:
            return
        pipe = self._client.pipeline()  # MULTI: all the counts land, or none (then kept)
        for key, n in counts.items():
            if key.endswith("|abs_diff"):
                pipe.hincrbyfloat(self._keys.models_live, key, n)
            else:
                pipe.hincrby(self._keys.models_live, key, round(n))
        try:
            pipe.execute()
        except redis.RedisError:
            self._add(counts)  # kept for the next heartbeat
            raise
