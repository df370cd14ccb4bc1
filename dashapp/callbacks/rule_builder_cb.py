"""Rule builder: the live rule set loaded as a draft, its rule list actions, and publish (admins)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dash import ALL, Dash, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from common.rulelang import parse_document, to_document
from common.rules import RuleValidationError
from dashapp.callbacks.rule_access import admin_or_403, clicked_id, is_admin, user_or_401
from dashapp.callbacks.rule_builder_form_cb import register_form
from dashapp.layout_panels import RULE_TABS
from dashapp.store import DashboardReader, RulesStore, VersionConflict
from dashapp.store.errors import StoreError
from dashapp.views import rule_builder_supp as supp
from dashapp.views.rule_builder_doc import delete, toggle
from dashapp.views.rule_builder_list import draft_summary, rules_table
from dashapp.views.rule_builder_preview import BUILTIN_SAMPLE, sample_from_row

logger = logging.getLogger(__name__)


def as_doc(data: Any) -> dict[str, Any]:
    """A document from the browser's store (anything but an object reads as empty: the validator says why)."""
    return data if isinstance(data, dict) else {}


class Builder:
    """The callbacks' logic over the stores (plain methods, so tests can call them without Dash)."""

    def __init__(
        self, rules: RulesStore, reader: DashboardReader, list_names: Callable[[], list[str]]
    ) -> None:
        self.rules, self.reader, self.list_names = rules, reader, list_names

    def live(self) -> tuple[dict[str, Any], dict[str, Any], str]:
        """(the live document, {version, doc} for the page, the version label)."""
        doc = self.rules.current()
        body = to_document(doc.rules)
        return (
            body,
            {"version": doc.version, "doc": body},
            f"v{doc.version} by {doc.updated_by} at {doc.updated_at}",
        )

    def publish(self, draft: Any, live: Any, comment: Any, user: str) -> tuple[str, str, bool]:
        """(message, class, published?) for publishing the draft with a comment as `user`."""
        text = str(comment or "").strip()
        base = live.get("version") if isinstance(live, dict) else None
        if not text:
            return (
                "Not published: say why in the comment (it is kept with the version).",
                "message error",
                False,
            )
        if not isinstance(base, int) or isinstance(base, bool):
            return "Not published: the live rules were not loaded; discard the draft.", "message error", False
        try:
            doc = self.rules.publish(as_doc(draft), user, text, expected_version=base)
        except VersionConflict as exc:
            why = f"{exc}. Discard your draft to load the live rules, then redo your change."
            return f"Not published: {why}", "message error conflict", False
        except (RuleValidationError, StoreError) as exc:
            return f"Not published: {exc}", "message error", False
        if doc.version == base:
            return "Nothing to publish: the draft is the live rule set.", "message", False
        logger.info("dashapp.rules: published version=%d by=%s", doc.version, user)
        return f"Published as version {doc.version}; bridges apply it within 2 s.", "message ok", True

    def follow(self, draft: Any, live: Any, behind: Any) -> tuple[Any, ...]:
        """(draft, live, label, behind) for a poll tick; PreventUpdate when nothing changed."""
        seen = live.get("version") if isinstance(live, dict) else None
        body, live_data, label = self.live()
        if seen == live_data["version"]:
            if behind:  # a warning from a tick that crossed this page's own publish
                return no_update, no_update, no_update, ""
            raise PreventUpdate  # nothing new: no redraw
        if as_doc(draft) == body:  # already the live rules (this page's own publish, in flight)
            return no_update, live_data, label, ""
        if isinstance(live, dict) and as_doc(draft) != live.get("doc"):
            return (
                no_update,
                no_update,
                label,
                (
                    f"Your draft is based on v{seen}: publishing it will be refused. "
                    "Discard it to load the live rules."
                ),
            )
        return body, live_data, label, ""

    def sample(self) -> tuple[Any, bool]:
        """(the event the preview explains, whether it is a real one from the stream)."""
        rows, _ = self.reader.txns_since(None, limit=1)
        event = sample_from_row(rows[-1]) if rows else None
        return (event, True) if event is not None else (BUILTIN_SAMPLE, False)


def _register_draft(app: Dash, b: Builder) -> None:
    # Publish and the poll are separate callbacks on purpose: Dash's renderer drops a callback
    # that is still waiting (or running) when the same callback is requested again, so a poll tick
    # landing while a Publish click waited would lose the click without a word.
    @app.callback(
        Output("rb-draft", "data"),
        Output("rb-live", "data"),
        Output("rb-live-label", "children"),
        Output("rb-message", "children"),
        Output("rb-message", "className"),
        Output("rb-comment", "value"),
        Output("rb-behind", "children"),
        Input("rb-discard", "n_clicks"),
        Input("rb-publish", "n_clicks"),
        Input("rb-reload", "data"),
        State("rb-draft", "data"),
        State("rb-live", "data"),
        State("rb-comment", "value"),
    )
    def rb_live(*args: Any) -> tuple[Any, ...]:
        """Page load, Discard and a restore load the live rules; Publish writes the draft (admins)."""
        draft, live, comment = args[-3:]
        user = user_or_401()
        message, cls = "", "message"
        if clicked_id(first=("rb-publish",)) == "rb-publish":
            admin_or_403(user, "rule publish")
            message, cls, done = b.publish(draft, live, comment, user)
            if not done:
                return no_update, no_update, no_update, message, cls, no_update, no_update
        body, live_data, label = b.live()
        return body, live_data, label, message, cls, "" if message else no_update, ""

    @app.callback(
        Output("rb-draft", "data", allow_duplicate=True),
        Output("rb-live", "data", allow_duplicate=True),
        Output("rb-live-label", "children", allow_duplicate=True),
        Output("rb-behind", "children", allow_duplicate=True),
        Input("rb-poll", "n_intervals"),
        State("rb-draft", "data"),
        State("rb-live", "data"),
        State("rb-behind", "children"),
        prevent_initial_call=True,
    )
    def rb_follow(_n: Any, draft: Any, live: Any, behind: Any) -> tuple[Any, ...]:
        """Every few seconds: a draft without changes follows the live version (another admin's
        publish shows up); a draft with changes keeps them and says, beside the version, it is behind.
        """
        user_or_401()
        return b.follow(draft, live, behind)

    @app.callback(
        Output("rb-rules", "children"),
        Output("rb-draft-summary", "children"),
        Output("rb-supp", "children"),
        Output("rb-supp-list", "options"),
        Input("rb-draft", "data"),
        Input("rb-live", "data"),
    )
    def rb_table(draft: Any, live: Any) -> tuple[Any, ...]:
        """The draft's rules and suppressions, and what publishing it would change."""
        user_or_401()
        live_doc = live.get("doc") if isinstance(live, dict) else None
        extra = (supp.table(as_doc(draft), is_admin()), b.list_names())
        shown = rules_table(as_doc(draft), as_doc(live_doc), is_admin())
        return shown, draft_summary(as_doc(draft), as_doc(live_doc)), *extra

    @app.callback(
        Output("rb-draft", "data", allow_duplicate=True),
        Output("rb-supp-msg", "children"),
        Output("rb-supp-msg", "className"),
        Input("rb-supp-add", "n_clicks"),
        Input({"type": supp.DEL, "n": ALL}, "n_clicks"),
        State("rb-supp-list", "value"),
        State("rb-supp-field", "value"),
        State("rb-supp-rules", "value"),
        State("rb-draft", "data"),
        prevent_initial_call=True,
    )
    def rb_suppression(
        _add: Any, _dels: Any, name: Any, field: Any, rules: Any, draft: Any
    ) -> tuple[Any, ...]:
        """Add or remove a suppression in the draft (admins); an added one must validate."""
        trigger = clicked_id()
        if trigger is None:
            raise PreventUpdate
        admin_or_403(user_or_401(), "suppression change")
        if isinstance(trigger, dict):
            return supp.remove(as_doc(draft), trigger.get("n")), "Removed from the draft.", "message ok"
        new = supp.add(as_doc(draft), name, field, rules)
        try:
            parse_document(new, b.list_names())
        except RuleValidationError as exc:
            return no_update, f"Not added: {exc}", "message error"
        return new, "Added to the draft: publish to make it live.", "message ok"

    @app.callback(
        Output("rb-draft", "data", allow_duplicate=True),
        Input({"type": "rb-toggle", "rule": ALL}, "n_clicks"),
        Input({"type": "rb-delete", "rule": ALL}, "n_clicks"),
        State("rb-draft", "data"),
        prevent_initial_call=True,
    )
    def rb_list_action(_toggles: Any, _deletes: Any, draft: Any) -> Any:
        """Disable/enable or delete a rule in the draft (built-ins are never deleted)."""
        trigger = clicked_id()
        if not isinstance(trigger, dict):
            return no_update
        admin_or_403(user_or_401(), "rule change")
        rid = str(trigger.get("rule"))
        return (
            toggle(as_doc(draft), rid) if trigger.get("type") == "rb-toggle" else delete(as_doc(draft), rid)
        )


def _register_tabs(app: Dash) -> None:
    keys = [k for k, _ in RULE_TABS]

    @app.callback(
        *[Output(f"rules-panel-{k}", "className") for k in keys],
        *[Output(f"rules-tab-{k}", "className") for k in keys],
        Output("rules-tab-shown", "children"),
        *[Input(f"rules-tab-{k}", "n_clicks") for k in keys],
        prevent_initial_call=True,
    )
    def rules_tabs(*_clicks: Any) -> tuple[Any, ...]:
        """Show one tab's panel; the others stay in the page (hidden), so their state is kept."""
        user_or_401()
        shown = str(clicked_id() or "rules-tab-rules").removeprefix("rules-tab-")
        panels = ["rb-panel" + ("" if k == shown else " hidden") for k in keys]
        tabs = ["rb-tab" + (" rb-tab-on" if k == shown else "") for k in keys]
        return (*panels, *tabs, f"{dict(RULE_TABS).get(shown, '')} tab shown")


def register_rule_builder(
    app: Dash, rules: RulesStore, reader: DashboardReader, list_names: Callable[[], list[str]]
) -> Builder:
    """Register the rule builder's callbacks; return the logic object (for tests)."""
    b = Builder(rules, reader, list_names)
    _register_draft(app, b)
    register_form(app, b)
    _register_tabs(app)
    return b
