"""Alert records with their workflow state: the row type and its batched reads from Redis."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import redis

from common import alerts as common_alerts
from common.alerts import STATUSES, Alert, decode_alert
from common.keys import RedisKeys
from dashapp.store._codec import text, to_int

logger = logging.getLogger(__name__)

OPEN_STATUSES = frozenset(common_alerts.OPEN_STATUSES)
RESOLVED_STATUSES = frozenset(common_alerts.RESOLVED_STATUSES)
BANNER_SCAN = 50  # newest banner ids checked against their records on every read
ROW_FIELDS = ("d", "status", "version", "assignee", "updated_at", "updated_by", "note")
_ALERT_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")  # no ':' so an id never names another key


class AlertRow(Alert, frozen=True, kw_only=True):
    """One alert (every field of common.alerts.Alert) with its workflow state, for tables and the API."""

    status: str = "new"
    version: int = 1
    assignee: str = ""
    updated_at: int = 0  # epoch ms of the last workflow change, 0 if never changed
    updated_by: str = ""
    note: str = ""

    @property
    def rules(self) -> tuple[str, ...]:
        """Names of the rules that fired."""
        return tuple(r.rule for r in self.reasons)

    @property
    def reason_text(self) -> str:
        """All reasons as one analyst-readable line."""
        return "; ".join(r.text for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (reasons as a list of dicts)."""
        body: dict[str, Any] = msgspec.to_builtins(self)
        return body


@dataclass(frozen=True)
class Banner:
    """Unacknowledged high-severity alerts: how many, and the newest few."""

    count: int
    newest: tuple[AlertRow, ...]


def valid_alert_id(alert_id: object) -> bool:
    """True if ``alert_id`` can safely name an alert key."""
    return isinstance(alert_id, str) and bool(_ALERT_ID.match(alert_id))


def row_from_alert(alert: Alert, **workflow: Any) -> AlertRow:
    """Add workflow fields to an Alert."""
    return AlertRow(**{name: getattr(alert, name) for name in Alert.__struct_fields__}, **workflow)


def row_from_fields(alert_id: str, values: Sequence[object]) -> AlertRow | None:
    """Build a row from an HMGET of ROW_FIELDS; None (logged if garbage) when unusable."""
    raw = dict(zip(ROW_FIELDS, values, strict=False))
    if raw.get("d") is None:
        return None
    try:
        alert = decode_alert(raw["d"])  # type: ignore[arg-type]
    except ValueError as exc:  # AlertDecodeError
        logger.warning("store: undecodable alert skipped alert_id=%s error=%s", alert_id, exc)
        return None
    key = f"alert:{alert_id}"
    return row_from_alert(
        alert,
        status=text(raw.get("status")) or "new",
        version=to_int(raw.get("version"), 1, key=key),
        assignee=text(raw.get("assignee")) or "",
        updated_at=to_int(raw.get("updated_at"), 0, key=key),
        updated_by=text(raw.get("updated_by")) or "",
        note=text(raw.get("note")) or "",
    )


def fetch_rows(client: redis.Redis, keys: RedisKeys, ids: Sequence[object]) -> list[AlertRow]:
    """Read alert rows for ``ids`` in one pipelined round trip, keeping order, skipping missing."""
    names = [i for i in (text(x) for x in ids) if i is not None and valid_alert_id(i)]
    if not names:
        return []
    pipe = client.pipeline(transaction=False)
    for alert_id in names:
        pipe.hmget(keys.alert(alert_id), ROW_FIELDS)
    replies = pipe.execute(raise_on_error=False)
    rows = []
    for alert_id, values in zip(names, replies, strict=True):
        if isinstance(values, list):
            row = row_from_fields(alert_id, values)
            if row is not None:
                rows.append(row)
    return rows


def _row_limit(limit: int) -> int:
    return max(1, min(int(limit), 1000))


def read_alert_rows(client: redis.Redis, keys: RedisKeys, limit: int, status: str | None) -> list[AlertRow]:
    """Newest-first alert rows from the index, optionally only those in ``status``."""
    limit = _row_limit(limit)
    if status is None:
        return fetch_rows(client, keys, client.zrevrange(keys.alert_index, 0, limit - 1))
    if status not in STATUSES:
        return []
    rows: list[AlertRow] = []
    chunk, start, scan_cap = max(100, 2 * limit), 0, 5000  # bounded: filtering scans the index
    while len(rows) < limit and start < scan_cap:
        ids = client.zrevrange(keys.alert_index, start, start + chunk - 1)
        rows += [r for r in fetch_rows(client, keys, ids) if r.status == status]
        if len(ids) < chunk:
            break
        start += chunk
    return rows[:limit]


def read_alert_rows_anchored(
    client: redis.Redis, keys: RedisKeys, limit: int
) -> tuple[list[AlertRow], str | None]:
    """Newest-first rows and the alert stream's newest entry id, read at one instant (MULTI).

    The bridge adds an alert to the index and the stream in one transaction, so every alert up to
    that id is among the rows (within ``limit``) and none after it: a reader resuming the stream
    from the id neither misses nor repeats one. None: the stream is empty.
    """
    pipe = client.pipeline(transaction=True)
    pipe.zrevrange(keys.alert_index, 0, _row_limit(limit) - 1)
    pipe.xrevrange(keys.alerts, count=1)
    ids, last = pipe.execute()
    anchor = text(last[0][0]) if isinstance(last, list) and last else None
    return fetch_rows(client, keys, ids), anchor


def read_banner_ids(client: redis.Redis, keys: RedisKeys, limit: int) -> tuple[int, tuple[str, ...]]:
    """The banner's size and newest ids (one round trip): what read_banner's answer depends on.

    Every workflow action moves an alert off "new" and removes it from the banner set, so equal ids
    and count mean an equal banner; a caller may reuse a banner read for the same pair.
    """
    pipe = client.pipeline(transaction=False)
    pipe.zcard(keys.banner)
    pipe.zrevrange(keys.banner, 0, max(0, min(int(limit), 100), BANNER_SCAN) - 1)
    count, ids = pipe.execute()
    ids = ids if isinstance(ids, list) else []
    return to_int(count), tuple(t for t in (text(i) for i in ids) if t is not None)


def banner_from_ids(
    client: redis.Redis, keys: RedisKeys, count: int, ids: Sequence[str], limit: int
) -> Banner:
    """The banner for a read_banner_ids answer (one more round trip for the records)."""
    limit = max(0, min(int(limit), 100))
    fresh = [r for r in fetch_rows(client, keys, ids) if r.status == "new"]
    return Banner(count=max(0, count - (len(ids) - len(fresh))), newest=tuple(fresh[:limit]))


def read_banner(client: redis.Redis, keys: RedisKeys, limit: int) -> Banner:
    """Count and newest unacknowledged high-severity alerts (two round trips).

    Ids whose record is gone or no longer "new" (e.g. re-added by a re-delivered event after an
    analyst acknowledged it) are left out of `newest`, and out of `count` when they are among the
    newest BANNER_SCAN ids; the reader never writes, so it does not remove them.
    """
    count, ids = read_banner_ids(client, keys, limit)
    return banner_from_ids(client, keys, count, ids, limit)
