"""Private Redis and Kafka instances on free ports that fault tests may stop and restart at will."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from infra import kafka_local, kafka_topics, redis_local
from infra.procs import read_pid
from tests.faults.harness import free_port


@dataclass
class PrivateRedis:
    """A redis-server with AOF persistence in a temporary directory (never the shared 6379 one)."""

    cfg: redis_local.RedisConfig

    @classmethod
    def create(cls, state_dir: Path) -> PrivateRedis:
        return cls(redis_local.RedisConfig(state_dir=state_dir, port=free_port(), appendonly=True))

    @property
    def url(self) -> str:
        return self.cfg.url

    @property
    def pid(self) -> int | None:
        return read_pid(self.cfg.pid_file)

    def start(self) -> None:
        redis_local.start(self.cfg)

    def stop(self) -> None:
        """SIGTERM: Redis rewrites nothing but fsyncs its AOF before exiting."""
        redis_local.stop(self.cfg)

    def crash(self) -> None:
        """SIGKILL: with appendfsync everysec up to ~1 s of acknowledged writes may be lost."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # our own child when started by this session
        while self.pid is not None:
            time.sleep(0.05)


@dataclass
class PrivateKafka:
    """A single-node KRaft broker on free ports with its own log dirs."""

    cfg: kafka_local.KafkaConfig

    @classmethod
    def create(cls, state_dir: Path) -> PrivateKafka:
        cfg = kafka_local.KafkaConfig(
            state_dir=state_dir, port=free_port(), controller_port=free_port(), heap="384m"
        )
        return cls(cfg)

    @property
    def bootstrap(self) -> str:
        return self.cfg.bootstrap

    @property
    def pid(self) -> int | None:
        return read_pid(self.cfg.pid_file)

    def start(self) -> None:
        kafka_local.start(self.cfg, timeout_s=120)

    def stop(self) -> None:
        """Controlled shutdown (SIGTERM, SIGKILL after 30 s)."""
        kafka_local.stop(self.cfg)

    def create_topics(self, topics: dict[str, int]) -> None:
        """Create `topics` and the default alerts topic (every bridge publishes its alerts)."""
        kafka_topics.ensure_topics(self.bootstrap, {"alerts": 3, **topics})
