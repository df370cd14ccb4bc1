"""Soak hook: the real dashboard under gunicorn polled by N analysts until stopped.

Called by tests/faults/test_soak.py in a thread. It reuses the benchmark's load generator (real
logins, page loads and the real Interval callback bodies, 1 Hz per tab) in bounded windows, and
raises if any poll failed or the dashboard's memory grew more than 10% after warm-up.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

logger = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
WINDOW_S = 120.0  # one load-generator run; repeated until stopped
MAX_GROWTH = 0.10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb(pid: int) -> int:
    """RSS of the gunicorn master plus its workers (Linux /proc)."""
    total = 0
    pids = [pid] + [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def _start_dashboard(work: Path, redis_url: str, prefix: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "DASH_USERS_FILE": str(work / "users.json"),
        "DASH_SECRET_KEY": secrets.token_hex(32),
        "DASH_LOG_LEVEL": "warning",
        "DASH_MAX_REQUESTS": "0",
    }
    accounts = []
    for i in range(10):
        name, password = f"soak-analyst-{i}", secrets.token_urlsafe(12)
        subprocess.run(
            [sys.executable, "-m", "dashapp", "users", "add", name, "--role", "analyst", "--password-stdin"],
            input=password + "\n",
            text=True,
            check=True,
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
        )
        accounts.append([name, password])
    (work / "accounts.json").write_text(json.dumps(accounts))
    env["DASH_BIND"] = f"127.0.0.1:{_free_port()}"
    log = open(work / "gunicorn.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "dashapp/gunicorn.conf.py",
            "dashapp.wsgi:server",
        ],
        env=env,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://{env['DASH_BIND']}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited during start-up; see {work / 'gunicorn.log'}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                return proc, base, work / "accounts.json"
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("the dashboard did not answer /healthz within 120 s")


def run_analysts(*, redis_url: str, prefix: str, analysts: int, stop: threading.Event) -> None:
    """Poll the dashboard with `analysts` tabs until `stop`; raise on any failed poll or RSS growth."""
    with tempfile.TemporaryDirectory(prefix="soak-dash-") as tmp:
        work = Path(tmp)
        server, base, accounts = _start_dashboard(work, redis_url, prefix)
        samples: list[int] = []
        try:
            while not stop.is_set():
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.loadgen",
                        "--base",
                        base,
                        "--analysts",
                        str(analysts),
                        "--duration",
                        str(WINDOW_S),
                        "--accounts",
                        str(accounts),
                        "--cookies",
                        str(work / "cookies.json"),
                        "--server-pid",
                        str(server.pid),
                        "--sessions",
                        "10",
                    ],
                    cwd=REPO_ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=WINDOW_S + 900,
                )
                assert out.returncode == 0, f"load generator failed: {out.stderr[-2000:]}"
                (result,) = json.loads(out.stdout.strip().splitlines()[-1])
                samples.append(_rss_kb(server.pid))
                logger.warning(
                    "soak: dashboard analysts=%d polls=%d errors=%d p95_ms=%s rss_kb=%d",
                    analysts,
                    result["polls"],
                    result["errors"],
                    result["latency_ms"].get("p95"),
                    samples[-1],
                )
                assert result["errors"] == 0, f"dashboard polls failed: {result['error_samples']}"
        finally:
            server.terminate()
            server.wait(30)
        if len(samples) >= 3:  # the first window is warm-up
            base_kb, last_kb = samples[1], samples[-1]
            growth = (last_kb - base_kb) / base_kb
            assert growth < MAX_GROWTH, f"dashboard RSS grew {growth:.1%} ({base_kb} kB -> {last_kb} kB)"
