"""Alerts by rule: a horizontal bar per detection rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashapp.figures.base import RED, base_layout, empty_figure


def rules_bar_figure(counts: Mapping[str, int], labels: Mapping[str, str]) -> dict[str, Any]:
    """Bars sorted so the most frequent rule is on top; rule names mapped to display labels."""
    if not counts:
        return empty_figure("No alerts yet")
    items = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]))
    names = [labels.get(rule, rule) for rule, _ in items]
    values = [n for _, n in items]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "x": values,
            "y": names,
            "marker": {"color": RED},
            "hovertemplate": "%{y}: %{x} alerts<extra></extra>",
            "name": "alerts",
        }
    ]
    layout = base_layout(
        showlegend=False, margin={"l": 140, "r": 16, "t": 8, "b": 32}, yaxis={"automargin": True}
    )
    return {"data": data, "layout": layout}
