"""Workflow callbacks over HTTP (real app, real Redis): malformed inputs are 4xx, never 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from common.keys import RedisKeys
from tests.test_dash_http import app_client, body, deps, login, users_file  # noqa: F401 (fixtures)
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration
BUTTONS = ("wf-ack", "wf-assign", "wf-resolve-fraud", "wf-resolve-fp")


def _ack_body(dep: dict[str, Any], ident: dict[str, Any]) -> dict[str, Any]:
    # the browser hands the clicked button's id to the server in a stable store (assets/app.js)
    return body(dep, [ident], changed=["banner-ack-request.data"])


@pytest.mark.parametrize("version", ["abc", 1e400, 1.5, None, [1], True])
def test_banner_acknowledge_with_a_forged_version_is_400(
    app_client: Any,  # noqa: F811
    redis_client: redis.Redis,
    keys: RedisKeys,
    version: object,
) -> None:
    alert_id = put_alert(redis_client, keys, make_alert(5))
    client = app_client.server.test_client()
    login(client, "ann")
    dep = deps(client)["red-alert-message"]
    sentinel = 987_654_321  # stands for 1e400, which JSON can carry but Python cannot write
    raw = json.dumps(_ack_body(dep, {"type": "banner-ack", "alert": alert_id, "v": version}))
    if version == 1e400:
        raw = json.dumps(_ack_body(dep, {"type": "banner-ack", "alert": alert_id, "v": sentinel}))
        raw = raw.replace(str(sentinel), "1e400")
    resp = client.post("/_dash-update-component", data=raw, content_type="application/json")
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert redis_client.hget(keys.alert(alert_id), "status") in (None, b"new")


def test_a_note_with_a_lone_surrogate_is_400_and_nothing_is_stored(
    app_client: Any,  # noqa: F811
    redis_client: redis.Redis,
    keys: RedisKeys,
) -> None:
    alert_id = put_alert(redis_client, keys, make_alert(6))
    client = app_client.server.test_client()
    login(client, "ann")
    dep = deps(client)["selected-alert"]
    selected = {"alert_id": alert_id, "version": 1}
    req = body(dep, [None, 1, 0, 0, 0], [selected, "NOTE"], ["wf-ack.n_clicks"])
    raw = json.dumps(req).replace('"NOTE"', '"\\ud800 fraud"')
    resp = client.post("/_dash-update-component", data=raw, content_type="application/json")
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    assert redis_client.lrange(keys.alert_history(alert_id), 0, -1) == []
