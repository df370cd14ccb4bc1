"""The console's money aggregates say what they are: US dollars at the rules' rates, compact."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from common.rules import default_rules
from common.rules_doc import RulesDoc, encode_rules_doc
from dashapp.figures.timeline import timeline_delta, timeline_figure
from dashapp.store.models import Kpis, Totals, TxnRow
from dashapp.store.rates import rates_of
from dashapp.views.kpis import KPI_CARDS, kpi_texts

RATES = {"EUR": 1.16, "KRW": 0.00068}


def _kpis(amount_per_min: float) -> Kpis:
    return Kpis(10, 1.0, 0.0, amount_per_min, 0.0, None, None, 0, 1, None, Totals())


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0.0, "$0"),
        (9_999.4, "$9,999"),
        (12_345.0, "$12.3k"),
        (99_950.0, "$100k"),
        (999_500.0, "$1.0M"),
        (17_030_000.0, "$17.0M"),  # the "$17.03M", cut at 1280 px
        (170_000_000.0, "$170M"),
        (1.2e9, "$1.2B"),
    ],
)
def test_amount_per_minute_is_compact_dollars(amount: float, text: str) -> None:
    assert kpi_texts(_kpis(amount))["amount"] == text
    assert len(text) <= 6


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (4.24, "4.2 ms"),
        (9_999.4, "9,999 ms"),
        (12_345.0, "12.3 s"),
        (99_940.0, "99.9 s"),
        (99_960.0, "1.7 min"),
        (6_583_701.0, "1.8 h"),  # a first start behind an old topic: it wrapped as "6,583,701 ms"
        (1_000 * 3_600_000.0, "1,000 h"),
    ],
)
def test_latency_cards_stay_short_on_a_backlog(ms: float, text: str) -> None:
    k = dataclasses.replace(_kpis(0.0), latency_p50_ms=ms, latency_p99_ms=ms)
    assert kpi_texts(k)["p50"] == kpi_texts(k)["p99"] == text


def test_amount_card_is_labelled_in_dollars() -> None:
    assert ("amount", "kpi-amount-min", "USD/min") in KPI_CARDS


def _row(n: int, amount: float, currency: str) -> TxnRow:
    return TxnRow(txn_id=f"t{n}", ts=f"2026-09-21T12:00:0{n}.000Z", amount=amount, currency=currency)


def test_timeline_plots_dollars_and_hovers_the_own_currency() -> None:
    rows = [_row(1, 10.0, "USD"), _row(2, 13_488_824.0, "KRW"), _row(3, 12.0, "XYZ")]
    fig = timeline_figure(rows, [], RATES)
    txns = fig["data"][0]
    assert txns["y"] == [10.0, 13_488_824.0 * 0.00068, 12.0]  # no rate: as it is, said so below
    assert txns["text"][0].startswith("$10.00 ·")
    assert txns["text"][1].startswith("13,488,824 KRW (\u2248 $9,172.40) ·")
    assert txns["text"][2].startswith("12.00 XYZ (no rate: compared as $) ·")
    assert fig["layout"]["yaxis"]["title"]["text"] == "amount (USD)"
    delta = timeline_delta(rows[1:2], [], 500, RATES)
    assert delta is not None and delta[0]["y"] == [[13_488_824.0 * 0.00068], []]


def test_rates_come_from_the_stored_rules_document() -> None:
    edited = msgspec.structs.replace(default_rules(), currency={**default_rules().currency, "KRW": 0.001})
    raw = encode_rules_doc(
        RulesDoc(version=3, rules=edited, updated_by="admin", updated_at="2026-01-01T00:00:00Z")
    )
    assert rates_of(raw) == edited.currency and rates_of(raw)["KRW"] == 0.001  # the editor's rates
    assert rates_of(None) == dict(default_rules().currency)  # nothing stored: the bridge's defaults
    assert rates_of(b"{not json") == {}  # corrupt: amounts shown unconverted (and logged)
