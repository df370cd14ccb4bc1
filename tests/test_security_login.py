"""Login over HTTP: no open redirect (issue 10) and a throttle that cannot lock users out (issue 12)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import pytest
import redis

from tests.browser.harness import delete_prefix
from tests.conftest import unique
from tests.test_dash_http import basic
from tests.test_security_fixtures import PASSWORDS, login, make_app, write_users

pytestmark = pytest.mark.integration
SITE = "http://localhost/login"  # Flask's test client host


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_users(tmp_path_factory.mktemp("login") / "users.json")


@pytest.fixture
def app(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[Any]:
    # the per-user and per-address budgets made small: each failure costs a scrypt check (~0.1-0.4 s)
    yield make_app(
        redis_client, redis_prefix, users_file, dash_login_user_failures=8, dash_login_addr_failures=10
    )


@pytest.fixture(scope="module")
def shared_app(redis_url: str, users_file: Path) -> Iterator[Any]:
    """One app for the tests that never fail a login (so they leave no throttle state behind)."""
    prefix = f"{unique('login')}:"
    client = redis.Redis.from_url(redis_url)
    try:
        yield make_app(client, prefix, users_file)
    finally:
        client.close()
        delete_prefix(redis_url, prefix)


def browser_target(location: str) -> str:
    """Where a browser goes for this Location: it drops tabs and newlines and reads "\\" as "/"."""
    cleaned = "".join(c for c in location if c not in "\t\r\n").replace("\\", "/")
    return urljoin(SITE, cleaned)


# --- issue 10: open redirect ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",  # what ?next=/%09/evil.example decodes to
        "/\n/evil.example",
        "/\r\nX-Injected: 1",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        " //evil.example",
        "/\u3000/evil.example",
    ],
)
def test_login_never_redirects_off_site(shared_app: Any, target: str) -> None:
    for how in ("query", "form"):  # ?next= on the page the guard sent, or a hand-made form field
        client = shared_app.server.test_client()
        if how == "query":
            resp = login(client, "ann", path=f"/login?next={quote(target, safe='')}")
        else:
            resp = login(client, "ann", next_url=target)
        assert resp.status_code == 303, (how, target, resp.status_code)
        landing = urlsplit(browser_target(resp.headers["Location"]))
        assert landing.scheme == "http" and landing.netloc == "localhost", (how, target, landing)


@pytest.mark.parametrize("target", ["/", "/?x=1#sec-alerts", "/_dash-layout", "/a%2Fb"])
def test_login_keeps_same_origin_targets(shared_app: Any, target: str) -> None:
    client = shared_app.server.test_client()
    resp = login(client, "ann", path=f"/login?next={quote(target, safe='')}")
    assert resp.status_code == 303 and resp.headers["Location"] == target


# --- issue 12: lockout as a weapon --------------------------------------------------------------------
def test_failures_from_one_address_do_not_lock_the_user_out_from_another(app: Any) -> None:
    attacker = app.server.test_client()
    for _ in range(5):
        assert login(attacker, "bob", "wrong-password", addr="203.0.113.7").status_code == 401
    locked = login(attacker, "bob", addr="203.0.113.7")  # the attacker's address now waits
    assert locked.status_code == 429 and 0 < int(locked.headers["Retry-After"]) <= 900
    assert login(app.server.test_client(), "bob", addr="198.51.100.20").status_code == 303


def test_a_known_browser_signs_in_while_the_user_is_under_attack(app: Any) -> None:
    known = app.server.test_client()
    assert login(known, "bob").status_code == 303  # an earlier login left a device cookie
    assert known.get_cookie("fraud_device", path="/login") is not None
    for i in range(10):  # from many addresses, ~5 every few minutes or all at once
        attacker = app.server.test_client()
        assert login(attacker, "bob", "wrong-password", addr=f"203.0.113.{i}").status_code in (401, 429)
    stranger = login(app.server.test_client(), "bob", addr="198.51.100.9")
    assert stranger.status_code == 429 and int(stranger.headers["Retry-After"]) > 0  # a new browser waits
    assert login(known, "bob", addr="198.51.100.9").status_code == 303  # the user's own does not
    assert known.get("/_dash-layout").status_code == 200


def test_one_busy_address_does_not_lock_out_known_browsers_behind_it(app: Any) -> None:
    office = "192.0.2.50"  # one NAT address for a whole office
    ann = app.server.test_client()
    assert login(ann, "ann", addr=office).status_code == 303
    for i in range(12):  # password spraying from that address: several names, a few tries each
        name = ("bob", "root")[i % 2]
        assert login(app.server.test_client(), name, "guess", addr=office).status_code in (401, 429)
    newcomer = login(app.server.test_client(), "ann", addr=office)  # no failures of ann's own
    assert newcomer.status_code == 429 and int(newcomer.headers["Retry-After"]) > 0
    assert login(ann, "ann", addr=office).status_code == 303


def test_basic_auth_during_a_lock_is_429_with_retry_after(app: Any) -> None:
    client = app.server.test_client()
    for _ in range(5):
        assert client.get("/api/stats", headers=basic("bob", "wrong-password")).status_code == 401
    locked = client.get("/api/stats", headers=basic("bob", PASSWORDS["bob"]))
    assert locked.status_code == 429 and locked.is_json
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert login(client, "bob").status_code == 429  # the same lock as the login form's (same address)


def test_a_device_cookie_of_another_user_or_forged_earns_no_trust(app: Any) -> None:
    ann = app.server.test_client()
    assert login(ann, "ann").status_code == 303
    for _ in range(5):
        assert login(app.server.test_client(), "bob", "wrong-password").status_code == 401
    cookie = ann.get_cookie("fraud_device", path="/login")
    assert cookie is not None
    for value in (cookie.value, cookie.value[:-2] + "xx", "garbage"):
        other = app.server.test_client()
        other.set_cookie("fraud_device", value, path="/login")
        assert login(other, "bob").status_code == 429, value[:20]
