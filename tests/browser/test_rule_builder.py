"""Real browser: an admin builds a rule in the form and publishes it; an analyst sees it and its alert."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from common.alerts import alert_id_for
from dashapp.store import AlertNotFound, AlertWorkflow, RulesStore
from dashapp.store.list_entries import EntryIn
from dashapp.store.lists import ListStore
from tests.browser.conftest import DATA_WAIT_MS, WAIT_MS, Analyst, Pipeline
from tests.browser.harness import ADMIN, event, high_amount_event

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]
RESEND_S = 2.0  # one more event after this long without an alert (the bridge applies a publish <= 2 s)


def _choose(page: Any, part: str, option: str) -> None:
    """Pick `option` in the form's dropdown `part` (a CSS selector of its labelled wrapper)."""
    page.locator(f"{part} button.dash-dropdown").click()
    # app.js gives Dash's option labels plain native-input semantics (axe), so pick by the label's text
    page.locator("label.dash-options-list-option").filter(
        has=page.get_by_text(option, exact=True)
    ).first.click()
    expect(page.locator(f"{part} button.dash-dropdown")).to_contain_text(option)


def _typed(page: Any, selector: str, text: str) -> None:
    """Type into a debounced input and commit it (Enter), as a person would."""
    box = page.locator(selector)
    box.fill(text)
    box.press("Enter")


def _field_row(page: Any, n: int, field: str, op: str, value: str, alias: str = "") -> None:
    row = f"#rb-row-{n}"
    expect(page.locator(row)).to_be_visible(timeout=WAIT_MS)
    _choose(page, f"{row} .rb-part-field", field)
    _choose(page, f"{row} .rb-part-op", op)
    _typed(page, f"{row} .rb-part-value input", value)
    if alias:
        _typed(page, f"{row} .rb-part-as input", alias)


def _meta(page: Any, field: str) -> Any:
    return page.locator(f".rb-meta-{field} input, .rb-meta-{field} textarea")


def _fire_until_alert(pipeline: Pipeline, merchant: str, rule_id: str) -> tuple[str, str]:
    """Send matching events (a new one every RESEND_S) until one raises an alert by `rule_id`.

    Events sent before the bridges picked up the publish raise nothing: that is the rule going live.
    """
    alerts = AlertWorkflow(pipeline.client, pipeline.dashboard.keys)
    sent: list[str] = []
    last = [0.0]
    found: list[str] = []

    def fired() -> bool:
        for txn in sent:
            try:
                row = alerts.get(alert_id_for(txn))
            except AlertNotFound:
                continue
            if any(r.rule == rule_id for r in row.reasons):
                found.append(txn)
                return True
        if time.monotonic() - last[0] > RESEND_S:
            txn = f"rb-{uuid.uuid4().hex[:12]}"
            pipeline.send(event(txn, channel="online", amount=75.0, currency="USD", merchant_id=merchant))
            sent.append(txn)
            last[0] = time.monotonic()
        return False

    pipeline.wait_for(f"an alert by {rule_id}", fired)
    return found[0], alert_id_for(found[0])


def _open_alert(who: Analyst, card_id: str, alert_id: str) -> None:
    box = who.page.locator("#grid-quick-filter")
    box.fill(card_id)
    box.press("Enter")
    cell = who.page.locator(f'.ag-center-cols-container .ag-row[row-id="{alert_id}"] [col-id="card"]')
    expect(cell).to_have_text(card_id, timeout=DATA_WAIT_MS)
    cell.click()
    expect(who.page.locator("#alert-detail")).to_contain_text(alert_id, timeout=WAIT_MS)


def test_admin_builds_a_rule_an_analyst_sees_its_alert_and_a_restore_removes_it(
    analysts: Open, pipeline: Pipeline
) -> None:
    store = RulesStore(pipeline.client, pipeline.dashboard.keys)
    tag = uuid.uuid4().hex[:8]
    rule_id, merchant = f"rb_online_{tag}", f"M-RB-{tag}"
    admin = analysts(ADMIN)
    page = admin.page
    before = store.current().version
    page.locator("#rb-discard").click()  # start from the live rules, whatever an earlier test left
    expect(page.locator("#rb-live-label")).to_contain_text(f"v{before} ", timeout=WAIT_MS)

    # --- the admin builds the rule in the form ---------------------------------------------------
    page.locator("#rb-new").click()
    expect(page.locator("#rb-editor")).to_be_visible(timeout=WAIT_MS)
    _typed(page, ".rb-meta-id input", rule_id)
    _typed(page, ".rb-meta-name input", f"Online at {merchant}")
    _typed(page, ".rb-meta-description input", "Browser test: online purchases at one merchant.")
    _typed(page, ".rb-meta-score input", "0.8")
    _field_row(page, 0, "channel", "=", "online")
    page.locator("#rb-add-field").click()
    _field_row(page, 1, "amount_usd", ">", "5", alias="usd")
    page.locator("#rb-add-field").click()
    _field_row(page, 2, "merchant_id", "=", merchant)
    # a wrong value is named beside its row, then corrected
    _typed(page, "#rb-row-1 .rb-part-value input", "lots")
    explain = _meta(page, "explain")
    explain.fill("online at {merchant_id}: {usd}")
    explain.blur()
    expect(page.locator("#rb-row-1 .rb-msg")).to_contain_text("expected a number", timeout=WAIT_MS)
    expect(page.locator("#rb-row-1 .rb-part-value .rb-invalid")).to_have_count(1)  # the input at fault
    _typed(page, "#rb-row-1 .rb-part-value input", "5")
    expect(page.locator("#rb-row-1 .rb-msg")).to_be_empty(timeout=WAIT_MS)
    expect(page.locator("#rb-editor .rb-invalid")).to_have_count(0)
    raw = page.locator("#rb-raw")
    expect(raw).to_have_value(re.compile(rf"id: {rule_id}[\s\S]*value: {merchant}"), timeout=WAIT_MS)
    expect(page.locator("#rb-preview-text")).to_contain_text("online at ", timeout=WAIT_MS)
    page.locator("#rb-apply").click()
    expect(page.locator("#rb-form-msg")).to_contain_text(f"Kept {rule_id}", timeout=WAIT_MS)
    expect(page.locator("#rb-draft-summary")).to_contain_text(f"added {rule_id}")
    comment = f"browser test {tag}"
    _typed(page, "#rb-comment", comment)
    page.locator("#rb-publish").click()
    expect(page.locator("#rb-message")).to_contain_text(f"Published as version {before + 1}", timeout=WAIT_MS)
    record = store.version(before + 1)
    assert (record.author, record.comment) == (ADMIN, comment)
    assert [c.id for c in store.current().rules.custom] == [rule_id]

    # --- live: its first alert, seen by an analyst with the rule's explanation --------------------
    txn, alert_id = _fire_until_alert(pipeline, merchant, rule_id)
    alice = analysts("alice")
    rule_row = alice.page.locator(f"#rb-rule-{rule_id}")
    expect(rule_row).to_be_visible(timeout=DATA_WAIT_MS * 2)  # her draft reloads on the next page load
    expect(rule_row.get_by_role("button", name="View")).to_be_visible()
    expect(rule_row.get_by_role("button", name="Delete")).to_have_count(0)  # read-only for analysts
    rule_row.get_by_role("button", name="View").click()
    expect(alice.page.locator(".rb-meta-id input")).to_have_value(rule_id, timeout=WAIT_MS)
    expect(alice.page.locator(".rb-meta-id input")).to_be_disabled()
    expect(alice.page.locator("#rb-publish")).to_be_hidden()
    _open_alert(alice, f"C-{txn}", alert_id)
    expect(alice.page.locator("#alert-detail")).to_contain_text(f"online at {merchant}: $75.00")

    # --- the admin restores the version before: the rule is gone ---------------------------------
    page.locator("#rules-tab-versions").click()
    view = page.locator(f'#ver-table button[title="View version {before}"]')
    expect(view).to_be_visible(timeout=WAIT_MS)
    view.click()
    expect(page.locator("#ver-view-title")).to_contain_text(f"Version {before}", timeout=WAIT_MS)
    expect(page.locator("#ver-view-out")).not_to_contain_text(rule_id)
    _typed(page, "#ver-comment", "undo the browser test rule")
    page.locator("#ver-restore").click()
    expect(page.locator("#ver-message")).to_contain_text(f"restored as version {before + 2}", timeout=WAIT_MS)
    assert store.current().rules.custom == ()
    page.locator("#rules-tab-rules").click()
    expect(page.locator(f"#rb-rule-{rule_id}")).to_have_count(0, timeout=WAIT_MS)
    for who in (admin, alice):
        assert who.errors == [], f"{who.name}: page errors: {who.errors}"
        assert who.server_errors == [], f"{who.name}: server errors: {who.server_errors}"


def test_rule_builder_form_versions_and_lists_pass_axe(analysts: Open, pipeline: Pipeline) -> None:
    """WCAG 2.1 AA (the axe run of test_a11y) over the builder's own states: every row kind, the tabs."""
    from tests.browser.test_a11y import _axe, _report

    ListStore(pipeline.client, pipeline.dashboard.keys).put(
        "a11y_cards", [EntryIn("C-1", note="test")], "test-setup"
    )
    # an alert of its own: the grid waited for below has a row whichever tests ran before this one
    value, alert_id = high_amount_event(f"rb-a11y-{uuid.uuid4().hex[:12]}")
    pipeline.send(value)
    pipeline.wait_alert(alert_id)
    for name in (ADMIN, "alice"):
        page = analysts(name).page
        page.reload()
        # the alerts grid drawn first (as test_a11y waits): axe run while AG Grid is still in its
        # delayed first render finds a header row without cells
        expect(page.locator(".ag-center-cols-container .ag-row").first).to_be_visible(timeout=DATA_WAIT_MS)
        expect(page.locator("#rb-rules-table")).to_be_visible(timeout=DATA_WAIT_MS)
        if name == ADMIN:
            page.locator("#rb-new").click()
            for kind in ("agg", "feature", "list"):
                page.locator(f"#rb-add-{kind}").click()
            expect(page.locator("#rb-row-3")).to_be_visible(timeout=WAIT_MS)
        else:
            page.locator("#rb-rule-velocity").get_by_role("button", name="View").click()
        expect(page.locator("#rb-editor")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#rb-raw")).not_to_have_value("", timeout=WAIT_MS)
        violations = _axe(page)
        assert violations == [], f"{name}, rules tab:\n{_report(violations)}"
        for tab, ready in (("versions", "#ver-table"), ("lists", "#lst-table")):
            page.locator(f"#rules-tab-{tab}").click()
            expect(page.locator(ready)).to_be_visible(timeout=WAIT_MS)
            violations = _axe(page)
            assert violations == [], f"{name}, {tab} tab:\n{_report(violations)}"
        page.locator("#rules-tab-rules").click()
