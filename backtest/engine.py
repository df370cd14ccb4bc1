"""One backtest run: replay a plan through the live and the draft detector side by side."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from backtest.compare import Comparison
from backtest.replay import Plan
from bridge.detection import CardState, Detector, make_alert
from bridge.processor import validate_records
from bridge.validation import Rejected
from common.alerts import Alert
from common.keys import RedisKeys
from common.rulelang import compile_rules
from common.rules import RulesConfig

logger = logging.getLogger(__name__)
DRAFT_VERSION = 0  # the rules_version of a draft's alerts (it has none yet)


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


def _step(sides: Sides, ev: Any, warm: bool) -> tuple[Alert | None, Alert | None]:
    """Evaluate one event on both sides (decoded once); alerts only outside the warm-up."""
    card = ev.card_id
    live_d, sides.live_states[card] = sides.live.evaluate(ev, sides.live_states.get(card))
    if sides.same:
        draft_d = live_d
    else:
        draft_d, sides.draft_states[card] = sides.draft.evaluate(ev, sides.draft_states.get(card))
    if warm:
        return None, None
    live = make_alert(ev, live_d, sides.live_version) if live_d.is_alert else None
    if sides.same:
        return live, live
    draft = make_alert(ev, draft_d, DRAFT_VERSION) if draft_d.is_alert else None
    return live, draft


def _statuses(client: redis.Redis, keys: RedisKeys, alert_ids: list[str]) -> list[str | None]:
    """Analysts' workflow status of these alerts in the live namespace (read only), None if absent."""
    if not alert_ids:
        return []
    with client.pipeline(transaction=False) as pipe:
        for aid in alert_ids:
            pipe.hget(keys.alert(aid), "status")
        raw = pipe.execute()
    return [r.decode() if isinstance(r, bytes) else r for r in raw]


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
    on_batch: Callable[[Counters], None] = lambda _c: None,
) -> Counters:
    """Feed every batch through both sides into `comparison`; `on_batch` sees the counters after each."""
    counts = Counters()
    for warm, records in batches:
        pending: list[tuple[int, Alert | None, Alert | None, Any]] = []
        for item in validate_records(records, max_record_bytes):
            ev = item.result
            if isinstance(ev, Rejected):
                counts.invalid += 1
                continue
            try:
                live, draft = _step(sides, ev, warm)
            except Exception:  # a poison event is counted, like the bridge's dead letters
                logger.exception("backtest: detector failed offset=%s", item.meta.offset)
                counts.invalid += 1
                continue
            if not warm:
                pending.append((item.meta.ts_ms, live, draft, item.meta))
        if warm:
            counts.warm += len(records)
        else:
            counts.done += len(records)
            ids = [(a or b).alert_id for _, a, b, _ in pending if (a or b) is not None]  # type: ignore[union-attr]
            statuses = iter(_statuses(client, keys, ids))
            for ts_ms, live, draft, meta in pending:
                status = next(statuses) if (live or draft) is not None else None
                comparison.observe(
                    ts_ms, live, draft, scenario=meta.scenario, scenario_id=meta.scenario_id, status=status
                )
        on_batch(counts)
    return counts


def summary(plan: Plan, counts: Counters, sides: Sides, seconds: float) -> dict[str, Any]:
    """The run's header: range, warm-up, events, rule versions and speed."""
    events = counts.done + counts.warm
    return {
        "topic": plan.topic,
        "from_ms": plan.from_ms,
        "to_ms": plan.to_ms,
        "warmup_ms": plan.warmup_ms,
        "warmup_events": counts.warm,
        "range_events": counts.done,
        "invalid_events": counts.invalid,
        "live_version": sides.live_version,
        "draft_equals_live": sides.same,
        "cards": len(sides.live_states),
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1) if seconds > 0 else None,
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
        done = counts.done + counts.warm
        rate = done / (now - self.started) if now > self.started else 0.0
        left = max(self.total - done, 0)
        body = {
            "done": done,
            "total": self.total,
            "warmup_done": counts.warm,
            "rate": round(rate, 1),
            "eta_s": round(left / rate, 1) if rate > 0 else None,
        }
        self.stop = self._report(body) or self.stop
