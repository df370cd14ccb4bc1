"""Per-rule checks: each returns (score, Reason) when its rule fires on one event, else None."""

from __future__ import annotations

from math import exp, inf, log, sqrt

from bridge.detection.geo import haversine_km
from bridge.detection.state import STATS_CAP, CardState
from common.alerts import Reason
from common.money import usd as money
from common.rules import (
    AmountAnomalyRule,
    CardTestingRule,
    HighAmountRule,
    ImpossibleTravelRule,
    MlAnomalyRule,
    UnknownLocationRule,
    VelocityRule,
)
from common.schema import UNKNOWN_CITY

Hit = tuple[float, Reason]
PRIOR_SEEN, PRIOR_S = 2.0, 1200.0  # velocity: an unknown card is assumed to transact every 10 min
MIN_LOG_STD = 0.3  # a card with near-constant spend must not make every other amount "3 sigma"


def scaled(weight: float, excess: float) -> float:
    """Score of a firing rule: `weight` at the limit, rising linearly to 1 at excess >= 1."""
    if excess <= 0.0:
        return weight
    return weight + (1.0 - weight) * (excess if excess < 1.0 else 1.0)


def high_amount(r: HighAmountRule, amount: float, shown: str | None = None) -> Hit | None:
    """Fire when the amount (US dollars) is strictly above the threshold; full score at 4x it.

    `shown` is how the reason quotes the amount ("6,092.49 GBP (≈ $8,103.01)"); default: in $.
    """
    if amount <= r.threshold:
        return None
    text = f"amount {shown or money(amount)} above limit {money(r.threshold)}"
    return scaled(r.weight, (amount / r.threshold - 1.0) / 3.0), Reason(
        "high_amount", float(amount), r.threshold, text
    )


def unknown_location(r: UnknownLocationRule, city: str, located: bool, deny: frozenset[str]) -> Hit | None:
    """Fire on the unknown-IP marker city, a deny-listed city, or (optionally) missing coordinates."""
    if city == UNKNOWN_CITY:
        reason = Reason("unknown_location", city, "known location", f"location unknown (city {city})")
    elif city in deny:
        reason = Reason("unknown_location", city, "deny list", f"city {city} is on the deny list")
    elif not located and r.flag_missing_coords:
        reason = Reason("unknown_location", "no coordinates", "lat/lon", f"no coordinates for {city}")
    else:
        return None
    return r.weight, reason


def velocity(r: VelocityRule, count: int, total: float, prev: CardState, newest: int) -> Hit | None:
    """Fire when the window holds max_count transactions (unless the card is busy enough for that
    to be chance, see `chance`), or 2+ transactions summing to max_sum."""
    by_count = count >= r.max_count and (
        r.max_chance >= 1.0 or chance(r, count, prev, newest) <= r.max_chance
    )
    by_sum = count >= 2 and total >= r.max_sum
    if not (by_count or by_sum):
        return None
    excess = max((count - r.max_count) / r.max_count, total / r.max_sum - 1.0)
    within = f"within {r.window_s} s"
    if by_count:
        text = f"{count} transactions totalling {money(total)} {within} (limit {r.max_count})"
        reason = Reason("velocity", float(count), float(r.max_count), text)
    else:
        text = f"{money(total)} in {count} transactions {within} (limit {money(r.max_sum)})"
        reason = Reason("velocity", total, r.max_sum, text)
    return scaled(r.weight, excess), reason


def chance(r: VelocityRule, count: int, prev: CardState, newest: int) -> float:
    """Probability that the card's usual rate puts count-1 other transactions in one window.

    The rate is Poisson with a prior of PRIOR_SEEN transactions per PRIOR_S seconds, so a young
    card counts as quiet; without this, the busiest normal cards' random clumps look like bursts.
    The count-1 transactions in the window are the burst being judged, not evidence of the card's
    usual pace: counting them let a 6-event burst on a moderately busy card vouch for itself.
    """
    span_s = (newest - prev.since_ms) / 1000.0 if prev.seen else 0.0
    usual = max(prev.seen - (count - 1), 0)
    lam = r.window_s * (usual + PRIOR_SEEN) / (span_s + PRIOR_S)
    term = cdf = exp(-lam)
    for i in range(1, count - 1):
        term *= lam / i
        cdf += term
    return max(0.0, 1.0 - cdf)


def impossible_travel(r: ImpossibleTravelRule, prev: CardState, t: int, lat: float, lon: float) -> Hit | None:
    """Fire when the hop from the card's last located transaction needs more than max speed."""
    if prev.lat is None or prev.lon is None:
        return None
    km = haversine_km(prev.lat, prev.lon, lat, lon)
    if km < r.min_distance_km or km == 0.0:
        return None
    hours = abs(t - prev.geo_ms) / 3_600_000.0  # abs: an out-of-order event is still a hop
    speed = km / hours if hours > 0.0 else inf
    if speed <= r.max_speed_kmh:
        return None
    shown = "instantly" if speed == inf else f"in {_duration(hours)} = {speed:,.0f} km/h"
    text = f"{km:,.0f} km from {prev.city} {shown} (max {r.max_speed_kmh:,.0f} km/h)"
    observed = round(speed, 1) if speed != inf else 1e9  # JSON has no infinity
    return scaled(r.weight, (speed / r.max_speed_kmh - 1.0) / 4.0), Reason(
        "impossible_travel", observed, r.max_speed_kmh, text
    )


def _duration(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1.0 else f"{hours:.1f} h"


def card_testing(
    r: CardTestingRule,
    amount: float,
    t: int,
    tiny_ms: list[int],
    tiny_merchants: list[int],
    *,
    shown: str | None = None,
) -> Hit | None:
    """Fire on a large amount preceded by enough tiny probes at enough merchants in the window."""
    if amount < r.large_at_least:
        return None
    start = t - r.window_s * 1000
    merchants = [m for ms, m in zip(tiny_ms, tiny_merchants, strict=True) if start < ms <= t]
    probes, distinct = len(merchants), len(set(merchants))
    if probes < r.min_tiny or distinct < r.min_merchants:
        return None
    text = (
        f"{shown or money(amount)} after {probes} amounts below {money(r.tiny_below)} "
        f"at {distinct} merchants within {r.window_s // 60} min"
    )
    return scaled(r.weight, (probes - r.min_tiny) / r.min_tiny), Reason(
        "card_testing", float(probes), float(r.min_tiny), text
    )


def amount_anomaly(
    r: AmountAnomalyRule, amount: float, st: CardState, shown: str | None = None
) -> Hit | None:
    """Fire when the amount is many times the card's typical (geometric-mean) spend and far out in
    its log-amount spread; the geometric mean resists the card's own occasional big purchases."""
    if st.n < r.min_history or amount < r.min_amount:
        return None
    typical = exp(st.log_mean)
    ratio = amount / typical
    if ratio <= r.multiplier:
        return None
    spread = st.log_m2 / (min(st.n, STATS_CAP) - 1) if st.n > 1 else 0.0  # min_history may be 1
    std = max(sqrt(spread), MIN_LOG_STD)
    if log(ratio) / std < r.min_z:
        return None
    text = (
        f"amount {shown or money(amount)} is {ratio:.1f}x this card's typical {money(typical)} "
        f"(limit {r.multiplier:g}x)"
    )
    return scaled(r.weight, (ratio / r.multiplier - 1.0) / 2.0), Reason(
        "amount_anomaly", round(ratio, 2), r.multiplier, text
    )


def ml_anomaly(r: MlAnomalyRule, score: float) -> Hit | None:
    """Fire when the online model's anomaly score reaches the threshold."""
    if score < r.threshold:
        return None
    excess = (score - r.threshold) / (1.0 - r.threshold) if r.threshold < 1.0 else 1.0
    text = f"model anomaly score {score:.2f} (limit {r.threshold:.2f})"
    return scaled(r.weight, excess), Reason("ml_anomaly", round(score, 4), r.threshold, text)
