"""The native per-record path: fraud_native.Engine, with the Python engine for every record it hands back.

The Rust engine (native/) parses and validates records on a strict subset of schema v1 and
decides the events on which no rule can fire. Every other record (a possible alert, a record
outside the subset, a dead letter) is handed back, in order, to `_Slow`, which runs exactly the
Python path on it. So the Python engine stays the reference and the native one only ever takes
the quiet majority; tests/test_native_path.py checks both give the same Redis writes.

Custom rules with aggregates and new_* features it evaluates itself over the cs2 card history
(docs/native-rules.md); rules it cannot evaluate (an unknown field, operator, aggregate shape, ...)
it refuses whole: `refusal` says why, and bridge/engines.py then sends every event to Python.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from bridge.batch_types import NativeResult, Packed, Polled, RecordMeta, Scored, Tally
from bridge.config import BridgeSettings
from bridge.detection import Detector, decode_state, encode_state
from bridge.plan import txn_row
from bridge.processor import evaluate, validate_records
from bridge.validation import Rejected
from common.keys import RECENT_TXNS_MAX
from common.rules import RulesConfig, default_rules
from common.schema import NORMAL_SCENARIO, Transaction

if TYPE_CHECKING:
    from bridge.model_rows import ScoredRows
    from bridge.model_serving import ModelServing

logger = logging.getLogger(__name__)

try:
    import fraud_native
except ImportError:  # not built: the bridge runs the Python path (make setup builds it)
    fraud_native = None  # type: ignore[assignment]

SlowAnswer = tuple[bytes, bytes, str, float, float | None, float | None, str | None, str | None, str | None]


def available() -> bool:
    """Whether the native extension is importable."""
    return fraud_native is not None


def native_for(settings: BridgeSettings) -> NativePath | None:
    """The native path BRIDGE_ENGINE asks for (auto: when built), or None for the Python path."""
    if settings.engine == "python" or (settings.engine == "auto" and not available()):
        if settings.engine == "auto":
            logger.warning("bridge: fraud_native not built, using the Python path (run `make setup`)")
        return None
    return NativePath(default_rules(), settings.max_record_bytes, settings.state_cache_max)


class _Slow:
    """The Python path for the records the native engine hands back (called in record order)."""

    def __init__(
        self,
        records: Sequence[Any],
        polled: dict[int, Polled],
        detector: Detector,
        version: int,
        max_bytes: int,
        *,
        scores: tuple[ScoredRows, list[int]] | None = None,
    ) -> None:
        self.records, self.polled, self.detector, self.version = records, polled, detector, version
        self.max_bytes = max_bytes
        self.scores = scores  # the champion's scores and the record index of each row (sorted)
        self.alerted: list[Scored] = []
        self.rejected: list[Polled] = []
        self.finished: list[tuple[str, str]] = []  # the native engine hands every last event back
        self.metas: dict[int, RecordMeta] = {}  # the shadow set's findings are joined to their records

    def __call__(self, index: int, state: bytes | None) -> SlowAnswer | None:
        item = self.polled.get(index)
        if item is None:  # parsed natively but a rule may fire: msgspec decodes it for the reference engine
            item = validate_records([self.records[index]], self.max_bytes)[0]
        ev = item.result
        if isinstance(ev, Rejected):
            self.rejected.append(item)
            return None
        if self.scores is not None:  # the detector reads `model_score` of this very object
            scores, order = self.scores
            at = bisect_left(order, index)
            scores.bind(ev, at if at < len(order) and order[at] == index else None)
        done = evaluate(
            item, ev, self.detector, self.version, decode_state(state) if state is not None else None
        )
        if isinstance(done, Polled):
            self.rejected.append(done)
            return None
        scored, new_state = done
        self.metas[id(ev)] = item.meta
        if scored.alert is not None:
            self.alerted.append(scored)
        meta = item.meta
        sid = meta.scenario_id
        if meta.last and meta.scenario not in {None, NORMAL_SCENARIO} and sid is not None:
            self.finished.append((meta.scenario, sid))
        return (
            encode_state(new_state),
            txn_row(scored),
            ev.city,
            ev.amount * self.detector.rules.currency.get(ev.currency, 1.0),  # tallied in dollars
            ev.lat,
            ev.lon,
            ev.country,
            meta.scenario,
            meta.scenario_id,
        )


def _canonical(raw: bytes) -> bytes:
    """Stored state bytes the native parser did not take, normalised by the Python decoder."""
    return encode_state(decode_state(raw))


class NativePath:
    """One bridge's native engine and its card-state cache; scan -> detect -> commit per batch."""

    def __init__(self, rules: RulesConfig, max_record_bytes: int, cache_max: int) -> None:
        if fraud_native is None:
            raise RuntimeError("fraud_native is not built (run `make setup`)")
        self.max_bytes = max_record_bytes
        self.engine = fraud_native.Engine(msgspec.json.encode(rules), max_record_bytes, cache_max)
        self._slow: dict[int, Polled] = {}
        self._scores: tuple[ScoredRows, list[int]] | None = None

    def set_rules(self, rules: RulesConfig) -> str | None:
        """Replace the rules; return why the engine refuses them (None: it evaluates them all)."""
        return self.engine.set_rules(msgspec.json.encode(rules))

    def set_gate(self, rules: RulesConfig | None) -> str | None:
        """Set (None: clear) the shadow rule set: an event is then quiet only if neither set can fire.
        Returns why the engine refuses the shadow set (then every record must go to Python)."""
        return self.engine.set_gate(msgspec.json.encode(rules) if rules is not None else None)

    @property
    def refusal(self) -> str | None:
        """Why the current rules are refused: then every record of every batch goes to Python."""
        return self.engine.refusal()

    def list_names(self) -> list[str]:
        """The lists the enabled custom rules read."""
        return self.engine.list_names()

    def set_lists(self, lists: Mapping[str, Mapping[str, int]]) -> None:
        """Replace the lists (common.rulelang.lists.ListSnapshot: name -> value -> expires_ms, 0 never)."""
        self.engine.set_lists({name: dict(entries) for name, entries in lists.items()})

    def __contains__(self, card_id: str) -> bool:
        return card_id in self.engine

    def scan(self, records: Sequence[Any]) -> list[str]:
        """Parse a batch; return the cards whose state must be read from Redis first."""
        missing, slow = self.engine.scan(records if isinstance(records, list) else list(records))
        self._scores = None
        self._slow = dict(
            zip(slow, validate_records([records[i] for i in slow], self.max_bytes), strict=True)
        )
        listed = set(missing)
        for item in self._slow.values():
            ev = item.result
            if not isinstance(ev, Rejected) and ev.card_id not in listed and ev.card_id not in self.engine:
                listed.add(ev.card_id)
                missing.append(ev.card_id)
        return missing

    def score(self, serving: ModelServing) -> ScoredRows | None:
        """The champion's scores of the scanned batch (None: none this batch, `model_score` reads 0):
        the engine reads each event's for `model_score`; the detector given to detect() must read
        the same ones (Detector.with_scores), and reads each one the Python side evaluates."""
        decoded = [(i, p.result) for i, p in sorted(self._slow.items()) if isinstance(p.result, Transaction)]
        try:
            got = serving.score_engine(self.engine, decoded, self.engine.columns)
        except Exception:  # as any scoring failure: the rules decide with model_score 0, never fatal
            logger.exception("bridge: the batch's columns for the model were not read")
            return None
        if got is None:
            return None
        order, scores = got
        self.engine.set_scores(order, scores.values())  # equal lengths by construction
        self._scores = (scores, order)
        return scores

    def detect(
        self,
        records: Sequence[Any],
        detector: Detector,
        version: int,
        loaded: dict[str, bytes | None],
        *,
        state_key_prefix: str | None = None,
        writes: bool = True,
    ) -> NativeResult:
        """Evaluate the scanned batch; `loaded` holds the Redis states of the cards scan() listed.

        With `state_key_prefix`, rows and states come back RESP-encoded for the write plan
        (`packed`); without, as bytes objects in `tally.rows` and `states`. With `writes=False`
        (a backtest, which writes nothing) neither is built: no rows, no encoded states; the
        cache still advances on commit().
        """
        slow = _Slow(records, self._slow, detector, version, self.max_bytes, scores=self._scores)
        cards = {i: p.result.card_id for i, p in self._slow.items() if not isinstance(p.result, Rejected)}
        row_limit = RECENT_TXNS_MAX if writes else 0
        prefix = state_key_prefix if writes else None
        found = self.engine.detect(loaded, cards, slow, _canonical, prefix, row_limit)
        seconds, cities, geo, scenarios, instances, scored = found
        if not writes:
            tally = Tally(seconds, cities, geo, scenarios, instances, [], slow.finished)
            return NativeResult(tally, slow.alerted, slow.rejected, {}, scored, None, slow.metas)
        if state_key_prefix is None:
            rows = self.engine.batch_rows()
            tally = Tally(seconds, cities, geo, scenarios, instances, rows, slow.finished)
            states = dict(self.engine.batch_states())
            return NativeResult(tally, slow.alerted, slow.rejected, states, scored, None, slow.metas)
        packed = Packed(*self.engine.packed())
        tally = Tally(seconds, cities, geo, scenarios, instances, [], slow.finished)
        return NativeResult(tally, slow.alerted, slow.rejected, {}, scored, packed, slow.metas)

    def commit(self) -> None:
        """The batch is in Redis: its states become the cache's."""
        self.engine.commit()

    def drop_partitions(self, partitions: Sequence[int]) -> None:
        self.engine.drop_partitions(list(partitions))

    def clear(self) -> None:
        self.engine.clear()
