"""`dashapp_model_precision` / `dashapp_model_recall`: each registered model's newest check by labels
per threshold, read from Redis at scrape (model/performance.py), so Prometheus charts a model's
precision over time (at the alert threshold: `threshold="0.8"`)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from common.keys import RedisKeys
from model.performance import PerformanceChecks
from model.registry import ModelRegistry

logger = logging.getLogger(__name__)


class ModelChecksCollector(Collector):
    """One sample per registered version with a check; a figure the check could not give is left out."""

    def __init__(self, redis_client: redis.Redis, keys: RedisKeys) -> None:
        self._registry = ModelRegistry(redis_client, keys)
        self._checks = PerformanceChecks(redis_client, keys)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["version", "state", "threshold"]
        families = {
            "precision": GaugeMetricFamily(
                "dashapp_model_precision",
                "Precision at the alert threshold of the model's newest check by labels",
                labels=labels,
            ),
            "recall": GaugeMetricFamily(
                "dashapp_model_recall",
                "Recall at the alert threshold of the model's newest check by labels",
                labels=labels,
            ),
        }
        try:
            entries, checks = self._registry.entries(), self._checks.all()
        except redis.RedisError as exc:  # a scrape without the gauges beats a failed scrape
            logger.warning("dashapp.metrics: cannot read the model checks error=%s", exc)
            return
        for version, entry in sorted(entries.items()):
            newest: dict[str, dict[str, Any]] = {}  # threshold -> its newest check (the list: newest first)
            for check in checks.get(version, []):
                newest.setdefault(str(check.get("threshold", "")), check)
            for threshold, check in sorted(newest.items()):
                for name, family in families.items():
                    value = check.get(name)
                    if isinstance(value, (int, float)):
                        family.add_metric([version, entry.state, threshold], float(value))
        yield from families.values()
