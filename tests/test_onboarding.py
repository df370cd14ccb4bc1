"""Adding an analyst as the README says: `make run`, then `users add` from a plain shell, then log in."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from common.keys import RedisKeys
from tests.conftest import REPO_ROOT, unique
from tests.faults.harness import free_port, tail, wait_until

pytestmark = pytest.mark.integration

# What a checkout holds at run time. A copy, because `make run` keeps its state (users file,
# session key) in the checkout it runs from, and this test must not touch the developer's.
CODE = tuple(  # every service package of the repo, so a new one cannot be forgotten here
    sorted(
        d.name
        for d in REPO_ROOT.iterdir()
        if (d / "__init__.py").is_file() and d.name not in ("tests", "bench")
    )
)
# Variables a developer's shell does not have; the test sets only those naming the shared services.
PROJECT_VARS = ("DASH_", "KAFKA_", "REDIS_", "BRIDGE_", "PRODUCER_")
NAME, PASSWORD = "erin", "erin-password-1"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    for name in CODE:
        shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / ".venv").symlink_to(REPO_ROOT / ".venv")  # so the README's `.venv/bin/python` works
    return root


@pytest.fixture
def shell_env() -> dict[str, str]:
    """The environment of a developer's terminal: nothing of the project set (no DASH_USERS_FILE)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(PROJECT_VARS)}


@pytest.fixture
def make_run(
    checkout: Path, shell_env: dict[str, str], kafka_bootstrap: str, redis_url: str, redis_prefix: str
) -> Iterator[str]:
    """`python -m infra.run` (what `make run` runs) against the shared services; yields its URL."""
    topic = unique("t-onboarding")
    env = {
        **shell_env,
        # the services already run (started by `make services` or the test session): use them,
        # under names of this test's own so that nothing else is disturbed
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "KAFKA_TOPIC": topic,
        "KAFKA_DLQ_TOPIC": f"{topic}.dlq",
        "BRIDGE_GROUP_ID": unique("g-onboarding"),
        "BRIDGE_METRICS_PORT": str(free_port()),
        "DASH_BIND": f"127.0.0.1:{free_port()}",
        "DASH_WORKERS": "2",
        "PRODUCER_RATE": "5",
    }
    log = checkout / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(checkout / ".venv/bin/python"), "-m", "infra.run"],
            cwd=checkout,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{env['DASH_BIND']}"

    def healthy() -> bool:
        assert proc.poll() is None, f"infra.run exited with {proc.returncode}\n{tail(log, 60)}"
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200

    try:
        wait_until(healthy, 120, "the dashboard started by infra.run", describe=lambda: tail(log, 60))
        yield url
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, tail(log, 60)
        assert "all stopped" in log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # `make run` against services it did not start leaves them running (the rest of the session uses them)
    assert redis.Redis.from_url(redis_url).ping()


def login(url: str, name: str, password: str) -> httpx.Response:
    """The login page's form flow: GET for the CSRF token (and session cookie), POST it back."""
    with httpx.Client(base_url=url, timeout=10) as client:
        page = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page[:500]
        form = {"username": name, "password": password, "csrf_token": token.group(1), "next": "/"}
        answer = client.post("/login", data=form, headers={"Origin": url})
        if answer.status_code != 303:
            return answer
        return client.get("/")  # the session cookie from the login opens the dashboard


def basic_get(url: str, path: str, name: str, password: str) -> httpx.Response:
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    return httpx.get(f"{url}{path}", headers={"Authorization": f"Basic {token}"}, timeout=10)


def test_analyst_added_with_the_documented_command_can_log_in(
    make_run: str, checkout: Path, shell_env: dict[str, str], redis_prefix: str, redis_client: redis.Redis
) -> None:
    # Exactly the README's command, from the checkout, in a shell that sets nothing.
    added = subprocess.run(
        [".venv/bin/python", "-m", "dashapp", "users", "add", NAME, "--role", "analyst", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        cwd=checkout,
        env=shell_env,
        capture_output=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    # The running dashboard re-reads the users file (at most a second later): no restart.
    wait_until(
        lambda: login(make_run, NAME, PASSWORD).status_code == 200,
        30,
        f"{NAME} to log in through the form",
        interval_s=0.5,
        describe=lambda: f"last answer: {login(make_run, NAME, PASSWORD).status_code}",
    )
    wait_until(
        lambda: basic_get(make_run, "/api/stats", NAME, PASSWORD).status_code == 200,
        30,
        f"{NAME} to read /api/stats with HTTP Basic",
        interval_s=0.5,
    )
    assert basic_get(make_run, "/api/stats", NAME, "wrong-password-1").status_code == 401
    users_file = checkout / ".local" / "run" / "users.json"  # the checkout's, from any working directory
    assert f"saved to {users_file}\n" in added.stderr, "users add must name the file it wrote"
    alerts = basic_get(make_run, "/api/alerts?limit=5", NAME, PASSWORD)
    assert alerts.status_code == 200, alerts.text
    # and it is the whole stack: the bridge started by infra.run applies the producer's stream
    totals = RedisKeys(redis_prefix).totals
    wait_until(lambda: int(redis_client.hget(totals, "txns") or 0) > 0, 90, "the bridge to apply records")
