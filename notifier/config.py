"""Notifier settings: one frozen dataclass built once in main() from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import ConfigError, KafkaSettings, RedisSettings, setting


@dataclass(frozen=True)
class NotifierSettings(KafkaSettings, RedisSettings):
    """Everything the notifier reads from the environment (explicit argument > env > default)."""

    kafka_alerts_topic: str = setting("alerts", "the alerts topic the notifier reads (the bridge writes it)")
    kafka_alert_events_topic: str = setting(
        "alert-events",
        "the workflow-events topic the notifier reads for `alert.resolved` (empty: alerts only)",
    )
    group_id: str = setting("fraud-notifier", "the notifier's consumer group", env="NOTIFIER_GROUP_ID")
    endpoints_file: str = setting(
        "",
        "YAML/JSON file of webhook endpoints for automation, merged with the dashboard's at start "
        "(see docs/webhooks.md)",
        env="NOTIFIER_ENDPOINTS_FILE",
    )
    endpoint_concurrency: int = setting(
        4,
        "concurrent deliveries per endpoint (each endpoint has its own senders)",
        env="NOTIFIER_ENDPOINT_CONCURRENCY",
    )
    timeout_s: float = setting(
        5.0, "timeout of one webhook request (connect, read, write)", env="NOTIFIER_TIMEOUT_S"
    )
    max_attempts: int = setting(
        10, "attempts of one delivery before it becomes a dead letter", env="NOTIFIER_MAX_ATTEMPTS"
    )
    backoff_base_s: float = setting(
        1.0, "first retry delay (doubles per attempt)", env="NOTIFIER_BACKOFF_BASE_S"
    )
    backoff_max_s: float = setting(60.0, "cap of the retry delay", env="NOTIFIER_BACKOFF_MAX_S")
    max_pending: int = setting(
        10_000,
        "records read but not yet fully delivered; beyond it the notifier pauses reading",
        env="NOTIFIER_MAX_PENDING",
    )
    refresh_s: float = setting(
        2.0, "how often endpoint changes in Redis are picked up", env="NOTIFIER_REFRESH_S"
    )
    commit_interval_s: float = setting(
        1.0,
        "how often the offsets of fully delivered records are committed",
        env="NOTIFIER_COMMIT_INTERVAL_S",
    )

    nice: int = setting(
        10,
        "CPU priority the notifier lowers itself by at start (os.nice, 0-19): deliveries are off the "
        "detection path, so on shared cores the bridge keeps the CPU while the notifier catches up",
        env="NOTIFIER_NICE",
    )
    heartbeat_file: str = setting(
        "",
        "file touched every loop turn (a container healthcheck reads its age; empty = none)",
        env="NOTIFIER_HEARTBEAT_FILE",
    )

    def __post_init__(self) -> None:
        if self.endpoint_concurrency < 1 or self.max_attempts < 1 or self.max_pending < 1:
            raise ConfigError(
                "NOTIFIER_ENDPOINT_CONCURRENCY, NOTIFIER_MAX_ATTEMPTS and NOTIFIER_MAX_PENDING must be >= 1"
            )
        if not 0 <= self.nice <= 19:
            raise ConfigError("NOTIFIER_NICE must be between 0 and 19")
        if self.timeout_s <= 0 or self.backoff_base_s <= 0 or self.backoff_max_s < self.backoff_base_s:
            raise ConfigError(
                "NOTIFIER_TIMEOUT_S, NOTIFIER_BACKOFF_BASE_S must be > 0, <= NOTIFIER_BACKOFF_MAX_S"
            )
