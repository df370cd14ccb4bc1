"""The page layout, built per request for the signed-in user (it holds no stream data)."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
from dash import dcc, html

from dashapp.auth.login import LOGOUT_PATH, csrf_token, current_name, current_role
from dashapp.views.grid import COLUMN_DEFS, DEFAULT_COL_DEF
from dashapp.views.kpis import KPI_CARDS
from dashapp.views.rules_form import rules_form

WINDOWS = (5, 15, 60)  # throughput window choices, minutes
DEFAULT_WINDOW_MIN = 5
DEFAULT_VIEW = {"window_min": DEFAULT_WINDOW_MIN, "paused": False, "quick_filter": ""}
GRAPH_CONFIG: Any = {"displaylogo": False, "responsive": True}


def _header(name: str, role: str) -> html.Header:
    return html.Header(
        className="topbar",
        children=[
            html.Div(
                [
                    html.Span("Fraud monitor", id="app-title", className="brand"),
                    html.Span("data as of \u2013", id="freshness-badge", className="badge badge-grey"),
                ],
                className="topbar-left",
            ),
            html.Nav(
                [
                    html.A(t, href=f"#{a}")
                    for t, a in (
                        ("Live", "sec-live"),
                        ("Alerts", "sec-alerts"),
                        ("Pipeline", "sec-pipeline"),
                        ("Rules", "sec-rules"),
                    )
                ],
                className="topnav",
            ),
            html.Div(
                className="topbar-right",
                children=[
                    html.Span(name, id="current-user", className="user"),
                    html.Span(role, id="current-role", className=f"role role-{role}"),
                    html.Form(
                        id="logout-form",
                        action=LOGOUT_PATH,
                        method="POST",
                        children=[
                            dcc.Input(type="hidden", name="csrf_token", value=csrf_token() if name else ""),
                            html.Button(
                                "Log out", id="logout-button", type="submit", className="btn btn-ghost"
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


def _card(title: str, body: Any, section_id: str | None = None, extra: Any = None) -> html.Section:
    head = html.Div([html.H3(title), extra] if extra is not None else [html.H3(title)], className="card-head")
    return html.Section([head, body], className="card", id=section_id or "")


def _controls() -> html.Div:
    return html.Div(
        className="controls",
        children=[
            html.Span("Throughput window", className="muted"),
            dcc.RadioItems(
                id="window-select",
                options=[{"label": f"{m} min", "value": m} for m in WINDOWS],
                value=DEFAULT_WINDOW_MIN,
                inline=True,
                className="radio",
            ),
            html.Button("Pause charts", id="pause-toggle", n_clicks=0, className="btn btn-ghost"),
        ],
    )


def _live() -> html.Div:
    kpis = html.Div(
        [
            html.Div(
                [
                    html.Div(label, className="kpi-label"),
                    html.Div("\u2013", id=elem_id, className="kpi-value"),
                ],
                className="kpi",
            )
            for _, elem_id, label in KPI_CARDS
        ],
        className="kpis",
        id="kpi-row",
    )
    return html.Div(
        id="sec-live",
        children=[
            kpis,
            _controls(),
            html.Div(
                className="grid-2",
                children=[
                    _card(
                        "Amounts (alerts in red)",
                        dcc.Graph(id="timeline-graph", config=GRAPH_CONFIG, className="graph"),
                    ),
                    _card(
                        "Throughput", dcc.Graph(id="throughput-graph", config=GRAPH_CONFIG, className="graph")
                    ),
                    _card(
                        "Alerts by rule", dcc.Graph(id="rules-graph", config=GRAPH_CONFIG, className="graph")
                    ),
                    _card(
                        "Transactions and alerts by city",
                        dcc.Graph(id="city-map", config=GRAPH_CONFIG, className="graph"),
                    ),
                ],
            ),
        ],
    )


def _alerts() -> html.Div:
    grid = dag.AgGrid(
        id="alerts-grid",
        columnDefs=COLUMN_DEFS,
        defaultColDef=DEFAULT_COL_DEF,
        rowData=[],
        getRowId="params.data.alert_id",
        csvExportParams={"fileName": "alerts.csv"},
        dashGridOptions={
            "rowSelection": {"mode": "singleRow", "enableClickSelection": True, "checkboxes": False},
            "animateRows": False,
            "tooltipShowDelay": 300,
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
            html.Button("Export CSV", id="grid-export", n_clicks=0, className="btn btn-ghost"),
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
    return html.Div(id="sec-alerts", children=[_card("Alerts", html.Div([grid, detail]), extra=tools)])


def _pipeline() -> html.Div:
    return html.Div(
        id="sec-pipeline",
        className="grid-2",
        children=[
            _card(
                "Pipeline health", html.Div(id="health-panel", children=html.P("Loading…", className="muted"))
            ),
            _card(
                "Detection quality",
                html.Div(id="quality-panel", children=html.P("Loading…", className="muted")),
            ),
        ],
    )


def _rules(admin: bool) -> html.Div:
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
    editor = html.Div(
        [
            html.P(
                [note, " Live version: ", html.Span("\u2013", id="rules-version-label")], className="muted"
            ),
            html.Div(rules_form(editable=admin), id="rules-form", className="rules-form"),
            html.Div(buttons, className="btn-row"),
            html.Div(id="rules-message", className="message", role="status"),
        ]
    )
    return html.Div(
        id="sec-rules",
        className="grid-2",
        children=[
            _card("Detection rules", editor),
            _card("Rule change audit trail", html.Div(id="rules-audit")),
        ],
    )


def _stores(poll_ms: int) -> list[Any]:
    return [
        dcc.Interval(id="refresh-interval", interval=poll_ms, n_intervals=0),
        dcc.Store(id="view-state", storage_type="local", data=DEFAULT_VIEW),
        dcc.Store(id="tick-state", storage_type="memory"),
        dcc.Store(id="freshness-store", storage_type="memory"),
        dcc.Store(id="banner-count-store", storage_type="memory", data=0),
        dcc.Store(id="page-visibility", storage_type="memory", data="visible"),
        dcc.Store(id="selected-alert", storage_type="memory"),
        dcc.Store(id="rules-version", storage_type="memory"),
    ]


def build_layout(poll_ms: int) -> html.Div:
    """The whole page for the current user; role decides whether the rule editor is editable."""
    name, role = current_name(), current_role()
    return html.Div(
        className="app",
        children=[
            _header(name, role),
            html.Div(
                id="red-alert-banner",
                className="red-alert hidden",
                role="alert",
            ),
            html.Div(id="red-alert-message", className="message warn", role="status"),
            html.Main(
                className="content", children=[_live(), _alerts(), _pipeline(), _rules(role == "admin")]
            ),
            *_stores(poll_ms),
        ],
    )
