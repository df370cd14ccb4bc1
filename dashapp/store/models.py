"""Plain frozen result types of the dashboard data layer (no Redis, no Dash)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from dashapp.store.events_health import EventsHealth

FRESH_S = 5.0  # last bridge write younger than this: "fresh"
STALE_S = 30.0  # younger than this: "stale"; older or never: "dead"


@dataclass(frozen=True)
class Totals:
    """Running totals since the pipeline started."""

    txns: int = 0
    alerts: int = 0
    amount: float = 0.0
    dlq: int = 0


@dataclass(frozen=True)
class Kpis:
    """Headline numbers for the KPI cards; rates are over the last `window_s` complete seconds."""

    window_s: int
    txns_per_s: float
    alerts_per_min: float
    amount_per_min: float
    fraud_rate: float  # alerts / txns in the window, 0.0 without traffic
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    total_lag: int
    bridges_alive: int
    last_write_ms: int | None
    totals: Totals


@dataclass(frozen=True)
class TxnRow:
    """One entry of the recent-transactions stream (schema v1 names + detection outcome)."""

    txn_id: str
    ts: str
    amount: float
    card_id: str = ""
    account_id: str = ""
    currency: str = ""
    merchant_id: str = ""
    merchant_category: str = ""
    city: str = ""
    country: str | None = None
    lat: float | None = None
    lon: float | None = None
    channel: str = ""
    alert: bool = False
    score: float = 0.0
    severity: str | None = None
    rt: int | None = None  # record time (ms)
    entry_id: str = ""  # stream entry id, filled in by the reader


class SecondBucket(NamedTuple):
    """Counters of one record-time second (a NamedTuple: an hour of them is built per chart)."""

    second: int
    txns: int
    alerts: int
    amount: float


@dataclass(frozen=True)
class CityAgg:
    """Transactions and alerts of one city, with its last seen coordinates."""

    city: str
    country: str | None
    lat: float | None
    lon: float | None
    txns: int
    alerts: int


@dataclass(frozen=True)
class BridgeInfo:
    """Heartbeat of one bridge instance."""

    instance: str
    alive: bool
    age_s: float
    processed: int
    partitions: tuple[int, ...]
    pid: int | None
    host: str
    engine: str = ""  # which engine decides, e.g. "native engine off: rule X uses ... — Python decides"
    model: str = ""  # the champion model it holds, or why it refused one (bridge/model_watch.py)


@dataclass(frozen=True)
class Health:
    """Pipeline health for the status page."""

    bridges: tuple[BridgeInfo, ...]
    bridges_alive: int
    lag: dict[str, int]  # partition -> records behind, sorted by partition
    total_lag: int
    dlq_total: int
    dlq_reasons: dict[str, int]
    dlq_samples: tuple[str, ...]  # newest first, one line each, bounded length
    last_write_ms: int | None
    last_write_age_s: float | None
    freshness: str  # "fresh" | "stale" | "dead"
    events: EventsHealth = field(default_factory=EventsHealth)  # the alert-events outbox and webhooks

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def freshness(age_s: float | None) -> str:
    """Classify the age of the last bridge write."""
    if age_s is None or age_s >= STALE_S:
        return "dead"
    return "fresh" if age_s < FRESH_S else "stale"


@dataclass(frozen=True)
class RuleQuality:
    """Ground-truth precision of one rule."""

    rule: str
    tp: int
    fp: int
    precision: float | None  # None when the rule never fired


@dataclass(frozen=True)
class ScenarioQuality:
    """Ground-truth recall of one producer scenario, over its finished instances only.

    An instance is finished once its last event was processed; until then it is in progress and
    neither caught nor missed (its decisive event may not have been sent yet).
    """

    scenario: str
    events: int
    alerted_events: int
    caught: int  # finished instances with at least one alert
    missed: int  # finished instances without any alert
    in_progress: int  # instances seen whose last event is still to come
    recall: float | None  # caught / (caught + missed); None before any finished (e.g. "normal")


@dataclass(frozen=True)
class Quality:
    """Detection quality against the producer's labels; empty when no ground truth was seen."""

    rules: tuple[RuleQuality, ...] = ()
    scenarios: tuple[ScenarioQuality, ...] = field(default=())

    @property
    def empty(self) -> bool:
        """True when there is no ground truth to show."""
        return not self.rules and not self.scenarios

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def ratio(part: int, whole: int) -> float | None:
    """Return part / whole, or None when whole is 0."""
    return part / whole if whole else None
