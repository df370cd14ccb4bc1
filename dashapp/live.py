"""One refresh tick: decide what changed since the browser's cursors and build only that."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashapp.figures.citymap import city_map_figure
from dashapp.figures.rules_bar import rules_bar_figure
from dashapp.figures.throughput import throughput_delta, throughput_figure
from dashapp.figures.timeline import timeline_delta, timeline_figure
from dashapp.store import DashboardReader, TxnRow
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


class SeqMemo:
    """Per-process memo of what every tab gets alike at one `seq`, kept for the current second only.

    Safe across gunicorn workers: it is not shared state, only a cache of Redis reads. `seq` is read
    first and every writer (bridge, workflow) bumps it after writing, so an entry can only hold data
    as new as or newer than its key; a tab never sees older data than a direct read would give.
    """

    def __init__(self) -> None:
        self._second = -1
        self._values: dict[tuple[str, int], Any] = {}

    def get(self, name: str, seq: int, now_ms: int, build: Callable[[], Any]) -> Any:
        """The memoised value of `name` at `seq` within this second, built on a miss."""
        second = now_ms // 1000
        if second != self._second:  # a whole new second: drop everything (bounded size, <= 1 s old)
            self._second, self._values = second, {}
        key = (name, seq)
        if key not in self._values:
            self._values[key] = build()  # a concurrent miss just builds twice: harmless
        return self._values[key]


@dataclass(frozen=True)
class _Tick:
    """What one tick reads through: the reader, sizes, the shared memo, and the seq and clock it saw."""

    reader: DashboardReader
    cfg: TickConfig
    memo: SeqMemo
    seq: int
    now_ms: int

    def shared(self, name: str, build: Callable[[], Any]) -> Any:
        return self.memo.get(name, self.seq, self.now_ms, build)


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
    def build() -> tuple[str, Any, int]:
        banner = t.reader.banner(t.cfg.banner_rows)
        return banner_digest(banner), banner_view(banner, RULE_LABELS), banner.count

    digest, view, count = t.shared("banner", build)
    if digest != state.get("banner"):  # unchanged banner: no_update, nothing sent
        out["banner"], out["banner_class"] = view
        out["banner_count"] = count
        state["banner"] = digest


def _full_feeds(t: _Tick, state: dict[str, Any], window_s: int, out: dict[str, Any]) -> None:
    """First render, window change or un-pause: whole figures and table, fresh cursors."""
    txns, state["txn"] = t.reader.txns_since(None, t.cfg.timeline_points)
    alerts, state["alert"] = t.reader.alerts_since(None, t.cfg.timeline_points)
    out["timeline_fig"] = timeline_figure(txns, alerts)
    buckets = t.reader.throughput(window_s, t.now_ms)
    state["sec"] = t.reader.last_complete_second(t.now_ms)
    state["window_s"] = window_s
    out["tp_fig"] = throughput_figure(buckets, window_s)
    _grid_full(t, state, out)


def _grid(t: _Tick) -> tuple[list[dict[str, Any]], str]:
    def build() -> tuple[list[dict[str, Any]], str]:
        rows = t.reader.alert_rows(t.cfg.grid_rows)
        return [grid_row(r, RULE_LABELS) for r in rows], workflow_digest(rows)

    return t.shared("grid", build)


def _grid_full(t: _Tick, state: dict[str, Any], out: dict[str, Any]) -> None:
    out["grid_rows"], state["grid_wf"] = _grid(t)
    state["grid_n"] = len(out["grid_rows"])


def _stream_key(entry_id: str) -> tuple[int, int] | None:
    ms, _, n = entry_id.partition("-")
    return (int(ms), int(n)) if ms.isdigit() and n.isdigit() else None


def _newest_txns(t: _Tick, cursor: Any) -> tuple[list[TxnRow], str]:
    """The newest tick_max_points after `cursor`, as txns_since(cursor, n, tail=True) returns them.

    The newest n are read once per seq (same for every tab) and filtered by each tab's cursor.
    """
    rows, newest = t.shared("txn_tail", lambda: t.reader.txns_since(None, t.cfg.tick_max_points))
    after = _stream_key(cursor) if isinstance(cursor, str) else None
    if after is None:
        return list(rows), newest
    fresh = [r for r in rows if (_stream_key(r.entry_id) or (0, 0)) > after]
    newest_key = _stream_key(newest)
    return fresh, newest if newest_key is not None and newest_key > after else str(cursor)


def _delta_feeds(t: _Tick, state: dict[str, Any], out: dict[str, Any]) -> None:
    """Cursor-based deltas: a dropped response is re-read next tick because cursors come back too."""
    # a tail: the cursor jumps to the newest entry, skipping what did not fit in this tick
    txns, state["txn"] = _newest_txns(t, state.get("txn"))
    alerts, state["alert"] = t.reader.alerts_since(state.get("alert"), ALERTS_DELTA_MAX, tail=True)
    ext = timeline_delta(txns, alerts, t.cfg.timeline_points)
    if ext is not None:
        out["timeline_ext"] = ext
    sec = state.get("sec")
    buckets = t.reader.throughput_since(sec if isinstance(sec, int) else None, t.now_ms)
    if buckets:
        state["sec"] = buckets[-1].second
        out["tp_ext"] = throughput_delta(buckets, int(state.get("window_s") or 300))
    grid_n = int(state.get("grid_n") or 0) + len(alerts)
    if len(alerts) >= ALERTS_DELTA_MAX or grid_n > t.cfg.grid_rows * 3 // 2:
        _grid_full(t, state, out)  # a backlog or a long-lived page: resync the table
    elif alerts:
        out["grid_tx"] = {
            "add": [grid_row_from_alert(a, RULE_LABELS) for a in reversed(alerts)],
            "addIndex": 0,
        }
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
        return hashlib.blake2b(repr(data).encode(), digest_size=8).hexdigest(), view(data)

    digest, built = t.shared(name, build)
    if state.get(f"d_{name}") != digest:
        out[name] = built
        state[f"d_{name}"] = digest


def _slow(t: _Tick, state: dict[str, Any], out: dict[str, Any]) -> None:
    """Aggregates and health: refreshed every few seconds, even when no data flows."""
    state["slow_ms"] = t.now_ms
    # ages change every second: always sent, built once per second and seq
    out["health"] = t.shared("health", lambda: health_view(t.reader.health(t.now_ms)))
    for name in _SLOW_VIEWS:
        _if_changed(t, state, out, name)
    if not state.get("paused"):
        rows, wf = _grid(t)
        if wf != state.get("grid_wf"):  # another analyst acted: resend the table
            out["grid_rows"], state["grid_n"], state["grid_wf"] = rows, len(rows), wf


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
    "d_kpis": str,
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
    reader: DashboardReader,
    cfg: TickConfig,
    view: Any,
    prev: Any,
    *,
    now_ms: int,
    view_changed: bool,
    memo: SeqMemo | None = None,
) -> dict[str, Any] | None:
    """Return the outputs that changed (by name, "state" always included), or None: nothing to send.

    `memo` (one per process) shares reads that are the same for every tab at one seq; None: no sharing.
    """
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
    t = _Tick(reader, cfg, memo or SeqMemo(), seq, now_ms)
    _kpis(t, state, out)
    _banner(t, state, out)
    if resync and (fresh_page or not paused):  # a page opened paused still shows one snapshot
        _full_feeds(t, state, window_s, out)
    elif not paused:
        _delta_feeds(t, state, out)
    if slow_due or fresh_page:
        _slow(t, state, out)
    out["state"] = state
    return out
