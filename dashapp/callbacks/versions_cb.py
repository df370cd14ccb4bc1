"""Versions tab: the published rule sets, one viewed, two diffed, a restore (admins, checked here)."""

from __future__ import annotations

import logging
import time
from typing import Any

from dash import ALL, Dash, Input, Output, State, no_update

from common.rules import RuleValidationError
from dashapp.callbacks.rule_access import admin_or_403, clicked, clicked_id, user_or_401
from dashapp.store import RulesStore, VersionConflict
from dashapp.store.errors import StoreError
from dashapp.store.rule_quality import RuleQualityReader, live_quality
from dashapp.views.rule_quality_view import quality_table
from dashapp.views.versions_view import VIEW, as_text, diff_table, doc_diff, version_options, versions_table

logger = logging.getLogger(__name__)
LISTED = 100  # versions listed (the store keeps more; the API pages through them)


def restore(store: RulesStore, number: Any, comment: Any, user: str) -> tuple[str, str, bool]:
    """(message, class, restored?) for restoring version `number` as a new version."""
    text = str(comment or "").strip()
    if not isinstance(number, int) or isinstance(number, bool):
        return "Not restored: view a version first.", "message error", False
    if not text:
        return "Not restored: say why in the comment (it is kept with the version).", "message error", False
    try:
        doc = store.restore(number, user, text)
    except (RuleValidationError, VersionConflict, StoreError) as exc:
        return f"Not restored: {exc}", "message error", False
    logger.info("dashapp.rules: restored version=%d as version=%d by=%s", number, doc.version, user)
    return f"Version {number} restored as version {doc.version}.", "message ok", True


def register_versions(app: Dash, store: RulesStore, quality: RuleQualityReader | None = None) -> None:
    """Register the Versions tab's callbacks (and its rule-quality table when `quality` is given)."""
    if quality is not None:
        _register_quality(app, store, quality)

    @app.callback(
        Output("ver-list", "children"),
        Output("ver-from", "options"),
        Output("ver-to", "options"),
        Output("ver-from", "value"),
        Output("ver-to", "value"),
        Input("rb-live", "data"),
    )
    def versions_list(live: Any) -> tuple[Any, ...]:
        """Listed again whenever the live version changes (a publish or restore from any page)."""
        user_or_401()
        records = store.versions(LISTED)
        current = live.get("version") if isinstance(live, dict) else None
        options = version_options(records)
        newest = [r.version for r in records[:2]]  # compare the live version with the one before it
        before, live = (newest[-1], newest[0]) if newest else (None, None)
        return (
            versions_table(records, current if isinstance(current, int) else -1),
            options,
            options,
            before,
            live,
        )

    @app.callback(
        Output("ver-view-title", "children"),
        Output("ver-view-out", "children"),
        Output("ver-viewing", "data"),
        Input({"type": VIEW, "n": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def versions_view(_clicks: Any) -> tuple[Any, ...]:
        user_or_401()
        trigger = clicked_id()
        if not isinstance(trigger, dict):
            return no_update, no_update, no_update
        try:
            record = store.version(trigger.get("n"))
        except StoreError as exc:
            return "Version", str(exc), None
        title = f"Version {record.version} by {record.author} at {str(record.at)[:19].replace('T', ' ')}"
        return title, as_text(record.document or {}), record.version

    @app.callback(
        Output("ver-diff-out", "children"),
        Input("ver-diff", "n_clicks"),
        State("ver-from", "value"),
        State("ver-to", "value"),
        prevent_initial_call=True,
    )
    def versions_diff(_n: Any, a: Any, b: Any) -> Any:
        user_or_401()
        if not clicked():
            return no_update
        try:
            old, new = store.version(a), store.version(b)
        except StoreError as exc:
            return str(exc)
        return diff_table(doc_diff(old.document or {}, new.document or {}), old.version, new.version)

    @app.callback(
        Output("ver-message", "children"),
        Output("ver-message", "className"),
        Output("rb-reload", "data"),
        Input("ver-restore", "n_clicks"),
        State("ver-viewing", "data"),
        State("ver-comment", "value"),
        prevent_initial_call=True,
    )
    def versions_restore(n: Any, number: Any, comment: Any) -> tuple[Any, ...]:
        if not clicked():
            return no_update, no_update, no_update
        user = user_or_401()
        admin_or_403(user, "rule restore")
        message, cls, done = restore(store, number, comment, user)
        return message, cls, n if done else no_update


def _register_quality(app: Dash, store: RulesStore, quality: RuleQualityReader) -> None:
    @app.callback(Output("rq-out", "children"), Input("rb-live", "data"), Input("rq-refresh", "n_clicks"))
    def rule_quality(_live: Any, _n: Any) -> Any:
        """Counted again on a publish (rules come and go) and on Refresh."""
        user_or_401()
        try:
            rules = live_quality(quality, store.document(), int(time.time() * 1000))
        except StoreError as exc:
            return str(exc)
        return quality_table(rules)
