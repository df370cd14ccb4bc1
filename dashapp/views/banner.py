"""RED ALERT banner: unacknowledged high-severity alerts, newest on top, until acknowledged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from dashapp.store.alert_rows import AlertRow, Banner

HIDDEN, SHOWN = "red-alert hidden", "red-alert"


def _item(row: AlertRow, labels: Mapping[str, str]) -> html.Li:
    reasons = "; ".join(r.text for r in row.reasons[:4]) or ", ".join(labels.get(r, r) for r in row.rules)
    return html.Li(
        className="red-alert-item",
        children=[
            html.Span(f"${row.amount:,.2f}", className="ra-amount"),
            html.Span(row.city, className="ra-city"),
            html.Span(f"card {row.card_id}", className="ra-card"),
            html.Span(reasons, className="ra-reasons"),
            html.Button(
                "Acknowledge",
                id={"type": "banner-ack", "alert": row.alert_id, "v": row.version},
                className="btn btn-light btn-small",
                n_clicks=0,
            ),
        ],
    )


def banner_view(banner: Banner, labels: Mapping[str, str]) -> tuple[list[Any], str]:
    """Return (children, className); hidden only when nothing is waiting for acknowledgement."""
    if banner.count <= 0:
        return [], HIDDEN
    head = html.Div(
        className="red-alert-head",
        children=[
            html.Strong("RED ALERT", className="ra-title"),
            html.Span(
                f"{banner.count} unacknowledged high-severity alert{'s' if banner.count != 1 else ''}",
                id="red-alert-count",
            ),
        ],
    )
    items = [_item(r, labels) for r in banner.newest]
    return [head, html.Ul(items, id="red-alert-list")], SHOWN


def banner_digest(banner: Banner) -> str:
    """Identity of what the banner shows: resend only when it changes."""
    return f"{banner.count}|" + ",".join(f"{r.alert_id}:{r.version}" for r in banner.newest)
