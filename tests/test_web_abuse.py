"""Web abuse tests over HTTP against the real dashboard under gunicorn (issue 7, web part)."""

from __future__ import annotations

import base64
import contextlib
import html
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
import redis

from common.alerts import alert_id_for
from common.keys import RedisKeys
from dashapp.auth.sessions import CHECK_S
from tests.browser.harness import Dashboard, delete_prefix, event, running_dashboard, write_through_bridge
from tests.conftest import unique

pytestmark = pytest.mark.integration
CALLBACK = "/_dash-update-component"
TICK = "/api/tick"  # the live tick's route (dashapp.tick)
PUBLIC = {"/healthz", "/login", "/favicon.ico", "/_favicon.ico"}
DENIED = (401, 403, 302)
TIMEOUT = httpx.Timeout(30.0)


@dataclass(frozen=True)
class Site:
    """The running dashboard plus the secrets its Redis holds (which must never leak)."""

    dash: Dashboard
    client: redis.Redis
    markers: tuple[str, ...]  # stream strings that only the data can contain
    alert_id: str
    banner_alert_id: str  # a second high-severity alert, left in the RED ALERT banner

    @property
    def url(self) -> str:
        return self.dash.base_url

    def leaks(self, body: str) -> list[str]:
        return [m for m in self.markers if m in body]


@pytest.fixture(scope="module")
def site(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Gunicorn dashboard over a private prefix: traffic and two alerts, written the bridge's way."""
    prefix = f"{unique('abuse')}:"
    tag = uuid.uuid4().hex[:8]
    city, merchant = f"Sekretstadt{tag}", f"MERCH-{tag}"
    client = redis.Redis.from_url(redis_url)
    txn = f"abuse-{tag}"
    values = [event(f"n-{tag}-{i}", city=city, merchant_id=merchant) for i in range(20)]
    values.append(event(txn, amount=19_000.0, city=city, merchant_id=merchant))
    values.append(event(f"{txn}-b", amount=17_000.0, city=city, merchant_id=merchant))
    try:
        with running_dashboard(redis_url, prefix, tmp_path_factory.mktemp("abuse"), workers=2) as dash:
            write_through_bridge(client, RedisKeys(prefix), "t-abuse", values)
            markers = (city, merchant, f"C-{txn}")
            yield Site(dash, client, markers, alert_id_for(txn), alert_id_for(f"{txn}-b"))
    finally:
        client.close()
        delete_prefix(redis_url, prefix)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "login form has no csrf token"
    return found.group(1)


def login_form(http: httpx.Client, name: str, password: str, **headers: str) -> httpx.Response:
    """Submit the real login form (token from GET /login, same-origin like a browser)."""
    token = _csrf(http.get("/login").text)
    data = {"username": name, "password": password, "csrf_token": token, "next": "/"}
    return http.post("/login", data=data, headers={"Origin": str(http.base_url).rstrip("/"), **headers})


@contextmanager
def signed_in(site: Site, name: str) -> Iterator[httpx.Client]:
    """A client holding `name`'s session cookie from the real login form."""
    with httpx.Client(base_url=site.url, timeout=TIMEOUT) as http:
        resp = login_form(http, name, site.dash.passwords[name])
        assert resp.status_code == 303, resp.text[:300]
        yield http


def anonymous(site: Site) -> httpx.Client:
    return httpx.Client(base_url=site.url, timeout=TIMEOUT)


def deps(http: httpx.Client) -> list[dict[str, Any]]:
    resp = http.get("/_dash-dependencies")
    assert resp.status_code == 200
    return cast(list[dict[str, Any]], resp.json())


def dep_for(http: httpx.Client, first_output: str) -> dict[str, Any]:
    return next(d for d in deps(http) if d["output"].strip(".").startswith(first_output))


def _prop(ident: str) -> dict[str, Any]:
    elem, prop = ident.rsplit(".", 1)
    return {"id": json.loads(elem) if elem.startswith("{") else elem, "property": prop.split("@")[0]}


def callback_body(
    dep: dict[str, Any], inputs: list[Any], state: list[Any] | None = None, changed: list[str] | None = None
) -> dict[str, Any]:
    """A body shaped like the renderer's; list items are taken as given (pattern-matching ALL)."""

    def fill(specs: list[dict[str, Any]], values: list[Any]) -> list[Any]:
        return [
            v if isinstance(v, list) else {"id": s["id"], "property": s["property"], "value": v}
            for s, v in zip(specs, values, strict=True)
        ]

    output = dep["output"]
    multi = output.startswith("..")
    outs = [_prop(p) for p in output.strip(".").split("...")] if multi else _prop(output)
    return {
        "output": output,
        "outputs": outs,
        "inputs": fill(dep["inputs"], inputs),
        "state": fill(dep.get("state", []), state or []),
        "changedPropIds": changed or [],
    }


def search_body(http: httpx.Client) -> dict[str, Any]:
    """A good body for a read-only server callback: pressing Search with every filter empty."""
    dep = dep_for(http, "search-grid.rowData")
    return callback_body(dep, [1, 0, None], [None] * len(dep["state"]), ["search-go.n_clicks"])


def default_body(dep: dict[str, Any]) -> dict[str, Any]:
    """A plausible body for any callback: every input/state slot filled with a simple value."""
    return callback_body(
        dep,
        [1 if i["property"] == "n_clicks" else None for i in dep["inputs"]],
        [None for _ in dep.get("state", [])],
        [f"{dep['inputs'][0]['id']}.{dep['inputs'][0]['property']}"] if dep["inputs"] else [],
    )


# --- nothing without a login ---------------------------------------------------------------------
def _sample_path(rule: str) -> str:
    path = re.sub(r"<path:[^>]+>", "dash/dash-renderer/build/dash_renderer.min.js", rule)
    return re.sub(r"<[^>]+>", "x", path)


def _routes() -> list[tuple[str, str]]:
    """(method, path) of every route the app registers, from the real app's url_map."""
    from dashapp.app import create_app, redis_client
    from dashapp.settings import DashSettings

    settings = DashSettings(dash_secret_key="k" * 32, redis_key_prefix="unused-routes:")
    app = create_app(settings, redis_client(settings.redis_url))
    out = []
    for rule in app.server.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, _sample_path(rule.rule)))
    return sorted(set(out))


def test_anonymous_crawl_of_every_route_gets_no_data(site: Site) -> None:
    routes = _routes()
    assert ("POST", CALLBACK) in routes and ("GET", "/_dash-layout") in routes and len(routes) > 8
    with anonymous(site) as http:
        for method, path in routes:
            resp = http.request(method, path, json={} if method == "POST" else None)
            assert resp.status_code != 500, (method, path)
            assert not site.leaks(resp.text), (method, path, resp.text[:200])
            if path in PUBLIC or path.startswith("/_dash-component-suites/"):
                continue
            assert resp.status_code in DENIED, (method, path, resp.status_code)
            assert "kpi-tps" not in resp.text and "alerts-grid" not in resp.text, (method, path)


def test_every_callback_refuses_an_anonymous_post(site: Site) -> None:
    with signed_in(site, "alice") as alice:
        every = deps(alice)
        # the same requests succeed with a session: the refusals below are about the login alone
        ok = alice.get(TICK)
        assert ok.status_code == 200 and any(m in ok.text for m in site.markers)
        assert alice.post(CALLBACK, json=search_body(alice)).status_code == 200
    assert len(every) >= 5
    with anonymous(site) as http:
        tick = http.get(TICK)
        assert tick.status_code == 401 and not site.leaks(tick.text)
        for dep in every:
            resp = http.post(CALLBACK, json=default_body(dep))
            assert resp.status_code == 401, (dep["output"], resp.status_code)
            assert not site.leaks(resp.text) and "response" not in resp.json()


def test_forged_or_foreign_session_cookies_are_refused(site: Site) -> None:
    with signed_in(site, "alice") as alice:
        cookie = alice.cookies.get("fraud_session")
        assert cookie
    forged_payload = base64.urlsafe_b64encode(b'{"_user_id":"bob:0000000000000000"}').rstrip(b"=").decode()
    for forged in (f"{forged_payload}.{cookie.split('.', 1)[1]}", cookie[:-4] + "AAAA", "garbage"):
        with anonymous(site) as http:
            http.cookies.set("fraud_session", forged)
            resp = http.get("/_dash-layout")
            assert resp.status_code == 401 and not site.leaks(resp.text), forged[:30]


# --- roles and identity ---------------------------------------------------------------------------
def _rules_save_body(dep: dict[str, Any], version: int, threshold: float) -> dict[str, Any]:
    from common.rules import RULE_SPECS, default_rules
    from dashapp.views.rules_form import form_values

    ids = [
        {"type": "rule-field", "rule": r, "field": f.name} for r, s in RULE_SPECS.items() for f in s.fields
    ]

    class Doc:
        rules = default_rules()

    values = form_values(Doc, ids)  # type: ignore[arg-type]
    values[ids.index({"type": "rule-field", "rule": "high_amount", "field": "threshold"})] = threshold
    body = callback_body(
        dep,
        [0, 1],
        [
            [{"id": i, "property": "id", "value": i} for i in ids],
            [{"id": i, "property": "value", "value": v} for i, v in zip(ids, values, strict=True)],
            version,
        ],
        ["rules-save.n_clicks"],
    )
    body["outputs"][0] = [{"id": i, "property": "value"} for i in ids]
    return body


def test_analyst_cannot_change_rules_but_admin_can(site: Site) -> None:
    from dashapp.store import RulesStore

    store = RulesStore(site.client, site.dash.keys)
    before = store.current()  # seeds the defaults if the dashboard has not yet
    raw_before = site.client.get(site.dash.keys.rules)
    with signed_in(site, "alice") as alice:
        dep = dep_for(alice, '{"field":["ALL"]')
        for headers in ({}, {"X-Role": "admin", "X-User": "admin"}):
            resp = alice.post(CALLBACK, json=_rules_save_body(dep, before.version, 1.0), headers=headers)
            assert resp.status_code == 403, resp.text[:200]
        assert alice.get("/_dash-layout").status_code == 200  # still signed in: only the action was refused
    assert site.client.get(site.dash.keys.rules) == raw_before
    with signed_in(site, "admin") as admin:  # the same request from an admin works: the test can fail
        resp = admin.post(CALLBACK, json=_rules_save_body(dep, before.version, 4321.0))
        assert resp.status_code == 200 and f"Saved as version {before.version + 1}" in resp.text
    after = store.current()
    assert after.rules.high_amount.threshold == 4321.0 and after.updated_by == "admin"


def test_actions_are_always_recorded_as_the_session_user(site: Site) -> None:
    from dashapp.store import AlertWorkflow

    wf = AlertWorkflow(site.client, site.dash.keys)
    row = wf.get(site.alert_id)
    bob_basic = "Basic " + base64.b64encode(f"bob:{site.dash.passwords['bob']}".encode()).decode()
    spoof = {"X-User": "bob", "X-Forwarded-User": "bob", "X-Remote-User": "bob", "Authorization": bob_basic}
    with signed_in(site, "alice") as alice:
        dep = dep_for(alice, "selected-alert.data")
        selected = {"alert_id": site.alert_id, "version": row.version, "user": "bob", "by": "bob"}
        body = callback_body(dep, [[], 0, 1, 0, 0], [selected, "claimed by bob"], ["wf-assign.n_clicks"])
        body["user"] = "bob"
        resp = alice.post(CALLBACK, json=body, headers=spoof)
        assert resp.status_code == 200 and "Assigned to you by alice" in resp.text, resp.text[:300]
        banner = dep_for(alice, "red-alert-message.children")
        ident = {"type": "banner-ack", "alert": site.banner_alert_id, "v": 1}
        ack = callback_body(banner, [ident], changed=["banner-ack-request.data"])
        ack["user"] = "bob"
        resp = alice.post(CALLBACK, json=ack, headers=spoof)
        assert resp.status_code == 200, resp.text[:300]
    for alert_id in (site.alert_id, site.banner_alert_id):
        now = wf.get(alert_id)
        assert now.updated_by == "alice" and now.version == 2, now
        key = site.dash.keys.alert_history(alert_id)
        history = [json.loads(h) for h in cast(list[bytes], site.client.lrange(key, 0, -1))]
        assert [h["by"] for h in history] == ["alice"], history
    assert wf.get(site.alert_id).assignee == "alice"


# --- malformed requests ---------------------------------------------------------------------------
def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_malformed_and_oversized_callback_bodies_are_4xx(site: Site) -> None:
    with signed_in(site, "alice") as alice:
        good = search_body(alice)
        wrong_types = [
            {**good, "inputs": "nope"},
            {**good, "state": {"a": 1}},
            {**good, "changedPropIds": 7},
            {**good, "outputs": "x"},
            {**good, "output": 12},
            {**good, "inputs": [{"id": 5, "property": None}] * 2},
            {**good, "output": "no-such-output.children"},
            {"output": good["output"]},
            [good],
            "just a string",
            None,
        ]
        for bad in wrong_types:
            resp = alice.post(CALLBACK, json=bad)
            assert 400 <= resp.status_code < 500, (
                bad if not isinstance(bad, dict) else list(bad),
                resp.status_code,
            )
        raw_bodies = {
            "invalid json": b"{not json",
            "truncated": json.dumps(good).encode()[:-5],
            "utf-8 garbage": b'{"output": "\xff\xfe"}',
        }
        for what, raw in raw_bodies.items():
            resp = alice.post(CALLBACK, content=raw, headers={"Content-Type": "application/json"})
            assert 400 <= resp.status_code < 500, (what, resp.status_code, resp.text[:200])
        # 2 MB, declared or chunked (no Content-Length): refused, and early (the server may close
        # the connection before reading it all, so the status line is read while the body is sent).
        big = json.dumps({**good, "pad": "x" * 2_000_000}).encode()
        cookie = f"fraud_session={alice.cookies.get('fraud_session')}"
        assert 400 <= raw_post(site.url, cookie, big) < 500
        assert 400 <= raw_post(site.url, cookie, big, chunked=True) < 500
        form = alice.post(CALLBACK, content=b"output=x", headers={"Content-Type": "text/plain"})
        assert form.status_code == 415
        huge_header = alice.get("/_dash-layout", headers={"X-Pad": "y" * 20_000})
        assert 400 <= huge_header.status_code < 500
        for query in ("window=7", "since=%7Bnot", "since=" + "%5B" * 3000):  # the live tick's too
            assert 400 <= alice.get(f"{TICK}?{query}").status_code < 500, query[:20]  # gunicorn: 414
        assert alice.post(CALLBACK, json=good).status_code == 200  # the worker survived all of it
        assert alice.get(TICK).status_code == 200


def raw_post(base_url: str, cookie: str, body: bytes, *, chunked: bool = False) -> int:
    """POST `body` to the callback URL over a raw socket; return the HTTP status the server sends."""
    host, port = base_url.removeprefix("http://").split(":")
    head = [f"POST {CALLBACK} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    head += [f"Cookie: {cookie}", "Connection: close"]
    if chunked:
        head.append("Transfer-Encoding: chunked")
        step = 64 * 1024
        parts = [
            b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step]) for i in range(0, len(body), step)
        ]
        payload = b"".join(parts) + b"0\r\n\r\n"
    else:
        head.append(f"Content-Length: {len(body)}")
        payload = body
    sock = socket.create_connection((host, int(port)), timeout=30)

    def send() -> None:
        with contextlib.suppress(OSError):  # the server may refuse the rest: its answer is what counts
            sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n" + payload)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    finally:
        sender.join(timeout=30)
        sock.close()
    status = re.match(rb"HTTP/1\.[01] (\d{3}) ", reply)
    assert status, f"no HTTP status line from the server: {reply[:100]!r}"
    return int(status.group(1))


def test_deeply_nested_callback_json_is_4xx(site: Site) -> None:
    json_type = {"Content-Type": "application/json"}
    with signed_in(site, "alice") as alice:
        good = json.dumps(search_body(alice))
        bodies = {
            "top level, 100k deep": _nested(100_000),
            "inside the state, 2k deep": good.replace('"state": [', '"state": [' + _nested(2_000) + ",", 1),
        }
        codes = {
            what: alice.post(CALLBACK, content=raw.encode(), headers=json_type).status_code
            for what, raw in bodies.items()
        }
        assert alice.post(CALLBACK, content=good.encode(), headers=json_type).status_code == 200
    assert all(400 <= code < 500 for code in codes.values()), codes


# --- CORS, cookies, health ------------------------------------------------------------------------
def test_no_permissive_cors_anywhere(site: Site) -> None:
    evil = {"Origin": "https://evil.example"}
    with signed_in(site, "alice") as alice:
        responses = [
            alice.get("/", headers=evil),
            alice.get("/_dash-layout", headers=evil),
            alice.get("/_dash-dependencies", headers=evil),
            alice.post(CALLBACK, json=search_body(alice), headers=evil),
            alice.get(TICK, headers=evil),
            alice.get("/api/alerts", headers=evil),
            alice.get("/healthz", headers=evil),
            alice.get("/login", headers=evil),
        ]
        preflight = {
            **evil,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        for path in (CALLBACK, "/api/alerts", "/login", "/"):
            responses.append(alice.options(path, headers=preflight))
    for resp in responses:
        allowed = resp.headers.get("Access-Control-Allow-Origin")
        assert allowed is None, (resp.request.method, resp.request.url.path, allowed)
        assert "Access-Control-Allow-Credentials" not in resp.headers
    # A cross-site form post (no preflight needed) cannot call a callback or sign in.
    with anonymous(site) as http:
        token = _csrf(http.get("/login").text)
        cross = http.post(
            "/login",
            data={"username": "alice", "password": site.dash.passwords["alice"], "csrf_token": token},
            headers=evil,
        )
        assert cross.status_code == 403
        assert http.get("/_dash-layout").status_code == 401


def test_session_cookie_is_httponly_samesite_and_renewed_at_login(site: Site) -> None:
    with anonymous(site) as http:
        http.get("/login")
        before = http.cookies.get("fraud_session")
        resp = login_form(http, "alice", site.dash.passwords["alice"])
        assert resp.status_code == 303
        cookies = resp.headers.get_list("set-cookie")
        session = [c for c in cookies if c.startswith("fraud_session=")]
        assert session, cookies
        flags = session[-1].lower()
        assert "httponly" in flags and re.search(r"samesite=(lax|strict)", flags), flags
        assert http.cookies.get("fraud_session") != before  # no session fixation
        assert all(h.lower() != "access-control-allow-origin" for h in resp.headers)


def test_healthz_reveals_only_liveness(site: Site) -> None:
    with anonymous(site) as http:
        resp = http.get("/healthz")
    assert resp.status_code == 200 and resp.json() == {"status": "ok", "redis": True}
    assert resp.headers.get("Cache-Control") == "no-store"
    text = resp.text + json.dumps(dict(resp.headers))
    assert not site.leaks(text) and site.dash.prefix not in text and "alice" not in text
    assert not re.search(r"gunicorn/\d|Werkzeug/|Python/\d", text), resp.headers.get("Server")


# --- logout, redirects, page shell -----------------------------------------------------------------
def _tick(http: httpx.Client) -> int:
    return http.get(TICK).status_code


def test_a_cookie_copied_before_logout_stops_working(site: Site) -> None:
    with signed_in(site, "alice") as alice, anonymous(site) as thief:
        thief.cookies.set("fraud_session", alice.cookies.get("fraud_session") or "")
        assert _tick(thief) == 200 and thief.get("/api/stats").status_code == 200
        token = _logout_token(alice.get("/_dash-layout").json())
        out = alice.post("/logout", data={"csrf_token": token}, headers={"Origin": site.url})
        assert out.status_code == 303
        # Each worker re-checks a session at most every CHECK_S seconds: that is the longest a
        # worker that did not handle the logout may still honour the copy.
        time.sleep(CHECK_S + 0.5)
        codes = [_tick(thief) for _ in range(6)]  # several polls: both workers answer
        codes += [thief.get(p).status_code for p in ("/_dash-layout", "/api/stats", "/")]
    assert codes == [401] * 8 + [302], codes


def _logout_token(layout: Any) -> str:
    if isinstance(layout, dict):
        props = layout.get("props")
        if isinstance(props, dict) and props.get("name") == "csrf_token":
            return str(props["value"])
        layout = list(layout.values())
    if isinstance(layout, list):
        return next((t for t in map(_logout_token, layout) if t), "")
    return ""


def test_login_redirects_stay_on_site(site: Site) -> None:
    for target in ("/%09/evil.example", "/%0d%0aX-Injected:%201", "//evil.example", "/%5Cevil.example"):
        with anonymous(site) as http:
            page = http.get(f"/login?next={target}").text
            token = _csrf(page)
            shown = re.search(r'name="next" value="([^"]*)"', page)
            assert shown, page[:300]
            data = {"username": "alice", "password": site.dash.passwords["alice"], "csrf_token": token}
            resp = http.post(
                "/login", data={**data, "next": html.unescape(shown.group(1))}, headers={"Origin": site.url}
            )
            assert resp.status_code == 303 and resp.headers["Location"] == "/", (target, resp.status_code)


def test_no_page_shell_without_a_login_and_404_json_for_unknown_api_paths(site: Site) -> None:
    with anonymous(site) as http:
        for path in ("/favicon.ico", "/nope", "/x/y.html"):
            resp = http.get(path)
            assert resp.status_code in (301, 302) and "react-entry-point" not in resp.text, path
    with signed_in(site, "alice") as alice:
        page = alice.get("/")
        assert "script-src 'self' 'sha256-" in page.headers["Content-Security-Policy"]
        for path in ("/api/nope", "/api/alerts/x"):
            resp = alice.get(path)
            assert resp.status_code == 404 and resp.json() == {"error": "Not Found"}, path


# --- brute force (last: it locks bob out for the rest of the module) ---------------------------------
def test_login_brute_force_is_throttled(site: Site) -> None:
    good = site.dash.passwords["bob"]
    with anonymous(site) as http:
        codes = [login_form(http, "bob", f"wrong-{i}").status_code for i in range(5)]
        assert codes == [401] * 5
        locked = login_form(http, "bob", good)
        assert locked.status_code == 429 and "Too many failed attempts" in locked.text
        # neither a spoofed client address nor another spelling of the name gets around the lock
        assert login_form(http, "bob", good, **{"X-Forwarded-For": "203.0.113.9"}).status_code == 429
        assert login_form(http, " BOB ", good).status_code == 429
        assert http.get("/_dash-layout").status_code == 401
        basic = "Basic " + base64.b64encode(f"bob:{good}".encode()).decode()
        api = http.get("/api/alerts", headers={"Authorization": basic})
        assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0  # not a bare 401
        assert int(locked.headers["Retry-After"]) > 0
    with signed_in(site, "alice") as alice:  # the lock is per user and address: others still sign in
        assert alice.get("/_dash-layout").status_code == 200
