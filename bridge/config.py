"""Bridge settings: one frozen dataclass built once in main() from the environment."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.settings import ConfigError, KafkaSettings, RedisSettings, from_env, setting


def default_instance_id() -> str:
    """Return `host-pid`, unique per running bridge process."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class BridgeSettings(KafkaSettings, RedisSettings):
    """Everything the bridge reads from the environment (explicit argument > env > default)."""

    kafka_dlq_topic: str = setting("transactions.dlq", "dead-letter topic")
    kafka_alerts_topic: str = setting(
        "alerts",
        "every alert, published and acknowledged before its batch commits to Redis (key card id, "
        "headers `alert_id`, `severity`; docs/reliability.md); must exist",
    )
    group_id: str = setting(
        "fraud-bridge", "consumer group (start more bridges to scale out)", env="BRIDGE_GROUP_ID"
    )
    batch_max: int = setting(
        20_000,
        "records per batch at most (one atomic Redis transaction; a batch writes its newest 2,000 "
        "rows to `txns`). Batches are this big only while catching up",
        env="BRIDGE_BATCH_MAX",
    )
    poll_timeout_ms: int = setting(100, "Kafka poll timeout", env="BRIDGE_POLL_TIMEOUT_MS")
    instance_id: str = setting("", "heartbeat name", env="BRIDGE_INSTANCE_ID", shown="host-pid")
    metrics_port: int = setting(
        0,
        "Prometheus `/metrics` port (0 = off; `make run`: 9108; `--metrics-port` overrides)",
        env="BRIDGE_METRICS_PORT",
    )
    card_state_ttl_s: int = setting(
        7 * 24 * 3600, "TTL of per-card detection state in Redis", env="CARD_STATE_TTL_S"
    )
    state_cache_max: int = setting(20_000, "in-process LRU of card states", env="BRIDGE_STATE_CACHE_MAX")
    max_record_bytes: int = setting(
        65_536, "larger records go to the DLQ as `too_large`", env="BRIDGE_MAX_RECORD_BYTES"
    )
    rules_poll_s: float = setting(
        0.5, "how often live rules and lists are checked (<= 1 s)", env="BRIDGE_RULES_POLL_S"
    )
    heartbeat_s: float = setting(1.0, "heartbeat / lag / latency publishing period", env="BRIDGE_HEARTBEAT_S")
    kafka_commit_interval_s: float = setting(
        1.0,
        "Kafka offset commits for lag tools (0 = every batch)",
        env="BRIDGE_KAFKA_COMMIT_INTERVAL_S",
    )
    backoff_max_s: float = setting(
        5.0, "cap of the retry backoff when Kafka/Redis are down", env="BRIDGE_BACKOFF_MAX_S"
    )
    group_stall_s: float = setting(
        60.0, "replace a consumer whose group join stalls this long", env="BRIDGE_GROUP_STALL_S"
    )
    engine: str = setting(
        "auto",
        "`auto`: the native engine when built (`make setup` builds it), else Python with a "
        "warning; `native`: required; `python`: the reference engine only",
        env="BRIDGE_ENGINE",
    )
    alert_retention_days: float = setting(
        30.0,
        "resolved alerts older than this (by event time) leave Redis with their history and index "
        "entries; open alerts are never dropped, only counted (`GET /api/alerts/retention`)",
    )
    model_max_events: int = setting(
        3_000_000,
        "bound of the champion model's feature history in entries (about 3 per transaction of the "
        "last 37 days, ~140 bytes each measured); at the bound the model stops scoring and says so "
        '(docs/model.md "Serving"); 0 = never score',
        env="BRIDGE_MODEL_MAX_EVENTS",
    )
    model_warmup: bool = setting(
        True,
        "when a champion first loads, rebuild its feature history from the topic's last 37 days "
        "before scoring (`0`: from live events only, cards look new for a month)",
        env="BRIDGE_MODEL_WARMUP",
    )
    model_tail: bool = setting(
        True,
        "with several bridges, each also reads the partitions the others consume (on a thread of its "
        "own) so the champion's merchant windows count the whole topic, as training does, and a "
        "partition gained in a rebalance needs no rebuild (`0`: own partitions only; docs/model.md)",
        env="BRIDGE_MODEL_TAIL",
    )
    model_features: str = setting(
        "auto",
        "the champion's feature state and id maps: `auto` the native ones when built (`make setup` builds "
        "them), else Python; `python`: the references only (the same features, byte for byte, slower)",
        env="BRIDGE_MODEL_FEATURES",
    )
    model_trees: str = setting(
        "auto",
        "how the champion's and shadows' trees are scored: `auto` natively when the extension takes the "
        "model and agrees with LightGBM on probe rows (model/native_trees.py), else LightGBM; `lightgbm`: "
        "always LightGBM's predict (the same scores, slower)",
        env="BRIDGE_MODEL_TREES",
    )
    kafka_labels_topic: str = setting(
        "labels",
        "the topic of fraud / legitimate labels: analysts' resolutions, chargebacks (docs/labels.md)",
    )

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
        if not self.kafka_alerts_topic:
            raise ConfigError("KAFKA_ALERTS_TOPIC must name a topic (alerts are always published)")
        if self.engine not in ("auto", "native", "python"):
            raise ConfigError("BRIDGE_ENGINE must be auto, native or python")
        if self.model_features not in ("auto", "python"):
            raise ConfigError("BRIDGE_MODEL_FEATURES must be auto or python")
        if self.model_trees not in ("auto", "lightgbm"):
            raise ConfigError("BRIDGE_MODEL_TREES must be auto or lightgbm")
        if self.model_max_events < 0:
            raise ConfigError("BRIDGE_MODEL_MAX_EVENTS must be 0 (off) or positive")
        if not self.alert_retention_days > 0:
            raise ConfigError("ALERT_RETENTION_DAYS must be positive")
        if self.metrics_port < 0 or self.heartbeat_s <= 0 or self.backoff_max_s <= 0:
            raise ConfigError("bad BRIDGE_METRICS_PORT / BRIDGE_HEARTBEAT_S / BRIDGE_BACKOFF_MAX_S")


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> BridgeSettings:
    """Build settings from `env` (default: the process environment); overrides win (None = not given)."""
    return from_env(BridgeSettings, env, **overrides)
