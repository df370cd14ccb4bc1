"""KPI card texts."""

from __future__ import annotations

from dashapp.store.models import Kpis

# (name, element id, label) in display order
KPI_CARDS = (
    ("tps", "kpi-tps", "Transactions/s"),
    ("apm", "kpi-alerts-min", "Alerts/min"),
    ("rate", "kpi-fraud-rate", "Fraud rate"),
    # amounts in US dollars (at the rules' rates); "Amount/min (USD)" wraps to two lines at 1280 px
    ("amount", "kpi-amount-min", "USD/min"),
    ("p50", "kpi-p50", "E2E latency p50"),
    ("p99", "kpi-p99", "E2E latency p99"),
    ("lag", "kpi-lag", "Consumer lag"),
    ("bridges", "kpi-bridges", "Bridges alive"),
)


def _ms(value: float | None) -> str:
    """Milliseconds while they read as such; a backlog's latency (a restart after hours, a stalled
    bridge) in s / min / h, so the card stays one line at 1280 px ("6,583,701 ms" wrapped)."""
    if value is None:
        return "\u2013"
    if value < 10:
        return f"{value:.1f} ms"
    if value < 9_999.5:
        return f"{value:,.0f} ms"
    for div, unit in ((1_000, "s"), (60_000, "min"), (3_600_000, "h")):
        q = value / div
        if q < 99.95 or unit == "h":
            return f"{q:.1f} {unit}" if q < 99.95 else f"{q:,.0f} {unit}"
    raise AssertionError("unreachable")  # the loop returns at "h"


def _money(value: float) -> str:
    """US dollars in at most six characters ("$9,999", "$12.3k", "$17.0M", "$170M"): the card
    is ~100 px wide at 1280 px. The sum is in dollars at the rules' rates (bridge/plan.py)."""
    if value < 9_999.5:
        return f"${value:,.0f}"
    for div, unit in ((1e3, "k"), (1e6, "M"), (1e9, "B")):
        q = value / div
        text = f"{q:.1f}" if q < 99.95 else f"{q:.0f}"
        if float(text) < 1000 or unit == "B":
            return f"${text}{unit}"
    raise AssertionError("unreachable")  # the loop returns at "B"


def kpi_texts(k: Kpis) -> dict[str, str]:
    """Return display strings keyed by KPI name."""
    return {
        "tps": f"{k.txns_per_s:,.1f}",
        "apm": f"{k.alerts_per_min:,.1f}",
        "rate": f"{k.fraud_rate * 100:.2f} %",
        "amount": _money(k.amount_per_min),
        "p50": _ms(k.latency_p50_ms),
        "p99": _ms(k.latency_p99_ms),
        "lag": f"{k.total_lag:,}",
        "bridges": str(k.bridges_alive),
    }
