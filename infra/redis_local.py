"""The system `redis-server` on loopback, started and stopped by the project."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from infra.procs import InfraError, port_in_use, read_pid, spawn, stop_pid, tail


@dataclass(frozen=True)
class RedisConfig:
    """Where the local Redis listens, keeps its files, and whether AOF persistence is on."""

    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 6379
    appendonly: bool = True

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "redis.log"


def is_running(cfg: RedisConfig) -> bool:
    return read_pid(cfg.pid_file) is not None


def start(cfg: RedisConfig, timeout_s: float = 20.0) -> bool:
    """Start redis-server unless ours already runs; wait for PING. True when this call started it."""
    if is_running(cfg):
        wait_ready(cfg.url, timeout_s)
        return False
    binary = shutil.which("redis-server")
    if binary is None:
        raise InfraError("redis-server not found: install it (Debian: apt-get install redis-server)")
    if port_in_use(cfg.host, cfg.port):
        raise InfraError(
            f"port {cfg.host}:{cfg.port} is already in use by another process; "
            "stop it or choose another port (REDIS_PORT)"
        )
    data = cfg.state_dir / "redis-data"
    data.mkdir(parents=True, exist_ok=True)
    cmd = [
        binary,
        "--bind",
        cfg.host,
        "--port",
        str(cfg.port),
        "--dir",
        str(data),
        "--appendonly",
        "yes" if cfg.appendonly else "no",
        "--appendfsync",
        "everysec",
        "--save",
        "" if not cfg.appendonly else "3600 1",
        "--protected-mode",
        "yes",
        "--daemonize",
        "no",
        "--maxmemory-policy",
        "noeviction",
    ]
    spawn(cmd, cfg.log_file, cfg.pid_file)
    try:
        wait_ready(cfg.url, timeout_s, pid_file=cfg.pid_file)
    except InfraError:
        stop_pid(cfg.pid_file, "redis", timeout_s=5)
        raise InfraError(f"Redis did not become ready; last log lines:\n{tail(cfg.log_file)}") from None
    return True


def wait_ready(url: str, timeout_s: float, pid_file: Path | None = None) -> None:
    """Poll until PING succeeds."""
    import redis

    deadline = time.monotonic() + timeout_s
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        while time.monotonic() < deadline:
            if pid_file is not None and read_pid(pid_file) is None:
                raise InfraError("the redis-server process exited during start-up")
            try:
                if client.ping():
                    return
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(0.1)
            except redis.ResponseError:  # e.g. LOADING while reading the AOF
                time.sleep(0.2)
    finally:
        client.close()
    raise InfraError(f"Redis at {url} not ready within {timeout_s:.0f}s")


def stop(cfg: RedisConfig) -> bool:
    """SIGTERM (Redis flushes its AOF on the way out); True if it was running."""
    return stop_pid(cfg.pid_file, "redis", timeout_s=15)
