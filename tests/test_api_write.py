"""Write API over HTTP (real app, real Redis): ack/assign/resolve with the console's version check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from common.keys import RedisKeys
from dashapp.store import AlertWorkflow
from tests.test_dash_http import basic
from tests.test_security_fixtures import PASSWORDS, login, make_app, write_users
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration
ANN = basic("ann", PASSWORDS["ann"])
ROOT = basic("root", PASSWORDS["root"])


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_users(tmp_path_factory.mktemp("write-api") / "users.json")


@pytest.fixture
def client(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[FlaskClient]:
    yield make_app(redis_client, redis_prefix, users_file, dash_max_body_bytes=20_000).server.test_client()


@pytest.fixture
def alert_id(redis_client: redis.Redis, keys: RedisKeys) -> str:
    return put_alert(redis_client, keys, make_alert(7))


def _post(client: FlaskClient, path: str, body: Any = None, **headers: str) -> Any:
    return client.post(path, json=body, headers={**ANN, **headers})


def test_acknowledge_is_attributed_to_the_caller_and_bumps_the_version(
    client: FlaskClient, alert_id: str, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    resp = _post(client, f"/api/alerts/{alert_id}/ack", {"version": 1, "note": "calling the holder"})
    assert resp.status_code == 200, resp.get_json()
    got = resp.get_json()["alert"]
    assert (got["status"], got["version"], got["updated_by"]) == ("acknowledged", 2, "ann")
    assert resp.headers["ETag"] == '"2"'
    row = AlertWorkflow(redis_client, keys).get(alert_id)
    assert (row.status, row.updated_by, row.note) == ("acknowledged", "ann", "calling the holder")
    history = AlertWorkflow(redis_client, keys).history(alert_id)
    assert [(e["action"], e["by"]) for e in history] == [("acknowledge", "ann")]


def test_if_match_carries_the_version_and_a_stale_one_is_409_with_the_current_state(
    client: FlaskClient, alert_id: str, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    assert _post(client, f"/api/alerts/{alert_id}/ack", None, **{"If-Match": '"1"'}).status_code == 200
    stale = client.post(f"/api/alerts/{alert_id}/assign", json={"assignee": "root"},
                        headers={**ROOT, "If-Match": '"1"'})  # fmt: skip
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["current_version"] == 2 and body["changed_by"] == "ann"
    assert body["alert"]["status"] == "acknowledged" and stale.headers["ETag"] == '"2"'
    assert AlertWorkflow(redis_client, keys).get(alert_id).assignee == ""


def test_assign_then_resolve_with_disposition_and_note(
    client: FlaskClient, alert_id: str, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    assigned = _post(client, f"/api/alerts/{alert_id}/assign", {"version": 1, "assignee": "ann"})
    assert assigned.status_code == 200 and assigned.get_json()["alert"]["assignee"] == "ann"
    body = {"version": 2, "disposition": "false_positive", "note": "holder confirmed"}
    resolved = _post(client, f"/api/alerts/{alert_id}/resolve", body)
    assert resolved.status_code == 200, resolved.get_json()
    row = AlertWorkflow(redis_client, keys).get(alert_id)
    assert (row.status, row.note, row.version) == ("resolved_false_positive", "holder confirmed", 3)
    assert redis_client.zscore(keys.alert_queue("ann"), alert_id) is None  # the store's own indexes moved


def test_assigning_to_someone_else_is_refused_as_in_the_console(
    client: FlaskClient, alert_id: str, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    resp = _post(client, f"/api/alerts/{alert_id}/assign", {"version": 1, "assignee": "bob"})
    assert resp.status_code == 403
    assert AlertWorkflow(redis_client, keys).get(alert_id).version == 1


def test_a_transition_the_status_forbids_is_409_with_the_alert(client: FlaskClient, alert_id: str) -> None:
    assert _post(client, f"/api/alerts/{alert_id}/ack", {"version": 1}).status_code == 200
    again = _post(client, f"/api/alerts/{alert_id}/ack", {"version": 2})
    assert again.status_code == 409 and "already acknowledged" in again.get_json()["error"]
    assert again.get_json()["alert"]["version"] == 2


BAD_BODIES: list[tuple[str, str, str, dict[str, str], int]] = [
    # (name, path suffix, raw body, extra headers, status)
    ("version text", "ack", '{"version": "abc"}', {}, 400),
    ("version 1e400", "ack", '{"version": 1e400}', {}, 400),
    ("version float", "ack", '{"version": 1.5}', {}, 400),
    ("version bool", "ack", '{"version": true}', {}, 400),
    ("version zero", "ack", '{"version": 0}', {}, 400),
    ("version huge", "ack", '{"version": 9007199254740993}', {}, 400),
    ("no version", "ack", "{}", {}, 428),
    ("If-Match text", "ack", "", {"If-Match": "abc"}, 400),
    ("If-Match disagrees", "ack", '{"version": 1}', {"If-Match": '"2"'}, 400),
    ("lone surrogate note", "ack", '{"version": 1, "note": "\\ud800 fraud"}', {}, 400),
    ("note too long", "ack", json.dumps({"version": 1, "note": "x" * 1001}), {}, 400),
    ("note not text", "ack", '{"version": 1, "note": 5}', {}, 400),
    ("not JSON", "ack", "{version: 1", {}, 400),
    ("bad UTF-8", "ack", '{"version": 1, "note": "\xff"}', {}, 400),
    ("array", "ack", "[1]", {}, 400),
    ("deep nesting", "ack", "[" * 5000 + "]" * 5000, {}, 400),
    ("form body", "ack", "version=1", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ("oversized", "ack", json.dumps({"version": 1, "note": "x" * 30_000}), {}, 413),
    ("no disposition", "resolve", '{"version": 1}', {}, 400),
    ("bad disposition", "resolve", '{"version": 1, "disposition": "maybe"}', {}, 400),
    ("no assignee", "assign", '{"version": 1}', {}, 400),
    ("assignee surrogate", "assign", '{"version": 1, "assignee": "\\udc00"}', {}, 400),
]


@pytest.mark.parametrize(
    ("name", "action", "raw", "headers", "status"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    client: FlaskClient,
    alert_id: str,
    redis_client: redis.Redis,
    keys: RedisKeys,
    name: str,
    action: str,
    raw: str,
    headers: dict[str, str],
    status: int,
) -> None:
    data = raw.encode("latin-1") if name == "bad UTF-8" else raw.encode()
    sent = {"Content-Type": "application/json", **ANN, **headers}
    resp = client.post(f"/api/alerts/{alert_id}/{action}", data=data, headers=sent)
    assert resp.status_code == status, (name, resp.get_data(as_text=True)[:200])
    assert isinstance(resp.get_json()["error"], str) and resp.get_json()["error"]
    assert AlertWorkflow(redis_client, keys).get(alert_id).version == 1
    assert redis_client.llen(keys.alert_history(alert_id)) == 0


@pytest.mark.parametrize("alert", ["nope", "bad!id", "x" * 300, "%F0%9F%92%A9"])
def test_unknown_or_malformed_alert_ids_are_404(client: FlaskClient, alert: str) -> None:
    resp = _post(client, f"/api/alerts/{alert}/ack", {"version": 1})
    assert resp.status_code == 404, resp.get_data(as_text=True)[:200]


def test_anonymous_and_wrong_password_callers_are_401(client: FlaskClient, alert_id: str) -> None:
    assert client.post(f"/api/alerts/{alert_id}/ack", json={"version": 1}).status_code == 401
    wrong = basic("ann", "not-her-password")
    assert client.post(f"/api/alerts/{alert_id}/ack", json={"version": 1}, headers=wrong).status_code == 401


def _csrf_token(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return str(sess["csrf"])


def test_a_session_write_needs_the_page_token_and_this_origin(
    client: FlaskClient, alert_id: str, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    assert login(client, "bob").status_code == 303
    path = f"/api/alerts/{alert_id}/ack"
    assert client.post(path, json={"version": 1}).status_code == 403  # the cookie alone
    token = _csrf_token(client)
    foreign = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
    assert client.post(path, json={"version": 1}, headers=foreign).status_code == 403
    assert client.post(path, json={"version": 1}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert AlertWorkflow(redis_client, keys).get(alert_id).version == 1
    ok = client.post(path, json={"version": 1}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.get_json()["alert"]["updated_by"] == "bob"
