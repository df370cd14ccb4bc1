"""The webhook delivery log and dead letters in Redis: written by the notifier, read by admins."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import redis

from common.keys import WEBHOOK_DEAD_MAX, WEBHOOK_LOG_MAX, RedisKeys
from common.webhook_replay import queue_dead_letters

# Delivery statuses: a delivery is done (its record's offset may be committed) in the last three.
PENDING, RETRYING, DELIVERED, DEAD, CANCELLED = "pending", "retrying", "delivered", "dead", "cancelled"
DONE = (DELIVERED, DEAD, CANCELLED)


@dataclass
class Delivery:
    """One event to one endpoint: what the log shows of it."""

    endpoint_id: str
    endpoint_name: str
    event_id: str
    kind: str
    status: str = PENDING
    attempts: int = 0
    last_error: str = ""
    last_code: int | None = None
    first_ms: int = 0
    last_ms: int = 0
    next_ms: int | None = None  # when the next attempt is due (retrying)
    replays: int = 0  # times an admin queued it again from the dead letters

    @property
    def id(self) -> str:
        """Stable across redeliveries after a restart: the log keeps one row per endpoint and event."""
        return f"{self.endpoint_id}:{self.event_id}"


class DeliveryLog:
    """Bounded log (HASH + ZSET order), dead letters (LIST) and counters (HASH)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: RedisKeys,
        log_max: int = WEBHOOK_LOG_MAX,
        dead_max: int = WEBHOOK_DEAD_MAX,
    ) -> None:
        self._r, self._keys, self._log_max, self._dead_max = client, keys, log_max, dead_max

    def record(self, delivery: Delivery, *, failed_attempt: bool = False, delivered: bool = False) -> None:
        """Write a delivery's current state; drop the oldest rows past the bound."""
        k = self._keys
        pipe = self._r.pipeline(transaction=False)
        pipe.hset(k.webhook_deliveries, delivery.id, json.dumps({"id": delivery.id, **asdict(delivery)}))
        # a replay moves its row up to when it was replayed; otherwise the first attempt fixes the order
        pipe.zadd(k.webhook_delivery_order, {delivery.id: delivery.first_ms}, nx=delivery.replays == 0)
        if failed_attempt:
            pipe.hincrby(k.webhook_stats, "failed_attempts", 1)
        if delivered:
            pipe.hincrby(k.webhook_stats, "delivered", 1)
        pipe.zcard(k.webhook_delivery_order)
        size = pipe.execute()[-1]
        if size > self._log_max:
            old = self._r.zrange(k.webhook_delivery_order, 0, size - self._log_max - 1)
            if old:
                pipe = self._r.pipeline(transaction=False)
                pipe.zrem(k.webhook_delivery_order, *old)
                pipe.hdel(k.webhook_deliveries, *old)
                pipe.execute()

    def dead_letter(self, delivery: Delivery, body: bytes, event: Mapping[str, Any] | None = None) -> None:
        """Keep what could not be delivered and count it: the body sent, and the event itself so an
        admin can queue it again (common/webhook_replay.py)."""
        k = self._keys
        letter = {
            **asdict(delivery),
            "delivery": delivery.id,
            "at_ms": delivery.last_ms,
            "body": body.decode(),
            **({"event": dict(event)} if event is not None else {}),
        }
        pipe = self._r.pipeline(transaction=False)
        pipe.lpush(k.webhook_dead, json.dumps(letter))
        pipe.hincrby(k.webhook_stats, "dead", 1)
        pipe.llen(k.webhook_dead)
        size = pipe.execute()[-1]
        if size > self._dead_max:
            pipe = self._r.pipeline(transaction=False)
            pipe.ltrim(k.webhook_dead, 0, self._dead_max - 1)
            pipe.hincrby(k.webhook_stats, "dead_dropped", size - self._dead_max)
            pipe.execute()

    def queue_replay(self, endpoint_id: str | None = None) -> tuple[int, int]:
        """Queue the dead letters (of one endpoint, or all) for delivery again: (queued, kept)."""
        return queue_dead_letters(self._r, self._keys, endpoint_id)

    def count(self, field: str, n: int = 1) -> None:
        """Bump one counter (e.g. `invalid_records`)."""
        self._r.hincrby(self._keys.webhook_stats, field, n)

    # --- readers (the dashboard) ---------------------------------------------------------------
    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest deliveries (by first attempt), newest first."""
        ids = self._r.zrevrange(self._keys.webhook_delivery_order, 0, limit - 1)
        if not ids:
            return []
        raws = self._r.hmget(self._keys.webhook_deliveries, ids)  # type: ignore[arg-type]
        return [json.loads(r) for r in raws if r]

    def get(self, delivery_id: str) -> dict[str, Any] | None:
        """One delivery's row, or None."""
        raw = self._r.hget(self._keys.webhook_deliveries, delivery_id)
        return json.loads(raw) if raw else None

    def dead(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest dead letters, newest first."""
        return [json.loads(r) for r in self._r.lrange(self._keys.webhook_dead, 0, limit - 1)]

    def stats(self) -> dict[str, int]:
        """The counters (absent ones are 0)."""
        raw = self._r.hgetall(self._keys.webhook_stats)
        return {k.decode() if isinstance(k, bytes) else str(k): int(v) for k, v in raw.items()}
