"""Aggregates and new_* features in the native engine: the same alerts, rows and cs2 states as Python.

Each batch runs through both paths (tests/test_native_path.py's Paths asserts every write equal,
card-state bytes included), over the default mix, a stream with late events, and hand-made cards
probing window edges, filters, caps and cs1 <-> cs2 switches.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from typing import Any

import msgspec
import pytest

from bridge.detection import decode_state
from bridge.detection.state import HIST_MAX, SEEN_MAX, HistoryState
from common.rules import RulesConfig
from producer import generate
from tests.native_gate import needs_native
from tests.test_native_path import T0, as_records, batches, canonical_ts, record
from tests.test_native_rules import CUSTOM, paths_for, rule, rules_with_custom

pytestmark = needs_native()

HOUR = 3_600_000
BUILT_INS = (
    "high_amount",
    "unknown_location",
    "velocity",
    "impossible_travel",
    "card_testing",
    "amount_anomaly",
)
LATE_BY = (1_000, 60_000, 25 * 60_000, 2 * HOUR, 30 * HOUR, 50 * HOUR)  # inside and past windows

# Aggregate and new_* rules of every kind; each fires on a few events of the default mix.
HISTORY = [
    rule("busy_hour", {"agg": "count", "window": "1h", "op": "ge", "value": 6, "as": "n"}),
    rule(
        "small_probes",
        {
            "agg": "count",
            "window": "30m",
            "where": {"field": "amount_usd", "op": "lt", "value": 2},
            "op": "ge",
            "value": 3,
        },
    ),
    rule("spend_hour", {"agg": "sum", "of": "amount_usd", "window": 3600, "op": "gt", "value": 2500}),
    rule(
        "dear_day",
        {
            "all": [
                {"agg": "avg", "of": "amount_usd", "window": "24h", "op": "ge", "value": 400},
                {"agg": "count", "window": "1d", "op": "ge", "value": 3},
            ]
        },
    ),
    rule(
        "top_online_abroad",
        {
            "agg": "max",
            "of": "amount_usd",
            "window": "24h",
            "where": {
                "all": [
                    {"field": "channel", "op": "eq", "value": "online"},
                    {"not": {"field": "country", "op": "in", "value": ["US", "GB", "DE", "FR"]}},
                ]
            },
            "op": "between",
            "value": [300, 5000],
        },
    ),
    rule("countries", {"agg": "distinct", "of": "country", "window": "24h", "op": "ge", "value": 3}),
    rule("merchants", {"agg": "distinct", "of": "merchant_id", "window": "10m", "op": "ge", "value": 4}),
    rule(
        "cities_week",
        {
            "agg": "distinct",
            "of": "city",
            "window": "7d",
            "where": {
                "any": [
                    {"field": "merchant_category", "op": "ne", "value": "grocery"},
                    {"field": "amount_usd", "op": "gt", "value": 50},
                ]
            },
            "op": "ge",
            "value": 4,
        },
    ),
    rule(
        "new_country_big",
        {
            "all": [
                {"feature": "new_country", "op": "eq", "value": True},
                {"field": "amount_usd", "op": "gt", "value": 500},
            ]
        },
    ),
    rule(
        "new_place_online",
        {
            "all": [
                {"field": "channel", "op": "eq", "value": "online"},
                {"feature": "new_category", "op": "ne", "value": False},
                {"not": {"feature": "new_merchant", "op": "eq", "value": False}},
                {"field": "amount_usd", "op": "gt", "value": 700},
            ]
        },
    ),
]


@pytest.fixture(scope="module")
def stream() -> list[Any]:
    return as_records(generate(seed=21, count=20_000))


def late(records: list[Any], seed: int, share: float) -> list[Any]:
    """The records with `share` of them moved back in event time (minutes to two days): late events."""
    rng = random.Random(seed)
    out = []
    for rec in records:
        r = rec
        body = json.loads(r.value)
        if rng.random() < share and isinstance(body.get("ts"), str):
            ms = int(_epoch_ms(body["ts"]) - rng.choice(LATE_BY))
            body["ts"] = canonical_ts(ms)
            value = json.dumps(body, separators=(",", ":")).encode()
            r = r._replace(value=value, serialized_value_size=len(value))
        out.append(r)
    return out


def _epoch_ms(ts: str) -> int:
    return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)


def run_all(paths: Any, records: list[Any], label: str) -> None:
    for k, batch in enumerate(batches(records)):
        paths.step(batch, f"{label} batch {k}")  # asserts alerts, rows, states (bytes) alike


def fired(paths: Any, records: list[Any]) -> set[str]:
    out: set[str] = set()
    for k, batch in enumerate(batches(records)):
        seen = paths.step(batch, f"batch {k}")
        out.update(r.rule for s in getattr(seen, "alerted", []) for r in s.alert.reasons)
    return out


@pytest.mark.parametrize("packed", [False, True])
def test_history_rules_match_the_python_path(stream: list[Any], packed: bool) -> None:
    paths = paths_for(rules_with_custom(HISTORY + CUSTOM[:4], suppress=False), {}, packed=packed)
    alerted = fired(paths, stream)
    assert paths.native.refusal is None
    assert paths.scored == len(stream)
    # the history rules really fired, so the native engine had to hand those events over ...
    assert len({r["id"] for r in HISTORY} & alerted) >= 6, alerted
    # ... and still decided most events itself, writing cs2 states byte for byte as Python
    assert paths.alerts <= paths.nat_detector.calls < len(stream) // 2
    states = [decode_state(raw) for raw in paths.redis.values()]
    assert sum(isinstance(s, HistoryState) for s in states) > len(states) // 2
    assert max(len(s.hist_ms) for s in states if isinstance(s, HistoryState)) > 16  # 7 d of history


def test_late_events_match_the_python_path(stream: list[Any]) -> None:
    records = late(stream[:12_000], seed=5, share=0.15)
    paths = paths_for(rules_with_custom(HISTORY, suppress=False), {})
    run_all(paths, records, "late")
    assert paths.nat_detector.calls < len(records) // 2


def card_events(card: str, steps: list[tuple[int, str, str]]) -> list[bytes]:
    """One card's events: (event-time offset ms from T0, amount, merchant)."""
    return [
        (
            f'{{"txn_id":"t-{i}-{card}","ts":"{canonical_ts(T0 + dt)}","card_id":"{card}","account_id":"A1",'
            f'"amount":{amount},"currency":"EUR","merchant_id":"{merchant}","merchant_category":"food",'
            f'"city":"Paris","country":"FR","lat":48.85,"lon":2.35,"channel":"pos"}}'
        ).encode()
        for i, (dt, amount, merchant) in enumerate(steps)
    ]


def test_window_edges_caps_and_filters_match() -> None:
    """Entries exactly at the window's start expire, the ring and seen values stay capped, a late
    event older than the ring reads itself alone, filtered counts include the event itself."""
    edge = [(0, "1.50", "M1"), (60_000, "1.50", "M2"), (119_999, "1.50", "M3"), (120_000, "1.50", "M4")]
    edge += [(120_000, "700", "M5"), (59_999, "1.00", "M6"), (-1, "1.00", "M7"), (180_000, "3", "M8")]
    burst = [(i * 1_000, "1.25" if i % 3 else "80", f"M{i % (SEEN_MAX + 3)}") for i in range(HIST_MAX + 12)]
    burst += [(-HOUR, "1.00", "M0"), (5_000, "1.00", "M99"), (HIST_MAX * 1_000 + 61_000, "2", "M1")]
    values = [v for c in range(6) for v in card_events(f"CE{c}", edge)]
    values += [v for c in range(6) for v in card_events(f"CB{c}", burst)]
    records = [record(v, offset=i, partition=i % 3, ts_ms=T0 + i) for i, v in enumerate(values)]
    rules = rules_with_custom(
        [
            rule("twice_a_minute", {"agg": "count", "window": 60, "op": "ge", "value": 3}),
            rule(
                "probes_minute",
                {
                    "agg": "count",
                    "window": "1m",
                    "where": {"field": "amount_usd", "op": "lt", "value": 1.5},
                    "op": "ge",
                    "value": 4,
                },
            ),
            rule(
                "merchants", {"agg": "distinct", "of": "merchant_id", "window": "2m", "op": "ge", "value": 20}
            ),
            rule("spent", {"agg": "sum", "of": "amount_usd", "window": "2m", "op": "ge", "value": 800}),
            rule(
                "fresh_merchant_big",
                {
                    "all": [
                        {"feature": "new_merchant", "op": "eq", "value": True},
                        {"field": "amount_usd", "op": "gt", "value": 100},
                    ]
                },
            ),
        ],
        suppress=False,
    )
    paths = paths_for(rules, {})
    for k, batch in enumerate(batches(records, sizes=(7, 30, 11))):
        paths.step(batch, f"edges batch {k}")
    assert paths.alerts > 0 and paths.nat_detector.calls < len(records)


def test_cards_switch_cs1_to_cs2_and_back(stream: list[Any]) -> None:
    """Rules change between batches: cards move from cs1 to cs2 (and columns appear, so rings
    restart), then back to cs1, every state byte-identical on both paths."""
    plain = rules_with_custom(CUSTOM[:2], suppress=False)
    counting = rules_with_custom([*CUSTOM[:2], HISTORY[0]], suppress=False)
    full = rules_with_custom(HISTORY, suppress=False)
    paths = paths_for(plain, {})
    groups = batches(stream[:16_000])
    for k, batch in enumerate(groups):
        if k in (8, 16, 24, 32):
            cfg = {8: counting, 16: full, 24: counting, 32: plain}[k]
            paths.set_rules(cfg)  # caches kept, as in the bridge: a state is a state whatever the rules
            assert paths.native.refusal is None
        paths.step(batch, f"switch batch {k}")
    cs2 = sum(raw.startswith(b'["cs2"') for raw in paths.redis.values())
    assert cs2 < len(paths.redis)  # back on plain rules: the cards seen since write cs1 again


NEVER = 10**9  # thresholds no event reaches: every event below is decided by the native engine


def custom_only(custom: list[dict[str, Any]]) -> RulesConfig:
    """These custom rules with every built-in family off (the burst below would trip velocity)."""
    cfg = rules_with_custom(custom, suppress=False)
    off = {name: msgspec.structs.replace(getattr(cfg, name), enabled=False) for name in BUILT_INS}
    return msgspec.structs.replace(cfg, **off)


def test_quiet_cards_history_is_written_natively_exactly() -> None:
    """With rules that never fire the native engine decides every event, so every cs2 state
    compared is its own: an entry exactly at the window's start expires, a late event at or
    before the cutoff is not kept, the ring and the seen values stay capped, and a column a new
    rule needs restarts the ring. One event per batch, so no Python state heals a wrong one."""
    window = 60_000
    steps = [(0, "5", "M0"), (window, "5", "M1"), (2 * window, "5", "M2"), (window, "5", "M3")]
    steps += [(2 * window + 1, "5", "M1"), (window + 1, "5", "M4"), (2 * window + 2, "5", "M5")]
    steps += [(3 * window + i * 100, "5", f"M{i}") for i in range(HIST_MAX + SEEN_MAX)]
    values = card_events("CQ1", steps)
    records = [record(v, offset=i, partition=0, ts_ms=T0 + i) for i, v in enumerate(values)]
    never = {"field": "amount_usd", "op": "gt", "value": NEVER}
    count = rule("count", {"all": [{"agg": "count", "window": 60, "op": "ge", "value": 1}, never]})
    merchants = rule(
        "merchants",
        {
            "all": [
                {"agg": "distinct", "of": "merchant_id", "window": "1m", "op": "ge", "value": 32},
                {"feature": "new_merchant", "op": "eq", "value": True},
                {"field": "amount_usd", "op": "gt", "value": NEVER},
            ]
        },
    )
    paths = paths_for(custom_only([count]), {})
    for k, rec in enumerate(records):
        if k == 12:  # a rule reading the merchant column: the stored ring lacks it, starts afresh
            paths.set_rules(custom_only([count, merchants]))
        paths.step([rec], f"event {k}")
    assert paths.nat_detector.calls == 0  # all decided natively, all compared with Python
    final = decode_state(paths.redis["CQ1"])
    assert isinstance(final, HistoryState)
    assert len(final.hist_ms) == HIST_MAX and len(final.seen_merchants) == SEEN_MAX
