"""Map of transactions and alerts by city (scattergeo: offline, no map tiles)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dashapp.figures.base import BLUE, RED, base_layout, esc
from dashapp.store.models import CityAgg


def _size(count: int, biggest: int, top: float) -> float:
    return 4 + top * math.sqrt(count / biggest) if biggest else 4


def _trace(cities: Sequence[CityAgg], attr: str, name: str, color: str, top: float) -> dict[str, Any]:
    chosen = [c for c in cities if getattr(c, attr) > 0]
    biggest = max((getattr(c, attr) for c in chosen), default=0)
    return {
        "type": "scattergeo",
        "name": name,
        "mode": "markers",
        "lat": [c.lat for c in chosen],
        "lon": [c.lon for c in chosen],
        "text": [f"{esc(c.city)}: {c.txns:,} txns, {c.alerts:,} alerts" for c in chosen],
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {
            "color": color,
            "opacity": 0.6,
            "line": {"width": 0.5, "color": "#ffffff"},
            "size": [_size(getattr(c, attr), biggest, top) for c in chosen],
        },
    }


def city_map_figure(cities: Sequence[CityAgg]) -> dict[str, Any]:
    """Circles sized by transaction count (blue) with alert counts (red) on top."""
    located = [c for c in cities if c.lat is not None and c.lon is not None]
    data = [_trace(located, "txns", "transactions", BLUE, 22), _trace(located, "alerts", "alerts", RED, 16)]
    layout = base_layout(
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        geo={
            "scope": "world",
            "fitbounds": False,
            "projection": {"type": "natural earth", "scale": 1},
            "lonaxis": {"range": [-180, 180]},
            "lataxis": {"range": [-58, 84]},
            "showland": True,
            "landcolor": "#f1f5f9",
            "showcountries": True,
            "countrycolor": "#cbd5e1",
            "coastlinecolor": "#94a3b8",
            "showocean": True,
            "oceancolor": "#e0f2fe",
            "bgcolor": "rgba(0,0,0,0)",
        },
    )
    unlocated = sum(c.alerts for c in cities if c.lat is None or c.lon is None)
    if unlocated:
        layout["annotations"] = [
            {
                "text": f"+{unlocated:,} alerts without location",
                "showarrow": False,
                "x": 0.01,
                "y": 0.02,
                "xref": "paper",
                "yref": "paper",
                "font": {"color": RED},
            }
        ]
    return {"data": data, "layout": layout}
