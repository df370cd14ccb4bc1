"""Shared figure styling and text escaping for plotly hover labels."""

from __future__ import annotations

from typing import Any

UIREVISION = "live"  # constant: every analyst keeps zoom and legend state across full refreshes
BLUE = "#2563eb"
RED = "#dc2626"
GREY = "#64748b"
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#1e293b"}


def esc(value: object) -> str:
    """Escape a stream string for plotly hover text (it renders a small HTML subset)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def base_layout(**overrides: Any) -> dict[str, Any]:
    """A compact, template-free layout with a constant uirevision."""
    layout: dict[str, Any] = {
        "uirevision": UIREVISION,
        "margin": {"l": 48, "r": 16, "t": 8, "b": 36},
        "font": FONT,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "#ffffff",
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": 1.12},
        "hovermode": "closest",
        "xaxis": {"gridcolor": "#e2e8f0", "zeroline": False},
        "yaxis": {"gridcolor": "#e2e8f0", "zeroline": False},
    }
    layout.update(overrides)
    return layout


def empty_figure(message: str = "Waiting for data…") -> dict[str, Any]:
    """A blank figure with a centred note."""
    return {
        "data": [],
        "layout": base_layout(
            xaxis={"visible": False},
            yaxis={"visible": False},
            annotations=[{"text": esc(message), "showarrow": False, "font": {"color": GREY, "size": 14}}],
        ),
    }
