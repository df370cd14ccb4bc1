"""The alerts table: a snapshot read once per slow period, completed with newer alerts each frame."""

from __future__ import annotations

from typing import Any

from dashapp.store import DashboardReader
from dashapp.tick.feeds import ALERTS_DELTA_MAX, alert_tail, next_cursor, stream_key
from dashapp.tick.frames import Frame
from dashapp.views.grid import grid_row, grid_row_from_alert, workflow_digest
from dashapp.views.rules_form import RULE_LABELS

Snapshot = tuple[list[dict[str, Any]], str, str]  # rows (newest first), workflow digest, alert cursor


def _read(reader: DashboardReader, limit: int) -> Snapshot:
    # index and stream id at one instant: the frame's tail may be older than the index read now,
    # and a cursor behind the rows would bring their newest alerts again as adds (shown twice)
    rows, anchor = reader.alert_rows_anchored(limit)
    return [grid_row(r, RULE_LABELS) for r in rows], workflow_digest(rows), anchor


def grid_snapshot(frame: Frame, reader: DashboardReader, limit: int) -> Snapshot:
    """The table as read once per slow period: what tabs compare their workflow digest against."""
    return frame.slow(("grid", limit), lambda: _read(reader, limit))


def grid_now(frame: Frame, reader: DashboardReader, limit: int) -> Snapshot:
    """The table as of this frame: the period's snapshot plus the alerts raised since (once per frame).

    Reading 300 alert records costs tens of ms, so it is done once per period; only a backlog larger
    than the stream tail (alerts could be missing in between) reads the table again.
    """

    def build() -> Snapshot:
        rows, wf, anchor = grid_snapshot(frame, reader, limit)
        entries, newest = alert_tail(frame, reader)
        after = stream_key(anchor) or (0, 0)
        newer = [a for i, a in entries if (stream_key(i) or (0, 0)) > after]
        if len(entries) >= ALERTS_DELTA_MAX and len(newer) == len(entries):
            return _read(reader, limit)  # a gap is possible: read the table afresh
        have = {r["alert_id"] for r in rows}
        added = [grid_row_from_alert(a, RULE_LABELS) for a in reversed(newer) if a.alert_id not in have]
        return (added + rows)[:limit], wf, next_cursor(newest, after, anchor)  # anchor may be newer

    return frame.get(("grid_now", limit), build)
