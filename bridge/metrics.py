"""Prometheus metrics of one bridge, on its own registry (several bridges may share a process)."""

from __future__ import annotations

from collections import Counter as Occurrences
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from bridge.batch_types import Outcome

_LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class BridgeMetrics:
    """Counters are incremented once per batch with aggregated values, never per event."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry if registry is not None else CollectorRegistry()
        self.events = Counter("bridge_events", "Records applied to Redis", ["outcome"], registry=r)
        self.alerts = Counter("bridge_alerts", "Alerts raised, by rule that fired", ["rule"], registry=r)
        self.dlq = Counter("bridge_dlq", "Records sent to the dead-letter topic", ["reason"], registry=r)
        self.batch_seconds = Histogram(
            "bridge_batch_seconds", "Poll-to-commit time of one batch", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.batch_size = Histogram(
            "bridge_batch_records",
            "Records per committed batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000),
            registry=r,
        )
        self.e2e_seconds = Histogram(
            "bridge_e2e_latency_seconds",
            "Record timestamp to Redis commit (sampled)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "bridge_partition_lag", "Records behind the partition end", ["partition"], registry=r
        )
        self.fenced = Counter("bridge_fenced_batches", "Batches discarded by the offset fence", registry=r)
        self.retries = Counter(
            "bridge_infra_retries", "Batches retried after an infrastructure error", ["kind"], registry=r
        )
        self.rules_version = Gauge("bridge_rules_version", "Version of the rules in use", registry=r)
        self.model_age = Gauge(
            "bridge_model_age_seconds",
            "Seconds since the loaded champion model was trained (NaN: none)",
            registry=r,
        )
        self.model_refused = Gauge(
            "bridge_model_refused",
            "1 while the registry's champion model is refused (see the log)",
            registry=r,
        )
        self.model_scores = Counter(
            "bridge_model_scores",
            "Events scored by the champion model, by score band (the score distribution)",
            ["band"],
            registry=r,
        )
        self.model_scoring = Gauge(
            "bridge_model_scoring",
            "1 while the champion scores every event; 0 without one, while warming up, or at the bound",
            registry=r,
        )
        self.model_history = Gauge(
            "bridge_model_history_entries", "Entries in the model's feature history", registry=r
        )
        self.model_psi = Gauge(
            "bridge_model_psi",
            "Population stability index of the live stream against the champion's training range, "
            "per feature and of the score (`score`), over windows of 100,000 scored events",
            ["column"],
            registry=r,
        )
        self.model_age.set(float("nan"))

    def observe_model(self, age_s: float | None, refused: bool) -> None:
        """The champion model's age and whether the current champion was refused (each heartbeat)."""
        self.model_age.set(float("nan") if age_s is None else age_s)
        self.model_refused.set(1 if refused else 0)

    def observe_scores(self, scores: npt.NDArray[np.float64]) -> None:
        """One scored batch: how many events fell in each tenth of [0, 1] (a few calls per batch)."""
        bands = np.bincount(np.minimum((scores * 10).astype(np.int64), 9), minlength=10)  # int(): truncates
        for band, n in enumerate(bands.tolist()):
            if n:
                self.model_scores.labels(f"{band / 10:.1f}-{(band + 1) / 10:.1f}").inc(n)

    def observe_serving(self, scoring: bool, entries: int, psi: Mapping[str, float] | None) -> None:
        """Whether the champion scores, its feature history's size and live drift (each heartbeat)."""
        self.model_scoring.set(1 if scoring else 0)
        self.model_history.set(entries)
        self.model_psi.clear()  # another champion, or none yet: no stale column stays
        for column, value in (psi or {}).items():
            self.model_psi.labels(column).set(value)

    def serve(self, port: int) -> None:
        """Expose /metrics on `port` (0 = disabled)."""
        if port:
            start_http_server(port, registry=self.registry)

    def observe_batch(self, batch: Outcome, records: int, seconds: float, latencies_ms: list[float]) -> None:
        """Count one committed batch (aggregated: a few calls per batch, none per event)."""
        self.batch_seconds.observe(seconds)
        self.batch_size.observe(records)
        self.events.labels("valid").inc(batch.scored)
        if batch.dead:
            self.events.labels("dlq").inc(len(batch.dead))
            for reason, n in Occurrences(d.reason_class for d in batch.dead).items():
                self.dlq.labels(reason).inc(n)
        rules = Occurrences(r.rule for x in batch.alerted if x.alert is not None for r in x.alert.reasons)
        for rule, n in rules.items():
            self.alerts.labels(rule).inc(n)
        for ms in latencies_ms:
            self.e2e_seconds.observe(ms / 1000)
