"""Headers and leaks over HTTP (issue 16): a real CSP, no page shell off "/", 404 JSON under /api."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from tests.browser.harness import delete_prefix
from tests.conftest import unique
from tests.test_dash_http import basic
from tests.test_security_fixtures import PASSWORDS, login, make_app, write_users

pytestmark = pytest.mark.integration
SHELL_MARKS = ("react-entry-point", "_dash-config", "_dash-renderer")


@pytest.fixture(scope="module")
def app(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    prefix = f"{unique('headers')}:"
    client = redis.Redis.from_url(redis_url)
    try:
        yield make_app(client, prefix, write_users(tmp_path_factory.mktemp("headers") / "users.json"))
    finally:
        client.close()
        delete_prefix(redis_url, prefix)


def directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def inline_scripts(page: str) -> list[str]:
    """Bodies of the page's inline scripts that a browser would run (not JSON data, not commented out)."""
    live = re.sub(r"<!--.*?-->", "", page, flags=re.S)  # e.g. Dash's <!--[if IE]> notice
    found = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", live, flags=re.S)
    return [body for attrs, body in found if "application/json" not in attrs and body.strip()]


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_page_carries_a_csp_that_allows_only_its_own_and_hashed_scripts(app: Any) -> None:
    client = app.server.test_client()
    assert login(client, "ann").status_code == 303
    resp = client.get("/")
    page = resp.get_data(as_text=True)
    policy = directives(resp.headers["Content-Security-Policy"])
    scripts = policy["script-src"]
    assert scripts[0] == "'self'" and not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:"} & set(scripts)
    inline = inline_scripts(page)
    assert inline and all(sha256(body) in scripts for body in inline), (inline, scripts)
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"] and policy["form-action"] == ["'self'"]
    login_page = app.server.test_client().get("/login")
    assert directives(login_page.headers["Content-Security-Policy"])["script-src"] == scripts
    assert not inline_scripts(login_page.get_data(as_text=True))  # the form has no script at all


@pytest.mark.parametrize("path", ["/favicon.ico", "/nope", "/api/nope", "/assets/../x", "/_dash-nope"])
def test_no_path_gives_the_page_shell_to_anonymous_users(app: Any, path: str) -> None:
    resp = app.server.test_client().get(path)
    text = resp.get_data(as_text=True)
    assert resp.status_code in (301, 302, 401, 404), (path, resp.status_code)
    assert not any(mark in text for mark in SHELL_MARKS), path
    if path == "/favicon.ico":  # an icon, from the framework's public route
        icon = app.server.test_client().get(resp.headers["Location"])
        assert icon.status_code == 200 and icon.mimetype == "image/x-icon"


@pytest.mark.parametrize("path", ["/nope", "/alerts/123", "/favicon.ico/x"])
def test_unknown_paths_are_404_even_when_signed_in(app: Any, path: str) -> None:
    client = app.server.test_client()
    assert login(client, "ann").status_code == 303
    resp = client.get(path)
    assert resp.status_code == 404 and not any(m in resp.get_data(as_text=True) for m in SHELL_MARKS)
    assert client.get("/").status_code == 200  # the page itself is still there


@pytest.mark.parametrize("path", ["/api/nope", "/api/alerts/x", "/api/", "/api/users"])
def test_unknown_api_paths_answer_404_json(app: Any, path: str) -> None:
    session = app.server.test_client()
    assert login(session, "ann").status_code == 303
    for client, headers in ((session, {}), (app.server.test_client(), basic("ann", PASSWORDS["ann"]))):
        resp = client.get(path, headers=headers)
        assert resp.status_code == 404 and resp.is_json and "error" in resp.get_json(), (path, headers)
