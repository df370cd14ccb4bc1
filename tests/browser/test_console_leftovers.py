"""Real-browser tests of issue #19's leftovers: severity colour in search, whole cells, time inputs."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from common.alert_events import ACKNOWLEDGED, make_event
from dashapp.store import AlertWorkflow
from dashapp.store.outbox_events import xadd
from tests.browser.conftest import DATA_WAIT_MS, WAIT_MS, Analyst, Pipeline
from tests.browser.harness import event, high_amount_event
from tests.browser.test_a11y import _axe, _report
from tests.browser.test_dashboard import _grid_row, _show_only, _txn

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]
# The longest cities the producer's world and the demo's marker put in the City column.
UNKNOWN = {"city": "UNKNOWN_IP_ADDR", "country": "XX", "lat": None, "lon": None}
SF = {"city": "San Francisco", "country": "US", "lat": 37.77, "lon": -122.42}
# Cells whose text does not fit (AG Grid ends them with an ellipsis): "col-id: text" each.
_CUT_CELLS = """(row) => [...row.querySelectorAll('.ag-cell')].flatMap((cell) => {
  const v = cell.querySelector('.ag-cell-value') || cell;
  return v.scrollWidth > v.clientWidth
    ? [`${cell.getAttribute('col-id')}: ${v.textContent} (${v.scrollWidth} > ${v.clientWidth})`] : [];
})"""
# Texts (headers) that do not fit their box.
_CUT_TEXT = "(els) => els.filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.textContent)"
# Each column's width in px, for the failure message.
_WIDTHS = """(grid) => Object.fromEntries([...grid.querySelectorAll('.ag-header-cell')].map(
  (h) => [h.getAttribute('col-id'), Math.round(h.getBoundingClientRect().width)]))"""
# How far the grid's body scrolls sideways (0: every column is on screen).
_SIDEWAYS = """(grid) => { const v = grid.querySelector('.ag-body-horizontal-scroll-viewport');
                          return v ? v.scrollWidth - v.clientWidth : 0; }"""


def _send(pipeline: Pipeline, tag: str, **fields: Any) -> tuple[str, str]:
    """One high-amount alert (with `fields`); its (card, alert id) once stored."""
    txn = _txn(tag)
    card = fields.pop("card_id", f"C-{txn}")
    value, alert_id = high_amount_event(txn, card_id=card)
    if fields:
        value = event(txn, **{"amount": 18_750.0, "card_id": card, **fields})
    pipeline.send(value)
    pipeline.wait_alert(alert_id)
    return card, alert_id


def _search(page: Any, **fields: str) -> None:
    page.get_by_role("link", name="Search", exact=True).click()
    for name in ("card", "since", "until"):
        page.fill(f"#search-{name}", fields.get(name, ""))
    page.click("#search-go")


def _search_row(page: Any, alert_id: str) -> Any:
    return page.locator(f'#search-grid .ag-center-cols-container .ag-row[row-id="{alert_id}"]')


def test_search_results_show_severity_as_the_alerts_grid_does(analysts: Open, pipeline: Pipeline) -> None:
    card, alert_id = _send(pipeline, "sevcol")
    # and one of the card's alerts past the SLA: its row has the amber "overdue" band (axe checks it)
    # (40 min: past the 30 min SLA, and the amount timeline keeps its usual span for test_layout)
    old = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 40 * 60))
    _, overdue_id = _send(pipeline, "sevold", card_id=card, ts=old)
    who = analysts("alice")
    page = who.page
    _show_only(who, card)
    live = _grid_row(who, alert_id).locator('[col-id="severity"]')
    expect(live).to_have_text("high", timeout=DATA_WAIT_MS)
    _search(page, card=card)
    found = _search_row(page, alert_id).locator('[col-id="severity"]')
    expect(found).to_have_text("high", timeout=WAIT_MS)
    style = "(e) => { const s = getComputedStyle(e); return [s.color, s.fontWeight]; }"
    # the search results showed "high" in plain ink: the same class and the same computed colour
    expect(found).to_have_class(re.compile(r"\bsev-high\b"))
    assert found.evaluate(style) == live.evaluate(style)
    expect(_search_row(page, overdue_id)).to_have_class(re.compile(r"\bsearch-overdue\b"))
    expect(_search_row(page, overdue_id).locator('[col-id="severity"]')).to_have_class(
        re.compile(r"\bsev-high\b")
    )
    violations = _axe(page)
    assert violations == [], f"axe found WCAG 2.1 A/AA violations:\n{_report(violations)}"


@pytest.mark.parametrize("width", [1280, 1440, 1920])
def test_alerts_grid_shows_every_cell_whole(analysts: Open, pipeline: Pipeline, width: int) -> None:
    # UNKNOWN_IP_ADDR adds the unknown-location rule: the longest city and two rule names; the
    # longest status, a long amount; card ids as the producer makes them (C + 7 digits)
    tag = f"{width}{time.time_ns() % 10**6:06d}"[-7:]
    rows = [
        _send(pipeline, f"w{width}u", card_id=f"C{tag}", **UNKNOWN),
        _send(pipeline, f"w{width}s", card_id=f"C{tag}", amount=1_234_567.89, **SF),
    ]
    wf = AlertWorkflow(pipeline.client, pipeline.dashboard.keys)
    wf.act(rows[1][1], "assign_to_me", "alice", 1)
    wf.act(rows[1][1], "resolve_false_positive", "alice", 2)
    who = analysts("alice")
    page = who.page
    page.set_viewport_size({"width": width, "height": 800})
    _show_only(who, f"C{tag}")
    for _card, alert_id in rows:
        expect(_grid_row(who, alert_id).locator('[col-id="city"]')).not_to_be_empty(timeout=DATA_WAIT_MS)
    page.wait_for_timeout(500)  # a resize reaches AG Grid's column widths on its next frame
    cut = {aid: _grid_row(who, aid).evaluate(_CUT_CELLS) for _card, aid in rows}
    widths = page.locator("#alerts-grid").evaluate(_WIDTHS)
    assert cut == {aid: [] for _card, aid in rows}, f"{width} px: cells cut: {cut} (column widths {widths})"
    heads = page.locator("#alerts-grid .ag-header-cell-text").evaluate_all(_CUT_TEXT)
    assert heads == [], f"{width} px: headers cut: {heads}"
    # a full table: the vertical scroll bar takes its width too
    made = [high_amount_event(_txn(f"w{width}f{i}"), **SF) for i in range(15)]
    pipeline.send(*(value for value, _ in made))
    pipeline.wait_alert(made[-1][1])
    page.fill("#grid-quick-filter", "")
    page.press("#grid-quick-filter", "Enter")
    expect(page.locator("#alerts-grid .ag-center-cols-container .ag-row").nth(14)).to_be_attached(
        timeout=DATA_WAIT_MS
    )
    page.wait_for_timeout(500)
    sideways = page.locator("#alerts-grid").evaluate(_SIDEWAYS)
    assert sideways == 0, f"{width} px: the alerts grid scrolls {sideways} px sideways"


def test_search_time_range_shows_its_format_takes_it_and_says_what_is_wrong(
    analysts: Open, pipeline: Pipeline
) -> None:
    card, alert_id = _send(pipeline, "trange")
    page = analysts("bob").page
    page.get_by_role("link", name="Search", exact=True).click()
    # the fields showed "2026-09-21 12:00", a date that read as a value already typed
    expect(page.locator("#search-since")).to_have_attribute("placeholder", "YYYY-MM-DD HH:MM")
    expect(page.locator("#search-until")).to_have_attribute("placeholder", "YYYY-MM-DD HH:MM")
    now = time.time()
    today = time.strftime("%Y-%m-%d", time.gmtime(now))
    this_minute = time.strftime("%Y-%m-%d %H:%M", time.gmtime(now))
    hour_ago = time.strftime("%Y-%m-%d %H:%M", time.gmtime(now - 3600))
    row = _search_row(page, alert_id)
    # "To <today>" is the whole day and "To <this minute>" the whole minute: both held no alert at all
    for since, until in ((today, today), (hour_ago, this_minute)):
        _search(page, card=card, since=since, until=until)
        expect(page.locator("#search-summary")).to_have_text("1 match.", timeout=WAIT_MS)
        expect(row).to_be_visible()
    _search(page, card=card, since="06/12/2026 14:00", until=this_minute)
    error = page.locator("#search-since-error")
    expect(error).to_have_text("From: “06/12/2026 14:00” is not a time. Write it as YYYY-MM-DD HH:MM (UTC).")
    expect(page.locator("#search-summary")).to_have_text("Not searched: correct the time range.")
    expect(row).to_have_count(0)  # no earlier results left under the error
    marked = "(e) => getComputedStyle(e.closest('.input-invalid') || e).borderTopColor"  # Dash's box
    assert page.locator("#search-since").evaluate(marked) == "rgb(220, 38, 38)"  # the red of errors
    expect(page.locator("#search-until-error")).to_be_empty()
    violations = _axe(page)
    assert violations == [], f"axe found WCAG 2.1 A/AA violations:\n{_report(violations)}"
    _search(page, card=card, since=hour_ago, until=this_minute)
    expect(error).to_be_empty(timeout=WAIT_MS)
    expect(row).to_be_visible()


def test_health_panel_warns_when_alert_events_are_not_relayed(analysts: Open, pipeline: Pipeline) -> None:
    keys, client = pipeline.dashboard.keys, pipeline.client
    client.delete(keys.events_outbox)  # no relay runs in this session: start from an empty outbox
    long_ago = int(time.time() * 1000) - 10 * 60_000
    for i in range(3):  # three changes committed ten minutes ago, still waiting
        event = make_event(ACKNOWLEDGED, at_ms=long_ago, actor="alice", subject=f"a{i}")
        command = list(xadd(keys, event))
        command[2] = f"{long_ago}-{i}"
        client.execute_command(*command)
    page = analysts("alice").page
    state = page.locator("#health-outbox-state")
    expect(state).to_have_text(
        "Outbox backlog: the relay has not published anything yet; the oldest event has waited 10 min.",
        timeout=DATA_WAIT_MS,
    )
    waiting = page.locator("#health-outbox tr", has_text="waiting in the outbox").locator("td").nth(1)
    expect(waiting).to_have_text("3")
    state.scroll_into_view_if_needed()
    violations = _axe(page)
    assert violations == [], f"axe found WCAG 2.1 A/AA violations:\n{_report(violations)}"
    client.delete(keys.events_outbox)  # relayed (as the relay deletes what Kafka acknowledged)
    expect(state).to_have_text("Relay keeping up.", timeout=DATA_WAIT_MS)
    expect(waiting).to_have_text("0")


def test_search_results_show_every_cell_whole_at_1280(analysts: Open, pipeline: Pipeline) -> None:
    tag = f"{time.time_ns() % 10**7:07d}"
    rows = [
        _send(pipeline, "sw-u", card_id=f"C{tag}", **UNKNOWN),
        _send(pipeline, "sw-s", card_id=f"C{tag}", amount=1_234_567.89, **SF),
    ]
    wf = AlertWorkflow(pipeline.client, pipeline.dashboard.keys)
    wf.act(rows[1][1], "assign_to_me", "alice", 1)
    wf.act(rows[1][1], "resolve_false_positive", "alice", 2)
    page = analysts("alice").page
    page.set_viewport_size({"width": 1280, "height": 800})
    _search(page, card=f"C{tag}")
    for _card, alert_id in rows:
        expect(_search_row(page, alert_id)).to_be_visible(timeout=WAIT_MS)
    page.wait_for_timeout(500)  # a resize reaches AG Grid's column widths on its next frame
    cut = {aid: _search_row(page, aid).evaluate(_CUT_CELLS) for _card, aid in rows}
    widths = page.locator("#search-grid").evaluate(_WIDTHS)
    assert cut == {aid: [] for _card, aid in rows}, f"cells cut: {cut} (column widths {widths})"
    heads = page.locator("#search-grid .ag-header-cell-text").evaluate_all(_CUT_TEXT)
    assert heads == [], f"headers cut: {heads}"
    # a full page of results: the vertical scroll bar takes its width too
    made = [high_amount_event(_txn(f"swf{i}"), **SF) for i in range(15)]
    pipeline.send(*(value for value, _ in made))
    pipeline.wait_alert(made[-1][1])
    _search(page)
    expect(page.locator("#search-grid .ag-center-cols-container .ag-row").nth(14)).to_be_attached(
        timeout=WAIT_MS
    )
    page.wait_for_timeout(500)
    sideways = page.locator("#search-grid").evaluate(_SIDEWAYS)
    assert sideways == 0, f"the results scroll {sideways} px sideways"
