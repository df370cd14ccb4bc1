"""The bridge loop: poll a batch, validate, detect, dead-letter, commit atomically to Redis, repeat."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import MemberState

from bridge.alert_out import AlertPublisher, AlertsUnpublished
from bridge.apply import BatchApplier
from bridge.backoff import Backoff
from bridge.batch_types import Taken
from bridge.config import BridgeSettings
from bridge.dlq import DeadLetterWriter, DlqUnavailable
from bridge.engines import Engines
from bridge.health import Health
from bridge.kafka_io import (
    Rebalancer,
    commit_positions,
    partition_lag,
    poll_wait_ms,
    resume_stranded_join,
    seek_to_stored,
)
from bridge.label_feed import LabelFeed
from bridge.ledger import Ledger
from bridge.metrics import BridgeMetrics
from bridge.model_serving import ModelServing
from bridge.model_shadow import ShadowModels
from bridge.model_tail_reader import TailReader
from bridge.model_watch import ModelWatcher
from bridge.retention import AlertRetention
from bridge.rules_watch import RulesWatcher
from bridge.runtime import HeapTrimmer, tune_interpreter
from bridge.sink import Fenced, RedisSink, SinkUnavailable
from common.keys import RedisKeys
from common.rules import default_rules

if TYPE_CHECKING:
    from model.topics import History

logger = logging.getLogger(__name__)
INFRA_ERRORS = (SinkUnavailable, DlqUnavailable, AlertsUnpublished, redis.RedisError, KafkaError, OSError)
# Smaller batches (the bridge keeps up) are applied on the main thread and confirmed at once.
INLINE_MAX = 1_000


class Bridge:
    """One bridge instance; `run()` until stopped or `max_events` records were applied."""

    def __init__(
        self,
        settings: BridgeSettings,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        client: redis.Redis,
        *,
        metrics: BridgeMetrics | None = None,
        consumer_factory: Callable[[], KafkaConsumer] | None = None,
        publish_alerts: bool = True,
    ) -> None:
        """`publish_alerts=False` is for the bench's baseline only: alerts then never reach Kafka."""
        self.settings, self.topic = settings, settings.kafka_topic
        self.keys = RedisKeys(settings.redis_key_prefix)
        self.consumer, self.client = consumer, client
        self.metrics = metrics if metrics is not None else BridgeMetrics()
        self.sink = RedisSink(client, self.keys, self.topic)
        self.rules = RulesWatcher(client, self.keys, settings.rules_poll_s)
        self.models = ModelWatcher(client, self.keys, settings.rules_poll_s)
        self.health = Health(client, self.keys, settings.instance_id, settings.heartbeat_s)
        self.retention = AlertRetention(client, self.keys, settings.alert_retention_days)
        self.engines = Engines(settings, self.keys.card_state(""))
        if settings.model_max_events:
            rates = default_rules().currency  # as training reads amounts (model/cli.py)
            self.serving: ModelServing | None = ModelServing(
                self.models,
                rates,
                settings.model_max_events,
                label_feed=self._label_feed,
                history=self._history(rates) if settings.model_warmup else None,
                on_scores=self.metrics.observe_scores,
                shadows=ShadowModels(client, self.keys, settings.model_trees != "lightgbm"),
                native_features=settings.model_features != "python",
                native_trees=settings.model_trees != "lightgbm",
                tail=self._tail_reader(rates) if settings.model_tail else None,
            )
            self.engines.serve(self.serving)
        else:
            self.serving = None
        self.rules.on_lists = self.engines.set_lists  # list changes reach the native engine too
        self.dlq = DeadLetterWriter(producer, settings.kafka_dlq_topic)
        self.alerts = AlertPublisher(producer, settings.kafka_alerts_topic) if publish_alerts else None
        self.rebalancer = Rebalancer(self.topic)
        self.ledger = Ledger()
        self.unpositioned: set[int] = set()  # assigned, not yet seeked to the Redis-stored offsets
        self.applier = BatchApplier(
            settings,
            keys=self.keys,
            sink=self.sink,
            dlq=self.dlq,
            engines=self.engines,
            rules=self.rules,
            metrics=self.metrics,
            health=self.health,
            ledger=self.ledger,
            alerts=self.alerts,
        )
        self._stop = threading.Event()
        self._backoff = Backoff(0.1, settings.backoff_max_s)
        self._next_commit = 0.0
        self._lag_partitions: set[int] = set()
        self._consumer_factory = consumer_factory
        self._unstable_since: float | None = None
        # One batch thread: the next poll (pure Python) runs while the native engine (GIL
        # released) and Redis work on the previous batch. Batches still apply strictly in order.
        self._batches = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bridge-batch")
        self._flight: Future[None] | None = None
        self._flying = 0  # records in the batch in flight
        self._trimmer = HeapTrimmer()

    def _label_feed(self) -> LabelFeed:
        return LabelFeed.connect(self.settings.kafka_bootstrap_servers, self.settings.kafka_labels_topic)

    def _tail_reader(self, rates: dict[str, float]) -> Callable[[], TailReader]:
        return lambda: TailReader.connect(self.settings.kafka_bootstrap_servers, self.topic, rates)

    def _history(self, rates: dict[str, float]) -> Callable[[int], History]:
        def read(reach_ms: int) -> History:
            from model.topics import read_history  # only once a champion serves

            limit = self.settings.model_max_events // 3  # about three entries per transaction
            return read_history(self.settings.kafka_bootstrap_servers, self.topic, reach_ms, rates, limit)

        return read

    def stop(self) -> None:
        """Ask the loop to finish the current batch and return (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def processed(self) -> int:
        """Records applied so far (valid + dead-lettered)."""
        return self.ledger.processed

    def _lookup(self, partitions: list[int]) -> dict[int, int | None]:
        # Main loop only, after the batch in flight landed: the offsets it wrote are read back.
        raw = self.client.hmget(self.keys.offsets(self.topic), [str(p) for p in partitions])
        return {p: None if v is None else int(v) for p, v in zip(partitions, raw, strict=True)}

    def run(self, max_events: int | None = None) -> int:
        """Process until stop() or `max_events` applied records; return the number applied."""
        self._retry_until_ok(self._await_topic)  # the first join then sees the partitions: no empty round
        self.consumer.subscribe([self.topic], listener=self.rebalancer)
        self.metrics.serve(self.settings.metrics_port)
        self._retry_until_ok(self.rules.seed)
        self._retry_until_ok(self._load_champion)
        self.metrics.rules_version.set(self.rules.version)
        tune_interpreter()
        try:
            while not self.stopping and (max_events is None or self.processed + self._flying < max_events):
                limit = self.settings.batch_max
                if max_events is not None:
                    limit = min(limit, max_events - self.processed - self._flying)
                try:
                    self._step(limit)
                except Fenced as exc:
                    self._on_fenced(exc)
                except INFRA_ERRORS as exc:
                    self._on_infra_error(exc)
            self._land_last()
        finally:
            self._shutdown()
        return self.processed

    def _load_champion(self) -> None:
        """At start, a registered champion is loaded before the first batch (about a second, LightGBM's
        import included): no event is decided without the model that should score it."""
        self.models.refresh(time.monotonic())
        self.models.join()

    def _await_topic(self) -> None:
        if not self.consumer.partitions_for_topic(self.topic):
            raise KafkaError(f"topic {self.topic} has no partition metadata yet")
        # Checked here, else the first alert would block in send() (no auto-created topics).
        if self.alerts is not None and not self.consumer.partitions_for_topic(self.alerts.topic):
            raise KafkaError(f"alerts topic {self.alerts.topic} does not exist (make services creates it)")

    def _retry_until_ok(self, fn: Any) -> None:
        while not self.stopping:
            try:
                fn()
                self._backoff.reset()
                return
            except INFRA_ERRORS as exc:
                delay = self._backoff.next()
                logger.warning("bridge: startup retry in=%.1fs error=%s", delay, exc)
                self._stop.wait(delay)

    def _step(self, limit: int) -> None:
        """Poll the next batch while the previous one is applied on the batch thread, then hand it over.

        Only the consumer's poll runs alongside a batch: everything else that touches bridge
        state (housekeeping, rebalance handling, error recovery) waits until it has landed.
        """
        polled: dict[TopicPartition, list[Any]] = {}
        try:
            wait_ms = poll_wait_ms(self.consumer, self.settings.poll_timeout_ms)  # no records while joining
            polled = self.consumer.poll(timeout_ms=wait_ms, max_records=limit)
            resume_stranded_join(self.consumer)  # else a fresh topic can leave the group join stranded
        finally:
            self._land(polled)
        self._housekeeping()
        taken = self._apply_rebalance(polled)
        if len(taken.records) >= INLINE_MAX:  # a backlog: overlap this batch with the next poll
            self._trimmer.trim()  # the batch thread is idle now
            self._flying = len(taken.records)
            self._flight = self._batches.submit(self.applier.apply, taken)
            return
        if taken.records:  # keeping up: a hand-off to the batch thread would only add latency
            self.applier.apply(taken)
        self.applier.confirm_previous()  # nothing queued behind it: learn how it went now
        if taken.records:
            self._backoff.reset()
        self._trimmer.trim()

    def _land(self, polled: dict[TopicPartition, list[Any]]) -> None:
        """Wait for the batch in flight; if it failed, the records polled meanwhile are rewound too."""
        flight, self._flight, self._flying = self._flight, None, 0
        if flight is None:
            return
        self._trimmer.batch_done()
        try:
            flight.result()
        except BaseException:
            # not processed: fetch them again after the rewind
            self.ledger.hold(
                {tp.partition: r[0].offset for tp, r in polled.items() if r and tp.topic == self.topic}
            )
            raise
        self._backoff.reset()

    def _land_last(self) -> None:
        """Stopping: finish the batch in flight (its write and offsets land, or nothing does)."""
        try:
            self._land({})
            self.applier.confirm_previous()
        except (Fenced, *INFRA_ERRORS) as exc:
            logger.warning("bridge: last batch not applied error=%s", exc)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        self._watch_group(now)
        try:
            if self.rules.refresh(now):
                self.metrics.rules_version.set(self.rules.version)
            self.models.refresh(now)
            if self.serving is not None:
                self.serving.tick()
                if self.serving.shadows is not None:
                    self.serving.shadows.refresh(self.models.shadow_entries)
            if self.health.due(now):
                self.metrics.observe_model(self.models.age_s(), self.models.refused is not None)
                status = self.engines.status()
                model = self.models.status()
                if self.serving is None:
                    model += "; not scoring (BRIDGE_MODEL_MAX_EVENTS=0)" if self.models.entry else ""
                else:
                    serving = self.serving
                    self.metrics.observe_serving(
                        serving.scoring, serving.history_entries, serving.drift_psi()
                    )
                    if self.serving.shadows is not None:
                        self.serving.shadows.flush()
                    if scoring := self.serving.status():
                        model = f"{model}; {scoring}"
                self.health.beat(self.processed, sorted(self.ledger.pos), self._lag(), status, model)
            if self.retention.due(now):
                self.retention.sweep(int(time.time() * 1000))
        except redis.RedisError as exc:
            logger.warning("bridge: housekeeping skipped error=%s", exc)
        if now >= self._next_commit:
            self._next_commit = now + self.settings.kafka_commit_interval_s
            self._commit_kafka()  # async: a broker round trip per second must not delay batches

    def _watch_group(self, now: float) -> None:
        """Replace the consumer if its group join never completes (seen with kafka-python 3.0 under load)."""
        state = getattr(getattr(self.consumer, "_coordinator", None), "state", None)  # private, best effort
        if state is None or state == MemberState.STABLE:
            self._unstable_since = None
            return
        if self._unstable_since is None:
            self._unstable_since = now
        elif now - self._unstable_since > self.settings.group_stall_s and self._consumer_factory is not None:
            logger.error("bridge: group join stalled, replacing the consumer state=%s", state)
            self._unstable_since = None
            self._replace_consumer(self._consumer_factory)

    def _replace_consumer(self, factory: Callable[[], KafkaConsumer]) -> None:
        try:
            self.consumer.close(autocommit=False, timeout_ms=2_000)
        except Exception as exc:  # the old client is being abandoned anyway
            logger.warning("bridge: closing the stalled consumer failed error=%s", exc)
        self.engines.forget_all()
        self._model_left(list(self.ledger.pos))
        self.ledger.reset()
        self.unpositioned.clear()
        self.consumer = factory()
        self.rebalancer = Rebalancer(self.topic)
        self.consumer.subscribe([self.topic], listener=self.rebalancer)

    def _lag(self) -> dict[int, int]:
        lag = partition_lag(self.consumer, self.topic, self.ledger.pos)
        for p, n in lag.items():
            self.metrics.lag.labels(str(p)).set(n)
        self._lag_partitions.update(lag)
        return lag

    def _commit_kafka(self, wait: bool = False) -> None:
        commit_positions(self.consumer, self.topic, self.ledger.pos, wait=wait)

    def _apply_rebalance(self, polled: dict[TopicPartition, list[Any]]) -> Taken:
        """Take in the listener's events, seek new partitions, and return the records to apply.

        Records of a partition not yet seeked come from wherever the consumer started (Kafka's
        mirror of the offsets, or the log start): they are dropped and fetched again after the seek.
        """
        events = self.rebalancer.drain()
        touched = events.revoked | events.assigned
        if touched:
            self.engines.forget(touched)  # another owner may have written these cards since
        self._model_left(events.revoked)
        for p in events.revoked:
            self.ledger.revoke(p)
            self.unpositioned.discard(p)
            if p in self._lag_partitions:
                self._lag_partitions.discard(p)
                self.metrics.lag.remove(str(p))
        self.unpositioned |= events.assigned
        taken = Taken([], {}, {})
        for tp, recs in sorted(polled.items()):
            p = tp.partition
            if recs and tp.topic == self.topic and p not in self.unpositioned and p in self.ledger.pos:
                taken.records.extend(recs)  # a partition's records come in offset order
                taken.first[p], taken.nxt[p] = recs[0].offset, recs[-1].offset + 1
        if self.unpositioned:
            parts = sorted(self.unpositioned)
            try:
                seeked = seek_to_stored(self.consumer, self.topic, parts, self._lookup)
            except BaseException:
                self.ledger.hold(taken.first)  # not applied: the recovery rewinds them too
                raise
            self.unpositioned.clear()
            self.ledger.assign(seeked)
            logger.info("bridge: partitions assigned positions=%s", seeked)
            if self.serving is not None:
                self.serving.partitions_gained(seeked)  # a hole in the model's history: rebuilt
        return taken

    def _model_left(self, partitions: Iterable[int]) -> None:
        """The model's history held these partitions up to the positions reached (before they move)."""
        if self.serving is not None:
            self.serving.partitions_left({p: self.ledger.pos.get(p) for p in partitions})

    def _rewind(self, targets: dict[int, int | None]) -> None:
        for p, offset in targets.items():
            tp = TopicPartition(self.topic, p)
            try:
                if offset is None:
                    self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, offset)
                self.ledger.pos[p] = offset
            except (KafkaError, ValueError) as exc:  # no longer ours: the new owner resumes it
                logger.info("bridge: rewind skipped partition=%s error=%s", p, exc)

    def _on_fenced(self, exc: Fenced) -> None:
        self.metrics.fenced.inc()
        self.dlq.discard()
        if self.alerts is not None:
            self.alerts.discard()
        logger.warning("bridge: batch fenced stored=%s", exc.stored)
        self.engines.forget(set(self.ledger.inflight) | set(exc.stored))
        self._model_left(exc.stored)  # resuming at another instance's offsets: a jump is a hole
        if self.serving is not None:
            self.serving.partitions_gained(exc.stored)
        self._rewind(self.ledger.rewind_targets(exc.stored))

    def _on_infra_error(self, exc: BaseException) -> None:
        kind = type(exc).__name__
        self.metrics.retries.labels(kind).inc()
        self.dlq.discard()
        if self.alerts is not None:
            self.alerts.discard()
        self._rewind(self.ledger.rewind_targets())  # nothing acknowledged: the same records come again
        delay = self._backoff.next()
        logger.warning("bridge: infrastructure error retry_in=%.1fs kind=%s error=%s", delay, kind, exc)
        self._stop.wait(delay)

    def _shutdown(self) -> None:
        self._commit_kafka(wait=True)
        try:
            self.health.forget()
        except redis.RedisError as exc:
            logger.info("bridge: heartbeat not removed error=%s", exc)
        self._batches.shutdown(wait=True)
        if self.serving is not None:
            self.serving.close()
        self.sink.close()
        logger.info("bridge: stopped processed=%d", self.processed)
