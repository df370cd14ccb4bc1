"""Each model version's latest drift check in Redis (RedisKeys.models_drift): written by
`python -m model drift`, read by the console and /api/models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import redis

from common.keys import RedisKeys


class DriftChecks:
    """version -> the JSON of its latest check (model/score.py drift_check)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._key = client, keys.models_drift

    def latest(self) -> dict[str, dict[str, Any]]:
        out = {}
        for k, v in self._r.hgetall(self._key).items():
            try:
                out[k.decode() if isinstance(k, bytes) else str(k)] = msgspec.json.decode(
                    v, type=dict[str, Any]
                )
            except msgspec.DecodeError:
                continue  # a hand edit: that version shows no check
        return out

    def record(self, version: str, check: Mapping[str, Any]) -> None:
        self._r.hset(self._key, version, msgspec.json.encode(check))
