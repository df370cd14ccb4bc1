"""Alert selection and the shared workflow actions (acknowledge, assign, resolve), user-triggered."""

from __future__ import annotations

import logging
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import Unauthorized

from dashapp.auth.login import current_name
from dashapp.store import AlertNotFound, AlertRow, AlertWorkflow, InvalidAction, VersionConflict
from dashapp.views.alert_detail import detail_view, history_view
from dashapp.views.grid import grid_row
from dashapp.views.rules_form import RULE_LABELS

logger = logging.getLogger(__name__)

BUTTONS = {
    "wf-ack": "acknowledge",
    "wf-assign": "assign_to_me",
    "wf-resolve-fraud": "resolve_fraud",
    "wf-resolve-fp": "resolve_false_positive",
}
DONE = {
    "acknowledge": "Acknowledged",
    "assign_to_me": "Assigned to you",
    "resolve_fraud": "Resolved as fraud confirmed",
    "resolve_false_positive": "Resolved as false positive",
}


def _user() -> str:
    name = current_name()
    if not name:
        raise Unauthorized("session expired")
    return name


def _shown(wf: AlertWorkflow, row: AlertRow, message: str, cls: str, update_grid: bool) -> tuple[Any, ...]:
    """Outputs: selected-alert, detail, history, message, message class, grid transaction."""
    selected = {"alert_id": row.alert_id, "version": row.version}
    grid_tx = {"update": [grid_row(row, RULE_LABELS)]} if update_grid else no_update
    return selected, detail_view(row), history_view(wf.history(row.alert_id)), message, cls, grid_tx


def do_action(wf: AlertWorkflow, selected: Any, action: str, note: Any, user: str) -> tuple[Any, ...]:
    """Apply one action to the selected alert at the version the analyst saw."""
    if not isinstance(selected, dict) or not isinstance(selected.get("alert_id"), str):
        return no_update, no_update, no_update, "Select an alert first.", "message warn", no_update
    version = selected.get("version")
    note_text = note if isinstance(note, str) else ""
    try:
        expected = version if isinstance(version, int) else -1
        row = wf.act(selected["alert_id"], action, user, expected, note_text)
    except VersionConflict as exc:
        current = exc.current if isinstance(exc.current, AlertRow) else wf.get(selected["alert_id"])
        return _shown(wf, current, str(exc), "message error conflict", True)
    except AlertNotFound:
        return None, [], [], "That alert no longer exists.", "message error", no_update
    except InvalidAction as exc:
        return no_update, no_update, no_update, str(exc), "message warn", no_update
    return _shown(wf, row, f"{DONE[action]} by {user}.", "message ok", True)


def show_selected(wf: AlertWorkflow, rows: Any, selected: Any = None) -> tuple[Any, ...]:
    """Load the selected row's live state and full history.

    A table refresh re-fires the selection for the same alert: keep the last action's message then.
    """
    if not rows or not isinstance(rows, list) or not isinstance(rows[0], dict):
        return None, [], [], "", "message", no_update
    try:
        row = wf.get(str(rows[0].get("alert_id", "")))
    except AlertNotFound:
        return None, [], [], "That alert no longer exists.", "message error", no_update
    same = isinstance(selected, dict) and selected.get("alert_id") == row.alert_id
    out = _shown(wf, row, "", "message", False)
    return (*out[:3], no_update, no_update, no_update) if same else out


def register_workflow(app: Dash, wf: AlertWorkflow) -> Any:
    """Register the selection/action callback and the banner acknowledge callback."""

    @app.callback(
        Output("selected-alert", "data"),
        Output("alert-detail", "children"),
        Output("alert-history", "children"),
        Output("wf-message", "children"),
        Output("wf-message", "className"),
        Output("alerts-grid", "rowTransaction", allow_duplicate=True),
        Input("alerts-grid", "selectedRows"),
        *(Input(button, "n_clicks") for button in BUTTONS),
        State("selected-alert", "data"),
        State("wf-note", "value"),
        prevent_initial_call=True,
    )
    def alert_workflow(rows: Any, *args: Any) -> tuple[Any, ...]:
        """Selection shows the alert; a button applies its action as the signed-in user."""
        selected, note = args[-2], args[-1]
        trigger = ctx.triggered_id
        if trigger == "alerts-grid":
            return show_selected(wf, rows, selected)
        if trigger in BUTTONS:
            return do_action(wf, selected, BUTTONS[str(trigger)], note, _user())
        raise PreventUpdate

    @app.callback(
        Output("red-alert-message", "children"),
        Input({"type": "banner-ack", "alert": ALL, "v": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def banner_ack(_clicks: list[int | None]) -> str:
        """Acknowledge one banner alert; the banner itself refreshes on the next tick."""
        trig = ctx.triggered_id
        if not isinstance(trig, dict) or not ctx.triggered or not ctx.triggered[0].get("value"):
            raise PreventUpdate  # a freshly rendered button (n_clicks 0), not a click
        try:
            wf.act(str(trig.get("alert")), "acknowledge", _user(), int(trig.get("v") or 0))
        except (VersionConflict, AlertNotFound, InvalidAction) as exc:
            return str(exc)
        return ""

    return alert_workflow, banner_ack
