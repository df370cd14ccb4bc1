"""The live-vs-draft comparison of one backtest, pure: events in, per-rule counts, hours and samples out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from common.alerts import Alert
from common.schema import NORMAL_SCENARIO

ANY_RULE = "*"  # the row and hourly series of alerts as a whole (any rule)
HOUR_MS = 3_600_000
RESOLVED_FRAUD, RESOLVED_FP = "resolved_fraud", "resolved_false_positive"


@dataclass
class SideCounts:
    """What one rule set did for one rule: alerts, ground truth, analysts' dispositions."""

    alerts: int = 0
    tp: int = 0  # alerts on events whose scenario header names a fraud scenario
    fp: int = 0  # alerts on events labelled normal
    fraud: int = 0  # alerts on transactions analysts resolved as fraud
    false_positive: int = 0  # ... resolved as false positive
    caught: set[str] = field(default_factory=set)  # fraud instance ids with at least one alert

    def row(self, instances: int) -> dict[str, Any]:
        labelled, worked = self.tp + self.fp, self.fraud + self.false_positive
        return {
            "alerts": self.alerts,
            "tp": self.tp,
            "fp": self.fp,
            "precision": round(self.tp / labelled, 4) if labelled else None,
            "instances_caught": len(self.caught),
            "instance_recall": round(len(self.caught) / instances, 4) if instances else None,
            "resolved_fraud": self.fraud,
            "resolved_false_positive": self.false_positive,
            "analyst_precision": round(self.fraud / worked, 4) if worked else None,
        }


@dataclass
class RuleCounts:
    """One rule (or ANY_RULE): its live and draft side and the alert-id overlap."""

    live: SideCounts = field(default_factory=SideCounts)
    draft: SideCounts = field(default_factory=SideCounts)
    added: int = 0  # the draft fires this rule on a transaction the live set did not
    removed: int = 0
    unchanged: int = 0


def _sample(alert: Alert, other: Alert | None, side: str) -> dict[str, Any]:
    return {
        "change": side,
        "alert_id": alert.alert_id,
        "txn_id": alert.txn_id,
        "card_id": alert.card_id,
        "ts": alert.ts,
        "amount": alert.amount,
        "currency": alert.currency,
        "score": alert.score,
        "severity": alert.severity,
        "rules": [r.rule for r in alert.reasons],
        "reasons": [r.text for r in alert.reasons],
        "other_rules": [r.rule for r in other.reasons] if other is not None else [],
    }


class Comparison:
    """Accumulates a backtest; memory is bounded by rules x hours, instances_max and sample_max."""

    def __init__(self, sample_max: int = 25, instances_max: int = 100_000) -> None:
        self.rules: dict[str, RuleCounts] = {}
        self.hours: dict[int, dict[str, list[int]]] = {}  # hour start ms -> rule -> [live, draft]
        self.instances: set[str] = set()
        self.untracked_instances = 0
        self.events = 0
        self.samples: dict[str, list[dict[str, Any]]] = {"added": [], "removed": []}
        self._sample_max, self._instances_max = sample_max, instances_max
        # An order-free fingerprint of each side's alert-id set (XOR of the ids): two runs, or a run and
        # the live bridges, raised the same alerts when count and fingerprint agree; no id list is kept.
        self.fingerprints = {"live": [0, 0], "draft": [0, 0]}

    def seen(self, events: int, instance_ids: Iterable[str]) -> None:
        """Count replayed valid events and the fraud instances they belong to (recall's denominator)."""
        self.events += events
        for sid in instance_ids:
            if sid in self.instances:
                continue
            if len(self.instances) < self._instances_max:
                self.instances.add(sid)
            else:
                self.untracked_instances += 1  # events of instances beyond the bound

    def observe(
        self,
        record_ms: int,
        live: Alert | None,
        draft: Alert | None,
        *,
        scenario: str | None = None,
        scenario_id: str | None = None,
        status: str | None = None,
    ) -> None:
        """Count one event either side alerted on (after `seen` counted its batch): the rules each side
        fired, ground truth from its headers and the analysts' disposition of its alert."""
        if live is None and draft is None:
            return
        fraud = scenario is not None and scenario != NORMAL_SCENARIO
        fraud_instance = scenario_id if fraud and scenario_id in self.instances else None
        for name, alert in (("live", live), ("draft", draft)):
            if alert is not None:
                fp = self.fingerprints[name]
                fp[0], fp[1] = fp[0] + 1, fp[1] ^ int(alert.alert_id, 16)
        live_rules = {r.rule for r in live.reasons} if live is not None else set()
        draft_rules = {r.rule for r in draft.reasons} if draft is not None else set()
        hour = self.hours.setdefault(record_ms - record_ms % HOUR_MS, {})
        for rule in live_rules | draft_rules | {ANY_RULE}:
            in_live = live is not None and (rule == ANY_RULE or rule in live_rules)
            in_draft = draft is not None and (rule == ANY_RULE or rule in draft_rules)
            if not (in_live or in_draft):
                continue
            counts = self.rules.setdefault(rule, RuleCounts())
            per_hour = hour.setdefault(rule, [0, 0])
            if in_live and in_draft:
                counts.unchanged += 1
            elif in_draft:
                counts.added += 1
            else:
                counts.removed += 1
            for on, side, i in ((in_live, counts.live, 0), (in_draft, counts.draft, 1)):
                if on:
                    per_hour[i] += 1
                    self._credit(side, scenario, fraud_instance, status)
        if live is None and draft is not None:
            self._keep("added", draft, None)
        elif draft is None and live is not None:
            self._keep("removed", live, None)

    @staticmethod
    def _credit(side: SideCounts, scenario: str | None, instance: str | None, status: str | None) -> None:
        side.alerts += 1
        if scenario is not None:
            if scenario == NORMAL_SCENARIO:
                side.fp += 1
            else:
                side.tp += 1
        if instance is not None:
            side.caught.add(instance)
        if status == RESOLVED_FRAUD:
            side.fraud += 1
        elif status == RESOLVED_FP:
            side.false_positive += 1

    def _keep(self, change: str, alert: Alert, other: Alert | None) -> None:
        kept = self.samples[change]
        if len(kept) < self._sample_max:
            kept.append(_sample(alert, other, change))

    def result(self) -> dict[str, Any]:
        """The JSON-ready result: per-rule rows (ANY_RULE first), hourly volumes and the samples."""
        n = len(self.instances)
        order = sorted(self.rules, key=lambda r: (r != ANY_RULE, r))
        rows = [
            {
                "rule": rule,
                "added": c.added,
                "removed": c.removed,
                "unchanged": c.unchanged,
                "live": c.live.row(n),
                "draft": c.draft.row(n),
            }
            for rule, c in ((r, self.rules[r]) for r in order)
        ]
        hours = [
            {"hour_ms": h, "rule": rule, "live": v[0], "draft": v[1]}
            for h in sorted(self.hours)
            for rule, v in sorted(self.hours[h].items())
        ]
        return {
            "events": self.events,
            "fraud_instances": n,
            "untracked_instances": self.untracked_instances,
            "rules": rows,
            "hours": hours,
            "samples": self.samples,
            "alert_sets": {k: {"count": v[0], "xor": f"{v[1]:020x}"} for k, v in self.fingerprints.items()},
        }


def fingerprint(alert_ids: list[str]) -> dict[str, Any]:
    """The `alert_sets` entry of these alert ids (e.g. the live bridges' alerts:index over a range)."""
    xor = 0
    for aid in alert_ids:
        xor ^= int(aid, 16)
    return {"count": len(alert_ids), "xor": f"{xor:020x}"}
