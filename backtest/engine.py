"""One backtest run: replay a plan through the live and the draft detector side by side."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from backtest.compare import RESOLVED_FP, RESOLVED_FRAUD, Comparison
from backtest.native_pair import NativePair, Outcome
from backtest.replay import Plan
from backtest.throttle import pace
from bridge.detection import CardState, Detector, make_alert
from bridge.detection.facts import EventScores
from bridge.processor import validate_records
from bridge.validation import Rejected
from common.alerts import Alert
from common.keys import RedisKeys
from common.rulelang import compile_rules
from common.rules import RulesConfig
from common.schema import NORMAL_SCENARIO

logger = logging.getLogger(__name__)
RESOLVED = (RESOLVED_FRAUD, RESOLVED_FP)
DRAFT_VERSION = 0  # the rules_version of a draft's alerts (it has none yet)
STATUS_BATCH = 10_000  # alerted events whose dispositions are read in one round trip


def longest_window_ms(*configs: RulesConfig) -> int:
    """The longest per-card window any enabled rule of these sets looks back over."""
    out = 0
    for cfg in configs:
        if cfg.velocity.enabled:
            out = max(out, cfg.velocity.window_s * 1000)
        if cfg.card_testing.enabled:
            out = max(out, cfg.card_testing.window_s * 1000)
        out = max(out, compile_rules(cfg).plan.longest_ms)
    return out


def warmup_ms(live: RulesConfig, draft: RulesConfig, min_s: int, max_s: int) -> int:
    """Warm-up before the range: the longest rule window, at least min_s, at most max_s."""
    return min(max(longest_window_ms(live, draft), min_s * 1000), max_s * 1000)


@dataclass
class Sides:
    """The two detectors and each one's per-card states (the sets may learn differently per card).

    States are kept per card for the whole run: memory grows with the cards the replay meets
    (about 1 KB per card and side), not with the events.
    """

    live: Detector
    live_version: int
    draft: Detector
    same: bool  # the draft equals the live set: evaluate once, use the verdict twice
    live_states: dict[str, CardState]
    draft_states: dict[str, CardState]

    @classmethod
    def build(cls, live: Detector, live_version: int, draft_rules: RulesConfig) -> Sides:
        same = draft_rules == live.rules
        draft = live if same else Detector(draft_rules, None, live.lists)
        return cls(live, live_version, draft, same, {}, {})

    def cards(self) -> int:
        return len(self.live_states)

    def use_scores(self, scores: EventScores) -> None:
        """Both rule sets read these model scores (backtest/model_scores.py)."""
        self.live = self.live.with_scores(scores)
        self.draft = self.live if self.same else self.draft.with_scores(scores)

    def batch(self, records: list[Any], warm: bool, max_bytes: int) -> Outcome:
        """Decode each record once and evaluate it on both sides; alerts only outside the warm-up."""
        alerted: list[tuple[Any, Alert | None, Alert | None]] = []
        instances: list[str] = []
        events = invalid = 0
        for item in validate_records(records, max_bytes):
            ev = item.result
            if isinstance(ev, Rejected):
                invalid += 1
                continue
            try:
                live, draft = self._step(ev, warm)
            except Exception:  # a poison event is counted, like the bridge's dead letters
                logger.exception("backtest: detector failed offset=%s", item.meta.offset)
                invalid += 1
                continue
            events += 1
            meta = item.meta
            if meta.scenario_id is not None and meta.scenario not in (None, NORMAL_SCENARIO):
                instances.append(meta.scenario_id)
            if live is not None or draft is not None:
                alerted.append((meta, live, draft))
        return Outcome(alerted, events, instances, invalid)

    def _step(self, ev: Any, warm: bool) -> tuple[Alert | None, Alert | None]:
        card = ev.card_id
        live_d, self.live_states[card] = self.live.evaluate(ev, self.live_states.get(card))
        if self.same:
            draft_d = live_d
        else:
            draft_d, self.draft_states[card] = self.draft.evaluate(ev, self.draft_states.get(card))
        if warm:
            return None, None
        live = make_alert(ev, live_d, self.live_version) if live_d.is_alert else None
        if self.same:
            return live, live
        draft = make_alert(ev, draft_d, DRAFT_VERSION) if draft_d.is_alert else None
        return live, draft


def _statuses(client: redis.Redis, keys: RedisKeys, alert_ids: list[str]) -> list[str | None]:
    """Which of these alerts analysts resolved, and how (None: not resolved, or no such alert).

    Read only, from the live status indexes: one ZMSCORE per resolved status for the whole batch
    instead of one HGET per alert (a draft that fires often asks about thousands per batch).
    """
    if not alert_ids:
        return []
    with client.pipeline(transaction=False) as pipe:
        for status in RESOLVED:
            pipe.zmscore(keys.alerts_by_status(status), alert_ids)
        found = pipe.execute()
    out: list[str | None] = [None] * len(alert_ids)
    for status, scores in zip(RESOLVED, found, strict=True):
        for i, score in enumerate(scores):
            if score is not None:
                out[i] = status
    return out


@dataclass
class Counters:
    """What a run has done so far (progress and the result's summary)."""

    warm: int = 0
    done: int = 0
    invalid: int = 0


def run_plan(
    batches: Iterable[tuple[bool, list[Any]]],
    sides: Sides,
    comparison: Comparison,
    *,
    client: redis.Redis,
    keys: RedisKeys,
    max_record_bytes: int,
    native: NativePair | None = None,
    on_batch: Callable[[Counters], None] = lambda _c: None,
) -> Counters:
    """Feed every batch through both sides (on `native` when given) into `comparison`."""
    counts = Counters()
    pending: list[tuple[Any, Alert | None, Alert | None]] = []
    for warm, records in batches:
        out = native.batch(records) if native is not None else sides.batch(records, warm, max_record_bytes)
        if warm:
            counts.warm += len(records)
            on_batch(counts)
            continue
        counts.done += len(records)
        counts.invalid += out.invalid
        # seen() before the batch's observe(): an alert's instance is tracked (or not) by then, and later
        # batches never add it, so observing a few batches late counts exactly the same
        comparison.seen(out.events, out.instances)
        pending += out.alerted
        if len(pending) >= STATUS_BATCH:
            _observe(pending, comparison, client, keys)
        on_batch(counts)
    _observe(pending, comparison, client, keys)
    return counts


def _observe(
    alerted: list[tuple[Any, Alert | None, Alert | None]],
    comparison: Comparison,
    client: redis.Redis,
    keys: RedisKeys,
) -> None:
    """Count these alerted events with their analysts' dispositions (one round trip), then forget them."""
    ids = [(live or draft).alert_id for _, live, draft in alerted]  # type: ignore[union-attr]
    for (meta, live, draft), status in zip(alerted, _statuses(client, keys, ids), strict=True):
        comparison.observe(
            meta.ts_ms, live, draft, scenario=meta.scenario, scenario_id=meta.scenario_id, status=status
        )
    alerted.clear()


def summary(
    plan: Plan,
    counts: Counters,
    sides: Sides,
    seconds: float,
    *,
    cards: int,
    native: bool,
    cpu_seconds: float | None = None,
    model: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's header: range, warm-up, events, rule versions, speed and, when a rule reads
    `model_score`, the model that scored the range (or why none did)."""
    events = counts.done + counts.warm
    return {
        "model": model,
        "topic": plan.topic,
        "from_ms": plan.from_ms,
        "to_ms": plan.to_ms,
        "warmup_ms": plan.warmup_ms,
        "warmup_events": counts.warm,
        "range_events": counts.done,
        "invalid_events": counts.invalid,
        "live_version": sides.live_version,
        "draft_equals_live": sides.same,
        "engine": "native" if native else "python",
        "cards": cards,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1) if seconds > 0 else None,
        # CPU of the whole worker over the run: its cost per event whatever else the machine runs
        "cpu_seconds": round(cpu_seconds, 3) if cpu_seconds is not None else None,
    }


class Progress:
    """Progress of a run, reported at most every `every_s` (events done / total, rate, time left)."""

    def __init__(self, total: int, report: Callable[[dict[str, Any]], bool], every_s: float = 1.0) -> None:
        self.total, self._report, self._every = total, report, every_s
        self.started = time.monotonic()
        self._next = self.started + 0.25  # the first figure early: a short run shows something
        self.stop = False

    def __call__(self, counts: Counters, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now < self._next:
            return
        self._next = now + self._every
        body = {**pace(counts.done + counts.warm, self.total, now - self.started), "warmup_done": counts.warm}
        self.stop = self._report(body) or self.stop
