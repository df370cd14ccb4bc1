"""Real browser under the page's Content-Security-Policy: nothing the app needs is blocked, ticks go on."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DATA_WAIT_MS, WAIT_MS, Pipeline, login
from tests.browser.harness import Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Runs before any page script (not subject to the page's CSP): records every violation the browser
# reports, as the page would see it.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${where})`);
});
"""


def test_page_runs_under_a_strict_csp_with_live_ticks(
    browser: Any, dashboard: Dashboard, pipeline: Pipeline
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
        page.add_init_script(RECORD_VIOLATIONS)
        policies: list[str] = []
        page.on(
            "response",
            lambda r: (
                policies.append(r.headers.get("content-security-policy", ""))
                if r.request.resource_type == "document"
                else None
            ),
        )
        login(page, dashboard.base_url, "alice", dashboard.passwords["alice"])
        # the live tick works under the policy: data from the stream arrives and keeps arriving
        expect(page.locator("#kpi-bridges")).to_have_text("1", timeout=DATA_WAIT_MS)
        no_data = re.compile(r"^(\u2013|0\.0)$")  # the placeholder dash, or nothing per second
        expect(page.locator("#kpi-tps")).not_to_have_text(no_data, timeout=DATA_WAIT_MS)
        graph = page.locator("#timeline-graph .scatterlayer .trace").first
        expect(graph).to_be_attached(timeout=DATA_WAIT_MS)
        expect(page.locator("#alerts-grid .ag-header-cell").first).to_be_visible(timeout=WAIT_MS)
        with page.expect_response(lambda r: "/api/tick" in r.url and r.status in (200, 204)):
            pass  # one more tick lands after everything rendered
        violations = page.evaluate("() => window.__csp")
        blocked = [m for m in console if "Content Security Policy" in m or "Content-Security-Policy" in m]
    finally:
        context.close()
    # both documents (login form, dashboard) carried the real policy, not just frame-ancestors
    assert len(policies) >= 2 and all("script-src 'self'" in p for p in policies), policies
    assert all("'unsafe-inline'" not in p.split("script-src")[1].split(";")[0] for p in policies)
    assert violations == [] and blocked == [], (violations, blocked)
