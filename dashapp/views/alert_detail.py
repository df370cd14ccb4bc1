"""Selected alert: its facts, reasons and full workflow history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from dash import html

from dashapp.store.alert_rows import AlertRow
from dashapp.views.wording import action_word, format_money, status_word


def _when(ms: object) -> str:
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(ms)


def detail_view(row: AlertRow) -> list[Any]:
    """Facts of one alert as a definition list."""
    facts = [
        ("Alert", row.alert_id),
        ("Time", row.ts),
        ("Card", row.card_id),
        ("Account", row.account_id),
        ("Amount", format_money(row.amount, row.currency)),
        ("Merchant", f"{row.merchant_id} ({row.merchant_category})"),
        ("City", f"{row.city} {row.country or ''}".strip()),
        ("Channel", row.channel),
        ("Score", f"{row.score:.3f} ({row.severity})"),
        ("Status", status_word(row.status)),
        ("Assignee", row.assignee or "\u2013"),
        ("Version", str(row.version)),
    ]
    return [
        html.Dl([part for k, v in facts for part in (html.Dt(k), html.Dd(v))], className="facts"),
        html.H4("Reasons"),
        html.Ul([html.Li(r.text) for r in row.reasons]),
    ]


def history_view(events: Sequence[Mapping[str, object]]) -> list[Any]:
    """Workflow events oldest first; every field rendered as text."""
    if not events:
        return [html.P("No actions yet.", className="muted")]
    items = [
        html.Li(
            [
                html.Span(_when(e.get("at")), className="hist-when"),
                html.Strong(f" {e.get('by', '?')} "),
                html.Span(
                    f"{action_word(e.get('action', '?'))}: "
                    f"{status_word(e.get('from_status', '?'))} → {status_word(e.get('to_status', '?'))}"
                ),
                html.Div(str(e.get("note")), className="hist-note") if e.get("note") else None,
            ]
        )
        for e in events
    ]
    return [html.Ol(items, className="history")]
