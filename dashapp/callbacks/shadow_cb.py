"""Rule builder: publish the draft as shadow, promote or drop it (admins); the panel follows it."""

from __future__ import annotations

import logging
from typing import Any

import redis
from dash import Dash, Input, Output, State, html
from dash.exceptions import PreventUpdate

from common.keys import RedisKeys
from common.rules import RuleValidationError
from dashapp.callbacks.rule_access import admin_or_403, clicked_id, user_or_401
from dashapp.store.errors import StoreError
from dashapp.store.rules_store import RulesStore
from dashapp.store.shadow_report import ShadowReader
from dashapp.store.shadow_store import ShadowStore, UnreadableShadow
from dashapp.views.shadow_view import quality_body, shadow_body

logger = logging.getLogger(__name__)


class Shadows:
    """The callbacks' logic over the shadow store (plain methods, so tests can call them without Dash)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self.store = ShadowStore(client, keys, RulesStore(client, keys))
        self.reader = ShadowReader(client, keys)

    def act(self, action: str, draft: Any, comment: Any, shown: Any, user: str) -> tuple[str, str]:
        """(message, class) of publish / promote / drop, checked against the shadow id the page shows."""
        expected = shown if isinstance(shown, int) else 0
        note = comment if isinstance(comment, str) else ""
        try:
            if action == "sh-publish":
                doc = self.store.publish(draft if isinstance(draft, dict) else {}, user, note, expected)
                gaps = self.store.gaps(doc)
                if gaps:
                    return f"Shadow {doc.id} published; note: {'; '.join(gaps)}.", "message warn"
                return f"Shadow {doc.id} published: bridges evaluate it within a second.", "message ok"
            if action == "sh-promote":
                shadow, live = self.store.promote(user, note, expected)
                return f"Shadow {shadow.id} promoted: it is live version {live.version}.", "message ok"
            dropped = self.store.drop(user, note, expected)
            return f"Shadow {dropped.id} dropped.", "message ok"
        except (RuleValidationError, StoreError) as exc:
            return f"Not done: {exc}", "message error"

    def view(self) -> tuple[list[Any], int]:
        """The panel's content (from the counters only) and the shadow id it shows (0: none)."""
        try:
            doc = self.store.current()
        except UnreadableShadow as exc:  # say so, and keep Drop / Publish as shadow usable
            return [html.P(str(exc), id="sh-unreadable", className="message error")], exc.shadow_id
        if doc is None:
            return shadow_body(None), 0
        report = self.reader.report(doc, limit=0)
        report["warnings"] = self.store.gaps(doc)
        return shadow_body(report), doc.id

    def quality(self) -> list[Any]:
        """Precision and samples over the newest pairs (read when asked)."""
        try:
            doc = self.store.current()
        except UnreadableShadow:
            return []
        return quality_body(self.reader.report(doc) if doc is not None else None)


def register_shadow(app: Dash, client: redis.Redis, keys: RedisKeys) -> Shadows:
    """Register the shadow panel's callbacks; return the logic object (for tests)."""
    s = Shadows(client, keys)

    @app.callback(
        Output("sh-msg", "children"),
        Output("sh-msg", "className"),
        Output("sh-refresh", "data"),
        Input("sh-publish", "n_clicks"),
        Input("sh-promote", "n_clicks"),
        Input("sh-drop", "n_clicks"),
        State("rb-draft", "data"),
        State("rb-comment", "value"),
        State("sh-id", "data"),
        prevent_initial_call=True,
    )
    def sh_act(_p: Any, _r: Any, _d: Any, draft: Any, comment: Any, shown: Any) -> tuple[Any, ...]:
        """Publish the draft as shadow, promote or drop the shadow set shown (admins)."""
        trigger = clicked_id()
        if trigger not in ("sh-publish", "sh-promote", "sh-drop"):
            raise PreventUpdate
        user = user_or_401()
        admin_or_403(user, "shadow change")
        message, cls = s.act(trigger, draft, comment, shown, user)
        logger.info("dashapp.shadow: %s by=%s: %s", trigger, user, message)
        return message, cls, message

    @app.callback(
        Output("sh-body", "children"),
        Output("sh-id", "data"),
        Input("sh-poll", "n_intervals"),
        Input("sh-refresh", "data"),
    )
    def sh_follow(_n: Any, _refresh: Any) -> tuple[Any, ...]:
        """The shadow set and its comparison, every few seconds and after each action."""
        user_or_401()
        body, shown = s.view()
        return body, shown

    @app.callback(
        Output("sh-quality-body", "children"),
        Input("sh-quality", "n_clicks"),
        Input("sh-refresh", "data"),
        prevent_initial_call=True,
    )
    def sh_quality(_n: Any, _refresh: Any) -> list[Any]:
        """Precision and samples on request (an action clears or refreshes them)."""
        user_or_401()
        return s.quality() if clicked_id() == "sh-quality" else []

    return s
