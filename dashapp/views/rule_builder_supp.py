"""Suppressions in the rule builder: a listed card or merchant raises nothing from the chosen rules."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashapp.views.rule_builder_rows import STRING_FIELDS

DEL = "rb-supp-del"  # {"type": DEL, "n": index}
ALL_RULES = "*"


def suppressions_of(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The document's suppressions (a list of objects; anything else reads as none)."""
    items = doc.get("suppressions") if isinstance(doc, Mapping) else None
    return [s for s in items if isinstance(s, dict)] if isinstance(items, list) else []


def rules_text(text: Any) -> list[str]:
    """`*` (every rule) or rule ids separated by commas or spaces."""
    parts = [p for p in str(text or "").replace(",", " ").split() if p]
    return [ALL_RULES] if not parts or ALL_RULES in parts else parts


def add(doc: Mapping[str, Any], list_name: Any, field: Any, rules: Any) -> dict[str, Any]:
    """The document with one more suppression (checked by the validator, like everything else)."""
    out = copy.deepcopy(dict(doc))
    entry = {"list": str(list_name or ""), "field": str(field or ""), "rules": rules_text(rules)}
    out["suppressions"] = [*suppressions_of(doc), entry]
    return out


def remove(doc: Mapping[str, Any], index: Any) -> dict[str, Any]:
    """The document without suppression `index` (an unknown index changes nothing)."""
    out = copy.deepcopy(dict(doc))
    out["suppressions"] = [s for i, s in enumerate(suppressions_of(doc)) if i != index]
    return out


def table(doc: Mapping[str, Any], admin: bool) -> list[Any]:
    """The draft's suppressions: list, field, rules, and a remove button (admins)."""
    items = suppressions_of(doc)
    if not items:
        return [html.P("No suppressions.", className="muted")]
    body = []
    for n, s in enumerate(items):
        rules = s.get("rules")
        shown = "every rule" if rules == [ALL_RULES] else ", ".join(str(r) for r in rules or [])
        tools = (
            html.Button(
                "Remove",
                id={"type": DEL, "n": n},
                n_clicks=0,
                className="btn btn-ghost btn-small",
                title=f"Remove the suppression by list {s.get('list')}",
            )
            if admin
            else ""
        )
        body.append(
            html.Tr(
                [
                    html.Td(html.Code(str(s.get("list")))),
                    html.Td(str(s.get("field"))),
                    html.Td(shown),
                    html.Td(tools),
                ]
            )
        )
    head = html.Thead(html.Tr([html.Th(h) for h in ("list", "field", "silences", "")]))
    return [html.Table([head, html.Tbody(body)], className="table", id="rb-supp-table")]


def panel(admin: bool, lists: Sequence[str] = ()) -> html.Div:
    """The suppressions block of the Rules tab (callbacks: dashapp/callbacks/rule_builder_cb.py)."""

    def field(label: str, control: Any) -> html.Label:
        return html.Label([html.Span(label, className="rb-label"), control], className="rb-part")

    adder = html.Div(
        [
            field(
                "List",
                dcc.Dropdown(id="rb-supp-list", options=list(lists), value=None, className="rb-select"),
            ),
            field(
                "Field",
                dcc.Dropdown(
                    id="rb-supp-field",
                    options=list(STRING_FIELDS),
                    value="card_id",
                    clearable=False,
                    className="rb-select",
                ),
            ),
            field(
                "Rules silenced (* = every rule, or ids)",
                dcc.Input(id="rb-supp-rules", type="text", value="*", maxLength=500, className="rb-text"),
            ),
            html.Button("Add suppression", id="rb-supp-add", n_clicks=0, className="btn btn-ghost btn-small"),
        ],
        className="rb-inline" + ("" if admin else " hidden"),
    )
    return html.Div(
        [
            html.H4("Suppressions"),
            html.P(
                "A card or merchant on the list raises no alert from the rules named (until its entry "
                "expires). Kept in the draft; Publish makes it live.",
                className="muted",
            ),
            html.Div(id="rb-supp"),
            adder,
            html.Div(id="rb-supp-msg", className="message", role="status"),
        ],
        className="rb-supp",
    )
