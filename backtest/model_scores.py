"""The champion's scores of a backtest's range, so rules on `model_score` replay as the bridges run them.

The same offline scoring as `python -m model score` (model/score.py): the range read back with the
37 days of history its features need and the labels known at each transaction's time, scored by the
registry's champion. Scores are keyed by transaction id, so both rule sets and both engines read the
same one. A backtest whose rules do not read `model_score` never reads the model or the topics' history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis

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


def range_scores(
    settings: Any, client: redis.Redis, keys: RedisKeys, span: tuple[int, int], version: str | None = None
) -> tuple[TxnScores | None, dict[str, Any]]:
    """The champion's scores of the record-time span (or those of the registered `version`: a shadow
    or candidate backtested in its place), and what the run's summary says about them. Never raises
    for a missing model or unreadable topics: the rules then read 0, and the summary says why
    (`settings`: a model.settings.ModelSettings)."""
    from model.features import FeatureConfig
    from model.registry import ModelRegistry
    from model.score import score_span
    from model.serving import BatchScores

    try:
        done = score_span(settings, ModelRegistry(client, keys), span, version)
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
