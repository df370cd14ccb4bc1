"""RED ALERT bar: the count of unacknowledged high-severity alerts and the newest ones, until acknowledged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import html

from dashapp.store.alert_rows import AlertRow, Banner
from dashapp.views.wording import format_money

HIDDEN, SHOWN = "red-alert hidden", "red-alert"


def _item(row: AlertRow, labels: Mapping[str, str]) -> html.Li:
    reasons = "; ".join(r.text for r in row.reasons[:4]) or ", ".join(labels.get(r, r) for r in row.rules)
    return html.Li(
        className="red-alert-item",
        children=[
            # the whole text is one button: a click (or Enter) opens the alert in the detail panel
            html.Button(
                id={"type": "banner-open", "alert": row.alert_id},
                className="ra-open",
                n_clicks=0,
                title="Open this alert",
                children=[
                    html.Span(format_money(row.amount, row.currency), className="ra-amount"),
                    html.Span(row.city, className="ra-city"),
                    html.Span(f"card {row.card_id}", className="ra-card"),
                    html.Span(reasons, className="ra-reasons"),
                ],
            ),
            html.Button(
                "Acknowledge",
                id={"type": "banner-ack", "alert": row.alert_id, "v": row.version},
                className="btn btn-light btn-small ra-ack",
                n_clicks=0,
            ),
        ],
    )


def banner_view(banner: Banner, labels: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    """Return (content, className): content is rendered in the browser by assets/app.js (bannerShow).

    The browser holds a new content back while the pointer is over the bar, so a row never moves
    under a click aimed at it; the className (shown or hidden) applies at once.
    """
    if banner.count <= 0:
        return {"count": 0, "head": [], "items": []}, HIDDEN
    head = [
        html.Strong("RED ALERT", className="ra-title"),
        html.Span(
            f"{banner.count} unacknowledged high-severity alert{'s' if banner.count != 1 else ''}",
            id="red-alert-count",
        ),
    ]
    items = [_item(r, labels) for r in banner.newest]
    return {"count": banner.count, "head": head, "items": items}, SHOWN


def banner_digest(banner: Banner) -> str:
    """Identity of what the banner shows: resend only when it changes."""
    return f"{banner.count}|" + ",".join(f"{r.alert_id}:{r.version}" for r in banner.newest)
