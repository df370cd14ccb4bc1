"""Rule quality from analysts' work: per rule, alerts resolved as fraud vs false positive in 24 h and 7 d."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import msgspec
import redis
from redis.typing import EncodableT

from common.keys import RedisKeys
from dashapp.store._codec import text, to_int
from dashapp.store.alert_rows import RESOLVED_STATUSES, ROW_FIELDS, AlertRow, row_from_fields

logger = logging.getLogger(__name__)

WINDOWS = (("24h", 24 * 3600 * 1000), ("7d", 7 * 24 * 3600 * 1000))
KEEP_MS = 8 * 24 * 3600 * 1000  # the longest window and a day to spare: older entries are trimmed
FRAUD, FALSE_POSITIVE = "resolved_fraud", "resolved_false_positive"
_BACKFILL_CHUNK = 500


@dataclass(frozen=True)
class RuleQuality:
    """One rule over one window ending now.

    `fraud` and `false_positive` count the rule's alerts *resolved* so in the window (by resolution
    time); `raised` its alerts raised in the window (by event time) and `open` those of them not
    resolved yet. `precision` is fraud ÷ (fraud + false_positive), None before any resolution; read
    it with `resolved` (its n): 1.0 from one resolution says little.
    """

    rule: str
    window: str
    raised: int
    fraud: int
    false_positive: int
    open: int

    @property
    def resolved(self) -> int:
        """How many resolutions the precision is computed from."""
        return self.fraud + self.false_positive

    @property
    def precision(self) -> float | None:
        """fraud ÷ (fraud + false positive), None with no resolution in the window."""
        return self.fraud / self.resolved if self.resolved else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived fields."""
        return {**asdict(self), "resolved": self.resolved, "precision": self.precision}


def resolution_writes(keys: RedisKeys, old: AlertRow, new: AlertRow) -> list[tuple[EncodableT, ...]]:
    """The index writes a workflow transition adds (same MULTI): resolve adds, reopen removes.

    A resolve is scored by its time (`new.updated_at`); a reopen leaves a resolved status, so
    `old.status` says which index holds the alert.
    """
    was, now = old.status in RESOLVED_STATUSES, new.status in RESOLVED_STATUSES
    if was == now:
        return []
    aid = old.alert_id
    out: list[tuple[EncodableT, ...]] = []
    for rule in dict.fromkeys(old.rules):
        if now:
            at = keys.rule_resolved(rule, new.status)
            out += [
                ("ZADD", at, new.updated_at, aid),
                ("ZREMRANGEBYSCORE", at, "-inf", f"({new.updated_at - KEEP_MS}"),
                ("ZADD", keys.rule_resolved_raised(rule), old.event_ms, aid),
                ("ZREMRANGEBYSCORE", keys.rule_resolved_raised(rule), "-inf", f"({new.updated_at - KEEP_MS}"),
            ]
        else:
            out += [
                ("ZREM", keys.rule_resolved(rule, old.status), aid),
                ("ZREM", keys.rule_resolved_raised(rule), aid),
            ]
    return out


class RuleQualityReader:
    """Counts per rule and window: 4 ZCOUNTs each (O(log n)), all in one pipelined round trip."""

    def __init__(self, redis_client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._keys = redis_client, keys

    def quality(self, rules: Sequence[str], now_ms: int) -> list[RuleQuality]:
        """Every rule in `rules` over each window, in that order (24 h then 7 d per rule)."""
        k = self._keys
        with self._r.pipeline(transaction=False) as pipe:
            for rule in rules:
                for _, span in WINDOWS:
                    since = now_ms - span
                    # event time may run a little ahead of the clock: raised counts up to +inf
                    pipe.zcount(k.alerts_by_rule(rule), since, "+inf")
                    pipe.zcount(k.rule_resolved_raised(rule), since, "+inf")
                    pipe.zcount(k.rule_resolved(rule, FRAUD), since, now_ms)
                    pipe.zcount(k.rule_resolved(rule, FALSE_POSITIVE), since, now_ms)
            counts = [to_int(c) for c in pipe.execute()]
        out, i = [], 0
        for rule in rules:
            for name, _ in WINDOWS:
                raised, resolved_of_raised, fraud, fp = counts[i : i + 4]
                i += 4
                # the retention sweep may drop a resolved alert from the raised index first: never < 0
                out.append(RuleQuality(rule, name, raised, fraud, fp, max(0, raised - resolved_of_raised)))
        return out


def backfill(redis_client: redis.Redis, keys: RedisKeys) -> int:
    """Rebuild the quality indexes from the resolved alerts kept (their last change as the resolution
    time); for alerts resolved before these indexes existed. Idempotent; returns the alerts read."""
    seen = 0
    for status in sorted(RESOLVED_STATUSES):
        ids = [text(m) or "" for m in redis_client.zrange(keys.alerts_by_status(status), 0, -1)]
        for start in range(0, len(ids), _BACKFILL_CHUNK):
            chunk = ids[start : start + _BACKFILL_CHUNK]
            with redis_client.pipeline(transaction=False) as pipe:
                for aid in chunk:
                    pipe.hmget(keys.alert(aid), ROW_FIELDS)
                rows = [row_from_fields(a, v) for a, v in zip(chunk, pipe.execute(), strict=True)]
            with redis_client.pipeline(transaction=False) as pipe:
                for row in _resolved(rows):
                    before = msgspec.structs.replace(row, status="acknowledged")  # just before it
                    for command in resolution_writes(keys, before, row):
                        pipe.execute_command(*command)
                pipe.execute()
            seen += len(chunk)
    logger.info("rule quality: backfilled from %d resolved alerts", seen)
    return seen


def _resolved(rows: Iterable[AlertRow | None]) -> Iterable[AlertRow]:
    return (r for r in rows if r is not None and r.status in RESOLVED_STATUSES and r.updated_at > 0)


def by_rule(rules: Sequence[Mapping[str, Any]], rows: Sequence[RuleQuality]) -> list[dict[str, Any]]:
    """One JSON-ready entry per rule of the document (`id`, `name`, `enabled`, `builtin`), its
    windows keyed by name: the shape of GET /api/rules/quality and of the rules view's table."""
    per: dict[str, dict[str, Any]] = {}
    for row in rows:
        per.setdefault(row.rule, {})[row.window] = {
            k: v for k, v in row.to_dict().items() if k not in ("rule", "window")
        }
    return [
        {
            "rule": r["id"],
            "name": r.get("name", r["id"]),
            "enabled": bool(r.get("enabled", True)),
            "builtin": "builtin" in r,
            "windows": per.get(r["id"], {}),
        }
        for r in rules
    ]


def live_quality(reader: RuleQualityReader, document: Mapping[str, Any], now_ms: int) -> list[dict[str, Any]]:
    """by_rule() for every rule of a rules document (the live one: built-ins first, then custom)."""
    rules = [r for r in document.get("rules", []) if isinstance(r, Mapping) and isinstance(r.get("id"), str)]
    return by_rule(rules, reader.quality([r["id"] for r in rules], now_ms))
