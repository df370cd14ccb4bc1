"""The console's layout in real Chromium at common widths: no panel spills, clips or overlaps; chart axes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DATA_WAIT_MS, WAIT_MS, Analyst, Pipeline
from tests.browser.harness import ADMIN, REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]
# 1,400 px is where the issue saw "Recall per scenario" clipped; the rest are common screens
WIDTHS = (1280, 1400, 1440, 1920)
CHECK = (Path(__file__).with_name("layout_check.js")).read_text()
SHOTS = REPO_ROOT / ".local" / "test" / "layout"


def _with_every_panel_filled(pipeline: Pipeline, who: Analyst) -> None:
    """Labelled fraud for the quality tables and alerts for the table, then wait until all are shown."""
    for scenario, card in (("velocity_burst", 31), ("unknown_location", 32), ("card_testing", 33)):
        pipeline.inject(scenario, card)
    page = who.page
    for table in ("#health-bridges", "#health-lag", "#quality-rules", "#quality-scenarios"):
        expect(page.locator(f"{table} tbody tr").first).to_be_visible(timeout=DATA_WAIT_MS)
    expect(page.locator(".ag-center-cols-container .ag-row").first).to_be_visible(timeout=DATA_WAIT_MS)
    for graph in ("#timeline-graph", "#throughput-graph", "#rules-graph", "#city-map"):
        expect(page.locator(f"{graph} .main-svg").first).to_be_visible(timeout=DATA_WAIT_MS)
    expect(page.locator("#rules-version-label")).to_contain_text("v", timeout=WAIT_MS)


def _problems_once_laid_out(page: Any) -> list[str]:
    """The check's findings once they stop changing (charts re-lay themselves out after a resize)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    last: list[str] | None = None
    while True:
        page.wait_for_timeout(400)  # a resize reaches plotly and AG Grid on their next frames
        found = sorted(page.evaluate(CHECK))
        if found == last or time.monotonic() > deadline:
            return found
        last = found


def test_no_panel_overflows_clips_or_overlaps_at_common_widths(analysts: Open, pipeline: Pipeline) -> None:
    admin = analysts(ADMIN)  # the admin's page has the editable rule form too
    _with_every_panel_filled(pipeline, admin)
    page = admin.page
    SHOTS.mkdir(parents=True, exist_ok=True)
    report: dict[int, list[str]] = {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        problems = _problems_once_laid_out(page)
        page.screenshot(path=str(SHOTS / f"console-{width}.png"), full_page=True)
        if problems:
            report[width] = problems
    assert report == {}, "\n".join(f"{w} px: {p}" for w, ps in report.items() for p in ps)
    assert admin.errors == [] and admin.server_errors == []


def test_alerts_axis_shows_whole_numbers(analysts: Open, pipeline: Pipeline) -> None:
    page = analysts("alice").page
    ticks = page.locator("#throughput-graph .y2tick text")
    expect(ticks.first).to_be_visible(timeout=DATA_WAIT_MS)
    labels = ticks.all_text_contents()
    assert labels and all(re.fullmatch(r"\d[\d,]*", t) for t in labels), labels


def _field(page: Any, rule: str, field: str) -> Any:
    """A rule editor input, found by the label the analyst reads (as a screen reader does)."""
    return page.locator(f"#rule-set-{rule}").get_by_label(field, exact=True)


def test_rule_editor_says_what_is_wrong_with_typed_numbers(analysts: Open, pipeline: Pipeline) -> None:
    admin = analysts(ADMIN)
    page = admin.page
    threshold, weight = _field(page, "high_amount", "Threshold ($)"), _field(page, "high_amount", "Weight")
    expect(threshold).not_to_have_value("", timeout=WAIT_MS)
    before = (threshold.input_value(), weight.input_value())
    try:
        threshold.fill("2,000,000")  # a number input gave Dash nothing for this: "got None"
        weight.fill("-5")  # and kept the old value for this: "Nothing changed."
        page.click("#rules-save")
        message = page.locator("#rules-message")
        expect(message).to_contain_text("Threshold ($): 2,000,000 is above the maximum 1,000,000")
        expect(message).to_contain_text("Weight: -5 is below the minimum 0")
        expect(message).to_have_class(re.compile(r"\berror\b"))
        bumped = f"{int(float(before[0])) + 1:,}"  # typed with a thousands comma, as people write it
        threshold.fill(bumped)
        weight.fill(before[1])
        page.click("#rules-save")
        expect(message).to_contain_text("Saved as version", timeout=WAIT_MS)
        expect(threshold).to_have_value(str(int(float(before[0])) + 1), timeout=WAIT_MS)
    finally:  # put the live rules back for the other tests
        threshold.fill(before[0])
        weight.fill(before[1])
        page.click("#rules-save")
        admin.settle()
    expect(threshold).to_have_value(before[0])
