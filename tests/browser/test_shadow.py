"""Real browser: an admin publishes a draft as shadow from the rules view, reads the panel, drops it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from common.alerts import alert_id_for
from tests.browser.conftest import DATA_WAIT_MS, Analyst, Pipeline
from tests.browser.harness import ADMIN, event
from tests.browser.test_a11y import _axe, _report

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]


def test_admin_shadows_a_draft_without_high_amount_and_sees_what_it_would_remove(
    analysts: Open, pipeline: Pipeline
) -> None:
    tag = uuid.uuid4().hex[:8]
    cards = [f"C-SH-{tag}-{i}" for i in range(2)]
    keys = pipeline.dashboard.keys
    page = analysts(ADMIN).page
    try:
        page.locator("#rb-discard").click()  # the draft starts as the live rules
        page.locator('button[title="Disable High amount"]').click()
        expect(page.locator("#rb-draft-summary")).to_contain_text("high_amount", timeout=20_000)
        page.locator("#sh-publish").click()
        expect(page.locator("#sh-msg")).to_contain_text("published", timeout=20_000)
        shadow_id = int(re.search(r"Shadow (\d+) published", page.locator("#sh-msg").inner_text()).group(1))  # type: ignore[union-attr]
        # the bridge evaluates it from its next poll on: wait for one of its batches, then send
        counter = f"events:{shadow_id}"
        pipeline.wait_for(
            "a bridge batch beside the shadow set",
            lambda: bool(pipeline.client.hget(keys.shadow_stats, counter)),
        )
        events = [event(f"sh-{tag}-{i}", card_id=card, amount=9_000.0) for i, card in enumerate(cards)]
        pipeline.send(*events)
        for i in range(len(cards)):
            pipeline.wait_alert(alert_id_for(f"sh-{tag}-{i}"))  # the live set alerts as always

        expect(page.locator("#sh-head")).to_contain_text(f"Shadow {shadow_id} by", timeout=DATA_WAIT_MS)
        row = page.locator('#sh-table tr[data-rule="high_amount"] td')
        expect(row.nth(0)).to_be_visible(timeout=DATA_WAIT_MS)
        page.locator("#sh-quality").click()  # precision and samples are read on request
        samples = page.locator("#sh-samples")
        for card in cards:
            expect(samples).to_contain_text(card, timeout=DATA_WAIT_MS)
        live, shadow, removed = (int(row.nth(i).inner_text()) for i in (1, 2, 5))
        assert shadow == 0 and removed == live >= len(cards)
        violations = _axe(page)  # the whole page, with the shadow panel filled
        assert violations == [], f"the shadow panel breaks WCAG 2.1 AA:\n{_report(violations)}"

        page.locator("#sh-drop").click()
        expect(page.locator("#sh-msg")).to_contain_text(f"Shadow {shadow_id} dropped", timeout=20_000)
        expect(page.locator("#sh-body")).to_contain_text("No shadow set", timeout=20_000)
    finally:
        pipeline.client.delete(keys.shadow_rules)  # never leave a shadow set to the other tests
