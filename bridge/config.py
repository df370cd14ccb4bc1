"""Bridge settings: one frozen dataclass built once in main() from the environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common.settings import ConfigError, from_env


def default_instance_id() -> str:
    """Return `host-pid`, unique per running bridge process."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class BridgeSettings:
    """Everything the bridge reads from the environment (explicit argument > env > default)."""

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic: str = "transactions"
    kafka_dlq_topic: str = "transactions.dlq"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_key_prefix: str = "fraud:"
    group_id: str = field(default="fraud-bridge", metadata={"env": "BRIDGE_GROUP_ID"})
    batch_max: int = field(default=20_000, metadata={"env": "BRIDGE_BATCH_MAX"})
    poll_timeout_ms: int = field(default=100, metadata={"env": "BRIDGE_POLL_TIMEOUT_MS"})
    instance_id: str = field(default="", metadata={"env": "BRIDGE_INSTANCE_ID"})
    metrics_port: int = field(default=0, metadata={"env": "BRIDGE_METRICS_PORT"})
    card_state_ttl_s: int = field(default=7 * 24 * 3600, metadata={"env": "CARD_STATE_TTL_S"})
    state_cache_max: int = field(default=20_000, metadata={"env": "BRIDGE_STATE_CACHE_MAX"})
    max_record_bytes: int = field(default=65_536, metadata={"env": "BRIDGE_MAX_RECORD_BYTES"})
    rules_poll_s: float = field(default=0.5, metadata={"env": "BRIDGE_RULES_POLL_S"})
    heartbeat_s: float = field(default=1.0, metadata={"env": "BRIDGE_HEARTBEAT_S"})
    kafka_commit_interval_s: float = field(default=1.0, metadata={"env": "BRIDGE_KAFKA_COMMIT_INTERVAL_S"})
    backoff_max_s: float = field(default=5.0, metadata={"env": "BRIDGE_BACKOFF_MAX_S"})
    group_stall_s: float = field(default=60.0, metadata={"env": "BRIDGE_GROUP_STALL_S"})
    # auto: the native per-record path when fraud_native is built, else Python; native: required
    engine: str = field(default="auto", metadata={"env": "BRIDGE_ENGINE"})
    # resolved alerts whose event is older than this leave Redis (bridge/retention.py); open ones stay
    alert_retention_days: float = 30.0

    def __post_init__(self) -> None:
        if not self.instance_id:
            object.__setattr__(self, "instance_id", default_instance_id())
        if self.batch_max < 1 or self.poll_timeout_ms < 0 or self.card_state_ttl_s < 1:
            raise ConfigError(
                "BRIDGE_BATCH_MAX, BRIDGE_POLL_TIMEOUT_MS and CARD_STATE_TTL_S must be positive"
            )
        if self.state_cache_max < 0 or self.max_record_bytes < 1 or not 0 < self.rules_poll_s <= 1.0:
            raise ConfigError(
                "bad BRIDGE_STATE_CACHE_MAX / BRIDGE_MAX_RECORD_BYTES / BRIDGE_RULES_POLL_S (0..1]"
            )
        if self.engine not in ("auto", "native", "python"):
            raise ConfigError("BRIDGE_ENGINE must be auto, native or python")
        if not self.alert_retention_days > 0:
            raise ConfigError("ALERT_RETENTION_DAYS must be positive")
        if self.metrics_port < 0 or self.heartbeat_s <= 0 or self.backoff_max_s <= 0:
            raise ConfigError("bad BRIDGE_METRICS_PORT / BRIDGE_HEARTBEAT_S / BRIDGE_BACKOFF_MAX_S")


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> BridgeSettings:
    """Build settings from `env` (default: the process environment); overrides win (None = not given)."""
    return from_env(BridgeSettings, env, **overrides)
