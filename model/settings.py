"""Settings of `python -m model train` and `registry`: frozen dataclasses built once in main()."""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import KafkaSettings, RedisSettings, setting


@dataclass(frozen=True)
class ModelSettings(KafkaSettings):
    """What `python -m model train` reads from the environment."""

    kafka_labels_topic: str = setting(
        "labels",
        "the topic of fraud / legitimate labels: analysts' resolutions, chargebacks (docs/labels.md)",
    )


@dataclass(frozen=True)
class RegistrySettings(RedisSettings):
    """What `python -m model registry` reads from the environment: the Redis the bridges read."""


@dataclass(frozen=True)
class RetrainSettings(ModelSettings, RedisSettings):
    """What `python -m model retrain` reads: the topics it trains on and the registry it fills."""
