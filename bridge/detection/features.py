"""Derived per-card features custom rules read (distance, speed, amount ratio, pace, novelty), purely."""

from __future__ import annotations

from math import exp

from bridge.detection.geo import haversine_km
from bridge.detection.state import NO_TIME, CardState, HistoryState
from common.schema import Transaction

MIN_HOP_H = 1.0 / 60.0  # speed_kmh divides by at least one minute: GPS-close events are not "instant"
RATIO_MIN_HISTORY = 5  # amount_ratio needs this many learned amounts, else it reads 1
NO_PREVIOUS_S = 1_000_000_000.0  # since_prev_s of a card's first transaction


def distance_km(event: Transaction, prev: CardState) -> float:
    """Great-circle km from the card's previous located transaction (0 without one, or unlocated)."""
    lat, lon = event.lat, event.lon
    if lat is None or lon is None or prev.lat is None or prev.lon is None:
        return 0.0
    return haversine_km(prev.lat, prev.lon, lat, lon)


def speed_kmh(event: Transaction, prev: CardState, t: int, km: float) -> float:
    """`km` over the time since that located transaction, at least one minute (0 without one)."""
    if km == 0.0:
        return 0.0
    hours = abs(t - prev.geo_ms) / 3_600_000.0  # abs: a late event's hop is still a hop
    return km / max(hours, MIN_HOP_H)


def amount_ratio(amount_usd: float, prev: CardState) -> float:
    """Amount over the card's geometric-mean amount once it has RATIO_MIN_HISTORY, else 1."""
    if prev.n < RATIO_MIN_HISTORY:
        return 1.0
    return amount_usd / exp(prev.log_mean)


def since_prev_s(prev: CardState, t: int) -> float:
    """Seconds since the card's newest transaction (negative for a late event; 1e9 for a new card)."""
    if prev.last_ms == NO_TIME:
        return NO_PREVIOUS_S
    return (t - prev.last_ms) / 1000.0


def is_new(seen: list[int], value: int) -> bool:
    """True when `value` (a crc32) is not among the card's remembered values of its kind."""
    return value not in seen


def seen_lists(ext: HistoryState) -> tuple[list[int], list[int], list[int]]:
    """The remembered countries, merchants and categories, in history.SEEN order."""
    return ext.seen_countries, ext.seen_merchants, ext.seen_categories
