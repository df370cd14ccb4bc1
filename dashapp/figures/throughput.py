"""Throughput chart: transactions/s and alerts/s per record-time second."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dashapp.figures.base import BLUE, RED, base_layout
from dashapp.figures.time_axis import time_axis
from dashapp.store.models import SecondBucket

ALERT_AXIS_MIN_TOP = 5  # alerts/s axis shows at least 0..5 (whole-number ticks)


def _columns(buckets: Sequence[SecondBucket]) -> dict[str, list[list[Any]]]:
    xs = [b.second * 1000 for b in buckets]  # epoch ms on a date axis
    return {"x": [xs, xs], "y": [[b.txns for b in buckets], [b.alerts for b in buckets]]}


def throughput_figure(buckets: Sequence[SecondBucket], window_s: int) -> dict[str, Any]:
    """Full figure for a window; alerts/s on a second y axis so both stay readable."""
    cols = _columns(buckets)
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "transactions/s",
            "x": cols["x"][0],
            "y": cols["y"][0],
            "line": {"color": BLUE, "width": 1.5},
            "hovertemplate": "%{y} txn/s<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "alerts/s",
            "x": cols["x"][1],
            "y": cols["y"][1],
            "yaxis": "y2",
            "line": {"color": RED, "width": 1.5},
            "hovertemplate": "%{y} alerts/s<extra></extra>",
        },
    ]
    layout = base_layout(
        xaxis=time_axis(),
        # automargin: the axis titles get room beside the tick labels instead of overlapping them
        yaxis={"title": {"text": "txn/s"}, "gridcolor": "#e2e8f0", "rangemode": "tozero", "automargin": True},
        yaxis2={
            "title": {"text": "alerts/s"},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
            "rangemode": "tozero",
            "automargin": True,
            # alerts come in whole numbers per second: a range of at least 0-5 keeps the auto ticks whole
            # (0, 1, 2, ...; then 2, 5, 10 steps) where 0-1 gave 0.2 steps (0.652, 1.304 when synced)
            "autorangeoptions": {"include": [0, ALERT_AXIS_MIN_TOP]},
            "tickformat": ",d",
        },
        meta={"window_s": window_s},
    )
    layout["margin"] = {"l": 48, "r": 48, "t": 8, "b": 36}
    return {"data": data, "layout": layout}


def throughput_delta(buckets: Sequence[SecondBucket], window_s: int) -> list[Any] | None:
    """extendData payload keeping exactly one window of seconds, or None when nothing is new."""
    if not buckets:
        return None
    return [_columns(buckets), [0, 1], window_s]
