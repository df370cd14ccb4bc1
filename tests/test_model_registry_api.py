"""The model registry over /api/models and from the console's buttons: analysts read, admins change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask

from common.keys import RedisKeys
from common.model_registry import CANDIDATE, CHAMPION, RETIRED, SHADOW
from dashapp.api_models import install_models_api
from dashapp.app import create_app
from dashapp.callbacks.models_cb import model_change
from dashapp.settings import DashSettings
from dashapp.views.models_view import ACT, models_table
from model.registry import ModelRegistry, RegistryError
from tests.test_dash_http import body, deps, login
from tests.test_model_registry_store import register, train_tiny
from tests.test_rules_registry_api import auth, users_file  # noqa: F401 (the module's users)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("api-models")
    return [train_tiny(root, seed) for seed in (7, 8)]


@pytest.fixture
def http(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[Any]:  # noqa: F811
    settings = DashSettings(
        redis_key_prefix=redis_prefix, dash_secret_key="k" * 32, dash_users_file=str(users_file)
    )
    yield create_app(settings, redis_client).server.test_client()


def test_analysts_read_admins_promote_and_roll_back(
    http: Any, redis_client: redis.Redis, keys: RedisKeys, models: list[Path]
) -> None:
    reg = ModelRegistry(redis_client, keys)
    a, b = (register(reg, p) for p in models)
    listed = http.get("/api/models", headers=auth("ann"))
    assert listed.status_code == 200
    rows = {m["version"]: m for m in listed.get_json()["models"]}
    assert rows[a]["state"] == CANDIDATE and rows[a]["metrics"]["auc_roc"] == pytest.approx(0.83)
    refused = http.post(f"/api/models/{a}/state", json={"state": CHAMPION}, headers=auth("ann"))
    assert refused.status_code == 403 and reg.entries()[a].state == CANDIDATE
    done = http.post(f"/api/models/{a}/state", json={"state": CHAMPION, "comment": "first"}, headers=auth())
    assert done.status_code == 200 and done.get_json() == {"moved": {a: CHAMPION}, "by": "root"}
    done = http.post(f"/api/models/{b}/state?state=champion", headers=auth())
    assert done.get_json()["moved"] == {b: CHAMPION, a: RETIRED}
    back = http.post("/api/models/rollback", json={"comment": "b is worse"}, headers=auth())
    assert back.status_code == 200 and back.get_json()["moved"] == {a: CHAMPION, b: RETIRED}
    history = http.get("/api/models", headers=auth("ann")).get_json()["history"]
    assert [(h["action"], h["who"]) for h in history[:3]] == [
        ("rollback", "root"),
        ("state", "root"),
        ("state", "root"),
    ]
    assert history[0]["comment"] == "b is worse"


def test_bad_requests_get_4xx_and_change_nothing(
    http: Any, redis_client: redis.Redis, keys: RedisKeys, models: list[Path]
) -> None:
    reg = ModelRegistry(redis_client, keys)
    a = register(reg, models[0])
    before = redis_client.hgetall(keys.models)
    cases = [
        (f"/api/models/{a}/state", {"state": "production"}, 400),
        ("/api/models/nope/state", {"state": SHADOW}, 404),
        (f"/api/models/{a}/state", {"state": CANDIDATE}, 409),  # already a candidate
        ("/api/models/rollback", {}, 409),  # no champion
        (f"/api/models/{a}/state", {"state": SHADOW, "comment": "x" * 501}, 400),
    ]
    for path, sent, status in cases:
        resp = http.post(path, json=sent, headers=auth())
        assert resp.status_code == status, (path, sent, resp.get_json())
        assert resp.get_json()["error"]
    assert http.post(f"/api/models/{a}/state", data=b"\xff\x00", headers=auth()).status_code == 400
    assert http.delete(f"/api/models/{a}", headers=auth("ann")).status_code == 403
    assert http.delete("/api/models/nope", headers=auth()).status_code == 404
    assert redis_client.hgetall(keys.models) == before
    gone = http.delete(f"/api/models/{a}?comment=unused", headers=auth())
    assert gone.status_code == 200 and gone.get_json() == {"deleted": a, "by": "root"}
    assert redis_client.hgetall(keys.models) == {}


def test_the_console_buttons_change_the_registry(
    redis_client: redis.Redis, keys: RedisKeys, models: list[Path]
) -> None:
    reg = ModelRegistry(redis_client, keys)
    a = register(reg, models[0])
    text = model_change(reg, {"type": ACT, "version": a, "state": SHADOW}, "root", "try it")
    assert text == f"Done: {a} is now shadow." and reg.entries()[a].state == SHADOW
    with pytest.raises(RegistryError, match="no champion to roll back"):
        model_change(reg, "mdl-rollback", "root", "")
    # the table offers each state's allowed moves to admins, and no button to analysts
    view = [{"version": a, "state": SHADOW, "changed_at": "2026-12-07T00:00:00Z", "changed_by": "root"}]
    admin_ids = [b.id["state"] for b in _buttons(models_table(view, admin=True))]
    assert admin_ids == [CHAMPION, CANDIDATE, RETIRED]
    assert _buttons(models_table(view, admin=False)) == []


def _buttons(node: Any) -> list[Any]:
    """Every Button under `node`, in document order."""
    if isinstance(node, list | tuple):
        return [b for child in node for b in _buttons(child)]
    if type(node).__name__ == "Button":
        return [node]
    children = getattr(node, "children", None)
    return _buttons(children) if children is not None else []


def test_an_analyst_clicking_a_model_button_is_refused_on_the_server(
    redis_client: redis.Redis,
    redis_prefix: str,
    users_file: Path,  # noqa: F811
    keys: RedisKeys,
    models: list[Path],
) -> None:
    """A hidden button is not a check: the callback refuses analysts (the same body from an admin works)."""
    reg = ModelRegistry(redis_client, keys)
    a = register(reg, models[0])
    button = {"type": ACT, "version": a, "state": SHADOW}
    clicked = [{"id": button, "property": "n_clicks", "value": 1}]
    changed = [json.dumps(button, sort_keys=True, separators=(",", ":")) + ".n_clicks"]
    settings = DashSettings(
        redis_key_prefix=redis_prefix, dash_secret_key="k" * 32, dash_users_file=str(users_file)
    )
    for name, status, state in (("ann", 403, CANDIDATE), ("root", 200, SHADOW)):
        client = create_app(settings, redis_client).server.test_client()
        login(client, name)
        request = body(deps(client)["mdl-msg"], [clicked, 0], ["", 0], changed)
        resp = client.post("/_dash-update-component", json=request)
        assert resp.status_code == status, resp.get_data(as_text=True)[:300]
        assert reg.entries()[a].state == state


def test_redis_down_is_a_503_not_a_500(keys: RedisKeys) -> None:
    server = Flask(__name__)
    install_models_api(server, ModelRegistry(redis.Redis(port=1, socket_connect_timeout=1), keys))
    resp = server.test_client().get("/api/models")
    assert resp.status_code == 503 and "cannot be reached" in resp.get_json()["error"]
