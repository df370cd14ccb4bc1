"""KPI card texts."""

from __future__ import annotations

from dashapp.store.models import Kpis

# (name, element id, label) in display order
KPI_CARDS = (
    ("tps", "kpi-tps", "Transactions/s"),
    ("apm", "kpi-alerts-min", "Alerts/min"),
    ("rate", "kpi-fraud-rate", "Fraud rate"),
    ("amount", "kpi-amount-min", "Amount/min"),
    ("p50", "kpi-p50", "E2E latency p50"),
    ("p99", "kpi-p99", "E2E latency p99"),
    ("lag", "kpi-lag", "Consumer lag"),
    ("bridges", "kpi-bridges", "Bridges alive"),
)


def _ms(value: float | None) -> str:
    if value is None:
        return "\u2013"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _money(value: float) -> str:
    if value >= 1e6:
        return f"${value / 1e6:,.2f}M"
    if value >= 1e4:
        return f"${value / 1e3:,.1f}k"
    return f"${value:,.0f}"


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
