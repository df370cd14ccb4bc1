"""HTTP-level tests with Flask's test client against real Redis: auth, roles, API, hygiene."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from common.keys import RedisKeys
from dashapp.app import create_app
from dashapp.auth.users import add_user
from dashapp.settings import DashSettings
from dashapp.store import RulesStore
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration

PASSWORDS = {"ann": "ann-password-1", "root": "root-password-1", "bob": "bob-password-1"}
TICK = "/api/tick"  # the live tick's route (dashapp.tick); tests/test_tick_route.py covers it


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dash") / "users.json"
    add_user(path, "ann", "analyst", PASSWORDS["ann"])
    add_user(path, "bob", "analyst", PASSWORDS["bob"])
    add_user(path, "root", "admin", PASSWORDS["root"])
    return path


def _settings(redis_prefix: str, users_file: Path) -> DashSettings:
    return DashSettings(
        redis_key_prefix=redis_prefix,
        dash_secret_key="k" * 32,
        dash_users_file=str(users_file),
        dash_max_body_bytes=100_000,
    )


@pytest.fixture
def app_client(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[Any]:
    yield create_app(_settings(redis_prefix, users_file), redis_client)


def test_dash_is_prepared_before_any_request_is_served(app_client: Any) -> None:
    # Dash prepares itself in its first request's hook, marking that done before it starts: under
    # threads a concurrent first page load got its scripts refused. create_app prepares it up front.
    assert {"dash", "dash_ag_grid"} <= set(app_client.registered_paths)
    script = next(p for p in app_client.registered_paths["dash"] if p.endswith("dash_renderer.min.js"))
    first = app_client.server.test_client().get(f"/_dash-component-suites/dash/{script}")
    assert first.status_code == 200 and b"dash_renderer" in first.data[:100_000]


def login(client: FlaskClient, name: str, password: str | None = None, **headers: str) -> Any:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {
        "username": name,
        "password": PASSWORDS.get(name, "") if password is None else password,
        "csrf_token": token,
        "next": "/",
    }
    return client.post("/login", data=form, headers=headers)


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def deps(client: FlaskClient) -> dict[str, dict[str, Any]]:
    """Callbacks by their first output id."""
    out = {}
    for d in client.get("/_dash-dependencies").get_json():
        first = d["output"].strip(".").split("...")[0]
        out[first.rsplit(".", 1)[0]] = d
    return out


def _outputs(output: str) -> list[dict[str, Any]] | dict[str, Any]:
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    props = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        props.append(
            {"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop.split("@")[0]}
        )
    return props if output.startswith("..") else props[0]


def body(
    dep: dict[str, Any], inputs: list[Any], state: list[Any] | None = None, changed: list[str] | None = None
) -> dict[str, Any]:
    """A renderer-shaped callback body; list items are used as given, other values fill the dep's slot."""

    def fill(specs: list[dict[str, Any]], values: list[Any]) -> list[Any]:
        return [
            v if isinstance(v, list) else {"id": s["id"], "property": s["property"], "value": v}
            for s, v in zip(specs, values, strict=True)
        ]

    return {
        "output": dep["output"],
        "outputs": _outputs(dep["output"]),
        "inputs": fill(dep["inputs"], inputs),
        "state": fill(dep["state"], state or []),
        "changedPropIds": changed or [],
    }


def search_body(dep: dict[str, Any]) -> dict[str, Any]:
    """Pressing Search with every filter empty (a read-only server callback)."""
    return body(dep, [1, 0, None], [None] * len(dep["state"]), ["search-go.n_clicks"])


# --- everything is closed without a login ----------------------------------------------------------
def test_without_login_nothing_leaks(app_client: Any, redis_client: redis.Redis, keys: RedisKeys) -> None:
    put_alert(redis_client, keys, make_alert(7, city="SecretCity"))
    redis_client.incr(keys.seq)
    client = app_client.server.test_client()
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    for path in (
        "/_dash-layout",
        "/_dash-dependencies",
        "/assets/app.js",
        "/api/alerts",
        "/api/stats",
        "/_reload-hash",
        "/anything/else.json",
    ):
        resp = client.get(path)
        assert resp.status_code in (401, 302), path
        assert b"SecretCity" not in resp.data and b"kpi-tps" not in resp.data
    assert client.get("/api/alerts").headers["WWW-Authenticate"].startswith("Basic")
    # The live tick and a real callback body (taken from a logged-in session) are refused too.
    resp = client.get(TICK)
    assert resp.status_code == 401 and b"SecretCity" not in resp.data and b"Paris" not in resp.data
    other = app_client.server.test_client()
    login(other, "ann")
    assert b"SecretCity" in other.get(TICK).data  # the same request with a session: the data
    resp = client.post("/_dash-update-component", json=search_body(deps(other)["search-grid"]))
    assert resp.status_code == 401 and b"SecretCity" not in resp.data
    for dep in deps(other).values():
        assert client.post("/_dash-update-component", json={"output": dep["output"]}).status_code == 401


def test_healthz_is_public_and_reveals_only_liveness(app_client: Any) -> None:
    resp = app_client.server.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok", "redis": True}


def test_framework_assets_are_public_but_app_assets_are_not(app_client: Any) -> None:
    client = app_client.server.test_client()
    login(client, "ann")
    index = client.get("/").get_data(as_text=True)
    suite = re.search(r'src="(/_dash-component-suites/[^"]+)"', index).group(1)  # type: ignore[union-attr]
    anon = app_client.server.test_client()
    assert anon.get(suite).status_code == 200
    assert anon.get("/assets/style.css").status_code == 401


# --- login, logout, throttling ---------------------------------------------------------------------
def test_login_layout_shows_user_and_logout_ends_session(app_client: Any) -> None:
    client = app_client.server.test_client()
    resp = login(client, "ann")
    assert resp.status_code == 303 and resp.headers["Location"] == "/"
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("fraud_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and '"current-user"' in layout.get_data(as_text=True)
    assert '"ann"' in layout.get_data(as_text=True)
    token = _find_prop(layout.get_json(), "name", "csrf_token")["value"]
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 400
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/_dash-layout").status_code == 401


def _find_prop(node: Any, key: str, value: str) -> dict[str, Any]:
    """Depth-first search of a serialised layout for the props dict with props[key] == value."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get(key) == value:
            return props
        for child in node.values():
            found = _find_prop(child, key, value)
            if found:
                return found
    elif isinstance(node, list):
        for child in node:
            found = _find_prop(child, key, value)
            if found:
                return found
    return {}


@pytest.mark.parametrize(("name", "password", "status"), [("ann", "nope", 401), ("ghost", "x" * 10, 401)])
def test_bad_credentials_are_refused(app_client: Any, name: str, password: str, status: int) -> None:
    client = app_client.server.test_client()
    resp = login(client, name, password)
    assert resp.status_code == status and b"login-error" in resp.data
    assert client.get("/_dash-layout").status_code == 401


def test_login_needs_form_token_and_same_origin(app_client: Any) -> None:
    client = app_client.server.test_client()
    client.get("/login")
    no_token = client.post("/login", data={"username": "ann", "password": PASSWORDS["ann"]})
    assert no_token.status_code == 400
    cross = login(client, "ann", Origin="https://evil.example")
    assert cross.status_code == 403
    assert client.get("/_dash-layout").status_code == 401


def test_login_never_redirects_off_site(app_client: Any) -> None:
    client = app_client.server.test_client()
    page = client.get("/login?next=//evil.example/x").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = client.post(
        "/login",
        data={
            "username": "ann",
            "password": PASSWORDS["ann"],
            "csrf_token": token,
            "next": "//evil.example/x",
        },
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/"


def test_repeated_failures_throttle_the_user(app_client: Any) -> None:
    client = app_client.server.test_client()
    for _ in range(5):
        assert login(client, "bob", "wrong-password").status_code == 401
    locked = login(client, "bob")  # even the right password waits now
    assert locked.status_code == 429 and b"Too many failed attempts" in locked.data
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    api = app_client.server.test_client().get("/api/stats", headers=basic("bob", PASSWORDS["bob"]))
    assert api.status_code == 429 and 0 < int(api.headers["Retry-After"]) <= 900  # not a bare 401


# --- HTTP Basic and the JSON API ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        "Basic",
        "Basic %%%",
        "Basic " + base64.b64encode(b"ann").decode(),
        "Bearer x",
        "Basic " + "A" * 9000,
        "Basic " + base64.b64encode(b"\xc3\x28:\xff").decode(),
    ],
)
def test_malformed_authorization_is_401_not_500(app_client: Any, header: str) -> None:
    resp = app_client.server.test_client().get("/api/stats", headers={"Authorization": header})
    assert resp.status_code == 401


def test_basic_auth_works_for_the_api(app_client: Any, redis_client: redis.Redis, keys: RedisKeys) -> None:
    put_alert(redis_client, keys, make_alert(1))
    put_alert(redis_client, keys, make_alert(2, severity="medium"))
    client = app_client.server.test_client()
    stats = client.get("/api/stats", headers=basic("ann", PASSWORDS["ann"]))
    assert stats.status_code == 200 and "totals" in stats.get_json()
    assert client.get("/api/stats", headers=basic("ann", "wrong")).status_code == 401
    alerts = client.get("/api/alerts?limit=1", headers=basic("ann", PASSWORDS["ann"])).get_json()
    assert alerts["count"] == 1 and alerts["alerts"][0]["alert_id"] == make_alert(2).alert_id
    by_status = client.get("/api/alerts?status=new", headers=basic("ann", PASSWORDS["ann"])).get_json()
    assert by_status["count"] == 2
    assert client.get("/api/alerts").status_code == 401  # Basic does not create a session


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=x", "limit=-1", "status=bogus", "limit=1.5"]
)
def test_api_rejects_bad_parameters(app_client: Any, query: str) -> None:
    resp = app_client.server.test_client().get(f"/api/alerts?{query}", headers=basic("ann", PASSWORDS["ann"]))
    assert resp.status_code == 400 and "error" in resp.get_json()


# --- callbacks ------------------------------------------------------------------------------------------
def test_rules_save_is_admin_only(app_client: Any, redis_client: redis.Redis, keys: RedisKeys) -> None:
    analyst, admin = app_client.server.test_client(), app_client.server.test_client()
    login(analyst, "ann")
    login(admin, "root")
    dep = deps(admin)['{"field":["ALL"],"rule":["ALL"],"type":"rule-field"}']
    loaded = admin.post("/_dash-update-component", json=_rules_body(dep, save=0, version=None))
    assert loaded.status_code == 200
    version = RulesStore(redis_client, keys).current().version
    refused = analyst.post(
        "/_dash-update-component", json=_rules_body(dep, save=1, version=version, threshold=777)
    )
    assert refused.status_code == 403
    assert RulesStore(redis_client, keys).current().version == version
    bad = admin.post("/_dash-update-component", json=_rules_body(dep, save=1, version=version, threshold=-5))
    assert bad.status_code == 200 and "Not saved" in bad.get_data(as_text=True)
    ok = admin.post("/_dash-update-component", json=_rules_body(dep, save=1, version=version, threshold=777))
    assert ok.status_code == 200 and f"Saved as version {version + 1}" in ok.get_data(as_text=True)
    doc = RulesStore(redis_client, keys).current()
    assert doc.rules.high_amount.threshold == 777 and doc.updated_by == "root"
    stale = admin.post(
        "/_dash-update-component", json=_rules_body(dep, save=2, version=version, threshold=778)
    )
    assert "changed by root" in stale.get_data(as_text=True)


def _rules_body(
    dep: dict[str, Any], *, save: int, version: int | None, threshold: float = 5000.0
) -> dict[str, Any]:
    from common.rules import RULE_SPECS, default_rules
    from dashapp.views.rules_form import form_values

    ids = [
        {"type": "rule-field", "rule": r, "field": f.name} for r, s in RULE_SPECS.items() for f in s.fields
    ]

    class Doc:
        rules = default_rules()

    values = form_values(Doc, ids)  # type: ignore[arg-type]
    values[ids.index({"type": "rule-field", "rule": "high_amount", "field": "threshold"})] = threshold
    b = body(
        dep,
        [0, save],
        [
            [{"id": i, "property": "id", "value": i} for i in ids],
            [{"id": i, "property": "value", "value": v} for i, v in zip(ids, values, strict=True)],
            version,
        ],
        ["rules-save.n_clicks" if save else "rules-reload.n_clicks"],
    )
    b["outputs"][0] = [{"id": i, "property": "value"} for i in ids]
    return b


def test_workflow_conflict_reaches_the_loser(
    app_client: Any, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    alert_id = put_alert(redis_client, keys, make_alert(3))
    ann, bob = app_client.server.test_client(), app_client.server.test_client()
    login(ann, "ann")
    login(bob, "bob")
    dep = deps(ann)["selected-alert"]
    selected = {"alert_id": alert_id, "version": 1}

    def act(client: FlaskClient, button: str) -> Any:
        clicks = [
            1 if b == button else 0 for b in ("wf-ack", "wf-assign", "wf-resolve-fraud", "wf-resolve-fp")
        ]
        return client.post(
            "/_dash-update-component",
            json=body(dep, [[], *clicks], [selected, "my note"], [f"{button}.n_clicks"]),
        )

    won = act(ann, "wf-ack")
    assert won.status_code == 200 and "Acknowledged by ann" in won.get_data(as_text=True)
    lost = act(bob, "wf-assign")
    text = lost.get_data(as_text=True)
    assert lost.status_code == 200 and "was changed by ann" in text and "conflict" in text
    history = redis_client.lrange(keys.alert_history(alert_id), 0, -1)
    assert len(history) == 1 and b'"by": "ann"' in history[0]


# --- malformed and oversized requests ---------------------------------------------------------------------
def test_malformed_callback_requests_are_4xx(app_client: Any) -> None:
    client = app_client.server.test_client()
    login(client, "ann")
    dep = deps(client)["search-grid"]
    post = client.post
    assert (
        post("/_dash-update-component", data="{not json", content_type="application/json").status_code == 400
    )
    assert post("/_dash-update-component", data="a=b", content_type="text/plain").status_code == 415
    assert post("/_dash-update-component", json={"output": "nope.children"}).status_code == 400
    assert post("/_dash-update-component", json=[1, 2]).status_code == 400
    wrong = search_body(dep)
    wrong["inputs"] = wrong["inputs"][:1]
    assert post("/_dash-update-component", json=wrong).status_code == 400
    huge = search_body(dep)
    huge["state"][0]["value"] = "x" * 200_000
    assert post("/_dash-update-component", json=huge).status_code == 413
    assert post("/_dash-update-component", json=search_body(dep)).status_code == 200  # the good one


def test_polls_do_not_reissue_the_session_cookie(app_client: Any) -> None:
    client = app_client.server.test_client()
    login(client, "ann")
    resp = client.get(TICK)
    assert resp.status_code == 200 and "Set-Cookie" not in resp.headers


def test_verified_sessions_are_cached_but_never_a_tampered_or_expired_one(app_client: Any) -> None:
    client = app_client.server.test_client()
    login(client, "ann")
    assert client.get(TICK).status_code == 200  # now cached
    cookie = client.get_cookie("fraud_session")
    assert cookie is not None
    value = cookie.value
    forged = app_client.server.test_client()
    forged.set_cookie("fraud_session", value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB"))
    assert forged.get(TICK).status_code == 401
    app_client.server.permanent_session_lifetime = timedelta(seconds=1)
    short = app_client.server.test_client()
    login(short, "ann")
    assert short.get(TICK).status_code == 200  # cached
    time.sleep(2.5)  # the signed timestamp is whole seconds: let the 1 s lifetime surely pass
    assert short.get(TICK).status_code == 401
