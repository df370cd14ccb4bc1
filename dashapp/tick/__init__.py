"""The live tick: every open page's 1 Hz `GET /api/tick` for what changed since its cursors.

The route (query.py, route.py; documented in docs/performance.md "The live tick"):

    GET /api/tick?since=<cursors>&window=5|15|60&paused=0|1&view=0|1

`since` is the `tick-state.data` of the previous answer (absent on a fresh page), `view=1` when the
user just changed the window or pause. Answers: 200 with a JSON object of the page properties that
changed, `{"<component id>.<property>": value}` (answer.py), the new cursors under `tick-state.data`;
204 when nothing changed; 400 malformed; 401 without a live session (the access guard); 503 when
Redis cannot be read. build.py decides what changed (with feeds.py, grid.py, the per-process
frames.py and the per-tab cursors.py); page.py and assets/tick.js are the page side; front.py is the
cheap WSGI seam.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dash import Dash

from dashapp.store import DashboardReader
from dashapp.tick.build import TickConfig
from dashapp.tick.front import TickFront
from dashapp.tick.page import register_tick_page
from dashapp.tick.route import TickRunner, install_tick_route

__all__ = ["TickConfig", "TickFront", "TickRunner", "install_tick"]


def install_tick(
    app: Dash,
    reader: DashboardReader,
    cfg: TickConfig,
    *,
    clock: Callable[[], float] = time.time,
    front: bool = True,
) -> TickRunner:
    """Register the route and the page's callback; with `front`, wrap the server in the WSGI seam.

    Install after the access guard (dashapp.auth) and request checks (dashapp.security).
    """
    runner = TickRunner(reader, cfg, clock)
    install_tick_route(app.server, runner)
    register_tick_page(app)
    if front:
        app.server.wsgi_app = TickFront(app.server, runner)
    return runner
