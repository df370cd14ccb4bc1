"""The live tick in a real browser: polls of /api/tick land, and a logout ends them at once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import WAIT_MS, login
from tests.browser.harness import Dashboard

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _logout_token(layout: Any) -> str:
    """The hidden csrf_token of the page's logout form, from a serialised layout."""
    if isinstance(layout, dict):
        props = layout.get("props")
        if isinstance(props, dict) and props.get("name") == "csrf_token":
            return str(props["value"])
        layout = list(layout.values())
    if isinstance(layout, list):
        return next((t for t in map(_logout_token, layout) if t), "")
    return ""


def test_a_logout_elsewhere_ends_the_pages_tick_with_a_message(browser: Any, dashboard: Dashboard) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        login(page, dashboard.base_url, "bob", dashboard.passwords["bob"])  # a session of this page only
        with page.expect_response(lambda r: "/api/tick" in r.url and r.status in (200, 204)):
            pass  # the page polls the route
        expect(page.locator("#session-expired")).to_have_count(0)
        # from now on only the tick reaches the server: the message below is the tick's doing
        page.route(lambda url: "/_dash-update-component" in url, lambda route: route.abort())
        cookie = next(c["value"] for c in context.cookies() if c["name"] == "fraud_session")
        with httpx.Client(base_url=dashboard.base_url, cookies={"fraud_session": cookie}) as other:
            token = _logout_token(other.get("/_dash-layout").json())
            out = other.post("/logout", data={"csrf_token": token}, headers={"Origin": dashboard.base_url})
            assert out.status_code == 303
        with page.expect_response(lambda r: "/api/tick" in r.url and r.status == 401):
            pass  # the next poll is refused (within the revocation delay on the other worker)
        expect(page.locator("#session-expired")).to_be_visible()
        expect(page.locator("#session-expired a")).to_have_attribute("href", "/login?next=%2F")
    finally:
        context.close()
