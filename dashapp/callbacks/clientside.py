"""Browser-only callbacks (assets/app.js): visibility pause, view state, freshness, title flash, CSV."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State


def _fn(name: str) -> ClientsideFunction:
    return ClientsideFunction(namespace="fraud", function_name=name)


def register_clientside(app: Dash) -> None:
    """Register the clientside callbacks; none of them costs a server request."""
    app.clientside_callback(
        _fn("intervalDisabled"),
        Output("refresh-interval", "disabled"),
        Input("poll-gate", "data"),  # {hidden, busy}: set by assets/app.js
    )
    app.clientside_callback(
        _fn("viewState"),
        Output("view-state", "data"),
        Output("window-select", "value"),
        Output("pause-toggle", "children"),
        Output("grid-quick-filter", "value"),
        Output("alerts-grid", "dashGridOptions"),
        Input("window-select", "value"),
        Input("pause-toggle", "n_clicks"),
        Input("grid-quick-filter", "value"),
        Input("view-state", "data"),
        State("alerts-grid", "dashGridOptions"),
    )
    app.clientside_callback(
        _fn("freshness"),
        Output("freshness-badge", "children"),
        Output("freshness-badge", "className"),
        Input("refresh-interval", "n_intervals"),
        Input("freshness-store", "data"),
    )
    app.clientside_callback(
        _fn("titleFlash"),
        Output("app-title", "className"),
        Input("banner-count-store", "data"),
    )
    app.clientside_callback(
        _fn("exportCsv"),
        Output("alerts-grid", "exportDataAsCsv"),
        Input("grid-export", "n_clicks"),
        prevent_initial_call=True,
    )
