"""The champion's scores of a backtest's range, so rules on `model_score` replay as the bridges run them.

The same offline scoring as `python -m model score` (model/score.py): the range read back with the
37 days of history its features need and the labels known at each transaction's time, scored by the
registry's champion. Scores are keyed by transaction id, so both rule sets and both engines read the
same one. A backtest whose rules do not read `model_score` never reads the model or the topics' history.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from backtest.throttle import SLICE_S, pace, pause_s
from common.keys import RedisKeys
from common.rulelang import compile_rules
from common.rules import RulesConfig
from common.schema import Transaction

logger = logging.getLogger(__name__)
FEATURE = "model_score"


def reads_model_score(*configs: RulesConfig) -> bool:
    """Whether an enabled rule of these sets reads `model_score`."""
    return any(FEATURE in compile_rules(cfg).plan.features for cfg in configs)


class TxnScores:
    """A range's scores by transaction id (bridge.detection.facts.EventScores); 0 for any other."""

    def __init__(self, version: str, txn_ids: Sequence[str], batch: Any) -> None:
        self.version, self._batch = version, batch  # a model.serving.BatchScores of the range's rows
        self._row = {t: i for i, t in enumerate(txn_ids)}

    def __len__(self) -> int:
        return len(self._row)

    def of(self, txn_ids: Sequence[str]) -> list[float]:
        """The scores of these transactions (the native engine's columns), 0 for unknown ones."""
        scores, row = self._batch.scores, self._row
        return [float(scores[row[t]]) if t in row else 0.0 for t in txn_ids]

    def score(self, event: Transaction) -> float:
        row = self._row.get(event.txn_id)
        return float(self._batch.scores[row]) if row is not None else 0.0

    def reasons(self, event: Transaction) -> str:
        row = self._row.get(event.txn_id)
        return str(self._batch.reasons(row)) if row is not None else ""


class ScoringWatch:
    """The scoring step's progress in the run (phase "model": records read of the range and its 37
    days of history), at most every `every_s`, and its pace: at most `max_eps` records a second
    (BACKTEST_MAX_EPS, as the replay; 0: no cap). True once the run should stop (cancel, shutdown)."""

    def __init__(
        self,
        report: Callable[[dict[str, Any]], bool],
        every_s: float,
        stopping: Callable[[], bool],
        max_eps: float = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._report, self._every, self._stopping = report, every_s, stopping
        self._max_eps, self._clock, self._sleep = max_eps, clock, sleep
        self.started = clock()
        self._next = self.started  # the first batch reports: a cancel asked before lands at once
        self.stop = False

    def __call__(self, read: int, total: int) -> bool:
        self._say(read, total)
        while not self._stopped():  # ahead of the cap: wait in slices that still see a cancel
            wait = pause_s(read, self._clock() - self.started, self._max_eps)
            if wait <= 0:
                break
            self._sleep(min(wait, SLICE_S))
            self._say(read, total)
        return self._stopped()

    def _stopped(self) -> bool:
        return self.stop or self._stopping()

    def _say(self, read: int, total: int) -> None:
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self._every
        body = {"phase": "model", **pace(read, total, now - self.started)}
        self.stop = self._report(body) or self.stop


def range_scores(
    settings: Any,
    client: redis.Redis,
    keys: RedisKeys,
    span: tuple[int, int],
    version: str | None = None,
    *,
    watch: Callable[[int, int], bool] | None = None,
) -> tuple[TxnScores | None, dict[str, Any]]:
    """The champion's scores of the record-time span (or those of the registered `version`: a shadow
    or candidate backtested in its place), and what the run's summary says about them. Never raises
    for a missing model or unreadable topics: the rules then read 0, and the summary says why
    (`settings`: a model.settings.ModelSettings). A `watch` (ScoringWatch) that stops the read
    raises model.topics.ReadCancelled: the run is cancelled, not run on scores of 0."""
    from model.features import FeatureConfig
    from model.registry import ModelRegistry
    from model.score import score_span
    from model.serving_rows import BatchScores
    from model.topics import ReadCancelled

    try:
        done = score_span(settings, ModelRegistry(client, keys), span, version, watch)
    except ReadCancelled:
        raise
    except Exception as exc:  # no champion, an unreadable model or topic: said, never fatal
        why = f"model_score read 0: {exc}"
        logger.warning("backtest: %s", why)
        return None, {"version": None, "scored": 0, "note": why, "asked": version}
    asked, version = version, str(done.model.card.get("version") or "")
    ids = [done.joined.txn_ids[i] for i in done.rows]
    batch = BatchScores(done.model.booster, FeatureConfig().names(), done.x, done.scores, version)
    logger.info("backtest: model %s scored %d transactions of the range", version, len(ids))
    summary = {"version": version, "scored": len(ids), "note": None, "asked": asked}
    return TxnScores(version, ids, batch), summary
