"""Alert search section views: result rows with age and overdue flag, summaries, card history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from dash import html

from common.alerts import OPEN_STATUSES
from dashapp.store.alert_rows import AlertRow
from dashapp.store.search import CardHistory, RetentionInfo, SearchResult
from dashapp.store.search_query import AlertQuery
from dashapp.store.workflow import BulkResult
from dashapp.views.grid import SEVERITY_COLUMN
from dashapp.views.wording import format_money, in_words, status_word

EXPORT_PATH = "/api/alerts.csv"
FORM_FIELDS = ("alert_id", "card", "merchant", "assignee", "rule", "status", "since", "until", "order")
# Minimum widths fit each column's longest usual text at 1280 px with no sideways scroll, as in the
# alerts table (tests/browser/test_console_leftovers.py; 8px cell padding in assets/style.css).
SEARCH_COLUMNS: list[dict[str, Any]] = [
    {"field": "time", "headerName": "Time (UTC)", "minWidth": 160},  # whole, to the millisecond
    {"field": "age", "headerName": "Age", "minWidth": 90},  # "3 h 05 min"
    {"field": "card", "headerName": "Card", "minWidth": 96},
    {"field": "amount", "headerName": "Amount", "type": "numericColumn",
     "valueFormatter": {"function": "params.data ? params.data.amount_text : params.value"}, "minWidth": 135},
    {"field": "merchant", "headerName": "Merchant", "minWidth": 84},
    {"field": "rules", "headerName": "Rules", "minWidth": 224, "tooltipField": "reasons"},
    SEVERITY_COLUMN,
    {"field": "status_text", "headerName": "Status", "minWidth": 172},  # "Resolved: false positive"
    {"field": "assignee", "headerName": "Assignee", "minWidth": 88},
]  # fmt: skip
ROW_CLASS_RULES = {"search-overdue": "params.data && params.data.overdue"}


def age_text(ms: int) -> str:
    """An age as people say it: "45 s", "12 min", "3 h 05 min", "4 d 02 h"."""
    s = max(0, int(ms) // 1000)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86_400} d {s % 86_400 // 3600:02d} h"


def is_overdue(row: AlertRow, now_ms: int, sla_ms: int) -> bool:
    """An open alert older than the SLA (resolved alerts are never overdue)."""
    return row.status in OPEN_STATUSES and now_ms - row.event_ms > sla_ms


def search_row(row: AlertRow, now_ms: int, sla_ms: int, labels: Mapping[str, str]) -> dict[str, Any]:
    """A results-table row: the alert, its age, whether it is overdue, its version for bulk actions."""
    return {
        "alert_id": row.alert_id,
        "version": row.version,
        "time": row.ts.replace("T", " ").rstrip("Z")[:23],
        "age": age_text(now_ms - row.event_ms),
        "overdue": is_overdue(row, now_ms, sla_ms),
        "card": row.card_id,
        "amount": row.amount,
        "amount_text": format_money(row.amount, row.currency),
        "merchant": row.merchant_id,
        "rules": ", ".join(labels.get(r, r) for r in row.rules),
        "reasons": row.reason_text,
        "severity": row.severity,
        "status_text": status_word(row.status),
        "assignee": row.assignee,
    }


def form_args(values: Mapping[str, Any]) -> dict[str, str]:
    """The search form's values as request arguments (empty ones left out)."""
    return {k: str(v).strip() for k, v in values.items() if k in FORM_FIELDS and v not in (None, "")}


def export_href(query: AlertQuery) -> str:
    """The server-side CSV export of every alert matching ``query``."""
    args = query.filters()
    return f"{EXPORT_PATH}?{urlencode(args)}" if args else EXPORT_PATH


def summary_text(found: SearchResult, query: AlertQuery, now_ms: int, sla_ms: int) -> str:
    """E.g. "1,234 matches (showing 1-500), 12 overdue (...)", or "No alerts match."."""
    if not found.total:
        return "No alerts match."
    more = "" if found.exact else "+"
    first, last = query.offset + 1, query.offset + len(found.rows)
    overdue = sum(is_overdue(r, now_ms, sla_ms) for r in found.rows)
    shown = f" (showing {first:,}\u2013{last:,})" if len(found.rows) < found.total else ""
    late = f", {overdue:,} overdue (older than {age_text(sla_ms)}, still open)" if overdue else ""
    noun = "match" if found.total == 1 and found.exact else "matches"
    return f"{found.total:,}{more} {noun}{shown}{late}."


def retention_text(info: RetentionInfo) -> str:
    """What retention keeps, and the open alerts it keeps past the retention (never dropped)."""
    if info.days is None:
        return "Retention: no sweep reported yet."
    days = f"{info.days:g}"
    text = f"Resolved alerts are kept {days} days."
    if info.kept_unresolved:
        text += f" {info.kept_unresolved:,} open alerts are older than that and kept until resolved."
    return text


def card_history_view(history: CardHistory, labels: Mapping[str, str]) -> list[Any]:
    """The card's other alerts (rules by their names) and its recent transactions, as two short lists."""
    alerts = [
        html.Li(f"{a.ts[:19].replace('T', ' ')}  {format_money(a.amount, a.currency)}  "
                f"{', '.join(labels.get(r, r) for r in a.rules)}  \u2013 {status_word(a.status)}")
        for a in history.alerts
    ]  # fmt: skip
    txns = [
        html.Li(f"{t.ts[:19].replace('T', ' ')}  {format_money(t.amount, t.currency)}  {t.merchant_id}  "
                f"{t.city}{'  (alert)' if t.alert else ''}")
        for t in history.txns
    ]  # fmt: skip
    n = history.alert_total
    return [
        html.H4(f"Card {history.card_id}: {n:,} alert{'' if n == 1 else 's'} kept"),
        html.Ul(alerts) if alerts else html.P("No alerts.", className="muted"),
        html.H4("Recent transactions"),
        html.Ul(txns) if txns else html.P("None in the recent stream.", className="muted"),
    ]


def bulk_view(result: BulkResult) -> list[Any]:
    """The bulk action's summary line, then each alert left alone and why."""
    left = [*result.conflicts, *result.refused]
    return [
        html.Strong(result.summary()),
        html.Ul([html.Li(f"{aid}: {in_words(msg)}") for aid, msg in left[:50]]) if left else None,
        html.P(f"\u2026 and {len(left) - 50} more.", className="muted") if len(left) > 50 else None,
    ]
