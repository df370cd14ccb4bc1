"""Apply one polled batch: its engine decides, dead letters go out, its Redis transaction is sent."""

from __future__ import annotations

import time
from typing import Any

from bridge.alert_out import AlertPublisher
from bridge.batch_types import Outcome, Polled, Taken
from bridge.config import BridgeSettings
from bridge.dlq import DeadLetterWriter, dlq_headers
from bridge.engines import Engines
from bridge.health import Health
from bridge.ledger import Ledger
from bridge.metrics import BridgeMetrics
from bridge.plan import plan_outcome
from bridge.rules_watch import RulesWatcher
from bridge.shadow import ShadowTee, tee_for
from bridge.shadow_plan import shadow_commands
from bridge.sink import Fenced, RedisSink, fence_conflicts
from common.keys import RedisKeys

LATENCY_SAMPLES_PER_BATCH = 32


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
        ledger: Ledger,
        alerts: AlertPublisher | None,
    ) -> None:
        self.settings, self.keys, self.topic = settings, keys, settings.kafka_topic
        self.alerts = alerts  # None only in the bench's baseline (bridge.cli.main(publish_alerts=False))
        self.sink, self.dlq, self.engines, self.rules = sink, dlq, engines, rules
        self.metrics, self.health, self.ledger = metrics, health, ledger

    def apply(self, taken: Taken) -> None:
        """Process a batch and send its transaction; raises Fenced or an infrastructure error."""
        t0 = time.perf_counter()
        records, first, nxt = taken
        ledger = self.ledger
        ledger.claim(first)
        parts = sorted(first)
        engine = self.engines.for_batch(self.rules)
        detector = tee_for(self.rules.detector, self.rules.shadow.current)  # one shadow set per batch
        missing = engine.scan(records)
        # The last batch's outcome, after parsing this one (Redis ran it meanwhile). If it failed,
        # this batch stops here: it was parsed against caches that are now dropped.
        self.confirm_previous()
        prepared = self.sink.prepare(parts, [self.keys.card_state(c) for c in missing])
        conflicts = fence_conflicts(first, prepared.stored, ledger.pos)
        if conflicts:  # the batch does not start exactly where Redis says it should
            raise Fenced(conflicts)
        loaded = {c: prepared.states[self.keys.card_state(c)] for c in missing}
        decided = engine.decide(records, detector, self.rules.version, loaded)
        outcome = decided.outcome._replace(next_offsets=nxt)
        if self.alerts is not None:
            self.alerts.send(outcome.alerted)  # acknowledged below, while the plan is built
        self._send_dead(decided.rejected, outcome.dead)
        now_ms = int(time.time() * 1000)
        plan = plan_outcome(self.keys, self.topic, outcome, now_ms, self.settings.card_state_ttl_s)
        if isinstance(detector, ShadowTee):  # in this batch's MULTI: exactly once in effect
            plan.extend(
                shadow_commands(
                    self.keys,
                    detector,
                    metas=decided.metas,
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
        ledger.sent(first, nxt, len(records))
        engine.keep()
        # The outcome is read at the start of the next batch (or when a poll comes back empty), so
        # Redis runs this transaction while the next batch is prepared.
        done_ms = time.time() * 1000  # sent: Redis runs it next (a failure is retried and measured again)
        self._observe(records, outcome, done_ms, time.perf_counter() - t0)

    def confirm_previous(self) -> None:
        """Read the last sent transaction's outcome; if it failed, undo what the batch claimed."""
        sent = self.ledger.take_unconfirmed()
        if sent is None:
            return
        try:
            self.sink.confirm()
        except BaseException:
            self.ledger.roll_back(sent)
            self.engines.forget(sent.first)
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
