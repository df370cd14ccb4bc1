"""Custom rules in the engine: the facts one event gives them, their hits, and the card history they keep."""

from __future__ import annotations

from copy import copy
from typing import Any

from bridge.detection.checks import Hit
from bridge.detection.facts import Agg, EventScores, LazyFacts, Ring
from bridge.detection.history import HistoryPlan, compile_where, crc, remember, ring_of, slide_ring
from bridge.detection.state import CardState, extension
from common.rulelang.compile import CompiledRules, compile_rules
from common.rulelang.facts import event_facts
from common.rulelang.lists import ListSnapshot
from common.rulelang.suppress import ALL, suppressed_rules
from common.rules import RulesConfig
from common.schema import Transaction

_RING_FIELDS = ("hist_amt", "hist_merchant", "hist_country", "hist_city", "hist_category", "hist_channel")
_SEEN_FIELDS = ("seen_countries", "seen_merchants", "seen_categories")  # history.SEEN order
_NO_RING: Ring = ([], ())


def custom_rules(rules: RulesConfig, lists: ListSnapshot) -> CustomRules | None:
    """The enabled custom rules of `rules` over `lists`, or None when no custom rule is enabled."""
    if not any(rule.enabled for rule in rules.custom):
        return None
    return CustomRules(compile_rules(rules), rules.currency, lists)


def unsuppressed(rules: RulesConfig, event: Transaction, hits: list[Hit], lists: ListSnapshot) -> list[Hit]:
    """`hits` without those of rules a suppression silences for this event (expiry vs event time)."""
    silenced = suppressed_rules(rules, event_facts(event, rules.currency), lists)
    if silenced is ALL:
        return []
    return [hit for hit in hits if hit[1].rule not in silenced] if silenced else hits


def history_plan(compiled: CompiledRules) -> HistoryPlan:
    """The ring columns and seen-values the enabled rules read, and their longest window."""
    plan = compiled.plan
    used = set(plan.columns)
    return HistoryPlan(
        longest_ms=plan.longest_ms if "hist_ms" in used else 0,
        keep=tuple(name in used for name in _RING_FIELDS),
        seen=tuple(name in used for name in _SEEN_FIELDS),
    )


class CustomRules:
    """The enabled custom rules of one rule set over one list snapshot; `observe` runs them."""

    def __init__(self, compiled: CompiledRules, rates: dict[str, float], lists: ListSnapshot) -> None:
        self.compiled, self.rules, self.lists = compiled, compiled.rules, lists
        self._rates = rates
        self.scores: EventScores | None = None  # this batch's model scores (with_scores)
        self._plan = history_plan(compiled)
        self._aggs: dict[str, Agg] = {
            a.key: (a.kind, a.of, a.window_ms, compile_where(a.where) if a.where is not None else None)
            for a in compiled.plan.aggs
        }

    def with_lists(self, lists: ListSnapshot) -> CustomRules:
        """The same rules over another list snapshot."""
        return CustomRules(self.compiled, self._rates, lists)

    def with_scores(self, scores: EventScores | None) -> CustomRules:
        """The same rules reading `model_score` from one batch's scores."""
        other = copy(self)
        other.scores = scores
        return other

    def observe(
        self, event: Transaction, prev: CardState, *, amount: float, t: int, newest: int, hits: list[Hit]
    ) -> dict[str, Any] | None:
        """Append the custom rules' hits on `event` to `hits`; return the card's next history
        arrays (HistoryState fields), or None when they are all empty (the state stays cs1)."""
        ext, plan = extension(prev), self._plan
        nxt: dict[str, Any] = {}
        ring: Ring = _NO_RING
        if plan.longest_ms:
            keep = plan.keep
            row = (
                amount,
                crc(event.merchant_id) if keep[1] else 0,
                crc(event.country or "") if keep[2] else 0,
                crc(event.city) if keep[3] else 0,
                crc(event.merchant_category) if keep[4] else 0,
                crc(event.channel) if keep[5] else 0,
            )
            (ms, cols), inside = slide_ring(ring_of(ext, plan), t, newest, row, plan)
            nxt["hist_ms"] = ms
            nxt.update(zip(_RING_FIELDS, cols, strict=True))
            # a late event older than all the ring keeps: its aggregates read it alone
            ring = (ms, cols) if inside else ([t], tuple([v] for v in row))
        if any(plan.seen):
            values = (event.country or "", event.merchant_id, event.merchant_category)  # as event_facts
            for i, field in enumerate(_SEEN_FIELDS):
                if plan.seen[i]:
                    nxt[field] = remember(getattr(ext, field), crc(values[i]))
        facts = LazyFacts(event_facts(event, self._rates)).bind(
            self._aggs, event, prev, ext, ring, amount=amount, t=t, scores=self.scores
        )
        for rule in self.rules:
            reason = rule.evaluate(facts, self.lists)
            if reason is not None:
                hits.append((rule.score, reason))
        return nxt if any(nxt.values()) else None
