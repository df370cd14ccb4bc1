"""Rule builder form: open a rule, add/remove rows, keep the raw view and messages in sync, keep it."""

from __future__ import annotations

import logging
from typing import Any

from dash import ALL, MATCH, Dash, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import Forbidden

from common.rulelang import parse_document
from dashapp.callbacks.rule_access import admin_or_403, clicked, clicked_id, is_admin, user_or_401
from dashapp.views.rule_builder_doc import NO_PROBLEMS
from dashapp.views.rule_builder_editor import (
    Editor,
    checked,
    input_classes,
    meta_classes,
    meta_of,
    row_messages,
    structure,
)
from dashapp.views.rule_builder_form import (
    DEL_ROW,
    IN_TYPE,
    META_FIELDS,
    META_IN,
    META_MSG,
    ROW_MSG,
    meta_values,
    rows_component,
)
from dashapp.views.rule_builder_preview import preview_view
from dashapp.views.rule_builder_rows import AGG_OF, KINDS, rows_from_inputs
from dashapp.views.versions_view import as_text

logger = logging.getLogger(__name__)
ROWS = {"type": IN_TYPE, "row": ALL, "part": ALL, "kind": ALL}
META = {"type": META_IN, "field": ALL}


def _rows(ids: Any, values: Any) -> list[Any]:
    return rows_from_inputs(ids if isinstance(ids, list) else [], values if isinstance(values, list) else [])


def _doc(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}


def register_form(app: Dash, b: Any) -> None:
    """The form's callbacks; `b` is the rule builder (rule_builder_cb.Builder)."""
    _register_open(app, b)
    _register_sync(app, b)
    _register_keep(app, b)


def _register_open(app: Dash, b: Any) -> None:
    adds = [Input(f"rb-add-{k}", "n_clicks") for k in KINDS]

    @app.callback(
        Output("rb-rows", "children"),
        Output(META, "value"),
        Output("rb-comb", "value"),
        Output("rb-editing", "data"),
        Output("rb-editor", "className"),
        Output("rb-form-title", "children"),
        Output("rb-form-note", "children"),
        Output("rb-raw-msg", "children"),
        Input("rb-new", "n_clicks"),
        Input({"type": "rb-edit", "rule": ALL}, "n_clicks"),
        Input({"type": "rb-dup", "rule": ALL}, "n_clicks"),
        Input({"type": DEL_ROW, "row": ALL}, "n_clicks"),
        Input("rb-raw-apply", "n_clicks"),
        *adds,
        State(ROWS, "id"),
        State(ROWS, "value"),
        State(META, "id"),
        State("rb-raw", "value"),
        State("rb-draft", "data"),
        State("rb-editing", "data"),
        prevent_initial_call=True,
    )
    def rb_open(*args: Any) -> tuple[Any, ...]:
        """New, Edit/View, Duplicate, add or remove a row, Apply text: (re)draw the form."""
        row_ids, row_values, meta_ids, raw, draft, editing = args[-6:]
        trigger = clicked_id()
        if trigger is None:
            raise PreventUpdate  # buttons drawn, not clicked (a wildcard output takes no no_update)
        user = user_or_401()
        admin = is_admin()
        if not admin and not (isinstance(trigger, dict) and trigger.get("type") == "rb-edit"):
            raise Forbidden("only admins can change rules")  # analysts only view
        rows = _rows(row_ids, row_values)
        got = structure(trigger, _doc(draft), Editor(editing), rows, raw)
        logger.debug("dashapp.rules: form %s by=%s", trigger, user)
        shown = got.rows if got.rows is not None else None
        meta_out: list[Any] = [no_update] * len(meta_ids)
        if got.meta is not None:
            shown_meta = dict(zip(META_FIELDS, meta_values(got.meta), strict=True))
            meta_out = [shown_meta.get(str(i.get("field")), "") for i in meta_ids]
        title: Any = no_update
        if got.editing is not None:
            rid = str((got.meta or {}).get("id") or "")
            title = (
                ("Rule " if admin else "View rule ") + rid if got.editing["index"] >= 0 else "New rule " + rid
            )
        return (
            rows_component(shown, admin, b.list_names()) if shown is not None else no_update,
            meta_out,
            got.comb if got.comb is not None else no_update,
            got.editing if got.editing is not None else no_update,
            "rb-editor" if got.editing is not None else no_update,
            title,
            got.note if got.note is not None else no_update,
            got.raw_msg,
        )


def _register_sync(app: Dash, b: Any) -> None:
    @app.callback(
        Output("rb-raw", "value"),
        Output({"type": ROW_MSG, "row": ALL}, "children"),
        Output({"type": META_MSG, "field": ALL}, "children"),
        Output("rb-preview", "children"),
        Output(ROWS, "className"),
        Output(META, "className"),
        Input(ROWS, "value"),
        Input(META, "value"),
        Input("rb-comb", "value"),
        Input("rb-raw-format", "value"),
        State(ROWS, "id"),
        State(META, "id"),
        State("rb-draft", "data"),
        State("rb-editing", "data"),
        prevent_initial_call=True,
    )
    def rb_sync(*args: Any) -> tuple[Any, ...]:
        """Any change in the form: the raw view, the messages beside the fields, the preview."""
        row_values, meta_in, comb, fmt, row_ids, meta_ids, draft, editing = args
        user_or_401()
        editor = Editor(editing)
        n_rows = len(ctx.outputs_list[1])
        meta_fields = [str(o["id"].get("field")) for o in ctx.outputs_list[2]]
        in_ids = [o["id"] for o in ctx.outputs_list[4]]
        meta_inputs = [str(o["id"].get("field")) for o in ctx.outputs_list[5]]
        if not editor.open:
            fine = NO_PROBLEMS
            return (
                no_update,
                [""] * n_rows,
                [""] * len(meta_fields),
                no_update,
                input_classes(fine, in_ids),
                meta_classes(fine, meta_inputs),
            )
        form = (meta_of(meta_ids, meta_in), comb, _rows(row_ids, row_values))
        doc = _doc(draft)
        rule, _placed, problems = checked(doc, editor, form, parse_document, b.list_names())
        messages = [problems.meta.get(f, "") for f in meta_fields]
        if problems.other and "when" in meta_fields:
            messages[meta_fields.index("when")] = problems.other
        event, real = b.sample()
        rates: dict[str, float] = doc["currency"] if isinstance(doc.get("currency"), dict) else {}
        text = as_text(rule, "JSON" if fmt == "JSON" else "YAML")
        preview = preview_view(rule, event, real, rates)
        marks = input_classes(problems, in_ids), meta_classes(problems, meta_inputs)
        return (text, row_messages(problems, n_rows), messages, preview, *marks)

    @app.callback(
        Output({"type": IN_TYPE, "row": MATCH, "part": "of", "kind": "agg"}, "options"),
        Output({"type": IN_TYPE, "row": MATCH, "part": "of", "kind": "agg"}, "value"),
        Input({"type": IN_TYPE, "row": MATCH, "part": "agg", "kind": "agg"}, "value"),
        State({"type": IN_TYPE, "row": MATCH, "part": "of", "kind": "agg"}, "value"),
        prevent_initial_call=True,
    )
    def rb_agg_of(agg: Any, current: Any) -> tuple[Any, ...]:
        """What an aggregate can be "of" follows its kind (count: nothing; distinct: a column)."""
        user_or_401()
        choices = AGG_OF.get(str(agg), ("",))
        options = [{"label": c or "\u2013", "value": c} for c in choices]
        return options, current if current in choices else choices[0]


def _register_keep(app: Dash, b: Any) -> None:
    @app.callback(
        Output("rb-draft", "data", allow_duplicate=True),
        Output("rb-editing", "data", allow_duplicate=True),
        Output("rb-form-msg", "children"),
        Output("rb-form-msg", "className"),
        Input("rb-apply", "n_clicks"),
        State(ROWS, "id"),
        State(ROWS, "value"),
        State(META, "id"),
        State(META, "value"),
        State("rb-comb", "value"),
        State("rb-draft", "data"),
        State("rb-editing", "data"),
        prevent_initial_call=True,
    )
    def rb_keep(_n: Any, *states: Any) -> tuple[Any, ...]:
        """Keep the form's rule in the draft (admins), if the whole document stays valid."""
        row_ids, row_values, meta_ids, meta_in, comb, draft, editing = states
        if not clicked():
            return no_update, no_update, no_update, no_update
        admin_or_403(user_or_401(), "rule change")
        editor = Editor(editing)
        if not editor.open:
            return no_update, no_update, "Open a rule first.", "message error"
        form = (meta_of(meta_ids, meta_in), comb, _rows(row_ids, row_values))
        rule, doc, problems = checked(_doc(draft), editor, form, parse_document, b.list_names())
        if not problems.ok:
            return no_update, no_update, "Not kept: see the messages beside the fields.", "message error"
        _, index = editor.placed(_doc(draft), rule)
        kept = {**(editing if isinstance(editing, dict) else {}), "index": index, "base": rule}
        return doc, kept, f"Kept {rule.get('id')} in the draft: publish to make it live.", "message ok"
