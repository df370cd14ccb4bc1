"""The live streams' newest entries, read once per frame and filtered by each tab's cursor."""

from __future__ import annotations

from typing import Any

from common.alerts import Alert
from dashapp.store import DashboardReader, TxnRow
from dashapp.tick.frames import Frame

ALERTS_DELTA_MAX = 200  # alerts are few: sent uncapped up to this, beyond it the grid resyncs


def stream_key(entry_id: Any) -> tuple[int, int] | None:
    """A stream entry id as a comparable pair, or None if it is not one (client data is untrusted)."""
    if not isinstance(entry_id, str):
        return None
    ms, _, n = entry_id.partition("-")
    return (int(ms), int(n)) if ms.isdigit() and n.isdigit() and len(entry_id) <= 41 else None


def alert_tail(frame: Frame, reader: DashboardReader) -> tuple[list[tuple[str, Alert]], str]:
    """The newest ALERTS_DELTA_MAX alerts with their entry ids (oldest first) and the newest id."""
    return frame.get("alert_tail", lambda: reader.alert_entries(ALERTS_DELTA_MAX))


def next_cursor(newest: str, after: tuple[int, int], cursor: str) -> str:
    """The newer of two stream ids: `newest` if it is past `after` (= `cursor`'s key), else `cursor`."""
    newest_key = stream_key(newest)
    return newest if newest_key is not None and newest_key > after else cursor


def alerts_after(frame: Frame, reader: DashboardReader, cursor: Any) -> tuple[list[Alert], str]:
    """The newest ALERTS_DELTA_MAX alerts after `cursor`, as alerts_since(cursor, n, tail=True) gives."""
    entries, newest = alert_tail(frame, reader)
    after = stream_key(cursor)
    if after is None:
        return [a for _, a in entries], newest
    fresh = [a for i, a in entries if (stream_key(i) or (0, 0)) > after]
    return fresh, next_cursor(newest, after, str(cursor))


def newest_txns(frame: Frame, reader: DashboardReader, limit: int, cursor: Any) -> tuple[list[TxnRow], str]:
    """The newest `limit` transactions after `cursor`, as txns_since(cursor, n, tail=True) gives."""
    rows, newest = frame.get(("txn_tail", limit), lambda: reader.txns_since(None, limit))
    after = stream_key(cursor)
    if after is None:
        return list(rows), newest
    fresh = [r for r in rows if (stream_key(r.entry_id) or (0, 0)) > after]
    return fresh, next_cursor(newest, after, str(cursor))
