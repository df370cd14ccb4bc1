"""Apply one polled batch: validate, detect, dead-letter, send its Redis transaction, confirm it later."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bridge.alert_out import AlertPublisher
from bridge.config import BridgeSettings
from bridge.dlq import DeadLetterWriter, dlq_headers
from bridge.engines import Engines
from bridge.health import Health
from bridge.metrics import BridgeMetrics
from bridge.plan import Batch, Outcome, outcome_of, plan_outcome
from bridge.processor import Polled, dead_letters, detect, encoded_states, missing_cards, validate_records
from bridge.rules_watch import RulesWatcher
from bridge.shadow import ShadowTee, tee_for
from bridge.shadow_plan import shadow_commands
from bridge.sink import Fenced, RedisSink, fence_conflicts
from common.keys import RedisKeys

LATENCY_SAMPLES_PER_BATCH = 32


class Taken(NamedTuple):
    """The records of one poll that this instance applies, with each partition's offset range."""

    records: list[Any]
    first: dict[int, int]  # partition -> first offset
    nxt: dict[int, int]  # partition -> offset after the last


class Unconfirmed(NamedTuple):
    """A batch whose transaction was sent without waiting for Redis's answer."""

    first: dict[int, int]  # partition -> first offset of the batch
    records: int


@dataclass
class Progress:
    """Where this instance stands; shared by the loop (rebalances, rewinds) and the applier."""

    # owned partition -> next offset (None: log start)
    pos: dict[int, int | None] = field(default_factory=dict)
    # partition -> first offset of the batch being applied
    inflight: dict[int, int] = field(default_factory=dict)
    processed: int = 0  # records applied (valid + dead-lettered)


class BatchApplier:
    """Turns a Taken batch into one atomic Redis transaction, sent now and confirmed at the next batch."""

    def __init__(
        self,
        settings: BridgeSettings,
        *,
        keys: RedisKeys,
        sink: RedisSink,
        dlq: DeadLetterWriter,
        engines: Engines,
        rules: RulesWatcher,
        metrics: BridgeMetrics,
        health: Health,
        progress: Progress,
        alerts: AlertPublisher | None,
    ) -> None:
        self.settings, self.keys, self.topic = settings, keys, settings.kafka_topic
        self.alerts = alerts  # None only in the bench's baseline (bridge.cli.main(publish_alerts=False))
        self.sink, self.dlq, self.engines, self.rules = sink, dlq, engines, rules
        self.metrics, self.health, self.progress = metrics, health, progress
        self.unconfirmed: Unconfirmed | None = None  # the last batch, sent to Redis but not confirmed

    def apply(self, taken: Taken) -> None:
        """Process a batch and send its transaction; raises Fenced or an infrastructure error."""
        t0 = time.perf_counter()
        records, first, nxt = taken
        progress = self.progress
        progress.inflight = first
        parts = sorted(first)
        native = self.engines.native_path(self.rules)
        detector = tee_for(self.rules.detector, self.rules.shadow.current)  # one shadow set per batch
        if native is not None:
            missing = native.scan(records)
        else:
            polled = validate_records(records, self.settings.max_record_bytes)
            missing = missing_cards(polled, self.engines.cache.__contains__)
        # The last batch's outcome, after parsing this one (Redis ran it meanwhile). If it failed,
        # this batch stops here: it was parsed against caches that are now dropped.
        self.confirm_previous()
        prepared = self.sink.prepare(parts, [self.keys.card_state(c) for c in missing])
        conflicts = fence_conflicts(first, prepared.stored, progress.pos)
        if conflicts:  # the batch does not start exactly where Redis says it should
            raise Fenced(conflicts)
        loaded = {c: prepared.states[self.keys.card_state(c)] for c in missing}
        if native is not None:
            prefix = self.keys.card_state("")
            res = native.detect(records, detector, self.rules.version, loaded, state_key_prefix=prefix)
            rejected, dead = res.rejected, dead_letters(res.rejected)
            outcome = Outcome(res.tally, res.alerted, dead, res.states, nxt, res.scored, res.packed)
        else:
            det = detect(polled, detector, self.rules.version, self.engines.cache.get, loaded)
            rejected, dead = det.rejected, dead_letters(det.rejected)
            batch = Batch(det.scored, dead, encoded_states(det.states), nxt)
            outcome = outcome_of(batch, detector.rules.currency)  # amounts summed in US dollars
        if self.alerts is not None:
            self.alerts.send(outcome.alerted)  # acknowledged below, while the plan is built
        self._send_dead(rejected, dead)
        now_ms = int(time.time() * 1000)
        plan = plan_outcome(self.keys, self.topic, outcome, now_ms, self.settings.card_state_ttl_s)
        if isinstance(detector, ShadowTee):  # in this batch's MULTI: exactly once in effect
            metas = res.metas if native is not None else {id(s.event): s.meta for s in det.scored}
            plan.extend(
                shadow_commands(
                    self.keys,
                    detector,
                    metas=metas or {},
                    live_version=self.rules.version,
                    events=outcome.scored,
                )
            )
        if self.alerts is not None:
            # Every alert this transaction stores is on the alerts topic before Redis sees it: a
            # crash or fence from here on only ever means copies on the topic, never a gap.
            self.alerts.confirm()
        self.sink.send_commit(plan, {p: prepared.stored[p] for p in parts})
        # From here the batch counts as applied; if Redis says otherwise, confirm_previous()
        # takes it back before anything else is done.
        self.unconfirmed = Unconfirmed(first, len(records))
        progress.inflight = {}
        progress.pos.update(nxt)
        if native is not None:
            native.commit()
        else:
            self.engines.cache.put_many((c, p, s) for c, (p, s) in det.states.items())
        progress.processed += len(records)
        # The outcome is read at the start of the next batch (or when a poll comes back empty), so
        # Redis runs this transaction while the next batch is prepared.
        done_ms = time.time() * 1000  # sent: Redis runs it next (a failure is retried and measured again)
        self._observe(records, outcome, done_ms, time.perf_counter() - t0)

    def confirm_previous(self) -> None:
        """Read the last sent transaction's outcome; if it failed, undo what the batch claimed."""
        sent, self.unconfirmed = self.unconfirmed, None
        if sent is None:
            return
        try:
            self.sink.confirm()
        except BaseException:
            progress = self.progress
            for p, offset in sent.first.items():
                if p in progress.pos:
                    progress.pos[p] = offset
            self.engines.forget(sent.first)
            progress.processed -= sent.records
            progress.inflight = {**progress.inflight, **sent.first}  # the recovery rewinds to these
            raise

    def _send_dead(self, rejected: list[Polled], dead: list[Any]) -> None:
        for item, letter in zip(rejected, dead, strict=True):
            rec = item.record
            headers = dlq_headers(rec.headers, letter.reason, self.topic, rec.partition, rec.offset)
            self.dlq.send(rec.value, rec.key, headers)
        self.dlq.confirm()  # dead letters are durable before their offsets are committed

    def _observe(self, records: list[Any], batch: Outcome, done_ms: float, seconds: float) -> None:
        step = max(1, len(records) // LATENCY_SAMPLES_PER_BATCH)
        samples = [done_ms - r.timestamp for r in records[::step]]
        self.metrics.observe_batch(batch, len(records), seconds, samples)
        self.health.add_latencies(samples)
