"""Real browser: an admin adds a webhook endpoint, edits it in place and queues its dead letters again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from common.webhook_log import DEAD, Delivery, DeliveryLog
from common.webhooks import EndpointStore
from tests.browser.conftest import WAIT_MS, Analyst, Pipeline
from tests.browser.harness import ADMIN

pytestmark = [pytest.mark.browser, pytest.mark.integration]
Open = Callable[..., Analyst]


def test_admin_adds_edits_in_place_and_replays_dead_letters(analysts: Open, pipeline: Pipeline) -> None:
    tag = uuid.uuid4().hex[:8]
    name, keys = f"hook-{tag}", pipeline.dashboard.keys
    store = EndpointStore(pipeline.client, keys)
    page = analysts(ADMIN).page
    try:
        page.locator("#sec-webhooks").scroll_into_view_if_needed()
        expect(page.locator("#wh-replay")).to_be_disabled(timeout=WAIT_MS)  # no dead letters to replay
        page.fill("#wh-name", name)
        page.fill("#wh-url", f"https://a-{tag}.example/h")
        page.locator("#wh-add").click()
        expect(page.locator("#wh-message")).to_contain_text(f"Added {name}", timeout=WAIT_MS)
        (endpoint,) = [e for e in store.all() if e.name == name]
        page.locator(f'button[title="Edit {name}"]').click()
        expect(page.locator("#wh-add")).to_have_text("Save changes", timeout=WAIT_MS)
        expect(page.locator("#wh-url")).to_have_value(f"https://a-{tag}.example/h")
        page.fill("#wh-url", f"https://b-{tag}.example/h")
        page.locator("#wh-add").click()
        expect(page.locator("#wh-message")).to_contain_text(f"Saved {name}", timeout=WAIT_MS)
        expect(page.locator("#wh-endpoints-table")).to_contain_text(f"b-{tag}.example", timeout=WAIT_MS)
        expect(page.locator("#wh-add")).to_have_text("Add endpoint", timeout=WAIT_MS)  # back to adding
        expect(page.locator("#wh-url")).to_have_value("")
        (after,) = [e for e in store.all() if e.id == endpoint.id]
        assert after.url == f"https://b-{tag}.example/h" and after.secret == endpoint.secret

        event = {
            "id": f"a-{tag}",
            "kind": "alert.raised",
            "severity": "high",
            "rules": [],
            "data": {},
            "at_ms": 1,
        }
        row = Delivery(endpoint.id, name, f"a-{tag}", "alert.raised", DEAD, 10, "HTTP 503", 503, 1, 2)
        DeliveryLog(pipeline.client, keys).dead_letter(row, b"{}", event)
        page.locator("#wh-refresh").click()
        expect(page.locator("#wh-dead-table")).to_contain_text(f"a-{tag}", timeout=WAIT_MS)
        expect(page.locator("#wh-replay")).to_be_enabled()
        page.locator("#wh-replay").click()
        expect(page.locator("#wh-message")).to_contain_text("Queued 1 dead letter", timeout=WAIT_MS)
        queued = [json.loads(f[b"letter"]) for _id, f in pipeline.client.xrange(keys.webhook_replay)]
        assert [q["event_id"] for q in queued] == [f"a-{tag}"]
        expect(page.locator("#sec-webhooks")).to_contain_text("No dead letters.", timeout=WAIT_MS)
        expect(page.locator("#wh-replay")).to_be_disabled()
    finally:
        for e in store.all():
            store.delete(e.id)
        pipeline.client.delete(keys.webhook_replay, keys.webhook_dead)
