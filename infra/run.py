"""`make run`: local Kafka + Redis, then producer, bridge and the dashboard under gunicorn.

Ctrl+C (or SIGTERM) stops every child gracefully and the services this run started, so nothing
is left behind. With KAFKA_BOOTSTRAP_SERVERS and REDIS_URL both set, those services are used as
they are (topics created if missing) and none is started or stopped.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from dashapp.settings import DEFAULT_USERS_FILE
from infra.procs import InfraError
from infra.services import REPO_ROOT, LocalStack

logger = logging.getLogger("infra.run")
STATE = REPO_ROOT / ".local" / "run"
# How a person adds a user to this deployment: the same file as the dashboard, from any shell.
ADD_USER = ".venv/bin/python -m dashapp users add NAME --role analyst"


def _secret_key() -> str:
    """One fixed secret for every gunicorn worker, kept across runs so sessions survive restarts."""
    path = STATE / "dash_secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _ensure_admin(env: dict[str, str]) -> str | None:
    """Create the first admin on first start; return its password to print (None if users exist)."""
    users_file = Path(env["DASH_USERS_FILE"])
    if users_file.exists():
        return None
    password = env.get("DASH_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    subprocess.run(
        [sys.executable, "-m", "dashapp", "users", "add", "admin", "--role", "admin", "--password-stdin"],
        input=password + "\n",
        text=True,
        env=env,
        check=True,
        cwd=REPO_ROOT,
    )
    return password


def _wait_http(url: str, timeout_s: float, children: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            raise InfraError("a service exited during start-up (see its log above)")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our loopback URL
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise InfraError(f"{url} did not answer within {timeout_s:.0f}s")


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _external() -> tuple[str, str] | None:
    """The Kafka and Redis someone else runs, when the environment names both."""
    bootstrap, redis_url = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("REDIS_URL")
    return (bootstrap, redis_url) if bootstrap and redis_url else None


def _services_up(stack: LocalStack) -> None:
    external = _external()
    if external:
        stack.attach(*external)
        logger.info("run: using running services kafka=%s redis=%s", *external)
        return
    timings = stack.up()
    logger.info(
        "run: services ready kafka=%s redis=%s (kafka %.1fs)",
        stack.kafka.bootstrap,
        stack.redis.url,
        timings.get("kafka_s", 0.0),
    )


def _child_env(stack: LocalStack) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("KAFKA_BOOTSTRAP_SERVERS", stack.kafka.bootstrap)
    env.setdefault("REDIS_URL", stack.redis.url)
    env.setdefault("DASH_SECRET_KEY", _secret_key())
    # The dashboard's own default, spelled out: `users add` from any shell writes this file.
    env.setdefault("DASH_USERS_FILE", DEFAULT_USERS_FILE)
    env.setdefault("DASH_BIND", "127.0.0.1:8050")
    # Redis keeps every card's history across restarts (AOF): the producer keeps its cards' places
    env.setdefault("PRODUCER_STATE_FILE", str(STATE / "producer-cards.json"))
    return env


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    stop = {"requested": False}

    def on_signal(signum: int, _frame: object) -> None:
        if stop["requested"]:
            raise KeyboardInterrupt  # second Ctrl+C: stop waiting politely
        stop["requested"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    stack = LocalStack.from_env(state_dir=STATE, appendonly=True)
    was_running = _external() is not None or all(stack.status().values())  # this run leaves them up
    children: list[subprocess.Popen[bytes]] = []
    try:
        _services_up(stack)
        env = _child_env(stack)
        password = _ensure_admin(env)
        py = sys.executable
        commands = [
            [py, "-m", "producer", "--rate", env.get("PRODUCER_RATE", "20")],
            [py, "-m", "bridge", "--metrics-port", env.get("BRIDGE_METRICS_PORT", "9108")],
            [py, "-m", "backtest", "worker"],  # backtests (docs/backtest.md); idle until a run is queued
            [py, "-m", "notifier"],  # webhooks (docs/webhooks.md); idle until an endpoint is configured
            [py, "-m", "outbox", "relay"],  # workflow and rules events -> alert-events (docs/events.md)
            [str(Path(py).parent / "gunicorn"), "-c", "dashapp/gunicorn.conf.py", "dashapp.wsgi:server"],
        ]
        for cmd in commands:
            # Own session: the terminal's Ctrl+C reaches only this supervisor, which then sends each
            # child exactly one SIGTERM (a second signal would make them exit hard, skipping flushes).
            children.append(subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, start_new_session=True))
        url = f"http://{env['DASH_BIND']}"
        _wait_http(f"{url}/healthz", 60, children)
        logger.info("run: dashboard at %s  (Ctrl+C stops everything)", url)
        if password:
            logger.info("run: first start: log in as 'admin' with password %s", password)
        logger.info(
            "run: users file %s (add analysts: %s; the dashboard picks them up without a restart)",
            env["DASH_USERS_FILE"],
            ADD_USER,
        )
        while not stop["requested"]:
            dead = [c for c in children if c.poll() is not None]
            if dead:
                raise InfraError(f"{dead[0].args!r} exited with {dead[0].returncode}")
            time.sleep(0.5)
        logger.info("run: stopping")
        return 0
    except (InfraError, subprocess.CalledProcessError) as exc:
        logger.error("run: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        _stop_children(children)
        if not was_running:
            stack.down()
        logger.info("run: all stopped")


if __name__ == "__main__":
    sys.exit(main())
