"""Which engine path a batch takes, and the card-state caches of both paths."""

from __future__ import annotations

from collections.abc import Iterable

from bridge.config import BridgeSettings
from bridge.native import NativePath, native_for
from bridge.rules_watch import RulesWatcher
from bridge.state_cache import StateCache


class Engines:
    """The Python path's state cache and the native engine (None: not built or turned off)."""

    def __init__(self, settings: BridgeSettings) -> None:
        self.cache = StateCache(settings.state_cache_max)
        self.native = native_for(settings)
        self._native_version: int | None = None
        self._on_native = False

    def native_path(self, rules: RulesWatcher) -> NativePath | None:
        """The native path for the next batch, unless off or ml_anomaly is on (its model must see
        every event); None means the Python path."""
        use = self.native is not None and not rules.detector.rules.ml_anomaly.enabled
        if use != self._on_native:  # the other path's cache may be stale: both start from Redis
            self.forget_all()
            self._on_native = use
        if self.native is None or not use:
            return None
        if self._native_version != rules.version:
            self.native.set_rules(rules.detector.rules)
            self._native_version = rules.version
        return self.native

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the cards last seen on these partitions from both caches."""
        parts = set(partitions)
        self.cache.drop_partitions(parts)
        if self.native is not None:
            self.native.drop_partitions(sorted(parts))

    def forget_all(self) -> None:
        """Drop every cached card state."""
        self.cache.clear()
        if self.native is not None:
            self.native.clear()
