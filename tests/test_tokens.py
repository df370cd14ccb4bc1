"""Per-user API tokens: created and revoked by admins (API and CLI), hashed, Bearer, never logged."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from common.keys import RedisKeys
from dashapp.auth.tokens import TokenStore, is_bearer, parse_bearer
from dashapp.store import AlertWorkflow
from tests.conftest import REPO_ROOT
from tests.test_dash_http import basic
from tests.test_security_fixtures import PASSWORDS, make_app, write_users
from tests.test_store_fixtures import make_alert, put_alert

ROOT = basic("root", PASSWORDS["root"])
ANN = basic("ann", PASSWORDS["ann"])
GOOD = "fdt_" + "A" * 43


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Bearer {GOOD}", GOOD),
        (f"bearer   {GOOD} ", GOOD),
        (f"Basic {GOOD}", None),
        ("Bearer fdt_short", None),
        (f"Bearer {GOOD}x", None),
        (f"Bearer {GOOD[:-1]}\u00e9", None),
        ("Bearer ", None),
        (None, None),
        ("Bearer " + "a" * 5000, None),
    ],
)
def test_parse_bearer_takes_only_well_formed_tokens(header: str | None, expected: str | None) -> None:
    assert parse_bearer(header) == expected


def test_is_bearer_names_the_scheme_only() -> None:
    assert (
        is_bearer("Bearer x")
        and is_bearer("bearer fdt_")
        and not is_bearer("Basic abc")
        and not is_bearer(None)
    )


# --- over HTTP, real app and Redis -----------------------------------------------------------------
@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_users(tmp_path_factory.mktemp("tokens") / "users.json")


@pytest.fixture
def client(redis_client: redis.Redis, redis_prefix: str, users_file: Path) -> Iterator[FlaskClient]:
    yield make_app(redis_client, redis_prefix, users_file).server.test_client()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.integration
def test_a_token_authenticates_its_user_until_revoked(
    client: FlaskClient, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    created = client.post("/api/tokens", json={"user": "ann", "name": "case system"}, headers=ROOT)
    assert created.status_code == 201, created.get_json()
    token, token_id = created.get_json()["token"], created.get_json()["id"]
    assert token.startswith("fdt_") and created.get_json()["user"] == "ann"
    alert_id = put_alert(redis_client, keys, make_alert(11))
    acted = client.post(f"/api/alerts/{alert_id}/ack", json={"version": 1}, headers=_bearer(token))
    assert acted.status_code == 200 and acted.get_json()["alert"]["updated_by"] == "ann"  # the token's user
    listed = client.get("/api/tokens", headers=ROOT).get_json()["tokens"]
    assert [(t["id"], t["user"], t["name"]) for t in listed] == [(token_id, "ann", "case system")]
    assert isinstance(listed[0]["last_used_ms"], int)
    assert client.delete(f"/api/tokens/{token_id}", headers=ROOT).status_code == 200
    assert client.get("/api/stats", headers=_bearer(token)).status_code == 401  # at once, no cache
    assert client.delete(f"/api/tokens/{token_id}", headers=ROOT).status_code == 404
    assert AlertWorkflow(redis_client, keys).get(alert_id).version == 2


@pytest.mark.integration
def test_only_admins_manage_tokens_and_only_for_existing_users(client: FlaskClient) -> None:
    assert client.get("/api/tokens", headers=ANN).status_code == 403
    assert client.post("/api/tokens", json={"user": "ann"}, headers=ANN).status_code == 403
    assert client.post("/api/tokens", json={"user": "nobody"}, headers=ROOT).status_code == 404
    assert (
        client.post("/api/tokens", json={"user": "ann", "name": "<script>"}, headers=ROOT).status_code == 400
    )
    assert client.post("/api/tokens", json={"user": "\ud800"}, headers=ROOT).status_code == 400
    assert client.delete("/api/tokens/tok_000000000000", headers=ROOT).status_code == 404
    assert client.delete("/api/tokens/garbage", headers=ROOT).status_code == 404
    # an analyst's token cannot mint tokens either
    token = client.post("/api/tokens", json={"user": "ann"}, headers=ROOT).get_json()["token"]
    assert client.post("/api/tokens", json={"user": "ann"}, headers=_bearer(token)).status_code == 403


@pytest.mark.integration
def test_unknown_malformed_and_orphaned_tokens_are_401(
    client: FlaskClient, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    for header in (f"Bearer {GOOD}", "Bearer nonsense", "Bearer"):
        resp = client.get("/api/stats", headers={"Authorization": header})
        assert resp.status_code == 401, header
    # a token whose user has left the users file stops working
    _, secret = TokenStore(redis_client, keys).create("gone-user")
    assert client.get("/api/stats", headers=_bearer(secret)).status_code == 401


@pytest.mark.integration
def test_no_token_or_hash_in_any_log_line_answer_or_redis_value(
    client: FlaskClient, redis_client: redis.Redis, keys: RedisKeys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []

    def call(method: str, path: str, **kwargs: Any) -> Any:
        resp = client.open(path, method=method, **kwargs)
        answers.append(resp.get_data(as_text=True) + str(resp.headers))
        return resp

    created = client.post("/api/tokens", json={"user": "bob", "name": "bot"}, headers=ROOT)
    secret, token_id = created.get_json()["token"], created.get_json()["id"]
    digest = hashlib.sha256(secret.encode()).hexdigest()
    alert_id = put_alert(redis_client, keys, make_alert(12))
    call("POST", f"/api/alerts/{alert_id}/ack", json={"version": 1}, headers=_bearer(secret))
    call("POST", f"/api/alerts/{alert_id}/ack", json={"version": 1}, headers=_bearer(secret))  # 409
    call("GET", "/api/stats", headers=_bearer(secret[:-1] + "x"))  # a near miss is refused and logged
    call("GET", "/api/tokens", headers=ROOT)
    call("GET", "/api/openapi.json", headers=_bearer(secret))
    call("DELETE", f"/api/tokens/{token_id}", headers=ROOT)
    call("GET", "/api/stats", headers=_bearer(secret))  # revoked: refused and logged
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "bearer token refused" in logged and token_id in logged  # the log does say what happened
    for needle in (secret, secret[4:], digest):
        assert needle not in logged
        assert not [a for a in answers if needle in a]
    # stored hashed: no Redis value under the prefix holds the secret
    _, live = TokenStore(redis_client, keys).create("bob")
    for key in redis_client.scan_iter(f"{keys.prefix}api:*"):
        assert live.encode() not in b"".join(str(v).encode() for v in redis_client.hgetall(key).values())
    assert redis_client.hexists(keys.api_token_digests, hashlib.sha256(live.encode()).hexdigest())


@pytest.mark.integration
def test_cli_creates_lists_and_revokes_tokens(
    redis_url: str, redis_prefix: str, users_file: Path, redis_client: redis.Redis, keys: RedisKeys
) -> None:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "DASH_USERS_FILE": str(users_file),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dashapp", "tokens", *args], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, check=False, timeout=120)  # fmt: skip

    made = cli("create", "ann", "--name", "nightly export")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert parse_bearer(f"Bearer {secret}") == secret and secret not in made.stderr
    found = TokenStore(redis_client, keys).check(secret)
    assert found is not None and found[1] == "ann"
    listed = cli("list")
    assert listed.returncode == 0 and f"{found[0]}\tann\tnightly export\t" in listed.stdout
    assert secret not in listed.stdout
    assert cli("create", "nobody").returncode == 2
    assert cli("revoke", found[0]).returncode == 0
    assert TokenStore(redis_client, keys).check(secret) is None
    assert cli("revoke", found[0]).returncode == 1
