"""Live rule editor: load the live rules, save an admin's changes with the expected version."""

from __future__ import annotations

import logging
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, no_update
from werkzeug.exceptions import Forbidden, Unauthorized

from common.rules import RuleValidationError
from common.rules_doc import RulesDoc
from dashapp.auth.login import current_name, current_role
from dashapp.store import InvalidAction, RulesStore, VersionConflict
from dashapp.views.rules_form import FIELD_TYPE, audit_view, changes_from_form, check_form, form_values

logger = logging.getLogger(__name__)
FIELDS = {"type": FIELD_TYPE, "rule": ALL, "field": ALL}
AUDIT_ROWS = 50


def _loaded(store: RulesStore, doc: RulesDoc, ids: list[Any], message: str, cls: str) -> tuple[Any, ...]:
    """Outputs: field values, version store, version label, audit, message, message class."""
    return (
        form_values(doc, ids),
        doc.version,
        f"v{doc.version} by {doc.updated_by} at {doc.updated_at}",
        audit_view(store.audit(AUDIT_ROWS)),
        message,
        cls,
    )


def save_rules(
    store: RulesStore,
    ids: list[Any],
    values: list[Any],
    version: Any,
    *,
    user: str,
    role: str,
    out_ids: list[Any] | None = None,
) -> tuple[Any, ...]:
    """Validate and save the form as `user`; only admins may (checked here, never in the browser).

    `ids`/`values` are the submitted form; `out_ids` are the inputs to refill (default: `ids`).
    """
    shown = ids if out_ids is None else out_ids
    if role != "admin":
        logger.warning("dashapp.rules: refused rule change by non-admin user=%s", user)
        raise Forbidden("only admins can change rules")
    keep = ([no_update] * len(shown), no_update, no_update, no_update)
    if not isinstance(version, int) or isinstance(version, bool):
        return _loaded(store, store.current(), shown, "Rules were not loaded; reloaded them.", "message warn")
    problems = check_form(ids, values)
    if problems:  # said in the form's own words, before the store's validation (the backstop)
        return (*keep, "Not saved: " + "; ".join(problems) + ".", "message error")
    try:
        doc = store.update(changes_from_form(ids, values), user, version)
    except (RuleValidationError, InvalidAction) as exc:
        return (*keep, f"Not saved: {exc}", "message error")
    except VersionConflict as exc:
        current = exc.current if isinstance(exc.current, RulesDoc) else store.current()
        return _loaded(store, current, shown, f"Not saved: {exc}", "message error conflict")
    if doc.version == version:
        return _loaded(store, doc, shown, "Nothing changed.", "message")
    logger.info("dashapp.rules: saved version=%d by=%s", doc.version, user)
    return _loaded(store, doc, shown, f"Saved as version {doc.version}.", "message ok")


def register_rules(app: Dash, store: RulesStore) -> Any:
    """Register the load/save callback; return the plain function."""

    @app.callback(
        Output(FIELDS, "value"),
        Output("rules-version", "data"),
        Output("rules-version-label", "children"),
        Output("rules-audit", "children"),
        Output("rules-message", "children"),
        Output("rules-message", "className"),
        Input("rules-reload", "n_clicks"),
        Input("rules-save", "n_clicks"),
        State(FIELDS, "id"),
        State(FIELDS, "value"),
        State("rules-version", "data"),
    )
    def rules_editor(
        _reload: int | None, _save: int | None, ids: list[Any], values: list[Any], version: Any
    ) -> tuple[Any, ...]:
        """Initial load and Reload read the live rules; Save writes them (admins only)."""
        user = current_name()
        if not user:
            raise Unauthorized("session expired")
        # Refill exactly the inputs Dash expects back (the submitted State is client data).
        out_ids = [o.get("id") for o in ctx.outputs_list[0]]
        if ctx.triggered_id == "rules-save":
            return save_rules(store, ids, values, version, user=user, role=current_role(), out_ids=out_ids)
        return _loaded(store, store.current(), out_ids, "", "message")

    return rules_editor
