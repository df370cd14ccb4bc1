"""Real Chromium: the live charts' date tick labels stay inside the chart when the x range spans midnight UTC.

The figures come from the console's own builders and are drawn by the plotly.js the dashboard
serves, in a panel styled by the console's stylesheet, then checked by layout_check.js. (The live
console cannot be steered to a minutes-wide range around a midnight: its x range always reaches now.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly
import pytest

from dashapp.figures.throughput import throughput_figure
from dashapp.figures.timeline import timeline_figure
from dashapp.store.models import SecondBucket, TxnRow
from tests.browser.harness import REPO_ROOT

pytestmark = [pytest.mark.browser]
CHECK = Path(__file__).with_name("layout_check.js").read_text()
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # what Dash serves
STYLE = (REPO_ROOT / "dashapp" / "assets" / "style.css").read_text()
MIDNIGHT = int(datetime(2026, 12, 6, tzinfo=UTC).timestamp())
PAGE = (
    "<!doctype html><html><head><style>{style}</style><script src='/plotly.js'></script></head>"
    "<body><div class='content'><section class='card' style='width:{width}px'>"
    "<div class='card-head'><h3>Chart</h3></div><div id='graph' style='height:300px'></div>"
    "</section></div></body></html>"
)
_TILTED = """() => [...document.querySelectorAll('#graph .xtick text')]
  .filter((t) => /rotate/.test(t.getAttribute('transform') || '')).length"""


def _iso(epoch_s: float) -> str:
    """Event time as the bridge stores it: 2026-12-05T23:59:50.000Z."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _timeline(start_s: int, end_s: int) -> dict[str, Any]:
    n = 60
    rows = [
        TxnRow(
            txn_id=f"t{i}",
            ts=_iso(start_s + (end_s - start_s) * i / (n - 1)),
            amount=10.0 + i,
            currency="USD",
        )
        for i in range(n)
    ]
    return timeline_figure(rows, [], {})


def _throughput(start_s: int, end_s: int) -> dict[str, Any]:
    return throughput_figure(
        [SecondBucket(s, 5, s % 3, 50.0) for s in range(start_s, end_s)], end_s - start_s
    )


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A blank page that serves plotly.js and a console panel of a chosen width."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.route("**/plotly.js", lambda r: r.fulfill(path=str(PLOTLY_JS), content_type="text/javascript"))
    try:
        yield pg
    finally:
        context.close()


# Measured with the old axis: these put the first tick's date next to midnight's date; the two wide
# "Dec 5, 2026" / "Dec 6, 2026" labels crowded, plotly tilted every label 30 degrees and the tilted
# two-line labels reached below the chart (panel widths of the console's two-column grid, 560 px and up).
CASES = [
    ("timeline", 620, 20, 80),
    ("timeline", 640, 40, 160),
    ("timeline", 680, 14, 56),
    ("throughput", 600, 20, 80),
    ("throughput", 600, 40, 160),
    ("throughput", 620, 14, 56),
    ("timeline", 600, 3_600, 10_800),  # hours around midnight, as a long-open console shows
    ("throughput", 600, 300, 300),
]


@pytest.mark.parametrize(("chart", "width", "before_s", "after_s"), CASES)
def test_date_labels_across_midnight_stay_inside_the_chart(
    page: Any, chart: str, width: int, before_s: int, after_s: int
) -> None:
    build = _timeline if chart == "timeline" else _throughput
    figure = build(MIDNIGHT - before_s, MIDNIGHT + after_s)
    page.route("http://chart.test/", lambda r: r.fulfill(body=PAGE.format(style=STYLE, width=width)))
    page.goto("http://chart.test/")
    page.evaluate("(f) => Plotly.newPlot('graph', f.data, f.layout, {responsive: true})", figure)
    labels = page.locator("#graph .xtick text").all_text_contents()
    # the range really spans midnight: both days are named on the axis
    assert any("Dec 5" in t for t in labels) and any("Dec 6" in t for t in labels), labels
    assert page.evaluate(CHECK) == []
    assert page.evaluate(_TILTED) == 0, labels
