"""Amounts in their currency (pure): formatting, conversion to US dollars, how reasons quote them."""

from __future__ import annotations

import pytest

from common.money import format_money, shown, to_usd
from common.rules import default_rules

RATES = default_rules().currency


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (6092.49, "GBP", "6,092.49 GBP"),
        (10082.76, "ARS", "10,082.76 ARS"),
        (1234.0, "JPY", "1,234 JPY"),  # no minor units
        (7250.0, "USD", "7,250.00 USD"),
    ],
)
def test_format_money_keeps_the_currency(amount: float, currency: str, text: str) -> None:
    assert format_money(amount, currency) == text


def test_conversion_and_quote() -> None:
    assert to_usd(100.0, "USD", RATES) == 100.0
    assert to_usd(100.0, "GBP", RATES) == 100.0 * RATES["GBP"]
    assert to_usd(100.0, "XYZ", RATES) == 100.0  # no rate: as it is
    assert shown(7250.0, "USD", 7250.0, RATES) == "$7,250.00"
    assert shown(10082.76, "ARS", 7.06, RATES) == "10,082.76 ARS (\u2248 $7.06)"
    assert shown(5.0, "XYZ", 5.0, RATES) == "5.00 XYZ (no rate: compared as $)"


def test_every_city_currency_has_a_rate() -> None:
    from producer.geo import CITIES

    assert {c.currency for c in CITIES} - {"USD"} <= set(RATES)
