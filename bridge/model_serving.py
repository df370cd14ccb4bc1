"""The bridge's side of model serving: the champion scores each batch the Python path decides.

While a champion is loaded (bridge/model_watch.py) every event goes through the Python path, which
feeds the feature history (model/serving.py) and scores the batch in one vectorised call; rules read
the score as `model_score`. Fraud labels come from the labels topic on a thread of its own
(LabelFeed). Scoring never stops the bridge: an error or a full history turns the model off for the
batch, says why on the health panel and in the log, and rules read `model_score` as 0.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bridge.model_warmup import Warmup
from bridge.model_watch import ModelWatcher
from common.labels import InvalidLabel, Label, decode_label
from common.schema import Transaction

logger = logging.getLogger(__name__)


class _Scores:
    """One batch's scores by event (bridge.detection.facts.EventScores)."""

    def __init__(self, rows: Mapping[int, int], batch: Any) -> None:
        self._rows, self._batch = rows, batch  # id(event) -> row; a model.serving.BatchScores

    def score(self, event: Transaction) -> float:
        row = self._rows.get(id(event))
        return float(self._batch.scores[row]) if row is not None else 0.0

    def reasons(self, event: Transaction) -> str:
        row = self._rows.get(id(event))
        return str(self._batch.reasons(row)) if row is not None else ""


class ModelServing:
    """Scores batches with the watcher's champion; keeps the feature history across champions."""

    def __init__(
        self,
        watcher: ModelWatcher,
        rates: Mapping[str, float],
        max_events: int,
        label_feed: Callable[[], LabelFeed] | None = None,
        history: Callable[[int], Sequence[Any]] | None = None,
    ) -> None:
        """`history(reach_ms)` reads the topic's last `reach_ms` of transactions (model.topics.Txn)
        for the warm-up; without it the history starts from the live events."""
        self._watcher, self._rates, self._max = watcher, rates, max_events
        self._label_feed = label_feed  # started with the first champion: no champion, no labels read
        self._history = history
        self._labels: LabelFeed | None = None
        self._warmup: Warmup | None = None
        self._scorer: Any = None  # model.serving.OnlineScorer, made with the first champion
        self.problem: str | None = None  # why the last batch was not scored

    @property
    def active(self) -> bool:
        """A champion is loaded: every event must reach the feature history (the Python path)."""
        return self._watcher.model is not None

    def score_batch(self, events: Sequence[Transaction]) -> _Scores | None:
        """The batch's scores, or None without a champion, while warming up, or when scoring failed."""
        model, entry = self._watcher.model, self._watcher.entry
        if model is None or entry is None:
            return None
        from model.serving import HistoryFull, Row

        try:
            rows = [Row.of(e, self._rates) for e in events]
            if self._scorer is None and not self._warm(rows):
                return None
            if self._labels is not None:
                self._scorer.add_labels(self._labels.drain())
            batch = self._scorer.score(rows, model, entry.version)
        except (HistoryFull, ValueError) as exc:  # a bound, or an event time the features refuse
            self._fail(str(exc))
            return None
        if self.problem is not None:
            logger.info("bridge: model scoring again (champion %s)", entry.version)
            self.problem = None
        return _Scores({id(e): i for i, e in enumerate(events)}, batch)

    def _new_scorer(self) -> Any:
        from model.features import FeatureConfig
        from model.serving import OnlineScorer

        return OnlineScorer(FeatureConfig(), self._max)

    def tick(self) -> None:
        """Start the warm-up once a champion is loaded (the bridge's own thread, each housekeeping)."""
        if self._warmup is not None or self._scorer is not None or self._history is None or not self.active:
            return
        self._start_labels()
        history = self._history
        reach_ms = self._new_scorer().reach_s * 1000
        warmup = Warmup(self._new_scorer, lambda: history(reach_ms), self._max)
        warmup.start()
        self._warmup = warmup  # only now: the batch thread sees a started warm-up or none
        logger.info("bridge: model warm-up: reading the last %d days of the topic", reach_ms // 86_400_000)

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
        warm = self._warmup
        if warm is None:
            return False  # tick() starts it at the next housekeeping
        if not warm.done:
            warm.hold(rows)
            return False
        scorer, pending = warm.take()
        if scorer is None:
            logger.error("bridge: model warm-up failed, history from live events only: %s", warm.error)
            scorer = self._new_scorer()
        else:
            logger.info(
                "bridge: model warm-up done in %.1f s: %d events of history", warm.seconds, warm.read_events
            )
        if warm.overflowed:
            logger.error("bridge: model warm-up: live events beyond the bound were not added to the history")
        for lo in range(0, len(pending), 20_000):
            scorer.features(pending[lo : lo + 20_000])
        self._scorer = scorer
        return True

    def close(self) -> None:
        """Stop the labels thread (the service's shutdown)."""
        if self._labels is not None:
            self._labels.stop()

    def _fail(self, why: str) -> None:
        if why != self.problem:
            logger.error("bridge: model not scoring this batch: %s; rules read model_score as 0", why)
        self.problem = why

    def status(self) -> str:
        """One line for the pipeline-health panel (after the watcher's)."""
        s = self._scorer
        if s is None:
            return "warming up the feature history from Kafka: not scoring yet" if self._warmup else ""
        text = (
            f"scored {s.seen:,} events, history {s.remembered:,} of {self._max:,}, "
            f"fraud labels used {s.labels_used:,}"
        )
        return f"{text}; NOT SCORING: {self.problem}" if self.problem else text


class LabelFeed:
    """Reads the whole labels topic from its start with a group-less consumer, on its own thread."""

    def __init__(self, consumer: KafkaConsumer, topic: str, retry_s: float = 10.0) -> None:
        self._consumer, self._topic, self._retry_s = consumer, topic, retry_s
        self._queue: queue.SimpleQueue[Label] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bridge-labels", daemon=True)
        self.read = 0  # labels decoded
        self.bad = 0

    @classmethod
    def connect(cls, bootstrap: str, topic: str) -> LabelFeed:
        """A feed with its own group-less consumer: no commits, the live group never moves."""
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            bootstrap_timeout_ms=5_000,
            request_timeout_ms=15_000,
        )
        return cls(consumer, topic)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def drain(self) -> list[Label]:
        """The labels read since the last drain."""
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and not self._assign():
                self._stop.wait(self._retry_s)  # the topic does not exist yet
            while not self._stop.is_set():
                for records in self._consumer.poll(timeout_ms=500, max_records=5_000).values():
                    for rec in records:
                        self._take(rec)
        except Exception:  # the bridge runs on without labels; the model's merchant rates go stale
            logger.exception("bridge: labels feed stopped")
        finally:
            self._consumer.close(autocommit=False)

    def _assign(self) -> bool:
        parts = self._consumer.partitions_for_topic(self._topic)
        if not parts:
            return False
        tps = [TopicPartition(self._topic, p) for p in sorted(parts)]
        self._consumer.assign(tps)
        self._consumer.seek_to_beginning(*tps)
        logger.info("bridge: reading fraud labels from %s (%d partitions)", self._topic, len(tps))
        return True

    def _take(self, rec: Any) -> None:
        try:
            self._queue.put(decode_label(rec.value if rec.value is not None else b""))
            self.read += 1
        except InvalidLabel as exc:
            self.bad += 1
            if self.bad <= 10 or self.bad % 10_000 == 0:
                logger.warning("bridge: bad label %s/%d@%d: %s", rec.topic, rec.partition, rec.offset, exc)
