"""The bridge's side of model serving: the champion scores each batch before its rules are evaluated.

While a champion is loaded (bridge/model_watch.py) every event of every batch feeds the feature
history (model/serving.py), and the batch is scored in one vectorised call; rules read the score as
`model_score`. Either engine asks: the Python one with its decoded events (score_batch), the native
one with the columns it parsed (score_records), so it still decides the quiet events itself. Fraud
labels come from the labels topic on a thread of its own (LabelFeed). Scoring never stops the
bridge: an error or a full history turns the model off for the batch, says why on the health panel
and in the log, and rules read `model_score` as 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bridge.label_feed import LabelFeed
from bridge.model_coverage import Coverage
from bridge.model_monitor import ScoreMonitor
from bridge.model_rows import ScoredRows
from bridge.model_shadow import ShadowModels
from bridge.model_tail import MerchantTail, TailReader
from bridge.model_warmup import Warmup
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
        # The history's bound keeps 37 days within max_events entries (about three a transaction),
        # so a rebuilt one numbers at most about 2/3 of max_events ids: it never renews again at once.
        self._max_ids = max_events if max_ids is None else max_ids
        self.renewals = 0  # histories rebuilt to bound the id maps
        self.rewarms = 0  # histories rebuilt for a partition gained past what they held
        self._coverage = Coverage()  # which offsets of each partition the history holds
        self._native_features = native_features  # model/native_features.py: the same features, faster
        self._native_trees = native_trees  # model/native_trees.py: the same scores, faster
        self._label_feed = label_feed  # started with the first champion: no champion, no labels read
        self._history = history
        self._tail_reader = tail
        self._tail: MerchantTail | None = None
        self._owned: set[int] = set()  # the partitions this bridge consumes
        self._monitor = ScoreMonitor(on_scores)
        self.shadows = shadows  # versions in shadow score the same rows, never alert
        self._labels: LabelFeed | None = None
        self._warmup: Warmup | None = None
        self._said_done = False
        self._scorer: Any = None  # model.serving.OnlineScorer, made with the first champion
        self.problem: str | None = None  # why the last batch was not scored
        self.warm_error: str | None = None  # why the warm-up failed (shown until the history is dropped)

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
        scorer = self._scorer
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

        scorer = self._scorer
        try:
            rows: list[Any] = []
            if scorer is None or direct is None:
                direct, rows = None, make_rows()
            if scorer is None:
                if not self._warm(rows):
                    return None
                scorer = self._scorer
            if self._labels is not None:
                scorer.add_labels(self._labels.drain())
            if direct is not None:
                batch = direct(scorer, model, entry.version)
            else:
                batch = scorer.score(rows, model, entry.version)
        except HistoryFull as exc:
            self._fail(str(exc))
            return None
        except Exception as exc:  # whatever it is, the rules go on deciding: never fatal, said once
            logger.exception("bridge: model scoring failed")
            self._fail(f"{type(exc).__name__}: {exc}")
            return None
        if self.problem is not None:
            logger.info("bridge: model scoring again (champion %s)", entry.version)
            self.problem = None
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
        """Start the warm-up once a champion is loaded, say when it is done (the bridge's own thread,
        each housekeeping) and take the warmed history over. A history whose id maps
        passed their bound is dropped here and warmed up again (ids never leave a history)."""
        if not self.active and (self._scorer is not None or self._warmup is not None):
            self._drop("no champion")
            return
        held = self._scorer.ids_held if self._scorer is not None else 0
        if held > self._max_ids:  # ids outlive the windows: rebuilt from the topic, as at start-up
            self.renewals += 1
            logger.warning("bridge: model id maps past their bound: the history is rebuilt")
            self._drop(f"{held:,} ids numbered, over {self._max_ids:,}: rebuilt from the topic")
        warm = self._warmup
        if warm is not None and warm.done and not self._said_done:
            self._said_done = True
            if warm.error is None:
                logger.info("bridge: model warm-up done in %.1f s: %d events", warm.seconds, warm.read_events)
                self._coverage.read(warm.reached)
                self._check_gains()  # before the hand-over: a gained partition past its reach drops it
                warm = self._warmup  # None when dropped: warmed up again right below
            else:  # a live-only history has holes anyway: gains are not checked against it
                self.warm_error = warm.error
                logger.error("bridge: model warm-up failed, history from live events only: %s", warm.error)
                self._coverage.clear()
        if warm is not None and self._said_done and self._scorer is None:
            self._guard(lambda: self._take_over(warm))
        self._tick_tail()
        if warm is not None or self._scorer is not None or self._history is None or not self.active:
            return
        self._start_labels()
        history = self._history
        reach_ms = self._new_scorer().reach_s * 1000
        warmup = Warmup(self._new_scorer, lambda: history(reach_ms), self._max // 3)
        warmup.start()
        self._warmup = warmup  # only now: the batch thread sees a started warm-up or none
        logger.info("bridge: model warm-up: reading the last %d days of the topic", reach_ms // 86_400_000)

    def _tick_tail(self) -> None:
        """Once the warmed history is handed over, follow the other bridges' partitions; add what
        the tail read since the last housekeeping (no batch in flight)."""
        warm, scorer = self._warmup, self._scorer
        reader = self._tail_reader
        warmed = warm is not None and warm.error is None and self._said_done  # read from the topic
        if self._tail is None and scorer is not None and warm is not None and warmed and reader is not None:
            self._tail = MerchantTail(reader(), self._coverage, warm.reached)
            self._tail.start(self._owned)
        if self._tail is not None and scorer is not None:
            self._guard(lambda: self._tail.apply(scorer) if self._tail is not None else 0)

    def _guard(self, step: Callable[[], Any]) -> None:
        """Run a history step off the batch path: HistoryFull or an error is said as a batch's is."""
        from model.serving import HistoryFull

        try:
            step()
        except HistoryFull as exc:
            self._fail(str(exc))
        except Exception as exc:
            logger.exception("bridge: the model's history was not updated")
            self._fail(f"{type(exc).__name__}: {exc}")

    def partitions_left(self, positions: Mapping[int, int | None]) -> None:
        """Partitions revoked at these next offsets (the bridge's thread, no batch in flight); the
        merchant tail follows them from there."""
        self._owned -= set(positions)
        if self._in_play:
            self._coverage.left(positions)
        if self._tail is not None:
            self._tail.follow(self._owned)

    def partitions_gained(self, positions: Mapping[int, int | None]) -> None:
        """Partitions assigned, resuming at these (stored) offsets. A gain past what the history holds
        of it drops the history, to be warmed up again with it (the bridge's thread, no batch in
        flight); while a warm-up is still reading, the check waits for its reach. A partition the
        merchant tail follows is first read by it up to the resume offset (bounded wait)."""
        tail, scorer = self._tail, self._scorer
        if tail is not None and scorer is not None:
            self._guard(lambda: tail.catch_up(scorer, positions))
        self._owned |= set(positions)
        if tail is not None:
            tail.follow(self._owned)
        if self._in_play:
            self._coverage.gained(positions)
            self._check_gains()

    @property
    def _in_play(self) -> bool:
        """A history warmed from the topic is held or being read (live-only histories have holes anyway)."""
        if self._history is None or self.warm_error is not None:
            return False
        return self._scorer is not None or self._warmup is not None

    def _check_gains(self) -> None:
        gaps = self._coverage.gaps()
        if gaps:
            self.rewarms += 1
            logger.warning("bridge: model history lacks a gained partition's events: %s", gaps[0])
            self._drop(f"{'; '.join(map(str, gaps))}: rebuilt from the topic")

    def _drop(self, why: str) -> None:
        """Drop the history and stop reading labels (the bridge's thread, no batch in flight): no
        champion any more, or id maps past their bound. Events decided meanwhile never reach a
        history, so the next champion (or the same one) warms up again rather than scoring on a
        history with a hole in it."""
        if self._labels is not None:
            self._labels.stop()
        if self._tail is not None:
            self._tail.reader.stop()
        self._labels, self._warmup, self._scorer, self._tail = None, None, None, None
        self._coverage.clear()
        self._said_done, self.problem, self.warm_error = False, None, None
        logger.info("bridge: the model's feature history is dropped: %s", why)

    def _start_labels(self) -> None:
        if self._label_feed is not None:
            self._labels = self._label_feed()
            self._labels.start()

    def _warm(self, rows: list[Any]) -> bool:
        """Finish the warm-up (or start cold without one); True once the scorer is ready for `rows`."""
        if self._history is None:
            self._start_labels()
            self._scorer = self._new_scorer()
            return True
        if self._warmup is not None:  # tick() takes the warmed history over, with these rows
            self._warmup.hold(rows)
        return False  # (with no warm-up yet, tick() starts it at the next housekeeping)

    def _take_over(self, warm: Warmup) -> None:
        """The warmed history becomes the scorer; the live rows held meanwhile join it (the bridge's
        thread, no batch in flight, after tick() read the warm-up's reach)."""
        scorer, pending = warm.take()
        if scorer is None:  # the warm-up failed: tick() said why
            scorer = self._new_scorer()
        self._scorer = scorer
        if warm.overflowed:
            logger.error("bridge: model warm-up: live events beyond the bound were not added to the history")
        for lo in range(0, len(pending), 20_000):
            scorer.features(pending[lo : lo + 20_000])  # HistoryFull: said by _guard

    @property
    def scoring(self) -> bool:
        """The last batch was scored by the champion."""
        return self.active and self._scorer is not None and self.problem is None

    @property
    def history_entries(self) -> int:
        return int(self._scorer.remembered) if self._scorer is not None else 0

    def close(self) -> None:
        """Stop the labels and tail threads (the service's shutdown)."""
        if self._labels is not None:
            self._labels.stop()
        if self._tail is not None:
            self._tail.reader.stop()

    def _fail(self, why: str) -> None:
        if why != self.problem:
            logger.error("bridge: model not scoring this batch: %s; rules read model_score as 0", why)
        self.problem = why

    def status(self) -> str:
        """One line for the pipeline-health panel (after the watcher's)."""
        s = self._scorer
        if s is None:
            return "warming up the feature history from Kafka: not scoring yet" if self._warmup else ""
        parts = [
            f"scored {s.seen:,} events, history {s.remembered:,} of {self._max:,}, "
            f"fraud labels used {s.labels_used:,}"
        ]
        native = self._native_trees and getattr(self._watcher.model, "native", None) is not None
        parts.append("trees scored natively" if native else "trees scored by LightGBM")
        if self.renewals:
            bound = f"{self._max_ids:,} ids"
            parts.append(f"history rebuilt {self.renewals:,}\u00d7 to bound its id maps ({bound})")
        if self.rewarms:
            parts.append(f"history rebuilt {self.rewarms:,}\u00d7 for partitions gained past what it held")
        psi = self.drift_psi()
        if psi:
            from model.drift import live_summary

            parts.append(live_summary(psi))
        if s.bad_times:
            parts.append(f"{s.bad_times:,} events or labels with impossible times refused")
        if self._tail is not None and self._tail.status():
            parts.append(self._tail.status())
        if self.warm_error:
            parts.append(f"history from live events only (warm-up failed: {self.warm_error})")
        if self._labels is not None and self._labels.error:
            parts.append(f"labels feed stopped: {self._labels.error}")
        if self.problem:
            parts.append(f"NOT SCORING: {self.problem}")
        return "; ".join(parts)
