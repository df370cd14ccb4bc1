"""A model's precision over time by labels: its checks on labelled ranges, kept per version in Redis
(RedisKeys.models_performance); written by `python -m model performance` and the retraining schedule,
read by the console, /api/models and the dashboard's /metrics."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import redis

from common.keys import RedisKeys

CHECKS_MAX = 52  # per version, source and threshold: a year of weekly checks
I64 = npt.NDArray[np.int64]


def periods(span: tuple[int, int], every_ms: int | None) -> list[tuple[int, int]]:
    """[from, to) cut into consecutive periods of `every_ms` (the last one shorter), oldest first."""
    start, end = span
    if not every_ms:
        return [span]
    return [(lo, min(lo + every_ms, end)) for lo in range(start, end, every_ms)]


def labelled_periods(
    record_ms: I64, labelled: npt.NDArray[np.bool_], span: tuple[int, int], every_ms: int | None
) -> list[tuple[tuple[int, int], npt.NDArray[np.bool_]]]:
    """The periods of `span` to check and, for each, which rows (by record time) fall in it; a period
    with no labelled row yet is left out (it would say nothing, and become the newest check)."""
    out = []
    for lo, hi in periods(span, every_ms):
        part = (record_ms >= lo) & (record_ms < hi)
        if labelled[part].any():
            out.append(((lo, hi), part))
    return out


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)  # JSON has no NaN: null


def measure(
    day: I64, card: I64, fraud: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64], threshold: float
) -> dict[str, Any]:
    """One range's figures by its labels: precision and recall at the threshold, AUC, AP, CP@100
    (null where the range cannot give one: nothing flagged, no fraud, one class)."""
    from model.metrics import evaluate  # scikit-learn: loaded by the commands, not by the dashboard

    s = evaluate(day, card, fraud, scores, threshold=threshold)
    return {
        "threshold": threshold,
        "transactions": s.transactions,
        "frauds": s.frauds,
        "flagged": s.flagged,
        "caught": s.caught,
        "precision": _number(s.precision),
        "recall": _number(s.recall),
        "auc_roc": _number(s.auc_roc),
        "average_precision": _number(s.average_precision),
        f"card_precision_at_{s.k}": _number(s.card_precision_at_k),
    }


class PerformanceChecks:
    """version -> JSON list of its checks, the newest range first (CHECKS_MAX kept)."""

    def __init__(self, client: redis.Redis, keys: RedisKeys) -> None:
        self._r, self._key = client, keys.models_performance

    def all(self) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for k, v in self._r.hgetall(self._key).items():
            try:
                out[k.decode() if isinstance(k, bytes) else str(k)] = msgspec.json.decode(
                    v, type=list[dict[str, Any]]
                )
            except msgspec.DecodeError:
                continue  # a hand edit: that version shows no check
        return out

    def of(self, version: str) -> list[dict[str, Any]]:
        raw = self._r.hget(self._key, version)
        try:
            return msgspec.json.decode(raw, type=list[dict[str, Any]]) if raw else []
        except msgspec.DecodeError:
            return []

    def record(self, version: str, check: Mapping[str, Any]) -> None:
        """Add a check; one of the same range and threshold is replaced (labels arrived since). The
        newest CHECKS_MAX are kept per source and threshold, so hourly checks from the command never
        push out the retraining schedule's weekly ones. Atomic (WATCH): two writers lose nothing."""

        def update(pipe: Any) -> None:
            raw = pipe.hget(self._key, version)
            try:
                old = msgspec.json.decode(raw, type=list[dict[str, Any]]) if raw else []
            except msgspec.DecodeError:
                old = []
            same = (check["from"], check["to"], check["threshold"])
            kept = [c for c in old if (c.get("from"), c.get("to"), c.get("threshold")) != same]
            checks = sorted([dict(check), *kept], key=lambda c: str(c.get("to", "")), reverse=True)
            counts: dict[tuple[Any, Any], int] = {}
            bounded = []
            for c in checks:
                group = (c.get("source"), c.get("threshold"))
                counts[group] = counts.get(group, 0) + 1
                if counts[group] <= CHECKS_MAX:
                    bounded.append(c)
            pipe.multi()
            pipe.hset(self._key, version, msgspec.json.encode(bounded))

        self._r.transaction(update, self._key)

    def check(
        self,
        version: str,
        span: tuple[int, int],
        rows: tuple[I64, I64, npt.NDArray[np.bool_], npt.NDArray[np.float64]],
        threshold: float,
        source: str,
    ) -> dict[str, Any]:
        """Measure a range's rows (event day, card, fraud by the labels known now, score) and record it."""
        from model.cli import iso_time  # the card's time format

        day, card, fraud, scores = rows
        result = {
            "version": version,
            "from": iso_time(span[0]),
            "to": iso_time(span[1]),
            **measure(day, card, fraud, scores, threshold),
            "source": source,
            "checked_at": iso_time(int(time.time() * 1000)),
        }
        self.record(version, result)
        return result
