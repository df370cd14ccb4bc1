"""Real-browser test of issue #19 item 7 in the live views: the amount KPI is US dollars, whole at 1280 px."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from common.alerts import alert_id_for
from tests.browser.conftest import DATA_WAIT_MS, Analyst, Pipeline
from tests.browser.harness import event
from tests.browser.test_dashboard import _txn

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]
_CUT = "(el) => el.scrollWidth > el.clientWidth ? `${el.scrollWidth} > ${el.clientWidth}` : ''"


def _dollars(text: str) -> float:
    """ "$12.3k" -> 12300.0; anything without a number -> 0."""
    found = re.fullmatch(r"\$([\d,.]+)([kMB]?)", text)
    if found is None:
        return 0.0
    scale = {"": 1, "k": 1e3, "M": 1e6, "B": 1e9}[found.group(2)]
    return float(found.group(1).replace(",", "")) * scale


def test_amount_per_minute_is_dollars_and_whole_at_1280(analysts: Open, pipeline: Pipeline) -> None:
    # 13,488,824 KRW is $9,172.40 at the default rate: summed raw it read "$17.03M" (and was cut)
    txn = _txn("krw")
    pipeline.send(
        event(txn, amount=13_488_824, currency="KRW", city="Seoul", country="KR", lat=37.57, lon=126.98)
    )
    pipeline.wait_alert(alert_id_for(txn))  # above $5,000 in dollars: a high-amount alert, so stored
    page = analysts("alice").page
    page.set_viewport_size({"width": 1280, "height": 800})
    card = page.locator("#kpi-amount-min")
    expect(page.locator(".kpi-label", has_text="USD/min")).to_be_visible(timeout=DATA_WAIT_MS)
    # Wait until the minute holds the KRW payment ($9,172.40 at least), then read what it says:
    # dollars in compact form (the raw sum read "$13.49M" and more).
    deadline = time.monotonic() + DATA_WAIT_MS / 1000
    text = ""
    while time.monotonic() < deadline:
        text = card.text_content() or ""
        if _dollars(text) >= 9_172:
            break
        page.wait_for_timeout(250)
    # Other tests' payments may share the minute (the pipeline is shared): any compact dollar form,
    # but below what the raw KRW figure alone would add up to.
    assert re.fullmatch(r"\$\d[\d,.]*[kMB]?", text), text
    assert 9_172 <= _dollars(text) < 13_488_824, text
    page.wait_for_timeout(500)
    assert card.evaluate(_CUT) == "", card.text_content()
    label = page.locator(".kpi-label", has_text="USD/min")
    assert label.evaluate(_CUT) == "", label.text_content()
    # one line like its neighbours, so the value sits level with theirs ("Amount/min (USD)" wrapped)
    heights = page.locator(".kpi-label").evaluate_all(
        "els => els.map((e) => e.getBoundingClientRect().height)"
    )
    assert label.evaluate("(e) => e.getBoundingClientRect().height") == min(heights), heights
