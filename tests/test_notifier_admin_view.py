"""The dashboard's Webhooks section over HTTP (Flask test client, real Redis): admins only, secret once."""

from __future__ import annotations

import json
import re
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
from tests.test_rule_builder_http import PASSWORDS, _dep, _outputs, login

pytestmark = pytest.mark.integration
FORM = [
    "Ops",
    "https://hooks.example.com/fraud",
    "json",
    "medium",
    "high_amount",
    ["alert.raised", "alert.resolved"],
    0,
    None,  # wh-editing: adding, not editing
]


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "users.json"
    add_user(path, "ann", "analyst", PASSWORDS["ann"])
    add_user(path, "root", "admin", PASSWORDS["root"])
    return path


@pytest.fixture
def signed(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> tuple[FlaskClient, FlaskClient]:
    settings = DashSettings(
        redis_key_prefix=redis_prefix, dash_secret_key="k" * 32, dash_users_file=str(users_file)
    )
    app = create_app(settings, redis_client)
    analyst, admin = app.server.test_client(), app.server.test_client()
    login(analyst, "ann")
    login(admin, "root")
    return analyst, admin


def _call(client: FlaskClient, dep: dict[str, Any], inputs: list[Any], state: list[Any], changed: str) -> Any:
    """POST a renderer-shaped callback body; wildcard inputs (dict ids) take the list as given."""

    def slot(spec: dict[str, Any], value: Any) -> Any:
        wildcard = isinstance(spec["id"], dict) or str(spec["id"]).startswith("{")
        return value if wildcard else {"id": spec["id"], "property": spec["property"], "value": value}

    body = {
        "output": dep["output"],
        "outputs": _outputs(dep),
        "inputs": [slot(i, v) for i, v in zip(dep["inputs"], inputs, strict=True)],
        "state": [slot(i, v) for i, v in zip(dep["state"], state, strict=True)],
        "changedPropIds": [changed],
    }
    return client.post("/_dash-update-component", json=body)


def _add(client: FlaskClient) -> Any:
    return _call(client, _dep(client, "wh-add"), [1, [], []], FORM, "wh-add.n_clicks")


def _load(client: FlaskClient) -> str:
    dep = _dep(client, "wh-refresh")
    done = _call(client, dep, [0, 1], [], "wh-refresh.n_clicks")
    assert done.status_code == 200
    return str(done.get_data(as_text=True))


def test_admins_add_an_endpoint_and_see_its_secret_once(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    store = EndpointStore(redis_client, keys)
    assert _add(analyst).status_code == 403
    assert store.all() == []
    added = _add(admin)
    assert added.status_code == 200
    (endpoint,) = store.all()
    assert (endpoint.min_severity, endpoint.rules, endpoint.created_by) == (
        "medium",
        ("high_amount",),
        "root",
    )
    assert endpoint.events == ("alert.raised", "alert.resolved")
    assert endpoint.secret in added.get_data(as_text=True)  # shown once, in the answer to the creation
    listing = _load(admin)
    assert endpoint.id in listing and "hooks.example.com" in listing
    assert endpoint.secret not in listing  # never again
    assert endpoint.id not in _load(analyst)  # analysts get no data at all


def test_admins_see_the_delivery_log_and_disable_and_delete(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    store = EndpointStore(redis_client, keys)
    endpoint = store.create({"name": "SIEM", "url": "https://siem.example.com/x"}, "root")
    log = DeliveryLog(redis_client, keys)
    row = Delivery(endpoint.id, "SIEM", "a00042", "alert.raised", DEAD, 10, "HTTP 503", 503, 1, 2)
    log.record(row)
    log.dead_letter(row, b'{"id":"a00042"}')
    listing = _load(admin)
    assert "a00042" in listing and "HTTP 503" in listing and '"dead"' in listing
    assert "a00042" not in _load(analyst)
    toggle = {"type": "wh-toggle", "id": endpoint.id}
    dep = _dep(admin, "wh-add")
    changed = json.dumps(toggle, separators=(",", ":"), sort_keys=True) + ".n_clicks"
    clicked = [{"id": toggle, "property": "n_clicks", "value": 1}]
    assert _call(analyst, dep, [0, clicked, []], FORM, changed).status_code == 403
    assert store.all()[0].enabled
    done = _call(admin, dep, [0, clicked, []], FORM, changed)
    assert done.status_code == 200 and "Disabled SIEM" in done.get_data(as_text=True)
    assert not store.all()[0].enabled
    ident = {"type": "wh-delete", "id": endpoint.id}
    delete = json.dumps(ident, separators=(",", ":"), sort_keys=True) + ".n_clicks"
    clicked = [{"id": ident, "property": "n_clicks", "value": 1}]
    assert _call(analyst, dep, [0, [], clicked], FORM, delete).status_code == 403
    gone = _call(admin, dep, [0, [], clicked], FORM, delete)
    assert gone.status_code == 200 and re.search("Deleted endpoint", gone.get_data(as_text=True))
    assert store.all() == []


def test_a_bad_url_is_refused_with_the_reason(signed: tuple[FlaskClient, FlaskClient]) -> None:
    _, admin = signed
    bad = ["x", "ftp://nope", "json", "high", "", [], 0, None]
    done = _call(admin, _dep(admin, "wh-add"), [1, [], []], bad, "wh-add.n_clicks")
    assert (
        done.status_code == 200
        and "Not changed" in done.get_data(as_text=True)
        and "http(s)" in done.get_data(as_text=True)
    )


def test_admins_replay_dead_letters_from_the_console(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    log = DeliveryLog(redis_client, keys)
    row = Delivery("wh_1", "SIEM", "a00043", "alert.raised", DEAD, 10, "HTTP 503", 503, 1, 2)
    event = {"id": "a00043", "kind": "alert.raised", "severity": "high", "rules": [], "data": {}, "at_ms": 1}
    log.dead_letter(row, b'{"id":"a00043"}', event)
    log.dead_letter(row, b'{"id":"a00043"}')  # an older letter: its body only
    dep = _dep(admin, "wh-replay")
    assert _call(analyst, dep, [1], [0], "wh-replay.n_clicks").status_code == 403
    assert redis_client.xlen(keys.webhook_replay) == 0
    done = _call(admin, dep, [1], [0], "wh-replay.n_clicks")
    text = done.get_data(as_text=True)
    assert done.status_code == 200 and "Queued 1 dead letter for delivery again" in text and "1 kept" in text
    assert redis_client.xlen(keys.webhook_replay) == 1 and len(log.dead(10)) == 1


def test_admins_edit_an_endpoint_in_the_form_and_save_it_in_place(
    signed: tuple[FlaskClient, FlaskClient], redis_client: redis.Redis, keys: RedisKeys
) -> None:
    analyst, admin = signed
    store = EndpointStore(redis_client, keys)
    endpoint = store.create(
        {"name": "SIEM", "url": "https://siem.example.com/x", "rules": "velocity"}, "root"
    )
    edit = {"type": "wh-edit", "id": endpoint.id}
    changed = json.dumps(edit, separators=(",", ":"), sort_keys=True) + ".n_clicks"
    clicked = [{"id": edit, "property": "n_clicks", "value": 1}]
    dep = _dep(admin, "wh-cancel")
    assert _call(analyst, dep, [clicked, 0], [], changed).status_code == 403
    filled = _call(admin, dep, [clicked, 0], [], changed).get_json()["response"]
    assert (
        filled["wh-url"]["value"] == "https://siem.example.com/x"
        and filled["wh-rules"]["value"] == "velocity"
    )
    assert filled["wh-editing"]["data"] == endpoint.id and filled["wh-add"]["children"] == "Save changes"
    form = ["SIEM 2", "https://siem2.example.com/x", "slack", "low", "", ["alert.raised"], 0, endpoint.id]
    saved = _call(admin, _dep(admin, "wh-add"), [1, [], []], form, "wh-add.n_clicks")
    assert saved.status_code == 200 and "Saved SIEM 2" in saved.get_data(as_text=True)
    back = saved.get_json()["response"]  # the same answer puts the form back to adding
    assert back["wh-editing"]["data"] is None and back["wh-add"]["children"] == "Add endpoint"
    (after,) = store.all()
    assert (after.id, after.name, after.url, after.format, after.min_severity, after.rules) == (
        endpoint.id, "SIEM 2", "https://siem2.example.com/x", "slack", "low", ()
    )  # fmt: skip
    assert after.secret == endpoint.secret and endpoint.secret not in saved.get_data(as_text=True)
    cleared = _call(admin, dep, [[], 1], [], "wh-cancel.n_clicks").get_json()["response"]
    assert cleared["wh-editing"]["data"] is None and cleared["wh-url"]["value"] == ""
