"""Real-browser tests: login, live rendering, RED ALERT across analysts, workflow conflicts, XSS."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from playwright.sync_api import expect

from dashapp.store import AlertWorkflow
from tests.browser.conftest import DATA_WAIT_MS, WAIT_MS, Analyst, Pipeline
from tests.browser.harness import (
    ADMIN,
    REPO_ROOT,
    XSS_CATEGORY,
    XSS_CITY,
    XSS_MERCHANT,
    Dashboard,
    high_amount_event,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]
BANNER = "#red-alert-banner"


def _txn(tag: str) -> str:
    return f"bt-{tag}-{uuid.uuid4().hex[:10]}"


def _clear_banner(pipeline: Pipeline) -> None:
    """Acknowledge whatever an earlier test left in the banner, so this test owns it."""
    keys = pipeline.dashboard.keys
    wf = AlertWorkflow(pipeline.client, keys)
    for raw in cast(list[bytes], pipeline.client.zrange(keys.banner, 0, -1)):
        row = wf.get(raw.decode())
        if row.status == "new":
            wf.act(row.alert_id, "acknowledge", "test-setup", row.version)


def _history(pipeline: Pipeline, alert_id: str) -> list[str]:
    key = pipeline.dashboard.keys.alert_history(alert_id)
    return [h.decode() for h in cast(list[bytes], pipeline.client.lrange(key, 0, -1))]


def _banner_item(who: Analyst, card_id: str) -> Any:
    return who.page.locator("#red-alert-list li.red-alert-item", has_text=f"card {card_id}")


def _grid_row(who: Analyst, alert_id: str) -> Any:
    return who.page.locator(f'#alerts-grid .ag-center-cols-container .ag-row[row-id="{alert_id}"]')


def _show_only(who: Analyst, text: str) -> None:
    """Use the grid's quick filter so the row under test is on screen whatever else arrives."""
    box = who.page.locator("#grid-quick-filter")
    box.fill(text)
    box.press("Enter")
    # wait until the filter is applied, so its selection changes land before the test clicks
    rows = who.page.locator("#alerts-grid .ag-center-cols-container .ag-row")
    expect(rows.filter(has_not_text=text)).to_have_count(0, timeout=WAIT_MS)


def _assert_clean(*people: Analyst) -> None:
    for who in people:
        assert who.dialogs == [], f"{who.name}: a dialog fired: {who.dialogs}"
        assert who.page.evaluate("() => window.__xss === undefined"), f"{who.name}: injected script ran"
        assert who.errors == [], f"{who.name}: page errors: {who.errors}"
        assert who.server_errors == [], f"{who.name}: server errors: {who.server_errors}"


# --- login and the live page --------------------------------------------------------------------------
def test_login_form_refuses_a_wrong_password(browser: Any, dashboard: Dashboard) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{dashboard.base_url}/", wait_until="domcontentloaded")
        expect(page).to_have_url(re.compile(r"/login\?next=/$"), timeout=WAIT_MS)
        page.fill("#login-username", "alice")
        page.fill("#login-password", "not-the-password")
        page.click("#login-submit")
        expect(page.locator("#login-error")).to_contain_text("wrong password", timeout=WAIT_MS)
        assert page.locator("#kpi-tps").count() == 0
        # Nothing of the dashboard is reachable without the session either.
        page.goto(f"{dashboard.base_url}/_dash-layout")
        assert "kpi-tps" not in page.content()
    finally:
        context.close()


def test_live_dashboard_renders_kpis_graphs_and_health(analysts: Open, pipeline: Pipeline) -> None:
    alice = analysts("alice")
    page = alice.page
    expect(page.locator("#current-role")).to_have_text("analyst")
    expect(page.locator("#kpi-bridges")).to_have_text("1", timeout=DATA_WAIT_MS)
    for kpi in ("#kpi-tps", "#kpi-alerts-min", "#kpi-fraud-rate", "#kpi-amount-min", "#kpi-lag"):
        expect(page.locator(kpi)).to_have_text(re.compile(r"\d"), timeout=WAIT_MS)
    expect(page.locator("#kpi-tps")).not_to_have_text(re.compile(r"^0\.0$"), timeout=WAIT_MS)
    # The transaction stream is drawn: points in the amounts chart, bars/lines in throughput.
    for graph in ("#timeline-graph", "#throughput-graph"):
        expect(page.locator(f"{graph} .main-svg").first).to_be_visible(timeout=DATA_WAIT_MS)
        expect(page.locator(f"{graph} .scatterlayer .trace, {graph} .barlayer .trace").first).to_be_attached(
            timeout=WAIT_MS
        )
    expect(page.locator("#city-map .geolayer, #city-map .geo").first).to_be_attached(timeout=WAIT_MS)
    expect(page.locator("#health-bridges tbody tr").first).to_contain_text("alive", timeout=WAIT_MS)
    expect(page.locator("#freshness-badge")).to_have_class(re.compile("badge-(green|amber)"), timeout=WAIT_MS)
    # Analysts see the rule editor read-only: no save button.
    expect(page.locator("#rules-save")).to_be_hidden()
    _assert_clean(alice)


def test_charts_offer_no_upload_to_plotly_cloud(analysts: Open, pipeline: Pipeline) -> None:
    # plotly.js 3's default modebar had "Share chart...": upload the figure (cards, amounts,
    # cities) to Plotly Cloud for a sharing link.
    page = analysts("alice").page
    for graph in ("#timeline-graph", "#throughput-graph", "#rules-graph", "#city-map"):
        buttons = page.locator(f"{graph} .modebar-btn")
        expect(
            buttons.filter(has=page.locator("xpath=self::*[@data-title='Download plot as a PNG']"))
        ).to_have_count(1, timeout=WAIT_MS)
        titles = [buttons.nth(i).get_attribute("data-title") or "" for i in range(buttons.count())]
        assert not [
            t for t in titles if "share" in t.lower() or "cloud" in t.lower() or "studio" in t.lower()
        ], titles


# --- RED ALERT across analysts ---------------------------------------------------------------------
def test_red_alert_reaches_both_analysts_and_acknowledgement_clears_it(
    analysts: Open, pipeline: Pipeline
) -> None:
    _clear_banner(pipeline)
    alice, bob = analysts("alice"), analysts("bob")
    for who in (alice, bob):
        expect(who.page.locator(BANNER)).to_have_class(re.compile(r"\bhidden\b"), timeout=DATA_WAIT_MS)
    txn = _txn("red")
    value, alert_id = high_amount_event(txn, city="Lyon", lat=45.764, lon=4.8357)
    pipeline.send(value)
    for who in (alice, bob):
        expect(who.page.locator(BANNER)).not_to_have_class(re.compile(r"\bhidden\b"), timeout=DATA_WAIT_MS)
        expect(who.page.locator(BANNER)).to_contain_text("RED ALERT")
        expect(_banner_item(who, f"C-{txn}")).to_contain_text("18,750.00 EUR")
        expect(who.page.locator("#red-alert-count")).to_have_text(re.compile(r"^1 unacknowledged"))
    _banner_item(alice, f"C-{txn}").get_by_role("button", name="Acknowledge").click()
    expect(alice.page.locator(BANNER)).to_have_class(re.compile(r"\bhidden\b"), timeout=WAIT_MS)
    # Bob did nothing: his next refresh hides the banner and shows who changed the status.
    expect(bob.page.locator(BANNER)).to_have_class(re.compile(r"\bhidden\b"), timeout=DATA_WAIT_MS)
    _show_only(bob, f"C-{txn}")
    status = _grid_row(bob, alert_id).locator('[col-id="status"]')
    expect(status).to_have_text("Acknowledged", timeout=DATA_WAIT_MS)
    history = _history(pipeline, alert_id)
    assert len(history) == 1 and '"by": "alice"' in history[0], history
    _assert_clean(alice, bob)


# --- concurrent actions on one alert -----------------------------------------------------------------
def _select(who: Analyst, card_id: str, alert_id: str) -> None:
    """Filter the table to the card and click its row once: the detail panel must show the alert.

    One click, never retried: a click landing while the grid applies a data update used to be
    dropped (dash-ag-grid pauses its selection events then); rows now open from the click itself.
    """
    _show_only(who, card_id)
    cell = _grid_row(who, alert_id).locator('[col-id="card"]')
    expect(cell).to_have_text(card_id, timeout=DATA_WAIT_MS)
    cell.click()
    expect(who.page.locator("#alert-detail")).to_contain_text(alert_id, timeout=WAIT_MS)


def test_conflicting_actions_tell_the_loser_who_won(analysts: Open, pipeline: Pipeline) -> None:
    txn = _txn("conflict")
    value, alert_id = high_amount_event(txn, city="Berlin", country="DE", lat=52.52, lon=13.405)
    pipeline.send(value)
    pipeline.wait_alert(alert_id)
    alice, bob = analysts("alice"), analysts("bob")
    for who in (alice, bob):
        _select(who, f"C-{txn}", alert_id)
    bob.stall_ticks()  # bob keeps looking at version 1
    alice.page.click("#wf-ack")
    expect(alice.page.locator("#wf-message")).to_have_text("Acknowledged by alice.", timeout=WAIT_MS)
    bob.page.click("#wf-assign")
    message = bob.page.locator("#wf-message")
    expect(message).to_contain_text("was changed by alice", timeout=WAIT_MS)
    expect(message).to_have_class(re.compile(r"\bconflict\b"))
    # The loser now sees the alert as it is; nothing of his action was stored.
    expect(bob.page.locator("#alert-detail")).to_contain_text("Acknowledged")
    row = AlertWorkflow(pipeline.client, pipeline.dashboard.keys).get(alert_id)
    assert (row.status, row.assignee, row.version, row.updated_by) == ("acknowledged", "", 2, "alice")
    _assert_clean(alice, bob)


def test_banner_acknowledge_race_tells_the_loser(analysts: Open, pipeline: Pipeline) -> None:
    _clear_banner(pipeline)
    txn = _txn("bannerrace")
    value, alert_id = high_amount_event(txn, city="Madrid", country="ES", lat=40.4168, lon=-3.7038)
    alice, bob = analysts("alice"), analysts("bob")
    pipeline.send(value)
    for who in (alice, bob):
        expect(_banner_item(who, f"C-{txn}")).to_be_visible(timeout=DATA_WAIT_MS)
    bob.stall_ticks()  # bob's banner still offers the alert after alice took it
    _banner_item(alice, f"C-{txn}").get_by_role("button", name="Acknowledge").click()
    expect(_banner_item(alice, f"C-{txn}")).to_have_count(0, timeout=DATA_WAIT_MS)
    _banner_item(bob, f"C-{txn}").get_by_role("button", name="Acknowledge").click()
    expect(bob.page.locator("#red-alert-message")).to_contain_text("was changed by alice", timeout=WAIT_MS)
    history = _history(pipeline, alert_id)
    assert len(history) == 1 and '"by": "alice"' in history[0], history
    _assert_clean(alice, bob)


# --- hostile stream strings ------------------------------------------------------------------------
def test_hostile_strings_render_as_literal_text(analysts: Open, pipeline: Pipeline) -> None:
    _clear_banner(pipeline)
    txn = _txn("xss")
    card = f"C-{txn}"
    value, alert_id = high_amount_event(
        txn, city=XSS_CITY, merchant_id=XSS_MERCHANT, merchant_category=XSS_CATEGORY
    )
    # An invalid record (negative amount) whose text reaches the dead-letter samples in the health view.
    poison = (
        b'{"city":"<img src=x onerror=window.__xss=3>","amount":-1,"txn_id":"' + _txn("p").encode() + b'"}'
    )
    # A page no earlier test has touched (its selection and filters are pristine); admins see it all.
    alice = analysts(ADMIN)
    pipeline.send(value, poison)
    page = alice.page
    expect(page.locator(".ra-city", has_text=XSS_CITY)).to_have_text(XSS_CITY, timeout=DATA_WAIT_MS)
    _select(alice, card, alert_id)
    expect(_grid_row(alice, alert_id).locator('[col-id="city"]')).to_have_text(XSS_CITY)
    detail = page.locator("#alert-detail")
    expect(detail).to_contain_text(f"{XSS_MERCHANT} ({XSS_CATEGORY})", timeout=WAIT_MS)
    expect(detail).to_contain_text(XSS_CITY)
    samples = page.locator("#health-dlq-samples")
    expect(samples).to_contain_text("<img src=x onerror=window.__xss=3>", timeout=WAIT_MS * 2)
    # An analyst's note is stream-independent input too: it comes back as text in the history.
    page.fill("#wf-note", "<img src=x onerror=alert('note')>")
    page.click("#wf-ack")
    expect(page.locator("#alert-history .hist-note")).to_have_text(
        "<img src=x onerror=alert('note')>", timeout=WAIT_MS
    )
    # No element was created from the strings: they exist only as text.
    assert page.locator('img[src="x"]').count() == 0
    assert page.evaluate("() => [...document.scripts].every(s => !s.textContent.includes('__xss'))")
    _assert_clean(alice)


# --- the README screenshot ------------------------------------------------------------------------
def test_screenshot_of_live_dashboard_with_red_alert(analysts: Open, pipeline: Pipeline) -> None:
    _clear_banner(pipeline)
    for scenario, card in (("velocity_burst", 11), ("card_testing", 12), ("impossible_travel", 13)):
        pipeline.inject(scenario, card)
    txn = _txn("shot")
    value, alert_id = high_amount_event(txn, city="Rome", country="IT", lat=41.9028, lon=12.4964)
    pipeline.send(value)
    pipeline.wait_alert(alert_id)
    alice = analysts("alice")
    page = alice.page
    page.set_viewport_size({"width": 1440, "height": 1280})
    expect(page.locator(BANNER)).not_to_have_class(re.compile(r"\bhidden\b"), timeout=DATA_WAIT_MS)
    expect(page.locator("#kpi-bridges")).to_have_text("1", timeout=WAIT_MS)
    expect(page.locator("#alerts-grid .ag-center-cols-container .ag-row").first).to_be_visible(
        timeout=WAIT_MS
    )
    expect(page.locator("#freshness-badge")).to_have_class(re.compile("badge-green"), timeout=WAIT_MS)
    # the injected scenarios have reached the slower aggregate views too
    expect(page.locator("#rules-graph")).to_contain_text("Card testing", timeout=DATA_WAIT_MS)
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    page.mouse.move(0, 0)
    # Tests write under .local/; `SCREENSHOT_PATH=docs/screenshot.png` refreshes the README's image.
    target = Path(REPO_ROOT) / os.environ.get("SCREENSHOT_PATH", ".local/test/screenshot.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=False)
    assert target.stat().st_size > 20_000
    _assert_clean(alice)
