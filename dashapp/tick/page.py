"""The page side of the tick: one clientside callback (assets/tick.js) polls `/api/tick` and applies it."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State

from dashapp.tick.answer import OUTPUTS

TICK_FUNCTION = ClientsideFunction(namespace="tick", function_name="poll")


def register_tick_page(app: Dash) -> None:
    """Register the callback: each Interval tick (paused while hidden or a poll is in flight) or view
    change fetches `/api/tick` with the cursors in `tick-state` and sets the properties it names.
    """
    app.clientside_callback(
        TICK_FUNCTION,
        [Output(elem_id, prop) for _, elem_id, prop in OUTPUTS],
        Input("refresh-interval", "n_intervals"),
        Input("view-state", "data"),
        State("tick-state", "data"),
    )
