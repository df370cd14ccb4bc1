"""`GET /api/tick` over HTTP (Flask's test client, real Redis): guard, answers, 4xx, the WSGI seam."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from flask.testing import FlaskClient
from werkzeug.test import Client

from common.keys import RedisKeys
from dashapp.app import create_app
from dashapp.settings import DashSettings
from dashapp.tick import TickFront
from dashapp.tick.answer import KEYS
from tests.test_security_fixtures import login, logout, write_users
from tests.test_store_fixtures import make_alert, put_alert, put_txns

pytestmark = pytest.mark.integration
TICK = "/api/tick"
# what the seam must send exactly as Flask does (not Set-Cookie: flask-login marks a session
# "not fresh" when a poll comes from another client than the login did, as these test clients are)
SAME_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Cache-Control",
    "Vary",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Content-Security-Policy",
    "Referrer-Policy",
    "WWW-Authenticate",
)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_users(tmp_path_factory.mktemp("tick") / "users.json")


CLOCK = [0.0]  # the tick's clock: stopped, so two polls compare equal; a test moves it on by hand


@pytest.fixture
def app(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[Any]:
    """The real app with its tick clock stopped (no frame or slow refresh passes unless a test says)."""
    CLOCK[0] = time.time()
    settings = DashSettings(
        redis_key_prefix=redis_prefix, dash_secret_key="t" * 32, dash_users_file=str(users_file)
    )
    yield create_app(settings, redis_client, clock=lambda: CLOCK[0])


def seam_of(app: Any) -> TickFront:
    """The tick's WSGI seam in the server's chain of WSGI layers (others, e.g. metrics, wrap it)."""
    layer = app.server.wsgi_app
    while not isinstance(layer, TickFront):
        layer = layer.__dict__.get("inner")  # each wrapper's own attribute, not one it forwards
        assert layer is not None, "create_app installed no TickFront"
    return layer


def signed_in(app: Any, name: str = "ann") -> FlaskClient:
    client = app.server.test_client()
    assert login(client, name).status_code == 303
    return client


def since(cursors: Any) -> str:
    return f"{TICK}?since={quote(json.dumps(cursors))}"


def _seed(client: redis.Redis, keys: RedisKeys) -> None:
    put_txns(client, keys, range(3))
    put_alert(client, keys, make_alert(1, city="Tickcity"))
    client.incr(keys.seq)


def test_a_signed_in_page_gets_everything_then_204(
    app: Any, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    _seed(redis_client, keys)
    ann = signed_in(app)
    first = ann.get(TICK)
    assert first.status_code == 200 and first.content_type == "application/json"
    assert first.headers["Cache-Control"] == "no-store" and "Set-Cookie" not in first.headers
    body = first.get_json()
    assert {"timeline-graph.figure", "alerts-grid.rowData", "red-alert-banner.className"} <= set(body)
    assert set(body) <= set(KEYS.values()) and b"Tickcity" in first.data
    unchanged = ann.get(since(body["tick-state.data"]))
    assert unchanged.status_code == 204 and unchanged.data == b""
    put_txns(redis_client, keys, range(10, 12))
    redis_client.incr(keys.seq)
    CLOCK[0] += 1.0  # the next frame: the worker reads seq again
    delta = ann.get(since(body["tick-state.data"])).get_json()
    assert "timeline-graph.extendData" in delta and "timeline-graph.figure" not in delta
    resync = ann.get(since(body["tick-state.data"]) + "&window=15&view=1").get_json()
    assert len(resync["throughput-graph.figure"]["data"][0]["x"]) == 900  # the 15 min window, whole


def test_the_page_applies_every_answer_key_through_its_one_callback(app: Any) -> None:
    ann = signed_in(app)
    ticks = [d for d in ann.get("/_dash-dependencies").get_json() if "tick-state.data" in d["output"]]
    assert len(ticks) == 1 and ticks[0]["clientside_function"] == {
        "namespace": "tick",
        "function_name": "poll",
    }
    outputs = ticks[0]["output"].strip(".").split("...")
    assert outputs == list(KEYS.values())  # assets/tick.js maps answer keys onto exactly these
    assert [f"{i['id']}.{i['property']}" for i in ticks[0]["inputs"]] == [
        "refresh-interval.n_intervals",
        "view-state.data",
    ]
    script = ann.get("/assets/tick.js")
    assert script.status_code == 200 and b'"/api/tick"' in script.data and b"outputs_list" in script.data


def test_without_a_live_session_the_tick_is_401_without_a_password_prompt(
    app: Any, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    _seed(redis_client, keys)
    anonymous = app.server.test_client().get(TICK)
    assert anonymous.status_code == 401 and b"Tickcity" not in anonymous.data
    assert "WWW-Authenticate" not in anonymous.headers  # a browser would ask for a password
    api = app.server.test_client().get("/api/stats")
    assert "WWW-Authenticate" in api.headers  # the API proper still offers HTTP Basic
    ann = signed_in(app)
    assert ann.get(TICK).status_code == 200
    assert logout(ann).status_code == 303
    gone = ann.get(TICK)
    assert gone.status_code == 401 and b"Tickcity" not in gone.data


@pytest.mark.parametrize(
    "query",
    ["window=7", "paused=2", "view=x", "since=%7Bnot", "since=%5B1%5D", "window=5&window=15", "since=%ff"],
)
def test_malformed_polls_are_400_with_the_reason(app: Any, query: str) -> None:
    resp = signed_in(app).get(f"{TICK}?{query}")
    assert resp.status_code == 400 and resp.get_json()["error"]


def test_cursors_of_the_wrong_types_are_ignored_not_an_error(app: Any) -> None:
    resp = signed_in(app).get(since({"seq": "x", "txn": {"a": 1}, "sec": "zz", "slow_ms": "no"}))
    assert resp.status_code == 200 and resp.get_json()["tick-state.data"]["seq"] == 0  # a fresh render


def test_other_methods_and_dash_posts_of_the_tick_are_4xx(app: Any) -> None:
    ann = signed_in(app)
    assert ann.post(TICK, json={}).status_code == 405
    tick = next(d for d in ann.get("/_dash-dependencies").get_json() if "tick-state.data" in d["output"])
    posted = ann.post("/_dash-update-component", json={**tick, "outputs": [], "changedPropIds": []})
    # a clientside callback has no server side: a clear refusal, never Dash's KeyError (a 500)
    assert posted.status_code == 400 and posted.get_json() == {"error": "not a server callback"}


def test_the_wsgi_seam_answers_signed_in_polls_exactly_as_flask_does(
    app: Any, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    _seed(redis_client, keys)
    front = seam_of(app)  # installed by create_app, around the whole Flask app
    cookie = signed_in(app).get_cookie("fraud_session")
    assert cookie is not None
    first = Client(front.inner)
    first.set_cookie("fraud_session", cookie.value)
    cursors = first.get(TICK).get_json()["tick-state.data"]
    for target in (TICK, since(cursors), f"{TICK}?window=60&view=1"):  # full, 204, resync
        answers, before = [], front.answered
        for wsgi in (front, front.inner):  # with the seam, and Flask alone
            client = Client(wsgi)
            client.set_cookie("fraud_session", cookie.value)
            resp = client.get(target)
            answers.append((resp.status_code, resp.data, {h: resp.headers.get(h) for h in SAME_HEADERS}))
        assert front.answered == before + 1, target  # the seam answered the first itself
        assert answers[0] == answers[1], target
    # everything else goes to Flask: the refusals keep one implementation
    for cookie_value, target, status in (
        (cookie.value[:-2] + "xx", TICK, 401),  # forged
        (cookie.value, f"{TICK}?window=7", 400),  # malformed
    ):
        client = Client(front)
        client.set_cookie("fraud_session", cookie_value)
        before = front.answered
        assert client.get(target).status_code == status and front.answered == before


def test_the_seam_refuses_a_session_at_once_after_logout(app: Any) -> None:
    ann = signed_in(app)
    cookie = ann.get_cookie("fraud_session")
    assert cookie is not None
    copy = Client(app.server.wsgi_app)  # another browser holding the same cookie, through the seam
    copy.set_cookie("fraud_session", cookie.value)
    assert copy.get(TICK).status_code == 200
    assert logout(ann).status_code == 303
    assert copy.get(TICK).status_code == 401
