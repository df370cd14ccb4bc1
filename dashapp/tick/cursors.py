"""The tick's cursors: the per-tab state each answer gives and the next poll sends back as `since`."""

from __future__ import annotations

from typing import Any

# every field the builder keeps in a tab's cursors, with its type
CURSOR_TYPES: dict[str, type] = {
    "seq": int,
    "txn": str,
    "alert": str,
    "sec": int,
    "slow_ms": int,
    "slow_phase": int,
    "window_s": int,
    "grid_n": int,
    "grid_wf": str,
    "banner": str,
    "paused": bool,
    "d_kpis": str,
    "d_quality": str,
    "d_rules_fig": str,
    "d_map_fig": str,
}


def clean_state(prev: Any) -> dict[str, Any]:
    """Keep only well-typed cursor fields: the cursors round-trip through the page (untrusted)."""
    if not isinstance(prev, dict):
        return {}
    out = {}
    for key, kind in CURSOR_TYPES.items():
        value = prev.get(key)
        if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            out[key] = value
    return out


def slow_phase(opened_ms: int, period_ms: int) -> int:
    """A tab's phase within the slow-refresh period, from the millisecond its page opened.

    Scrambled (times a prime, coprime with round periods) so tabs opened within the same second,
    as after a shift change or in a load test, still land all over the period.
    """
    return (opened_ms * 7919) % max(1, period_ms)
