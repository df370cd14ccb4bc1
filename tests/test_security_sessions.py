"""Server-side session revocation: logout, "log out everywhere", an admin logging a user out (issue 11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from werkzeug.test import Client

from common.keys import RedisKeys
from dashapp.auth.sessions import RECHECK_LIVE_S, SessionRegistry
from dashapp.auth.users import UserDirectory
from dashapp.store import AlertWorkflow
from tests.test_dash_http import basic, body, deps
from tests.test_security_fixtures import PASSWORDS, login, logout, make_app, write_users
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration
CALLBACK = "/_dash-update-component"
TICK = "/api/tick"  # the live tick (dashapp.tick)


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_users(tmp_path_factory.mktemp("sessions") / "users.json")


@pytest.fixture
def app(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[Any]:
    yield make_app(redis_client, redis_prefix, users_file)


def signed_in(app: Any, name: str) -> FlaskClient:
    client = app.server.test_client()
    assert login(client, name).status_code == 303
    return client


def copy_of(app: Any, client: FlaskClient) -> tuple[FlaskClient, Client]:
    """Another browser holding the same session cookie: through Flask, and through the tick's WSGI seam."""
    cookie = client.get_cookie("fraud_session")
    assert cookie is not None
    flask_copy, front_copy = app.server.test_client(), Client(app.server.wsgi_app)
    flask_copy.set_cookie("fraud_session", cookie.value)
    front_copy.set_cookie("fraud_session", cookie.value)
    return flask_copy, front_copy


def ack_body(dep: dict[str, Any], alert_id: str) -> dict[str, Any]:
    """The body of pressing Acknowledge on the selected alert."""
    return body(dep, [[], 1, 0, 0, 0], [{"alert_id": alert_id, "version": 1}, ""], ["wf-ack.n_clicks"])


def test_a_cookie_copied_before_logout_stops_working_everywhere(
    app: Any, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    alert_id = put_alert(redis_client, keys, make_alert(3))
    owner = signed_in(app, "ann")
    thief, thief_front = copy_of(app, owner)
    workflow = deps(thief)["selected-alert"]
    front = app.server.wsgi_app
    answered = front.answered
    # the copy works while the session is open: the refusals below are about the logout alone
    assert thief.get("/_dash-layout").status_code == 200
    assert thief.get("/api/stats").status_code == 200
    assert thief_front.get(TICK).status_code == 200
    assert front.answered == answered + 1  # answered by the WSGI seam, not by Flask
    assert logout(owner).status_code == 303
    assert thief.get("/_dash-layout").status_code == 401
    assert thief.get("/api/stats").status_code == 401
    assert thief.get(TICK).status_code == 401
    assert thief_front.get(TICK).status_code == 401
    assert front.answered == answered + 1
    assert thief.post(CALLBACK, json=ack_body(workflow, alert_id)).status_code == 401
    assert AlertWorkflow(redis_client, keys).get(alert_id).status == "new"


def test_a_signed_cookie_without_an_open_session_is_refused(app: Any, users_file: Path) -> None:
    # what every cookie looked like before sessions were recorded: signed, valid, a real user id
    user = UserDirectory(users_file).get("ann")
    assert user is not None
    serializer = app.server.session_interface.get_signing_serializer(app.server)
    forged = app.server.test_client()
    forged.set_cookie("fraud_session", serializer.dumps({"_user_id": user.get_id(), "_fresh": True}))
    assert forged.get("/_dash-layout").status_code == 401
    with_dead_sid = app.server.test_client()
    value = serializer.dumps({"_user_id": user.get_id(), "sid": "never-opened"})
    with_dead_sid.set_cookie("fraud_session", value)
    assert with_dead_sid.get("/_dash-layout").status_code == 401


def test_log_out_everywhere_ends_every_session_of_that_user_only(app: Any) -> None:
    laptop, phone, bob = signed_in(app, "ann"), signed_in(app, "ann"), signed_in(app, "bob")
    layout = laptop.get("/_dash-layout").get_data(as_text=True)
    assert '"name":"scope"' in layout and '"value":"everywhere"' in layout  # the page's button
    assert logout(laptop, scope="everywhere").status_code == 303
    assert phone.get("/_dash-layout").status_code == 401
    assert phone.get(TICK).status_code == 401
    assert bob.get("/_dash-layout").status_code == 200 and bob.get(TICK).status_code == 200
    assert login(phone, "ann").status_code == 303  # a new login works as before
    assert phone.get("/_dash-layout").status_code == 200


def test_an_admin_logs_a_user_out_everywhere_and_an_analyst_cannot(app: Any) -> None:
    laptop, phone = signed_in(app, "ann"), signed_in(app, "ann")
    bob, root = signed_in(app, "bob"), signed_in(app, "root")
    refused = bob.delete("/api/users/ann/sessions")
    assert refused.status_code == 403 and refused.is_json
    assert laptop.get("/_dash-layout").status_code == 200
    done = root.delete("/api/users/ann/sessions")
    assert done.status_code == 200 and done.get_json() == {"user": "ann", "sessions_closed": 2}
    assert laptop.get("/_dash-layout").status_code == 401
    assert phone.get("/_dash-layout").status_code == 401
    assert root.delete("/api/users/ghost/sessions").status_code == 404
    api = app.server.test_client()  # HTTP Basic: an admin script, or a user ending their own sessions
    assert api.delete("/api/users/bob/sessions", headers=basic("root", PASSWORDS["root"])).status_code == 200
    assert bob.get("/_dash-layout").status_code == 401
    own = api.delete("/api/users/ann/sessions", headers=basic("ann", PASSWORDS["ann"]))
    assert own.status_code == 200 and own.get_json()["sessions_closed"] == 0
    assert root.get("/_dash-layout").status_code == 200


def test_other_workers_learn_of_a_logout_within_one_check_period(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    now = [100.0]
    workers = [SessionRegistry(redis_client, keys, 3600, check_s=1.0, clock=lambda: now[0]) for _ in range(2)]
    here, there = workers
    sid = here.open("ann")
    assert 3500 < redis_client.ttl(keys.login_session(sid)) <= 3600  # ends with the cookie's lifetime
    assert there.is_live(sid)
    here.close(sid, "ann")
    assert not here.is_live(sid)  # the worker that logged out knows at once
    now[0] += 1.001
    assert not there.is_live(sid)  # every other one after its check period (the revocation delay)
    assert not redis_client.exists(keys.login_session(sid))
    assert redis_client.zcard(keys.user_sessions("ann")) == 0


def test_polls_are_answered_from_memory_until_someone_logs_out(
    redis_client: redis.Redis, keys: RedisKeys
) -> None:
    now = [100.0]
    worker = SessionRegistry(redis_client, keys, 3600, check_s=1.0, clock=lambda: now[0])
    sid, other = worker.open("ann"), worker.open("bob")
    assert worker.is_live(sid)
    redis_client.delete(keys.login_session(sid))  # gone behind the workers' backs, without a logout
    for _ in range(5):  # a tab polling once a second: answered from memory, no Redis round trip
        now[0] += 1.0
        assert worker.is_live(sid)
    SessionRegistry(redis_client, keys, 3600).close(other, "bob")  # a logout on another worker
    now[0] += 1.0
    assert not worker.is_live(sid)  # the revocation counter moved: every session is asked again
    again = worker.open("ann")
    assert worker.is_live(again)
    redis_client.delete(keys.login_session(again))
    now[0] += RECHECK_LIVE_S
    assert not worker.is_live(again)  # and a live answer is re-asked once a minute in any case
