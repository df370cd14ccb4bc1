"""Section 4: simulated analysts polling the real dashboard under gunicorn while the stream runs."""

from __future__ import annotations

import json
import logging
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.bridge_run import start_bridges, write_rules
from bench.stack import Context, machine_note, spawn, stop, wait_until
from bench.stats import summarize
from common.keys import RedisKeys

logger = logging.getLogger(__name__)
ACCOUNTS = 3  # analysts share a few accounts; every analyst still has its own logged-in session
FIGURES = (
    "req_per_s",
    "errors",
    "missed_ticks",
    "server_cpu_ms_per_poll",
    "server_cpu_cores",
    "loadgen_cpu_cores",
    "retried_requests",
    "page_load_s",
    "page_load_errors",
    "open_tabs",
    "bytes_per_changed_poll",
    "bytes_per_unchanged_poll",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # our loopback URL
            return bool(resp.status == 200)
    except OSError:
        return False


def _accounts(ctx: Context, users_file: Path) -> Path:
    """Create analyst accounts with the dashboard's own CLI; return the accounts file for loadgen."""
    accounts = []
    for i in range(1 if ctx.smoke else ACCOUNTS):
        name, password = f"bench-analyst-{i}", secrets.token_urlsafe(12)
        subprocess.run(
            [sys.executable, "-m", "dashapp", "users", "add", name, "--role", "analyst", "--password-stdin"],
            input=password + "\n",
            text=True,
            check=True,
            cwd=ctx.repo,
            env=ctx.env(DASH_USERS_FILE=str(users_file)),
            capture_output=True,
        )
        accounts.append([name, password])
    path = ctx.out_dir / f"dash-accounts-{ctx.run_id}.json"
    path.write_text(json.dumps(accounts))
    path.chmod(0o600)
    return path


def start_dashboard(ctx: Context, keys: RedisKeys) -> tuple[subprocess.Popen[bytes], str, Path]:
    """gunicorn with the project's config, on a free loopback port; return (master, base url, accounts)."""
    users_file = ctx.out_dir / f"dash-users-{ctx.run_id}.json"
    accounts = _accounts(ctx, users_file)
    port = _free_port()
    env = ctx.env(
        DASH_SECRET_KEY=secrets.token_hex(32),
        DASH_USERS_FILE=str(users_file),
        DASH_BIND=f"127.0.0.1:{port}",
        REDIS_KEY_PREFIX=keys.prefix,
        DASH_MAX_REQUESTS="0",  # keep workers alive so their CPU time can be summed
        DASH_LOG_LEVEL="warning",
    )
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    log = ctx.out_dir / "logs" / "gunicorn.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [gunicorn, "-c", "dashapp/gunicorn.conf.py", "dashapp.wsgi:server"],
            env=env,
            cwd=ctx.repo,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    wait_until(lambda: proc.poll() is not None or _healthy(f"{base}/healthz"), 180, "dashboard /healthz", 0.3)
    if proc.poll() is not None:
        raise RuntimeError("bench: gunicorn exited during start-up (see bench/out/logs/gunicorn.log)")
    logger.info("bench: dashboard up url=%s ready_s=%.1f", base, time.monotonic() - t0)
    return proc, base, accounts


def loadgen(
    ctx: Context, base: str, pid: int, analysts: list[int], accounts: Path, duration: float | None = None
) -> list[dict[str, Any]]:
    """Run one bounded load-generator process over increasing analyst levels; one result per level."""
    sz = ctx.sizes
    args = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--base",
        base,
        "--analysts",
        ",".join(str(n) for n in analysts),
        "--duration",
        str(duration or sz.dash_duration_s),
        "--warmup",
        "0.5" if ctx.smoke else "3",
        "--accounts",
        str(accounts),
        "--cookies",
        str(ctx.out_dir / f"dash-cookies-{ctx.run_id}.json"),
        "--server-pid",
        str(pid),
    ]
    out = subprocess.run(
        args,
        env=ctx.env(),
        cwd=ctx.repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=len(analysts) * (sz.dash_duration_s + 10) + 1200,
    )
    if out.returncode != 0:
        raise RuntimeError(f"bench: loadgen failed: {out.stderr[-2000:]}")
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def run(ctx: Context) -> dict[str, Any]:
    """Stream at the configured rate through one bridge; every repetition walks up the analyst levels."""
    sz = ctx.sizes
    topic, keys = ctx.new_topic("dash"), ctx.new_keys("dash")
    write_rules(ctx, keys, ml=False)
    procs = start_bridges(ctx, topic, keys, 1, "dash")
    results: dict[int, list[dict[str, Any]]] = {n: [] for n in sz.analysts}
    try:
        procs.append(
            spawn(
                [
                    "-m",
                    "producer",
                    "--rate",
                    str(sz.dash_stream_rate),
                    "--count",
                    str(sz.dash_stream_rate * 3600),
                    "--seed",
                    "5",
                    "--bootstrap-servers",
                    ctx.bootstrap,
                    "--topic",
                    topic,
                    "--log-level",
                    "WARNING",
                ],
                ctx.env(),
                ctx.out_dir / "logs" / "producer-dash.log",
            )
        )
        dash, base, accounts = start_dashboard(ctx, keys)
        procs.append(dash)
        for rep in range(sz.reps):
            for n, r in zip(
                sz.analysts, loadgen(ctx, base, dash.pid, list(sz.analysts), accounts), strict=True
            ):
                results[n].append(r)
                logger.info(
                    "bench: dash rep=%d analysts=%d req/s=%.0f p95=%.1f ms errors=%d cpu/poll=%.2f ms",
                    rep + 1,
                    n,
                    r["req_per_s"],
                    r["latency_ms"]["p95"],
                    r["errors"],
                    r["server_cpu_ms_per_poll"],
                )
        idle = _idle(ctx, keys, procs[1], base, dash.pid, accounts)
    finally:
        stop(procs)
        ctx.drop_prefix(keys)
    return {
        "duration_s": sz.dash_duration_s,
        "stream_rate": sz.dash_stream_rate,
        "workers": "gunicorn gthread, dashapp/gunicorn.conf.py defaults (CPUs + 1 workers x 4 threads)",
        "levels": {str(n): _level(rs) for n, rs in results.items()},
        "idle": _level(idle),
        "idle_analysts": min(50, max(sz.analysts)),
        "machine": machine_note(),
    }


def _idle(
    ctx: Context, keys: RedisKeys, producer: subprocess.Popen[bytes], base: str, pid: int, accounts: Path
) -> list[dict[str, Any]]:
    """Stop the stream, let the bridge drain, then poll a quiet pipeline: what unchanged polls cost."""
    stop([producer])

    def quiet() -> bool:
        before = ctx.redis.get(keys.seq)
        time.sleep(0.5)
        return bool(ctx.redis.get(keys.seq) == before)

    wait_until(quiet, 60, "the stream to drain", 0.1)
    n = min(50, max(ctx.sizes.analysts))
    reps = 1 if ctx.smoke else ctx.sizes.reps
    return [loadgen(ctx, base, pid, [n], accounts, ctx.sizes.dash_idle_s)[0] for _ in range(reps)]


def _level(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: summarize([r[k] for r in runs]) for k in FIGURES}
    for q in ("p50", "p95", "p99", "max"):
        out[f"latency_{q}_ms"] = summarize([r["latency_ms"][q] for r in runs])
    out["error_samples"] = sorted({s for r in runs for s in r["error_samples"]})
    out["changed_share"] = summarize(
        [r["changed_polls"] / max(1, r["changed_polls"] + r["unchanged_polls"]) for r in runs]
    )
    return out
