"""Shadow models scored live beside the champion: how one batch compares, and the counts in Redis.

The bridge (bridge/model_shadow.py) adds each batch's counts to `models:live`; the console and
/api/models read them back per shadow version and champion.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import redis

from common.keys import RedisKeys

FLAG_AT = 0.5  # a score at or above this counts as flagged in the comparison
STATS = ("events", "champion_flags", "shadow_flags", "both_flags", "abs_diff")


def live_field(shadow: str, champion: str, stat: str) -> str:
    """The `models:live` field of one shadow-vs-champion count."""
    return f"{shadow}|{champion}|{stat}"


def compare(champion: npt.NDArray[np.float64], shadow: npt.NDArray[np.float64]) -> dict[str, float]:
    """One batch's counts of a shadow beside the champion (same rows)."""
    c, s = champion >= FLAG_AT, shadow >= FLAG_AT
    return {
        "events": float(len(champion)),
        "champion_flags": float(c.sum()),
        "shadow_flags": float(s.sum()),
        "both_flags": float((c & s).sum()),
        "abs_diff": float(np.abs(champion - shadow).sum()),
    }


def read_live(client: redis.Redis, keys: RedisKeys) -> dict[str, dict[str, dict[str, float]]]:
    """shadow version -> champion version -> its counts (for the console and /api/models)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for k, v in client.hgetall(keys.models_live).items():
        parts = (k.decode() if isinstance(k, bytes) else str(k)).split("|")
        if len(parts) == 3 and parts[2] in STATS:
            out.setdefault(parts[0], {}).setdefault(parts[1], {})[parts[2]] = float(v)
    return out
