"""The webhooks admin API on the real app and Redis: admins only, the secret in the creation answer only."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from common.keys import RedisKeys
from common.webhook_log import DEAD, Delivery, DeliveryLog
from common.webhooks import EndpointStore
from dashapp.app import create_app
from dashapp.auth.users import add_user
from dashapp.settings import DashSettings

pytestmark = pytest.mark.integration
PASSWORDS = {"ann": "ann-password-1", "root": "root-password-1"}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wha") / "users.json"
    add_user(path, "ann", "analyst", PASSWORDS["ann"])
    add_user(path, "root", "admin", PASSWORDS["root"])
    return path


@pytest.fixture
def client(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> FlaskClient:
    settings = DashSettings(
        redis_key_prefix=redis_prefix, dash_secret_key="k" * 32, dash_users_file=str(users_file)
    )
    return create_app(settings, redis_client).server.test_client()


def _auth(user: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _send(client: FlaskClient, method: str, url: str, user: str, body: Any = None) -> Any:
    return client.open(url, method=method, headers=_auth(user), json=body)


def test_admins_manage_endpoints_and_the_secret_is_shown_once(
    client: FlaskClient, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    body = {
        "name": "SIEM",
        "url": "https://siem.example.com/h",
        "min_severity": "medium",
        "rules": ["velocity"],
    }
    assert _send(client, "POST", "/api/webhooks", "ann", body).status_code == 403
    created = _send(client, "POST", "/api/webhooks", "root", body)
    assert created.status_code == 201
    doc = created.get_json()
    assert doc["shown_once"] is True and doc["secret"].startswith("whsec_") and doc["rules"] == ["velocity"]
    listing = _send(client, "GET", "/api/webhooks", "root")
    assert listing.status_code == 200 and doc["secret"] not in listing.get_data(as_text=True)
    assert [e["id"] for e in listing.get_json()["endpoints"]] == [doc["id"]]
    assert _send(client, "GET", "/api/webhooks", "ann").status_code == 403
    url = f"/api/webhooks/{doc['id']}"
    assert _send(client, "PATCH", url, "ann", {"enabled": False}).status_code == 403
    assert _send(client, "PATCH", url, "root", {"enabled": "no"}).status_code == 400
    changed = _send(client, "PATCH", url, "root", {"enabled": False})
    assert changed.status_code == 200 and changed.get_json()["enabled"] is False
    assert not EndpointStore(redis_client, keys).all()[0].enabled
    assert _send(client, "DELETE", url, "ann").status_code == 403
    assert _send(client, "DELETE", url, "root").status_code == 200
    assert _send(client, "DELETE", url, "root").status_code == 404
    refused = _send(client, "POST", "/api/webhooks", "root", {"url": "ftp://x"})
    assert refused.status_code == 400 and "http(s)" in refused.get_json()["error"]


def test_the_delivery_log_is_for_admins_and_holds_no_bodies(
    client: FlaskClient, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    log = DeliveryLog(redis_client, keys)
    row = Delivery("wh_1", "SIEM", "a00007", "alert.raised", DEAD, 10, "HTTP 500", 500, 1, 2)
    log.record(row)
    log.dead_letter(row, json.dumps({"id": "a00007", "data": {"card_id": "C-SECRET"}}).encode())
    assert _send(client, "GET", "/api/webhooks/deliveries", "ann").status_code == 403
    assert _send(client, "GET", "/api/webhooks/deliveries?limit=0", "root").status_code == 400
    answer = _send(client, "GET", "/api/webhooks/deliveries?limit=5", "root")
    doc = answer.get_json()
    assert [d["event_id"] for d in doc["deliveries"]] == ["a00007"] and doc["deliveries"][0][
        "last_error"
    ] == "HTTP 500"
    assert doc["dead"][0]["attempts"] == 10 and "C-SECRET" not in answer.get_data(as_text=True)
    assert doc["stats"]["dead"] == 1


def test_admins_queue_dead_letters_again_per_endpoint_or_all(
    client: FlaskClient, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    log = DeliveryLog(redis_client, keys)
    body = json.dumps({"id": "a1"}).encode()

    def letter(endpoint: str, event_id: str, kept: bool = True) -> None:
        row = Delivery(endpoint, "x", event_id, "alert.raised", DEAD, 3, "HTTP 500", 500, 1, 2)
        event = {"id": event_id, "kind": "alert.raised", "severity": "high", "rules": ["r"],
                 "data": {"card_id": "C-SECRET"}, "at_ms": 1}  # fmt: skip
        log.dead_letter(row, body, event if kept else None)

    letter("wh_1", "a1")
    letter("wh_2", "a2")
    letter("wh_1", "a0", kept=False)  # a letter from before replays: only its body was kept
    assert "C-SECRET" not in _send(client, "GET", "/api/webhooks/deliveries", "root").get_data(as_text=True)
    url = "/api/webhooks/dead/replay"
    assert _send(client, "POST", url, "ann", {}).status_code == 403
    assert _send(client, "POST", url, "root", {"endpoint_id": 5}).status_code == 400
    one = _send(client, "POST", url, "root", {"endpoint_id": "wh_1"})
    assert one.status_code == 200 and one.get_json() == {"queued": 1, "kept": 1}
    queued = [json.loads(f[b"letter"]) for _id, f in redis_client.xrange(keys.webhook_replay)]
    assert [(q["endpoint_id"], q["event_id"]) for q in queued] == [("wh_1", "a1")]
    assert sorted(d["event_id"] for d in log.dead(10)) == ["a0", "a2"]
    rest = _send(client, "POST", url, "root")  # no body: every endpoint
    assert rest.get_json() == {"queued": 1, "kept": 1}
    assert [d["event_id"] for d in log.dead(10)] == ["a0"] and redis_client.xlen(keys.webhook_replay) == 2


def test_admins_edit_an_endpoint_in_place_and_rotate_its_secret(
    client: FlaskClient, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    created = _send(client, "POST", "/api/webhooks", "root", {"name": "SIEM", "url": "https://a.example/h"})
    first = created.get_json()
    url = f"/api/webhooks/{first['id']}"
    assert _send(client, "PATCH", url, "ann", {"url": "https://b.example/h"}).status_code == 403
    edited = _send(client, "PATCH", url, "root", {"url": "https://b.example/h", "min_severity": "low"})
    doc = edited.get_json()
    assert edited.status_code == 200 and "secret" not in doc
    assert (doc["id"], doc["url"], doc["min_severity"], doc["name"]) == (
        first["id"], "https://b.example/h", "low", "SIEM"
    )  # fmt: skip
    store = EndpointStore(redis_client, keys)
    assert store.all()[0].secret == first["secret"]  # the receiver keeps verifying as before
    for bad in ({"url": "ftp://x"}, {"id": "wh_other"}, {"secret": "x" * 20}, {}, {"rotate_secret": "yes"}):
        refused = _send(client, "PATCH", url, "root", bad)
        assert refused.status_code == 400, bad
    assert store.all()[0].url == "https://b.example/h"  # a refused change changes nothing
    rotated = _send(client, "PATCH", url, "root", {"rotate_secret": True}).get_json()
    assert rotated["shown_once"] and rotated["secret"] != first["secret"]
    assert store.all()[0].secret == rotated["secret"]
    assert rotated["secret"] not in _send(client, "GET", "/api/webhooks", "root").get_data(as_text=True)
    assert _send(client, "PATCH", "/api/webhooks/wh_none", "root", {"name": "x"}).status_code == 404
