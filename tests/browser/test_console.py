"""Real-browser tests of the analyst's console: RED ALERT bar, picking alerts, notes, actions, pause."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from dashapp.store import AlertWorkflow
from tests.browser.conftest import DATA_WAIT_MS, WAIT_MS, Analyst, Pipeline, login
from tests.browser.harness import ADMIN, Dashboard, high_amount_event
from tests.browser.test_dashboard import _banner_item, _clear_banner, _grid_row, _history, _select, _txn

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]
BANNER = "#red-alert-banner"
OSLO = {"city": "Oslo", "country": "NO", "lat": 59.91, "lon": 10.75}

# Is the element's top-left corner the element itself (nothing drawn over it), inside the viewport?
_UNCOVERED = """(sel) => {
  const el = document.querySelector(sel);
  if (!el) { return `${sel}: missing`; }
  const r = el.getBoundingClientRect();
  if (r.top < 0 || r.bottom > window.innerHeight) { return `${sel}: off screen (${r.top}..${r.bottom})`; }
  const hit = document.elementFromPoint(r.left + Math.min(8, r.width / 2), r.top + Math.min(4, r.height / 2));
  return el.contains(hit) ? "" : `${sel}: covered by ${hit && (hit.id || hit.className)}`;
}"""


# A loaded server answers late. The browser keeps the answer of the next acknowledge (the callback
# that writes #red-alert-message) until the test releases it, so the bar is redrawn while that
# answer is in flight: the request reaches the real server at once, only its answer waits.
_HOLD_ACK_ANSWER = """() => {
  const fetch0 = window.fetch;
  let release; const released = new Promise((resolve) => { release = resolve; });
  window.__releaseAck = release; window.__ackArrived = false;
  let held = false;
  window.fetch = function (input, init) {
    const body = init && typeof init.body === "string" ? init.body : "";
    const ack = !held && body.includes('"red-alert-message.children"');
    if (!ack) { return fetch0.apply(this, arguments); }
    held = true;
    return fetch0.apply(this, arguments).then((resp) => {
      window.__ackArrived = true;
      return released.then(() => resp);
    });
  };
}"""
# the RED ALERT row drawn at a point (its text), "" if none
_ROW_AT = """([x, y]) => { const li = document.elementFromPoint(x, y)?.closest('li.red-alert-item');
                         return li ? li.textContent : ''; }"""


def _workflow(pipeline: Pipeline) -> AlertWorkflow:
    return AlertWorkflow(pipeline.client, pipeline.dashboard.keys)


def _alerts(pipeline: Pipeline, tag: str, n: int) -> list[tuple[str, str]]:
    """Send `n` high-severity alerts (Oslo); return (card, alert id) of each once stored."""
    txns = [_txn(f"{tag}{i}") for i in range(n)]
    made = [high_amount_event(txn, **OSLO) for txn in txns]
    pipeline.send(*(value for value, _ in made))
    for _, alert_id in made:
        pipeline.wait_alert(alert_id)
    return [(f"C-{txn}", alert_id) for txn, (_, alert_id) in zip(txns, made, strict=True)]


# --- 1. the RED ALERT bar never covers the work ---------------------------------------------------
def test_alert_bar_is_one_line_and_never_covers_the_alerts_section(
    analysts: Open, pipeline: Pipeline
) -> None:
    _clear_banner(pipeline)
    _alerts(pipeline, "bar", 6)
    alice = analysts("alice")
    page = alice.page
    page.set_viewport_size({"width": 1400, "height": 850})
    expect(page.locator("#red-alert-count")).to_have_text(
        re.compile(r"^6 unacknowledged"), timeout=DATA_WAIT_MS
    )
    page.mouse.move(700, 600)
    # compact at every scroll position: the sticky chrome (top bar and RED ALERT bar) stays small
    for y in (0, 600, 1500, 100_000):
        page.evaluate(f"window.scrollTo(0, {y})")
        bottom = page.evaluate("document.querySelector('#red-alert-banner').getBoundingClientRect().bottom")
        assert bottom <= 850 * 0.13, f"RED ALERT bar reaches {bottom} px down at scroll {y}"
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("link", name="Alerts", exact=True).click()
    first_row = '#alerts-grid .ag-center-cols-container .ag-row[row-index="0"]'
    expect(page.locator(first_row)).to_be_visible(timeout=WAIT_MS)
    page.wait_for_timeout(300)  # the jump is instant; let layout settle after it
    targets = (
        "#sec-alerts h3",
        "#grid-quick-filter",
        "#grid-export",
        "#alerts-grid .ag-header-row",
        first_row,
    )
    covered = [problem for sel in targets if (problem := page.evaluate(_UNCOVERED, sel))]
    assert covered == [], covered
    # expands on demand to the newest five, and back
    items = page.locator("#red-alert-list li.red-alert-item")
    expect(items.filter(visible=True)).to_have_count(1)
    page.click("#red-alert-toggle")
    expect(items.filter(visible=True)).to_have_count(5)
    expect(page.locator("#red-alert-toggle")).to_have_attribute("aria-expanded", "true")
    page.click("#red-alert-toggle")
    expect(items.filter(visible=True)).to_have_count(1)
    # amounts with their currency
    expect(items.first.locator(".ra-amount")).to_have_text("18,750.00 EUR")


def test_alert_bar_keeps_still_for_reduced_motion(analysts: Open, pipeline: Pipeline) -> None:
    _clear_banner(pipeline)
    _alerts(pipeline, "motion", 1)
    bob = analysts("bob")
    page = bob.page
    page.emulate_media(reduced_motion="reduce")
    try:
        expect(page.locator(BANNER)).not_to_have_class(re.compile(r"\bhidden\b"), timeout=DATA_WAIT_MS)
        moving = page.evaluate(
            """() => [...document.querySelectorAll('#red-alert-banner, #red-alert-banner *')]
                 .flatMap(el => [getComputedStyle(el), getComputedStyle(el, '::before')])
                 .filter(s => s.animationName !== 'none').length"""
        )
        assert moving == 0, f"{moving} animations run for a user who asked for reduced motion"
    finally:
        page.emulate_media(reduced_motion="no-preference")


# --- rows hold still under the pointer; a row opens its alert; acknowledgement shows at once --------
def test_a_new_alert_never_moves_the_row_under_the_pointer(analysts: Open, pipeline: Pipeline) -> None:
    _clear_banner(pipeline)
    [(card, alert_id)] = _alerts(pipeline, "aimed", 1)
    bob = analysts(ADMIN)  # a page of its own (see docs/console.md, "Open")
    page = bob.page
    item = _banner_item(bob, card)
    expect(item).to_be_visible(timeout=DATA_WAIT_MS)
    ack = item.locator("button.ra-ack")
    ack.hover()
    box = ack.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    [(new_card, new_id)] = _alerts(pipeline, "arrives", 1)
    # the same answer brings the table row and the bar's content: once the row is here, so is it
    expect(_grid_row(bob, new_id)).to_be_attached(timeout=DATA_WAIT_MS)
    page.evaluate(_HOLD_ACK_ANSWER)
    page.mouse.click(x, y)
    expect(ack).to_have_text("Acknowledging\u2026", timeout=WAIT_MS)  # feedback before the server answers
    page.wait_for_function("() => window.__ackArrived === true", timeout=WAIT_MS)
    wf = _workflow(pipeline)
    assert wf.get(alert_id).status == "acknowledged", "the click hit another alert than the one aimed at"
    assert wf.get(new_id).status == "new"
    # the tick that tells of the acknowledgement (the table row's status) brings the bar's content too;
    # the clicked button was disabled and dropped its focus, yet the row under the pointer is the same
    status = _grid_row(bob, alert_id).locator('[col-id="status"]')
    expect(status).to_have_text("Acknowledged", timeout=DATA_WAIT_MS)
    under = page.evaluate(_ROW_AT, [x, y])
    assert f"card {card}" in under, f"the rows moved under the pointer after the click: {under!r}"
    page.mouse.move(700, 700)  # the pointer leaves: the bar catches up while the answer is in flight
    new_item = _banner_item(bob, new_card)
    expect(new_item).to_be_visible(timeout=DATA_WAIT_MS)
    expect(_banner_item(bob, card)).to_have_count(0, timeout=DATA_WAIT_MS)
    # the answer lands after the bar was redrawn: it is shown, not dropped as superseded
    page.evaluate("() => window.__releaseAck()")
    expect(page.locator("#red-alert-message")).to_contain_text(f"card {card}", timeout=WAIT_MS)
    # a click on the row's text opens the alert in the detail panel, with the note box empty
    new_item.locator(".ra-open").click()
    expect(page.locator("#alert-detail")).to_contain_text(new_id, timeout=WAIT_MS)
    expect(page.locator("#alert-detail")).to_contain_text("18,750.00 EUR")
    expect(page.locator("#alert-detail")).to_be_in_viewport()
    page.mouse.move(700, 700)


# --- the alerts table keeps a selection --------------------------------------------------------
def test_each_row_click_opens_its_alert_while_the_grid_is_updating(
    analysts: Open, pipeline: Pipeline
) -> None:
    picks = _alerts(pipeline, "pick", 4)
    alice = analysts("alice")
    page = alice.page
    box = page.locator("#grid-quick-filter")
    box.fill("Oslo")
    box.press("Enter")
    for _, alert_id in picks:
        expect(_grid_row(alice, alert_id)).to_be_visible(timeout=DATA_WAIT_MS)
    # Data updates without pause (as ticks bring them, only denser): a click landing while one is
    # applied was dropped by the grid's selection events and the detail panel stayed as it was.
    page.evaluate(
        """() => { const api = dash_ag_grid.getApi('alerts-grid');
                   window.__churn = setInterval(() => { const n = api.getDisplayedRowAtIndex(0);
                     if (n) { api.applyTransaction({update: [n.data]}); } }, 1); }"""
    )
    try:
        for _, alert_id in [*picks, picks[0]]:
            _grid_row(alice, alert_id).locator('[col-id="city"]').click()
            expect(page.locator("#alert-detail")).to_contain_text(alert_id, timeout=WAIT_MS)
    finally:
        page.evaluate("() => clearInterval(window.__churn)")
    # once the churn stops, the grid highlights the alert the detail panel shows
    expect(_grid_row(alice, picks[0][1])).to_have_class(re.compile(r"\bag-row-selected\b"), timeout=WAIT_MS)


# --- 9. keyboard: Tab leaves the alerts grid ----------------------------------------------------------
def test_tab_leaves_the_alerts_grid_for_the_note_box(analysts: Open, pipeline: Pipeline) -> None:
    [(card, alert_id)] = _alerts(pipeline, "tab", 1)
    alice = analysts("alice")
    page = alice.page
    _select(alice, card, alert_id)
    _grid_row(alice, alert_id).locator('[col-id="card"]').focus()
    # AG Grid's default walked Tab through every cell of every row (up to 300 x 9) before leaving.
    landed = []
    for _ in range(4):
        page.keyboard.press("Tab")
        landed.append(page.evaluate("() => document.activeElement.id || document.activeElement.className"))
        if landed[-1] == "wf-note":
            break
    assert landed[-1] == "wf-note", landed


# --- 2. a note never follows the analyst to another alert --------------------------------------------
def test_a_note_never_follows_the_analyst_to_another_alert(analysts: Open, pipeline: Pipeline) -> None:
    (card_a, id_a), (card_b, id_b) = _alerts(pipeline, "note", 2)
    alice = analysts("alice")
    page = alice.page
    note = page.locator("#wf-note")
    _select(alice, card_a, id_a)
    note.fill("A1 fraud")
    _select(alice, card_b, id_b)
    expect(note).to_have_value("", timeout=WAIT_MS)
    note.fill("B: customer confirmed travel")
    page.click("#wf-ack")
    expect(page.locator("#wf-message")).to_have_text("Acknowledged by alice.", timeout=WAIT_MS)
    expect(note).to_have_value("")
    page.click("#wf-assign")
    expect(page.locator("#wf-message")).to_have_text("Assigned to you by alice.", timeout=WAIT_MS)
    notes = [re.search(r'"note": "([^"]*)"', h).group(1) for h in _history(pipeline, id_b)]  # type: ignore[union-attr]
    assert notes == ["B: customer confirmed travel", ""], notes
    assert _history(pipeline, id_a) == []


# --- 8 and 13. the alerts table's Export CSV is the server's export ----------------------------------
def test_alerts_table_export_has_every_field_numbers_as_numbers_and_no_formulas(
    analysts: Open, pipeline: Pipeline
) -> None:
    # It was AG Grid's own export: the table's rows only, "18,750.00 EUR" as text, no alert id,
    # currency, reasons or note, and `=HYPERLINK(...)` from the stream written as it came.
    txn = _txn("csv")
    formula_city, formula_merchant = '=HYPERLINK("http://evil.example","x")', "@SUM(1+1)*cmd|x"
    value, alert_id = high_amount_event(txn, city=formula_city, merchant_id=formula_merchant)
    pipeline.send(value)
    pipeline.wait_alert(alert_id)
    page = analysts("alice").page
    with page.expect_download(timeout=DATA_WAIT_MS) as download:
        page.click("#grid-export")
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, text[:300]
    for column in ("alert_id", "amount", "currency", "reasons", "status", "assignee", "note"):
        assert column in rows[0], f"no {column} column in {list(rows[0])}"
    [row] = [r for r in rows if r["alert_id"] == alert_id]
    assert (row["amount"], row["currency"]) == ("18750.0", "EUR")
    assert row["city"] == "'" + formula_city
    assert row["merchant_id"] == "'" + formula_merchant


# --- 4. search: in the nav, whole cells, a card's history in words -----------------------------------
_CLIPPED = """(cell) => { const v = cell.querySelector('.ag-cell-value') || cell;
                        return v.scrollWidth > v.clientWidth ? v.textContent : ''; }"""


def test_search_is_in_the_nav_and_shows_whole_times_and_amounts(analysts: Open, pipeline: Pipeline) -> None:
    [(card, alert_id)] = _alerts(pipeline, "srch", 1)
    page = analysts("alice").page
    page.set_viewport_size({"width": 1400, "height": 850})
    page.get_by_role("link", name="Search", exact=True).click()  # it was not in the nav at all
    page.wait_for_timeout(300)  # the jump is instant; let layout settle after it
    assert page.evaluate(_UNCOVERED, "#search-card") == ""
    page.fill("#search-card", card)
    page.click("#search-go")
    row = page.locator(f'#search-grid .ag-center-cols-container .ag-row[row-id="{alert_id}"]')
    expect(row).to_be_visible(timeout=WAIT_MS)
    # In half the page's width "2026-12-05 23:42:2…" and "18,750…" (no currency) were shown.
    clipped = [
        text for col in ("time", "amount") if (text := row.locator(f'[col-id="{col}"]').evaluate(_CLIPPED))
    ]
    assert clipped == [], clipped
    expect(row.locator('[col-id="amount"]')).to_have_text("18,750.00 EUR")
    row.locator('[col-id="card"]').click()
    history = page.locator("#search-card-history")
    expect(history).to_contain_text(f"Card {card}: 1 alert kept", timeout=DATA_WAIT_MS)
    expect(history).to_contain_text("High amount")
    assert "high_amount" not in history.inner_text()


# --- 5. a bulk note is stored once, then the box is empty ---------------------------------------------
def test_bulk_note_is_cleared_once_stored(analysts: Open, pipeline: Pipeline) -> None:
    [(card, alert_id)] = _alerts(pipeline, "bulknote", 1)
    page = analysts("bob").page
    page.get_by_role("link", name="Search", exact=True).click()
    page.fill("#search-card", card)
    page.click("#search-go")
    expect(page.locator("#search-summary")).to_have_text("1 match.", timeout=WAIT_MS)
    row = page.locator(f'#search-grid .ag-center-cols-container .ag-row[row-id="{alert_id}"]')
    row.locator(".ag-checkbox-input").check()
    note = page.locator("#bulk-note")
    note.fill("bulk: customer called, card blocked")
    page.click("#bulk-apply")  # the default action: acknowledge
    expect(page.locator("#bulk-result")).to_contain_text("1 acknowledged", timeout=WAIT_MS)
    # it stayed, so the next bulk action on other customers' alerts carried it into their history
    expect(note).to_have_value("")
    assert '"note": "bulk: customer called, card blocked"' in _history(pipeline, alert_id)[0]
    note.fill("kept when nothing applied")
    page.click("#bulk-apply")  # already acknowledged (refused, or a conflict if the row is stale): note stays
    expect(page.locator("#bulk-result")).to_contain_text("0 acknowledged", timeout=WAIT_MS)
    expect(note).to_have_value("kept when nothing applied")
    note.fill("")


# --- 6. reopen, actions the state allows, words ---------------------------------------------------
def test_resolved_alert_can_be_reopened_and_only_allowed_actions_are_enabled(
    analysts: Open, pipeline: Pipeline
) -> None:
    [(card, alert_id)] = _alerts(pipeline, "reopen", 1)
    bob = analysts("bob")
    page = bob.page
    _select(bob, card, alert_id)
    buttons = ("#wf-ack", "#wf-assign", "#wf-resolve-fraud", "#wf-resolve-fp", "#wf-reopen")

    def enabled() -> list[str]:
        return [b for b in buttons if page.locator(b).is_enabled()]

    # the page is shared across tests: wait until the buttons follow this alert, not the last one
    expect(page.locator("#wf-ack")).to_be_enabled(timeout=WAIT_MS)
    expect(page.locator("#wf-reopen")).to_be_disabled(timeout=WAIT_MS)
    assert enabled() == list(buttons[:4])
    page.click("#wf-resolve-fraud")
    expect(page.locator("#wf-message")).to_have_text("Resolved as fraud confirmed by bob.", timeout=WAIT_MS)
    expect(page.locator("#wf-reopen")).to_be_enabled(timeout=WAIT_MS)
    assert enabled() == ["#wf-reopen"]
    expect(page.locator("#alert-detail")).to_contain_text("Resolved: fraud")
    status = _grid_row(bob, alert_id).locator('[col-id="status"]')
    expect(status).to_have_text("Resolved: fraud", timeout=WAIT_MS)
    page.click("#wf-reopen")
    expect(page.locator("#wf-message")).to_have_text("Reopened by bob.", timeout=WAIT_MS)
    expect(page.locator("#wf-resolve-fp")).to_be_enabled(timeout=WAIT_MS)
    expect(page.locator("#alert-history")).to_contain_text("Reopened: Resolved: fraud \u2192 Acknowledged")
    assert "resolved_fraud" not in page.locator("#sec-alerts").inner_text()


# --- 3. pause is for the charts only, and view state belongs to one user ----------------------------
def test_pause_stops_only_the_charts_and_view_state_leaves_with_the_user(
    browser: Any, dashboard: Dashboard, pipeline: Pipeline
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        login(page, dashboard.base_url, "alice", dashboard.passwords["alice"])
        # right after sign-in the page is still loading plotly.js and AG Grid: on the loaded CI cores
        # a click can wait longer than WAIT_MS for the button to take events
        page.locator("#pause-toggle").click(timeout=DATA_WAIT_MS)
        expect(page.locator("#pause-toggle")).to_have_text("Resume charts", timeout=WAIT_MS)
        expect(page.locator("#pause-indicator")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#live-charts")).to_have_class(re.compile(r"\bcharts-paused\b"), timeout=WAIT_MS)
        [(_, alert_id)] = _alerts(pipeline, "paused", 1)
        row = page.locator(f'#alerts-grid .ag-center-cols-container .ag-row[row-id="{alert_id}"]')
        expect(row).to_be_attached(timeout=DATA_WAIT_MS)  # the table is not paused
        box = page.locator("#grid-quick-filter")
        box.fill("Oslo")
        box.press("Enter")
        page.click("#logout-button")
        expect(page).to_have_url(re.compile(r"/login"), timeout=WAIT_MS)
        login(page, dashboard.base_url, "bob", dashboard.passwords["bob"])
        expect(page.locator("#pause-toggle")).to_have_text("Pause charts", timeout=WAIT_MS)
        expect(page.locator("#pause-indicator")).to_be_hidden(timeout=WAIT_MS)
        expect(page.locator("#grid-quick-filter")).to_have_value("", timeout=WAIT_MS)
        stored = page.evaluate("() => window.localStorage.getItem('view-state') || ''")
        assert "alice" not in stored and '"paused":true' not in stored, stored
    finally:
        context.close()
