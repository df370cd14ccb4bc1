"""A bridge running on a thread of a live test, against the real Kafka and Redis, stopped cleanly."""

from __future__ import annotations

import threading
from typing import Any

import redis

from bridge.config import BridgeSettings
from bridge.kafka_io import make_consumer, make_producer
from bridge.service import Bridge


class RunningBridge:
    """`start` builds the bridge with its own consumer, producer and Redis client; `stop` asks it to
    finish, joins it, and closes them (the consumer leaves the group: its partitions move now)."""

    def __init__(self, settings: BridgeSettings, publish_alerts: bool = True) -> None:
        self.consumer, self.producer = make_consumer(settings), make_producer(settings)
        self.client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
        self.bridge = Bridge(
            settings, self.consumer, self.producer, self.client, publish_alerts=publish_alerts
        )
        self.runner = threading.Thread(target=self.bridge.run, daemon=True)

    def start(self) -> RunningBridge:
        self.runner.start()
        return self

    @property
    def serving(self) -> Any:
        """The bridge's model serving (asserted present: these tests load a champion)."""
        assert self.bridge.serving is not None
        return self.bridge.serving

    def stop(self) -> None:
        self.bridge.stop()
        self.runner.join(30)
        self.consumer.close(autocommit=False)
        self.producer.close(timeout=5)
        self.client.close()
        assert not self.runner.is_alive()
