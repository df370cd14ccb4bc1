"""Live amount timeline: every recent transaction, alerts overlaid as red markers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from common.alerts import Alert
from dashapp.figures.base import BLUE, RED, base_layout, esc
from dashapp.store.models import TxnRow

TXN_TRACE, ALERT_TRACE = 0, 1


def txn_hover(row: TxnRow) -> str:
    """Hover text of one transaction."""
    return f"${row.amount:,.2f} · card {esc(row.card_id)}<br>{esc(row.city)} · {esc(row.merchant_category)}"


def alert_hover(alert: Alert) -> str:
    """Hover text of one alert: amount, card, city and every reason."""
    reasons = "<br>".join(f"• {esc(r.text)}" for r in alert.reasons[:6])
    return (
        f"<b>ALERT {esc(alert.severity)}</b> score {alert.score:.2f}<br>${alert.amount:,.2f} · "
        f"card {esc(alert.card_id)}<br>{esc(alert.city)}<br>{reasons}"
    )


def _columns(txns: Sequence[TxnRow], alerts: Sequence[Alert]) -> dict[str, list[list[Any]]]:
    return {
        "x": [[t.ts for t in txns], [a.ts for a in alerts]],
        "y": [[t.amount for t in txns], [a.amount for a in alerts]],
        "text": [[txn_hover(t) for t in txns], [alert_hover(a) for a in alerts]],
    }


def timeline_figure(txns: Sequence[TxnRow], alerts: Sequence[Alert]) -> dict[str, Any]:
    """Full figure (first render): one trace of transactions, one of alerts."""
    cols = _columns(txns, alerts)
    common = {"type": "scatter", "hovertemplate": "%{text}<extra></extra>"}
    data = [
        {
            **common,
            "name": "Transactions",
            "mode": "markers",
            "x": cols["x"][0],
            "y": cols["y"][0],
            "text": cols["text"][0],
            "marker": {"color": BLUE, "size": 5, "opacity": 0.55},
        },
        {
            **common,
            "name": "Alerts",
            "mode": "markers",
            "x": cols["x"][1],
            "y": cols["y"][1],
            "text": cols["text"][1],
            "marker": {
                "color": RED,
                "size": 10,
                "symbol": "diamond",
                "line": {"color": "#7f1d1d", "width": 1},
            },
        },
    ]
    layout = base_layout(
        yaxis={"title": {"text": "amount ($)"}, "type": "log", "gridcolor": "#e2e8f0"},
        xaxis={"type": "date", "gridcolor": "#e2e8f0"},
    )
    return {"data": data, "layout": layout}


def timeline_delta(txns: Sequence[TxnRow], alerts: Sequence[Alert], max_points: int) -> list[Any] | None:
    """extendData payload [columns, trace indices, max points], or None when nothing is new."""
    if not txns and not alerts:
        return None
    return [_columns(txns, alerts), [TXN_TRACE, ALERT_TRACE], max_points]
