"""The search form's time range as analysts type it ("2026-12-06 14:00", UTC), or a clear error per field."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

TIME_PLACEHOLDER = "YYYY-MM-DD HH:MM"
TIME_HINT = "Times are UTC, written YYYY-MM-DD HH:MM (e.g. 2026-12-06 14:00); a date alone is the whole day."
# What the form accepts, most precise first, and how long a written value lasts: "To 14:00" includes
# the whole of 14:00 and "To 2026-12-06" the whole day (as "to" reads; an instant at midnight gave
# an empty result for a day's search).
_FORMATS = (
    ("%Y-%m-%d %H:%M:%S.%f", 1),
    ("%Y-%m-%d %H:%M:%S", 1_000),
    ("%Y-%m-%d %H:%M", 60_000),
    ("%Y-%m-%d", 86_400_000),
)
LABELS = {"since": "From", "until": "To"}


@dataclass(frozen=True)
class TimeRange:
    """Epoch ms bounds (inclusive) as query arguments, or the error to show beside each bad field."""

    args: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _parse(raw: str) -> tuple[int, int] | None:
    """(start ms, length ms) of a typed time, or None when it is none of the accepted forms."""
    # the API's ISO form ("2026-12-06T14:00:00Z") is accepted too: analysts paste it from exports
    text = raw.strip().replace("T", " ", 1).removesuffix("Z").strip()
    for fmt, span_ms in _FORMATS:
        try:
            when = datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(when.timestamp() * 1000), span_ms
    return None


def time_range(since: str | None, until: str | None) -> TimeRange:
    """Both fields' values as `since` / `until` epoch-ms arguments; empty fields are left out."""
    args: dict[str, str] = {}
    errors: dict[str, str] = {}
    bounds: dict[str, int] = {}
    for name, raw in (("since", since or ""), ("until", until or "")):
        if not raw.strip():
            continue
        parsed = _parse(raw)
        if parsed is None:
            shown = raw.strip()[:40]
            errors[name] = f"{LABELS[name]}: “{shown}” is not a time. Write it as {TIME_PLACEHOLDER} (UTC)."
            continue
        start, span = parsed
        bounds[name] = start + span - 1 if name == "until" else start
        args[name] = str(bounds[name])
    if "since" in bounds and "until" in bounds and bounds["since"] > bounds["until"]:
        errors["until"] = "To is before From."
    return TimeRange(args, errors) if errors else TimeRange(args)
