"""Fault-test harness: bridge subprocesses, waiting on Redis conditions, offsets and /proc sampling."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], Any],
    timeout_s: float,
    what: str,
    interval_s: float = 0.2,
    describe: Callable[[], str] | None = None,
) -> Any:
    """Poll `check` until it returns a truthy value; fail with `what` and `describe()` on timeout.

    Errors raised by `check` (a service briefly down) count as "not yet".
    """
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # a restarting service: keep polling
            last_error = exc
        if time.monotonic() >= deadline:
            detail = describe() if describe is not None else ""
            raise AssertionError(
                f"timed out after {timeout_s:.0f}s waiting for: {what}"
                + (f"\nlast error: {last_error!r}" if last_error else "")
                + (f"\n{detail}" if detail else "")
            )
        time.sleep(interval_s)


def tail(path: Path, lines: int = 30) -> str:
    """Last lines of a log file (for failure messages)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@dataclass
class BridgeProc:
    """One `python -m bridge` (or another `module`) subprocess with its own log file."""

    name: str
    env: dict[str, str]
    args: list[str]
    log_path: Path
    module: str = "bridge"
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> BridgeProc:
        """Start (or restart after a kill) the process; appends to the same log."""
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} still running"
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== start #{self.starts + 1} of {self.name} =====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL and reap."""
        if self.alive():
            self.signal(signal.SIGCONT)  # a stopped process must be able to die
            self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def terminate(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait for a clean exit; return the exit code."""
        assert self.proc is not None
        self._await_first_log_line()
        self.signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.name} did not exit within {timeout_s:.0f}s of SIGTERM\n{self.log()}"
            ) from None

    def _await_first_log_line(self, timeout_s: float = 30.0) -> None:
        # A signal that arrives while the interpreter itself is still initialising cannot be handled
        # by any Python code; once the service has logged its first line its handlers are in place.
        marker = f"===== start #{self.starts} of {self.name} =====".encode()
        deadline = time.monotonic() + timeout_s
        while self.alive() and time.monotonic() < deadline:
            section = self.log_path.read_bytes().rsplit(marker, 1)[-1]
            if section.strip():
                return
            time.sleep(0.05)

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {timeout_s:.0f}s\n{self.log()}") from None

    def assigned(self) -> bool:
        """True once the bridge logged a non-empty partition assignment (since its last start)."""
        text = self.log_path.read_text(errors="replace").rsplit("===== start #", 1)[-1]
        return re.search(r"partitions assigned positions=\{\d", text) is not None

    def wait_assigned(self, timeout_s: float = 90.0) -> BridgeProc:
        """Wait until this start got partitions; the message names the known cold-start bug."""
        wait_until(
            self.assigned,
            timeout_s,
            f"{self.name} to get partitions (if it logged 'partitions revoked partitions=[]' and nothing "
            "after: the bridge cold-start rejoin bug, see tests/faults/test_bridge_start.py)",
            describe=self.log,
        )
        return self

    def log(self, lines: int = 40) -> str:
        return f"--- last lines of {self.log_path} ---\n{tail(self.log_path, lines)}"

    def rss_kb(self) -> int:
        """Resident memory of the process from /proc (kB)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError(f"no VmRSS for pid {self.pid}")


@dataclass
class BridgeFactory:
    """Builds bridge processes for one test and kills whatever is still running at the end."""

    base_env: Mapping[str, str]
    log_dir: Path
    procs: list[BridgeProc] = field(default_factory=list)

    def __call__(
        self,
        name: str,
        *,
        bootstrap: str,
        topic: str,
        redis_url: str,
        prefix: str,
        group: str,
        dlq_topic: str = "",
        args: Iterable[str] = (),
        **extra_env: str,
    ) -> BridgeProc:
        env = dict(self.base_env)
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            KAFKA_TOPIC=topic,
            KAFKA_DLQ_TOPIC=dlq_topic or f"{topic}.dlq",
            REDIS_URL=redis_url,
            REDIS_KEY_PREFIX=prefix,
            BRIDGE_GROUP_ID=group,
            BRIDGE_INSTANCE_ID=name,
            BRIDGE_BACKOFF_MAX_S="1.0",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra_env)
        proc = BridgeProc(name, env, list(args), self.log_dir / f"bridge-{name}.log")
        self.procs.append(proc)
        return proc

    def producer(self, name: str, args: Iterable[str], **extra_env: str) -> BridgeProc:
        """A `python -m producer` process (CLI flags in `args`), killed at teardown like bridges."""
        env = dict(self.base_env)
        env.update(PYTHONUNBUFFERED="1", **extra_env)
        proc = BridgeProc(name, env, list(args), self.log_dir / f"producer-{name}.log", module="producer")
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.proc is not None:
                proc.kill()


def stored_offsets(client: redis.Redis, offsets_key: str) -> dict[int, int]:
    """The bridge's Redis-stored next offsets {partition: offset}."""
    raw = client.hgetall(offsets_key)
    return {int(p): int(o) for p, o in raw.items()}


def caught_up(client: redis.Redis, offsets_key: str, ends: Mapping[int, int]) -> bool:
    """True when the Redis-stored offsets reached the topic's end on every non-empty partition."""
    stored = stored_offsets(client, offsets_key)
    return all(stored.get(p, 0) >= end for p, end in ends.items() if end > 0)


def hget_int(client: redis.Redis, key: str, field: str) -> int:
    raw = client.hget(key, field)
    return int(raw) if raw is not None else 0


class Background(threading.Thread):
    """Run a function in a daemon thread; `result()` joins and re-raises its exception."""

    def __init__(self, fn: Callable[[], Any], name: str = "background") -> None:
        super().__init__(name=name, daemon=True)
        self._fn = fn
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # re-raised in the test thread by result()
            self._error = exc

    def result(self, timeout_s: float = 300.0) -> Any:
        self.join(timeout_s)
        assert not self.is_alive(), f"{self.name} still running after {timeout_s:.0f}s"
        if self._error is not None:
            raise self._error
        return self._value
