"""The rule builder's shadow panel over HTTP (Flask test client, real Redis) and its pure view."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from common.keys import RedisKeys
from dashapp.store import RulesStore
from dashapp.store.shadow_store import ShadowStore
from dashapp.views.shadow_view import quality_body, shadow_body
from tests.test_backtest import planted_draft
from tests.test_rule_builder_http import _call, _dep, app, signed, users_file

__all__ = ["app", "signed", "users_file"]  # fixtures


def act(client: FlaskClient, button: str, draft: Any, shown: int, comment: str = "trial") -> Any:
    dep = _dep(client, button)
    clicks = [1 if b == button else 0 for b in ("sh-publish", "sh-promote", "sh-drop")]
    return _call(client, dep, clicks, [draft, comment, shown], f"{button}.n_clicks")


def panel(client: FlaskClient) -> str:
    dep = _dep(client, "sh-poll")
    resp = _call(client, dep, [1, None], [], "sh-poll.n_intervals")
    assert resp.status_code == 200
    return json.dumps(resp.get_json())


@pytest.mark.integration
def test_admins_publish_promote_and_drop_from_the_rules_view_analysts_only_read(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    rules = RulesStore(redis_client, keys)
    shadows = ShadowStore(redis_client, keys, rules)
    assert act(analyst, "sh-publish", planted_draft(), 0).status_code == 403
    assert shadows.current() is None
    assert "No shadow set" in panel(analyst)

    done = act(admin, "sh-publish", planted_draft(), 0).get_data(as_text=True)
    assert "Shadow 1 published" in done
    shown = panel(analyst)
    assert "Shadow 1 by root" in shown and "sh-table" in shown and '"data": 1' in shown.replace(" ", " ")

    stale = act(admin, "sh-promote", None, 2).get_data(as_text=True)
    assert "Not done: the shadow set was changed" in stale and shadows.current() is not None
    assert act(analyst, "sh-promote", None, 1).status_code == 403
    before = rules.current().version
    promoted = act(admin, "sh-promote", None, 1, comment="ship the planted rule").get_data(as_text=True)
    assert f"promoted: it is live version {before + 1}" in promoted
    assert shadows.current() is None and rules.version(before + 1).comment == "ship the planted rule"

    act(admin, "sh-publish", planted_draft(), 0)
    assert "Shadow 2 dropped" in act(admin, "sh-drop", None, 2).get_data(as_text=True)
    assert [e["action"] for e in shadows.history()] == ["dropped", "published", "promoted", "published"]


def test_the_view_shows_the_header_per_rule_counts_and_on_request_quality_and_samples() -> None:
    assert "No shadow set" in str(shadow_body(None)) and quality_body(None) == []
    quality = {"alerts": 2, "precision": 0.25, "analyst_precision": 0.5}
    report = {
        "shadow": {"id": 3, "by": "root", "at": "2026-12-06T02:00:00.000Z", "comment": "", "base_version": 4},
        "events": 12_345,
        "pairs_read": 7,
        "rules": [
            {
                "rule": "*",
                "live": 5,
                "shadow": 7,
                "overlap": 5,
                "added": 2,
                "removed": 0,
                "live_precision": 0.75,
                "shadow_precision": None,
                "live_quality": quality,
                "shadow_quality": quality,
            },
        ],
        "shadow_only": [
            {
                "ts": "t",
                "card_id": "C1",
                "amount": 9.0,
                "currency": "GBP",
                "score": 0.9,
                "reasons": ["planted m"],
            }
        ],
        "live_only": [],
    }
    text = str(shadow_body(report))
    assert "Shadow 3 by root" in text and "12,345 events" in text and "live v4" in text
    # exact ground-truth precision in the counts table; analysts' (over the newest pairs) on request
    assert "all alerts" in text and "0.75" in text and "0.50" not in text
    assert "sh-warnings" not in text
    warned = str(shadow_body({**report, "warnings": ["history the live rules do not keep: hist_country"]}))
    assert "sh-warnings" in warned and "hist_country" in warned
    asked = str(quality_body(report))
    assert "newest 7 events" in asked and "0.50" in asked and "planted m" in asked
    assert "0.25" not in asked  # the sampled ground-truth precision is not shown beside the exact one
