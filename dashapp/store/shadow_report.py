"""The shadow panel's figures: exact per-rule fires, overlap, precision; analysts' view of newest pairs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from backtest.compare import RESOLVED_FP, RESOLVED_FRAUD, Comparison
from common.keys import RedisKeys, shadow_events_field, shadow_fires_field, shadow_truth_field
from common.shadow_doc import ANY_RULE, Pair, ShadowDoc, decode_pair
from dashapp.store._codec import text

PANEL_PAIRS_MAX = 2_000  # the newest pairs read for precision and samples (one panel load)
SAMPLE_MAX = 25
SIDES = ("live", "shadow", "both")
FIRES = ("live", "shadow", "overlap", "added", "removed")


def fires_rows(stats: Mapping[str, int], shadow_id: int) -> dict[str, dict[str, int]]:
    """rule -> {live, shadow, overlap, added, removed} from the exact counters `fires:<id>:<rule>:<side>`."""
    per: dict[str, dict[str, int]] = {}
    head = shadow_fires_field(shadow_id)
    for name, n in stats.items():
        if not name.startswith(head):
            continue
        rule, _, side = name[len(head) :].rpartition(":")
        if side in SIDES and rule:
            per.setdefault(rule, dict.fromkeys(SIDES, 0))[side] += n
    return {
        rule: {
            "live": c["live"] + c["both"],
            "shadow": c["shadow"] + c["both"],
            "overlap": c["both"],
            "added": c["shadow"],
            "removed": c["live"],
        }
        for rule, c in per.items()
    }


def truth_rows(stats: Mapping[str, int], shadow_id: int) -> dict[str, dict[str, float | None]]:
    """rule -> {live, shadow}: precision from the exact counters `truth:<id>:<rule>:<side>:<tp|fp>`
    (None for a set with no alert on a labelled event)."""
    counts: dict[str, dict[str, int]] = {}
    head = shadow_truth_field(shadow_id)
    for name, n in stats.items():
        if not name.startswith(head):
            continue
        rule, _, side_truth = name[len(head) :].rpartition(":")
        rule, _, side = rule.rpartition(":")
        if rule and side in ("live", "shadow") and side_truth in ("tp", "fp"):
            counts.setdefault(rule, {})[f"{side}:{side_truth}"] = n
    out: dict[str, dict[str, float | None]] = {}
    for rule, c in counts.items():
        row: dict[str, float | None] = {}
        for side in ("live", "shadow"):
            tp, fp = c.get(f"{side}:tp", 0), c.get(f"{side}:fp", 0)
            row[side] = round(tp / (tp + fp), 4) if tp + fp else None
        out[rule] = row
    return out


def compare(pairs: Iterable[Pair], statuses: Mapping[str, str]) -> dict[str, Any]:
    """Quality per rule over `pairs` (oldest first): ground-truth and analyst precision per side, samples."""
    comparison = Comparison(sample_max=SAMPLE_MAX)
    for p in pairs:
        aid = (p.alert or p.live).alert_id  # type: ignore[union-attr]
        comparison.observe(
            p.record_ms,
            p.live,
            p.alert,
            scenario=p.scenario,
            scenario_id=p.scenario_id,
            status=statuses.get(aid),
        )
    result = comparison.result()
    quality = {row["rule"]: {"live": row["live"], "shadow": row["draft"]} for row in result["rules"]}
    samples = result["samples"]
    return {"quality": quality, "shadow_only": samples["added"], "live_only": samples["removed"]}


def report(
    doc: ShadowDoc, stats: Mapping[str, int], pairs: list[Pair], statuses: Mapping[str, str]
) -> dict[str, Any]:
    """The panel and GET /api/rules/shadow: per rule exact fires, then quality over the pairs read."""
    fires, truth = fires_rows(stats, doc.id), truth_rows(stats, doc.id)
    quality = compare(pairs, statuses)
    empty = {"alerts": 0, "precision": None, "analyst_precision": None}
    rules = []
    for rule in sorted(fires.keys() | quality["quality"].keys(), key=lambda r: (r != ANY_RULE, r)):
        q = quality["quality"].get(rule, {"live": empty, "shadow": empty})
        counts = fires.get(rule, dict.fromkeys(FIRES, 0))
        exact = truth.get(rule, {})
        rules.append(
            {
                "rule": rule,
                **counts,
                # from every labelled event since the shadow started (the bridges' counters)
                "live_precision": exact.get("live"),
                "shadow_precision": exact.get("shadow"),
                "live_quality": _q(q["live"]),
                "shadow_quality": _q(q["shadow"]),
            }
        )
    return {
        "shadow": {
            "id": doc.id,
            "by": doc.by,
            "at": doc.at,
            "comment": doc.comment,
            "base_version": doc.base_version,
        },
        "events": stats.get(shadow_events_field(doc.id), 0),
        "pairs_read": len(pairs),
        "rules": rules,
        "shadow_only": quality["shadow_only"],
        "live_only": quality["live_only"],
    }


def _q(side: Mapping[str, Any]) -> dict[str, Any]:
    keep = (
        "alerts",
        "tp",
        "fp",
        "precision",
        "resolved_fraud",
        "resolved_false_positive",
        "analyst_precision",
    )
    return {k: side.get(k) for k in keep}


class ShadowReader:
    """Reads the shadow findings: the stats hash, the newest pairs and the live alerts' dispositions."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._keys = client, keys

    def report(self, doc: ShadowDoc, limit: int = PANEL_PAIRS_MAX) -> dict[str, Any]:
        """The report over the newest `limit` pairs; limit 0 reads only the counters (one HGETALL)."""
        raw_stats = self._r.hgetall(self._keys.shadow_stats)
        stats = {text(k) or "": int(v) for k, v in raw_stats.items()}
        newest = self._r.zrevrange(self._keys.shadow_alerts, 0, limit - 1) if limit > 0 else []
        ids = [text(x) or "" for x in newest]
        blobs = self._r.hmget(self._keys.shadow_pairs, ids) if ids else []
        pairs = [p for p in map(decode_pair, reversed(blobs)) if p is not None and p.shadow == doc.id]  # type: ignore[arg-type]
        return report(
            doc, stats, pairs, self._statuses([p.live.alert_id for p in pairs if p.live is not None])
        )

    def _statuses(self, alert_ids: list[str]) -> dict[str, str]:
        """Which of these live alerts analysts resolved, and how (one ZMSCORE per resolved status)."""
        if not alert_ids:
            return {}
        out: dict[str, str] = {}
        with self._r.pipeline(transaction=False) as pipe:
            for status in (RESOLVED_FRAUD, RESOLVED_FP):
                pipe.zmscore(self._keys.alerts_by_status(status), alert_ids)
            found = pipe.execute()
        for status, scores in zip((RESOLVED_FRAUD, RESOLVED_FP), found, strict=True):
            out.update(
                (aid, status) for aid, score in zip(alert_ids, scores, strict=True) if score is not None
            )
        return out
