"""The single server callback per refresh tick: many outputs, no_update when nothing changed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import MissingCallbackContextException

from dashapp.auth.users import UserDirectory
from dashapp.callbacks.tick_fast import TickAnswer, install_tick_fast_path
from dashapp.live import FrameMemo, TickConfig, run_tick
from dashapp.store import DashboardReader
from dashapp.tick_wsgi import TickFront
from dashapp.views.kpis import KPI_CARDS

logger = logging.getLogger(__name__)

# (result name, component id, property), in callback output order
OUTPUTS: list[tuple[str, str, str]] = [
    *((f"kpi_{name}", elem_id, "children") for name, elem_id, _ in KPI_CARDS),
    ("timeline_fig", "timeline-graph", "figure"),
    ("timeline_ext", "timeline-graph", "extendData"),
    ("tp_fig", "throughput-graph", "figure"),
    ("tp_ext", "throughput-graph", "extendData"),
    ("rules_fig", "rules-graph", "figure"),
    ("map_fig", "city-map", "figure"),
    ("grid_rows", "alerts-grid", "rowData"),
    ("grid_tx", "alerts-grid", "rowTransaction"),
    ("banner", "banner-data", "data"),  # rendered in the browser (assets/app.js bannerShow)
    ("banner_class", "red-alert-banner", "className"),
    ("banner_count", "banner-count-store", "data"),
    ("health", "health-panel", "children"),
    ("quality", "quality-panel", "children"),
    ("fresh", "freshness-store", "data"),
    ("state", "tick-state", "data"),
]
NAMES = [name for name, _, _ in OUTPUTS]
# results built once per frame (or period) and given as the same objects to every tab (dashapp.live)
SHARED = frozenset(
    {"timeline_fig", "timeline_ext", "tp_fig", "tp_ext", "rules_fig", "map_fig", "grid_rows", "grid_tx"}
    | {"banner", "health", "quality"}
)
NOTHING = tuple(no_update for _ in OUTPUTS)


def arrange(result: dict[str, Any] | None) -> tuple[Any, ...]:
    """Order named results as the callback's outputs; absent ones are no_update."""
    if result is None:
        return NOTHING
    return tuple(result.get(name, no_update) for name in NAMES)


def _triggered_by(elem_id: str) -> bool:
    try:
        return bool(ctx.triggered_id == elem_id)
    except MissingCallbackContextException:  # called as a plain function (tests)
        return False


def tick_output_id() -> str:
    """The tick callback's output string as Dash names multi-output callbacks."""
    return "..{}..".format("...".join(f"{elem}.{prop}" for _, elem, prop in OUTPUTS))


def register_live(
    app: Dash,
    reader: DashboardReader,
    cfg: TickConfig,
    *,
    fast_path: bool = True,
    users: UserDirectory | None = None,
    clock: Callable[[], float] = time.time,
) -> Any:
    """Register the tick callback and its fast paths; return the plain function (callable in tests).

    fast_path: Flask answers the tick itself instead of Dash's dispatch. users: also a WSGI front that
    answers signed-in ticks before Flask (dashapp.tick_wsgi); install it after the auth and checks.
    """
    # per process: every tab polling this worker shares the reads and values of one frame
    memo = FrameMemo(cfg.frame_ms, cfg.slow_refresh_ms)

    def tick(view: Any, prev: Any, view_changed: bool) -> dict[str, Any] | None:
        try:
            return run_tick(
                reader, cfg, view, prev, now_ms=int(clock() * 1000), view_changed=view_changed, memo=memo
            )
        except redis.RedisError as exc:
            # The freshness badge turns red on its own; keep the page as it is.
            logger.warning("dashapp.live: redis unavailable error=%s", exc)
            return None

    @app.callback(
        [Output(elem_id, prop) for _, elem_id, prop in OUTPUTS],
        Input("refresh-interval", "n_intervals"),  # paused clientside while hidden or a tick is in flight
        Input("view-state", "data"),
        State("tick-state", "data"),
    )
    def live_tick(_n: int | None, view: Any, prev: Any) -> tuple[Any, ...]:
        """Read what changed since the cursors in `tick-state`; return deltas and new cursors."""
        return arrange(tick(view, prev, _triggered_by("view-state")))

    if fast_path:
        output = tick_output_id()
        if output not in app.callback_map:
            raise RuntimeError(f"dashapp: tick callback not registered as {output[:60]}...")
        make_answer = TickAnswer(OUTPUTS, SHARED)  # per process, like the memo
        install_tick_fast_path(app.server, output, make_answer, tick)
        if users is not None:
            front = TickFront(app.server, users, output, make_answer, tick)
            front.callback_map = app.callback_map
            app.server.wsgi_app = front
    return live_tick
