"""The live charts' time axis: date labels short enough to stay level across midnight, room when needed."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from dashapp.figures.throughput import throughput_figure
from dashapp.figures.time_axis import DAY_MS, TICK_FORMAT_STOPS, time_axis
from dashapp.figures.timeline import timeline_figure
from dashapp.store.models import SecondBucket, TxnRow

ROW = TxnRow(txn_id="t1", ts="2026-12-05T23:59:50.000Z", amount=10.0, currency="USD")


@pytest.mark.parametrize(
    "figure",
    [timeline_figure([ROW], [], {}), throughput_figure([SecondBucket(1_796_515_190, 3, 0, 30.0)], 300)],
    ids=["timeline", "throughput"],
)
def test_live_charts_use_the_time_axis(figure: dict[str, Any]) -> None:
    assert figure["layout"]["xaxis"] == time_axis()


def test_time_axis_makes_room_for_its_labels() -> None:
    axis = time_axis()
    assert axis["type"] == "date" and axis["automargin"] is True
    assert time_axis(range=[0, 1])["range"] == [0, 1]


def test_format_stops_cover_every_tick_spacing_once() -> None:
    ranges = [stop["dtickrange"] for stop in TICK_FORMAT_STOPS]
    assert ranges[0][0] is None and ranges[-1][1] is None
    for (_, end), (start, _) in pairwise(ranges):
        assert end == start  # no gap and no overlap between neighbouring levels


def test_below_a_day_the_date_line_has_no_year() -> None:
    # the year made the date line ("Dec 5, 2026") wider than the time: two of them side by side at
    # midnight tilted every label out of the chart
    for stop in TICK_FORMAT_STOPS:
        end = stop["dtickrange"][1]
        if isinstance(end, int) and end <= DAY_MS:
            time_part, date_part = stop["value"].split("\n")
            assert date_part == "%b %-d" and time_part.startswith("%H:%M")
