"""The Webhooks section (admins): endpoints with add/disable/delete, the delivery log, dead letters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dash import dcc, html

TOGGLE = "wh-toggle"  # {"type": TOGGLE, "id": endpoint id}
DELETE = "wh-delete"  # {"type": DELETE, "id": endpoint id}
EDIT = "wh-edit"  # {"type": EDIT, "id": endpoint id}: its values into the form, saved in place
FORM_DEFAULTS = ("", "", "json", "high", "", ["alert.raised"])  # name, url, format, severity, rules, events
LOG_ROWS = 50


def _when(ms: Any) -> str:
    if not isinstance(ms, int) or ms <= 0:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table(elem_id: str, head: Sequence[str], rows: list[html.Tr], empty: str) -> list[Any]:
    if not rows:
        return [html.P(empty, className="muted")]
    return [
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(rows)], className="table", id=elem_id
        )
    ]


def _subscription(e: Mapping[str, Any]) -> str:
    rules = ", ".join(e.get("rules") or []) or "any rule"
    return f"{', '.join(e.get('events') or [])}; severity \u2265 {e.get('min_severity')}; {rules}"


def endpoints_table(endpoints: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Endpoints (public fields only, never a secret): dashboard ones get Disable/Enable, Edit, Delete."""
    rows = []
    for e in endpoints:
        ident, enabled = str(e.get("id")), bool(e.get("enabled"))
        tools: Any = "from file"
        if e.get("source") != "file":
            tools = html.Div(
                [
                    html.Button(
                        "Disable" if enabled else "Enable",
                        id={"type": TOGGLE, "id": ident},
                        n_clicks=0,
                        className="btn btn-ghost btn-small",
                        title=f"{'Disable' if enabled else 'Enable'} {e.get('name')}",
                    ),
                    html.Button(
                        "Edit",
                        id={"type": EDIT, "id": ident},
                        n_clicks=0,
                        className="btn btn-ghost btn-small",
                        title=f"Edit {e.get('name')}",
                    ),
                    html.Button(
                        "Delete",
                        id={"type": DELETE, "id": ident},
                        n_clicks=0,
                        className="btn btn-ghost btn-small",
                        title=f"Delete {e.get('name')}",
                    ),
                ],
                className="btn-row",
            )
        rows.append(
            html.Tr(
                [
                    html.Td(str(e.get("name"))),
                    html.Td(html.Code(ident)),
                    html.Td(str(e.get("url"))[:80]),
                    html.Td(str(e.get("format"))),
                    html.Td(_subscription(e)),
                    html.Td("enabled" if enabled else "disabled"),
                    html.Td(tools),
                ]
            )
        )
    head = ["name", "id", "url", "format", "subscription", "state", ""]
    return _table("wh-endpoints-table", head, rows, "No webhook endpoints yet.")


def deliveries_table(rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The newest deliveries: endpoint, event, status, attempts, last error, times."""
    body = [
        html.Tr(
            [
                html.Td(str(d.get("endpoint_name") or d.get("endpoint_id"))),
                html.Td(html.Code(str(d.get("event_id")))),
                html.Td(str(d.get("status")), className=f"wh-status wh-{d.get('status')}"),
                html.Td(str(d.get("attempts"))),
                html.Td(str(d.get("last_error") or "")[:160]),
                html.Td(_when(d.get("first_ms"))),
                html.Td(_when(d.get("last_ms"))),
                html.Td(_when(d.get("next_ms"))),
            ]
        )
        for d in rows
    ]
    head = [
        "endpoint",
        "event",
        "status",
        "attempts",
        "last error",
        "first (UTC)",
        "last (UTC)",
        "next (UTC)",
    ]
    return _table("wh-log-table", head, body, "No deliveries yet.")


def dead_table(rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The newest dead letters (Replay dead letters queues them for delivery again)."""
    body = [
        html.Tr(
            [
                html.Td(_when(d.get("at_ms"))),
                html.Td(str(d.get("endpoint_name") or d.get("endpoint_id"))),
                html.Td(html.Code(str(d.get("event_id")))),
                html.Td(str(d.get("attempts"))),
                html.Td(str(d.get("last_error") or "")[:160]),
            ]
        )
        for d in rows
    ]
    return _table(
        "wh-dead-table", ["at (UTC)", "endpoint", "event", "attempts", "last error"], body, "No dead letters."
    )


def stats_line(stats: Mapping[str, int]) -> str:
    """One line of counters."""
    names = ("delivered", "failed_attempts", "dead", "dead_dropped", "invalid_records")
    return " \u00b7 ".join(f"{n.replace('_', ' ')}: {stats.get(n, 0):,}" for n in names)


def _field(label: str, control: Any) -> html.Label:
    return html.Label([html.Span(label, className="rb-label"), control], className="rb-part")


def webhooks_panel() -> html.Div:
    """The section's markup (callbacks: dashapp/callbacks/webhooks_cb.py); the page hides it from analysts."""
    form = html.Div(
        [
            _field("Name", dcc.Input(id="wh-name", type="text", value="", maxLength=80, className="rb-text")),
            _field(
                "URL",
                dcc.Input(
                    id="wh-url",
                    type="url",
                    value="",
                    maxLength=2000,
                    placeholder="https://",
                    className="rb-text",
                ),
            ),
            _field(
                "Format",
                dcc.Dropdown(
                    id="wh-format",
                    options=[
                        {"label": "signed JSON", "value": "json"},
                        {"label": "Slack text", "value": "slack"},
                    ],
                    value="json",
                    clearable=False,
                    className="rb-select",
                ),
            ),
            _field(
                "Minimum severity",
                dcc.Dropdown(
                    id="wh-severity",
                    options=[{"label": s, "value": s} for s in ("low", "medium", "high")],
                    value="high",
                    clearable=False,
                    className="rb-select",
                ),
            ),
            _field(
                "Only these rules (optional)",
                dcc.Input(
                    id="wh-rules",
                    type="text",
                    value="",
                    maxLength=500,
                    placeholder="high_amount, velocity",
                    className="rb-text",
                ),
            ),
            html.Fieldset(
                [
                    html.Legend("Events", className="rb-label"),
                    dcc.Checklist(
                        id="wh-events",
                        options=[
                            {"label": "alerts", "value": "alert.raised"},
                            {"label": "resolutions", "value": "alert.resolved"},
                        ],
                        value=["alert.raised"],
                        inline=True,
                    ),
                ],
                className="rb-part",
            ),
            html.Button("Add endpoint", id="wh-add", n_clicks=0, className="btn btn-small"),
            # shown while an endpoint is being edited: back to adding, form cleared
            html.Button(
                "Cancel edit", id="wh-cancel", n_clicks=0, className="btn btn-ghost btn-small", hidden=True
            ),
            dcc.Store(id="wh-editing", storage_type="memory"),  # the id being edited, or None
        ],
        className="rb-inline",
    )
    return html.Div(
        [
            form,
            html.Div(id="wh-message", className="message", role="status"),
            html.Div(id="wh-endpoints"),
            html.Div(
                [
                    html.H4("Deliveries"),
                    html.Button("Refresh", id="wh-refresh", n_clicks=0, className="btn btn-ghost btn-small"),
                    html.Span(id="wh-stats", className="muted"),
                ],
                className="rb-inline",
            ),
            html.Div(id="wh-log"),
            html.Div(
                [
                    html.H4("Dead letters"),
                    # moved to the notifiers' replay queue: each is attempted again, signed afresh
                    html.Button(
                        "Replay dead letters", id="wh-replay", n_clicks=0, className="btn btn-ghost btn-small"
                    ),
                ],
                className="rb-inline",
            ),
            html.Div(id="wh-dead"),
            dcc.Store(id="wh-changed", storage_type="memory", data=0),
        ]
    )
