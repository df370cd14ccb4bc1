"""Live amount timeline in US dollars: every recent transaction, alerts overlaid as red markers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from common.alerts import Alert
from common.money import shown, to_usd
from dashapp.figures.base import BLUE, RED, base_layout, esc
from dashapp.figures.time_axis import time_axis
from dashapp.store.models import TxnRow

TXN_TRACE, ALERT_TRACE = 0, 1


def txn_hover(row: TxnRow, rates: Mapping[str, float]) -> str:
    """Hover text of one transaction: its amount in its own currency and in dollars."""
    amount = shown(row.amount, row.currency, to_usd(row.amount, row.currency, rates), rates)
    return f"{esc(amount)} · card {esc(row.card_id)}<br>{esc(row.city)} · {esc(row.merchant_category)}"


def alert_hover(alert: Alert, rates: Mapping[str, float]) -> str:
    """Hover text of one alert: amount (its currency and dollars), card, city and every reason."""
    reasons = "<br>".join(f"• {esc(r.text)}" for r in alert.reasons[:6])
    amount = shown(alert.amount, alert.currency, to_usd(alert.amount, alert.currency, rates), rates)
    return (
        f"<b>ALERT {esc(alert.severity)}</b> score {alert.score:.2f}<br>{esc(amount)} · "
        f"card {esc(alert.card_id)}<br>{esc(alert.city)}<br>{reasons}"
    )


def _columns(
    txns: Sequence[TxnRow], alerts: Sequence[Alert], rates: Mapping[str, float]
) -> dict[str, list[list[Any]]]:
    # y in US dollars at the rules' rates, so a KRW and a USD payment share one axis honestly
    return {
        "x": [[t.ts for t in txns], [a.ts for a in alerts]],
        "y": [
            [to_usd(t.amount, t.currency, rates) for t in txns],
            [to_usd(a.amount, a.currency, rates) for a in alerts],
        ],
        "text": [[txn_hover(t, rates) for t in txns], [alert_hover(a, rates) for a in alerts]],
    }


def timeline_figure(
    txns: Sequence[TxnRow], alerts: Sequence[Alert], rates: Mapping[str, float]
) -> dict[str, Any]:
    """Full figure (first render): one trace of transactions, one of alerts; `rates` are the live
    rules' `currency` table (US dollars per unit; a currency without a rate is plotted as it is)."""
    cols = _columns(txns, alerts, rates)
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
        yaxis={"title": {"text": "amount (USD)"}, "type": "log", "gridcolor": "#e2e8f0"},
        xaxis=time_axis(),
    )
    return {"data": data, "layout": layout}


def timeline_delta(
    txns: Sequence[TxnRow], alerts: Sequence[Alert], max_points: int, rates: Mapping[str, float]
) -> list[Any] | None:
    """extendData payload [columns, trace indices, max points], or None when nothing is new."""
    if not txns and not alerts:
        return None
    return [_columns(txns, alerts, rates), [TXN_TRACE, ALERT_TRACE], max_points]
