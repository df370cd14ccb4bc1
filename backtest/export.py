"""A backtest result as CSV (one row per rule) or JSON (everything)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

SIDE_FIELDS = (
    "alerts",
    "precision",
    "instance_recall",
    "resolved_fraud",
    "resolved_false_positive",
    "analyst_precision",
)
COLUMNS = (
    "rule",
    "added",
    "removed",
    "unchanged",
    *(f"{side}_{f}" for side in ("live", "draft") for f in SIDE_FIELDS),
)


def csv_text(result: dict[str, Any]) -> str:
    """Per-rule rows (the `*` row is every alert, any rule); empty cells where a ratio is unknown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in result.get("rules", []):
        cells: list[Any] = [row["rule"], row["added"], row["removed"], row["unchanged"]]
        for side in ("live", "draft"):
            cells.extend("" if row[side][f] is None else row[side][f] for f in SIDE_FIELDS)
        # rule ids are identifiers, but a cell starting like a formula is neutralised all the same
        if str(cells[0])[:1] in ("=", "+", "-", "@"):
            cells[0] = "'" + str(cells[0])
        writer.writerow(cells)
    return out.getvalue()


def json_text(run: dict[str, Any], result: dict[str, Any] | None) -> str:
    """The run (status, range, progress) with its result."""
    return json.dumps({"run": run, "result": result}, indent=2, sort_keys=True)
