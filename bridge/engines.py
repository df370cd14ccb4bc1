"""Which engine decides a batch (bridge/batch_engines.py), and the card-state caches of both."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from bridge.batch_engines import BatchEngine, NativeEngine, PythonEngine
from bridge.config import BridgeSettings
from bridge.model_serving import ModelServing
from bridge.native import native_for
from bridge.rules_watch import RulesWatcher
from bridge.state_cache import StateCache

logger = logging.getLogger(__name__)

PYTHON_DECIDES = "Python decides every event"


class Engines:
    """The Python path's state cache and the native engine (None: not built or turned off)."""

    def __init__(self, settings: BridgeSettings, state_key_prefix: str) -> None:
        self.cache = StateCache(settings.state_cache_max)
        self.native = native_for(settings)
        self.python_engine = PythonEngine(self.cache, settings.max_record_bytes)
        self.native_engine = NativeEngine(self.native, state_key_prefix) if self.native is not None else None
        self._native_version: int | None = None
        self._on_native = False
        self._refusal: str | None = None  # why the native engine refuses the current rules
        self._ml = False
        self._scoring = False  # a champion model scores every event (bridge/model_serving.py)
        self._shadow: str | None = None  # why the native gate refuses the shadow set
        self._gate_id: int | None = None  # the shadow set the native gate holds (None: none)
        # (snapshot, sequence number), replaced whole by the main thread; the batch thread sends
        # each sequence number once (a tuple store is atomic: no half-seen update)
        self._lists: tuple[Mapping[str, Mapping[str, int]], int] | None = None
        self._lists_sent = 0

    def for_batch(self, rules: RulesWatcher) -> BatchEngine:
        """The engine for the next batch: the native one, or the Python reference when the native
        engine is off, when ml_anomaly is on (its model must see every event), or when the native
        engine refuses the rules (a rule it cannot evaluate: it never guesses an event quiet)."""
        native = self.native
        if native is not None and self._native_version != rules.version:
            refusal = native.set_rules(rules.detector.rules)
            if refusal is not None and refusal != self._refusal:  # once per new reason, not per batch
                logger.error("bridge: native engine off: %s; %s", refusal, PYTHON_DECIDES)
            elif refusal is None and self._refusal is not None:
                logger.info("bridge: native engine back on (rules version %s)", rules.version)
            self._refusal = refusal
            self._native_version = rules.version
        pending = self._lists
        if native is not None and pending is not None and pending[1] != self._lists_sent:
            native.set_lists(pending[0])  # here, on the batch thread: never under a running batch
            self._lists_sent = pending[1]
        self._ml = rules.detector.rules.ml_anomaly.enabled
        shadow = rules.shadow.current
        if native is not None and (shadow.id if shadow else None) != self._gate_id:
            # the gate judges events on the live set's state: the cached states stay valid
            self._shadow = native.set_gate(shadow.detector.rules if shadow else None)
            if self._shadow is not None:
                logger.error("bridge: native engine off while the shadow set is on: %s", self._shadow)
            self._gate_id = shadow.id if shadow else None
        serving = self.python_engine.serving
        self._scoring = serving is not None and serving.active
        use = native is not None and not self._ml and self._refusal is None and self._shadow is None
        if use != self._on_native:  # the other path's cache may be stale: both start from Redis
            self.forget_all()
            self._on_native = use
        if use and self.native_engine is not None:
            return self.native_engine
        return self.python_engine

    def serve(self, serving: ModelServing) -> None:
        """Both engines score each batch with this champion before evaluating its rules."""
        self.python_engine.serving = serving
        if self.native_engine is not None:
            self.native_engine.serving = serving

    def set_lists(self, lists: Mapping[str, Mapping[str, int]]) -> None:
        """New list entries (a ListSnapshot: name -> value -> expires_ms, 0 never), for the next batch."""
        self._lists = (lists, (self._lists[1] if self._lists is not None else 0) + 1)

    def status(self) -> str:
        """Which engine decides, in words for the pipeline-health panel."""
        if self.native is None:
            return "python"
        if self._refusal is not None:
            return f"native engine off: {self._refusal} \u2014 {PYTHON_DECIDES}"
        if self._ml:
            return f"native engine off: ml_anomaly is on \u2014 {PYTHON_DECIDES}"
        if self._shadow is not None:
            return f"native engine off: the shadow rules: {self._shadow} \u2014 {PYTHON_DECIDES}"
        return "native, with the champion's score of every event" if self._scoring else "native"

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
