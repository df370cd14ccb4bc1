"""One refresh tick: decide what changed since the browser's cursors and build only that."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from dashapp.figures.citymap import city_map_figure
from dashapp.figures.rules_bar import rules_bar_figure
from dashapp.figures.throughput import throughput_delta, throughput_figure
from dashapp.figures.timeline import timeline_delta, timeline_figure
from dashapp.store import DashboardReader
from dashapp.views.banner import banner_digest, banner_view
from dashapp.views.grid import grid_row, grid_row_from_alert, workflow_digest
from dashapp.views.health import health_view, quality_view
from dashapp.views.kpis import KPI_CARDS, kpi_texts
from dashapp.views.rules_form import RULE_LABELS

ALERTS_DELTA_MAX = 200  # alerts are few: sent uncapped up to this, beyond it the grid resyncs


@dataclass(frozen=True)
class TickConfig:
    """Sizes and periods of the live views."""

    timeline_points: int = 500
    # At high rates the timeline gets a sample (the newest points) per tick, so a changed tick stays
    # a few ms and a few KB whatever the stream rate; KPIs, throughput and alerts stay exact.
    tick_max_points: int = 60
    grid_rows: int = 300
    slow_refresh_ms: int = 5000
    banner_rows: int = 5


def _window_s(view: Any) -> int:
    minutes = view.get("window_min") if isinstance(view, dict) else None
    return int(minutes) * 60 if minutes in (5, 15, 60) else 300


def _kpis(reader: DashboardReader, now_ms: int, out: dict[str, Any]) -> None:
    k = reader.kpis(now_ms)
    texts = kpi_texts(k)
    for name, _, _ in KPI_CARDS:
        out[f"kpi_{name}"] = texts[name]
    out["fresh"] = {"last_write": k.last_write_ms, "server_now": now_ms}


def _banner(reader: DashboardReader, cfg: TickConfig, state: dict[str, Any], out: dict[str, Any]) -> None:
    banner = reader.banner(cfg.banner_rows)
    digest = banner_digest(banner)
    if digest != state.get("banner"):
        out["banner"], out["banner_class"] = banner_view(banner, RULE_LABELS)
        out["banner_count"] = banner.count
        state["banner"] = digest


def _full_feeds(
    reader: DashboardReader,
    cfg: TickConfig,
    state: dict[str, Any],
    *,
    window_s: int,
    now_ms: int,
    out: dict[str, Any],
) -> None:
    """First render, window change or un-pause: whole figures and table, fresh cursors."""
    txns, state["txn"] = reader.txns_since(None, cfg.timeline_points)
    alerts, state["alert"] = reader.alerts_since(None, cfg.timeline_points)
    out["timeline_fig"] = timeline_figure(txns, alerts)
    buckets = reader.throughput(window_s, now_ms)
    state["sec"] = reader.last_complete_second(now_ms)
    state["window_s"] = window_s
    out["tp_fig"] = throughput_figure(buckets, window_s)
    _grid_full(reader, cfg, state, out)


def _grid_full(reader: DashboardReader, cfg: TickConfig, state: dict[str, Any], out: dict[str, Any]) -> None:
    rows = reader.alert_rows(cfg.grid_rows)
    out["grid_rows"] = [grid_row(r, RULE_LABELS) for r in rows]
    state["grid_n"] = len(rows)
    state["grid_wf"] = workflow_digest(rows)


def _delta_feeds(
    reader: DashboardReader, cfg: TickConfig, state: dict[str, Any], now_ms: int, out: dict[str, Any]
) -> None:
    """Cursor-based deltas: a dropped response is re-read next tick because cursors come back too."""
    # tail=True: the cursor jumps to the newest entry, skipping what did not fit in this tick
    txns, state["txn"] = reader.txns_since(state.get("txn"), cfg.tick_max_points, tail=True)
    alerts, state["alert"] = reader.alerts_since(state.get("alert"), ALERTS_DELTA_MAX, tail=True)
    ext = timeline_delta(txns, alerts, cfg.timeline_points)
    if ext is not None:
        out["timeline_ext"] = ext
    sec = state.get("sec")
    buckets = reader.throughput_since(sec if isinstance(sec, int) else None, now_ms)
    if buckets:
        state["sec"] = buckets[-1].second
        out["tp_ext"] = throughput_delta(buckets, int(state.get("window_s") or 300))
    grid_n = int(state.get("grid_n") or 0) + len(alerts)
    if len(alerts) >= ALERTS_DELTA_MAX or grid_n > cfg.grid_rows * 3 // 2:
        _grid_full(reader, cfg, state, out)  # a backlog or a long-lived page: resync the table
    elif alerts:
        out["grid_tx"] = {
            "add": [grid_row_from_alert(a, RULE_LABELS) for a in reversed(alerts)],
            "addIndex": 0,
        }
        state["grid_n"] = grid_n


_SLOW_VIEWS: dict[str, Any] = {
    "quality": quality_view,
    "rules_fig": lambda counts: rules_bar_figure(counts, RULE_LABELS),
    "map_fig": city_map_figure,
}


def _if_changed(state: dict[str, Any], out: dict[str, Any], name: str, data: Any) -> None:
    """Build and send an aggregate view only when its input data changed since the last send."""
    digest = hashlib.blake2b(repr(data).encode(), digest_size=8).hexdigest()
    if state.get(f"d_{name}") != digest:
        out[name] = _SLOW_VIEWS[name](data)
        state[f"d_{name}"] = digest


def _slow(
    reader: DashboardReader, cfg: TickConfig, state: dict[str, Any], now_ms: int, out: dict[str, Any]
) -> None:
    """Aggregates and health: refreshed every few seconds, even when no data flows."""
    state["slow_ms"] = now_ms
    out["health"] = health_view(reader.health(now_ms))  # ages change every time: always sent
    _if_changed(state, out, "quality", reader.quality())
    _if_changed(state, out, "rules_fig", reader.rule_counts())
    _if_changed(state, out, "map_fig", reader.cities())
    if not state.get("paused"):
        rows = reader.alert_rows(cfg.grid_rows)
        if workflow_digest(rows) != state.get("grid_wf"):  # another analyst acted: resend the table
            out["grid_rows"] = [grid_row(r, RULE_LABELS) for r in rows]
            state["grid_n"], state["grid_wf"] = len(rows), workflow_digest(rows)


_STATE_TYPES: dict[str, type] = {
    "seq": int,
    "txn": str,
    "alert": str,
    "sec": int,
    "slow_ms": int,
    "window_s": int,
    "grid_n": int,
    "grid_wf": str,
    "banner": str,
    "paused": bool,
    "d_quality": str,
    "d_rules_fig": str,
    "d_map_fig": str,
}


def clean_state(prev: Any) -> dict[str, Any]:
    """Keep only well-typed cursor fields: the tick state round-trips through the browser."""
    if not isinstance(prev, dict):
        return {}
    out = {}
    for key, kind in _STATE_TYPES.items():
        value = prev.get(key)
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            out[key] = value
    return out


def run_tick(
    reader: DashboardReader, cfg: TickConfig, view: Any, prev: Any, *, now_ms: int, view_changed: bool
) -> dict[str, Any] | None:
    """Return the outputs that changed (by name, "state" always included), or None: nothing to send."""
    state = clean_state(prev)
    seq = reader.seq()
    fresh_page = "seq" not in state
    paused = bool(view.get("paused")) if isinstance(view, dict) else False
    window_s = _window_s(view)
    slow_due = now_ms - int(state.get("slow_ms") or 0) >= cfg.slow_refresh_ms
    if seq == state.get("seq") and not (fresh_page or view_changed or slow_due):
        return None
    out: dict[str, Any] = {}
    resync = fresh_page or (view_changed and (window_s != state.get("window_s") or state.get("paused")))
    state["seq"], state["paused"] = seq, paused
    _kpis(reader, now_ms, out)
    _banner(reader, cfg, state, out)
    if resync and (fresh_page or not paused):  # a page opened paused still shows one snapshot
        _full_feeds(reader, cfg, state, window_s=window_s, now_ms=now_ms, out=out)
    elif not paused:
        _delta_feeds(reader, cfg, state, now_ms, out)
    if slow_due or fresh_page:
        _slow(reader, cfg, state, now_ms, out)
    out["state"] = state
    return out
