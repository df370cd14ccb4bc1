"""Alert selection and the shared workflow actions (acknowledge, assign, resolve, reopen), user-triggered."""

from __future__ import annotations

import logging
from typing import Any

from dash import Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import BadRequest, Unauthorized

from dashapp.auth.login import current_name
from dashapp.store import AlertNotFound, AlertRow, AlertWorkflow, InvalidAction, VersionConflict
from dashapp.store.workflow import ACTIONS, next_state
from dashapp.views.alert_detail import detail_view, history_view
from dashapp.views.grid import grid_row
from dashapp.views.rules_form import RULE_LABELS
from dashapp.views.wording import in_words

logger = logging.getLogger(__name__)

BUTTONS = {
    "wf-ack": "acknowledge",
    "wf-assign": "assign_to_me",
    "wf-resolve-fraud": "resolve_fraud",
    "wf-resolve-fp": "resolve_false_positive",
}
REOPEN = "wf-reopen"
DONE = {
    "acknowledge": "Acknowledged",
    "assign_to_me": "Assigned to you",
    "resolve_fraud": "Resolved as fraud confirmed",
    "resolve_false_positive": "Resolved as false positive",
    "reopen": "Reopened",
}
MAX_VERSION = 2**53  # what a browser can hold exactly; a version is a small count in practice
# Outputs: selected-alert, detail, history, message, message class, grid transaction, note box
KEEP = (no_update,) * 7


def _user() -> str:
    name = current_name()
    if not name:
        raise Unauthorized("session expired")
    return name


def _note(note: Any) -> str:
    """The note box's text; anything a textarea cannot send is a malformed request (400)."""
    if note is None:
        return ""
    if not isinstance(note, str):
        raise BadRequest("note must be text")
    try:
        note.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: Redis could not store it
        raise BadRequest("note is not valid Unicode text") from None
    return note


def allowed_actions(row: AlertRow, user: str) -> list[str]:
    """The actions the alert's state allows for `user` (the store's own transition rules)."""
    allowed = []
    for action in ACTIONS:
        try:
            next_state(row, action, user)
        except InvalidAction:
            continue
        allowed.append(action)
    return allowed


def _shown(wf: AlertWorkflow, row: AlertRow, user: str, *, update_grid: bool) -> tuple[Any, ...]:
    """Outputs showing `row` (message, class and note left to the caller); the selection carries
    the actions its state allows."""
    selected = {"alert_id": row.alert_id, "version": row.version, "allowed": allowed_actions(row, user)}
    grid_tx = {"update": [grid_row(row, RULE_LABELS)]} if update_grid else no_update
    return selected, detail_view(row), history_view(wf.history(row.alert_id)), grid_tx


def _out(shown: tuple[Any, ...], message: Any, cls: Any, note: Any) -> tuple[Any, ...]:
    """The callback's outputs in order: selected, detail, history, message, class, grid tx, note."""
    return *shown[:3], message, cls, shown[3], note


def do_action(wf: AlertWorkflow, selected: Any, action: str, note: Any, user: str) -> tuple[Any, ...]:
    """Apply one action to the selected alert at the version the analyst saw.

    The note box is emptied once its note is stored: it never follows the analyst to another alert.
    """
    note_text = _note(note)
    if not isinstance(selected, dict) or not isinstance(selected.get("alert_id"), str):
        return *KEEP[:3], "Select an alert first.", "message warn", no_update, no_update
    version = selected.get("version")
    alert_id = selected["alert_id"]
    try:
        expected = version if isinstance(version, int) and not isinstance(version, bool) else -1
        row = wf.act(alert_id, action, user, expected, note_text)
    except VersionConflict as exc:
        current = exc.current if isinstance(exc.current, AlertRow) else wf.get(alert_id)
        shown = _shown(wf, current, user, update_grid=True)
        return _out(shown, in_words(str(exc)), "message error conflict", no_update)
    except AlertNotFound:
        return None, [], [], "That alert no longer exists.", "message error", no_update, ""
    except InvalidAction as exc:
        return *KEEP[:3], in_words(str(exc)), "message warn", no_update, no_update
    return _out(_shown(wf, row, user, update_grid=True), f"{DONE[action]} by {user}.", "message ok", "")


def picked_id(pick: Any) -> str | None:
    """The alert id of a grid or banner pick ({"alert_id": ..., "at": ...}), None if there is none."""
    if isinstance(pick, dict) and isinstance(pick.get("alert_id"), str):
        return str(pick["alert_id"])
    if isinstance(pick, list) and pick and isinstance(pick[0], dict):  # a selectedRows list
        value = pick[0].get("alert_id")
        return value if isinstance(value, str) else None
    return None


def show_selected(wf: AlertWorkflow, pick: Any, selected: Any = None, user: str = "") -> tuple[Any, ...]:
    """Load the picked alert's live state and full history.

    Picking the alert already shown (a second click) refreshes it and keeps the last action's
    message and the note; another alert starts with an empty note box.
    """
    alert_id = picked_id(pick)
    if alert_id is None:
        raise PreventUpdate  # no alert named: what is shown stays
    try:
        row = wf.get(alert_id)
    except AlertNotFound:
        return None, [], [], "That alert no longer exists.", "message error", no_update, ""
    same = isinstance(selected, dict) and selected.get("alert_id") == row.alert_id
    shown = _shown(wf, row, user, update_grid=False)
    return _out(shown, no_update, no_update, no_update) if same else _out(shown, "", "message", "")


def banner_target(trig: Any) -> tuple[str, int]:
    """(alert id, version) named by a banner acknowledge request (the button's id); a forged one is a 400."""
    if not isinstance(trig, dict) or not isinstance(trig.get("alert"), str):
        raise BadRequest("banner button id must name an alert")
    version = trig.get("v")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < MAX_VERSION:
        raise BadRequest("banner button id must carry a positive integer version")
    return trig["alert"], version


def _outputs(dup: bool) -> list[Output]:
    """The outputs showing an alert; `dup` for a second callback writing them (reopen)."""
    return [
        Output("selected-alert", "data", allow_duplicate=dup),
        Output("alert-detail", "children", allow_duplicate=dup),
        Output("alert-history", "children", allow_duplicate=dup),
        Output("wf-message", "children", allow_duplicate=dup),
        Output("wf-message", "className", allow_duplicate=dup),
        Output("alerts-grid", "rowTransaction", allow_duplicate=True),  # the tick writes it too
        Output("wf-note", "value", allow_duplicate=dup),
    ]


# reopen lists the message first: tools (and tests) name a callback by its first output
_REOPEN_ORDER = (3, 4, 0, 1, 2, 5, 6)


def register_workflow(app: Dash, wf: AlertWorkflow) -> Any:
    """Register the selection/action callback, reopen, and the banner acknowledge callback."""

    @app.callback(
        *_outputs(dup=False),
        Input("grid-pick", "data"),  # set in the browser from a row click or selection (app.js)
        *(Input(button, "n_clicks") for button in BUTTONS),
        State("selected-alert", "data"),
        State("wf-note", "value"),
        prevent_initial_call=True,
    )
    def alert_workflow(pick: Any, *args: Any) -> tuple[Any, ...]:
        """A pick shows the alert; a button applies its action as the signed-in user."""
        selected, note = args[-2], args[-1]
        trigger = ctx.triggered_id
        if trigger == "grid-pick":
            return show_selected(wf, pick, selected, _user())
        if trigger in BUTTONS:
            return do_action(wf, selected, BUTTONS[str(trigger)], note, _user())
        raise PreventUpdate

    @app.callback(
        *(_outputs(dup=True)[i] for i in _REOPEN_ORDER),
        Input(REOPEN, "n_clicks"),
        State("selected-alert", "data"),
        State("wf-note", "value"),
        prevent_initial_call=True,
    )
    def alert_reopen(clicks: Any, selected: Any, note: Any) -> tuple[Any, ...]:
        """Reopen a resolved alert (its own callback: the action callback's inputs are a public shape)."""
        if not clicks:
            raise PreventUpdate
        out = do_action(wf, selected, "reopen", note, _user())
        return tuple(out[i] for i in _REOPEN_ORDER)

    @app.callback(
        Output("red-alert-message", "children"),
        # a stable store, set in the browser by a real click (assets/app.js ackPending): the bar's
        # buttons are re-rendered with new content, and an input among them re-ran this callback,
        # which made Dash drop the answer still in flight for the click
        Input("banner-ack-request", "data"),
        prevent_initial_call=True,
    )
    def banner_ack(request: Any) -> str:
        """Acknowledge one banner alert; the banner itself refreshes on the next tick."""
        if request is None:
            raise PreventUpdate
        alert_id, version = banner_target(request)
        try:
            row = wf.act(alert_id, "acknowledge", _user(), version)
        except (VersionConflict, AlertNotFound, InvalidAction) as exc:
            return in_words(str(exc))
        return f"Acknowledged: card {row.card_id}, {row.city}."

    return alert_workflow, banner_ack
