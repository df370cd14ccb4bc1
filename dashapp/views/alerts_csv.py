"""Alerts as CSV: numbers as numbers, every workflow field, and formula-like text neutralised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from dashapp.store.alert_rows import AlertRow

COLUMNS = (
    "alert_id", "time_utc", "event_ms", "card_id", "account_id", "amount", "currency", "merchant_id",
    "merchant_category", "city", "country", "channel", "score", "severity", "rules", "reasons", "status",
    "assignee", "version", "updated_by", "updated_at_utc", "note",
)  # fmt: skip
# OWASP "CSV Injection": a spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 500


def safe_text(value: str) -> str:
    """Text a spreadsheet shows as text: a leading quote before a formula-like start (OWASP)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds") if ms else ""


def csv_cells(row: AlertRow) -> list[str | int | float]:
    """One alert's cells in COLUMNS order: numbers stay numbers, every text cell is neutralised."""
    cells: list[str | int | float] = [
        row.alert_id, _utc(row.event_ms), row.event_ms, row.card_id, row.account_id, row.amount,
        row.currency, row.merchant_id, row.merchant_category, row.city, row.country or "", row.channel,
        row.score, row.severity, " ".join(row.rules), row.reason_text, row.status, row.assignee,
        row.version, row.updated_by, _utc(row.updated_at), row.note,
    ]  # fmt: skip
    return [safe_text(c) if isinstance(c, str) else c for c in cells]


def csv_chunks(rows: Iterable[AlertRow]) -> Iterator[str]:
    """The header line, then the rows ROWS_PER_CHUNK at a time (for a streamed response)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(COLUMNS)
    for n, row in enumerate(rows, 1):
        out.writerow(csv_cells(row))
        if n % ROWS_PER_CHUNK == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
