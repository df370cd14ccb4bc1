"""Money: currencies the system knows, amounts in their currency, conversion to US dollars."""

from __future__ import annotations

from collections.abc import Mapping

REPORTING = "USD"  # amount rules compare in this currency (their limits read "$5,000.00")
# The currencies the producer's cities use. Their rates (US dollars per unit) are the `currency`
# section of the live rules document (common/rules_defaults.json, editable in the rule editor).
CURRENCIES = (
    "USD",
    "EUR",
    "GBP",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "TRY",
    "AED",
    "INR",
    "JPY",
    "KRW",
    "HKD",
    "SGD",
    "AUD",
    "CAD",
    "MXN",
    "BRL",
    "ARS",
    "ZAR",
)
NO_MINOR_UNITS = frozenset({"JPY", "KRW"})  # ISO 4217: amounts in whole units


def decimals(currency: str) -> int:
    """Digits after the decimal point of an amount in `currency`."""
    return 0 if currency in NO_MINOR_UNITS else 2


def format_money(amount: float, currency: str) -> str:
    """An amount with its currency code, as analysts read it: "6,092.49 GBP", "1,234 JPY"."""
    return f"{amount:,.{decimals(currency)}f} {currency}"


def usd(amount: float) -> str:
    """An amount in the reporting currency: "$7,250.00"."""
    return f"${amount:,.2f}"


def to_usd(amount: float, currency: str, rates: Mapping[str, float]) -> float:
    """`amount` in US dollars; a currency without a rate is compared as it is (and said so)."""
    return amount * rates.get(currency, 1.0)


def shown(amount: float, currency: str, in_usd: float, rates: Mapping[str, float]) -> str:
    """How a reason quotes an amount: "$7,250.00", "6,092.49 GBP (≈ $8,103.01)", or for a
    currency without a rate "12.00 XYZ (no rate: compared as $)"."""
    if currency == REPORTING:
        return usd(in_usd)
    if currency not in rates:
        return f"{format_money(amount, currency)} (no rate: compared as $)"
    return f"{format_money(amount, currency)} (\u2248 {usd(in_usd)})"
