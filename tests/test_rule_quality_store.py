"""Rule quality on real Redis: alerts planted and resolved at known times give exact counts per window."""

from __future__ import annotations

import pytest

from dashapp.store import AlertWorkflow
from dashapp.store.rule_quality import RuleQuality, RuleQualityReader, backfill
from tests.test_store_fixtures import make_alert, put_alert

pytestmark = pytest.mark.integration

NOW = 1_790_000_000_000
H, D = 3_600_000, 86_400_000


class Clock:
    def __init__(self) -> None:
        self.ms = NOW

    def __call__(self) -> float:
        return self.ms / 1000


def _resolve(workflow: AlertWorkflow, clock: Clock, aid: str, action: str, at_ms: int) -> None:
    clock.ms = at_ms
    row = workflow.get(aid)
    workflow.act(aid, action, "ann", row.version)


@pytest.fixture
def planted(redis_client, keys):
    clock = Clock()
    wf = AlertWorkflow(redis_client, keys, clock=clock)

    def plant(n: int, raised: int, rules: tuple[str, ...]) -> str:
        return put_alert(redis_client, keys, make_alert(n, event_ms=raised, rules=rules))

    a = ("rule_a",)
    _resolve(wf, clock, plant(1, NOW - 2 * H, a), "resolve_fraud", NOW - H)  # 24 h and 7 d
    _resolve(wf, clock, plant(2, NOW - 3 * D, a), "resolve_false_positive", NOW - 2 * H)  # resolved in 24 h
    plant(3, NOW - H, a)  # open in both windows
    _resolve(wf, clock, plant(4, NOW - 6 * D, a), "resolve_fraud", NOW - 5 * D)  # 7 d only
    _resolve(wf, clock, plant(5, NOW - 10 * D, a), "resolve_false_positive", NOW - 8 * D - H)  # neither
    both = plant(6, NOW - 2 * H, ("rule_a", "rule_b", "rule_a"))  # resolved, then reopened: open again
    _resolve(wf, clock, both, "resolve_fraud", NOW - 30 * 60_000)
    _resolve(wf, clock, both, "reopen", NOW - 20 * 60_000)
    _resolve(wf, clock, plant(7, NOW - H, ("rule_b",)), "resolve_fraud", NOW - 10 * 60_000)
    _resolve(wf, clock, plant(8, NOW - 7 * D - H, ("rule_b",)), "resolve_false_positive", NOW - D + H)
    return RuleQualityReader(redis_client, keys)


EXPECTED = [
    #           rule      window raised fraud fp open
    RuleQuality("rule_a", "24h", 3, 1, 1, 2),
    RuleQuality("rule_a", "7d", 5, 2, 1, 2),
    RuleQuality("rule_b", "24h", 2, 1, 1, 1),
    RuleQuality("rule_b", "7d", 2, 1, 1, 1),
    RuleQuality("never_fired", "24h", 0, 0, 0, 0),
    RuleQuality("never_fired", "7d", 0, 0, 0, 0),
]


def test_counts_per_rule_and_window_are_exact(planted) -> None:
    got = planted.quality(["rule_a", "rule_b", "never_fired"], NOW)
    assert got == EXPECTED
    a7 = got[1].to_dict()
    assert (a7["resolved"], a7["precision"]) == (3, pytest.approx(2 / 3))
    assert got[4].precision is None and got[4].to_dict()["precision"] is None


def test_backfill_rebuilds_the_same_counts_from_the_resolved_alerts(planted, redis_client, keys) -> None:
    for key in redis_client.scan_iter(match=f"{keys.prefix}quality:*"):
        redis_client.delete(key)
    assert planted.quality(["rule_a"], NOW)[1].fraud == 0
    assert backfill(redis_client, keys) == 6  # the resolved alerts kept: 1, 2, 4, 5, 7 and 8
    assert planted.quality(["rule_a", "rule_b", "never_fired"], NOW) == EXPECTED
