"""A card's state with custom rules: cs2 only while a rule needs history, and bounded."""

from __future__ import annotations

from bridge.detection import CardState, Detector, HistoryState, encode_state
from common.rules import default_rules
from tests.test_custom_rules_engine import ISSUE_RULE, rules, run, shop
from tests.test_detection_rules import CITIES, ev


def test_a_card_returns_to_cs1_once_no_rule_needs_its_history() -> None:
    _, state = run([shop(0, "London"), shop(60, "Paris")], rules(ISSUE_RULE))
    assert isinstance(state, HistoryState)
    _, nxt = Detector(default_rules()).evaluate(shop(120, "Paris"), state)
    assert type(nxt) is CardState
    assert encode_state(nxt).startswith(b'["cs1",')


def test_a_cards_state_stays_bounded_with_every_history_column_in_use() -> None:
    every = {
        "id": "every_column",
        "score": 0.1,
        "when": {
            "all": [
                {
                    "agg": "distinct",
                    "of": of,
                    "window": "7d",
                    "where": {
                        "all": [
                            {"field": "channel", "op": "ne", "value": "atm"},
                            {"field": "amount_usd", "op": "gt", "value": 0},
                        ]
                    },
                    "op": "ge",
                    "value": 32,
                }
                for of in ("merchant_id", "city", "country", "merchant_category")
            ]
            + [
                {"feature": f, "op": "eq", "value": True}
                for f in ("new_country", "new_merchant", "new_category")
            ]
        },
        "explain": "x",
    }
    names = list(CITIES)
    events = [
        ev(
            i * 0.7,
            [1.37, 1_234_567.89, 0.51][i % 3],
            city=names[i % 4],
            merchant=f"MERCHANT-{i:08d}",
            merchant_category=f"category{i % 40}",
            country=f"C{i % 40}",
        )
        for i in range(3_000)
    ]
    _, state = run(events, rules(every))
    assert isinstance(state, HistoryState)
    assert len(state.hist_ms) == len(state.hist_city) == len(state.hist_amt) == 32
    assert len(state.seen_countries) == len(state.seen_merchants) == len(state.seen_categories) == 16
    assert len(encode_state(state)) < 4_700  # measured 4,549: every column, the longest numbers
