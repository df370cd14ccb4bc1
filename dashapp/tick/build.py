"""One live tick: decide what changed since the page's cursors and build only that."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from dashapp.figures.citymap import city_map_figure
from dashapp.figures.rules_bar import rules_bar_figure
from dashapp.figures.throughput import throughput_delta, throughput_figure
from dashapp.figures.timeline import timeline_delta, timeline_figure
from dashapp.store import DashboardReader
from dashapp.tick.cursors import clean_state, slow_phase
from dashapp.tick.feeds import ALERTS_DELTA_MAX, alert_tail, alerts_after, newest_txns
from dashapp.tick.frames import Frame, FrameMemo, plain
from dashapp.tick.grid import grid_now, grid_snapshot
from dashapp.views.banner import banner_digest, banner_view
from dashapp.views.grid import grid_row_from_alert
from dashapp.views.health import health_view, quality_view
from dashapp.views.kpis import KPI_CARDS, kpi_texts
from dashapp.views.rules_form import RULE_LABELS

__all__ = ["ALERTS_DELTA_MAX", "FrameMemo", "TickConfig", "clean_state", "run_tick"]


@dataclass(frozen=True)
class TickConfig:
    """Sizes and periods of the live views."""

    timeline_points: int = 500
    # At high rates the timeline gets a sample (the newest points) per tick, so a changed tick stays
    # a few ms and a few KB whatever the stream rate; KPIs, throughput and alerts stay exact.
    tick_max_points: int = 25
    grid_rows: int = 300
    slow_refresh_ms: int = 5000  # each tab refreshes its slow views once per period, at its own phase
    banner_rows: int = 5
    frame_ms: int = 500  # live data is read once per frame per process and shared by every tab


def _window_s(view: Any) -> int:
    minutes = view.get("window_min") if isinstance(view, dict) else None
    return int(minutes) * 60 if minutes in (5, 15, 60) else 300


@dataclass(frozen=True)
class _Tick:
    """What one tick reads through: the reader, sizes, its frame of the memo, and its clock."""

    reader: DashboardReader
    cfg: TickConfig
    frame: Frame
    now_ms: int

    def shared(self, key: Hashable, build: Callable[[], Any]) -> Any:
        return self.frame.get(key, build)


def _rates(t: _Tick) -> dict[str, float]:
    """The live rules' exchange rates, read once per frame (the timeline plots US dollars)."""
    rates: dict[str, float] = t.shared("rates", t.reader.rates)
    return rates


def _kpis(t: _Tick, state: dict[str, Any], out: dict[str, Any]) -> None:
    def build() -> tuple[dict[str, str], int | None, str]:
        k = t.reader.kpis(t.now_ms)
        texts = kpi_texts(k)
        return texts, k.last_write_ms, hashlib.blake2b(repr(texts).encode(), digest_size=8).hexdigest()

    texts, last_write, digest = t.shared("kpis", build)
    if digest != state.get("d_kpis"):  # same card texts as this tab shows: no_update
        for name, _, _ in KPI_CARDS:
            out[f"kpi_{name}"] = texts[name]
        state["d_kpis"] = digest
    out["fresh"] = {"last_write": last_write, "server_now": t.now_ms}


def _banner(t: _Tick, state: dict[str, Any], out: dict[str, Any]) -> None:
    ids = t.shared("banner_ids", lambda: t.reader.banner_ids(t.cfg.banner_rows))

    def build() -> tuple[str, Any, int]:
        banner = t.reader.banner_for(ids, t.cfg.banner_rows)
        return banner_digest(banner), plain(banner_view(banner, RULE_LABELS)), banner.count

    digest, view, count = t.frame.keep("banner", ids, build)  # the records only when the ids move
    if digest != state.get("banner"):  # unchanged banner: no_update, nothing sent
        out["banner"], out["banner_class"] = view
        out["banner_count"] = count
        state["banner"] = digest


def _grid_full(t: _Tick, state: dict[str, Any], out: dict[str, Any]) -> None:
    """The whole table, and the alert cursor it is complete up to (later alerts come as adds)."""
    rows, wf, cursor = grid_now(t.frame, t.reader, t.cfg.grid_rows)
    out["grid_rows"], state["grid_wf"], state["grid_n"], state["alert"] = rows, wf, len(rows), cursor
    # the rows already hold this tick's new alerts: the browser would apply an add after them (twice)
    out.pop("grid_tx", None)


def _full_feeds(t: _Tick, state: dict[str, Any], window_s: int, out: dict[str, Any]) -> None:
    """First render, window change or un-pause: whole figures and table, fresh cursors."""

    def timeline() -> tuple[dict[str, Any], str, str]:
        txns, txn_cursor = t.reader.txns_since(None, t.cfg.timeline_points)
        entries, alert_cursor = alert_tail(t.frame, t.reader)
        alerts = [a for _, a in entries][-t.cfg.timeline_points :]
        return timeline_figure(txns, alerts, _rates(t)), txn_cursor, alert_cursor

    def throughput() -> tuple[dict[str, Any], int]:
        buckets = t.reader.throughput(window_s, t.now_ms)
        return throughput_figure(buckets, window_s), t.reader.last_complete_second(t.now_ms)

    out["timeline_fig"], state["txn"], _ = t.shared("timeline_full", timeline)
    out["tp_fig"], state["sec"] = t.shared(("tp_full", window_s), throughput)
    state["window_s"] = window_s
    _grid_full(t, state, out)  # sets the alert cursor, consistent with the table


def _feeds_delta(t: _Tick, txn_cursor: Any, alert_cursor: Any) -> tuple[Any, str, str, int, Any]:
    """Timeline extension and table adds after a pair of cursors: built once per frame per pair."""

    def build() -> tuple[Any, str, str, int, Any]:
        # a tail: the cursor jumps to the newest entry, skipping what did not fit in this tick
        txns, txn_next = newest_txns(t.frame, t.reader, t.cfg.tick_max_points, txn_cursor)
        alerts, alert_next = alerts_after(t.frame, t.reader, alert_cursor)
        ext = timeline_delta(txns, alerts, t.cfg.timeline_points, _rates(t))
        add = [grid_row_from_alert(a, RULE_LABELS) for a in reversed(alerts)]
        return ext, txn_next, alert_next, len(alerts), {"add": add, "addIndex": 0} if add else None

    return t.shared(("feeds", txn_cursor, alert_cursor), build)


def _throughput_delta(t: _Tick, sec: int | None, window_s: int) -> tuple[int | None, Any]:
    def build() -> tuple[int | None, Any]:
        buckets = t.reader.throughput_since(sec, t.now_ms)
        return (buckets[-1].second, throughput_delta(buckets, window_s)) if buckets else (None, None)

    return t.shared(("tp", sec, window_s), build)


def _delta_feeds(t: _Tick, state: dict[str, Any], out: dict[str, Any], charts: bool) -> None:
    """Cursor-based deltas: a dropped response is re-read next tick because cursors come back too.

    charts False (paused): the charts stay as they are (they are rebuilt whole on resume); the
    alerts table keeps receiving its new alerts, since pausing is for reading the charts only.
    """
    feeds = _feeds_delta(t, state.get("txn"), state.get("alert"))
    ext, txn_next, state["alert"], n_alerts, grid_tx = feeds
    if charts:
        state["txn"] = txn_next
        if ext is not None:
            out["timeline_ext"] = ext
        sec = state.get("sec")
        window_s = int(state.get("window_s") or 300)
        last, tp_ext = _throughput_delta(t, sec if isinstance(sec, int) else None, window_s)
        if last is not None:
            state["sec"], out["tp_ext"] = last, tp_ext
    grid_n = int(state.get("grid_n") or 0) + n_alerts
    if n_alerts >= ALERTS_DELTA_MAX or grid_n > t.cfg.grid_rows * 3 // 2:
        _grid_full(t, state, out)  # a backlog or a long-lived page: resync the table
    elif grid_tx:
        out["grid_tx"] = grid_tx  # the frame's object: every tab with these cursors shares its JSON
        state["grid_n"] = grid_n


_SLOW_VIEWS: dict[str, tuple[Callable[[DashboardReader], Any], Callable[[Any], Any]]] = {
    "quality": (lambda r: r.quality(), quality_view),
    "rules_fig": (lambda r: r.rule_counts(), lambda counts: rules_bar_figure(counts, RULE_LABELS)),
    "map_fig": (lambda r: r.cities(), city_map_figure),
}


def _if_changed(t: _Tick, state: dict[str, Any], out: dict[str, Any], name: str) -> None:
    """Send an aggregate view only when its input data changed since this tab's last send."""
    read, view = _SLOW_VIEWS[name]

    def build() -> tuple[str, Any]:
        data = read(t.reader)
        return hashlib.blake2b(repr(data).encode(), digest_size=8).hexdigest(), plain(view(data))

    digest, built = t.frame.slow(name, build)
    if state.get(f"d_{name}") != digest:
        out[name] = built
        state[f"d_{name}"] = digest


def _slow(t: _Tick, state: dict[str, Any], out: dict[str, Any]) -> None:
    """Aggregates and health: refreshed once per period, even when no data flows."""
    state["slow_ms"] = t.now_ms
    # ages change every second: always sent, built once per frame
    out["health"] = t.shared("health", lambda: plain(health_view(t.reader.health(t.now_ms))))
    for name in _SLOW_VIEWS:
        _if_changed(t, state, out, name)
    if "grid_rows" not in out:
        _, wf, _ = grid_snapshot(t.frame, t.reader, t.cfg.grid_rows)
        if wf != state.get("grid_wf"):  # another analyst acted: resend the table
            _grid_full(t, state, out)


def run_tick(
    reader: DashboardReader,
    cfg: TickConfig,
    view: Any,
    prev: Any,
    *,
    now_ms: int,
    view_changed: bool,
    memo: FrameMemo | None = None,
) -> dict[str, Any] | None:
    """Return the outputs that changed (by name, "state" always included), or None: nothing to send.

    `memo` (one per process) shares reads and built values among tabs within a frame; None: a fresh
    memo, so every read is made for this tick alone.
    """
    state = clean_state(prev)
    frame = (memo or FrameMemo(cfg.frame_ms, cfg.slow_refresh_ms)).frame(now_ms, reader.seq)
    fresh_page = "seq" not in state
    paused = bool(view.get("paused")) if isinstance(view, dict) else False
    window_s = _window_s(view)
    # Each tab refreshes its slow views once per period at its own phase (fixed when the page opens),
    # so 500 tabs spread that work over the period instead of all asking in the same second; what
    # they read is still built once per wall-clock period per process (FrameMemo).
    period = cfg.slow_refresh_ms
    phase = state.setdefault("slow_phase", slow_phase(now_ms, period))
    slow_due = (now_ms - phase) // period != (int(state.get("slow_ms") or 0) - phase) // period
    if frame.seq == state.get("seq") and not (fresh_page or view_changed or slow_due):
        return None
    out: dict[str, Any] = {}
    resync = fresh_page or (view_changed and (window_s != state.get("window_s") or state.get("paused")))
    state["seq"], state["paused"] = frame.seq, paused
    t = _Tick(reader, cfg, frame, now_ms)
    _kpis(t, state, out)
    _banner(t, state, out)
    if resync and (fresh_page or not paused):  # a page opened paused still shows one snapshot
        _full_feeds(t, state, window_s, out)
    else:  # paused: the table still follows the stream, the charts do not
        _delta_feeds(t, state, out, charts=not paused)
    if slow_due or fresh_page:
        _slow(t, state, out)
    out["state"] = state
    return out
