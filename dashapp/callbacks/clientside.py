"""Browser-only callbacks (assets/app.js): view state, freshness, title flash, CSV, picks, RED ALERT bar."""

from __future__ import annotations

from dash import ALL, ClientsideFunction, Dash, Input, Output, State

# the workflow buttons, in the order assets/app.js (actionsEnabled) lists their actions
ACTION_BUTTON_IDS = ("wf-ack", "wf-assign", "wf-resolve-fraud", "wf-resolve-fp", "wf-reopen")
BANNER_ACK = {"type": "banner-ack", "alert": ALL, "v": ALL}


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
        Output("pause-indicator", "className"),
        Output("live-charts", "className"),
        Input("window-select", "value"),
        Input("pause-toggle", "n_clicks"),
        Input("grid-quick-filter", "value"),
        Input("view-state", "data"),
        State("alerts-grid", "dashGridOptions"),
        State("current-user", "children"),
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
    _register_workflow_side(app)


def _register_workflow_side(app: Dash) -> None:
    """Picking an alert, the actions its state allows, and the RED ALERT bar's rendering."""
    app.clientside_callback(
        _fn("gridPick"),
        Output("grid-pick", "data"),
        Input("alerts-grid", "cellClicked"),
        Input("alerts-grid", "selectedRows"),
        State("selected-alert", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _fn("bannerOpen"),
        Output("grid-pick", "data", allow_duplicate=True),
        Input({"type": "banner-open", "alert": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _fn("gridSelect"),
        Output("alerts-grid", "selectedRows"),
        Input("selected-alert", "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        _fn("actionsEnabled"),
        *(Output(button, "disabled") for button in ACTION_BUTTON_IDS),
        Input("selected-alert", "data"),
    )
    app.clientside_callback(
        _fn("bannerShow"),
        Output("red-alert-summary", "children"),
        Output("red-alert-list", "children"),
        Output("red-alert-list", "className"),
        Output("red-alert-toggle", "children"),
        Input("banner-data", "data"),
        Input("banner-hold", "data"),
        Input("red-alert-toggle", "n_clicks"),
    )
    app.clientside_callback(
        _fn("ackPending"),
        Output(BANNER_ACK, "children"),
        Output(BANNER_ACK, "disabled"),
        Output("banner-ack-request", "data"),  # the server acknowledges from this stable store
        Input(BANNER_ACK, "n_clicks"),
        prevent_initial_call=True,
    )
