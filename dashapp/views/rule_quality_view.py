"""The rules view's quality table: per rule, how analysts resolved its alerts in 24 h and 7 d (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

FEW = 10  # fewer resolutions than this: the precision is shown, marked as resting on few
WINDOWS = (("24h", "24 h"), ("7d", "7 days"))
COLUMNS = ("fraud", "false positive", "open", "raised", "precision")


def precision_text(window: Mapping[str, Any]) -> str:
    """`78 % of 40` (never a bare percentage: the n beside it), a dash when none, `(few)` below FEW."""
    resolved = int(window.get("resolved", 0))
    precision = window.get("precision")
    if not resolved or precision is None:
        return "\u2013 (none resolved)"
    text = f"{round(100 * float(precision))} % of {resolved:,}"
    return f"{text} (few)" if resolved < FEW else text


def _cells(window: Mapping[str, Any]) -> list[Any]:
    counts = [f"{int(window.get(k, 0)):,}" for k in ("fraud", "false_positive", "open", "raised")]
    return [*(html.Td(c, className="num") for c in counts), html.Td(precision_text(window))]


def quality_table(rules: Sequence[Mapping[str, Any]]) -> list[Any]:
    """One row per rule (the shape of GET /api/rules/quality's `rules`), both windows side by side."""
    if not rules:
        return [html.P("No rules.", className="muted")]
    top = html.Tr(
        [
            html.Th("rule", rowSpan=2),
            *(html.Th(label, colSpan=len(COLUMNS), scope="colgroup") for _, label in WINDOWS),
        ]
    )
    sub = html.Tr([html.Th(c, scope="col") for _ in WINDOWS for c in COLUMNS])
    body = []
    for rule in rules:
        name = str(rule.get("name") or rule.get("rule"))
        label = name if rule.get("enabled", True) else f"{name} (disabled)"
        windows = rule.get("windows", {})
        cells = [c for key, _ in WINDOWS for c in _cells(windows.get(key, {}))]
        body.append(html.Tr([html.Th(label, scope="row", title=str(rule.get("rule"))), *cells]))
    return [html.Table([html.Thead([top, sub]), html.Tbody(body)], className="table", id="rq-table")]


def quality_panel() -> html.Div:
    """The section's markup (callback: dashapp/callbacks/versions_cb.py)."""
    return html.Div(
        [
            html.H4("Rule quality from analysts' work"),
            html.P(
                "Per rule: its alerts resolved as fraud or as false positive in the window (by the time "
                "of the resolution), its alerts raised in the window and how many of those are still "
                "open. Precision = fraud \u00f7 (fraud + false positive), shown with how many "
                "resolutions it rests on.",
                className="muted",
            ),
            html.Button("Refresh", id="rq-refresh", n_clicks=0, className="btn btn-ghost btn-small"),
            html.Div(id="rq-out"),
        ],
        id="rq-panel",
    )
