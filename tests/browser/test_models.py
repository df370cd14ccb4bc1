"""Real browser: an admin promotes a registered model in the Models section; the running bridge loads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from common.model_registry import CHAMPION
from model.registry import ModelRegistry
from tests.browser.conftest import DATA_WAIT_MS, WAIT_MS, Analyst, Pipeline
from tests.browser.harness import ADMIN, high_amount_event
from tests.browser.test_a11y import _axe, _report
from tests.test_model_registry_store import register, train_tiny

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]


def test_admin_promotes_a_model_and_every_bridge_reports_it(
    analysts: Open, pipeline: Pipeline, tmp_path: Path
) -> None:
    keys = pipeline.dashboard.keys
    value, alert_id = high_amount_event(f"models-{tmp_path.name}")  # a row in the alerts grid (axe below)
    pipeline.send(value)
    registry = ModelRegistry(pipeline.client, keys)
    version = register(registry, train_tiny(tmp_path, 11))
    try:
        page = analysts(ADMIN).page
        section = page.locator("#sec-models")
        section.scroll_into_view_if_needed()
        expect(page.locator("#mdl-versions")).to_contain_text(version, timeout=DATA_WAIT_MS)  # the 10 s poll
        page.fill("#mdl-comment", "first champion")
        page.get_by_role("button", name=f"Make champion: {version}").click()
        expect(page.locator("#mdl-msg")).to_contain_text(f"{version} is now champion", timeout=WAIT_MS)
        expect(page.locator("tr.mdl-champion")).to_contain_text(version, timeout=WAIT_MS)
        expect(page.locator("#mdl-history")).to_contain_text("first champion", timeout=WAIT_MS)
        expect(page.locator("#mdl-comment")).to_have_value("")  # it went with this change only
        assert registry.entries()[version].state == CHAMPION
        assert registry.history(1)[0]["who"] == ADMIN
        # the pipeline's running bridge picked it up: its line on the pipeline-health panel
        expect(page.locator("#health-engine")).to_contain_text(
            f"Model: champion {version} loaded", timeout=DATA_WAIT_MS
        )
        pipeline.wait_alert(alert_id)
        page.evaluate("window.scrollTo(0, 0)")  # AG Grid finishes its first render only in view
        # the alerts grid drawn first (as test_a11y waits): axe run while AG Grid is still in its
        # delayed first render finds a header row without cells
        expect(page.locator(".ag-center-cols-container .ag-row").first).to_be_visible(timeout=DATA_WAIT_MS)
        violations = _axe(page)
        assert violations == [], f"axe found WCAG 2.1 A/AA violations:\n{_report(violations)}"
        # an analyst sees the same registry, with no button and no rollback control
        other = analysts("alice").page
        expect(other.locator("tr.mdl-champion")).to_contain_text(version, timeout=DATA_WAIT_MS)
        assert other.locator("#mdl-versions button").count() == 0
        expect(other.locator("#mdl-rollback")).to_be_hidden()
    finally:
        pipeline.client.delete(keys.models, keys.model_file(version), keys.models_history)
        pipeline.client.incr(keys.models_seq)  # the bridge lets the champion go
