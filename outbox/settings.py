"""Outbox relay and rebuild settings: one frozen dataclass built once in main() from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import ConfigError, KafkaSettings, RedisSettings, setting


@dataclass(frozen=True)
class OutboxSettings(KafkaSettings, RedisSettings):
    """Everything the relay and the rebuild read from the environment (argument > env > default)."""

    kafka_alert_events_topic: str = setting(
        "alert-events", "the topic of workflow and configuration events (docs/events.md)"
    )
    kafka_alerts_topic: str = setting("alerts", "the alerts topic the rebuild replays first")
    kafka_labels_topic: str = setting(
        "labels",
        "the topic of fraud / legitimate labels: analysts' resolutions, chargebacks (docs/labels.md)",
    )
    labels: bool = setting(
        True, "the relay publishes a label for every resolution (fraud / false positive)", env="OUTBOX_LABELS"
    )
    batch: int = setting(500, "outbox entries the relay publishes per round trip", env="OUTBOX_RELAY_BATCH")
    poll_s: float = setting(
        0.2, "how long the relay waits for new outbox entries when it is empty", env="OUTBOX_RELAY_POLL_S"
    )
    backoff_max_s: float = setting(
        30.0, "cap of the relay's retry delay while Kafka is unreachable", env="OUTBOX_RELAY_BACKOFF_MAX_S"
    )
    backlog_warn: int = setting(
        100_000,
        "outbox length above which the relay logs a warning each retry (Kafka down for long)",
        env="OUTBOX_BACKLOG_WARN",
    )

    def __post_init__(self) -> None:
        if self.batch < 1 or self.poll_s <= 0 or self.backoff_max_s <= 0:
            raise ConfigError("OUTBOX_RELAY_BATCH must be >= 1 and the delays > 0")
