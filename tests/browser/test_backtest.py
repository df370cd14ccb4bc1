"""Real browser: an admin backtests a draft from the rule builder and reads its result."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urljoin

import pytest
from playwright.sync_api import expect

from backtest.runs import RunStore
from model.registry import ModelRegistry
from tests.browser.conftest import DATA_WAIT_MS, Analyst, Pipeline, _spawn, _stop
from tests.browser.harness import ADMIN, event
from tests.browser.test_a11y import _axe, _report
from tests.conftest import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]
RUN_WAIT_MS = 90_000  # a replay of the session's stream on 2 loaded cores


def test_admin_backtests_a_draft_that_disables_a_rule_and_reads_what_it_removes(
    analysts: Open, pipeline: Pipeline, redis_url: str, kafka_bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    cards = [f"C-BT-{tag}-{i}" for i in range(2)]
    pipeline.send(*(event(f"bt-{tag}-{i}", card_id=card, amount=9_000.0) for i, card in enumerate(cards)))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC": pipeline.topic,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": pipeline.dashboard.prefix,
    }
    worker = _spawn([sys.executable, "-m", "backtest", "worker"], env, pipeline.logs / f"backtest-{tag}.log")
    try:
        page = analysts(ADMIN).page
        page.locator("#rb-discard").click()  # the draft starts as the live rules
        page.locator('button[title="Disable High amount"]').click()
        expect(page.locator("#rb-draft-summary")).to_contain_text("high_amount", timeout=20_000)
        page.locator("#bt-start").click()
        expect(page.locator("#bt-msg")).to_contain_text("Backtest queued", timeout=20_000)
        expect(page.locator("#bt-status")).to_contain_text(": done", timeout=RUN_WAIT_MS)

        row = page.locator('#bt-table tr[data-rule="high_amount"] td')
        live, draft = int(row.nth(1).inner_text()), int(row.nth(2).inner_text())
        removed = int(row.nth(4).inner_text())
        assert draft == 0 and removed == live >= len(cards)
        samples = page.locator("#bt-samples")
        for card in cards:
            expect(samples).to_contain_text(card)
        href = page.locator("#bt-result a", has_text="Export CSV").get_attribute("href") or ""
        csv = page.request.get(urljoin(page.url, href))  # the page's session
        assert csv.ok and f"high_amount,0,{removed},0" in csv.text()
        violations = _axe(page)  # the whole page, with the result shown
        assert violations == [], f"the backtest result breaks WCAG 2.1 AA:\n{_report(violations)}"
    finally:
        _stop(worker)


def test_admin_picks_the_model_version_a_backtest_reads(
    analysts: Open, pipeline: Pipeline, tmp_path: Path
) -> None:
    from tests.browser.test_rule_builder import _choose
    from tests.test_model_registry_store import register
    from tests.test_model_serving_live import amount_only_model

    path, _ = amount_only_model(tmp_path)
    version = register(ModelRegistry(pipeline.client, pipeline.dashboard.keys), path)
    page = analysts(ADMIN).page
    page.reload()  # the picker reads the registry when the page opens (then every 10 s)
    expect(page.locator("#rb-rules-table")).to_be_visible(timeout=DATA_WAIT_MS)
    page.locator("#rb-discard").click()  # the draft starts as the live rules
    _choose(page, ".bt-part-model", f"{version} (candidate)")
    page.locator("#bt-start").click()
    expect(page.locator("#bt-msg")).to_contain_text(f"Backtest queued with model {version}", timeout=20_000)
    runs = RunStore(pipeline.client, pipeline.dashboard.keys).runs()
    assert any(r["spec"].get("model") == version for r in runs), runs
    page.locator("#bt-cancel").click()  # no worker here: the run stays queued until cancelled
    expect(page.locator("#bt-msg")).to_contain_text("Cancel asked", timeout=20_000)
