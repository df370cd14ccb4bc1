"""Both rule sets on the bridge's native path: quiet events decided in Rust, the rest by the Python engine.

Each side is one bridge.native.NativePath (its own card-state cache) with its own Detector for the
records Rust hands back, exactly as a live bridge runs it, so the verdicts are the bridges' own
(tests/test_native_path.py holds the two engines to one verdict). Used only when the native engine
is built, accepts both rule sets, and the run has at most NATIVE_CARDS_MAX records: the cache then
holds every card the run meets (no card's state is ever evicted and lost).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from bridge import native
from bridge.batch_types import NativeResult
from bridge.detection import Detector
from bridge.native import NativePath
from common.alerts import Alert
from common.rules import RulesConfig

if TYPE_CHECKING:
    from backtest.model_scores import TxnScores

NATIVE_CARDS_MAX = 1_000_000


class Outcome(NamedTuple):
    """One batch on both sides: the events either alerted on, valid events, instances seen, invalid."""

    alerted: list[tuple[Any, Alert | None, Alert | None]]  # (RecordMeta, live alert, draft alert)
    events: int
    instances: list[str]
    invalid: int


class _Side:
    def __init__(self, detector: Detector, version: int, max_bytes: int, cards: int) -> None:
        self.detector, self.version = detector, version
        self.path = NativePath(detector.rules, max_bytes, cards)
        self.path.set_lists(detector.lists)
        self.scores: TxnScores | None = None  # the champion's scores of the range (`model_score`)

    def run(self, records: list[Any]) -> NativeResult:
        missing = self.path.scan(records)
        detector = self.detector
        if self.scores is not None:  # Rust reads each event's score; Python the same, by txn id
            index, txn_ids, *_ = self.path.engine.columns()
            self.path.engine.set_scores(index, self.scores.of(txn_ids))
            detector = detector.with_scores(self.scores)
        # every card the run met is in the cache (no eviction): a missing card is one never seen
        # a backtest writes nothing: no rows or encoded states are built (bridge.native, writes=False)
        result = self.path.detect(records, detector, self.version, dict.fromkeys(missing), writes=False)
        self.path.commit()
        return result


class NativePair:
    """The live and the draft side (one side when they are equal)."""

    def __init__(self, live: _Side, draft: _Side, same: bool) -> None:
        self.live, self.draft, self.same = live, draft, same

    @classmethod
    def build(
        cls,
        live: Detector,
        live_version: int,
        draft: RulesConfig,
        *,
        draft_version: int,
        max_bytes: int,
        records: int,
    ) -> NativePair | None:
        """The pair, or None when the Python path must run (not built, a refused rule, too many records)."""
        if not native.available() or records > NATIVE_CARDS_MAX:
            return None
        cards = max(records, 1)
        live_side = _Side(live, live_version, max_bytes, cards)
        same = draft == live.rules
        draft_side = (
            live_side if same else _Side(Detector(draft, None, live.lists), draft_version, max_bytes, cards)
        )
        if live_side.path.refusal is not None or draft_side.path.refusal is not None:
            return None
        return cls(live_side, draft_side, same)

    def cards(self) -> int:
        return len(self.live.path.engine)

    def use_scores(self, scores: TxnScores) -> None:
        """Both rule sets read these model scores (backtest/model_scores.py)."""
        self.live.scores = self.draft.scores = scores

    def batch(self, records: list[Any]) -> Outcome:
        """Evaluate one batch on both sides and join their alerts by alert id, in record order."""
        live = self.live.run(records)
        draft = live if self.same else self.draft.run(records)
        by_live = {s.alert.alert_id: s for s in live.alerted if s.alert is not None}
        by_draft = {s.alert.alert_id: s for s in draft.alerted if s.alert is not None}
        joined = []
        for aid in sorted(
            by_live.keys() | by_draft.keys(), key=lambda a: (by_live.get(a) or by_draft[a]).meta.offset
        ):
            one, other = by_live.get(aid), by_draft.get(aid)
            meta = (one or other).meta  # type: ignore[union-attr]
            joined.append((meta, one.alert if one else None, other.alert if other else None))
        events = sum(n for _, n, _ in live.tally.seconds)
        instances = [sid for _, ids in live.tally.instances for sid in ids]
        return Outcome(joined, events, instances, len(live.rejected))
