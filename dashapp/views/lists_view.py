"""The Lists tab: list names with sizes, one page of a list's entries, add/remove, CSV, audit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dash import dcc, html

PAGE_ENTRIES = 50  # entries sent to the browser at once (a list may hold 1,000,000)
REMOVE = "lst-remove"  # {"type": REMOVE, "value": v}
UPLOAD_MAX_BYTES = 8 * 1024 * 1024  # dcc.Upload refuses a bigger file in the browser


def page_of(
    rows: Iterable[tuple[str, Any]], page: int, contains: str = ""
) -> tuple[list[tuple[str, Any]], int, int]:
    """(the entries of `page`, the page shown, how many entries match) from (value, entry) pairs.

    Only the page leaves the server; `contains` keeps values with that text (case-insensitive).
    A page past the end shows the last one.
    """
    needle = contains.strip().lower()
    matching = [r for r in rows if needle in r[0].lower()] if needle else list(rows)
    total = len(matching)
    last = max(0, (total - 1) // PAGE_ENTRIES)
    page = min(max(0, page), last)
    return matching[page * PAGE_ENTRIES : (page + 1) * PAGE_ENTRIES], page, total


def list_options(infos: Iterable[Any]) -> list[dict[str, str]]:
    """Dropdown options `name (12,345 entries)` from ListInfo-like objects (name, count)."""
    return [
        {"label": f"{i.name} ({i.count:,} entr{'y' if i.count == 1 else 'ies'})", "value": i.name}
        for i in infos
    ]


def entries_table(rows: Sequence[tuple[str, Any]], admin: bool, expiry: Any) -> list[Any]:
    """One page of entries: value, expiry (UTC), note, who and when, and a remove button (admins)."""
    if not rows:
        return [html.P("No entries.", className="muted")]
    head = ["value", "expires (UTC)", "note", "by", "at (UTC)", ""]
    body = []
    for value, e in rows:
        tools = (
            html.Button(
                "Remove",
                id={"type": REMOVE, "value": value},
                n_clicks=0,
                className="btn btn-ghost btn-small",
                title=f"Remove {value}",
            )
            if admin
            else ""
        )
        body.append(
            html.Tr(
                [
                    html.Td(html.Code(value)),
                    html.Td(expiry(e.expires_ms) or "never"),
                    html.Td(e.note),
                    html.Td(e.by),
                    html.Td(str(e.at)[:19].replace("T", " ")),
                    html.Td(tools),
                ]
            )
        )
    return [
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
            className="table",
            id="lst-table",
        )
    ]


def audit_table(entries: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The list changes, newest first: when, who, list, what, how many, comment."""
    if not entries:
        return [html.P("No list changes yet.", className="muted")]
    head = ["when (UTC)", "who", "list", "action", "entries", "values", "comment"]
    body = [
        html.Tr(
            [
                html.Td(str(e.get("when", ""))[:19].replace("T", " ")),
                html.Td(str(e.get("who", ""))),
                html.Td(str(e.get("list", ""))),
                html.Td(str(e.get("action", ""))),
                html.Td(str(e.get("count", ""))),
                html.Td(", ".join(str(v) for v in e.get("values", []) or [])[:120]),
                html.Td(str(e.get("comment", ""))),
            ]
        )
        for e in entries
    ]
    return [
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
            className="table",
            id="lst-audit-table",
        )
    ]


def _field(label: str, control: Any, cls: str = "") -> html.Label:
    return html.Label([html.Span(label, className="rb-label"), control], className=f"rb-part {cls}".strip())


def _text(elem_id: str, placeholder: str = "", max_length: int = 200) -> dcc.Input:
    return dcc.Input(
        id=elem_id, type="text", value="", maxLength=max_length, placeholder=placeholder, className="rb-text"
    )


def lists_panel(admin: bool) -> html.Div:
    """The tab's markup (callbacks: dashapp/callbacks/lists_cb.py); admin controls hidden for analysts."""
    hide = "" if admin else " hidden"
    picker = html.Div(
        [
            _field(
                "List",
                dcc.Dropdown(id="lst-name", options=[], value=None, clearable=False, className="rb-select"),
            ),
            html.Div(
                [
                    _field("New list name", _text("lst-new", "e.g. deny_cards", 48)),
                    html.Button(
                        "Create list", id="lst-create", n_clicks=0, className="btn btn-ghost btn-small"
                    ),
                ],
                className="rb-inline" + hide,
            ),
        ],
        className="rb-inline",
    )
    add = html.Div(
        [
            _field("Value", _text("lst-value", "e.g. C-000123", 100)),
            _field("Expires (UTC, optional)", _text("lst-expires", "2026-12-31T18:00:00Z", 40)),
            _field("Note (optional)", _text("lst-note", "why", 200)),
            html.Button("Add entry", id="lst-add", n_clicks=0, className="btn btn-small"),
        ],
        className="rb-inline" + hide,
    )
    csv_tools = html.Div(
        [
            html.Label(  # the label names Upload's file input (axe: every input labelled)
                [
                    html.Span("Import CSV (value,expires_at,note)", className="rb-label"),
                    dcc.Upload(
                        id="lst-upload",
                        children=html.Span("drop a file here or click", className="lst-upload-text"),
                        max_size=UPLOAD_MAX_BYTES,
                        className="lst-upload",
                    ),
                ],
                className="rb-part" + hide,
            ),
            html.Button("Export CSV", id="lst-export", n_clicks=0, className="btn btn-ghost btn-small"),
            dcc.Download(id="lst-download"),
        ],
        className="rb-inline",
    )
    pager = html.Div(
        [
            _field("Find values containing", _text("lst-filter", "text", 100)),
            html.Button("Previous page", id="lst-prev", n_clicks=0, className="btn btn-ghost btn-small"),
            html.Span(id="lst-page-label", className="muted", role="status"),
            html.Button("Next page", id="lst-next", n_clicks=0, className="btn btn-ghost btn-small"),
        ],
        className="rb-inline",
    )
    return html.Div(
        [
            picker,
            add,
            csv_tools,
            html.Div(id="lst-message", className="message", role="status"),
            pager,
            html.Div(id="lst-entries"),
            html.H4("List changes"),
            html.Div(id="lst-audit"),
            dcc.Store(id="lst-page", storage_type="memory", data=0),
            dcc.Store(id="lst-changed", storage_type="memory", data=0),
        ]
    )
