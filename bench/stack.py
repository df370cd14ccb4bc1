"""The run context: services (reused or started), fresh topics and Redis prefixes, /proc probes."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.config import Sizes
from common.keys import RedisKeys

logger = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Context:
    """Everything a section needs; created once per `bench run`."""

    sizes: Sizes
    smoke: bool
    bootstrap: str
    redis_url: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    topics: list[str] = field(default_factory=list)
    cache: dict[str, Any] = field(default_factory=dict)
    out_dir: Path = REPO_ROOT / "bench" / "out"
    repo: Path = REPO_ROOT
    _redis: redis.Redis | None = None

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.redis_url)
        return self._redis

    def name(self, what: str) -> str:
        """A name unique to this run (topics, groups, users)."""
        return f"bench-{self.run_id}-{what}-{uuid.uuid4().hex[:6]}"

    def new_topic(
        self, what: str, partitions: int | None = None, configs: dict[str, str] | None = None
    ) -> str:
        from infra.kafka_topics import ensure_topics

        topic = self.name(what)
        n = partitions or self.sizes.partitions
        self.topics.append(topic)
        # returns once every partition has a leader
        ensure_topics(self.bootstrap, {topic: n}, configs=configs)
        return topic

    def dlq_topic(self) -> str:
        """One dead-letter topic shared by every bridge of this run."""
        if "dlq_topic" not in self.cache:
            self.cache["dlq_topic"] = self.new_topic("dlq", 1)
        return str(self.cache["dlq_topic"])

    def alerts_topic(self) -> str:
        """One alerts topic shared by every bridge of this run (not the deployment's `alerts`)."""
        if "alerts_topic" not in self.cache:
            self.cache["alerts_topic"] = self.new_topic("alerts")
        return str(self.cache["alerts_topic"])

    def new_keys(self, what: str) -> RedisKeys:
        return RedisKeys(f"{self.name(what)}:")

    def drop_prefix(self, keys: RedisKeys) -> None:
        """Delete every key under a prefix (benchmarks share Redis with other people's tests)."""
        batch: list[bytes] = []
        for key in self.redis.scan_iter(match=f"{keys.prefix}*", count=5000):
            batch.append(key)
            if len(batch) >= 2000:
                self.redis.unlink(*batch)
                batch.clear()
        if batch:
            self.redis.unlink(*batch)

    def settle(self, timeout_s: float = 60.0) -> None:
        """Wait until Redis has freed what drop_prefix unlinked and no AOF rewrite or save runs: its
        background work would otherwise land on whichever run comes next (2 shared cores)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            memory, persistence = self.redis.info("memory"), self.redis.info("persistence")
            busy = (
                int(memory.get("lazyfree_pending_objects", 0))
                or int(persistence.get("aof_rewrite_in_progress", 0))
                or int(persistence.get("rdb_bgsave_in_progress", 0))
            )
            if not busy:
                return
            time.sleep(0.1)
        logger.warning("bench: Redis still busy after %.0f s; measuring anyway", timeout_s)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for a child service process."""
        env = dict(os.environ)
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap, REDIS_URL=self.redis_url, PYTHONPATH=str(REPO_ROOT)
        )
        env["KAFKA_ALERTS_TOPIC"] = self.alerts_topic()  # bridges publish their alerts here
        if self.sizes.batch_max is not None:
            env["BRIDGE_BATCH_MAX"] = str(self.sizes.batch_max)
        env.update(extra)
        return env

    def close(self) -> None:
        """Delete this run's topics (hundreds of MB of records) and close clients."""
        if self.topics:
            from kafka import KafkaAdminClient

            with contextlib.suppress(Exception):
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=30_000)
                try:
                    admin.delete_topics(self.topics)
                finally:
                    admin.close()
        if self._redis is not None:
            self._redis.close()


def ensure_services() -> tuple[str, str, bool]:
    """Reuse the running Kafka + Redis, or start the local pair; return (bootstrap, redis_url, started)."""
    from infra import kafka_local, redis_local
    from infra.procs import InfraError
    from infra.services import LocalStack

    stack = LocalStack.from_env()
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", stack.kafka.bootstrap)
    url = os.environ.get("REDIS_URL", stack.redis.url)
    try:
        redis_local.wait_ready(url, timeout_s=1)
        kafka_local.wait_ready(bootstrap, timeout_s=3)
        return bootstrap, url, False
    except InfraError:
        logger.info("bench: starting local Kafka + Redis")
    stack.up()
    return stack.kafka.bootstrap, stack.redis.url, True


def spawn(args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO_ROOT) -> subprocess.Popen[bytes]:
    """Start `python <args>` from the repo root (or another checkout) with output to a log file."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def stop(procs: list[subprocess.Popen[bytes]], timeout_s: float = 15.0) -> None:
    """SIGTERM the processes we started, then SIGKILL whatever is left after timeout_s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + timeout_s
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (Linux /proc), 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int, peak: bool = False) -> float:
    """Resident memory (VmRSS, or the peak VmHWM) of a process in MB."""
    tag = "VmHWM:" if peak else "VmRSS:"
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(tag):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def children_of(pid: int) -> list[int]:
    """Direct children of a process (gunicorn workers of a master)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(stat.parent.name))
    return kids


def wait_until(check: Any, timeout_s: float, what: str, interval_s: float = 0.05) -> Any:
    """Poll check() until it returns a truthy value; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    raise TimeoutError(f"bench: timed out after {timeout_s:.0f}s waiting for {what}")


def machine_note() -> dict[str, Any]:
    """Load and size of the machine at this moment (benchmarks run on shared 2-core machines)."""
    one, five, fifteen = os.getloadavg()
    return {"loadavg": [round(one, 2), round(five, 2), round(fifteen, 2)], "cpus": os.cpu_count()}
