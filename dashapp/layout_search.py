"""The alert search section: filter form, paginated results, my queue, bulk actions, card history."""

from __future__ import annotations

import dash_ag_grid as dag
from dash import dcc, html
from dash.development.base_component import Component

from common.alerts import STATUSES
from dashapp.layout_panels import card
from dashapp.store.search_query import OPEN
from dashapp.store.workflow import MAX_NOTE_CHARS
from dashapp.views.rules_form import RULE_LABELS
from dashapp.views.search import EXPORT_PATH, ROW_CLASS_RULES, SEARCH_COLUMNS
from dashapp.views.search_time import TIME_HINT, TIME_PLACEHOLDER
from dashapp.views.wording import status_word

BULK_ACTIONS = {
    "acknowledge": "Acknowledge",
    "assign_to_me": "Assign to me",
    "resolve_fraud": "Resolve: fraud confirmed",
    "resolve_false_positive": "Resolve: false positive",
}
PAGE_ROWS = 50


def _field(label: str, control: Component) -> html.Label:
    return html.Label([html.Span(label, className="search-label"), control], className="search-field")


def _text(elem_id: str, placeholder: str) -> dcc.Input:
    return dcc.Input(id=elem_id, type="text", placeholder=placeholder, maxLength=128, className="input")


def _time_field(label: str, elem_id: str) -> html.Div:
    """A time input showing the format it takes (not a sample date that reads as a value already
    typed), and the place its inline error appears (a polite status: the page's one role=alert is
    the RED ALERT bar)."""
    box = dcc.Input(id=elem_id, type="text", placeholder=TIME_PLACEHOLDER, maxLength=40, className="input")
    return html.Div(
        [
            _field(label, box),
            html.Div(id=f"{elem_id}-error", className="field-error", role="status"),
        ],
        className="search-time",
    )


def _form() -> html.Div:
    statuses = [{"label": "Any", "value": ""}, {"label": "Open (not resolved)", "value": OPEN}]
    statuses += [{"label": status_word(s), "value": s} for s in STATUSES]
    rules = [{"label": "Any", "value": ""}] + [{"label": v, "value": k} for k, v in RULE_LABELS.items()]
    return html.Div(
        className="search-form",
        children=[
            _field("Card", _text("search-card", "card id")),
            _field("Alert id", _text("search-alert-id", "alert id")),
            _field("Merchant", _text("search-merchant", "merchant id")),
            _field("Assignee", _text("search-assignee", "analyst")),
            _field("Status", dcc.Dropdown(id="search-status", options=statuses, value="", clearable=False)),
            _field("Rule", dcc.Dropdown(id="search-rule", options=rules, value="", clearable=False)),
            _time_field("From (UTC)", "search-since"),
            _time_field("To (UTC)", "search-until"),
            _field(
                "Order",
                dcc.RadioItems(
                    id="search-order",
                    options=[
                        {"label": "Newest first", "value": "newest"},
                        {"label": "Oldest", "value": "oldest"},
                    ],
                    value="newest",
                    inline=True,
                    className="radio",
                ),
            ),
            html.P(TIME_HINT, className="muted search-hint"),
            html.Div(
                [
                    html.Button("Search", id="search-go", n_clicks=0, className="btn"),
                    html.Button("My queue", id="search-my-queue", n_clicks=0, className="btn btn-ghost"),
                    html.A("Export CSV", id="search-export", href=EXPORT_PATH, className="btn btn-ghost"),
                ],
                className="btn-row",
            ),
        ],
    )


def _bulk() -> html.Div:
    return html.Div(
        className="search-bulk",
        children=[
            dcc.Dropdown(
                id="bulk-action",
                options=[{"label": v, "value": k} for k, v in BULK_ACTIONS.items()],
                value="acknowledge",
                clearable=False,
                className="bulk-action",
            ),
            dcc.Checklist(
                id="bulk-all",
                options=[
                    {"label": " every alert matching the search (not only the selected rows)", "value": "all"}
                ],
                value=[],
            ),
            dcc.Textarea(
                id="bulk-note",
                placeholder="One note for every alert (optional)",
                maxLength=MAX_NOTE_CHARS,
                rows=2,
                className="input",
            ),
            html.Button("Apply to alerts", id="bulk-apply", n_clicks=0, className="btn"),
            html.Div(id="bulk-result", className="message", role="status"),
        ],
    )


def search_section() -> html.Div:
    """The section's whole markup; its callbacks are in dashapp/callbacks/search_cb.py."""
    grid = dag.AgGrid(
        id="search-grid",
        columnDefs=SEARCH_COLUMNS,
        defaultColDef={"sortable": False, "resizable": True, "flex": 1, "minWidth": 90},
        rowData=[],
        getRowId="params.data.alert_id",
        rowClassRules=ROW_CLASS_RULES,
        dashGridOptions={
            "rowSelection": {"mode": "multiRow", "checkboxes": True, "headerCheckbox": True},
            "pagination": True,
            "paginationPageSize": PAGE_ROWS,
            "paginationPageSizeSelector": False,
            "animateRows": False,
            "tooltipShowDelay": 300,
            # Tab leaves the grid (arrows move between cells, Space picks a row): AG Grid's default
            # walks Tab through every cell of every row, 2,700 presses to reach the note box.
            "tabToNextCell": {"function": "false"},
        },
        className="ag-theme-quartz",
        style={"height": "460px"},
    )
    results = html.Div(
        [
            html.Div(id="search-summary", className="muted", role="status"),
            grid,
            html.Div(id="search-retention", className="muted"),
        ]
    )
    return html.Div(
        id="sec-search",
        children=[
            card("Search alerts", html.Div([_form(), html.Div(id="search-message", className="message")])),
            # Results take the full width: in half of it the time, card and amount (with its
            # currency) were cut off at 1400 px.
            card("Results", results),
            html.Div(
                className="grid-2",
                children=[
                    card("Bulk action", _bulk()),
                    card("Card history", html.Div(id="search-card-history")),
                ],
            ),
            dcc.Store(id="search-query", storage_type="memory"),
        ],
    )
