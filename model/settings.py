"""Settings of `python -m model train`: one frozen dataclass built once in main() from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from common.settings import KafkaSettings, setting


@dataclass(frozen=True)
class ModelSettings(KafkaSettings):
    """What `python -m model train` reads from the environment."""

    kafka_labels_topic: str = setting(
        "labels",
        "the topic of fraud / legitimate labels: analysts' resolutions, chargebacks (docs/labels.md)",
    )
