"""Alert retention: a bounded periodic sweep that drops resolved alerts older than the retention."""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

import redis
from redis.typing import EncodableT, FieldT

from common.alerts import OPEN_STATUSES, RESOLVED_STATUSES, Alert, InvalidAlert, decode_alert, index_keys
from common.keys import RedisKeys

logger = logging.getLogger(__name__)

DAY_MS = 86_400_000
PER_PASS = 300  # ids per resolved status per pass: a pass is a few ms of Redis time
EVERY_S = 5.0

# KEYS: the alert hash, its history, then every ZSET that may hold the id. ARGV: id, the assignee
# the sweep read, then the resolved statuses. Atomic per alert, so an analyst who reopens (or
# reassigns) the alert between the sweep's read and this call keeps it: it is left for a later pass.
DROP_IF_RESOLVED = (
    "local status = redis.call('HGET', KEYS[1], 'status') "
    "local resolved = false "
    "for i = 3, #ARGV do if status == ARGV[i] then resolved = true end end "
    "if not resolved or (redis.call('HGET', KEYS[1], 'assignee') or '') ~= ARGV[2] then return 0 end "
    "redis.call('DEL', KEYS[1], KEYS[2]) "
    "for i = 3, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end return 1"
)

UNLINK = "for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[1]) end return 0"


def _quality_keys(keys: RedisKeys, alert: Alert) -> list[str]:
    """The rule-quality sets a resolved alert is in (dashapp/store/rule_quality.py): they are trimmed
    by age on each resolve, but a swept alert leaves them too, so they never outgrow the alerts kept."""
    rules = dict.fromkeys(r.rule for r in alert.reasons)
    return [
        k
        for rule in rules
        for k in (keys.rule_resolved_raised(rule), *(keys.rule_resolved(rule, s) for s in RESOLVED_STATUSES))
    ]


class SweepReport(NamedTuple):
    """One pass: alerts dropped, open alerts older than the retention (kept), the cutoff used."""

    swept: int
    kept_unresolved: int
    cutoff_ms: int


def _text(raw: Any) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")


class AlertRetention:
    """Drops resolved alerts whose event is older than ``days``, with every index entry of theirs.

    Unresolved alerts are never dropped: each pass counts those past the retention and publishes
    the count (``alerts:retention``) for the dashboard and the API. Several bridges may sweep at
    once: each drop re-checks the alert atomically, so a race costs nothing but a skipped id.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: RedisKeys,
        days: float,
        *,
        per_pass: int = PER_PASS,
        every_s: float = EVERY_S,
    ) -> None:
        self._r, self._keys = client, keys
        self.days, self._retention_ms = days, int(days * DAY_MS)
        self._per_pass, self._every_s = per_pass, every_s
        self._next = 0.0
        self._all_statuses = [keys.alerts_by_status(s) for s in (*OPEN_STATUSES, *RESOLVED_STATUSES)]

    def due(self, now_s: float) -> bool:
        """True once per ``every_s`` (monotonic seconds); the caller then runs sweep()."""
        if now_s < self._next:
            return False
        self._next = now_s + self._every_s
        return True

    def sweep(self, now_ms: int) -> SweepReport:
        """One bounded pass: at most ``per_pass`` ids per resolved status (three round trips)."""
        keys, cutoff = self._keys, int(now_ms) - self._retention_ms
        pipe = self._r.pipeline(transaction=False)
        for status in RESOLVED_STATUSES:
            pipe.zrangebyscore(keys.alerts_by_status(status), "-inf", cutoff, start=0, num=self._per_pass)
        ids = list(dict.fromkeys(_text(i) for found in pipe.execute() for i in found))
        swept = self._drop(ids) if ids else 0
        pipe = self._r.pipeline(transaction=False)
        for status in OPEN_STATUSES:
            pipe.zcount(keys.alerts_by_status(status), "-inf", cutoff)
        kept = sum(int(n) for n in pipe.execute())
        pipe = self._r.pipeline(transaction=False)
        report: dict[FieldT, EncodableT] = {
            "days": self.days,
            "cutoff_ms": cutoff,
            "kept_unresolved": kept,
            "at_ms": int(now_ms),
        }
        pipe.hset(keys.alert_retention, mapping=report)
        if swept:
            pipe.hincrby(keys.alert_retention, "swept", swept)
            pipe.incr(keys.seq)  # open dashboards drop the rows that are gone
        pipe.execute()
        if swept or kept:
            logger.info("retention: swept=%d kept_unresolved=%d cutoff_ms=%d", swept, kept, cutoff)
        return SweepReport(swept, kept, cutoff)

    def _drop(self, ids: list[str]) -> int:
        keys = self._keys
        pipe = self._r.pipeline(transaction=False)
        for alert_id in ids:
            pipe.hmget(keys.alert(alert_id), ("d", "assignee"))
        found = pipe.execute()
        pipe = self._r.pipeline(transaction=False)
        for alert_id, (blob, assignee) in zip(ids, found, strict=True):
            zsets = [keys.alert_index, keys.banner, *self._all_statuses]
            if blob is None:  # record gone (deleted by hand?): unlink the id, or it blocks every pass
                pipe.eval(UNLINK, len(zsets), *zsets, alert_id)
                continue
            who = _text(assignee)
            if who:
                zsets.append(keys.alerts_by_assignee(who))
            try:
                alert = decode_alert(blob)
                zsets.extend(index_keys(keys, alert))
                zsets.extend(_quality_keys(keys, alert))
            except InvalidAlert:
                logger.warning("retention: undecodable alert dropped alert_id=%s", alert_id)
            record = [keys.alert(alert_id), keys.alert_history(alert_id)]
            argv = [alert_id, who, *RESOLVED_STATUSES]
            pipe.eval(DROP_IF_RESOLVED, len(record) + len(zsets), *record, *zsets, *argv)
        return sum(int(x) for x in pipe.execute())
