"""The rule builder's form markup: meta fields and one row of inputs per leaf condition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import dcc, html

from dashapp.views import rule_builder_rows as rows_model
from dashapp.views.rule_builder_rows import OP_LABELS, PARTS, Row

IN_TYPE = "rb-in"  # one pattern for every row input: {type, row, part, kind}
ROW_MSG = "rb-row-msg"
DEL_ROW = "rb-del-row"
META_IN = "rb-meta"  # {type, field}
META_MSG = "rb-meta-msg"
META_FIELDS = ("id", "name", "description", "score", "enabled", "explain")
META_LABELS = {
    "id": "Rule id",
    "name": "Name",
    "description": "Description",
    "score": "Score (0\u20131)",
    "enabled": "Enabled",
    "explain": "Explanation",
    "when": "Condition",
}
KIND_LABELS = {"field": "Field", "agg": "Per-card aggregate", "feature": "Card feature", "list": "List"}
PART_LABELS = {
    "field": "Field",
    "op": "Operator",
    "value": "Value",
    "as": "Name in the explanation",
    "agg": "Aggregate",
    "of": "Of",
    "window": "Window",
    "where_field": "Only past events where",
    "where_op": "Filter operator",
    "where_value": "Filter value",
    "feature": "Feature",
    "list": "List",
}
_PLACEHOLDER = {"value": "e.g. 1,500 or a, b or 10 to 20", "as": "optional, e.g. countries"}
_PLACEHOLDER |= {"where_value": "e.g. 2", "list": "list name"}


def _opts(values: Sequence[str], labels: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    return [{"label": (labels or {}).get(v, v) or "\u2013", "value": v} for v in values]


def _choices(kind: str, part: str, row: Row, lists: Sequence[str]) -> list[dict[str, str]] | None:
    """The options of a choice part (None: a text input)."""
    field_ops = rows_model.OPS
    table: dict[tuple[str, str], list[dict[str, str]]] = {
        ("field", "field"): _opts(rows_model.FIELDS),
        ("field", "op"): _opts(field_ops, OP_LABELS),
        ("agg", "agg"): _opts(rows_model.AGG_KINDS),
        ("agg", "of"): _opts(rows_model.AGG_OF.get(str(row.get("agg")), ("",))),
        ("agg", "window"): _opts(rows_model.WINDOWS),
        ("agg", "where_field"): _opts(("", *rows_model.WHERE_FIELDS), {"": "(no filter)"}),
        ("agg", "where_op"): _opts(("", *field_ops), OP_LABELS),
        ("agg", "op"): _opts(rows_model.AGG_OPS, OP_LABELS),
        ("feature", "feature"): _opts(rows_model.FEATURES),
        ("feature", "op"): _opts((*field_ops[:6], "between"), OP_LABELS),
        ("list", "field"): _opts(rows_model.STRING_FIELDS),
        ("list", "op"): _opts(rows_model.LIST_OPS, OP_LABELS),
        ("list", "list"): _opts(tuple(lists)),
    }
    options = table.get((kind, part))
    if options is None:
        return None
    current = str(row.get(part) or "")
    if current and current not in {o["value"] for o in options}:
        options = [*options, {"label": current, "value": current}]  # as written (the validator judges)
    return options


def input_class(kind: str, part: str, invalid: bool = False) -> str:
    """The class of a row input (a choice or a text box); `rb-invalid` marks the one at fault."""
    base = "rb-select" if _choices(kind, part, {}, ()) is not None else "rb-text"
    return base + (" rb-invalid" if invalid else "")


def meta_class(field: str, invalid: bool = False) -> str:
    """The class of one of the rule's own inputs; `rb-invalid` marks the one at fault."""
    base = {"enabled": "rb-select", "explain": "rb-textarea"}.get(field, "rb-text")
    return base + (" rb-invalid" if invalid else "")


def in_id(row: int, part: str, kind: str) -> dict[str, Any]:
    """Pattern-matching id of one row input."""
    return {"type": IN_TYPE, "row": row, "part": part, "kind": kind}


def _control(n: int, part: str, row: Row, editable: bool, lists: Sequence[str]) -> Any:
    kind = str(row.get("kind"))
    cid = in_id(n, part, kind)
    value = str(row.get(part) or "")
    options = _choices(kind, part, row, lists)
    if options is not None:
        return dcc.Dropdown(
            id=cid,
            options=options,
            value=value,
            clearable=False,
            disabled=not editable,
            className=input_class(kind, part),
        )
    return dcc.Input(
        id=cid,
        type="text",
        value=value,
        debounce=True,
        disabled=not editable,
        maxLength=4000,
        placeholder=_PLACEHOLDER.get(part, ""),
        className=input_class(kind, part),
    )


def row_component(n: int, row: Row, editable: bool, lists: Sequence[str]) -> html.Div:
    """One condition row: its kind, a labelled input per part, a remove button, its message."""
    kind = str(row.get("kind"))
    fields = [
        html.Label(
            [html.Span(PART_LABELS[p], className="rb-label"), _control(n, p, row, editable, lists)],
            className=f"rb-part rb-part-{p}",
        )
        for p in PARTS[kind]
    ]
    tools = []
    if editable:
        tools.append(
            html.Button(
                "Remove",
                id={"type": DEL_ROW, "row": n},
                n_clicks=0,
                className="btn btn-ghost btn-small",
                title=f"Remove condition {n + 1}",
            )
        )
    return html.Div(
        className=f"rb-row rb-row-{kind}",
        id=f"rb-row-{n}",
        children=[
            html.Div(
                [html.Span(f"{n + 1}. {KIND_LABELS[kind]}", className="rb-kind"), *tools],
                className="rb-row-head",
            ),
            html.Div(fields, className="rb-parts"),
            html.Div(id={"type": ROW_MSG, "row": n}, className="rb-msg", role="status"),
        ],
    )


def rows_component(rows: Sequence[Row], editable: bool, lists: Sequence[str]) -> list[Any]:
    """Every row, or a hint when there is none."""
    if not rows:
        return [html.P("No conditions yet: add one below.", className="muted")]
    return [row_component(n, r, editable, lists) for n, r in enumerate(rows)]


def meta_id(field: str) -> dict[str, str]:
    """Pattern-matching id of one of the rule's own fields (id, name, ...)."""
    return {"type": META_IN, "field": field}


def _meta_control(field: str, editable: bool) -> Any:
    if field == "enabled":
        return dcc.Dropdown(
            id=meta_id(field),
            options=[{"label": "Enabled", "value": "yes"}, {"label": "Disabled", "value": "no"}],
            value="yes",
            clearable=False,
            disabled=not editable,
            className="rb-select",
        )
    if field == "explain":
        return dcc.Textarea(
            id=meta_id(field), value="", rows=2, maxLength=300, disabled=not editable, className="rb-textarea"
        )
    return dcc.Input(
        id=meta_id(field),
        type="text",
        value="",
        debounce=True,
        disabled=not editable,
        maxLength=300,
        className="rb-text",
    )


def meta_fields(editable: bool) -> list[Any]:
    """The rule's own fields, each with its message beside it."""
    return [
        html.Div(
            [
                html.Label(
                    [html.Span(META_LABELS[f], className="rb-label"), _meta_control(f, editable)],
                    className=f"rb-part rb-meta-{f}",
                ),
                html.Div(id={"type": META_MSG, "field": f}, className="rb-msg"),
            ],
            className="rb-meta-field",
        )
        for f in META_FIELDS
    ]


def meta_values(rule: Mapping[str, Any]) -> list[Any]:
    """Values of the meta inputs (META_FIELDS order) for a document rule."""
    out: list[Any] = []
    for f in META_FIELDS:
        v = rule.get(f)
        if f == "enabled":
            out.append("no" if v is False else "yes")
        elif f == "score":
            out.append("" if v is None else rows_model.value_text("eq", v))
        else:
            out.append("" if v is None else str(v))
    return out


def rule_from_meta(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The rule's own fields from the form (score typed, enabled a bool)."""
    score = rows_model.parse_value("eq", fields.get("score"), numeric=True)
    return {
        "id": str(fields.get("id") or "").strip(),
        "name": str(fields.get("name") or "").strip(),
        "description": str(fields.get("description") or "").strip(),
        "enabled": fields.get("enabled") != "no",
        "score": score,
        "explain": str(fields.get("explain") or ""),
    }
