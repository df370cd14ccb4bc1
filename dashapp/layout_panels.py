"""Page sections below the live charts: alerts table and workflow, pipeline health, rules."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
from dash import dcc, html

from dashapp.views.grid import COLUMN_DEFS, DEFAULT_COL_DEF
from dashapp.views.lists_view import lists_panel
from dashapp.views.rule_builder import builder_panel
from dashapp.views.rules_form import rules_form
from dashapp.views.search import EXPORT_PATH
from dashapp.views.versions_view import versions_panel


def card(title: str, body: Any, extra: Any = None) -> html.Section:
    """A titled white panel."""
    head = html.Div([html.H3(title), extra] if extra is not None else [html.H3(title)], className="card-head")
    return html.Section([head, body], className="card")


def alerts_section() -> html.Div:
    grid = dag.AgGrid(
        id="alerts-grid",
        columnDefs=COLUMN_DEFS,
        defaultColDef=DEFAULT_COL_DEF,
        rowData=[],
        getRowId="params.data.alert_id",
        dashGridOptions={
            "rowSelection": {"mode": "singleRow", "enableClickSelection": True, "checkboxes": False},
            "animateRows": False,
            "tooltipShowDelay": 300,
            # Tab leaves the grid (arrows move between cells, Space picks a row): AG Grid's default
            # walks Tab through every cell of every row, 2,700 presses to reach the note box.
            "tabToNextCell": {"function": "false"},
        },
        className="ag-theme-quartz",
        style={"height": "420px"},
    )
    tools = html.Div(
        [
            dcc.Input(
                id="grid-quick-filter",
                type="search",
                placeholder="Filter alerts…",
                debounce=True,
                className="input",
            ),
            # The server's export (dashapp.views.alerts_csv), not AG Grid's: every alert kept, not only
            # the rows the table holds; numbers as numbers; formula-like cells neutralised (OWASP).
            html.A(
                "Export CSV",
                id="grid-export",
                href=EXPORT_PATH,
                title="Every alert kept, as CSV (Search below narrows it)",
                className="btn btn-ghost",
            ),
        ],
        className="toolbar",
    )
    actions = html.Div(
        className="wf-actions",
        children=[
            dcc.Textarea(
                id="wf-note",
                placeholder="Note (optional, max 1000 characters)",
                maxLength=1000,
                className="input",
                rows=2,
            ),
            html.Div(
                [
                    html.Button("Acknowledge", id="wf-ack", n_clicks=0, className="btn"),
                    html.Button("Assign to me", id="wf-assign", n_clicks=0, className="btn"),
                    html.Button(
                        "Resolve: fraud confirmed", id="wf-resolve-fraud", n_clicks=0, className="btn btn-red"
                    ),
                    html.Button(
                        "Resolve: false positive", id="wf-resolve-fp", n_clicks=0, className="btn btn-ghost"
                    ),
                    html.Button("Reopen", id="wf-reopen", n_clicks=0, className="btn btn-ghost"),
                ],
                className="btn-row",
            ),
            html.Div(id="wf-message", className="message", role="status"),
        ],
    )
    detail = html.Div(
        className="grid-2",
        children=[
            html.Div(
                [
                    html.H4("Selected alert"),
                    html.Div(html.P("Select an alert in the table.", className="muted"), id="alert-detail"),
                    actions,
                ]
            ),
            html.Div([html.H4("History"), html.Div(id="alert-history")]),
        ],
    )
    return html.Div(id="sec-alerts", children=[card("Alerts", html.Div([grid, detail]), extra=tools)])


def pipeline_section() -> html.Div:
    return html.Div(
        id="sec-pipeline",
        className="grid-2",
        children=[
            card(
                "Pipeline health", html.Div(id="health-panel", children=html.P("Loading…", className="muted"))
            ),
            card(
                "Detection quality",
                html.Div(id="quality-panel", children=html.P("Loading…", className="muted")),
            ),
        ],
    )


RULE_TABS = (("rules", "Rules"), ("versions", "Versions"), ("lists", "Lists"))


def _param_editor(admin: bool) -> html.Div:
    """Today's editor of the built-in families' parameters (dashapp/callbacks/rules_cb.py)."""
    note = (
        "Changes apply to every bridge within seconds."
        if admin
        else "Read-only: only admins can change rules."
    )
    buttons = [
        html.Button(
            "Save changes",
            id="rules-save",
            n_clicks=0,
            className="btn",
            style=None if admin else {"display": "none"},
        ),
        html.Button("Reload", id="rules-reload", n_clicks=0, className="btn btn-ghost"),
    ]
    return html.Div(
        [
            html.P(
                [note, " Live version: ", html.Span("\u2013", id="rules-version-label")], className="muted"
            ),
            html.Div(rules_form(editable=admin), id="rules-form", className="rules-form"),
            html.Div(buttons, className="btn-row"),
            html.Div(id="rules-message", className="message", role="status"),
        ]
    )


def rules_section(admin: bool) -> html.Div:
    """Rules: the rule builder, versions and lists tabs; the parameter editor and its audit trail."""
    tabs = html.Div(
        [
            html.Button(
                label,
                id=f"rules-tab-{key}",
                n_clicks=0,
                className="rb-tab" + (" rb-tab-on" if key == "rules" else ""),
            )
            for key, label in RULE_TABS
        ],
        className="rb-tabs",
    )
    panels = [
        html.Div(builder_panel(admin), id="rules-panel-rules", className="rb-panel"),
        html.Div(versions_panel(admin), id="rules-panel-versions", className="rb-panel hidden"),
        html.Div(lists_panel(admin), id="rules-panel-lists", className="rb-panel hidden"),
    ]
    return html.Div(
        id="sec-rules",
        children=[
            card(
                "Rule builder",
                html.Div([tabs, *panels]),
                extra=html.Span(id="rules-tab-shown", className="sr-only"),
            ),
            html.Div(
                className="grid-2",
                children=[
                    card("Built-in rule parameters", _param_editor(admin)),
                    card("Rule change audit trail", html.Div(id="rules-audit")),
                ],
            ),
        ],
    )
