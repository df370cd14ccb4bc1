"""HTTP: GET /api/rules/quality on the real app and Redis — every live rule, both windows, exact counts."""

from __future__ import annotations

import time

import pytest

from dashapp.store import AlertWorkflow
from tests.test_rules_registry_api import auth, http, users_file  # noqa: F401 - fixtures
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration
H = 3_600_000


def test_quality_counts_every_live_rule_in_both_windows(http, redis_client, keys) -> None:  # noqa: F811
    now = int(time.time() * 1000)
    clock_ms = [now - H]
    wf = AlertWorkflow(redis_client, keys, clock=lambda: clock_ms[0] / 1000)
    ids = [
        put_alert(redis_client, keys, make_alert(n, event_ms=now - 2 * H, rules=("velocity",)))
        for n in range(4)
    ]
    actions = ["resolve_fraud", "resolve_fraud", "resolve_false_positive"]
    for aid, action in zip(ids[:3], actions, strict=True):
        wf.act(aid, action, "ann", 1)
    clock_ms[0] = now - 3 * 24 * H  # resolved 3 days ago: in the 7-day window only
    old = put_alert(redis_client, keys, make_alert(9, event_ms=now - 4 * 24 * H, rules=("velocity",)))
    wf.act(old, "resolve_false_positive", "ann", 1)

    assert http.get("/api/rules/quality").status_code == 401
    resp = http.get("/api/rules/quality", headers=auth("ann"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["windows"] == ["24h", "7d"]
    rules = {r["rule"]: r for r in body["rules"]}
    assert len(rules) == 7 and all(r["builtin"] for r in rules.values())
    day, week = rules["velocity"]["windows"]["24h"], rules["velocity"]["windows"]["7d"]
    assert (day["raised"], day["fraud"], day["false_positive"], day["open"]) == (4, 2, 1, 1)
    assert (day["resolved"], day["precision"]) == (3, pytest.approx(2 / 3))
    assert (week["raised"], week["fraud"], week["false_positive"], week["open"]) == (5, 2, 2, 1)
    assert week["precision"] == pytest.approx(0.5)
    quiet = rules["high_amount"]["windows"]["7d"]
    assert (quiet["raised"], quiet["resolved"], quiet["precision"]) == (0, 0, None)
