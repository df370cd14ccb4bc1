"""WCAG 2.1 AA in real Chromium: axe-core on the live page, the skip link, focus rings, the live region."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from tests.browser.conftest import DATA_WAIT_MS, WAIT_MS, Analyst, Pipeline
from tests.browser.harness import ADMIN, REPO_ROOT, high_amount_event

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]
# Installed by `make axe` (npm, pinned in the Makefile) into the gitignored .cache/; nothing downloads here.
AXE_JS = Path(
    os.environ.get("AXE_JS", REPO_ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js")
)
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return r.violations.map((v) => ({id: v.id, help: v.help, nodes: v.nodes.map((n) => ({
    target: n.target.join(' '), html: n.html.slice(0, 160),
    why: n.any.concat(n.all, n.none).map((c) => c.message).join('; ')}))}));
}"""


# The console's grids mount one after the other (the search grid a second or more after the alerts
# grid). AG Grid holds a grid's first render ("ag-delay-render": header cells hidden, so axe finds a
# header row without cells) until its columns are sized, and for a grid out of view that waits until
# it is scrolled to. A person reaches a grid by scrolling to it, so the scan does the same for each
# console grid, then puts the page back where it was.
CONSOLE_GRIDS = ("alerts-grid", "search-grid")
MOUNTED = """(ids) => !document.getElementById('sec-alerts')
  || ids.every((id) => document.querySelector('#' + id + ' .ag-root-wrapper'))"""
SETTLED = "(id) => !document.querySelector('#' + id + ' .ag-delay-render')"
GRID_WAIT_MS = 20_000


def _settle_grids(page: Any) -> None:
    """Every console grid mounted and through its first render (bounded: axe then reports as is)."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(MOUNTED, arg=list(CONSOLE_GRIDS), timeout=GRID_WAIT_MS)
    scrolled = page.evaluate("() => [window.scrollX, window.scrollY]")
    for grid in CONSOLE_GRIDS:
        host = page.locator(f"#{grid}")
        if host.count() == 0:
            continue
        host.scroll_into_view_if_needed()
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(SETTLED, arg=grid, timeout=GRID_WAIT_MS)
    page.evaluate("([x, y]) => window.scrollTo(x, y)", scrolled)


def _axe(page: Any) -> list[dict[str, Any]]:
    if not AXE_JS.is_file():
        pytest.fail(
            f"axe-core not installed at {AXE_JS}: run `make axe` (npm install, pinned)", pytrace=False
        )
    page.evaluate(AXE_JS.read_text() + "\n;0")  # evaluate, not a <script>: the page's CSP allows no inline
    for _ in range(3):
        _settle_grids(page)
        found = list(page.evaluate(RUN_AXE, WCAG_21_AA))  # nothing excused: framework markup included
        # a grid the live poll redrew between the wait and the scan is caught mid-render: scan again
        # (a violation that stays after the grid has settled is reported as found)
        if not any("ag-delay-render" in n["target"] for v in found for n in v["nodes"]):
            return found
    return found


def _report(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['id']} ({v['help']}): {n['target']} -- {n['why']}" for v in violations for n in v["nodes"][:6]
    )


def test_live_page_has_no_wcag_21_aa_violations(analysts: Open, pipeline: Pipeline) -> None:
    # live data of every kind: medium and high severities in the table, quality tables, a RED ALERT
    for scenario, card in (("velocity_burst", 41), ("unknown_location", 42)):
        pipeline.inject(scenario, card)
    value, alert_id = high_amount_event(f"a11y-{os.getpid()}-{id(pipeline)}")
    pipeline.send(value)
    pipeline.wait_alert(alert_id)
    for name in (ADMIN, "alice"):  # the admin's editable rule form and an analyst's read-only one
        who = analysts(name)
        page = who.page
        expect(page.locator(".ag-center-cols-container .ag-row").first).to_be_visible(timeout=DATA_WAIT_MS)
        expect(page.locator("#quality-rules tbody tr").first).to_be_visible(timeout=DATA_WAIT_MS)
        expect(page.locator("#red-alert-banner")).to_be_visible(timeout=DATA_WAIT_MS)
        expect(page.locator("#rules-version-label")).to_contain_text("v", timeout=WAIT_MS)
        who.settle()
        violations = _axe(page)
        assert violations == [], f"{name}: axe found WCAG 2.1 A/AA violations:\n{_report(violations)}"


def test_skip_link_is_the_first_tab_stop_and_lands_on_the_alert_filter(
    analysts: Open, pipeline: Pipeline
) -> None:
    page = analysts("alice").page
    first = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
                 .find((e) => e.tabIndex >= 0 && !e.disabled && e.getClientRects().length > 0)?.className"""
    )
    assert first == "skip-link"
    skip = page.locator(".skip-link")
    skip.focus()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 0  # on screen once focused
    page.keyboard.press("Enter")
    expect(page.locator("#grid-quick-filter")).to_be_focused()


def test_keyboard_focus_on_the_quick_filter_is_visible(analysts: Open, pipeline: Pipeline) -> None:
    page = analysts("alice").page
    page.locator(".skip-link").focus()
    page.keyboard.press("Enter")
    box = page.locator("#grid-quick-filter")
    expect(box).to_be_focused()
    ring = box.evaluate(
        """(e) => { const ring = e.closest('.dash-input-container') || e;  // where Dash draws it
                    const s = getComputedStyle(ring);
                    return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"""
    )
    assert ring[0] not in ("none", "hidden") and ring[1] >= 2, ring


def test_banner_live_region_announces_the_count_not_the_list(analysts: Open, pipeline: Pipeline) -> None:
    value, alert_id = high_amount_event(f"a11y-live-{os.getpid()}-{id(pipeline)}")
    pipeline.send(value)
    pipeline.wait_alert(alert_id)
    page = analysts("bob").page
    expect(page.locator("#red-alert-banner")).to_be_visible(timeout=DATA_WAIT_MS)
    live = page.locator("#red-alert-banner [aria-live], #red-alert-banner[aria-live], [role=alert]")
    expect(live).to_have_count(1)
    # a screen reader re-reads the whole region on each change: it must not hold the alert rows
    assert live.locator(".red-alert-item, li").count() == 0
