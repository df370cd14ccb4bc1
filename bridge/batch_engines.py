"""One interface for the two engines that decide a batch: the Python reference and the native fast path.

A batch meets its engine three times, always in this order on the batch thread:
  scan(records)   parse the batch; return the cards whose state must be read from Redis first
  decide(...)     evaluate it, given those states; return what the Redis transaction writes
  keep()          the transaction was sent: the batch's card states become the engine's cache
If anything fails between scan and keep, keep is never called and the next scan starts afresh;
a batch whose transaction Redis later refuses is undone by dropping its partitions' cards
(Engines.forget), so a cache never holds a state Redis does not.
"""

from __future__ import annotations

from typing import Any, Protocol

from bridge.batch_types import Batch, Decided, Outcome, Polled
from bridge.detection import CardState, Detector
from bridge.model_serving import ModelServing
from bridge.native import NativePath
from bridge.plan import outcome_of
from bridge.processor import dead_letters, detect, encoded_states, missing_cards, validate_records
from bridge.state_cache import StateCache
from common.schema import Transaction


class BatchEngine(Protocol):
    """What the batch applier needs of an engine (bridge/apply.py never asks which one it has)."""

    def scan(self, records: list[Any]) -> list[str]:
        """Parse a batch; the cards whose state must be read from Redis before decide()."""
        ...

    def decide(
        self, records: list[Any], detector: Detector, version: int, loaded: dict[str, bytes | None]
    ) -> Decided:
        """Evaluate the scanned batch; `loaded` holds the stored states of the cards scan() listed."""
        ...

    def keep(self) -> None:
        """The batch's transaction is sent: its card states become the cache's."""
        ...


class PythonEngine:
    """The reference: every event validated and evaluated in Python, card states in a StateCache."""

    def __init__(self, cache: StateCache, max_record_bytes: int) -> None:
        self.cache, self.max_record_bytes = cache, max_record_bytes
        self.serving: ModelServing | None = None  # the champion scores each batch (bridge/model_serving.py)
        self._polled: list[Polled] = []
        self._states: dict[str, tuple[int, CardState]] = {}

    def scan(self, records: list[Any]) -> list[str]:
        self._polled, self._states = validate_records(records, self.max_record_bytes), {}
        return missing_cards(self._polled, self.cache.__contains__)

    def decide(
        self, records: list[Any], detector: Detector, version: int, loaded: dict[str, bytes | None]
    ) -> Decided:
        if self.serving is not None and self.serving.active:
            events = [p.result for p in self._polled if isinstance(p.result, Transaction)]
            detector = detector.with_scores(self.serving.score_batch(events))
        det = detect(self._polled, detector, version, self.cache.get, loaded)
        self._states = det.states
        batch = Batch(det.scored, dead_letters(det.rejected), encoded_states(det.states), {})
        outcome = outcome_of(batch, detector.rules.currency)  # amounts summed in US dollars
        return Decided(outcome, det.rejected, {id(s.event): s.meta for s in det.scored})

    def keep(self) -> None:
        self.cache.put_many((c, p, s) for c, (p, s) in self._states.items())
        self._polled, self._states = [], {}


class NativeEngine:
    """The fast path: the Rust engine decides the events no rule can fire on, Python the rest.

    Its rows and card states come back RESP-encoded under `state_key_prefix` (see NativePath.detect).
    """

    def __init__(self, native: NativePath, state_key_prefix: str) -> None:
        self.native, self.prefix = native, state_key_prefix
        self.serving: ModelServing | None = None  # the champion scores each batch (bridge/model_serving.py)

    def scan(self, records: list[Any]) -> list[str]:
        return self.native.scan(records)

    def decide(
        self, records: list[Any], detector: Detector, version: int, loaded: dict[str, bytes | None]
    ) -> Decided:
        if self.serving is not None and self.serving.active:  # both sides read the same scores
            detector = detector.with_scores(self.native.score(self.serving))
        res = self.native.detect(records, detector, version, loaded, state_key_prefix=self.prefix)
        outcome = Outcome(
            res.tally, res.alerted, dead_letters(res.rejected), res.states, {}, res.scored, res.packed
        )
        return Decided(outcome, res.rejected, res.metas or {})

    def keep(self) -> None:
        self.native.commit()
