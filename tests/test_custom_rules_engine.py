"""Custom rules, lists and suppressions through the Detector: hits, explanations, state and scores."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bridge.detection import CardState, Decision, Detector, HistoryState, encode_state
from bridge.detection.geo import haversine_km
from bridge.detection.history import crc
from common.rulelang import parse_document, to_document
from common.rulelang.lists import ListSnapshot
from common.rules import RulesConfig, default_rules
from common.schema import Transaction
from tests.test_detection_rules import CITIES, T0, ev

DAY_S = 86_400
ISSUE_RULE = {
    "id": "online_electronics_many_countries",
    "name": "Online electronics, many countries",
    "score": 0.8,
    "when": {
        "all": [
            {"field": "channel", "op": "eq", "value": "online"},
            {"field": "merchant_category", "op": "in", "value": ["electronics", "digital_goods"]},
            {"field": "amount_usd", "op": "gt", "value": 1500},
            {"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 3, "as": "countries"},
        ]
    },
    "explain": "online {merchant_category} {amount}; {countries} countries in 24 h (limit 3)",
}
DENY_RULE = {
    "id": "deny_merchant",
    "score": 0.9,
    "when": {"field": "merchant_id", "op": "in_list", "list": "bad_merchants", "as": "merchant"},
    "explain": "merchant {merchant_id} is on the deny list",
}


def rules(*custom: dict[str, Any], suppressions: tuple[dict[str, Any], ...] = ()) -> RulesConfig:
    """The default document with these custom rules and suppressions added (validated)."""
    doc = to_document(default_rules())
    doc["rules"] = [*doc["rules"], *custom]
    doc["suppressions"] = list(suppressions)
    return parse_document(doc)


def run(
    events: list[Transaction], cfg: RulesConfig, lists: ListSnapshot | None = None
) -> tuple[list[Decision], CardState | None]:
    detector, state, out = Detector(cfg, lists=lists), None, []
    for event in events:
        decision, state = detector.evaluate(event, state)
        out.append(decision)
    return out, state


def shop(s: float, city: str, amount: float = 40.0, **kw: Any) -> Transaction:
    return ev(s, amount, city=city, channel="online", merchant_category="electronics", **kw)


def test_the_issues_example_rule_fires_with_its_explanation() -> None:
    # London, Paris, New York within 24 h (far apart in time, so impossible travel stays quiet)
    events = [shop(0, "London"), shop(10 * 3600, "Paris"), shop(20 * 3600, "New York", 1890.0)]
    decisions, state = run(events, rules(ISSUE_RULE))
    assert [d.reasons for d in decisions[:2]] == [(), ()]
    (reason,) = decisions[2].reasons
    assert reason.rule == "online_electronics_many_countries"
    assert reason.text == "online electronics $1,890.00; 3 countries in 24 h (limit 3)"
    assert (reason.observed, reason.limit) == (3, 3)
    assert decisions[2].score == 0.8 and decisions[2].is_alert
    # the state is cs2 and keeps only what the rule reads: times and countries
    assert isinstance(state, HistoryState)
    assert state.hist_country == [crc("GB"), crc("FR"), crc("US")]
    assert state.hist_amt == state.hist_merchant == state.hist_city == []
    assert encode_state(state).startswith(b'["cs2",')


def test_the_example_rule_stays_quiet_when_the_countries_spread_over_more_than_a_day() -> None:
    events = [shop(0, "London"), shop(DAY_S, "Paris"), shop(DAY_S + 10 * 3600, "New York", 1890.0)]
    decisions, _ = run(events, rules(ISSUE_RULE))
    assert not decisions[2].reasons  # London fell out of the 24 h window: 2 countries


def test_a_custom_hit_is_evidence_combined_with_the_built_ins() -> None:
    events = [shop(0, "London"), shop(10 * 3600, "Paris"), shop(20 * 3600, "New York", 9000.0)]
    decisions, _ = run(events, rules(ISSUE_RULE))
    fired = {r.rule: r for r in decisions[2].reasons}
    assert set(fired) == {"high_amount", "online_electronics_many_countries"}
    alone, _ = run([ev(0, 9000.0)], default_rules())
    assert decisions[2].score == pytest.approx(1 - (1 - alone[0].score) * (1 - 0.8), abs=1e-6)


def test_a_deny_list_rule_fires_on_listed_merchants_until_the_entry_expires() -> None:
    expires = int((T0 + timedelta(hours=1)).timestamp() * 1000)
    lists = {"bad_merchants": {"M9": 0, "M7": expires}}
    cfg = rules(DENY_RULE)
    decisions, state = run([ev(0, merchant="M9"), ev(60, merchant="M1"), ev(120, merchant="M7")], cfg, lists)
    assert [[r.text for r in d.reasons] for d in decisions] == [
        ["merchant M9 is on the deny list"],
        [],
        ["merchant M7 is on the deny list"],
    ]
    assert decisions[0].reasons[0].limit == "bad_merchants"
    late, _ = run([ev(2 * 3600, merchant="M7")], cfg, lists)  # after its expiry, in event time
    assert not late[0].reasons
    assert type(state) is CardState  # a field/list rule needs no history: the state stays cs1


def test_with_lists_swaps_the_snapshot_and_keeps_the_rules() -> None:
    detector = Detector(rules(DENY_RULE))
    assert not detector.evaluate(ev(0, merchant="M9"), None)[0].reasons
    listed = detector.with_lists({"bad_merchants": {"M9": 0}})
    assert listed.rules is detector.rules
    assert listed.evaluate(ev(0, merchant="M9"), None)[0].reasons
    assert not detector.evaluate(ev(0, merchant="M9"), None)[0].reasons  # the original keeps its lists
    assert listed.with_rules(detector.rules).lists == {"bad_merchants": {"M9": 0}}


@pytest.mark.parametrize(
    ("rule_ids", "silenced"), [(["*"], True), (["high_amount"], True), (["velocity"], False)]
)
def test_a_suppression_silences_the_chosen_rules_for_listed_cards(
    rule_ids: list[str], silenced: bool
) -> None:
    cfg = rules(suppressions=({"list": "snoozed_cards", "field": "card_id", "rules": rule_ids},))
    decisions, _ = run([ev(0, 9000.0)], cfg, {"snoozed_cards": {"C1": 0}})
    assert (not decisions[0].reasons) is silenced
    other, _ = run([ev(0, 9000.0, card_id="C2")], cfg, {"snoozed_cards": {"C1": 0}})
    assert other[0].is_alert  # only the listed card is snoozed


def test_a_suppression_ends_at_its_expiry_in_event_time() -> None:
    cfg = rules(suppressions=({"list": "snoozed_cards", "field": "card_id", "rules": ["*"]},))
    week = int((T0 + timedelta(days=7)).timestamp() * 1000)
    lists = {"snoozed_cards": {"C1": week}}
    decisions, _ = run([ev(0, 9000.0), ev(7 * DAY_S - 1, 9000.0), ev(7 * DAY_S, 9000.0)], cfg, lists)
    assert [d.is_alert for d in decisions] == [False, False, True]


def test_a_suppressed_hit_still_updates_the_state_as_an_alert_would() -> None:
    cfg = rules(suppressions=({"list": "snoozed_cards", "field": "card_id", "rules": ["*"]},))
    events = [ev(0, 9000.0), ev(60)]
    _, snoozed = run(events, cfg, {"snoozed_cards": {"C1": 0}})
    _, plain = run(events, default_rules())
    assert snoozed == plain  # lists silence alerts; they never change what the card's state learns


def test_count_of_probes_with_a_where_filter() -> None:
    probe_rule = {
        "id": "probes_then_large",
        "score": 0.7,
        "when": {
            "all": [
                {"field": "amount_usd", "op": "ge", "value": 100},
                {
                    "agg": "count",
                    "window": "30m",
                    "where": {"field": "amount_usd", "op": "lt", "value": 2},
                    "op": "ge",
                    "value": 2,
                    "as": "probes",
                },
            ]
        },
        "explain": "{amount_usd} after {probes} probes in 30 min",
    }
    cfg = rules(probe_rule)
    events = [ev(0, 1.0, merchant="A"), ev(600, 1.5, merchant="A"), ev(900, 150.0)]
    decisions, state = run(events, cfg)
    texts = [r.text for r in decisions[2].reasons if r.rule == "probes_then_large"]
    assert texts == ["$150.00 after 2 probes in 30 min"]
    assert isinstance(state, HistoryState) and state.hist_amt == [1.0, 1.5, 150.0]
    spread, _ = run([ev(0, 1.0), ev(1200, 1.5), ev(3000, 150.0)], cfg)  # the first probe is 50 min back
    assert not any(r.rule == "probes_then_large" for r in spread[2].reasons)


def test_new_country_feature_remembers_the_cards_countries() -> None:
    rule = {
        "id": "new_country_online",
        "score": 0.3,
        "when": {
            "all": [
                {"feature": "new_country", "op": "eq", "value": True},
                {"field": "amount_usd", "op": "gt", "value": 100},
            ]
        },
        "explain": "first {amount} in {country}",
    }
    events = [ev(0, 40.0), ev(DAY_S, 400.0), ev(2 * DAY_S, 400.0, city="Paris")]
    decisions, state = run(events, rules(rule))
    assert [[r.text for r in d.reasons] for d in decisions] == [[], [], ["first $400.00 in FR"]]
    assert isinstance(state, HistoryState) and state.seen_countries == [crc("GB"), crc("FR")]
    assert state.hist_ms == []  # no aggregate: no ring


def test_a_disabled_custom_rule_changes_nothing() -> None:
    off = rules({**ISSUE_RULE, "enabled": False}, DENY_RULE | {"enabled": False})
    events = [shop(0, "London"), shop(10 * 3600, "Paris"), shop(20 * 3600, "New York", 1890.0, merchant="M9")]
    got, state = run(events, off, {"bad_merchants": {"M9": 0}})
    want, plain = run(events, default_rules())
    assert got == want and encode_state(state) == encode_state(plain)  # type: ignore[arg-type]


def test_derived_features_read_the_cards_previous_transactions() -> None:
    rule = {
        "id": "fast_hop",
        "score": 0.4,
        "when": {
            "all": [
                {"feature": "speed_kmh", "op": "gt", "value": 100, "as": "speed"},
                {"feature": "distance_km", "op": "ge", "value": 300, "as": "km"},
                {"feature": "since_prev_s", "op": "le", "value": 7200, "as": "gap"},
                {"feature": "amount_ratio", "op": "eq", "value": 1},  # < 5 learned amounts: reads 1
            ]
        },
        "explain": "{km} km at {speed} km/h, {gap} s after the last",
    }
    decisions, _ = run([ev(0), ev(3600, city="Paris")], rules(rule))
    (reason,) = decisions[1].reasons
    km = haversine_km(*CITIES["London"][:2], *CITIES["Paris"][:2])
    assert reason.text == f"{km:.2f} km at {km:.2f} km/h, 3,600.00 s after the last"
    assert reason.observed == pytest.approx(km)  # the first named leaf: speed over exactly 1 h
    slow, _ = run([ev(0), ev(4 * 3600, city="Paris")], rules(rule))  # 85 km/h, and 4 h apart
    assert not slow[1].reasons
