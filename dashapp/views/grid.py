"""The alerts table: AG Grid column definitions and flat rows (text only, no HTML renderers)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from common.alerts import Alert
from dashapp.store.alert_rows import AlertRow
from dashapp.views.wording import format_money, status_word

# One severity look for every alert table (this grid and the search results): the colour classes
# are in assets/style.css, with contrast checked by axe.
SEVERITY_COLUMN: dict[str, Any] = {
    "field": "severity",
    "headerName": "Severity",
    "minWidth": 80,
    "cellClassRules": {"sev-high": "params.value === 'high'", "sev-medium": "params.value === 'medium'"},
}
COLUMN_DEFS: list[dict[str, Any]] = [
    {"field": "time", "headerName": "Time (UTC)", "sort": "desc", "minWidth": 160},
    {"field": "card", "headerName": "Card", "minWidth": 96},  # "C0012345"
    {
        "field": "amount",
        "headerName": "Amount",
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        # the amount with its currency, as the server wrote it; sorting and filtering use the number
        "valueFormatter": {"function": "params.data ? params.data.amount_text : params.value"},
        "minWidth": 135,  # "13,488,824 KRW", "1,234,567.89 EUR": the currency must stay visible at 1280 px
    },
    {"field": "city", "headerName": "City", "minWidth": 168},  # "UNKNOWN_IP_ADDR", "San Francisco"
    # two rule names whole ("High amount, Unknown location"); more show in the tooltip
    {"field": "rules", "headerName": "Rules", "minWidth": 224, "tooltipField": "reasons"},
    {
        "field": "score",
        "headerName": "Score",
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        "valueFormatter": {"function": "d3.format('.2f')(params.value)"},
        "minWidth": 64,
    },
    SEVERITY_COLUMN,
    {
        "field": "status",
        "headerName": "Status",
        "valueFormatter": {"function": "params.data ? params.data.status_text : params.value"},
        "useValueFormatterForQuickFilter": True,
        "minWidth": 172,  # "Resolved: false positive"
    },
    {"field": "assignee", "headerName": "Assignee", "minWidth": 88},
]
DEFAULT_COL_DEF = {
    "sortable": True,
    "filter": True,
    "resizable": True,
    "floatingFilter": True,
    "flex": 1,
    "minWidth": 90,
}


def _time(ts: str) -> str:
    return ts.replace("T", " ").rstrip("Z")[:23]


def grid_row(row: AlertRow, labels: Mapping[str, str]) -> dict[str, Any]:
    """A table row for an alert with its workflow state."""
    return {
        "alert_id": row.alert_id,
        "time": _time(row.ts),
        "card": row.card_id,
        "amount": row.amount,
        "currency": row.currency,
        "amount_text": format_money(row.amount, row.currency),
        "city": row.city,
        "rules": ", ".join(labels.get(r, r) for r in row.rules),
        "reasons": row.reason_text,
        "score": round(row.score, 3),
        "severity": row.severity,
        "status": row.status,
        "status_text": status_word(row.status),
        "assignee": row.assignee,
        "version": row.version,
    }


def grid_row_from_alert(alert: Alert, labels: Mapping[str, str]) -> dict[str, Any]:
    """A table row for a freshly raised alert from the live stream (no workflow yet)."""
    return {
        "alert_id": alert.alert_id,
        "time": _time(alert.ts),
        "card": alert.card_id,
        "amount": alert.amount,
        "currency": alert.currency,
        "amount_text": format_money(alert.amount, alert.currency),
        "city": alert.city,
        "rules": ", ".join(labels.get(r.rule, r.rule) for r in alert.reasons),
        "reasons": "; ".join(r.text for r in alert.reasons),
        "score": round(alert.score, 3),
        "severity": alert.severity,
        "status": "new",
        "status_text": status_word("new"),
        "assignee": "",
        "version": 1,
    }


def workflow_digest(rows: Iterable[AlertRow]) -> str:
    """Digest of the rows that have workflow changes: it moves only when an analyst acted."""
    h = hashlib.blake2b(digest_size=8)
    for r in rows:
        if r.version > 1:
            h.update(f"{r.alert_id}:{r.version};".encode())
    return h.hexdigest()
