"""The live charts' time (x) axis: short two-line date labels that stay inside the chart."""

from __future__ import annotations

from typing import Any

SECOND_MS, MINUTE_MS, DAY_MS = 1_000, 60_000, 86_400_000

# Plotly's default date labels put "Dec 5, 2026" under the first tick and under the tick where the
# day changes. Across midnight two such wide labels can sit side by side; Plotly then tilts every
# label and the tilted two-line labels fall below the chart. The same levels as Plotly's defaults,
# with the year dropped from the date line ("Dec 5" is no wider than the time above it), keep the
# labels level; automargin gives any label that still needs more room (a narrow chart) the room.
TICK_FORMAT_STOPS: list[dict[str, Any]] = [
    {"dtickrange": [None, SECOND_MS], "value": "%H:%M:%S.%L\n%b %-d"},
    {"dtickrange": [SECOND_MS, MINUTE_MS], "value": "%H:%M:%S\n%b %-d"},
    {"dtickrange": [MINUTE_MS, DAY_MS], "value": "%H:%M\n%b %-d"},
    {"dtickrange": [DAY_MS, "M12"], "value": "%b %-d\n%Y"},
    {"dtickrange": ["M12", None], "value": "%Y"},
]


def time_axis(**extra: Any) -> dict[str, Any]:
    """An x axis of UTC times for a live chart (`extra` adds or overrides attributes)."""
    return {
        "type": "date",
        "gridcolor": "#e2e8f0",
        "tickformatstops": TICK_FORMAT_STOPS,
        "automargin": True,
        **extra,
    }
