"""The model registry over /api/models and from the console's buttons: analysts read, admins change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from common.keys import RedisKeys
from common.model_registry import CANDIDATE, CHAMPION, RETIRED, SHADOW
from dashapp.app import create_app
from dashapp.callbacks.models_cb import model_change
from dashapp.settings import DashSettings
from dashapp.views.models_view import ACT, models_table
from model.registry import ModelRegistry, RegistryError
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
    for path, body, status in cases:
        resp = http.post(path, json=body, headers=auth())
        assert resp.status_code == status, (path, body, resp.get_json())
        assert resp.get_json()["error"]
    assert http.post(f"/api/models/{a}/state", data=b"\xff\x00", headers=auth()).status_code == 400
    assert redis_client.hgetall(keys.models) == before


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
