"""The Models section's callbacks: draw the registry, change a version's state, roll back (admins)."""

from __future__ import annotations

import logging
from typing import Any

import redis
from dash import ALL, Dash, Input, Output, State, no_update

from dashapp.api_models import registry_views
from dashapp.callbacks.rule_access import admin_or_403, clicked_id, is_admin, user_or_401
from dashapp.views.models_view import ACT, history_items, models_table
from model.registry import ModelRegistry, RegistryError

logger = logging.getLogger(__name__)


def model_change(registry: ModelRegistry, trigger: Any, user: str, comment: str) -> str:
    """Apply one click as `user`; the message to show (RegistryError: refused, nothing changed)."""
    if trigger == "mdl-rollback":
        moved = registry.rollback(user, comment)
    elif isinstance(trigger, dict) and trigger.get("type") == ACT:
        moved = registry.set_state(str(trigger.get("version")), str(trigger.get("state")), user, comment)
    else:
        raise RegistryError("nothing to do")
    return "Done: " + "; ".join(f"{v} is now {s}" for v, s in moved.items()) + "."


def register_models(app: Dash, registry: ModelRegistry) -> None:
    """Analysts read the registry; the buttons (admins) change it."""

    @app.callback(
        Output("mdl-table", "children"),
        Output("mdl-history", "children"),
        Input("mdl-poll", "n_intervals"),
        Input("mdl-changed", "data"),
    )
    def models_load(_tick: Any, _changed: Any) -> tuple[Any, Any]:
        user_or_401()
        try:
            views, history = registry_views(registry), registry.history(10)
        except redis.RedisError as exc:
            logger.warning("dashapp.models: registry unreachable error=%s", exc)
            return no_update, no_update
        return models_table(views, is_admin()), history_items(history)

    @app.callback(
        Output("mdl-msg", "children"),
        Output("mdl-msg", "className"),
        Output("mdl-changed", "data"),
        Output("mdl-comment", "value"),
        Input({"type": ACT, "version": ALL, "state": ALL}, "n_clicks"),
        Input("mdl-rollback", "n_clicks"),
        State("mdl-comment", "value"),
        State("mdl-changed", "data"),
        prevent_initial_call=True,
    )
    def models_write(_acts: Any, _rollback: Any, comment: Any, changed: Any) -> tuple[Any, ...]:
        trigger = clicked_id()
        if trigger is None:
            return no_update, no_update, no_update, no_update  # buttons redrawn, not clicked
        user = user_or_401()
        admin_or_403(user, "model registry change")
        try:
            text = model_change(registry, trigger, user, comment if isinstance(comment, str) else "")
        except RegistryError as exc:
            return f"Not changed: {exc}", "message error", no_update, no_update
        except redis.RedisError as exc:
            return f"Not changed: cannot reach Redis ({exc})", "message error", no_update, no_update
        logger.info("dashapp.models: %s by=%s", text, user)
        # the comment went with this change: cleared, so the next change does not reuse it unseen
        return text, "message ok", (changed if isinstance(changed, int) else 0) + 1, ""
