"""Once-a-second health writes: heartbeat (with which engine decides), lag and latency percentiles."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from collections.abc import Iterable, Mapping

import msgspec
import redis

from common.keys import HEARTBEAT_TTL_S, LATENCY_SAMPLES_MAX, RedisKeys

logger = logging.getLogger(__name__)


def percentiles(samples: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99/max of latency samples (nearest rank); empty input gives {}."""
    ordered = sorted(samples)
    if not ordered:
        return {}
    n = len(ordered)

    def rank(q: float) -> float:
        return ordered[min(n - 1, max(0, int(q * n + 0.999999) - 1))]

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": ordered[-1]}


class Health:
    """Collects latency samples in memory and publishes them with the heartbeat every `period_s`."""

    def __init__(self, client: redis.Redis, keys: RedisKeys, instance_id: str, period_s: float = 1.0) -> None:
        self._client, self._keys, self._id, self._period = client, keys, instance_id, period_s
        self._samples: deque[float] = deque(maxlen=LATENCY_SAMPLES_MAX)
        self._next = 0.0
        self._host, self._pid = socket.gethostname(), os.getpid()

    def add_latencies(self, samples_ms: Iterable[float]) -> None:
        """Remember end-to-end latencies (ms) until the next beat."""
        self._samples.extend(samples_ms)

    def due(self, now: float | None = None) -> bool:
        """True when a beat is due."""
        return (time.monotonic() if now is None else now) >= self._next

    def beat(
        self, processed: int, partitions: list[int], lag: Mapping[int, int], engine: str = "", model: str = ""
    ) -> None:
        """Write heartbeat, lag and latency (two round trips; never inside the batch MULTI).

        `engine` says which engine decides (bridge.engines.Engines.status), e.g. why the native
        one is off; `model` which champion model it holds or why it refused one
        (bridge.model_watch.ModelWatcher.status); the pipeline-health panel shows both per bridge.
        """
        self._next = time.monotonic() + self._period
        k, now = self._keys, time.time()
        pipe = self._client.pipeline(transaction=False)
        pipe.zadd(k.bridges, {self._id: now})
        pipe.hset(
            k.bridge(self._id),
            mapping={
                "processed": processed,
                "partitions": msgspec.json.encode(sorted(partitions)),
                "pid": self._pid,
                "host": self._host,
                "ts": now,
                "engine": engine,
                "model": model,
            },
        )
        pipe.expire(k.bridge(self._id), HEARTBEAT_TTL_S)
        if lag:
            pipe.hset(k.lag, mapping={str(p): n for p, n in lag.items()})
        samples = [round(x, 3) for x in self._samples]
        self._samples.clear()
        if samples:
            pipe.lpush(k.latency_samples, *samples)
            pipe.ltrim(k.latency_samples, 0, LATENCY_SAMPLES_MAX - 1)
            pipe.lrange(k.latency_samples, 0, -1)
        replies = pipe.execute()
        if samples:
            stats: dict[str, float | int] = dict(percentiles(float(x) for x in replies[-1]))
            stats["ts"] = int(now * 1000)
            self._client.hset(k.latency, mapping=stats)  # type: ignore[arg-type]

    def forget(self) -> None:
        """Remove this instance's heartbeat (clean shutdown)."""
        self._client.zrem(self._keys.bridges, self._id)
        self._client.delete(self._keys.bridge(self._id))
