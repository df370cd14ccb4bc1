"""The registry on the real stack: the app's API and CLI, Kafka, a `python -m bridge` process, Redis.

A rule published by PUT /api/rules raises its alerts from the live stream with its explanation; a
suppression list entry silences them (an expired one does not); restoring version 1 removes it.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from werkzeug.serving import make_server

from common.alerts import alert_id_for
from common.keys import RedisKeys
from dashapp.app import create_app
from dashapp.auth.users import add_user
from dashapp.settings import DashSettings
from tests.browser.harness import event
from tests.conftest import REPO_ROOT, unique
from tests.streams import produce
from tests.test_rules_registry_store import ONLINE_RULE

pytestmark = pytest.mark.integration
DENY_RULE = {
    "id": "deny_merchant",
    "name": "Deny-listed merchant",
    "description": "The merchant is on the deny list.",
    "enabled": True,
    "score": 0.9,
    "when": {"field": "merchant_id", "op": "in_list", "list": "deny_merchants"},
    "explain": "merchant {merchant_id} is deny-listed",
}
PASSWORDS = {"root": "root-password-1", "ann": "ann-password-1"}
WAIT_S = 90.0  # two loaded cores: generous, and only ever waited out on a failure


class Stack:
    """The app on a real socket, a bridge process, and helpers to wait for what they do."""

    def __init__(
        self, base_url: str, client: redis.Redis, keys: RedisKeys, topic: str, bootstrap: str, log: Path
    ):
        self.base_url, self.client, self.keys, self.topic, self.bootstrap, self.log = (
            base_url,
            client,
            keys,
            topic,
            bootstrap,
            log,
        )
        self.sent = 0

    def call(self, method: str, path: str, user: str = "root", **kwargs: Any) -> httpx.Response:
        token = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
        headers = {"Authorization": f"Basic {token}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def wait(self, what: str, check: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not check():
            tail = self.log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{tail}"
            time.sleep(0.05)

    def logged(self, text: str) -> Callable[[], bool]:
        return lambda: text in self.log.read_text(errors="replace")

    def send(self, *events: tuple[str, dict[str, Any]]) -> list[str]:
        """Produce purchases (txn id, fields) and wait until the bridge has applied all of them."""
        produce(
            self.bootstrap, self.topic, [(event(t, **f), str(f["card_id"]).encode(), []) for t, f in events]
        )
        self.sent += len(events)
        self.wait(f"{self.sent} records applied", lambda: self.applied() >= self.sent)
        return [t for t, _ in events]

    def applied(self) -> int:
        return sum(int(v) for v in self.client.hvals(self.keys.offsets(self.topic)))

    def reasons(self, txn_id: str) -> list[dict[str, Any]] | None:
        raw = self.client.hget(self.keys.alert(alert_id_for(txn_id)), "d")
        return None if raw is None else json.loads(raw)["reasons"]


@pytest.fixture
def stack(
    redis_client: redis.Redis, redis_prefix: str, keys: RedisKeys, topic: str, dlq_topic: str,
    kafka_bootstrap: str, redis_url: str, tmp_path: Path,
) -> Iterator[Stack]:  # fmt: skip
    users = tmp_path / "users.json"
    add_user(users, "root", "admin", PASSWORDS["root"])
    add_user(users, "ann", "analyst", PASSWORDS["ann"])
    settings = DashSettings(
        redis_key_prefix=redis_prefix, dash_secret_key="k" * 32, dash_users_file=str(users)
    )
    server = make_server("127.0.0.1", 0, create_app(settings, redis_client).server, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC": topic,
        "KAFKA_DLQ_TOPIC": dlq_topic,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "BRIDGE_GROUP_ID": unique("g-registry"),
        "BRIDGE_POLL_TIMEOUT_MS": "50",
    }
    log = tmp_path / "bridge.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge"], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield Stack(f"http://127.0.0.1:{server.server_port}", redis_client, keys, topic, kafka_bootstrap, log)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        server.shutdown()


def purchase(card: str, amount: float) -> dict[str, Any]:
    return {
        "card_id": card,
        "amount": amount,
        "currency": "USD",
        "channel": "online",
        "merchant_category": "electronics",
    }


def test_a_published_rule_alerts_a_suppression_silences_and_a_restore_removes_it(stack: Stack) -> None:
    stack.wait("the bridge to seed the rules", lambda: stack.client.exists(stack.keys.rules) == 1)
    csv = "value,expires_at,note\nC-snoozed,,travelling\nC-was-snoozed,2020-01-01T00:00:00Z,back home\n"
    assert (
        stack.call("PUT", "/api/lists/snoozed", content=csv, headers={"Content-Type": "text/csv"}).status_code
        == 200
    )
    doc = stack.call("GET", "/api/rules", user="ann").json()
    rule = copy.deepcopy(ONLINE_RULE)
    rule["explain"] = "online {amount}, over $1,500 ({spent})"
    doc["rules"].append(rule)
    doc["rules"].append(DENY_RULE)
    doc["suppressions"] = [{"list": "snoozed", "field": "card_id", "rules": ["online_big"]}]
    deny = {"entries": ["M-bad"]}
    assert stack.call("PUT", "/api/lists/deny_merchants", json=deny).status_code == 200
    resp = stack.call("PUT", "/api/rules?comment=online+electronics", json=doc)
    assert resp.status_code == 200 and resp.json()["version"] == 2
    stack.wait("the bridge to load version 2", stack.logged("rules loaded version=2"))
    stack.wait("the bridge to load the list", stack.logged("snoozed=2"))

    fired, snoozed, expired, small = stack.send(
        ("t-fired", purchase("C-plain", 2000.0)),
        ("t-snoozed", purchase("C-snoozed", 2000.0)),
        ("t-expired", purchase("C-was-snoozed", 2000.0)),
        ("t-small", purchase("C-small", 100.0)),
    )
    reasons = stack.reasons(fired)
    assert reasons is not None and [r["rule"] for r in reasons] == ["online_big"]
    assert reasons[0]["text"] == "online $2,000.00, over $1,500 ($2,000.00)"
    assert stack.reasons(snoozed) is None  # on the suppression list: silenced
    assert [r["rule"] for r in stack.reasons(expired) or []] == ["online_big"]  # its entry expired in 2020
    assert stack.reasons(small) is None

    # a deny list is read by whichever engine decides (the native one gets the lists too)
    (listed,) = stack.send(("t-listed", {"card_id": "C-m", "amount": 50.0, "merchant_id": "M-bad"}))
    assert [r["rule"] for r in stack.reasons(listed) or []] == ["deny_merchant"]
    assert (
        stack.call("PUT", "/api/lists/deny_merchants", json={"entries": ["M-bad", "M-new"]}).status_code
        == 200
    )
    stack.wait("the bridge to load the changed list", stack.logged("deny_merchants=2"))
    (newly,) = stack.send(("t-newly", {"card_id": "C-n", "amount": 50.0, "merchant_id": "M-new"}))
    assert [r["rule"] for r in stack.reasons(newly) or []] == ["deny_merchant"]

    assert stack.call("POST", "/api/rules/versions/1/restore", json={"comment": "undo"}).status_code == 200
    stack.wait("the bridge to load version 3", stack.logged("rules loaded version=3"))
    (after,) = stack.send(("t-after", purchase("C-plain-2", 2000.0)))
    assert stack.reasons(after) is None  # the rule is gone again


def test_the_cli_validates_and_applies_against_a_running_app(stack: Stack, tmp_path: Path) -> None:
    doc = stack.call("GET", "/api/rules", user="ann").json()
    del doc["version"]
    doc["rules"].append(copy.deepcopy(ONLINE_RULE))
    good, bad = tmp_path / "rules.json", tmp_path / "bad.yaml"
    good.write_text(json.dumps(doc))
    bad.write_text("format: 1\nrules:\n  - {id: x}\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DASH_PASSWORD": PASSWORDS["root"]}

    def cli(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        run_env = env if password is None else {**env, "DASH_PASSWORD": password}
        return subprocess.run(
            [sys.executable, "-m", "dashapp", *args],
            check=False,
            cwd=REPO_ROOT,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("rules", "validate", str(good)).returncode == 0
    refused = cli("rules", "validate", str(bad))
    assert refused.returncode == 1 and "rules[0]" in refused.stderr
    remote = ("--url", stack.base_url, "--user", "root")
    assert cli("rules", "apply", str(bad), *remote).returncode == 1
    assert stack.call("GET", "/api/rules", user="ann").json()["version"] == 1  # nothing was sent
    denied = cli(
        "rules", "apply", str(good), "--url", stack.base_url, "--user", "ann", password=PASSWORDS["ann"]
    )
    assert denied.returncode == 2 and "HTTP 403" in denied.stderr
    done = cli("rules", "apply", str(good), *remote, "--comment", "from git")
    assert done.returncode == 0, done.stderr
    assert "version 2" in done.stdout
    record = stack.call("GET", "/api/rules/versions/2", user="ann").json()
    assert (record["author"], record["comment"]) == ("root", "from git")
    exported = cli("rules", "export", *remote, "--format", "json")
    assert json.loads(exported.stdout)["rules"][-1]["id"] == "online_big"

    deny = tmp_path / "deny.csv"
    deny.write_text("value,expires_at,note\n" + "".join(f"M-{i:06d},,\n" for i in range(30_000)))
    applied = cli("lists", "apply", "deny", str(deny), *remote, "--comment", "feed")
    assert applied.returncode == 0, applied.stderr
    assert "30000 entries" in applied.stdout  # > 256 KB: sent gzip-compressed
    back = cli("lists", "export", "deny", *remote)
    assert back.stdout.replace("\r\n", "\n") == deny.read_text()
