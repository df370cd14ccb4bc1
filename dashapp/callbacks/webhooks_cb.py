"""Webhooks section: endpoints and the delivery log (admins); add/disable/delete, replay (checked here)."""

from __future__ import annotations

import logging
from typing import Any

import redis
from dash import ALL, Dash, Input, Output, State, no_update

from common.webhook_log import DeliveryLog
from common.webhooks import EndpointError, EndpointStore
from dashapp.callbacks.rule_access import admin_or_403, clicked_id, is_admin, user_or_401
from dashapp.views.webhooks_view import (
    DELETE,
    EDIT,
    FORM_DEFAULTS,
    LOG_ROWS,
    TOGGLE,
    dead_table,
    deliveries_table,
    endpoints_table,
    stats_line,
)

logger = logging.getLogger(__name__)
CLEARED = (*FORM_DEFAULTS, None, "Add endpoint", True)  # the form back to adding a new endpoint
KEEP = (no_update,) * len(CLEARED)
# the form as the Edit button fills it; webhooks_write clears it after a save (duplicate outputs)
FORM_OUTPUTS = [
    Output("wh-name", "value", allow_duplicate=True),
    Output("wh-url", "value", allow_duplicate=True),
    Output("wh-format", "value", allow_duplicate=True),
    Output("wh-severity", "value", allow_duplicate=True),
    Output("wh-rules", "value", allow_duplicate=True),
    Output("wh-events", "value", allow_duplicate=True),
    Output("wh-editing", "data", allow_duplicate=True),
    Output("wh-add", "children", allow_duplicate=True),
    Output("wh-cancel", "hidden", allow_duplicate=True),
]


def _target(trigger: Any) -> Any:
    """The endpoint id a row button names (a deleted endpoint being edited clears the form)."""
    return trigger.get("id") if isinstance(trigger, dict) and trigger.get("type") == DELETE else object()


def webhook_write(
    store: EndpointStore, trigger: Any, form: dict[str, Any], user: str, editing: str | None = None
) -> str:
    """Apply one change as `user`; return what happened (EndpointError: refused). A new secret is in it."""
    if trigger == "wh-add" and editing:
        changed = store.update(editing, form)
        if changed is None:
            raise EndpointError("no such endpoint (deleted meanwhile?)")
        return f"Saved {changed.name} ({changed.id}) in place; its signing secret is unchanged."
    if trigger == "wh-add":
        e = store.create(form, user)
        return (
            f"Added {e.name} ({e.id}). Signing secret, shown only now: {e.secret} "
            "(copy it into the receiver; docs/webhooks.md shows how to verify)."
        )
    if isinstance(trigger, dict) and trigger.get("type") == TOGGLE:
        current = {e.id: e for e in store.all()}.get(str(trigger.get("id")))
        if current is None:
            raise EndpointError("no such endpoint")
        store.set_enabled(current.id, not current.enabled)
        return f"{'Disabled' if current.enabled else 'Enabled'} {current.name}."
    if isinstance(trigger, dict) and trigger.get("type") == DELETE:
        if not store.delete(str(trigger.get("id"))):
            raise EndpointError("no such endpoint")
        return f"Deleted endpoint {trigger.get('id')}."
    raise EndpointError("nothing to do")


def register_webhooks(app: Dash, store: EndpointStore, log: DeliveryLog) -> None:
    """Register the section's callbacks; analysts get no data from them."""

    @app.callback(
        Output("wh-endpoints", "children"),
        Output("wh-log", "children"),
        Output("wh-dead", "children"),
        Output("wh-stats", "children"),
        Output("wh-replay", "disabled"),
        Input("wh-changed", "data"),
        Input("wh-refresh", "n_clicks"),
    )
    def webhooks_load(_changed: Any, _refresh: Any) -> tuple[Any, ...]:
        user_or_401()
        if not is_admin():
            return [], [], [], "", True
        try:
            endpoints = [e.public() for e in store.all()] + store.file_endpoints()
            dead = log.dead(LOG_ROWS)
            return (
                endpoints_table(endpoints),
                deliveries_table(log.recent(LOG_ROWS)),
                dead_table(dead),
                stats_line(log.stats()),
                not dead,  # nothing to replay
            )
        except redis.RedisError as exc:
            logger.warning("dashapp.webhooks: store unreachable error=%s", exc)
            return no_update, no_update, no_update, "cannot reach Redis now; try again", no_update

    @app.callback(
        Output("wh-name", "value"),
        Output("wh-url", "value"),
        Output("wh-format", "value"),
        Output("wh-severity", "value"),
        Output("wh-rules", "value"),
        Output("wh-events", "value"),
        Output("wh-editing", "data"),
        Output("wh-add", "children"),
        Output("wh-cancel", "hidden"),
        Input({"type": EDIT, "id": ALL}, "n_clicks"),
        Input("wh-cancel", "n_clicks"),
        prevent_initial_call=True,
    )
    def webhooks_edit(_edits: Any, _cancel: Any) -> tuple[Any, ...]:
        """Edit: the endpoint's values into the form, Add becomes Save; Cancel clears it.

        A saved change clears the form in webhooks_write's own answer: a second trigger here (the
        change counter) raced with the Edit buttons' redraw, and Dash's renderer drops a waiting
        request when the same callback is requested again, so the form sometimes stayed in edit mode.
        """
        trigger = clicked_id()
        if trigger is None:
            return (no_update,) * 9  # Edit buttons redrawn, not clicked
        user = user_or_401()
        admin_or_403(user, "webhook edit")
        if not (isinstance(trigger, dict) and trigger.get("type") == EDIT):
            return CLEARED
        try:
            e = {x.id: x for x in store.all()}.get(str(trigger.get("id")))
        except redis.RedisError:
            return (no_update,) * 9
        if e is None:
            return CLEARED
        return (
            e.name,
            e.url,
            e.format,
            e.min_severity,
            ", ".join(e.rules),
            list(e.events),
            e.id,
            "Save changes",
            False,
        )

    @app.callback(
        Output("wh-message", "children", allow_duplicate=True),
        Output("wh-message", "className", allow_duplicate=True),
        Output("wh-changed", "data", allow_duplicate=True),
        Input("wh-replay", "n_clicks"),
        State("wh-changed", "data"),
        prevent_initial_call=True,
    )
    def webhooks_replay(clicks: Any, changed: Any) -> tuple[Any, ...]:
        if not clicks:
            return no_update, no_update, no_update
        user = user_or_401()
        admin_or_403(user, "webhook replay")
        try:
            queued, kept = log.queue_replay()
        except redis.RedisError as exc:
            return f"Not queued: {exc}", "message error", no_update
        logger.info("dashapp.webhooks: dead letters queued again count=%d kept=%d by=%s", queued, kept, user)
        text = f"Queued {queued} dead letter{'s' if queued != 1 else ''} for delivery again."
        if kept:
            text += f" {kept} kept from before replays existed: their body is in Redis for a replay by hand."
        return text, "message ok", (changed if isinstance(changed, int) else 0) + 1

    @app.callback(
        Output("wh-message", "children"),
        Output("wh-message", "className"),
        Output("wh-changed", "data"),
        *FORM_OUTPUTS,
        Input("wh-add", "n_clicks"),
        Input({"type": TOGGLE, "id": ALL}, "n_clicks"),
        Input({"type": DELETE, "id": ALL}, "n_clicks"),
        State("wh-name", "value"),
        State("wh-url", "value"),
        State("wh-format", "value"),
        State("wh-severity", "value"),
        State("wh-rules", "value"),
        State("wh-events", "value"),
        State("wh-changed", "data"),
        State("wh-editing", "data"),
        prevent_initial_call=True,
    )
    def webhooks_write(_add: Any, _toggles: Any, _deletes: Any, *states: Any) -> tuple[Any, ...]:
        name, url, fmt, severity, rules, events, changed, editing = states
        trigger = clicked_id()
        if trigger is None:
            return (no_update,) * 3 + KEEP  # buttons redrawn, not clicked
        user = user_or_401()
        admin_or_403(user, "webhook change")
        form = {
            "name": name,
            "url": url,
            "format": fmt,
            "min_severity": severity,
            "rules": rules or "",
            "events": events if isinstance(events, list) and events else None,  # None: the default, alerts
        }
        try:
            text = webhook_write(store, trigger, form, user, editing if isinstance(editing, str) else None)
        except (EndpointError, redis.RedisError) as exc:
            return (f"Not changed: {exc}", "message error", no_update, *KEEP)  # the form stays to fix
        logger.info("dashapp.webhooks: change by=%s trigger=%s", user, trigger)  # never the secret
        form_after = CLEARED if trigger == "wh-add" or editing == _target(trigger) else KEEP
        return (text, "message ok", (changed if isinstance(changed, int) else 0) + 1, *form_after)
