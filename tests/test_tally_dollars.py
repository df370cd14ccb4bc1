"""Live money aggregates are US dollars at the rules' rates, identical on both engine paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from kafka.consumer.fetcher import ConsumerRecord

from bridge.batch_types import RecordMeta, Scored
from bridge.detection import Detector
from bridge.native import NativePath
from bridge.plan import tally_scored
from bridge.processor import detect, validate_records
from bridge.state_cache import StateCache
from common.rules import RulesConfig, default_rules
from common.schema import Transaction, format_ts
from tests.native_gate import needs_native

T0_MS = 1_796_000_000_000
# (currency, amount, US cents at the default rates): one second of mixed currencies
MIXED = [
    ("USD", 10.0, 1_000),
    ("EUR", 10.0, 1_160),  # 1.16 $/EUR
    ("KRW", 13_488_824.0, 917_240),  # 0.00068 $/KRW: $9,172.40, not "$13.49M"
    ("JPY", 1_234.0, 802),  # 0.0065 $/JPY: 8.021
    ("XYZ", 12.0, 1_200),  # no rate: counted as it is, as the rules compare it
]


def txn(i: int, currency: str, amount: float) -> Transaction:
    return Transaction(
        txn_id=f"t{i}",
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        card_id=f"c{i}",
        account_id="a1",
        amount=amount,
        currency=currency,
        merchant_id="m1",
        merchant_category="grocery",
        city="Paris",
        country="FR",
        lat=48.85,
        lon=2.35,
        channel="pos",
    )


def test_mixed_currencies_are_summed_in_dollars_at_the_rules_rates() -> None:
    items = [
        Scored(RecordMeta(0, i, T0_MS + i), txn(i, cur, amount), 0.0, "low", None)
        for i, (cur, amount, _) in enumerate(MIXED)
    ]
    rates = default_rules().currency
    assert tally_scored(items, rates).seconds == [(T0_MS // 1000, 5, sum(c for _, _, c in MIXED))]
    # an edited rate moves the sum; without rates every amount counts as it is
    edited = {**rates, "KRW": 0.001}
    assert tally_scored(items, edited).seconds[0][2] == sum(c for _, _, c in MIXED) - 917_240 + 1_348_882
    assert tally_scored(items, {}).seconds[0][2] == round(sum(a for _, a, _ in MIXED) * 100)


def test_cents_round_half_to_even_after_the_rate() -> None:
    # 0.125 $ * 100 = 12.5 cents exactly: half to even gives 12 (as Rust's round_ties_even)
    item = Scored(RecordMeta(0, 0, T0_MS), txn(0, "ABC", 0.25), 0.0, "low", None)
    assert tally_scored([item], {"ABC": 0.5}).seconds[0][2] == 12


def _record(i: int, currency: str, amount: float) -> ConsumerRecord:
    ts = format_ts(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=i * 37))
    value = json.dumps(
        {
            "txn_id": f"t-{i}",
            "ts": ts,
            "card_id": f"C{i % 40}",
            "account_id": "A1",
            "amount": amount,
            "currency": currency,
            "merchant_id": "M1",
            "merchant_category": "food",
            "city": "Paris",
            "country": "FR",
            "lat": 48.85,
            "lon": 2.35,
            "channel": "pos",
        }
    ).encode()
    return ConsumerRecord("t", 0, -1, i, T0_MS + i * 37, 0, b"k", value, [], None, 0, len(value), -1)


def _mixed_records(n: int) -> list[ConsumerRecord]:
    currencies = ["USD", "EUR", "GBP", "KRW", "JPY", "ARS", "XYZ", "INR"]
    amounts = [0.125, 10.0, 99.99, 1_234.0, 4_321.5, 13_488_824.0, 0.05, 7_777.77]
    return [_record(i, currencies[i % 8], amounts[(i * 3) % 8]) for i in range(n)]


RATES = {
    "default": default_rules(),
    "edited": msgspec.structs.replace(default_rules(), currency={**default_rules().currency, "KRW": 0.001}),
}


@needs_native()
@pytest.mark.parametrize("name", list(RATES))
def test_native_tally_equals_python_on_mixed_currencies(name: str) -> None:
    rules: RulesConfig = RATES[name]
    records = _mixed_records(2_000)
    path = NativePath(rules, 65_536, 10_000)
    res = path.detect(records, Detector(rules), 1, dict.fromkeys(path.scan(records)))
    det = detect(validate_records(records, 65_536), Detector(rules), 1, StateCache(10_000).get, {})
    want = tally_scored(det.scored, rules.currency).seconds
    assert res.scored == len(det.scored) == len(records)
    assert res.alerted and len(res.alerted) < len(records)  # both the quiet and the Python pass tallied
    assert res.tally.seconds == want
    assert res.tally.seconds != tally_scored(det.scored, {}).seconds  # really converted
