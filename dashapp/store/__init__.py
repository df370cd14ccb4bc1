"""Dashboard data layer: plain classes over an injected Redis client (no Dash, no Flask).

Public API (stable; return values are frozen dataclasses, NamedTuple buckets or JSON-ready dicts)::

    reader = DashboardReader(redis, keys, kpi_window_s=10, settle_s=2)
    reader.seq() -> int                                     # one GET; unchanged -> no_update
    reader.kpis(now_ms) -> Kpis                             # one pipelined round trip
    reader.txns_since(cursor, limit=200, tail=False) -> (list[TxnRow], cursor)
    reader.alerts_since(cursor, limit=100, tail=False) -> (list[Alert], cursor)
    reader.throughput(window_s, now_ms) -> list[SecondBucket]       # window <= 3600
    reader.throughput_since(last_second, now_ms) -> list[SecondBucket]
    reader.last_complete_second(now_ms) -> int
    reader.rule_counts() -> dict[str, int]
    reader.cities(limit=None) -> list[CityAgg]
    reader.alert_rows(limit=200, status=None) -> list[AlertRow]     # newest first
    reader.banner(limit=5) -> Banner
    reader.health(now_ms) -> Health
    reader.quality() -> Quality
    reader.stats(now_ms) -> dict                            # body of GET /api/stats

    workflow = AlertWorkflow(redis, keys)
    workflow.act(alert_id, action, user, expected_version, note="") -> AlertRow
    workflow.get(alert_id) -> AlertRow
    workflow.history(alert_id) -> list[dict]                # oldest first
    # actions: ACTIONS; raises AlertNotFound, InvalidAction, VersionConflict(.current, .changed_by)

    rules = RulesStore(redis, keys)
    rules.current() -> RulesDoc; rules.update(changes, user, expected_version) -> RulesDoc
    rules.audit(limit=50) -> list[dict]                     # newest first

    throttle = LoginThrottle(redis, keys, max_failures=5, window_s=300)
    throttle.check(who) -> int seconds to wait (0 = go); throttle.failure(who); throttle.success(who)

Cursors are stream entry ids (str); pass None first, then the returned cursor (an invalid one
counts as None; `tail=True` skips a backlog larger than `limit`). Times are epoch ms; per-second
buckets are record-time seconds, and the newest `settle_s` seconds are left out because late
writes may still change them. Readers never raise because of stored data (missing -> zero/empty,
garbage -> logged and skipped); Redis connection errors propagate. RulesStore.current() raises
RuleValidationError for a corrupt stored document rather than hide it.
"""

from dashapp.store.alert_rows import STATUSES, AlertRow, Banner
from dashapp.store.errors import AlertNotFound, InvalidAction, StoreError, VersionConflict
from dashapp.store.models import (
    BridgeInfo,
    CityAgg,
    Health,
    Kpis,
    Quality,
    RuleQuality,
    ScenarioQuality,
    SecondBucket,
    Totals,
    TxnRow,
)
from dashapp.store.reader import DashboardReader
from dashapp.store.rules_store import RulesStore
from dashapp.store.throttle import LoginThrottle
from dashapp.store.workflow import ACTIONS, MAX_NOTE_CHARS, AlertWorkflow

__all__ = [
    "ACTIONS",
    "MAX_NOTE_CHARS",
    "STATUSES",
    "AlertNotFound",
    "AlertRow",
    "AlertWorkflow",
    "Banner",
    "BridgeInfo",
    "CityAgg",
    "DashboardReader",
    "Health",
    "InvalidAction",
    "Kpis",
    "LoginThrottle",
    "Quality",
    "RuleQuality",
    "RulesStore",
    "ScenarioQuality",
    "SecondBucket",
    "StoreError",
    "Totals",
    "TxnRow",
    "VersionConflict",
]
