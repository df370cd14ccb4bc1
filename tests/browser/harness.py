"""Test harness: the real dashboard under gunicorn, its users, and events written the bridge's way."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import msgspec
import redis

from common.alerts import alert_id_for
from common.keys import RedisKeys

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN = "admin"
ANALYSTS = ("alice", "bob")
START_TIMEOUT_S = 90.0  # gunicorn imports dash/plotly; the CI machine has 2 busy cores


@dataclass(frozen=True)
class Dashboard:
    """A running dashboard: where it listens, what it reads and who may sign in."""

    base_url: str
    prefix: str
    keys: RedisKeys
    passwords: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the gunicorn log, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def add_users(env: dict[str, str]) -> dict[str, str]:
    """Create one admin and the analysts with the real CLI; return name -> password."""
    passwords: dict[str, str] = {}
    for name in (ADMIN, *ANALYSTS):
        role = "admin" if name == ADMIN else "analyst"
        password = f"pw-{name}-{secrets.token_urlsafe(9)}"
        done = subprocess.run(
            [sys.executable, "-m", "dashapp", "users", "add", name, "--role", role, "--password-stdin"],
            input=f"{password}\n".encode(),
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"users add {name} failed: {done.stderr.decode(errors='replace')}"
        passwords[name] = password
    return passwords


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"gunicorn exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"dashboard not healthy after {START_TIMEOUT_S:.0f} s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the gunicorn process group we started (master + its workers), then SIGKILL."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@contextmanager
def running_dashboard(redis_url: str, prefix: str, workdir: Path, workers: int = 2) -> Iterator[Dashboard]:
    """Start `gunicorn -c dashapp/gunicorn.conf.py dashapp.wsgi:server` and stop it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "DASH_SECRET_KEY": secrets.token_hex(32),
        "DASH_USERS_FILE": str(workdir / "users.json"),
        "DASH_BIND": f"127.0.0.1:{port}",
        "DASH_WORKERS": str(workers),
        "DASH_THREADS": "4",
        "DASH_ACCESS_LOG": "",
    }
    env.pop("DASH_DEV", None)
    passwords = add_users(env)
    log_path = workdir / "gunicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "dashapp/gunicorn.conf.py", "dashapp.wsgi:server"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: teardown stops master and workers only
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, proc, log_path)
        yield Dashboard(base_url, prefix, RedisKeys(prefix), passwords, log_path, proc)
    finally:
        _stop(proc)


def delete_prefix(redis_url: str, prefix: str) -> None:
    """Remove every key under `prefix`."""
    client = redis.Redis.from_url(redis_url)
    try:
        batch = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(batch), 500):
            client.delete(*batch[i : i + 500])
    finally:
        client.close()


# --- events --------------------------------------------------------------------------------------
XSS_CITY = "<img src=x onerror=alert(1)>"
XSS_MERCHANT = "<script>window.__xss=1</script>"
XSS_CATEGORY = "<script>alert('cat')</script>"

_enc = msgspec.json.Encoder()


def event(txn_id: str, **fields: Any) -> bytes:
    """A schema-v1 event (now, a valid card purchase in Paris) with `fields` overriding defaults."""
    now = time.time()
    body: dict[str, Any] = {
        "txn_id": txn_id,
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
        "card_id": f"C-{txn_id}",
        "account_id": f"A-{txn_id}",
        "amount": 42.5,
        "currency": "EUR",
        "merchant_id": "M-000123",
        "merchant_category": "grocery",
        "city": "Paris",
        "country": "FR",
        "lat": 48.8566,
        "lon": 2.3522,
        "channel": "pos",
    }
    body.update(fields)
    return _enc.encode(body)


def high_amount_event(txn_id: str, **fields: Any) -> tuple[bytes, str]:
    """An event far above the high-amount limit (a high-severity alert); returns (value, alert id)."""
    return event(txn_id, amount=18_750.0, **fields), alert_id_for(txn_id)


class Record(NamedTuple):
    """The fields of a Kafka ConsumerRecord that the bridge's processing reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def write_through_bridge(
    client: redis.Redis, keys: RedisKeys, topic: str, values: Sequence[bytes], first_offset: int = 0
) -> int:
    """Run records through the bridge's own validate -> detect -> build_plan and apply it in one MULTI.

    This is the bridge's write path without Kafka (no card states are loaded: every card is new).
    Returns the next offset.
    """
    from bridge.detection import Detector
    from bridge.plan import Batch, build_plan
    from bridge.processor import dead_letters, detect, encoded_states, validate_records
    from common.rules import default_rules

    now_ms = int(time.time() * 1000)
    records = [Record(topic, 0, first_offset + i, now_ms, None, v, []) for i, v in enumerate(values)]
    polled = validate_records(records, 65_536)
    det = detect(polled, Detector(default_rules()), 1, lambda _card: None, {})
    nxt = first_offset + len(values)
    batch = Batch(det.scored, dead_letters(det.rejected), encoded_states(det.states), {0: nxt})
    plan = build_plan(keys, topic, batch, now_ms, 3600)
    pipe = client.pipeline(transaction=True)
    for command in plan:
        pipe.execute_command(*command)
    pipe.execute()
    return nxt
