"""Custom rules the native engine evaluates itself: both engines give the same alerts, rows and states."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from bridge.detection import Detector
from common.rulelang.document import parse_custom
from common.rulelang.lists import ListSnapshot
from common.rulelang.model import Suppression
from common.rules import RulesConfig, default_rules
from producer import generate
from tests.native_gate import needs_native
from tests.test_native_path import CountingDetector, Paths, as_records, batches

pytestmark = needs_native()

T_MID = 1_767_225_600_000 + 12 * 86_400_000  # generated streams start 2026-01-01; expiry mid-stream


def rule(rule_id: str, when: dict[str, Any], score: float = 0.6) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": rule_id,
        "description": "",
        "enabled": True,
        "score": score,
        "when": when,
        "explain": "fired on {city}",
    }


# Ten custom rules without per-card history: fields, hour/weekday, derived features, lists,
# combinators (tests/test_native_history.py has the aggregate and new_* ones). Each fires on
# some events of the default mix, none on most.
CUSTOM = [
    rule(
        "online_electronics",
        {
            "all": [
                {"field": "channel", "op": "eq", "value": "online"},
                {"field": "merchant_category", "op": "in", "value": ["electronics", "digital_goods"]},
                {"field": "amount_usd", "op": "gt", "value": 300},
            ]
        },
    ),
    rule(
        "night_spend",
        {
            "all": [
                {"field": "hour", "op": "between", "value": [1, 3]},
                {"field": "amount", "op": "ge", "value": 250},
            ]
        },
    ),
    rule(
        "weekend_atm",
        {
            "all": [
                {"field": "weekday", "op": "in", "value": ["sat", "sun"]},
                {"field": "channel", "op": "eq", "value": "atm"},
                {"field": "amount_usd", "op": "ge", "value": 400},
            ]
        },
    ),
    rule(
        "far_and_quick",
        {
            "all": [
                {"feature": "distance_km", "op": "ge", "value": 300},
                {"feature": "since_prev_s", "op": "lt", "value": 6 * 3600},
            ]
        },
    ),
    rule("big_for_card", {"feature": "amount_ratio", "op": "ge", "value": 5}, score=0.3),
    rule("fast_hop", {"feature": "speed_kmh", "op": "gt", "value": 400}, score=0.3),
    rule("risky_merchant", {"field": "merchant_id", "op": "in_list", "list": "risky_merchants"}),
    rule(
        "unlisted_country_big",
        {
            "all": [
                {"field": "country", "op": "not_in_list", "list": "home_countries"},
                {"field": "amount_usd", "op": "gt", "value": 700},
            ]
        },
    ),
    rule(
        "not_home_region",
        {
            "all": [
                {"not": {"field": "country", "op": "in", "value": ["US", "GB", "DE", "FR", "IT", "ES"]}},
                {
                    "any": [
                        {"field": "city", "op": "starts_with", "value": "S"},
                        {"field": "currency", "op": "ne", "value": "USD"},
                    ]
                },
                {"field": "amount_usd", "op": "gt", "value": 900},
            ]
        },
    ),
    rule(
        "tiny_online",
        {
            "all": [
                {"field": "amount_usd", "op": "lt", "value": 1.5},
                {"field": "channel", "op": "ne", "value": "pos"},
            ]
        },
        score=0.2,
    ),
]
LISTS: ListSnapshot = {
    "risky_merchants": {"M00282": 0, "M00279": T_MID, "M00004": 1},  # never, mid-stream, long expired
    "home_countries": {"US": 0, "GB": 0, "DE": 0, "FR": 0, "IT": T_MID},
    "snoozed_cards": {"C0000003": 0},
}


def rules_with_custom(custom: list[dict[str, Any]] = CUSTOM, *, suppress: bool = True) -> RulesConfig:
    parsed = tuple(parse_custom(r, f"rules[{i}]") for i, r in enumerate(custom))
    sups = (Suppression(list_="snoozed_cards", field="card_id", rules=("*",)),) if suppress else ()
    return msgspec.structs.replace(default_rules(), custom=parsed, suppressions=sups)


def paths_for(rules: RulesConfig, lists: ListSnapshot, **kw: Any) -> Paths:
    paths = Paths(rules, **kw)
    assert paths.native.refusal is None, paths.native.refusal
    paths.py_detector = Detector(rules, lists=lists)
    paths.nat_detector = CountingDetector(rules, lists=lists)
    paths.native.set_lists(lists)
    return paths


@pytest.fixture(scope="module")
def stream() -> list[Any]:
    return as_records(generate(seed=11, count=20_000))


@pytest.mark.parametrize("packed", [False, True])
def test_custom_rules_match_the_python_path(stream: list[Any], packed: bool) -> None:
    paths = paths_for(rules_with_custom(), LISTS, packed=packed)
    alerted: set[str] = set()
    for k, batch in enumerate(batches(stream)):
        seen = paths.step(batch, f"batch {k}")  # asserts alerts, rows, states alike
        assert not isinstance(seen, str)
        alerted.update(r.rule for s in getattr(seen, "alerted", []) for r in s.alert.reasons)
    assert paths.scored == len(stream)
    # the custom rules really fired (so the native engine had to hand those events over) ...
    fired = {r["id"] for r in CUSTOM} & alerted
    assert len(fired) >= 6, fired
    # ... and it still decided the quiet majority itself
    assert paths.alerts <= paths.nat_detector.calls < len(stream) // 2


def test_lists_change_between_batches(stream: list[Any]) -> None:
    """A list edit reaches both engines before the next batch; expiry compares with event time."""
    rules = rules_with_custom([CUSTOM[6]], suppress=False)
    paths = paths_for(rules, {})
    groups = batches(stream[:8_000])
    for k, batch in enumerate(groups):
        if k == 3:
            paths.py_detector = Detector(rules, lists=LISTS)
            paths.nat_detector = CountingDetector(rules, lists=LISTS)
            paths.native.set_lists(LISTS)
        paths.step(batch, f"batch {k}")
    assert paths.alerts > 0


def test_lists_not_sent_send_the_listed_rule_to_python(stream: list[Any]) -> None:
    """Until the bridge sends lists the native engine cannot say `not_in_list` is false: Python decides."""
    listed = rule("unlisted_country", {"field": "country", "op": "not_in_list", "list": "home_countries"})
    rules = rules_with_custom([listed], suppress=False)
    paths = Paths(rules)
    paths.py_detector = Detector(rules, lists=LISTS)
    paths.nat_detector = CountingDetector(rules, lists=LISTS)
    for k, batch in enumerate(batches(stream[:3_000])):
        paths.step(batch, f"batch {k}")
    assert paths.nat_detector.calls == 3_000


def test_cs2_states_left_by_aggregate_rules_are_read_natively(stream: list[Any]) -> None:
    """After an aggregate rule is turned off, cards still hold cs2 states: the native engine reads
    them (never as fresh cards) and writes cs1 again, as Python does."""
    agg = rule("busy_hour", {"agg": "count", "window": "1h", "op": "ge", "value": 30})
    with_agg = rules_with_custom([agg, CUSTOM[0]], suppress=False)
    paths = paths_for(rules_with_custom([CUSTOM[0]], suppress=False), {})
    paths.set_rules(with_agg)
    assert paths.native.refusal is None
    groups = batches(stream[:9_000])
    for k, batch in enumerate(groups[:12]):
        paths.step(batch, f"batch {k}")
    cs2 = sum(raw.startswith(b'["cs2"') for raw in paths.redis.values())
    assert cs2 > 1_000
    paths.set_rules(rules_with_custom([CUSTOM[0]], suppress=False))
    assert paths.native.refusal is None
    paths.clear()  # both read the cs2 states from Redis
    paths.nat_detector.calls = 0
    for k, batch in enumerate(groups[12:]):
        paths.step(batch, f"after batch {k}")
    assert 0 < paths.nat_detector.calls < sum(map(len, groups[12:])) // 2
    assert sum(raw.startswith(b'["cs2"') for raw in paths.redis.values()) < cs2
