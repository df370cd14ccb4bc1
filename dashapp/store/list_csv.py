"""Lists as CSV `value,expires_at,note`: import refuses a bad row by line number, export is formula-safe."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from dashapp.store.list_entries import (
    CSV_COLUMNS,
    FORMULA_STARTS,
    EntryError,
    EntryIn,
    Stored,
    entry,
    format_expiry,
    unique,
)


def entries_from_csv(text: str, limit: int) -> list[EntryIn]:
    """CSV with a header naming `value` (and optionally `expires_at`, `note`) -> entries.

    Every row is checked before anything is returned: the first bad row raises EntryError with its
    line number (the header is line 1), so an import applies all of a file or none of it.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise EntryError("line 1", f"not CSV: {exc}") from None
    if header is None:
        raise EntryError("line 1", "empty file; expected the header value,expires_at,note")
    columns = [h.strip().lower().lstrip("\ufeff") for h in header]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if "value" not in columns or unknown or len(set(columns)) != len(columns):
        raise EntryError(
            "line 1", f"header must name value (and optionally expires_at, note), got {header!r:.80}"
        )
    at = {name: columns.index(name) for name in columns}

    def each() -> Iterator[tuple[str, EntryIn]]:
        try:
            for row in reader:
                where = f"line {reader.line_num}"
                if not row or row == [""]:
                    continue
                if len(row) != len(columns):
                    raise EntryError(where, f"expected {len(columns)} fields, got {len(row)}")
                cells = {name: row[i] for name, i in at.items()}
                yield where, entry(where, cells["value"], cells.get("expires_at"), cells.get("note"))
        except csv.Error as exc:
            raise EntryError(f"line {reader.line_num}", f"not CSV: {exc}") from None

    return unique(each(), limit)


def csv_chunks(rows: Iterable[tuple[str, Stored]], rows_per_chunk: int = 1000) -> Iterator[str]:
    """The header, then `value,expires_at,note` rows (notes neutralised against spreadsheet formulas)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(CSV_COLUMNS)
    for n, (value, stored) in enumerate(rows, 1):
        note = "'" + stored.note if stored.note.startswith(FORMULA_STARTS) else stored.note
        out.writerow((value, format_expiry(stored.expires_ms), note))
        if n % rows_per_chunk == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
