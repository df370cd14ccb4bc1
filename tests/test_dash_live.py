"""The refresh tick against real Redis: nothing to send on unchanged seq, full render, cursor deltas."""

from __future__ import annotations

import orjson
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from common.keys import RedisKeys
from common.rules import default_rules
from dashapp.store import DashboardReader
from dashapp.tick.build import FrameMemo, TickConfig, run_tick
from dashapp.tick.query import TickQuery
from dashapp.tick.route import TickRunner
from tests.test_store_fixtures import make_alert, put_alert, put_second, put_txns

pytestmark = pytest.mark.integration

NOW_MS = 1_790_000_100_000
CFG = TickConfig(timeline_points=50, grid_rows=20, slow_refresh_ms=5000)
VIEW = {"window_min": 5, "paused": False}

EUR = default_rules().currency["EUR"]  # no rules stored: the timeline converts at the defaults


def _tick(
    reader: DashboardReader,
    prev: object,
    now_ms: int = NOW_MS,
    view: object = VIEW,
    view_changed: bool = False,
) -> dict | None:
    return run_tick(reader, CFG, view, prev, now_ms=now_ms, view_changed=view_changed)


def _seed(client: redis.Redis, keys: RedisKeys) -> None:
    put_txns(client, keys, range(5))
    put_alert(client, keys, make_alert(1))
    put_second(client, keys, NOW_MS // 1000 - 5, 10, 1, 99.0)
    client.incr(keys.seq)


def test_first_tick_renders_everything_and_returns_cursors(redis_client, keys) -> None:
    _seed(redis_client, keys)
    out = _tick(DashboardReader(redis_client, keys), None)
    assert out is not None
    for name in (
        "timeline_fig",
        "tp_fig",
        "grid_rows",
        "banner",
        "health",
        "quality",
        "rules_fig",
        "map_fig",
        "kpi_tps",
        "fresh",
        "state",
    ):
        assert name in out, name
    assert len(out["timeline_fig"]["data"][0]["y"]) == 5 and len(out["grid_rows"]) == 1
    assert out["banner_class"] == "red-alert" and out["banner_count"] == 1
    state = out["state"]
    assert state["seq"] == 1 and state["txn"] and state["alert"] and state["window_s"] == 300


def test_unchanged_seq_sends_nothing(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    assert _tick(reader, state, NOW_MS + 1000) is None


def test_changed_seq_sends_only_deltas_from_the_cursor(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    put_txns(redis_client, keys, range(10, 13))
    put_alert(redis_client, keys, make_alert(2))
    redis_client.incr(keys.seq)
    out = _tick(reader, state, NOW_MS + 1000)
    assert out is not None
    assert "timeline_fig" not in out and "grid_rows" not in out
    data, traces, max_points = out["timeline_ext"]
    assert [len(y) for y in data["y"]] == [3, 1] and traces == [0, 1] and max_points == 50
    assert [r["alert_id"] for r in out["grid_tx"]["add"]] == [make_alert(2).alert_id]
    assert out["tp_ext"][2] == 300


def test_dropped_response_rereads_the_gap(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    put_txns(redis_client, keys, range(20, 22))
    redis_client.incr(keys.seq)
    _tick(reader, state, NOW_MS + 1000)  # the browser never applied this answer
    put_txns(redis_client, keys, range(30, 31))
    redis_client.incr(keys.seq)
    out = _tick(reader, state, NOW_MS + 2000)  # same old cursors come back
    assert len(out["timeline_ext"][0]["y"][0]) == 3  # type: ignore[index]


def test_slow_refresh_runs_even_without_new_data(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    assert _tick(reader, state, NOW_MS + CFG.slow_refresh_ms - 1) is None  # periods are wall-clock aligned
    out = _tick(reader, state, NOW_MS + CFG.slow_refresh_ms)
    assert out is not None and "health" in out and "fresh" in out and "timeline_ext" not in out
    assert "kpi_bridges" not in out  # same card texts as this tab shows: no_update


def test_tabs_refresh_slow_views_at_their_own_phase(redis_client, keys) -> None:
    """Tabs opened within one second spread their slow refreshes over the period."""
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    period = CFG.slow_refresh_ms
    opened = [NOW_MS + k * 100 for k in range(10)]  # ten tabs opened within one second
    states = [_tick(reader, None, t)["state"] for t in opened]  # type: ignore[index]
    refreshed_at: list[list[int]] = [[] for _ in opened]
    for t in range(NOW_MS + 1000, NOW_MS + 1000 + 2 * period, 100):  # every tab polls every 100 ms
        for i, state in enumerate(states):
            if (t - opened[i]) % 1000:
                continue  # each tab polls once per second, at its own offset
            out = _tick(reader, state, t)
            if out is not None:
                assert "health" in out, "no new data: only a slow refresh may answer"
                states[i], refreshed_at[i] = out["state"], [*refreshed_at[i], t]
    assert all(len(times) == 2 for times in refreshed_at), "each tab: one slow refresh per period"
    seconds = {times[0] // 1000 for times in refreshed_at}
    assert len(seconds) >= 3, f"tabs opened together refresh together: {refreshed_at}"


def test_window_change_and_pause(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    out = _tick(reader, state, NOW_MS + 100, {"window_min": 15, "paused": False}, view_changed=True)
    assert out is not None and len(out["tp_fig"]["data"][0]["x"]) == 900 and out["state"]["window_s"] == 900
    paused = _tick(reader, out["state"], NOW_MS + 200, {"window_min": 15, "paused": True}, view_changed=True)
    assert paused is not None and "timeline_fig" not in paused and "timeline_ext" not in paused
    put_txns(redis_client, keys, range(40, 42))
    redis_client.incr(keys.seq)
    frozen = _tick(reader, paused["state"], NOW_MS + 300, {"window_min": 15, "paused": True})
    assert frozen is not None and "timeline_ext" not in frozen and "fresh" in frozen
    resumed = _tick(reader, frozen["state"], NOW_MS + 400, {"window_min": 15}, view_changed=True)
    assert resumed is not None and len(resumed["timeline_fig"]["data"][0]["y"]) == 7


def test_paused_charts_leave_the_alerts_table_live(redis_client, keys) -> None:
    from dashapp.store import AlertWorkflow

    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    paused_view = {"window_min": 5, "paused": True}
    paused = _tick(reader, state, NOW_MS + 100, paused_view, view_changed=True)
    assert paused is not None
    put_txns(redis_client, keys, range(60, 63))
    put_alert(redis_client, keys, make_alert(2))
    redis_client.incr(keys.seq)
    out = _tick(reader, paused["state"], NOW_MS + 200, paused_view)
    assert out is not None and "timeline_ext" not in out and "tp_ext" not in out, "charts stay still"
    assert [r["alert_id"] for r in out["grid_tx"]["add"]] == [make_alert(2).alert_id], "the table does not"
    # another analyst acts: the paused page's next slow refresh still brings the new status
    AlertWorkflow(redis_client, keys).act(make_alert(1).alert_id, "acknowledge", "bob", 1)
    later = _tick(reader, out["state"], NOW_MS + 200 + CFG.slow_refresh_ms, paused_view)
    assert later is not None and "timeline_ext" not in later
    rows = {r["alert_id"]: r["status"] for r in later["grid_rows"]}
    assert rows[make_alert(1).alert_id] == "acknowledged"
    resumed = _tick(reader, later["state"], NOW_MS + 300 + CFG.slow_refresh_ms, VIEW, view_changed=True)
    assert resumed is not None and len(resumed["timeline_fig"]["data"][0]["y"]) == 8, (
        "resume: charts caught up"
    )


def test_acknowledged_alert_leaves_the_banner(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    from dashapp.store import AlertWorkflow

    AlertWorkflow(redis_client, keys).act(make_alert(1).alert_id, "acknowledge", "ann", 1)
    out = _tick(reader, state, NOW_MS + 500)
    assert out is not None and out["banner_class"] == "red-alert hidden" and out["banner_count"] == 0


def test_runner_answers_the_changed_properties_then_204(redis_client, keys) -> None:
    _seed(redis_client, keys)
    # a fixed clock: with the wall clock the two polls can straddle a slow-refresh boundary
    runner = TickRunner(DashboardReader(redis_client, keys), CFG, clock=lambda: NOW_MS / 1000)
    status, body = runner(TickQuery())
    first = orjson.loads(body)
    assert status == 200 and first["tick-state.data"]["seq"] == 1
    assert {"timeline-graph.figure", "alerts-grid.rowData", "kpi-tps.children"} <= set(first)
    assert runner(TickQuery(since=first["tick-state.data"])) == (204, b"")  # nothing changed


def test_redis_outage_is_a_503_and_the_page_keeps_its_view(keys: RedisKeys) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    status, body = TickRunner(DashboardReader(dead, keys), CFG)(TickQuery())
    assert status == 503 and orjson.loads(body) == {"error": "live data unavailable"}


def test_slow_aggregates_are_resent_only_when_their_data_changes(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    quiet = _tick(reader, state, NOW_MS + CFG.slow_refresh_ms)
    assert quiet is not None and "health" in quiet
    assert not {"map_fig", "rules_fig", "quality"} & set(quiet)
    redis_client.hset(keys.city_txns, "Oslo", 3)
    moved = _tick(reader, quiet["state"], NOW_MS + 2 * CFG.slow_refresh_ms)
    assert moved is not None and "map_fig" in moved and "rules_fig" not in moved


def test_page_opened_paused_shows_one_snapshot_then_freezes(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    paused_view = {"window_min": 5, "paused": True}
    first = _tick(reader, None, view=paused_view)
    assert first is not None and "timeline_fig" in first
    put_txns(redis_client, keys, range(50, 52))
    redis_client.incr(keys.seq)
    later = _tick(reader, first["state"], NOW_MS + 1000, view=paused_view)
    assert later is not None and "timeline_ext" not in later and "timeline_fig" not in later


def test_tick_caps_timeline_points_but_never_alerts(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    cfg = TickConfig(timeline_points=50, grid_rows=20, slow_refresh_ms=5000, tick_max_points=4)
    state = run_tick(reader, cfg, VIEW, None, now_ms=NOW_MS, view_changed=False)["state"]  # type: ignore[index]
    ids = put_txns(redis_client, keys, range(100, 110))
    for n in range(2, 8):
        put_alert(redis_client, keys, make_alert(n))
    redis_client.incr(keys.seq)
    out = run_tick(reader, cfg, VIEW, state, now_ms=NOW_MS + 1000, view_changed=False)
    assert out is not None
    data, _, max_points = out["timeline_ext"]
    # in US dollars at the stored rules' rates (the fixture's rows are EUR)
    assert data["y"][0] == [(10.0 + n) * EUR for n in range(106, 110)] and max_points == 50  # the newest 4
    assert len(data["y"][1]) == 6 and len(out["grid_tx"]["add"]) == 6  # every alert, uncapped
    assert out["state"]["txn"] == ids[-1]  # the cursor jumped past the skipped backlog


def test_frame_memo_reads_seq_and_builds_once_per_frame_and_period() -> None:
    memo, reads, calls = FrameMemo(frame_ms=500, period_ms=5000), [], []

    def seq() -> int:
        reads.append(1)
        return len(reads)

    def build() -> int:
        calls.append(1)
        return len(calls)

    first, same = memo.frame(NOW_MS, seq), memo.frame(NOW_MS + 499, seq)
    assert first.seq == same.seq == 1 and len(reads) == 1  # one GET of seq per frame
    assert first.get("k", build) == 1 and same.get("k", build) == 1
    later = memo.frame(NOW_MS + 500, seq)
    assert later.seq == 2 and later.get("k", build) == 2  # next frame: seq re-read, value rebuilt
    assert later.slow("s", build) == 3 and memo.frame(NOW_MS + 4999, seq).slow("s", build) == 3
    assert memo.frame(NOW_MS + 5000, seq).slow("s", build) == 4  # next period: rebuilt
    assert memo.frame(NOW_MS, seq).seq == 4  # an older clock never goes back to older data


def test_tabs_share_reads_in_one_frame_and_each_keeps_its_own_cursor(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader, memo = DashboardReader(redis_client, keys), FrameMemo()
    cfg = TickConfig(timeline_points=50, grid_rows=20, slow_refresh_ms=5000, tick_max_points=4)
    a = run_tick(reader, cfg, VIEW, None, now_ms=NOW_MS, view_changed=False, memo=memo)["state"]  # type: ignore[index]
    ids = put_txns(redis_client, keys, range(200, 202))
    redis_client.incr(keys.seq)
    b = dict(a, txn=ids[0])  # a tab that already saw the first new transaction
    out_a = run_tick(reader, cfg, VIEW, a, now_ms=NOW_MS + 1000, view_changed=False, memo=memo)
    put_txns(redis_client, keys, range(300, 303))  # written without a seq bump: the frame still serves
    out_b = run_tick(reader, cfg, VIEW, b, now_ms=NOW_MS + 1000, view_changed=False, memo=memo)
    out_c = run_tick(reader, cfg, VIEW, a, now_ms=NOW_MS + 1200, view_changed=False, memo=memo)
    assert out_a["timeline_ext"][0]["y"][0] == [210.0 * EUR, 211.0 * EUR]  # type: ignore[index]
    assert out_b["timeline_ext"][0]["y"][0] == [211.0 * EUR] and out_b["state"]["txn"] == ids[1]  # type: ignore[index]
    assert out_c["timeline_ext"] is out_a["timeline_ext"]  # type: ignore[index]  # same cursors: built once


def test_kpis_are_resent_only_when_their_texts_change(redis_client, keys) -> None:
    _seed(redis_client, keys)
    reader = DashboardReader(redis_client, keys)
    state = _tick(reader, None)["state"]  # type: ignore[index]
    put_txns(redis_client, keys, range(60, 61))
    redis_client.incr(keys.seq)
    same = _tick(reader, state, NOW_MS + 1)
    assert same is not None and "timeline_ext" in same and not {n for n in same if n.startswith("kpi_")}
    put_second(redis_client, keys, NOW_MS // 1000 - 4, 5000, 9, 1e6)
    redis_client.incr(keys.seq)
    moved = _tick(reader, same["state"], NOW_MS + 2)
    assert moved is not None and "kpi_tps" in moved and "kpi_apm" in moved
