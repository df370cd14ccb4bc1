"""The bridge's side of model serving: the champion scores each batch before its rules are evaluated.

While a champion is loaded (bridge/model_watch.py) every event of every batch feeds the feature
history (model/serving.py), and the batch is scored in one vectorised call; rules read the score as
`model_score`. Either engine asks: the Python one with its decoded events (score_batch), the native
one with the columns it parsed (score_records), so it still decides the quiet events itself. Fraud
labels come from the labels topic on a thread of its own (LabelFeed); the history is kept whole by
bridge/model_history.py. Scoring never stops the
bridge: an error or a full history turns the model off for the batch, says why on the health panel
and in the log, and rules read `model_score` as 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bridge.label_feed import LabelFeed
from bridge.model_history import ServingHistory
from bridge.model_monitor import ScoreMonitor
from bridge.model_rows import ScoredRows
from bridge.model_shadow import ShadowModels
from bridge.model_tail_reader import TailReader
from bridge.model_watch import ModelWatcher
from common.schema import Transaction

if TYPE_CHECKING:
    from model.topics import History

logger = logging.getLogger(__name__)


class ModelServing:
    """Scores batches with the watcher's champion; keeps the feature history across champions."""

    def __init__(
        self,
        watcher: ModelWatcher,
        rates: Mapping[str, float],
        max_events: int,
        *,
        label_feed: Callable[[], LabelFeed] | None = None,
        history: Callable[[int], History] | None = None,
        on_scores: Callable[[Any], None] | None = None,  # a batch's scores (a float64 array)
        shadows: ShadowModels | None = None,
        native_features: bool = True,
        max_ids: int | None = None,
        native_trees: bool = True,
        tail: Callable[[], TailReader] | None = None,
    ) -> None:
        """`history(reach_ms)` reads the topic's last `reach_ms` of transactions (model.topics.History)
        for the warm-up; without it the history starts from the live events. Past `max_ids` ids
        numbered (default `max_events`), the history is rebuilt: see `tick`. `tail()` makes the reader
        of the partitions other bridges consume (bridge/model_tail.py), started once warmed."""
        self._watcher, self._rates, self._max = watcher, rates, max_events
        self._native_features = native_features  # model/native_features.py: the same features, faster
        self._native_trees = native_trees  # model/native_trees.py: the same scores, faster
        self.history = ServingHistory(
            self._new_scorer, max_events, read=history, label_feed=label_feed, tail=tail, max_ids=max_ids
        )
        self._monitor = ScoreMonitor(on_scores)
        self.shadows = shadows  # versions in shadow score the same rows, never alert

    @property
    def problem(self) -> str | None:
        """Why the last batch was not scored (None: it was)."""
        return self.history.problem

    @property
    def active(self) -> bool:
        """A champion is loaded: every event of every batch must reach the feature history."""
        return self._watcher.model is not None

    def score_batch(self, events: Sequence[Transaction]) -> ScoredRows | None:
        """The batch's scores, or None without a champion, while warming up, or when scoring failed."""
        from model.serving_rows import Row

        batch = self._score(lambda: [Row.of(e, self._rates) for e in events])
        return ScoredRows({id(e): i for i, e in enumerate(events)}, batch) if batch is not None else None

    def score_records(
        self, columns: tuple[Sequence[Any], ...], decoded: Sequence[tuple[int, Transaction]]
    ) -> tuple[list[int], ScoredRows] | None:
        """The native path's batch: `columns` of the events it parsed (fraud_native.Engine.columns:
        record indices, txn ids, times in ms, cards, merchants, amounts, currencies) and `decoded`,
        the (record index, event) pairs Python decoded. Returns the record index of each row (record
        order, as training reads the topic) and the scores, which the Python side `bind`s to the
        events it evaluates; None as score_batch."""
        from model.serving_rows import Row

        index, txn_ids, ts_ms, cards, merchants, amounts, currencies = columns
        order: list[int] = list(index)

        def rows() -> list[Any]:
            made = Row.of_columns((txn_ids, ts_ms, cards, merchants, amounts, currencies), self._rates)
            if not decoded:
                return made
            pairs = sorted(
                [*zip(index, made, strict=True), *((i, Row.of(e, self._rates)) for i, e in decoded)]
            )
            order[:] = [i for i, _ in pairs]
            return [r for _, r in pairs]

        batch = self._score(rows)
        return (order, ScoredRows({}, batch)) if batch is not None else None

    def score_engine(
        self,
        engine: Any,
        decoded: Sequence[tuple[int, Transaction]],
        columns: Callable[[], tuple[Sequence[Any], ...]],
    ) -> tuple[list[int], ScoredRows] | None:
        """score_records of the native engine's scanned batch (fraud_native.Engine). With the history
        ready in native keys, the engine numbers its batch straight into them (OnlineScorer.score_engine:
        no Python object per parsed event); while warming up, or without native keys, through
        `columns()` as score_records."""
        scorer = self.history.scorer
        if scorer is None or not scorer.reads_engine:
            return self.score_records(columns(), decoded)
        order: list[int] = []

        def direct(ready: Any, model: Any, version: str) -> Any:
            index, batch = ready.score_engine(engine, self._rates, decoded, model, version)
            order[:] = index.tolist()
            return batch

        batch = self._score(list, direct)
        return (order, ScoredRows({}, batch)) if batch is not None else None

    def _score(
        self, make_rows: Callable[[], list[Any]], direct: Callable[[Any, Any, str], Any] | None = None
    ) -> Any:
        """A model.serving.BatchScores of the rows, or None (no champion, warming up, failed);
        `direct(scorer, model, version)` scores a batch its caller holds once the scorer is ready."""
        model, entry = self._watcher.model, self._watcher.entry
        if model is None or entry is None:
            return None
        from model.serving import HistoryFull

        history = self.history
        scorer = history.scorer
        try:
            rows: list[Any] = []
            if scorer is None or direct is None:
                direct, rows = None, make_rows()
            if scorer is None:
                if not history.warm(rows):
                    return None
                scorer = history.scorer
            if history.labels is not None:
                scorer.add_labels(history.labels.drain())
            if direct is not None:
                batch = direct(scorer, model, entry.version)
            else:
                batch = scorer.score(rows, model, entry.version)
        except HistoryFull as exc:
            history.fail(str(exc))
            return None
        except Exception as exc:  # whatever it is, the rules go on deciding: never fatal, said once
            logger.exception("bridge: model scoring failed")
            history.fail(f"{type(exc).__name__}: {exc}")
            return None
        if history.problem is not None:
            logger.info("bridge: model scoring again (champion %s)", entry.version)
            history.problem = None
        self._monitor.add(entry, batch)
        if self.shadows is not None and self.shadows.models:
            try:
                self.shadows.score(entry.version, batch.scores, batch.x)
            except Exception:  # a shadow never affects live decisions, nor stops them
                logger.exception("bridge: shadow models not scored for this batch")
        return batch

    def drift_psi(self) -> dict[str, float] | None:
        """The champion's live PSI per feature and of the score (None: too few rows, or no bins)."""
        return self._monitor.drift_psi() if self.active else None

    def _new_scorer(self) -> Any:
        from model.features import FeatureConfig
        from model.serving import OnlineScorer

        return OnlineScorer(
            FeatureConfig(), self._max, native=self._native_features, native_trees=self._native_trees
        )

    def tick(self) -> None:
        """The history's upkeep at each housekeeping (bridge/model_history.py)."""
        self.history.tick(self.active)

    def partitions_left(self, positions: Mapping[int, int | None]) -> None:
        """Partitions revoked at these next offsets (the bridge's thread, no batch in flight)."""
        self.history.partitions_left(positions)

    def partitions_gained(self, positions: Mapping[int, int | None]) -> None:
        """Partitions assigned, resuming at these (stored) offsets (the bridge's thread, no batch in
        flight): the history is kept whole, or rebuilt."""
        self.history.partitions_gained(positions)

    @property
    def scoring(self) -> bool:
        """The last batch was scored by the champion."""
        return self.active and self.history.scorer is not None and self.problem is None

    @property
    def history_entries(self) -> int:
        scorer = self.history.scorer
        return int(scorer.remembered) if scorer is not None else 0

    def close(self) -> None:
        """Stop the labels and tail threads (the service's shutdown)."""
        self.history.close()

    def status(self) -> str:
        """One line for the pipeline-health panel (after the watcher's)."""
        s = self.history.scorer
        if s is None:
            return "warming up the feature history from Kafka: not scoring yet" if self.history.warmup else ""
        parts = [
            f"scored {s.seen:,} events, history {s.remembered:,} of {self._max:,}, "
            f"fraud labels used {s.labels_used:,}"
        ]
        native = self._native_trees and getattr(self._watcher.model, "native", None) is not None
        parts.append("trees scored natively" if native else "trees scored by LightGBM")
        psi = self.drift_psi()
        if psi:
            from model.drift import live_summary

            parts.append(live_summary(psi))
        if s.bad_times:
            parts.append(f"{s.bad_times:,} events or labels with impossible times refused")
        parts += self.history.status_parts()
        if self.problem:
            parts.append(f"NOT SCORING: {self.problem}")
        return "; ".join(parts)
