"""The alerts table in the refresh tick against real Redis: every alert once, cursors that agree."""

from __future__ import annotations

import pytest

from dashapp.store import DashboardReader
from dashapp.tick.build import FrameMemo, run_tick
from tests.test_dash_live import CFG, NOW_MS, VIEW, _seed, _tick
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration


def test_table_resync_adds_alerts_newer_than_the_period_snapshot(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader, memo = DashboardReader(redis_client, keys), FrameMemo()
    first = run_tick(reader, CFG, VIEW, None, now_ms=NOW_MS, view_changed=False, memo=memo)
    assert [r["alert_id"] for r in first["grid_rows"]] == [make_alert(1).alert_id]  # type: ignore[index]
    put_alert(redis_client, keys, make_alert(2))
    redis_client.incr(keys.seq)
    fresh = run_tick(reader, CFG, VIEW, None, now_ms=NOW_MS + 1000, view_changed=False, memo=memo)
    assert fresh is not None
    assert [r["alert_id"] for r in fresh["grid_rows"]] == [make_alert(2).alert_id, make_alert(1).alert_id]
    assert fresh["state"]["alert"] == reader.alerts_since(None, 1)[1]  # the table is complete up to here


def test_table_resent_whole_carries_no_add_of_the_same_alerts(redis_client, keys) -> None:
    """A slow refresh that resends the table (someone acted) in the tick that also brings a new alert.

    The browser applies both outputs: rows that include the alert, then an add of it again, and the
    grid shows the alert twice (one copy selected, the other not).
    """
    from dashapp.store import AlertWorkflow

    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    AlertWorkflow(redis_client, keys).act(make_alert(1).alert_id, "acknowledge", "ann", 1)
    put_alert(redis_client, keys, make_alert(2))
    redis_client.incr(keys.seq)
    out = _tick(reader, state, NOW_MS + CFG.slow_refresh_ms)  # slow refresh due, new alert, new workflow
    assert out is not None and "grid_rows" in out, "someone acted: the whole table is resent"
    assert "grid_tx" not in out, f"rows and an add in one answer: {out['grid_tx']}"
    assert [r["alert_id"] for r in out["grid_rows"]] == [make_alert(2).alert_id, make_alert(1).alert_id]


def test_table_snapshot_and_its_cursor_agree_when_an_alert_lands_mid_frame(redis_client, keys) -> None:
    """The frame read the alert stream, then an alert landed, then the table was read for the period.

    The table holds the new alert, so its cursor must be past it: otherwise the next tick adds it again.
    """
    from dashapp.tick.feeds import alert_tail, alerts_after
    from dashapp.tick.grid import grid_now

    _seed(redis_client, keys)
    reader, memo = DashboardReader(redis_client, keys), FrameMemo(frame_ms=500, period_ms=5000)
    frame = memo.frame(NOW_MS, reader.seq)
    alert_tail(frame, reader)  # read earlier in the frame, e.g. by another tab's delta
    put_alert(redis_client, keys, make_alert(2))
    redis_client.incr(keys.seq)
    rows, _, cursor = grid_now(frame, reader, CFG.grid_rows)
    assert [r["alert_id"] for r in rows] == [make_alert(2).alert_id, make_alert(1).alert_id]
    later = memo.frame(NOW_MS + 1000, reader.seq)
    again, _ = alerts_after(later, reader, cursor)
    assert again == [], f"already in the table, sent again as an add: {[a.alert_id for a in again]}"
